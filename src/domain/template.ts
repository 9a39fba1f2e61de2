/**
 * Safe templates for requests, commands and rollbacks: `{{ input.amount }}`, `{{ secrets.STRIPE_API_KEY }}`.
 * An expression is a dotted path and nothing else: no eval, no function calls, no prototype walking.
 * A string that is exactly one expression keeps the value's type (a number stays a number).
 */

export const EXPRESSION = /\{\{\s*([^{}]*?)\s*\}\}/g;
const PATH = /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+|\[\d+\])*$/;

export type TemplateScope = Record<string, unknown>;

export class TemplateError extends Error {}

export interface TemplateRef {
  root: string;
  path: string;
}

function splitPath(path: string): string[] {
  return path.replace(/\[(\d+)\]/g, ".$1").split(".");
}

/** Every `{{ ... }}` reference in a string, validated for syntax. */
export function parseRefs(template: string): TemplateRef[] {
  const refs: TemplateRef[] = [];
  for (const match of template.matchAll(EXPRESSION)) {
    const path = match[1] ?? "";
    if (!PATH.test(path)) throw new TemplateError(`'{{ ${path} }}' is not a valid reference (expected a dotted path like input.amount)`);
    refs.push({ root: splitPath(path)[0]!, path });
  }
  return refs;
}

/** Every reference in a nested value (objects, arrays and strings). */
export function collectRefs(value: unknown, into: TemplateRef[] = []): TemplateRef[] {
  if (typeof value === "string") into.push(...parseRefs(value));
  else if (Array.isArray(value)) for (const item of value) collectRefs(item, into);
  else if (value !== null && typeof value === "object") for (const item of Object.values(value)) collectRefs(item, into);
  return into;
}

export function lookup(scope: TemplateScope, path: string): unknown {
  let current: unknown = scope;
  for (const segment of splitPath(path)) {
    if (current === null || typeof current !== "object" || !Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

function stringify(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/**
 * Renders one string. `undefined` comes back when the string is a single expression whose value is absent,
 * so that optional query parameters and body fields can be left out; inside text, an absent value is an error.
 */
export function renderString(template: string, scope: TemplateScope): unknown {
  const whole = /^\{\{\s*([^{}]*?)\s*\}\}$/.exec(template);
  if (whole) {
    parseRefs(template);
    return lookup(scope, whole[1]!);
  }
  parseRefs(template);
  return template.replace(EXPRESSION, (_, path: string) => {
    const value = lookup(scope, path);
    if (value === undefined || value === null) throw new TemplateError(`'{{ ${path} }}' has no value`);
    return stringify(value);
  });
}

/** Renders every string in a nested value. Object keys whose value renders to undefined are dropped. */
export function renderValue(value: unknown, scope: TemplateScope): unknown {
  if (typeof value === "string") return renderString(value, scope);
  if (Array.isArray(value)) return value.map((item) => renderValue(item, scope));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const rendered = renderValue(item, scope);
      if (rendered !== undefined) out[key] = rendered;
    }
    return out;
  }
  return value;
}

/**
 * Renders to text, for places that need one (paths, headers, argv). Absent values are errors there.
 * `encode` applies to substituted values only, so a path template's own slashes survive.
 */
export function renderText(template: string, scope: TemplateScope, where: string, encode: (text: string) => string = (t) => t): string {
  parseRefs(template);
  return template.replace(EXPRESSION, (_, path: string) => {
    const value = lookup(scope, path);
    if (value === undefined || value === null) throw new TemplateError(`${where}: '{{ ${path} }}' has no value`);
    return encode(stringify(value));
  });
}
