/**
 * Where in an OpenAPI document a `$ref` is a reference. Under `example`, `examples`, `default`, `enum`,
 * `const`, `links` and any `x-` extension, values are data: an example may well contain `"$ref": "https://…"`,
 * and a code sample kept in another file is documentation the import never needs. Those are never loaded,
 * fetched or resolved. A key is a keyword only where the object is not a map of names: a property called
 * `default`, or `responses.default`, is a name, and its value is read as usual.
 */
import { isRecord } from "./refs.js";

const DATA_KEYS = new Set(["example", "examples", "default", "enum", "const", "links"]);

/** Keywords whose value maps names of the author's choosing to objects that may hold references. */
const NAME_MAPS = new Set([
  "properties",
  "patternProperties",
  "definitions",
  "$defs",
  "dependentSchemas",
  "schemas",
  "paths",
  "responses",
  "parameters",
  "requestBodies",
  "headers",
  "securitySchemes",
  "securityDefinitions",
  "callbacks",
  "content",
  "encoding",
  "webhooks",
  "pathItems",
]);
/** Maps of schemas, where a name starting with `x-` is a property like any other rather than an extension. */
const SCHEMA_MAPS = new Set(["properties", "patternProperties", "definitions", "$defs", "dependentSchemas", "schemas"]);

const isData = (key: string): boolean => DATA_KEYS.has(key) || key.startsWith("x-");

/**
 * Calls `visit` for every object below `node` (itself included) that is not data, with its JSON pointer;
 * `enter` may return a value handed to the object's children (the ids walker's base URI), and `false` to skip
 * them. Each object is visited once, however many YAML aliases share it.
 */
export function walkStructure<T>(
  root: unknown,
  rootPointer: string,
  state: T,
  enter: (node: Record<string, unknown>, pointer: string, state: T) => T | false,
): void {
  const seen = new Set<object>();
  const walk = (node: unknown, pointer: string, names: "keywords" | "names" | "schemaNames", inherited: T): void => {
    if (node === null || typeof node !== "object" || seen.has(node)) return;
    seen.add(node);
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) walk(node[i], `${pointer}/${i}`, "keywords", inherited);
      return;
    }
    const record = node as Record<string, unknown>;
    let state = inherited;
    if (names === "keywords") {
      const next = enter(record, pointer, inherited);
      if (next === false) return;
      state = next;
    }
    for (const key in record) {
      const value = record[key];
      if (value === null || typeof value !== "object") continue;
      const at = `${pointer}/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`;
      if (names === "keywords") {
        if (isData(key)) continue;
        walk(value, at, isRecord(value) && NAME_MAPS.has(key) ? (SCHEMA_MAPS.has(key) ? "schemaNames" : "names") : "keywords", state);
      } else if (names === "schemaNames" || !key.startsWith("x-")) walk(value, at, "keywords", state);
    }
  };
  walk(root, rootPointer, "keywords", state);
}

/** Every `$ref` string that is a reference, with the pointer of the object holding it. */
export function structuralRefs(root: unknown, rootPointer = ""): Array<{ ref: string; pointer: string }> {
  const refs: Array<{ ref: string; pointer: string }> = [];
  walkStructure(root, rootPointer, undefined, (node, pointer) => {
    if (typeof node.$ref === "string") refs.push({ ref: node.$ref, pointer });
  });
  return refs;
}
