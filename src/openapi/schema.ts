/**
 * OpenAPI schema objects (Swagger 2.0, OpenAPI 3.0, 3.1) → JSON Schema 2020-12 that compile.ts accepts.
 * Only JSON Schema keywords are kept, each with a value of the right type: `nullable` becomes a `null` type,
 * boolean exclusive bounds become numbers, Swagger's `type: file` a binary string, tuples `prefixItems`, and
 * `example`, `xml`, `discriminator`, `externalDocs` and `x-*` are dropped. `oneOf` is checked as `anyOf`:
 * OpenAPI alternatives rarely exclude each other (a discriminator, not a JSON Schema keyword, tells them
 * apart), so valid data would match two of them and fail. Every `$ref` is handed to `refer`, which returns
 * what to put in its place.
 */
import type { SpecDialect } from "./load.js";
import { escapeSegment, isRecord } from "./refs.js";
import { setOwn } from "../util/own.js";

export type JsonSchema = Record<string, unknown> | boolean;

/** Where a raw schema is: a document and a JSON pointer inside it. */
export interface SchemaSite {
  url: string;
  pointer: string;
}

export interface SchemaHooks {
  dialect: SpecDialect;
  /** A `$ref` written in the document at `url`: returns what replaces it. */
  refer(ref: string, url: string): Record<string, unknown>;
  /** Something was dropped or rewritten; the caller sums these into warnings. */
  note(kind: SchemaNoteKind, site: SchemaSite): void;
}

export type SchemaNoteKind = "pattern" | "type" | "value" | "ref" | "cycle";

/** Keywords whose value is one subschema, a list of them, or a map of them: the ones to walk. */
export const SINGLE_KEYWORDS = new Set([
  "not",
  "contains",
  "propertyNames",
  "if",
  "then",
  "else",
  "unevaluatedItems",
  "unevaluatedProperties",
  "contentSchema",
  "items",
  "additionalProperties",
]);
export const LIST_KEYWORDS = new Set(["allOf", "anyOf", "prefixItems"]);
export const MAP_KEYWORDS = new Set(["properties", "patternProperties", "dependentSchemas"]);

const TYPES = new Set(["string", "number", "integer", "boolean", "array", "object", "null"]);
/** Annotations kept beside a `$ref` in 2.0 and 3.0, where every other sibling is ignored. */
const REF_ANNOTATIONS = ["description", "title", "readOnly", "writeOnly", "deprecated"];

const validRegex = (source: string): boolean => {
  try {
    new RegExp(source, "u");
    return true;
  } catch {
    return false;
  }
};

const asNumber = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isFinite(value)
    ? value
    : typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))
      ? Number(value)
      : undefined;

export class SchemaConverter {
  private readonly ancestors = new Set<object>();
  // Where the node being converted is: the document, the pointer `convert` was given, and the segments below
  // it, pushed and popped rather than built into a string for every node.
  private url = "";
  private base = "";
  private path: string[] = [];

  constructor(private readonly hooks: SchemaHooks) {}

  convert(raw: unknown, site: SchemaSite): JsonSchema {
    const saved = { url: this.url, base: this.base, path: this.path };
    Object.assign(this, { url: site.url, base: site.pointer, path: [] });
    try {
      return this.node(raw);
    } finally {
      Object.assign(this, saved);
    }
  }

  private here(): SchemaSite {
    return { url: this.url, pointer: this.base + this.path.map((segment) => `/${escapeSegment(segment)}`).join("") };
  }

  private note(kind: SchemaNoteKind): void {
    this.hooks.note(kind, this.here());
  }

  private node(raw: unknown): JsonSchema {
    if (typeof raw === "boolean") return raw;
    if (!isRecord(raw)) {
      this.note("value");
      return {};
    }
    // YAML aliases can make a value contain itself; a schema can only recurse through $ref.
    if (this.ancestors.has(raw)) {
      this.note("cycle");
      return {};
    }
    this.ancestors.add(raw);
    try {
      return this.convertObject(raw);
    } finally {
      this.ancestors.delete(raw);
    }
  }

  private child(raw: unknown, ...segments: string[]): JsonSchema {
    const depth = this.path.length;
    this.path.push(...segments);
    try {
      return this.node(raw);
    } finally {
      this.path.length = depth;
    }
  }

  private convertObject(raw: Record<string, unknown>): JsonSchema {
    const nullable = raw.nullable === true || raw["x-nullable"] === true;
    if (raw.$ref !== undefined) {
      if (typeof raw.$ref === "string") return this.convertRef(raw, nullable);
      this.note("ref");
    }
    const out: Record<string, unknown> = {};
    // One pass over the keys the schema has (usually a handful), rather than a lookup of every keyword.
    for (const key in raw) {
      const value = raw[key];
      switch (key) {
        case "type":
          this.convertType(value, out);
          break;
        case "title":
        case "description":
        case "format":
        case "contentEncoding":
        case "contentMediaType":
          if (typeof value === "string") out[key] ??= value;
          break;
        case "readOnly":
        case "writeOnly":
        case "deprecated":
        case "uniqueItems":
          if (typeof value === "boolean") out[key] = value;
          break;
        case "maxLength":
        case "minLength":
        case "maxItems":
        case "minItems":
        case "maxProperties":
        case "minProperties":
        case "maxContains":
        case "minContains": {
          const count = asNumber(value);
          if (count !== undefined && Number.isInteger(count) && count >= 0) out[key] = count;
          else this.note("value");
          break;
        }
        case "maximum":
        case "minimum": {
          const bound = asNumber(value);
          if (bound !== undefined) out[key] = bound;
          break;
        }
        case "multipleOf": {
          const factor = asNumber(value);
          if (factor !== undefined && factor > 0) out.multipleOf = factor;
          break;
        }
        case "exclusiveMinimum":
        case "exclusiveMaximum":
          if (typeof value === "number") out[key] = value;
          break;
        case "pattern":
          if (typeof value === "string" && validRegex(value)) out.pattern = value;
          else this.note("pattern");
          break;
        case "enum":
          if (Array.isArray(value)) out.enum = value;
          break;
        case "const":
        case "default":
          out[key] = value;
          break;
        case "required":
          if (Array.isArray(value)) {
            const names = [...new Set(value.filter((name): name is string => typeof name === "string"))];
            if (names.length > 0) out.required = names;
          }
          break;
        case "not":
        case "contains":
        case "propertyNames":
        case "if":
        case "then":
        case "else":
        case "unevaluatedItems":
        case "unevaluatedProperties":
        case "contentSchema":
        case "additionalProperties":
          if (isRecord(value) || typeof value === "boolean") out[key] = this.child(value, key);
          break;
        case "items":
          if (Array.isArray(value)) {
            // Draft-04 tuples; what follows them was `additionalItems`, which 2020-12 spells `items`.
            out.prefixItems = value.map((item, index) => this.child(item, "items", String(index)));
            const rest = raw.additionalItems;
            if (isRecord(rest) || typeof rest === "boolean") out.items = this.child(rest, "additionalItems");
          } else if (isRecord(value) || typeof value === "boolean") out.items = this.child(value, "items");
          break;
        case "prefixItems":
          if (Array.isArray(value)) out.prefixItems = value.map((item, index) => this.child(item, key, String(index)));
          break;
        case "properties":
        case "dependentSchemas":
          if (isRecord(value)) out[key] = this.mapOf(value, key);
          break;
        case "patternProperties":
          if (isRecord(value)) {
            const valid = Object.fromEntries(Object.entries(value).filter(([pattern]) => validRegex(pattern) || (this.note("pattern"), false)));
            out.patternProperties = this.mapOf(valid, key);
          }
          break;
        case "dependencies":
        case "dependentRequired":
          if (isRecord(value)) this.convertDependencies(value, out, key);
          break;
        case "allOf":
        case "anyOf":
        case "oneOf":
          if (Array.isArray(value) && value.length > 0) this.convertList(key, value, out);
          break;
      }
    }
    // Draft-04 boolean bounds: `exclusiveMinimum: true` makes `minimum` exclusive.
    for (const [flag, bound] of [
      ["exclusiveMinimum", "minimum"],
      ["exclusiveMaximum", "maximum"],
    ] as const) {
      if (raw[flag] === true && typeof out[bound] === "number") {
        out[flag] = out[bound];
        delete out[bound];
      }
    }
    return nullable ? this.makeNullable(out) : out;
  }

  private convertRef(raw: Record<string, unknown>, nullable: boolean): JsonSchema {
    const target = this.hooks.refer(raw.$ref as string, this.url);
    if (this.hooks.dialect !== "openapi31") {
      // 2.0 and 3.0 ignore every sibling of $ref; annotations are kept, they change nothing.
      const out: Record<string, unknown> = { ...target };
      for (const key of REF_ANNOTATIONS) this.copyAnnotation(raw, key, out);
      return nullable ? { anyOf: [out, { type: "null" }] } : out;
    }
    const { $ref: _ref, ...rest } = raw;
    const siblings = this.convertObject(rest);
    return typeof siblings === "object" ? { ...target, ...siblings } : target;
  }

  private convertDependencies(value: Record<string, unknown>, out: Record<string, unknown>, key: string): void {
    for (const [name, dependency] of Object.entries(value)) {
      if (Array.isArray(dependency)) ((out.dependentRequired ??= {}) as Record<string, unknown>)[name] = dependency.filter((d) => typeof d === "string");
      else if (key === "dependencies" && isRecord(dependency))
        ((out.dependentSchemas ??= {}) as Record<string, unknown>)[name] = this.child(dependency, key, name);
    }
  }

  /** `oneOf` is checked as `anyOf` (see the header); a schema with both keeps both, as an `allOf`. */
  private convertList(key: "allOf" | "anyOf" | "oneOf", value: unknown[], out: Record<string, unknown>): void {
    const converted = value.map((item, index) => this.child(item, key, String(index)));
    if (key === "allOf") out.allOf = [...((out.allOf as unknown[]) ?? []), ...converted];
    else if (out.anyOf === undefined) out.anyOf = converted;
    else out.allOf = [...((out.allOf as unknown[]) ?? []), { anyOf: converted }];
  }

  private copyAnnotation(raw: Record<string, unknown>, key: string, out: Record<string, unknown>): void {
    const value = raw[key];
    if (key === "description" || key === "title" ? typeof value === "string" : typeof value === "boolean") out[key] = value;
  }

  private convertType(given: unknown, out: Record<string, unknown>): void {
    if (typeof given === "string" && TYPES.has(given)) {
      out.type = given;
      return;
    }
    const list = Array.isArray(given) ? given : [given];
    const types: string[] = [];
    for (const type of list) {
      if (type === "file") {
        // Swagger 2: a file upload or download, which JSON can only carry as a string.
        types.push("string");
        out.format = "binary";
      } else if (typeof type === "string" && TYPES.has(type)) types.push(type);
      else this.note("type");
    }
    const unique = [...new Set(types)];
    if (unique.length === 1) out.type = unique[0];
    else if (unique.length > 1) out.type = unique;
  }

  private mapOf(map: Record<string, unknown>, key: string): Record<string, JsonSchema> {
    const out: Record<string, JsonSchema> = {};
    for (const name in map) setOwn(out, name, this.child(map[name], key, name));
    return out;
  }

  /** OpenAPI 3.0 `nullable: true` (and Swagger's `x-nullable`): null is one more allowed value. */
  private makeNullable(out: Record<string, unknown>): Record<string, unknown> {
    // Beside `type`, a keyword that applies another schema to the value (Base of `allOf: [{$ref: Base}]` is an
    // object) or a `const` would still refuse null: the whole schema becomes one choice, null the other.
    const refusesNull =
      out.allOf !== undefined ||
      out.anyOf !== undefined ||
      out.oneOf !== undefined ||
      out.$ref !== undefined ||
      out.not !== undefined ||
      out.const !== undefined;
    if (out.type !== undefined && !refusesNull) {
      const types = Array.isArray(out.type) ? (out.type as string[]) : [out.type as string];
      if (!types.includes("null")) out.type = [...types, "null"];
      if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
      return out;
    }
    if (refusesNull || out.enum !== undefined) {
      return { anyOf: [out, { type: "null" }] };
    }
    return out;
  }
}
