/**
 * Execution statistics: counts, failures and spend per period and per tool, action or status, in one
 * aggregate query over `executions`. Buckets are UTC, taken from `created_at` (when the run was asked for),
 * which is always an ISO 8601 UTC string, so hour, day and month are plain prefixes of it.
 */
import type { Registry } from "./db.js";
import { mergeStats, STATS_GROUP_COLUMNS, statsSplit, type RawStatsRow as Raw } from "../shared/stats.js";
import { STATS_PERIODS, STATS_GROUPS } from "../../domain/records.js";
export { STATS_PERIODS, STATS_GROUPS };
import type { StatsPeriod, StatsGroup, StatsQuery, StatsCounts, StatsRow, Stats } from "../../domain/records.js";
export type { StatsPeriod, StatsGroup, StatsQuery, StatsCounts, StatsRow, Stats };

/** Bucket expressions over a time column: `created_at` in executions, `day` (`YYYY-MM-DD`) in the counts. */
function bucket(period: StatsPeriod, column: string): string {
  switch (period) {
    case "hour":
      return `substr(${column}, 1, 13) || ':00'`;
    case "day":
      return `substr(${column}, 1, 10)`;
    case "week":
      // ISO weeks start on Monday: move to the coming Sunday (or stay on it), then back six days.
      return `date(substr(${column}, 1, 10), 'weekday 0', '-6 days')`;
    case "month":
      return `substr(${column}, 1, 7)`;
  }
}

/**
 * Whole days come from the running counts, the partial days at the edges of --since/--until from the executions
 * themselves: the cost depends on the number of days and tools, not on the number of runs. Hourly buckets are
 * finer than the counts, so `--period hour` reads the executions in its range.
 */
export function executionStats(registry: Registry, query: StatsQuery): Stats {
  const split = statsSplit(query);
  const raw: Raw[] = [];
  const tool = query.tool === undefined ? [] : ["tool = @tool"];
  const params: Record<string, unknown> = { tool: query.tool };
  // The expressions come from the fixed tables above, never from user text.
  if (split.days) {
    const where = [...tool];
    if (split.days.from !== undefined) (where.push("day >= @dayFrom"), (params.dayFrom = split.days.from));
    if (split.days.to !== undefined) (where.push("day <= @dayTo"), (params.dayTo = split.days.to));
    raw.push(
      ...(registry.db
        .prepare(
          `
      SELECT ${bucket(query.period, "day")} AS bucket, ${STATS_GROUP_COLUMNS[query.by]} AS grp, sum(count) AS count,
        total(CASE WHEN status = 'succeeded' THEN count END) AS succeeded, total(CASE WHEN status = 'failed' THEN count END) AS failed,
        total(CASE WHEN status = 'unknown' THEN count END) AS unknown, total(CASE WHEN status = 'dry_run' THEN count END) AS dry_runs,
        total(CASE WHEN status IN ('succeeded', 'unknown') THEN cost_micro_usd END) / 1000000.0 AS spend
      FROM execution_counts WHERE count > 0 ${where.length ? `AND ${where.join(" AND ")}` : ""}
      GROUP BY bucket, grp`,
        )
        .all(params) as Raw[]),
    );
  }
  for (const edge of split.edges) {
    raw.push(
      ...(registry.db
        .prepare(
          `
      SELECT ${bucket(query.period, "created_at")} AS bucket, ${STATS_GROUP_COLUMNS[query.by]} AS grp, count(*) AS count,
        sum(status = 'succeeded') AS succeeded, sum(status = 'failed') AS failed, sum(status = 'unknown') AS unknown,
        sum(status = 'dry_run') AS dry_runs,
        total(CASE WHEN status IN ('succeeded', 'unknown') THEN cost_usd END) AS spend
      FROM executions WHERE created_at >= @edgeFrom AND created_at <= @edgeTo ${tool.length ? `AND ${tool[0]}` : ""}
      GROUP BY bucket, grp`,
        )
        .all({ ...params, edgeFrom: edge.from, edgeTo: edge.to }) as Raw[]),
    );
  }
  return mergeStats(query, raw);
}
