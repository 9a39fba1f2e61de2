/**
 * The times the history is filtered by (`since` and `until`), read one way whatever the front door: the CLI's
 * `--since`/`--until` and a program's `since`/`until` give the same rows for the same value.
 */
import { UsageError } from "../errors.js";
import { isSpendDay } from "../policy/spend.js";

/** `YYYY-MM-DD`, then optionally `THH:MM[:SS[.fff]]` and a UTC offset (`Z`, `+01:00`, `-0500`). */
const ISO_TIME = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

const EXPECTED = "an ISO date or time such as 2026-11-21 or 2026-11-21T09:30:00Z";

/**
 * Accepts an ISO 8601 date or time, always read in UTC as the tables are: a bare date is a whole UTC day
 * (`--since` starts at its first millisecond and `--until` ends at its last), and a time without an offset is a
 * UTC time, whatever the machine's time zone. A day that does not exist (2026-02-30) is refused, not rolled over.
 * The result is the instant as the tables write it (`2026-11-21T09:30:00.000Z`), so rows compare as times.
 */
export function parseTime(value: string | undefined, flag: string, edge: "start" | "end" = "start"): string | undefined {
  if (value === undefined) return undefined;
  const match = ISO_TIME.exec(value);
  const [, day, hours, minutes, seconds, offset] = match ?? [];
  if (day !== undefined && !isSpendDay(day)) throw new UsageError(`${flag}: ${JSON.stringify(value)} is not a real calendar day`);
  const isDate = match !== null && hours === undefined;
  const time = new Date(isDate ? `${day}T00:00:00.000Z` : offset === undefined ? `${value}Z` : value);
  const inRange = isDate || (Number(hours) <= 23 && Number(minutes) <= 59 && Number(seconds ?? 0) <= 59);
  if (match === null || !inRange || Number.isNaN(time.getTime())) {
    throw new UsageError(`${flag}: expected ${EXPECTED}, got ${JSON.stringify(value)}`);
  }
  if (isDate && edge === "end") (time.setUTCDate(time.getUTCDate() + 1), time.setUTCMilliseconds(-1));
  return time.toISOString();
}

/** A program's `since` or `until`: text read as `parseTime` reads the CLI's, or a `Date`; anything else is refused. */
export function timeBound(value: unknown, name: string, edge: "start" | "end"): string | undefined {
  if (value === undefined) return undefined;
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new UsageError(`${name}: expected ${EXPECTED}, or a valid Date, got an invalid Date`);
    return parseTime(value.toISOString(), name, edge);
  }
  if (typeof value !== "string") {
    let shown: string;
    try {
      shown = typeof value === "number" ? String(value) : (JSON.stringify(value) ?? String(value));
    } catch {
      shown = Object.prototype.toString.call(value);
    }
    throw new UsageError(`${name}: expected ${EXPECTED}, or a Date, got ${shown}`);
  }
  return parseTime(value, name, edge);
}

/**
 * A query's `since` and `until` as the store compares them (instants in the tables' form), checked as the CLI
 * checks its flags; the error names the call and the field (`executions: since: ...`).
 */
export function timeRange<Q extends { since?: unknown; until?: unknown }>(
  call: string,
  query: Q,
): Omit<Q, "since" | "until"> & { since?: string; until?: string } {
  const { since, until, ...rest } = query;
  const bounds = { since: timeBound(since, `${call}: since`, "start"), until: timeBound(until, `${call}: until`, "end") };
  return {
    ...rest,
    ...(bounds.since === undefined ? {} : { since: bounds.since }),
    ...(bounds.until === undefined ? {} : { until: bounds.until }),
  };
}
