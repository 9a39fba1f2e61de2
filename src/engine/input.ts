/**
 * Builds an action's input from its sources, lowest precedence first: `--params-file` (or stdin with `-`),
 * then `--params JSON`, then each `--param key=value`. A `--param` value is typed by the input schema, through
 * `$ref`s to the tool's shared definitions and `allOf`/`anyOf`/`oneOf` (as imported OpenAPI schemas are
 * written): numbers, booleans and JSON values for fields that declare those types, lists as JSON, `k=a,b` or
 * repeated `-p k=v`, text otherwise.
 */
import { UsageError } from "../errors.js";

export interface InputSources {
  params: string[];
  paramsJson?: string;
  /** Already-read text of `--params-file`, with its name for messages. */
  paramsFile?: { name: string; text: string };
}

type Schema = Record<string, unknown>;

function parseObject(text: string, where: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${where}: invalid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new UsageError(`${where}: expected a JSON object`);
  return value as Record<string, unknown>;
}

/**
 * Refuses JSON text a person gave (`--params`, `--params-file`) holding a whole number JSON.parse cannot keep
 * exactly: past 2^53 it would silently become another number (an id, an amount). A program's own object is not
 * checked: its numbers are already what it holds.
 */
export function checkExactNumbers(text: string, where: string): void {
  const inexact = inexactInteger(text);
  if (inexact === undefined) return;
  throw new UsageError(
    `${where}: ${inexact} is larger than a number can hold exactly (${Number.MAX_SAFE_INTEGER}); it would be sent as ${Number(inexact)}: write it as a string if the field takes one`,
  );
}

/** The first whole number in JSON `text`, outside its strings, that JSON.parse cannot keep exactly. */
function inexactInteger(text: string): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
      continue;
    }
    if (char !== "-" && (char < "0" || char > "9")) continue;
    const match = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!match) continue;
    if (match[1] === undefined && match[2] === undefined && !Number.isSafeInteger(Number(match[0]))) return match[0];
    i += match[0].length - 1;
  }
  return undefined;
}

/** A shared definition by name (`#/$defs/<name>`), for schemas that refer to the tool's definitions. */
export type DefinitionLookup = (name: string) => unknown;

const DEFS = "#/$defs/";
/** How deep references and combinations are followed: enough for real schemas, finite for circular ones. */
const MAX_DEPTH = 16;
const isSchema = (value: unknown): value is Schema => value !== null && typeof value === "object" && !Array.isArray(value);

/**
 * Every schema that describes the value: the schema itself, what its `$ref` names, and the members of its
 * `allOf`, `anyOf` and `oneOf`, followed to any depth. A field an imported body declares is in one of them.
 */
function branches(schema: unknown, root: Schema | undefined, definitions: DefinitionLookup | undefined, depth = 0, into: Schema[] = []): Schema[] {
  if (!isSchema(schema) || depth > MAX_DEPTH || into.includes(schema)) return into;
  into.push(schema);
  if (typeof schema.$ref === "string" && schema.$ref.startsWith(DEFS)) {
    const name = decodeURIComponent(schema.$ref.slice(DEFS.length)).replace(/~1/g, "/").replace(/~0/g, "~");
    const own = isSchema(root?.$defs) ? (root.$defs as Schema)[name] : undefined;
    branches(own ?? definitions?.(name), root, definitions, depth + 1, into);
  }
  for (const key of ["allOf", "anyOf", "oneOf"]) {
    const list = schema[key];
    if (Array.isArray(list)) for (const member of list) branches(member, root, definitions, depth + 1, into);
  }
  return into;
}

interface SchemaView {
  root: Schema | undefined;
  definitions: DefinitionLookup | undefined;
}

/** The schemas that describe the field at `path` (several when alternatives each declare it). */
function schemasAt(view: SchemaView, path: string[]): Schema[] {
  let current = branches(view.root, view.root, view.definitions);
  for (const segment of path) {
    const next: unknown[] = [];
    for (const schema of current) {
      const properties = schema.properties;
      if (isSchema(properties) && Object.hasOwn(properties, segment)) next.push(properties[segment]);
      else if (isSchema(schema.additionalProperties)) next.push(schema.additionalProperties);
    }
    current = next.flatMap((schema) => branches(schema, view.root, view.definitions));
    if (current.length === 0) return [];
  }
  return current;
}

function declaredTypes(schemas: Schema[]): string[] {
  const types: string[] = [];
  for (const schema of schemas) {
    const type = schema.type;
    if (typeof type === "string") types.push(type);
    else if (Array.isArray(type)) types.push(...type.filter((t): t is string => typeof t === "string"));
    const values = Array.isArray(schema.enum) ? schema.enum : "const" in schema ? [schema.const] : [];
    types.push(...values.map((v) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v)));
  }
  return [...new Set(types)];
}

/** The schemas of a list's items. */
function itemSchemas(view: SchemaView, schemas: Schema[]): Schema[] {
  return schemas.flatMap((schema) => (isSchema(schema.items) ? branches(schema.items, view.root, view.definitions) : []));
}

/** Text that fits no declared scalar type, for a field that may be a list: JSON, or items separated by commas. */
function listValue(raw: string, items: Schema[], flag: string): unknown[] {
  if (raw.trimStart().startsWith("[")) {
    try {
      const parsed = JSON.parse(raw) as unknown;
      if (Array.isArray(parsed)) return parsed;
    } catch {
      // Not JSON: a comma list whose first item starts with a bracket.
    }
  }
  return raw === "" ? [] : raw.split(",").map((item) => typedValue(item, items, flag));
}

/**
 * Converts the text after `=` to the type the schemas ask for; text that fits no declared type stays text. A
 * list is JSON or `a,b`, its items typed in turn.
 */
export function typedValue(
  raw: string,
  schemas: Schema[] | Schema | undefined,
  flag: string,
  view: SchemaView = { root: undefined, definitions: undefined },
): unknown {
  const list = Array.isArray(schemas) ? schemas : schemas === undefined ? [] : [schemas];
  const types = declaredTypes(list);
  for (const type of types) {
    if ((type === "number" || type === "integer") && raw.trim() !== "" && Number.isFinite(Number(raw))) {
      // A whole number past 2^53 has no exact JavaScript number: sent, it would name another id, another amount.
      if (/^\s*[+-]?\d+\s*$/.test(raw) && !Number.isSafeInteger(Number(raw))) {
        if (types.includes("string")) return raw;
        throw new UsageError(
          `${flag}: ${raw.trim()} is larger than a number can hold exactly (${Number.MAX_SAFE_INTEGER}); it would be sent as ${Number(raw)}, so nothing was sent`,
        );
      }
      return Number(raw);
    }
    if (type === "boolean" && (raw === "true" || raw === "false")) return raw === "true";
    if (type === "null" && raw === "null") return null;
    if (type === "object") {
      try {
        return JSON.parse(raw);
      } catch {
        if (types.length === 1) throw new UsageError(`${flag}: expected a JSON ${type}, got ${JSON.stringify(raw)}`);
      }
    }
  }
  if (types.includes("array") && !types.includes("string")) return listValue(raw, itemSchemas(view, list), flag);
  return raw;
}

export function buildInput(sources: InputSources, inputSchema: Schema | undefined, definitions?: DefinitionLookup): Record<string, unknown> {
  // Spread defines own properties: a `__proto__` key in JSON stays data (and fails validation) instead of
  // replacing the input object's prototype, as Object.assign would.
  const input: Record<string, unknown> = {
    ...(sources.paramsFile ? parseObject(sources.paramsFile.text, `--params-file ${sources.paramsFile.name}`) : {}),
    ...(sources.paramsJson !== undefined ? parseObject(sources.paramsJson, "--params") : {}),
  };
  const view: SchemaView = { root: inputSchema, definitions };
  // Lists given by --param so far: a later `-p k=v` adds to them rather than replacing them.
  const lists = new Set<string>();
  for (const param of sources.params) {
    const eq = param.indexOf("=");
    const key = eq > 0 ? param.slice(0, eq) : "";
    const path = key.split(".");
    if (eq <= 0 || path.some((segment) => segment === "" || segment === "__proto__" || segment === "constructor" || segment === "prototype")) {
      throw new UsageError(`--param ${JSON.stringify(param)}: expected key=value, such as --param amount=50`);
    }
    let value = typedValue(param.slice(eq + 1), schemasAt(view, path), `--param ${key}`, view);
    if (Array.isArray(value)) {
      const earlier = lists.has(key) ? valueAt(input, path) : undefined;
      if (Array.isArray(earlier)) value = [...earlier, ...value];
      lists.add(key);
    }
    setPath(input, path, value);
  }
  return input;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let current = target;
  for (const segment of path.slice(0, -1)) {
    const next = current[segment];
    if (next === null || typeof next !== "object" || Array.isArray(next)) current[segment] = {};
    current = current[segment] as Record<string, unknown>;
  }
  current[path[path.length - 1]!] = value;
}

function valueAt(target: Record<string, unknown>, path: string[]): unknown {
  let current: unknown = target;
  for (const segment of path) current = isSchema(current) && Object.hasOwn(current, segment) ? current[segment] : undefined;
  return current;
}
