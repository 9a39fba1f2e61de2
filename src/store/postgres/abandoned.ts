/**
 * Runs whose toolctl process is gone, as sqlite/abandoned.ts settles them, with one difference a team makes:
 * only this machine can tell whether its own processes still run, so only runs written by this host are judged.
 * Another machine's running rows are left alone, however old.
 */
import { ExitCode } from "../../errors.js";
import { isRunning } from "../../util/process.js";
import { abandonedEvent, abandonedReason, type RunningRow } from "../shared/execution-rows.js";
import { appendAudit } from "./audit-append.js";
import type { PgRegistry } from "./db.js";
import { signExecution } from "./executions.js";

/** Settles every running execution of this host whose process is gone; returns their ids. Nothing is written when there are none. */
export async function settleAbandonedRuns(registry: PgRegistry, actor: string): Promise<string[]> {
  const running = await registry.query<RunningRow>("SELECT id, tool, action, pid, pid_start FROM executions WHERE status = 'running' AND host = $1", [
    registry.host,
  ]);
  const gone = running.filter((row) => row.pid !== null && !isRunning(row.pid, row.pid_start));
  if (gone.length === 0) return [];
  return registry.write(async (tx) => {
    const settled: string[] = [];
    for (const row of gone) {
      const error = abandonedReason(row.pid!);
      // finished_at stays empty: nobody saw the run end, or knows whether it did.
      const changed = await tx.run(
        "UPDATE executions SET status = 'unknown', error = $1, error_category = 'other', error_code = 'unknown_outcome', error_exit_code = $5 WHERE id = $2 AND status = 'running' AND pid = $3 AND host = $4",
        [error, row.id, row.pid, registry.host, ExitCode.unknownOutcome],
      );
      if (changed === 0) continue;
      await signExecution(registry, tx, row.id);
      settled.push(row.id);
      await appendAudit(registry, tx, abandonedEvent({ ...row, pid: row.pid! }, actor, error));
    }
    return settled;
  });
}
