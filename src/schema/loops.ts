/**
 * Schemas that come back to themselves on the same value: `{ allOf: [{ $ref: "#" }] }`, or `A: { allOf: [{ $ref: B }] }`
 * with `B: { anyOf: [{ $ref: A }] }`. A validator checks A, then B, then A again on the same data until the stack
 * overflows, whatever the data. A loop through a property or an item is ordinary recursion: each step goes one level
 * into the data, and the data ends.
 */
import type { SchemaDialect, SchemaProblem } from "./dialect.js";
import { childSchemas, isObject, pointerJoin, type SchemaObject } from "./walk.js";

/** Keywords whose subschemas apply to the value itself (the rest apply to its properties, items or keys). */
const SAME_VALUE = new Set(["allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas", "dependencies"]);
const REFS = ["$ref", "$dynamicRef", "$recursiveRef"];
/** The base URI of a schema without an `$id`, so that references resolve as URLs. */
const DEFAULT_BASE = "https://schema.toolctl.invalid/root.json";

interface Node {
  pointer: string;
  base: string;
  /** Subschemas on the same value, written in this one. */
  same: SchemaObject[];
}

/** Where each reference that closes such a loop is written, one problem each. [] when there is none. */
export function sameValueLoopProblems(schema: unknown, dialect: SchemaDialect): SchemaProblem[] {
  const nodes = new Map<SchemaObject, Node>();
  // Every subschema by `<resource URI>#<pointer in it>` and `<resource URI>#<anchor>`.
  const targets = new Map<string, SchemaObject>();
  const index = (node: unknown, pointer: string, parentBase: string, resource: string, inResource: string): void => {
    if (!isObject(node) || nodes.has(node)) return;
    let base = parentBase;
    const id = node.$id;
    if (typeof id === "string" && !(dialect === "draft-07" && id.startsWith("#"))) {
      try {
        const url = new URL(id, parentBase);
        url.hash = "";
        base = url.href;
        resource = base;
        inResource = "";
      } catch {
        // ajv reports an `$id` that is not a URI reference.
      }
    }
    targets.set(`${resource}#${inResource}`, node);
    for (const anchor of [
      node.$anchor,
      node.$dynamicAnchor,
      dialect === "draft-07" && typeof id === "string" && id.startsWith("#") ? id.slice(1) : undefined,
    ]) {
      if (typeof anchor === "string") targets.set(`${base}#${anchor}`, node);
    }
    const entry: Node = { pointer, base, same: [] };
    nodes.set(node, entry);
    for (const child of childSchemas(node, dialect)) {
      if (SAME_VALUE.has(child.segments[0]!) && isObject(child.schema)) entry.same.push(child.schema);
      index(child.schema, child.segments.reduce(pointerJoin, pointer), base, resource, child.segments.reduce(pointerJoin, inResource));
    }
  };
  index(schema, "", DEFAULT_BASE, DEFAULT_BASE, "");

  const resolve = (ref: string, base: string): SchemaObject | undefined => {
    let url: URL;
    try {
      url = new URL(ref, base);
    } catch {
      return undefined;
    }
    let fragment = url.hash.slice(1);
    try {
      fragment = decodeURIComponent(fragment);
    } catch {
      return undefined;
    }
    url.hash = "";
    return targets.get(`${url.href}#${fragment}`);
  };

  // Depth-first along same-value edges; a reference to a schema still open closes a loop.
  const problems: SchemaProblem[] = [];
  const state = new Map<SchemaObject, "open" | "done">();
  const visit = (node: SchemaObject): void => {
    state.set(node, "open");
    const entry = nodes.get(node)!;
    const next: Array<{ target: SchemaObject; at?: string }> = entry.same.map((target) => ({ target }));
    for (const key of REFS) {
      const ref = node[key];
      const target = typeof ref === "string" ? resolve(ref, entry.base) : undefined;
      if (target !== undefined) next.push({ target, at: pointerJoin(entry.pointer, key) });
    }
    for (const { target, at } of next) {
      const seen = state.get(target);
      if (seen === undefined) visit(target);
      else if (seen === "open")
        problems.push({
          path: at ?? nodes.get(target)!.pointer,
          message:
            "refers back to a schema it is part of, on the same value (through $ref, allOf, anyOf, oneOf or not, with no property or item in between): validation would never end",
        });
    }
    state.set(node, "done");
  };
  for (const node of nodes.keys()) if (!state.has(node)) visit(node);
  return problems;
}
