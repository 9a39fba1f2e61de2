import type { PlanRun } from "../domain/records.js";
import { isRunning } from "../util/process.js";

/** A plan run left `running` by a toolctl process that is gone (killed, crashed). */
export function isOrphaned(run: Pick<PlanRun, "status" | "pid" | "pidStart">): boolean {
  if (run.status !== "running" || run.pid === null) return false;
  return !isRunning(run.pid, run.pidStart);
}
