/**
 * Input checks shared by the built-in files and database runtimes. The engine has already validated the input
 * against the action's inputSchema, but a manifest may leave that schema open: these runners trust nothing
 * they did not check themselves.
 */
import path from "node:path";
import { TemplateError } from "../../domain/template.js";
import type { ToolRecord } from "../../domain/records.js";

/**
 * Input that cannot be turned into a call (an unknown field, table or column). The engine reports a
 * TemplateError from `prepare` as "cannot build the <runtime> call: ..." with exit 2, and records the attempt.
 */
export class BuiltinInputError extends TemplateError {
  override name = "BuiltinInputError";
}

export type Input = Record<string, unknown>;

/** Refuses fields the operation does not know: a misspelt `were` must not turn into a delete without a filter. */
export function checkFields(input: Input, known: readonly string[], operation: string): void {
  for (const key of Object.keys(input)) {
    if (!known.includes(key)) throw new BuiltinInputError(`unknown input field ${quote(key)}; ${operation} takes ${known.join(", ")}`);
  }
}

export function optionalString(input: Input, key: string): string | undefined {
  const value = input[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new BuiltinInputError(`input ${key} must be a string`);
  return value;
}

export function requiredString(input: Input, key: string): string {
  const value = optionalString(input, key);
  if (value === undefined) throw new BuiltinInputError(`input ${key} is required`);
  return value;
}

/** A whole number from JSON, or from `--param limit=5` when no inputSchema typed it. */
export function optionalCount(input: Input, key: string): number | undefined {
  const value = input[key];
  if (value === undefined) return undefined;
  const n = typeof value === "string" && /^\d{1,15}$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) throw new BuiltinInputError(`input ${key} must be a whole number, 0 or more`);
  return n;
}

export function isPlainObject(value: unknown): value is Input {
  return value !== null && typeof value === "object" && !Array.isArray(value) && !Buffer.isBuffer(value);
}

/** Text in a one-line message: quotes, and escapes for newlines, NUL and other control characters. */
export function quote(text: string): string {
  return JSON.stringify(text);
}

/** Where a tool's relative paths start: the directory of the manifest it was imported from. */
export function manifestDir(tool: ToolRecord): string {
  if (tool.sourcePath && !/^https?:\/\//i.test(tool.sourcePath)) return path.dirname(tool.sourcePath);
  throw new BuiltinInputError(`tool ${tool.name} was not imported from a file, so its relative paths have no base; make them absolute`);
}

/** True when `inner` is `outer` or lies below it; both absolute and normalised. */
export function isWithin(inner: string, outer: string): boolean {
  const relative = path.relative(outer, inner);
  return relative === "" || (relative !== ".." && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative));
}
