/**
 * Plan runs as both backends keep them: the row shapes, their conversion, the lookup refusals and the audit events.
 */
import { executionError, NotFoundError, UsageError } from "../../errors.js";
import type { AuditEventInput, ErrorCategory, ExecutionError, PlanRun, PlanRunStatus, PlanRunStep, PlanStepStatus } from "../../domain/records.js";
import { runsSomewhere } from "../../util/process.js";

export interface PlanRunRow {
  id: string;
  plan_id: string;
  name: string;
  status: PlanRunStatus;
  plan: string;
  actor: string;
  pid: number | null;
  pid_start: string | null;
  host: string | null;
  /** The error's message; its code, exit code, category and problems (a JSON array) beside it, NULL on older rows. */
  error: string | null;
  error_code?: string | null;
  error_exit_code?: number | null;
  error_category?: string | null;
  error_problems?: string | null;
  created_at: string;
  updated_at: string;
}

export interface PlanStepRow {
  step: string;
  position: number;
  status: PlanStepStatus;
  execution_id: string | null;
  rollback_execution_id: string | null;
  note: string | null;
  finished_at: string | null;
}

export type PlanStepUpdate = Partial<Pick<PlanRunStep, "status" | "executionId" | "rollbackExecutionId" | "note">>;

/** The error columns of a plan run, as written. */
export function planRunErrorColumns(error: ExecutionError | undefined): {
  error: string | null;
  code: string | null;
  exitCode: number | null;
  category: string | null;
  problems: string | null;
} {
  if (!error) return { error: null, code: null, exitCode: null, category: null, problems: null };
  return {
    error: error.message,
    code: error.code,
    exitCode: error.exitCode,
    category: error.category,
    problems: error.problems?.length ? JSON.stringify(error.problems) : null,
  };
}

/**
 * A run's error object. Rows written before its code was kept hold only the message: the code is then derived
 * from the status (`interrupted`, else `action_failed`), the exit code and category from the code.
 */
function planRunError(row: PlanRunRow): ExecutionError | null {
  if (row.error === null) return null;
  return executionError<ErrorCategory>({
    status: row.status,
    message: row.error,
    code: row.error_code ?? (row.status === "interrupted" ? "interrupted" : null),
    exitCode: row.error_exit_code ?? null,
    category: (row.error_category as ErrorCategory | null | undefined) ?? null,
    problems: row.error_problems ? (JSON.parse(row.error_problems) as string[]) : null,
  });
}

export function planRunSummary(row: PlanRunRow): Omit<PlanRun, "plan" | "steps"> {
  return {
    id: row.id,
    planId: row.plan_id,
    name: row.name,
    status: row.status,
    actor: row.actor,
    pid: row.pid,
    pidStart: row.pid_start ?? null,
    host: row.host ?? null,
    error: planRunError(row),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** A step row as a plan run's step: its action from the saved plan. */
export const planRunStep = (s: PlanStepRow, plan: unknown): PlanRunStep => ({
  id: s.step,
  action: (plan as { steps?: Array<{ id: string; action: string }> } | null)?.steps?.find((step) => step.id === s.step)?.action ?? "",
  position: s.position,
  status: s.status,
  executionId: s.execution_id,
  rollbackExecutionId: s.rollback_execution_id,
  note: s.note,
  finishedAt: s.finished_at,
});

/** A whole plan run from its row and its step rows, in order. */
export function planRunOf(row: PlanRunRow, steps: PlanStepRow[]): PlanRun {
  const plan: unknown = JSON.parse(row.plan);
  return { ...planRunSummary(row), plan, steps: steps.map((step) => planRunStep(step, plan)) };
}

/** The one run `rows` (found by id or prefix) names; a one-line error when none or several do. */
export function onlyPlanRun(rows: PlanRunRow[], idOrPrefix: string): PlanRunRow {
  if (rows.length === 0) throw new NotFoundError(`no plan run '${idOrPrefix}'; see: toolctl plan-runs list`);
  if (rows.length > 1) throw new UsageError(`'${idOrPrefix}' matches several plan runs (${rows.map((r) => r.id).join(", ")}); give more of the id`);
  return rows[0]!;
}

/** A step that reached an end (not pending, not running) gets its finish time, once. */
export const isStepFinished = (update: PlanStepUpdate): boolean => update.status !== undefined && !["pending", "running"].includes(update.status);

export const startedEvent = (run: { id: string; planId: string; name: string; actor: string; steps: string[] }): AuditEventInput => ({
  type: "plan.started",
  actor: run.actor,
  status: "running",
  data: { planRun: run.id, plan: run.planId, name: run.name, steps: run.steps },
});

export const statusEvent = (runId: string, status: PlanRunStatus, actor: string, error?: ExecutionError): AuditEventInput => ({
  type: `plan.${status}`,
  actor,
  status,
  data: { planRun: runId, ...(error ? { error: error.message } : {}) },
});

/**
 * Whether a live process holds a run: it is `running` under a process that still runs, this one included (a run
 * of the same process is being run by another of its calls). A process on another machine is taken to run: only
 * that machine can tell.
 */
export function heldByLiveProcess(row: { status: string; pid: number | null; pid_start: string | null; host?: string | null }, host: string | null): boolean {
  return row.status === "running" && row.pid !== null && runsSomewhere(row.pid, row.pid_start, row.host, host);
}
