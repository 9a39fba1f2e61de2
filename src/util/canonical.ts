import { nodeCrypto } from "./builtins.js";
import { setOwn } from "./own.js";

/** JSON with object keys sorted at every depth: the same value always gives the same text (and digest). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item === null || typeof item !== "object" || Array.isArray(item)) return item;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(item).sort()) setOwn(sorted, key, (item as Record<string, unknown>)[key]);
    return sorted;
  });
}

export function sha256Hex(text: string): string {
  return nodeCrypto().createHash("sha256").update(text).digest("hex");
}

export function digestOf(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
