/**
 * What converting one operation needs from the whole spec, and the one way it can decline: `Unsupported`,
 * whose message becomes the reason the operation is listed as skipped.
 */
import type { LoadedSpec } from "./load.js";
import type { OperationAuth } from "./security.js";
import { isRecord, type Located, type RefResolver } from "./refs.js";
import type { SchemaConverter } from "./schema.js";

export interface ConvertContext {
  spec: LoadedSpec;
  resolver: RefResolver;
  schemas: SchemaConverter;
  /** The parameter the tool's auth fills in (`header:x-api-key`), which is then not an input. */
  suppliedParam?: string;
  /** The auth an operation with this `security` sends instead of the tool's, if any. */
  operationAuth?(security: unknown): OperationAuth;
  /** A warning; the same message for several operations is reported once, naming them. */
  warn(message: string, operation?: string): void;
}

export class Unsupported extends Error {}

export type ValueKind = "primitive" | "array" | "object" | "unknown";
const PRIMITIVES = new Set(["string", "number", "integer", "boolean", "null"]);

/** What shape of value a raw schema describes, following `$ref`s: it decides how a parameter is serialised. */
export function valueKind(raw: unknown, url: string, ctx: ConvertContext, depth = 0): ValueKind {
  if (!isRecord(raw) || depth > 8) return "unknown";
  if (typeof raw.$ref === "string") {
    const target: Located = ctx.resolver.resolve(raw.$ref, url);
    return valueKind(target.node, target.url, ctx, depth + 1);
  }
  const types = (Array.isArray(raw.type) ? raw.type : raw.type === undefined ? [] : [raw.type]).filter((t) => t !== "null");
  if (types.length > 0) {
    if (types.every((t) => PRIMITIVES.has(String(t)) || t === "file")) return "primitive";
    if (types.length === 1) return types[0] === "array" ? "array" : types[0] === "object" ? "object" : "unknown";
    return "unknown";
  }
  if (raw.items !== undefined) return "array";
  if (raw.properties !== undefined || raw.additionalProperties !== undefined) return "object";
  if (Array.isArray(raw.enum) && raw.enum.every((v) => v === null || typeof v !== "object")) return "primitive";
  for (const key of ["allOf", "anyOf", "oneOf"]) {
    const list = raw[key];
    if (Array.isArray(list) && list.length > 0) {
      const kinds = new Set(list.map((item) => valueKind(item, url, ctx, depth + 1)));
      return kinds.size === 1 ? [...kinds][0]! : "unknown";
    }
  }
  return "unknown";
}

/** The media type a JSON body or response uses: application/json, any +json type, text/json, or the wildcard. */
export function isJsonMedia(type: string): boolean {
  const bare = type.split(";")[0]!.trim().toLowerCase();
  return bare === "*/*" || bare === "application/*" || /^[a-z0-9!#$&^_.-]+\/([a-z0-9!#$&^_.+-]*\+)?json$/.test(bare);
}
