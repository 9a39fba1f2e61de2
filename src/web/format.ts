/** Small formatting shared by the pages: money, times and JSON as people read them. */
export const usd = (amount: number): string => `$${amount.toFixed(2)}`;

/** `2026-11-21 09:30:12 UTC` from an ISO time. */
export const when = (iso: string | null): string => (iso ? `${iso.replace("T", " ").slice(0, 19)} UTC` : "-");

export const pretty = (value: unknown): string => (typeof value === "string" ? value : (JSON.stringify(value, null, 2) ?? "null"));

/** One detail value on one line, as the terminal prompt shows it. */
export const inline = (value: unknown): string => (typeof value === "string" ? value : (JSON.stringify(value) ?? "null"));

/**
 * A `since` filter: an ISO date (the whole day, UTC) or time. Returns the ISO time, or an error message naming
 * the field; empty means no filter.
 */
export function parseSince(value: string | null): { since?: string } | { error: string } {
  if (!value) return {};
  const isDate = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const time = new Date(isDate ? `${value}T00:00:00.000Z` : value);
  if ((!isDate && !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value)) || Number.isNaN(time.getTime())) {
    return { error: `since: expected an ISO date or time such as 2026-11-21 or 2026-11-21T09:30:00Z, got ${JSON.stringify(value)}` };
  }
  return { since: time.toISOString() };
}
