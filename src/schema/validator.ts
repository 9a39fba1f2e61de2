/**
 * The light side of schema handling: turning stored standalone code (from ./compile.ts) back into a
 * validate function, and wording its errors.
 *
 * This module is on the `run` path and must stay cheap to load: it must not import ajv (~55 ms).
 * Standalone code needs only ajv's small runtime helpers and ajv-formats' format table, loaded on
 * demand through the `require` handed to it.
 */
import { createRequire } from "node:module";

export interface ValidationIssue {
  /** JSON pointer of the failing value in the data, "" for the root. */
  path: string;
  /** e.g. "must be number", "is required", "is not allowed". */
  message: string;
}

/** [] means valid. */
export type ValidateFn = (data: unknown) => ValidationIssue[];

/** The fields of an ajv ErrorObject we use; typed here so that this module has no ajv import at all. */
interface AjvError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
  propertyName?: string;
}

interface CompiledValidate {
  (data: unknown): boolean | Promise<unknown>;
  errors?: AjvError[] | null;
}

const nodeRequire = createRequire(import.meta.url);

// Only what ajv's standalone output references. Anything else (ajv itself, or arbitrary modules
// from code that was tampered with in the registry) is refused.
const ALLOWED_MODULES = /^(ajv\/dist\/runtime\/[a-z0-9_]+|ajv-formats\/dist\/formats)$/i;

function runtimeRequire(id: string): unknown {
  if (!ALLOWED_MODULES.test(id)) throw new Error(`validator code may not require "${id}"`);
  return nodeRequire(id);
}

/**
 * Validators evaluated in this process, by their code, the most recently used last: a long-lived process (`toolctl
 * mcp`, `toolctl ui`, the library) runs the same actions again and again, and evaluating the code each time cost
 * more than validating. The code is the whole key, so a changed schema is a new entry; the oldest entries go
 * past VALIDATOR_CACHE_SIZE.
 */
const validators = new Map<string, ValidateFn>();
export const VALIDATOR_CACHE_SIZE = 256;

/** Evaluates standalone validator code produced by compileValidatorCode (once per process for the same code). */
export function loadValidator(code: string): ValidateFn {
  const cached = validators.get(code);
  if (cached) {
    validators.delete(code);
    validators.set(code, cached);
    return cached;
  }
  const validate = evaluateValidator(code);
  validators.set(code, validate);
  if (validators.size > VALIDATOR_CACHE_SIZE) validators.delete(validators.keys().next().value!);
  return validate;
}

function evaluateValidator(code: string): ValidateFn {
  const module = { exports: {} as unknown };
  new Function("require", "module", "exports", code)(runtimeRequire, module, module.exports);
  const exported = module.exports as { default?: unknown } | undefined;
  const validate = (typeof exported === "function" ? exported : exported?.default) as CompiledValidate | undefined;
  if (typeof validate !== "function") throw new Error("validator code does not export a validate function");
  return (data: unknown) => {
    let valid: boolean | Promise<unknown>;
    try {
      valid = validate(data);
    } catch (error) {
      // Deeply nested data (or a schema ajv recurses on forever) can overflow the stack. Fail closed:
      // data that could not be checked is not valid.
      return [{ path: "", message: `could not be validated: ${(error as Error).message}` }];
    }
    if (typeof valid !== "boolean") throw new Error("async validators are not supported");
    return valid ? [] : toIssues(validate.errors ?? []);
  };
}

function escapePointerSegment(segment: string): string {
  return segment.replace(/~/g, "~0").replace(/\//g, "~1");
}

function pointerJoin(pointer: string, segment: string): string {
  return `${pointer}/${escapePointerSegment(segment)}`;
}

function describeValue(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** "a, b, c" for enum-like lists. */
function describeValues(values: unknown): string {
  return Array.isArray(values) ? values.map(describeValue).join(", ") : describeValue(values);
}

function toIssue(error: AjvError): ValidationIssue {
  const { keyword, instancePath, params } = error;
  switch (keyword) {
    // The missing or extra property is what the user has to fix, so it gets the path.
    case "required":
      return { path: pointerJoin(instancePath, String(params.missingProperty)), message: "is required" };
    case "dependencies":
    case "dependentRequired":
      if (params.missingProperty !== undefined) {
        return {
          path: pointerJoin(instancePath, String(params.missingProperty)),
          message: `is required when property '${String(params.property)}' is present`,
        };
      }
      break;
    case "additionalProperties":
      return { path: pointerJoin(instancePath, String(params.additionalProperty)), message: "is not allowed" };
    case "unevaluatedProperties":
      return { path: pointerJoin(instancePath, String(params.unevaluatedProperty)), message: "is not allowed" };
    case "enum":
      return { path: instancePath, message: withPropertyName(error, `must be one of: ${describeValues(params.allowedValues)}`) };
    case "const":
      return { path: instancePath, message: withPropertyName(error, `must be equal to constant: ${describeValue(params.allowedValue)}`) };
    case "type":
      return { path: instancePath, message: withPropertyName(error, `must be ${String(params.type).split(",").join(" or ")}`) };
    // "boolean schema is false" is jargon; a `false` schema (e.g. `properties: {foo: false}`) forbids the value.
    case "false schema":
      return { path: instancePath, message: withPropertyName(error, "is not allowed") };
    case "propertyNames":
      return { path: instancePath, message: `property name '${String(params.propertyName)}' is invalid` };
  }
  return { path: instancePath, message: withPropertyName(error, error.message ?? `must pass "${keyword}" keyword validation`) };
}

// Errors raised inside `propertyNames` are about a key, not a value: say which key.
function withPropertyName(error: AjvError, message: string): string {
  return error.propertyName === undefined ? message : `property name '${error.propertyName}' ${message}`;
}

function toIssues(errors: AjvError[]): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    // ajv adds a generic "property name must be valid" after the specific errors for that key.
    if (
      error.keyword === "propertyNames" &&
      errors.some((e) => e !== error && e.propertyName === error.params.propertyName && e.instancePath === error.instancePath)
    ) {
      continue;
    }
    const issue = toIssue(error);
    const key = `${issue.path}\u0000${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(issue);
  }
  return issues;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * One line for a person: formatIssue({path: "/items/2/sku", message: "must be string"}, "input")
 * gives "input.items[2].sku: must be string". Numeric segments are shown as indexes: the pointer
 * alone cannot tell an array index from an object key made of digits.
 */
export function formatIssue(issue: ValidationIssue, root = ""): string {
  let where = root;
  if (issue.path !== "") {
    for (const raw of issue.path.split("/").slice(1)) {
      const segment = raw.replace(/~1/g, "/").replace(/~0/g, "~");
      if (/^(0|[1-9][0-9]*)$/.test(segment)) where += `[${segment}]`;
      else if (IDENTIFIER.test(segment)) where += where === "" ? segment : `.${segment}`;
      else where += `[${JSON.stringify(segment)}]`;
    }
  }
  return where === "" ? issue.message : `${where}: ${issue.message}`;
}
