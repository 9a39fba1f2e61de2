import { nodeCrypto } from "./builtins.js";

/** Time-ordered ids: a prefix, a base-36 millisecond clock, then randomness. Short enough to type, unique across processes. */
export function newId(prefix: "ex" | "pl" | "pr" | "ap"): string {
  return `${prefix}_${Date.now().toString(36)}${nodeCrypto().randomBytes(5).toString("hex")}`;
}

export function newExecutionId(): string {
  return newId("ex");
}

export function nowIso(): string {
  return new Date().toISOString();
}
