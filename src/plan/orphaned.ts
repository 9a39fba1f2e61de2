import os from "node:os";
import type { PlanRun } from "../domain/records.js";
import { UsageError } from "../errors.js";
import { runsSomewhere } from "../util/process.js";

/**
 * A plan run left `running` by a toolctl process that is gone (killed, crashed). A run started on another machine
 * sharing the database is never taken for orphaned here: only that machine can see whether its process is gone.
 */
export function isOrphaned(run: Pick<PlanRun, "status" | "pid" | "pidStart" | "host">, host: string = os.hostname()): boolean {
  return run.status === "running" && run.pid !== null && !runsSomewhere(run.pid, run.pidStart, run.host, host);
}

/** What a command that must take a run says when a live process holds it. */
export function stillRunning(runId: string, pid: number | null, host: string | null | undefined): UsageError {
  return new UsageError(`plan run ${runId} is still running (process ${pid}${host ? ` on ${host}` : ""}); wait for it, or stop it first`);
}
