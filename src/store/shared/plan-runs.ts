/**
 * Plan runs as both backends keep them: the row shapes, their conversion, the lookup refusals and the audit events.
 */
import { NotFoundError, UsageError } from "../../errors.js";
import type { AuditEventInput, PlanRun, PlanRunStatus, PlanRunStep, PlanStepStatus } from "../../domain/records.js";

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
  error: string | null;
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
    error: row.error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export const planRunStep = (s: PlanStepRow): PlanRunStep => ({
  step: s.step,
  position: s.position,
  status: s.status,
  executionId: s.execution_id,
  rollbackExecutionId: s.rollback_execution_id,
  note: s.note,
  finishedAt: s.finished_at,
});

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

export const statusEvent = (runId: string, status: PlanRunStatus, actor: string, error?: string): AuditEventInput => ({
  type: `plan.${status}`,
  actor,
  status,
  data: { planRun: runId, ...(error ? { error } : {}) },
});
