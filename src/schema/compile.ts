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
import type { Options } from "ajv/dist/core.js";
import standaloneCodeModule from "ajv/dist/standalone/index.js";
import addFormatsModule from "ajv-formats";
import { detectDialect, InvalidSchemaError, META_SCHEMA, type SchemaDialect, type SchemaProblem } from "./dialect.js";
import { normalizeForAjv } from "./normalize.js";
import { sameValueLoopProblems } from "./loops.js";
import { compileProblem, localRefProblems, metaProblems, regexProblems } from "./problems.js";
import { findCycle, isObject, type SchemaObject } from "./walk.js";

// ajv ships CommonJS with `exports.default`; under NodeNext the default import is the whole module.
const standaloneCode = standaloneCodeModule.default;
const addFormats = addFormatsModule.default;

export { detectDialect, InvalidSchemaError, type SchemaDialect, type SchemaProblem } from "./dialect.js";

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
    // Such a schema compiles, and then overflows the stack on every value it checks.
    if (problems.length === 0) problems = sameValueLoopProblems(schema, dialect);
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
