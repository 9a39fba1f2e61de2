/**
 * Plan runs: one row per `toolctl apply`, holding the saved plan it applies, and one row per step with the
 * execution that carried it out and what became of it. A step's execution id is written before that execution
 * starts, so after a crash every step can be reconciled with the history.
 */
import { appendAudit } from "./audit.js";
import { currentProcess } from "../../util/process.js";
import { nowIso, rowsByIdPrefix, writeTransaction, type Registry } from "./db.js";
import type { ExecutionError, PlanRunStatus, PlanStepStatus, PlanRunStep, PlanRun, PlanRunQuery } from "../../domain/records.js";
import {
  heldByLiveProcess,
  isStepFinished,
  onlyPlanRun,
  planRunErrorColumns,
  planRunOf,
  planRunSummary,
  startedEvent,
  statusEvent,
  type PlanRunRow,
  type PlanStepRow,
  type PlanStepUpdate,
} from "../shared/plan-runs.js";
export type { PlanRunStatus, PlanStepStatus, PlanRunStep, PlanRun };

/** The run that applied this saved plan, if one did. */
export function runOfPlan(registry: Registry, planId: string): { id: string; status: PlanRunStatus } | undefined {
  return registry.db.prepare("SELECT id, status FROM plan_runs WHERE plan_id = ?").get(planId) as { id: string; status: PlanRunStatus } | undefined;
}

/** See PlanRunStore.create. */
export function createPlanRun(
  registry: Registry,
  run: { id: string; planId: string; name: string; plan: unknown; actor: string; steps: string[] },
): { id: string; status: PlanRunStatus } | undefined {
  return writeTransaction(registry, () => {
    const earlier = runOfPlan(registry, run.planId);
    if (earlier) return earlier;
    const now = nowIso();
    registry.db
      .prepare(
        "INSERT INTO plan_runs (id, plan_id, name, status, plan, actor, pid, pid_start, created_at, updated_at) VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)",
      )
      .run(run.id, run.planId, run.name, JSON.stringify(run.plan), run.actor, currentProcess().pid, currentProcess().start, now, now);
    const insert = registry.db.prepare("INSERT INTO plan_steps (run_id, step, position, status) VALUES (?, ?, ?, 'pending')");
    run.steps.forEach((step, position) => insert.run(run.id, step, position));
    appendAudit(registry, startedEvent(run));
    return undefined;
  });
}

export function updatePlanStep(registry: Registry, runId: string, step: string, update: PlanStepUpdate): void {
  const finished = isStepFinished(update);
  writeTransaction(registry, () => {
    registry.db
      .prepare(
        `UPDATE plan_steps SET status = coalesce(@status, status), execution_id = coalesce(@executionId, execution_id),
           rollback_execution_id = coalesce(@rollbackExecutionId, rollback_execution_id), note = coalesce(@note, note),
           finished_at = CASE WHEN @finished = 1 AND finished_at IS NULL THEN @now ELSE finished_at END
         WHERE run_id = @runId AND step = @step`,
      )
      .run({
        runId,
        step,
        status: update.status ?? null,
        executionId: update.executionId ?? null,
        rollbackExecutionId: update.rollbackExecutionId ?? null,
        note: update.note ?? null,
        finished: finished ? 1 : 0,
        now: nowIso(),
      });
  });
}

export function setPlanRunStatus(registry: Registry, runId: string, status: PlanRunStatus, actor: string, error?: ExecutionError): void {
  writeTransaction(registry, () => writeStatus(registry, runId, status, actor, error));
}

/** The status (a run made `running` is this process's), with its audit event, inside the caller's transaction. */
function writeStatus(registry: Registry, runId: string, status: PlanRunStatus, actor: string, error?: ExecutionError): void {
  const running = status === "running" ? 1 : 0;
  const columns = planRunErrorColumns(error);
  registry.db
    .prepare(
      `UPDATE plan_runs SET status = ?, error = ?, error_code = ?, error_exit_code = ?, error_category = ?, error_problems = ?, updated_at = ?,
           pid = CASE WHEN ? THEN ? ELSE pid END, pid_start = CASE WHEN ? THEN ? ELSE pid_start END WHERE id = ?`,
    )
    .run(
      status,
      columns.error,
      columns.code,
      columns.exitCode,
      columns.category,
      columns.problems,
      nowIso(),
      running,
      currentProcess().pid,
      running,
      currentProcess().start,
      runId,
    );
  appendAudit(registry, statusEvent(runId, status, actor, error));
}

/** The plan run with this id, or the only one it is a prefix of; a one-line error otherwise. */
export function requirePlanRun(registry: Registry, idOrPrefix: string): PlanRun {
  const row = onlyPlanRun(rowsByIdPrefix<PlanRunRow>(registry, "plan_runs", idOrPrefix), idOrPrefix);
  return planRunOf(row, registry.db.prepare("SELECT * FROM plan_steps WHERE run_id = ? ORDER BY position").all(row.id) as PlanStepRow[]);
}

/** The newest plan runs, `limit` of them after skipping the newest `offset`, with how many there are in all. */
export function listPlanRuns(registry: Registry, query: PlanRunQuery): { total: number; items: Array<Omit<PlanRun, "plan" | "steps">> } {
  const total = registry.db.prepare("SELECT count(*) FROM plan_runs").pluck().get() as number;
  const rows = registry.db
    .prepare("SELECT * FROM plan_runs ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?")
    .all(query.limit, query.offset ?? 0) as PlanRunRow[];
  return { total, items: rows.map(planRunSummary) };
}

/** See PlanRunStore.claim. */
export function claimPlanRun(registry: Registry, runId: string, actor: string): { ok: true } | { ok: false; pid: number | null; host: string | null } {
  return writeTransaction(registry, () => {
    const row = registry.db.prepare("SELECT status, pid, pid_start FROM plan_runs WHERE id = ?").get(runId) as
      { status: string; pid: number | null; pid_start: string | null } | undefined;
    if (!row) throw new Error(`plan run ${runId} vanished`);
    if (heldByLiveProcess(row, null)) return { ok: false as const, pid: row.pid, host: null };
    writeStatus(registry, runId, "running", actor);
    return { ok: true as const };
  });
}
