/**
 * Runs whose toolctl process is gone, as sqlite/abandoned.ts settles them, with one difference a team makes:
 * only this machine can tell whether its own processes still run, so only runs written by this host are judged.
 * Another machine's running rows are left alone, however old.
 *
 * Rows without a host are the exception: every run written here records its host, so a row without one was copied
 * from a SQLite home by `db migrate-to` while it was `running`. Its process, if it still ran, would record the
 * outcome in that home's registry.db, never here: nothing will ever finish the row in this database, so any
 * machine settles it, at once.
 */
import { ExitCode } from "../../errors.js";
import { isRunning } from "../../util/process.js";
import { abandonedEvent, abandonedReason, type RunningRow } from "../shared/execution-rows.js";
import { appendAudit } from "./audit-append.js";
import type { PgRegistry } from "./db.js";
import { signExecution } from "./executions.js";

/** Why a run copied while `running` by db migrate-to is settled as unknown. */
export function copiedRunningReason(pid: number): string {
  return `toolctl process ${pid} never recorded the outcome here: the run was copied while running by db migrate-to, and its outcome stays in the home it ran from; the action may have happened: check before retrying`;
}

/** Settles every running execution of this host whose process is gone, and every one copied without a host; returns their ids. Nothing is written when there are none. */
export async function settleAbandonedRuns(registry: PgRegistry, actor: string): Promise<string[]> {
  const running = await registry.query<RunningRow & { host: string | null }>(
    "SELECT id, tool, action, pid, pid_start, host FROM executions WHERE status = 'running' AND (host = $1 OR host IS NULL)",
    [registry.host],
  );
  // A run with no recorded process (an old row without a reservation) cannot be judged: it is left as it is, as in a home.
  const gone = running.filter((row) => row.pid !== null && (row.host === null || !isRunning(row.pid, row.pid_start)));
  if (gone.length === 0) return [];
  return registry.write(async (tx) => {
    const settled: string[] = [];
    for (const row of gone) {
      const error = row.host === null ? copiedRunningReason(row.pid!) : abandonedReason(row.pid!);
      // finished_at stays empty: nobody saw the run end, or knows whether it did.
      const changed = await tx.run(
        "UPDATE executions SET status = 'unknown', error = $1, error_category = 'other', error_code = 'unknown_outcome', error_exit_code = $5 WHERE id = $2 AND status = 'running' AND pid = $3 AND host IS NOT DISTINCT FROM $4",
        [error, row.id, row.pid, row.host, ExitCode.unknownOutcome],
      );
      if (changed === 0) continue;
      await signExecution(registry, tx, row.id);
      settled.push(row.id);
      await appendAudit(registry, tx, abandonedEvent({ ...row, pid: row.pid! }, actor, error));
    }
    return settled;
  });
}
