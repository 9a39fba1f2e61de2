/**
 * Executions: one row per run attempt, from `requested` to its final status. Everything stored here is
 * redacted by the engine before it arrives.
 */
import type { AuditKey } from "../../secrets/audit-key.js";
import { executionMac } from "../shared/signing.js";
import { currentProcess } from "../../util/process.js";
import { rowsByIdPrefix, statement, type Registry } from "./db.js";
import { oneOrMany } from "../shared/id-prefix.js";
import { newExecutionColumns, signatureProblem, toExecution, updatedColumns, type ExecutionRow } from "../shared/execution-rows.js";
import { countExecutions } from "./execution-counts.js";
import type { ExecutionStatus, ErrorCategory, Execution } from "../../domain/records.js";
import type { NewExecution, ExecutionUpdate, ExecutionQuery } from "../../domain/records.js";
export type { NewExecution, ExecutionUpdate, ExecutionQuery };
export type { ExecutionStatus, ErrorCategory, Execution };

export { newExecutionId, newId } from "../../util/ids.js";

/**
 * The row names the process writing it (pid and start time): a reader can then tell when a running one was killed.
 * `sign: false` when an `updateExecution` of the same row follows in the same transaction: it signs the row then.
 */
export function insertExecution(registry: Registry, execution: NewExecution, { sign = true } = {}): void {
  statement(
    registry,
    `INSERT INTO executions (id, tool, action, actor, status, input, tool_digest, created_at, rollback_of, plan_run_id, pid, pid_start, origin)
     VALUES (@id, @tool, @action, @actor, @status, @input, @tool_digest, @created_at, @rollback_of, @plan_run_id, @pid, @pid_start, @origin)`,
  ).run(newExecutionColumns(execution, currentProcess()));
  if (sign) signExecution(registry, execution.id);
}

export function updateExecution(registry: Registry, id: string, update: ExecutionUpdate): void {
  const columns = updatedColumns(update);
  const params: Record<string, unknown> = Object.fromEntries([["id", id], ...columns]);
  if (columns.length) statement(registry, `UPDATE executions SET ${columns.map(([column]) => `${column} = @${column}`).join(", ")} WHERE id = @id`).run(params);
  signExecution(registry, id);
}

// ----------------------------------------------------------------------------------------------- signatures

/** Re-signs one row after any write to it. Must run inside the writing transaction. */
export function signExecution(registry: Registry, id: string): void {
  const row = statement(registry, "SELECT * FROM executions WHERE id = ?").get(id) as Record<string, unknown> | undefined;
  if (row) statement(registry, "UPDATE executions SET mac = ? WHERE id = ?").run(executionMac(registry.auditKey(), row), id);
}

/** Signs the rows written before executions were signed; run once, with the first signed audit event. */
export function signUnsignedExecutions(registry: Registry): void {
  const ids = registry.db.prepare("SELECT id FROM executions WHERE mac IS NULL").pluck().all() as string[];
  for (const id of ids) signExecution(registry, id);
}

export function verifyExecutionSignatures(registry: Registry, key: AuditKey | null, max: number): { checked: number; problems: string[] } {
  const problems: string[] = [];
  let checked = 0;
  for (const row of registry.db.prepare("SELECT * FROM executions ORDER BY created_at, id").iterate() as IterableIterator<Record<string, unknown>>) {
    checked++;
    const problem = signatureProblem(row, key);
    if (problem) problems.push(problem);
    if (problems.length >= max) break;
  }
  return { checked, problems };
}

/** Looks an execution up by its id or by an unambiguous prefix of it. */
export function findExecution(registry: Registry, idOrPrefix: string): Execution | Execution[] | undefined {
  return oneOrMany(rowsByIdPrefix<ExecutionRow>(registry, "executions", idOrPrefix), toExecution);
}

export function listExecutions(registry: Registry, query: ExecutionQuery): { total: number; items: Execution[] } {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  for (const key of ["tool", "action", "status", "actor"] as const) {
    if (query[key] !== undefined) (where.push(`${key} = @${key}`), (params[key] = query[key]));
  }
  if (query.since) (where.push("created_at >= @since"), (params.since = query.since));
  if (query.until) (where.push("created_at <= @until"), (params.until = query.until));
  const filter = where.length ? `WHERE ${where.join(" AND ")}` : "";
  // Counted from the running counts: a page of the newest runs costs the same at a million executions as at ten.
  const total = countExecutions(registry, query);
  const rows = registry.db
    .prepare(`SELECT * FROM executions ${filter} ORDER BY created_at DESC, id DESC LIMIT @limit OFFSET @offset`)
    .all({ ...params, limit: query.limit, offset: query.offset }) as ExecutionRow[];
  return { total, items: rows.map(toExecution) };
}
