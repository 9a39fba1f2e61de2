/**
 * Execution statistics: counts, failures and spend per period and per tool, action or status, in one
 * aggregate query over `executions`. Buckets are UTC, taken from `created_at` (when the run was asked for),
 * which is always an ISO 8601 UTC string, so hour, day and month are plain prefixes of it.
 */
import type { Registry } from "./db.js";

export const STATS_PERIODS = ["hour", "day", "week", "month"] as const;
export const STATS_GROUPS = ["tool", "action", "status"] as const;
export type StatsPeriod = (typeof STATS_PERIODS)[number];
export type StatsGroup = (typeof STATS_GROUPS)[number];

export interface StatsQuery {
  period: StatsPeriod;
  by: StatsGroup;
  /** ISO times, inclusive. */
  since?: string;
  until?: string;
  tool?: string;
}

export interface StatsCounts {
  /** Every execution recorded, whatever its status (refusals and approval requests included). */
  count: number;
  succeeded: number;
  /** Status `failed` only: the action failed, or its input was invalid and nothing ran. */
  failed: number;
  /** The outcome is not known: the action may have happened. */
  unknown: number;
  dryRuns: number;
  /** USD of succeeded and unknown executions: an unknown outcome may have spent the money. */
  spendUsd: number;
}

export interface StatsRow extends StatsCounts {
  /** `2026-11-21T09:00` (hour), `2026-11-21` (day), the Monday that starts the week (week), `2026-11` (month). */
  bucket: string;
  /** The tool, `tool.action`, or the status. */
  group: string;
}

export interface Stats {
  period: StatsPeriod;
  by: StatsGroup;
  rows: StatsRow[];
  totals: StatsCounts;
}

const BUCKET: Record<StatsPeriod, string> = {
  hour: "substr(created_at, 1, 13) || ':00'",
  day: "substr(created_at, 1, 10)",
  // ISO weeks start on Monday: move to the coming Sunday (or stay on it), then back six days.
  week: "date(created_at, 'weekday 0', '-6 days')",
  month: "substr(created_at, 1, 7)",
};

const GROUP: Record<StatsGroup, string> = {
  tool: "tool",
  action: "tool || '.' || action",
  status: "status",
};

interface Raw {
  bucket: string; grp: string; count: number; succeeded: number; failed: number; unknown: number; dry_runs: number; spend: number;
}

const round = (usd: number) => Math.round(usd * 1e6) / 1e6;

export function executionStats(registry: Registry, query: StatsQuery): Stats {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  if (query.since) (where.push("created_at >= @since"), (params.since = query.since));
  if (query.until) (where.push("created_at <= @until"), (params.until = query.until));
  if (query.tool) (where.push("tool = @tool"), (params.tool = query.tool));
  // Both expressions come from the fixed tables above, never from user text.
  const sql = `
    SELECT ${BUCKET[query.period]} AS bucket, ${GROUP[query.by]} AS grp, count(*) AS count,
      sum(status = 'succeeded') AS succeeded, sum(status = 'failed') AS failed, sum(status = 'unknown') AS unknown,
      sum(status = 'dry_run') AS dry_runs,
      total(CASE WHEN status IN ('succeeded', 'unknown') THEN cost_usd END) AS spend
    FROM executions ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
    GROUP BY bucket, grp
    ORDER BY bucket, grp`;
  const raw = registry.db.prepare(sql).all(params) as Raw[];
  const rows: StatsRow[] = raw.map((r) => ({
    bucket: r.bucket, group: r.grp, count: r.count, succeeded: r.succeeded, failed: r.failed, unknown: r.unknown,
    dryRuns: r.dry_runs, spendUsd: round(r.spend),
  }));
  const totals: StatsCounts = { count: 0, succeeded: 0, failed: 0, unknown: 0, dryRuns: 0, spendUsd: 0 };
  for (const row of rows) {
    for (const key of ["count", "succeeded", "failed", "unknown", "dryRuns", "spendUsd"] as const) totals[key] += row[key];
  }
  totals.spendUsd = round(totals.spendUsd);
  return { period: query.period, by: query.by, rows, totals };
}
