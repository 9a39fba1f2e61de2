/**
 * Runs whose toolctl process is gone. A process killed (or crashed) while its action ran never records an
 * outcome, so its execution would stay `running` for ever. Readers of the history settle such runs as
 * `unknown`: the action may have happened. The process is identified by pid and start time (see
 * util/process.ts), so a pid reused by another process does not keep a dead run alive.
 *
 * Settling is a write: one transaction for all the runs found, each with its audit event. The update only
 * applies to a row still `running`, so concurrent readers settle each run once. The run's spend reservation is
 * left reserved, as for any unknown outcome: the money may have been spent.
 */
import { ExitCode } from "../../errors.js";
import { isRunning } from "../../util/process.js";
import { appendAudit } from "./audit.js";
import { writeTransaction, type Registry } from "./db.js";
import { signExecution } from "./executions.js";
import { abandonedEvent, abandonedReason, type RunningRow } from "../shared/execution-rows.js";
export { abandonedReason };

/** Settles every running execution whose process is gone; returns their ids. Nothing is written when there are none. */
export function settleAbandonedRuns(registry: Registry, actor: string): string[] {
  const running = registry.db.prepare("SELECT id, tool, action, pid, pid_start FROM executions WHERE status = 'running'").all() as RunningRow[];
  // A run with no recorded process (an old row without a reservation) cannot be judged: it is left as it is.
  const gone = running.filter((row) => row.pid !== null && !isRunning(row.pid, row.pid_start));
  if (gone.length === 0) return [];
  return writeTransaction(registry, () => {
    const settled: string[] = [];
    // finished_at stays empty: nobody saw the run end, or knows whether it did.
    const update = registry.db.prepare(
      "UPDATE executions SET status = 'unknown', error = @error, error_category = 'other', error_code = 'unknown_outcome', error_exit_code = @exitCode WHERE id = @id AND status = 'running' AND pid = @pid",
    );
    for (const row of gone) {
      const error = abandonedReason(row.pid!);
      if (update.run({ id: row.id, pid: row.pid, error, exitCode: ExitCode.unknownOutcome }).changes === 0) continue;
      signExecution(registry, row.id);
      settled.push(row.id);
      appendAudit(registry, abandonedEvent({ ...row, pid: row.pid! }, actor, error));
    }
    return settled;
  });
}
