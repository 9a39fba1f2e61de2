/**
 * Reading the running counts of executions (table `execution_counts`, kept by triggers, one row per UTC day,
 * tool, action, status and actor). A time range is split into whole days, read from the counts, and at most two
 * partial days at its edges, read from `executions` through its time index: however long the history, a count
 * touches a few thousand rows at most.
 */
import type { Registry } from "./db.js";
import type { CountFilter } from "../../domain/records.js";
export type { CountFilter };

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

/** How many executions match, without counting them one by one. */
export function countExecutions(registry: Registry, filter: CountFilter): number {
  const split = splitByDay(filter.since, filter.until);
  const equal: string[] = [];
  const params: Record<string, unknown> = {};
  for (const key of ["tool", "action", "status", "actor"] as const) {
    if (filter[key] !== undefined) (equal.push(`${key} = @${key}`), (params[key] = filter[key]));
  }
  let total = 0;
  if (split.days) {
    const where = [...equal];
    if (split.days.from !== undefined) (where.push("day >= @dayFrom"), (params.dayFrom = split.days.from));
    if (split.days.to !== undefined) (where.push("day <= @dayTo"), (params.dayTo = split.days.to));
    total += registry.db
      .prepare(`SELECT total(count) FROM execution_counts ${where.length ? `WHERE ${where.join(" AND ")}` : ""}`)
      .pluck()
      .get(params) as number;
  }
  for (const edge of split.edges) {
    const where = [...equal, "created_at >= @edgeFrom", "created_at <= @edgeTo"];
    total += registry.db
      .prepare(`SELECT count(*) FROM executions WHERE ${where.join(" AND ")}`)
      .pluck()
      .get({ ...params, edgeFrom: edge.from, edgeTo: edge.to }) as number;
  }
  return total;
}
