/**
 * The heavy side of schema handling: checking a JSON Schema and compiling it to ajv "standalone" code.
 *
 * Runs when a manifest is imported, never on the `run` path: loading ajv costs ~55 ms. The code this
 * produces is stored in the registry and turned back into a function by ./validator.ts, which does
 * not import ajv.
 */
import { Ajv, _ } from "ajv";
import { Ajv2019 } from "ajv/dist/2019.js";
import { Ajv2020 } from "ajv/dist/2020.js";
import type { ErrorObject, Options } from "ajv/dist/core.js";
import standaloneCodeModule from "ajv/dist/standalone/index.js";
import addFormatsModule from "ajv-formats";

// ajv ships CommonJS with `exports.default`; under NodeNext the default import is the whole module.
const standaloneCode = standaloneCodeModule.default;
const addFormats = addFormatsModule.default;

// validator.ts has the same two helpers; they are repeated rather than exported from the light module.
function pointerJoin(pointer: string, segment: string): string {
  return `${pointer}/${segment.replace(/~/g, "~0").replace(/\//g, "~1")}`;
}

function describeValues(values: unknown): string {
  const describe = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
  return Array.isArray(values) ? values.map(describe).join(", ") : describe(values);
}

export type SchemaDialect = "draft-07" | "2019-09" | "2020-12";

export interface SchemaProblem {
  /** JSON pointer inside the schema, "" for the root. */
  path: string;
  message: string;
}

export class InvalidSchemaError extends Error {
  readonly problems: SchemaProblem[];

  constructor(problems: SchemaProblem[]) {
    const first = problems[0];
    const where = first ? (first.path === "" ? "" : `${first.path}: `) : "";
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : "";
    super(`invalid JSON Schema: ${where}${first?.message ?? "unknown problem"}${more}`);
    this.name = "InvalidSchemaError";
    this.problems = problems;
  }
}

const META_SCHEMA: Record<SchemaDialect, string> = {
  "draft-07": "http://json-schema.org/draft-07/schema",
  "2019-09": "https://json-schema.org/draft/2019-09/schema",
  "2020-12": "https://json-schema.org/draft/2020-12/schema",
};

// Both schemes are seen in the wild for draft-07 and the newer drafts alike; the empty fragment is optional.
function dialectOf(uri: string): SchemaDialect | undefined {
  const normalized = uri.trim().replace(/#$/, "").replace(/^https?:\/\//, "");
  for (const [dialect, meta] of Object.entries(META_SCHEMA) as [SchemaDialect, string][]) {
    if (normalized === meta.replace(/^https?:\/\//, "")) return dialect;
  }
  return undefined;
}

/**
 * The dialect a schema is written in, from its `$schema`. Without `$schema`, `fallback` (default
 * 2020-12, the current draft). An unsupported `$schema` throws: validating with the wrong rules would
 * silently accept or reject the wrong data.
 */
export function detectDialect(schema: unknown, fallback: SchemaDialect = "2020-12"): SchemaDialect {
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) return fallback;
  const declared = (schema as Record<string, unknown>).$schema;
  if (declared === undefined) return fallback;
  if (typeof declared !== "string") {
    throw new InvalidSchemaError([{ path: "/$schema", message: "must be a string" }]);
  }
  const dialect = dialectOf(declared);
  if (!dialect) {
    throw new InvalidSchemaError([
      { path: "/$schema", message: `unsupported $schema "${declared}" (supported: draft-07, 2019-09, 2020-12)` },
    ]);
  }
  return dialect;
}

type AjvInstance = Ajv | Ajv2019 | Ajv2020;

const instances = new Map<SchemaDialect, AjvInstance>();

function ajvFor(dialect: SchemaDialect): AjvInstance {
  let ajv = instances.get(dialect);
  if (ajv) return ajv;
  const options: Options = {
    allErrors: true,
    // Manifests come from users and OpenAPI documents: `example`, `x-*`, `discriminator` and the like
    // must be ignored, not rejected.
    strict: false,
    validateFormats: true,
    // JSON Schema patterns are ECMA-262 regexes with Unicode semantics (code points, \p{...}).
    unicodeRegExp: true,
    // We run the meta-schema check ourselves (against the detected dialect, with paths), so compile
    // need not repeat it nor look up `$schema` spellings ajv does not know.
    validateSchema: false,
    // Data comes from JSON.parse, so `{}` has no property "constructor" even though `{}.constructor`
    // is defined: without this, `properties: {constructor: ...}` and `required` check inherited members.
    ownProperties: true,
    // Unknown formats are ignored as annotations; nothing should be printed to the user's terminal.
    logger: false,
    // Never fetch remote `$ref`s: there is deliberately no loadSchema.
    code: { source: true, formats: _`require("ajv-formats/dist/formats").fullFormats` },
  };
  ajv = dialect === "draft-07" ? new Ajv(options) : dialect === "2019-09" ? new Ajv2019(options) : new Ajv2020(options);
  addFormats(ajv, { mode: "full" });
  instances.set(dialect, ajv);
  return ajv;
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

type SchemaObject = Record<string, unknown>;

function isObject(value: unknown): value is SchemaObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Visits every subschema object with its JSON pointer. Guards against cycles (YAML aliases can make them). */
function walkSchema(schema: unknown, dialect: SchemaDialect, visit: (node: SchemaObject, pointer: string) => void): void {
  const keywords = SUBSCHEMA_KEYWORDS[dialect];
  const seen = new WeakSet<object>();
  const walk = (node: unknown, pointer: string): void => {
    if (!isObject(node) || seen.has(node)) return;
    seen.add(node);
    visit(node, pointer);
    for (const key of keywords.single) walk(node[key], pointerJoin(pointer, key));
    for (const key of keywords.array) {
      const list = node[key];
      if (Array.isArray(list)) list.forEach((sub, i) => walk(sub, pointerJoin(pointerJoin(pointer, key), String(i))));
    }
    for (const key of keywords.map) {
      const map = node[key];
      if (isObject(map)) for (const [name, sub] of Object.entries(map)) walk(sub, pointerJoin(pointerJoin(pointer, key), name));
    }
    // `items` is one schema or (before 2020-12) a tuple of schemas.
    const items = node.items;
    if (Array.isArray(items)) items.forEach((sub, i) => walk(sub, pointerJoin(pointerJoin(pointer, "items"), String(i))));
    else walk(items, pointerJoin(pointer, "items"));
    // `dependencies` mixes property lists (arrays) and schemas.
    if (dialect === "draft-07" && isObject(node.dependencies)) {
      for (const [name, sub] of Object.entries(node.dependencies)) walk(sub, pointerJoin(pointerJoin(pointer, "dependencies"), name));
    }
  };
  walk(schema, "");
}

/** The pointer of a value that contains itself (YAML aliases can build such values), if any. */
function findCycle(value: unknown): string | undefined {
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

/**
 * The meta-schema checks `format: "regex"` without the `u` flag, but validators compile patterns with
 * it, so `\_` or `\-` outside a class pass the meta-schema and then break compilation without a path.
 */
function regexProblems(schema: unknown, dialect: SchemaDialect): SchemaProblem[] {
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

// Draft-07 keywords ajv would evaluate next to a `$ref`, though draft-07 says to ignore them.
// `definitions`/`$defs` and annotations stay: `$ref`s elsewhere may point into them.
const DRAFT7_REF_IGNORED = [
  "$id", "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
  "maxLength", "minLength", "pattern", "format", "items", "additionalItems", "maxItems", "minItems", "uniqueItems",
  "contains", "maxProperties", "minProperties", "required", "properties", "patternProperties",
  "additionalProperties", "dependencies", "propertyNames", "if", "then", "else", "allOf", "anyOf", "oneOf", "not",
  "nullable",
];

/**
 * Rewrites (a copy of) the schema where ajv's behaviour differs from the spec or from what OpenAPI
 * documents need, before it is compiled:
 * - draft-07 ignores every keyword beside `$ref`; ajv applies them.
 * - ajv implements OpenAPI 3.0's `nullable` and throws on two spellings OpenAPI documents do contain:
 *   `nullable` without `type`, and `nullable: false` with a null type. Both mean nothing in OpenAPI, so
 *   the keyword is dropped there; `type` + `nullable: true` keeps ajv's OpenAPI meaning (null allowed).
 * - ajv refuses `enum: []`, which the meta-schemas allow (nothing is valid); `false` says the same.
 */
/**
 * Annotations do not change what validates, but ajv's standalone code embeds the schema objects it refers to, so
 * an API's long descriptions would be copied into every validator (megabytes for a Stripe-sized spec).
 */
const ANNOTATIONS = ["title", "description", "examples", "example", "$comment", "deprecated", "externalDocs", "xml", "discriminator"];

function normalizeForAjv(schema: unknown, dialect: SchemaDialect): void {
  walkSchema(schema, dialect, (node) => {
    for (const key of ANNOTATIONS) delete node[key];
    for (const key of Object.keys(node)) if (key.startsWith("x-")) delete node[key];
    if (dialect === "draft-07" && typeof node.$ref === "string") {
      for (const key of DRAFT7_REF_IGNORED) delete node[key];
    }
    if ("nullable" in node) {
      const types = Array.isArray(node.type) ? node.type : node.type === undefined ? [] : [node.type];
      if (typeof node.nullable !== "boolean" || types.length === 0 || (types.includes("null") && node.nullable === false)) {
        delete node.nullable;
      }
    }
    if (Array.isArray(node.enum) && node.enum.length === 0) {
      delete node.enum;
      node.allOf = [...(Array.isArray(node.allOf) ? node.allOf : []), false];
    }
  });
}

/**
 * Meta-schema errors, one problem per failing place. Where an anyOf/oneOf failed, the errors of its
 * branches at the same place are folded into one message ("must be ... or must be ...").
 */
function metaProblems(errors: ErrorObject[]): SchemaProblem[] {
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
function localRefProblems(schema: unknown, dialect: SchemaDialect): SchemaProblem[] {
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

function resolvePointer(document: unknown, pointer: string): boolean {
  let node = document;
  for (const raw of pointer.split("/").slice(1)) {
    const segment = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (typeof node !== "object" || node === null || !Object.prototype.hasOwnProperty.call(node, segment)) return false;
    node = (node as Record<string, unknown>)[segment];
  }
  return true;
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

function compileProblem(error: unknown, schema: unknown, dialect: SchemaDialect): SchemaProblem {
  const message = error instanceof Error ? error.message : String(error);
  const missing = /^can't resolve reference (.*) from id (.*)$/.exec(message);
  if (missing) {
    const ref = missing[1]!;
    return { path: locateRef(schema, dialect, ref), message: missingRefMessage(ref) };
  }
  return { path: "", message: `cannot compile schema: ${message}` };
}

type Analysis = { problems: SchemaProblem[]; code?: undefined } | { problems: []; code: string };

function analyze(schema: unknown, fallback: SchemaDialect | undefined, wantCode: boolean): Analysis {
  if (typeof schema !== "boolean" && !isObject(schema)) {
    return { problems: [{ path: "", message: "schema must be an object or a boolean" }] };
  }
  let dialect: SchemaDialect;
  try {
    dialect = detectDialect(schema, fallback);
  } catch (error) {
    if (error instanceof InvalidSchemaError) return { problems: error.problems };
    throw error;
  }
  // The stored validator is called synchronously on every run.
  if (isObject(schema) && schema.$async === true) {
    return { problems: [{ path: "/$async", message: "async schemas are not supported" }] };
  }
  const cycle = findCycle(schema);
  if (cycle !== undefined) return { problems: [{ path: cycle, message: "refers back to a schema containing it (use $ref for recursion)" }] };
  const ajv = ajvFor(dialect);
  let problems: SchemaProblem[];
  try {
    const validateMeta = ajv.getSchema(META_SCHEMA[dialect]);
    if (!validateMeta) throw new Error(`meta-schema for ${dialect} is not loaded`);
    problems = validateMeta(schema) ? [] : metaProblems(validateMeta.errors ?? []);
    problems = [...problems, ...regexProblems(schema, dialect)];
    // Pointers into a schema the meta-schema rejects can point anywhere; report those first.
    if (problems.length === 0) problems = localRefProblems(schema, dialect);
  } catch (error) {
    // Whatever else makes ajv throw here is reported rather than crashing the import.
    return { problems: [{ path: "", message: `cannot check schema: ${(error as Error).message}` }] };
  }
  if (problems.length > 0) return { problems };

  let copy: unknown;
  try {
    copy = structuredClone(schema);
  } catch (error) {
    return { problems: [{ path: "", message: `schema is not plain JSON: ${(error as Error).message}` }] };
  }
  normalizeForAjv(copy, dialect);
  // The instance is shared: a schema claiming the `$id` of something it already holds (a meta-schema)
  // would fail as a duplicate, and unregistering it afterwards would remove the meta-schema.
  const id = isObject(copy) && typeof copy.$id === "string" ? copy.$id.replace(/#$/, "") : undefined;
  if (id !== undefined && ajv.getSchema(id) !== undefined) {
    return { problems: [{ path: "/$id", message: `"${id}" is reserved` }] };
  }
  try {
    const validate = ajv.compile(copy as SchemaObject | boolean);
    if (!wantCode) return { problems: [] };
    return { problems: [], code: standaloneCode(ajv, validate) };
  } catch (error) {
    return { problems: [compileProblem(error, schema, dialect)] };
  } finally {
    // ajv registers the compiled schema under its `$id` (needed to resolve refs to it while compiling);
    // unregister it, or the next schema with the same `$id` fails as a duplicate.
    if (typeof copy === "object" && copy !== null) ajv.removeSchema(copy as SchemaObject);
  }
}

/**
 * Every problem with a schema: meta-schema violations for its dialect, then (if there are none)
 * anything that stops it from compiling (unresolvable `$ref`, bad regex, ...). [] means valid.
 * `dialect` is assumed when the schema has no `$schema`.
 */
export function checkSchema(schema: unknown, dialect?: SchemaDialect): SchemaProblem[] {
  return analyze(schema, dialect, false).problems;
}

/**
 * Standalone CommonJS code defining one validate function (`module.exports = validate`), to be
 * loaded with ./validator.ts loadValidator. Throws InvalidSchemaError listing every problem.
 * `dialect` is assumed when the schema has no `$schema`.
 */
export function compileValidatorCode(schema: unknown, dialect?: SchemaDialect): string {
  const result = analyze(schema, dialect, true);
  if (result.code === undefined) throw new InvalidSchemaError(result.problems);
  return result.code;
}
