/**
 * Plan runs in the team database: one row per `toolctl apply` with the saved plan it applies, one row per step.
 * Each run records the machine its process runs on (`host`) beside the pid: only that machine can tell that the
 * process is gone and the run was interrupted (plan/orphaned.ts).
 */
import type { PlanRunStore } from "../port.js";
import { currentProcess } from "../../util/process.js";
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
} from "../shared/plan-runs.js";
import { appendAudit } from "./audit-append.js";
import { nowIso, type PgRegistry, type Tx } from "./db.js";
import type { ExecutionError, PlanRunStatus } from "../../domain/records.js";

/** The exact match alone when there is one, else up to five runs the prefix begins, so the caller can say it is ambiguous. */
async function runsByIdPrefix(registry: PgRegistry, idOrPrefix: string): Promise<PlanRunRow[]> {
  const rows = await registry.query<PlanRunRow>("SELECT * FROM plan_runs WHERE id = $1 OR id LIKE $2 ORDER BY id LIMIT 5", [
    idOrPrefix,
    `${idOrPrefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`,
  ]);
  const exact = rows.find((row) => row.id === idOrPrefix);
  return exact ? [exact] : rows;
}

export function pgPlanRuns(registry: PgRegistry): PlanRunStore {
  return {
    create: (run) =>
      registry.write(async (tx) => {
        // Writes are serialized (the registry's advisory lock): no other run of the plan can appear meanwhile.
        const earlier = await tx.one<{ id: string; status: PlanRunStatus }>("SELECT id, status FROM plan_runs WHERE plan_id = $1", [run.planId]);
        if (earlier) return earlier;
        const now = nowIso();
        const holder = currentProcess();
        await tx.run(
          `INSERT INTO plan_runs (id, plan_id, name, status, plan, actor, pid, pid_start, host, created_at, updated_at)
           VALUES ($1, $2, $3, 'running', $4, $5, $6, $7, $8, $9, $9)`,
          [run.id, run.planId, run.name, JSON.stringify(run.plan), run.actor, holder.pid, holder.start, registry.host, now],
        );
        await tx.run(
          "INSERT INTO plan_steps (run_id, step, position, status) SELECT $1, step, position - 1, 'pending' FROM unnest($2::text[]) WITH ORDINALITY AS s(step, position)",
          [run.id, run.steps],
        );
        await appendAudit(registry, tx, startedEvent(run));
        return undefined;
      }),
    ofPlan: (planId) => registry.one("SELECT id, status FROM plan_runs WHERE plan_id = $1", [planId]),
    async get(idOrPrefix) {
      const row = onlyPlanRun(await runsByIdPrefix(registry, idOrPrefix), idOrPrefix);
      const steps = await registry.query<PlanStepRow>("SELECT * FROM plan_steps WHERE run_id = $1 ORDER BY position", [row.id]);
      return planRunOf(row, steps);
    },
    list: async (query) => {
      const total = (await registry.one<{ n: number }>("SELECT count(*)::int AS n FROM plan_runs"))?.n ?? 0;
      const rows = await registry.query<PlanRunRow>("SELECT * FROM plan_runs ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2", [
        query.limit,
        query.offset ?? 0,
      ]);
      return { total, items: rows.map(planRunSummary) };
    },
    // One statement on one row, audited by nobody: no need to queue behind the registry's write lock.
    updateStep: async (runId, step, update) => {
      await registry.run(
        `UPDATE plan_steps SET status = coalesce($3, status), execution_id = coalesce($4, execution_id),
           rollback_execution_id = coalesce($5, rollback_execution_id), note = coalesce($6, note),
           finished_at = CASE WHEN $7 AND finished_at IS NULL THEN $8 ELSE finished_at END
         WHERE run_id = $1 AND step = $2`,
        [
          runId,
          step,
          update.status ?? null,
          update.executionId ?? null,
          update.rollbackExecutionId ?? null,
          update.note ?? null,
          isStepFinished(update),
          nowIso(),
        ],
      );
    },
    setStatus: (runId, status, actor, error) => registry.write((tx) => writeStatus(registry, tx, runId, status, actor, error)),
    claim: (runId, actor) =>
      registry.write(async (tx) => {
        const row = await tx.one<{ status: string; pid: number | null; pid_start: string | null; host: string | null }>(
          "SELECT status, pid, pid_start, host FROM plan_runs WHERE id = $1",
          [runId],
        );
        if (!row) throw new Error(`plan run ${runId} vanished`);
        if (heldByLiveProcess(row, registry.host)) return { ok: false as const, pid: row.pid, host: row.host };
        await writeStatus(registry, tx, runId, "running", actor);
        return { ok: true as const };
      }),
  };
}

/** The status (a run made `running` is this process's, on this machine), with its audit event, in `tx`. */
async function writeStatus(registry: PgRegistry, tx: Tx, runId: string, status: PlanRunStatus, actor: string, error?: ExecutionError): Promise<void> {
  // A resumed run belongs to the process (and machine) resuming it.
  const holder = status === "running" ? currentProcess() : undefined;
  const columns = planRunErrorColumns(error);
  await tx.run(
    `UPDATE plan_runs SET status = $2, error = $3, error_code = $9, error_exit_code = $10, error_category = $11, error_problems = $12, updated_at = $4,
             pid = CASE WHEN $5 THEN $6 ELSE pid END, pid_start = CASE WHEN $5 THEN $7 ELSE pid_start END, host = CASE WHEN $5 THEN $8 ELSE host END
           WHERE id = $1`,
    [
      runId,
      status,
      columns.error,
      nowIso(),
      holder !== undefined,
      holder?.pid ?? null,
      holder?.start ?? null,
      registry.host,
      columns.code,
      columns.exitCode,
      columns.category,
      columns.problems,
    ],
  );
  await appendAudit(registry, tx, statusEvent(runId, status, actor, error));
}
