/**
 * Counting and statistics over executions, alike on both backends: a time range split into whole days (read from
 * the running counts) and partial edges (read from the executions), and the merging of the rows each part gives.
 */
import type { Stats, StatsCounts, StatsGroup, StatsQuery, StatsRow } from "../../domain/records.js";

/** The column (an expression both SQL dialects read) a stats query groups by. */
export const STATS_GROUP_COLUMNS: Record<StatsGroup, string> = {
  tool: "tool",
  action: "tool || '.' || action",
  status: "status",
};

/** A span of whole days (`YYYY-MM-DD`, inclusive) and the partial spans of `executions` around it. */
export interface DaySplit {
  days?: { from?: string; to?: string };
  edges: Array<{ from: string; to: string }>;
}

const DAY_MS = 86_400_000;
const dayOf = (iso: string) => iso.slice(0, 10);
const dayStart = (day: string) => Date.parse(`${day}T00:00:00.000Z`);
const dayAt = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Splits an inclusive range of ISO times (either end open) into whole days and partial edges. */
export function splitByDay(since?: string, until?: string): DaySplit {
  const edges: DaySplit["edges"] = [];
  let from: string | undefined;
  let to: string | undefined;
  if (since !== undefined) {
    const start = dayStart(dayOf(since));
    if (Date.parse(since) === start) from = dayOf(since);
    else {
      from = dayAt(start + DAY_MS);
      edges.push({ from: since, to: new Date(start + DAY_MS - 1).toISOString() });
    }
  }
  if (until !== undefined) {
    const start = dayStart(dayOf(until));
    if (Date.parse(until) === start + DAY_MS - 1) to = dayOf(until);
    else {
      to = dayAt(start - DAY_MS);
      edges.push({ from: new Date(start).toISOString(), to: until });
    }
  }
  if (since !== undefined && until !== undefined && dayOf(since) === dayOf(until) && edges.length > 0) {
    // One partial day: it is the whole range.
    return { edges: [{ from: since, to: until }] };
  }
  // Clip the edges to the range itself (the until edge may start before since when both fall in one day).
  for (const edge of edges) {
    if (since !== undefined && edge.from < since) edge.from = since;
    if (until !== undefined && edge.to > until) edge.to = until;
  }
  const empty = from !== undefined && to !== undefined && from > to;
  return { days: empty ? undefined : { from, to }, edges: edges.filter((edge) => edge.from <= edge.to) };
}

/** One bucket and group as a backend's aggregate query returns it. */
export interface RawStatsRow {
  bucket: string;
  grp: string;
  count: number;
  succeeded: number;
  failed: number;
  unknown: number;
  dry_runs: number;
  spend: number;
}

const round = (usd: number) => Math.round(usd * 1e6) / 1e6;

/** Rows of the whole days and of the edges, merged by bucket and group, in order, with their totals. */
export function mergeStats(query: StatsQuery, raw: RawStatsRow[]): Stats {
  const merged = new Map<string, StatsRow>();
  for (const r of raw) {
    const key = `${r.bucket}\u0000${r.grp}`;
    const row = merged.get(key) ?? { bucket: r.bucket, group: r.grp, count: 0, succeeded: 0, failed: 0, unknown: 0, dryRuns: 0, spendUsd: 0 };
    row.count += r.count;
    row.succeeded += r.succeeded;
    row.failed += r.failed;
    row.unknown += r.unknown;
    row.dryRuns += r.dry_runs;
    row.spendUsd = round(row.spendUsd + r.spend);
    merged.set(key, row);
  }
  const rows = [...merged.values()].sort((a, b) =>
    a.bucket === b.bucket ? (a.group < b.group ? -1 : a.group > b.group ? 1 : 0) : a.bucket < b.bucket ? -1 : 1,
  );
  const totals: StatsCounts = { count: 0, succeeded: 0, failed: 0, unknown: 0, dryRuns: 0, spendUsd: 0 };
  for (const row of rows) {
    for (const key of ["count", "succeeded", "failed", "unknown", "dryRuns", "spendUsd"] as const) totals[key] += row[key];
  }
  totals.spendUsd = round(totals.spendUsd);
  return { period: query.period, by: query.by, rows, totals };
}

/** Hourly buckets are finer than the running counts: `--period hour` reads the executions of its whole range. */
export const OPEN_START = "";
export const OPEN_END = "\uffff";
export function statsSplit(query: StatsQuery): DaySplit {
  return query.period === "hour" ? { edges: [{ from: query.since ?? OPEN_START, to: query.until ?? OPEN_END }] } : splitByDay(query.since, query.until);
}
