/**
 * A schema's problems, each with the JSON pointer of where it is written: meta-schema errors folded into one
 * message per place, regexes the validator could not compile, unresolvable local references, and what ajv says
 * when compiling fails.
 */
import type { ErrorObject } from "ajv/dist/core.js";
import type { SchemaDialect, SchemaProblem } from "./dialect.js";
import { isObject, pointerJoin, resolvePointer, walkSchema } from "./walk.js";

// validator.ts has the same helper; it is repeated rather than exported from the light module.
function describeValues(values: unknown): string {
  const describe = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
  return Array.isArray(values) ? values.map(describe).join(", ") : describe(values);
}

/**
 * The meta-schema checks `format: "regex"` without the `u` flag, but validators compile patterns with
 * it, so `\_` or `\-` outside a class pass the meta-schema and then break compilation without a path.
 */
export function regexProblems(schema: unknown, dialect: SchemaDialect): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const check = (source: string, path: string) => {
    try {
      new RegExp(source, "u");
    } catch (error) {
      problems.push({ path, message: `invalid regular expression: ${(error as Error).message}` });
    }
  };
  walkSchema(schema, dialect, (node, pointer) => {
    if (typeof node.pattern === "string") check(node.pattern, pointerJoin(pointer, "pattern"));
    if (isObject(node.patternProperties)) {
      for (const key of Object.keys(node.patternProperties)) check(key, pointerJoin(pointerJoin(pointer, "patternProperties"), key));
    }
  });
  return problems;
}

/**
 * Meta-schema errors, one problem per failing place. Where an anyOf/oneOf failed, the errors of its
 * branches at the same place are folded into one message ("must be ... or must be ...").
 */
export function metaProblems(errors: ErrorObject[]): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const combinators = new Set(errors.filter((e) => e.keyword === "anyOf" || e.keyword === "oneOf").map((e) => e.instancePath));
  const folded = new Map<string, string[]>();
  for (const error of errors) {
    // Regexes are checked by regexProblems, with the flag the validator really uses.
    if (error.keyword === "format" && (error.params as { format?: string }).format === "regex") continue;
    if (error.keyword === "propertyNames" && errors.some((e) => e !== error && e.propertyName !== undefined && e.instancePath === error.instancePath)) continue;
    const message = metaMessage(error);
    if (combinators.has(error.instancePath)) {
      if (error.keyword === "anyOf" || error.keyword === "oneOf") continue;
      const list = folded.get(error.instancePath) ?? [];
      if (!list.includes(message)) list.push(message);
      if (!folded.has(error.instancePath)) {
        folded.set(error.instancePath, list);
        problems.push({ path: error.instancePath, message: "" });
      }
      continue;
    }
    problems.push({ path: error.instancePath, message });
  }
  for (const problem of problems) {
    if (problem.message === "") problem.message = (folded.get(problem.path) ?? ["is invalid"]).join(" or ");
  }
  return dedupe(problems);
}

function metaMessage(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  let message = error.message ?? "is invalid";
  if (error.keyword === "enum") message = `must be one of: ${describeValues(params.allowedValues)}`;
  if (error.keyword === "type") message = `must be ${String(params.type).split(",").join(" or ")}`;
  if (error.propertyName !== undefined) message = `property name '${error.propertyName}' ${message}`;
  return message;
}

function dedupe(problems: SchemaProblem[]): SchemaProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function missingRefMessage(ref: string): string {
  return ref.startsWith("#")
    ? `cannot resolve $ref "${ref}"`
    : `cannot resolve $ref "${ref}" (remote schemas are never fetched; only references inside the schema resolve)`;
}

/**
 * Unresolvable same-document references ("#/..." pointers and "#name" anchors), all of them at once.
 * ajv reports only the first, and none inside definitions nothing uses, which still deserve a typo check.
 * Skipped when a subschema declares its own `$id`: "#..." then resolves against that resource, and
 * compiling (which does know the rules) reports what is left.
 */
export function localRefProblems(schema: unknown, dialect: SchemaDialect): SchemaProblem[] {
  const refs: { ref: string; path: string }[] = [];
  const anchors = new Set<string>();
  let nestedResource = false;
  walkSchema(schema, dialect, (node, pointer) => {
    if (typeof node.$id === "string" && pointer !== "") {
      // In draft-07 an `$id` of "#name" is a plain-name anchor, not a new resource.
      if (dialect === "draft-07" && node.$id.startsWith("#")) anchors.add(node.$id.slice(1));
      else nestedResource = true;
    }
    if (typeof node.$anchor === "string") anchors.add(node.$anchor);
    if (typeof node.$dynamicAnchor === "string") anchors.add(node.$dynamicAnchor);
    for (const key of ["$ref", "$dynamicRef"]) {
      const ref = node[key];
      if (typeof ref === "string" && ref.startsWith("#")) refs.push({ ref, path: pointerJoin(pointer, key) });
    }
  });
  if (nestedResource) return [];
  const problems: SchemaProblem[] = [];
  for (const { ref, path } of refs) {
    let fragment: string;
    try {
      fragment = decodeURIComponent(ref.slice(1));
    } catch {
      problems.push({ path, message: `invalid $ref "${ref}": bad percent-encoding` });
      continue;
    }
    const found = fragment === "" || (fragment.startsWith("/") ? resolvePointer(schema, fragment) : anchors.has(fragment));
    if (!found) problems.push({ path, message: missingRefMessage(ref) });
  }
  return problems;
}

/** Where an unresolvable reference is written, so the problem points at it rather than at the root. */
function locateRef(schema: unknown, dialect: SchemaDialect, ref: string): string {
  let found: string | undefined;
  walkSchema(schema, dialect, (node, pointer) => {
    if (found !== undefined) return;
    for (const key of ["$ref", "$dynamicRef", "$recursiveRef"]) {
      if (node[key] === ref) {
        found = pointerJoin(pointer, key);
        return;
      }
    }
  });
  return found ?? "";
}

export function compileProblem(error: unknown, schema: unknown, dialect: SchemaDialect): SchemaProblem {
  const message = error instanceof Error ? error.message : String(error);
  const missing = /^can't resolve reference (.*) from id (.*)$/.exec(message);
  if (missing) {
    const ref = missing[1]!;
    return { path: locateRef(schema, dialect, ref), message: missingRefMessage(ref) };
  }
  return { path: "", message: `cannot compile schema: ${message}` };
}
