/**
 * HTML from template literals, escaped by default: every value interpolated into `html`…`` is escaped unless it
 * is itself `Html` (a fragment built the same way). Pages are built only this way, so text from the registry
 * (inputs, descriptions, errors) can never become markup. Values go into quoted attributes or element text only.
 */
import { revealHidden } from "../util/hidden.js";

export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escaped, with the characters that would reorder the text shown as `<U+202E>` (util/hidden.ts). */
export function escapeHtml(value: string): string {
  return revealHidden(value).replace(/[&<>"']/g, (char) => ESCAPES[char]!);
}

function render(value: unknown): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join("");
  // Absent parts (a condition that did not hold) render as nothing, so templates can use `cond && html`…``.
  if (value === undefined || value === null || value === false) return "";
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let text = strings[0]!;
  for (let i = 0; i < values.length; i++) text += render(values[i]) + strings[i + 1]!;
  return new Html(text);
}

/** A query string for a link, from the non-empty values: `?tool=pay&status=failed`. */
export function queryString(values: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) if (value !== undefined && value !== "") params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : "";
}
