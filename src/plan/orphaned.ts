import os from "node:os";
import type { PlanRun } from "../domain/records.js";
import { isRunning } from "../util/process.js";

/**
 * A plan run left `running` by a toolctl process that is gone (killed, crashed). A run started on another machine
 * sharing the database is never taken for orphaned here: only that machine can see whether its process is gone.
 */
export function isOrphaned(run: Pick<PlanRun, "status" | "pid" | "pidStart" | "host">, host: string = os.hostname()): boolean {
  if (run.status !== "running" || run.pid === null) return false;
  if (run.host && run.host !== host) return false;
  return !isRunning(run.pid, run.pidStart);
}
