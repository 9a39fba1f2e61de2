/**
 * Execution statistics in the team database, as sqlite/stats.ts computes them: whole days from the running counts,
 * partial days (and hourly buckets) from the executions, merged alike (shared/stats.ts). Buckets are UTC prefixes of
 * the ISO text timestamps; a week starts on Monday, as in SQLite.
 */
import type { StatsPeriod, StatsQuery, Stats } from "../../domain/records.js";
import { mergeStats, OPEN_END, OPEN_START, STATS_GROUP_COLUMNS, statsSplit, type RawStatsRow } from "../shared/stats.js";
import type { Sql } from "./db.js";

function bucket(period: StatsPeriod, column: string): string {
  switch (period) {
    case "hour":
      return `substr(${column}, 1, 13) || ':00'`;
    case "day":
      return `substr(${column}, 1, 10)`;
    case "week":
      return `to_char(date_trunc('week', CAST(substr(${column}, 1, 10) AS date)), 'YYYY-MM-DD')`;
    case "month":
      return `substr(${column}, 1, 7)`;
  }
}

export async function executionStats(sql: Sql, query: StatsQuery): Promise<Stats> {
  const split = statsSplit(query);
  const raw: RawStatsRow[] = [];
  // The expressions come from the fixed tables above, never from user text.
  if (split.days) {
    const where: string[] = [];
    const values: unknown[] = [];
    const add = (value: unknown) => (values.push(value), `$${values.length}`);
    if (query.tool !== undefined) where.push(`tool = ${add(query.tool)}`);
    if (split.days.from !== undefined) where.push(`day >= ${add(split.days.from)}`);
    if (split.days.to !== undefined) where.push(`day <= ${add(split.days.to)}`);
    raw.push(
      ...(await sql.query<RawStatsRow>(
        `SELECT ${bucket(query.period, "day")} AS bucket, ${STATS_GROUP_COLUMNS[query.by]} AS grp, sum(count) AS count,
           coalesce(sum(count) FILTER (WHERE status = 'succeeded'), 0) AS succeeded, coalesce(sum(count) FILTER (WHERE status = 'failed'), 0) AS failed,
           coalesce(sum(count) FILTER (WHERE status = 'unknown'), 0) AS unknown, coalesce(sum(count) FILTER (WHERE status = 'dry_run'), 0) AS dry_runs,
           coalesce(sum(cost_micro_usd) FILTER (WHERE status IN ('succeeded', 'unknown')), 0) / 1000000.0 AS spend
         FROM execution_counts WHERE count > 0 ${where.length ? `AND ${where.join(" AND ")}` : ""}
         GROUP BY 1, 2`,
        values,
      )),
    );
  }
  for (const edge of split.edges) {
    const where: string[] = [];
    const values: unknown[] = [];
    const add = (value: unknown) => (values.push(value), `$${values.length}`);
    // An open end is no bound at all: comparing with a sentinel would depend on the database's collation.
    if (edge.from !== OPEN_START) where.push(`created_at >= ${add(edge.from)}`);
    if (edge.to !== OPEN_END) where.push(`created_at <= ${add(edge.to)}`);
    if (query.tool !== undefined) where.push(`tool = ${add(query.tool)}`);
    raw.push(
      ...(await sql.query<RawStatsRow>(
        `SELECT ${bucket(query.period, "created_at")} AS bucket, ${STATS_GROUP_COLUMNS[query.by]} AS grp, count(*) AS count,
           count(*) FILTER (WHERE status = 'succeeded') AS succeeded, count(*) FILTER (WHERE status = 'failed') AS failed,
           count(*) FILTER (WHERE status = 'unknown') AS unknown, count(*) FILTER (WHERE status = 'dry_run') AS dry_runs,
           coalesce(sum(cost_usd) FILTER (WHERE status IN ('succeeded', 'unknown')), 0) AS spend
         FROM executions ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
         GROUP BY 1, 2`,
        values,
      )),
    );
  }
  return mergeStats(query, raw);
}
