/**
 * Builds an action's input from its sources, lowest precedence first: `--params-file` (or stdin with `-`),
 * then `--params JSON`, then each `--param key=value`. A `--param` value is typed by the input schema:
 * numbers, booleans and JSON values for fields that declare those types, text otherwise.
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

function schemaAt(schema: Schema | undefined, path: string[]): Schema | undefined {
  let current = schema;
  for (const segment of path) {
    const properties = current?.properties as Record<string, Schema> | undefined;
    current = properties?.[segment];
    if (!current) return undefined;
  }
  return current;
}

function declaredTypes(schema: Schema | undefined): string[] {
  if (!schema) return [];
  const type = schema.type;
  if (typeof type === "string") return [type];
  if (Array.isArray(type)) return type.filter((t): t is string => typeof t === "string");
  if (Array.isArray(schema.enum)) return [...new Set(schema.enum.map((v) => (v === null ? "null" : typeof v)))];
  return [];
}

/** Converts the text after `=` to the type the schema asks for; text that fits no declared type stays text. */
export function typedValue(raw: string, schema: Schema | undefined, flag: string): unknown {
  const types = declaredTypes(schema);
  for (const type of types) {
    if ((type === "number" || type === "integer") && raw.trim() !== "" && Number.isFinite(Number(raw))) return Number(raw);
    if (type === "boolean" && (raw === "true" || raw === "false")) return raw === "true";
    if (type === "null" && raw === "null") return null;
    if (type === "object" || type === "array") {
      try {
        return JSON.parse(raw);
      } catch {
        if (types.length === 1) throw new UsageError(`${flag}: expected a JSON ${type}, got ${JSON.stringify(raw)}`);
      }
    }
  }
  return raw;
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

export function buildInput(sources: InputSources, inputSchema: Schema | undefined): Record<string, unknown> {
  // Spread defines own properties: a `__proto__` key in JSON stays data (and fails validation) instead of
  // replacing the input object's prototype, as Object.assign would.
  const input: Record<string, unknown> = {
    ...(sources.paramsFile ? parseObject(sources.paramsFile.text, `--params-file ${sources.paramsFile.name}`) : {}),
    ...(sources.paramsJson !== undefined ? parseObject(sources.paramsJson, "--params") : {}),
  };
  for (const param of sources.params) {
    const eq = param.indexOf("=");
    const key = eq > 0 ? param.slice(0, eq) : "";
    const path = key.split(".");
    if (eq <= 0 || path.some((segment) => segment === "" || segment === "__proto__" || segment === "constructor" || segment === "prototype")) {
      throw new UsageError(`--param ${JSON.stringify(param)}: expected key=value, such as --param amount=50`);
    }
    setPath(input, path, typedValue(param.slice(eq + 1), schemaAt(inputSchema, path), `--param ${key}`));
  }
  return input;
}
