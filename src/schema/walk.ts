/** Walking a JSON Schema: every subschema with its JSON pointer, cycles, and pointer lookups. */
import type { SchemaDialect } from "./dialect.js";

// validator.ts has the same helper; it is repeated rather than exported from the light module.
export function pointerJoin(pointer: string, segment: string): string {
  return `${pointer}/${segment.replace(/~/g, "~0").replace(/\//g, "~1")}`;
}

// Keywords whose values are subschemas, per dialect. Values of other keywords (const, enum, default,
// examples, unknown keywords) are data and must not be walked.
const SINGLE = ["additionalItems", "additionalProperties", "contains", "propertyNames", "if", "then", "else", "not"];
const ARRAY = ["allOf", "anyOf", "oneOf"];
const MAP = ["properties", "patternProperties", "definitions", "$defs"];
const SUBSCHEMA_KEYWORDS: Record<SchemaDialect, { single: string[]; array: string[]; map: string[] }> = {
  "draft-07": { single: SINGLE, array: ARRAY, map: MAP },
  "2019-09": {
    single: [...SINGLE, "unevaluatedItems", "unevaluatedProperties", "contentSchema"],
    array: ARRAY,
    map: [...MAP, "dependentSchemas"],
  },
  "2020-12": {
    single: [...SINGLE, "unevaluatedItems", "unevaluatedProperties", "contentSchema"],
    array: [...ARRAY, "prefixItems"],
    map: [...MAP, "dependentSchemas"],
  },
};

export type SchemaObject = Record<string, unknown>;

export function isObject(value: unknown): value is SchemaObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The subschemas written directly in a schema object, each with its JSON pointer segments from it. */
export function childSchemas(node: SchemaObject, dialect: SchemaDialect): Array<{ segments: string[]; schema: unknown }> {
  const keywords = SUBSCHEMA_KEYWORDS[dialect];
  const children: Array<{ segments: string[]; schema: unknown }> = [];
  for (const key of keywords.single) if (node[key] !== undefined) children.push({ segments: [key], schema: node[key] });
  for (const key of keywords.array) {
    const list = node[key];
    if (Array.isArray(list)) list.forEach((sub, i) => children.push({ segments: [key, String(i)], schema: sub }));
  }
  for (const key of keywords.map) {
    const map = node[key];
    if (isObject(map)) for (const [name, sub] of Object.entries(map)) children.push({ segments: [key, name], schema: sub });
  }
  // `items` is one schema or (before 2020-12) a tuple of schemas.
  const items = node.items;
  if (Array.isArray(items)) items.forEach((sub, i) => children.push({ segments: ["items", String(i)], schema: sub }));
  else if (items !== undefined) children.push({ segments: ["items"], schema: items });
  // `dependencies` mixes property lists (arrays) and schemas.
  if (dialect === "draft-07" && isObject(node.dependencies)) {
    for (const [name, sub] of Object.entries(node.dependencies)) children.push({ segments: ["dependencies", name], schema: sub });
  }
  return children;
}

/** Visits every subschema object with its JSON pointer. Guards against cycles (YAML aliases can make them). */
export function walkSchema(schema: unknown, dialect: SchemaDialect, visit: (node: SchemaObject, pointer: string) => void): void {
  const seen = new WeakSet<object>();
  const walk = (node: unknown, pointer: string): void => {
    if (!isObject(node) || seen.has(node)) return;
    seen.add(node);
    visit(node, pointer);
    for (const child of childSchemas(node, dialect)) walk(child.schema, child.segments.reduce(pointerJoin, pointer));
  };
  walk(schema, "");
}

/** The pointer of a value that contains itself (YAML aliases can build such values), if any. */
export function findCycle(value: unknown): string | undefined {
  const onPath = new Set<object>();
  const visit = (node: unknown, pointer: string): string | undefined => {
    if (typeof node !== "object" || node === null) return undefined;
    if (onPath.has(node)) return pointer;
    onPath.add(node);
    const entries = Array.isArray(node) ? node.map((v, i) => [String(i), v] as const) : Object.entries(node);
    for (const [key, child] of entries) {
      const found = visit(child, pointerJoin(pointer, key));
      if (found !== undefined) return found;
    }
    onPath.delete(node);
    return undefined;
  };
  return visit(value, "");
}

export function resolvePointer(document: unknown, pointer: string): boolean {
  let node = document;
  for (const raw of pointer.split("/").slice(1)) {
    const segment = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (typeof node !== "object" || node === null || !Object.prototype.hasOwnProperty.call(node, segment)) return false;
    node = (node as Record<string, unknown>)[segment];
  }
  return true;
}
