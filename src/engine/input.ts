/**
 * Builds an action's input from its sources, lowest precedence first: `--params-file` (or stdin with `-`),
 * then `--params JSON`, then each `--param key=value`. A `--param` value is typed by the input schema, through
 * `$ref`s to the tool's shared definitions and `allOf`/`anyOf`/`oneOf` (as imported OpenAPI schemas are
 * written): numbers, booleans and JSON values for fields that declare those types, lists as JSON, `k=a,b` or
 * repeated `-p k=v`, text otherwise.
 */
import { UsageError } from "../errors.js";
import { hasLoneSurrogate } from "../util/unicode.js";

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
 * Refuses JSON text a person gave (`--params`, `--params-file`, a JSON list or object in `--param`) holding a whole
 * number JSON.parse cannot keep exactly: past 2^53 it would silently become another number (an id, an amount),
 * however it is written (`9007199254740993`, `9007199254740993.0`, `9.007199254740993e15`). A program's own
 * object is not checked: its numbers are already what it holds.
 */
export function checkExactNumbers(text: string, where: string): void {
  const inexact = inexactInteger(text);
  if (inexact === undefined) return;
  throw new UsageError(
    `${where}: ${inexact} is larger than a number can hold exactly (${Number.MAX_SAFE_INTEGER}); it would be sent as ${Number(inexact)}: write it as a string if the field takes one`,
  );
}

/**
 * Whether a JSON number is a whole number past Number.MAX_SAFE_INTEGER (either way) that JSON.parse would not keep
 * as written. Written in plain digits, any such number is refused (past 2^53 two numbers share one double). With a
 * fraction or an exponent (`9007199254740993.0`, `9.007199254740993e15`) it is refused when the double differs from
 * it, so `1e21`, which a double holds exactly, passes. A number with a fraction is approximate in any case.
 */
function inexactWhole(literal: string): boolean {
  const match = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (!match) return false;
  let digits = match[1]! + (match[2] ?? "");
  // Where the decimal point falls in `digits`: the number of digits before it.
  let point = match[1]!.length + Number(match[3] ?? 0);
  const leadingZeros = /^0*/.exec(digits)![0].length;
  digits = digits.slice(leadingZeros).replace(/0+$/, "");
  point -= leadingZeros;
  if (digits === "" || digits.length > point) return false;
  // 17 digits or more before the point is 10^16 or more, past 2^53 - 1 (16 digits).
  if (point <= 16 && BigInt(digits.padEnd(point, "0")) <= BigInt(Number.MAX_SAFE_INTEGER)) return false;
  if (match[2] === undefined && match[3] === undefined) return true;
  const parsed = Math.abs(Number(literal));
  // A finite double is below 2^1024: `point` is at most 309 digits here.
  return !Number.isFinite(parsed) || BigInt(parsed) !== BigInt(digits.padEnd(point, "0"));
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
    if (inexactWhole(match[0])) return match[0];
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
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      // Not JSON: a comma list whose first item starts with a bracket.
    }
    if (Array.isArray(parsed)) {
      checkExactNumbers(raw, flag);
      return parsed;
    }
  }
  return raw === "" ? [] : raw.split(",").map((item) => typedValue(item, items, flag));
}

/** A number as JSON writes one: decimal, no sign but `-`, no leading zeros, no spaces (`0x10` or ` 5 ` stay text). */
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/**
 * Converts the text after `=` to the type the schemas ask for; text that fits no declared type stays text. A
 * number is a JSON number; a list is JSON or `a,b`, its items typed in turn.
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
    if ((type === "number" || type === "integer") && JSON_NUMBER.test(raw)) {
      // A whole number past 2^53 has no exact JavaScript number: sent, it would name another id, another amount.
      if (inexactWhole(raw)) {
        if (types.includes("string")) return raw;
        throw new UsageError(
          `${flag}: ${raw} is larger than a number can hold exactly (${Number.MAX_SAFE_INTEGER}); it would be sent as ${Number(raw)}, so nothing was sent`,
        );
      }
      return Number(raw);
    }
    if (type === "boolean" && (raw === "true" || raw === "false")) return raw === "true";
    if (type === "null" && raw === "null") return null;
    if (type === "object") {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        if (types.length === 1) throw new UsageError(`${flag}: expected a JSON ${type}, got ${JSON.stringify(raw)}`);
        continue;
      }
      checkExactNumbers(raw, flag);
      return parsed;
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
    if (eq <= 0 || path.some((segment) => segment === "")) {
      throw new UsageError(`--param ${JSON.stringify(param)}: expected key=value, such as --param amount=50`);
    }
    // Assigned, `__proto__` would replace an object's prototype rather than set a field (`constructor` and
    // `prototype` are plain fields: they are set as own properties below).
    if (path.includes("__proto__")) {
      throw new UsageError(
        `--param ${JSON.stringify(param)}: expected key=value with a key other than __proto__, which names an object's prototype in JavaScript rather than a field; give that field in --params or --params-file`,
      );
    }
    let value = typedValue(param.slice(eq + 1), schemasAt(view, path), `--param ${key}`, view);
    if (Array.isArray(value)) {
      const earlier = lists.has(key) ? valueAt(input, path) : undefined;
      if (Array.isArray(earlier)) value = [...earlier, ...value];
      lists.add(key);
    }
    setPath(input, path, value);
  }
  const invalid = invalidText(input);
  if (invalid !== undefined) throw new UsageError(invalid);
  return input;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const LONE_SURROGATE = "contains a lone UTF-16 surrogate, which is not valid Unicode text";

/**
 * Why the input is not valid Unicode text, naming the first field (or field name) that holds a lone UTF-16
 * surrogate: JSON can write one (`"\ud800"`), but no request, argument or file can carry it as it is (a URL
 * encoder throws on it, UTF-8 writes U+FFFD in its place). Walked without recursion: input may nest deeply.
 */
function invalidText(input: Record<string, unknown>): string | undefined {
  const pending: Array<[unknown, string]> = [[input, "input"]];
  while (pending.length > 0) {
    const [value, where] = pending.pop()!;
    if (typeof value === "string") {
      if (hasLoneSurrogate(value)) return `${where}: ${LONE_SURROGATE}`;
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) pending.push([value[i], `${where}[${i}]`]);
    } else if (value !== null && typeof value === "object") {
      const entries = Object.entries(value);
      for (const [key] of entries) if (hasLoneSurrogate(key)) return `${where}: the field name ${JSON.stringify(key)} ${LONE_SURROGATE}`;
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, item] = entries[i]!;
        pending.push([item, IDENTIFIER.test(key) ? `${where}.${key}` : `${where}[${JSON.stringify(key)}]`]);
      }
    }
  }
  return undefined;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let current = target;
  for (const segment of path.slice(0, -1)) {
    // Own fields only: `constructor` is a field here, not Object's.
    const next = Object.hasOwn(current, segment) ? current[segment] : undefined;
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
