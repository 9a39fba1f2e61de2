/**
 * Reading the running counts of executions (table `execution_counts`, kept by triggers, one row per UTC day,
 * tool, action, status and actor). A time range is split into whole days, read from the counts, and at most two
 * partial days at its edges, read from `executions` through its time index: however long the history, a count
 * touches a few thousand rows at most.
 */
import type { Registry } from "./db.js";
import { splitByDay, type DaySplit } from "../shared/stats.js";
import type { CountFilter } from "../../domain/records.js";
export type { CountFilter };

export { splitByDay, type DaySplit };

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
