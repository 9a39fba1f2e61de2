/**
 * Executions: one row per run attempt, from `requested` to its final status. Everything stored here is
 * redacted by the engine before it arrives.
 */
import type { AuditKey } from "../../secrets/audit-key.js";
import { executionError } from "../../errors.js";
import { executionMac } from "../shared/signing.js";
import { currentProcess } from "../../util/process.js";
import { rowsByIdPrefix, statement, type Registry } from "./db.js";
import { countExecutions } from "./execution-counts.js";
import type { ExecutionStatus, ErrorCategory, Execution } from "../../domain/records.js";
import type { NewExecution, ExecutionUpdate, ExecutionQuery } from "../../domain/records.js";
export type { NewExecution, ExecutionUpdate, ExecutionQuery };
export type { ExecutionStatus, ErrorCategory, Execution };

interface ExecutionRow {
  id: string;
  tool: string;
  action: string;
  actor: string;
  status: ExecutionStatus;
  input: string | null;
  output: string | null;
  plan: string | null;
  error: string | null;
  error_category: ErrorCategory | null;
  error_code?: string | null;
  error_exit_code?: number | null;
  error_problems?: string | null;
  cost_usd: number | null;
  risk: string | null;
  tool_digest: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  resources: string | null;
  rollback_of: string | null;
  plan_run_id: string | null;
  origin?: string | null;
  mac?: string | null;
}

const parse = (text: string | null): unknown => (text === null ? null : JSON.parse(text));

function toExecution(row: ExecutionRow): Execution {
  return {
    id: row.id,
    tool: row.tool,
    action: row.action,
    actor: row.actor,
    status: row.status,
    input: parse(row.input),
    output: parse(row.output),
    // The column keeps its first name: renaming it would change every signed row.
    request: parse(row.plan),
    // Rows written before codes were kept derive theirs from the status.
    error:
      row.error === null
        ? null
        : executionError({
            status: row.status,
            message: row.error,
            category: row.error_category,
            code: row.error_code,
            exitCode: row.error_exit_code,
            problems: parse(row.error_problems ?? null) as string[] | null,
          }),
    costUsd: row.cost_usd,
    risk: row.risk,
    toolDigest: row.tool_digest,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    durationMs: row.duration_ms,
    resources: parse(row.resources ?? null),
    rollbackOf: row.rollback_of ?? null,
    planRunId: row.plan_run_id ?? null,
    origin: parse(row.origin ?? null) as Execution["origin"],
  };
}

export { newExecutionId, newId } from "../../util/ids.js";

/**
 * The row names the process writing it (pid and start time): a reader can then tell when a running one was killed.
 * `sign: false` when an `updateExecution` of the same row follows in the same transaction: it signs the row then.
 */
export function insertExecution(registry: Registry, execution: NewExecution, { sign = true } = {}): void {
  const writer = currentProcess();
  statement(
    registry,
    `INSERT INTO executions (id, tool, action, actor, status, input, tool_digest, created_at, rollback_of, plan_run_id, pid, pid_start, origin)
     VALUES (@id, @tool, @action, @actor, @status, @input, @toolDigest, @createdAt, @rollbackOf, @planRunId, @pid, @pidStart, @origin)`,
  ).run({
    ...execution,
    input: JSON.stringify(execution.input ?? null),
    toolDigest: execution.toolDigest ?? null,
    rollbackOf: execution.rollbackOf ?? null,
    planRunId: execution.planRunId ?? null,
    origin: execution.origin ? JSON.stringify(execution.origin) : null,
    pid: writer.pid,
    pidStart: writer.start,
  });
  if (sign) signExecution(registry, execution.id);
}

const COLUMN: Record<keyof ExecutionUpdate, string> = {
  status: "status",
  output: "output",
  request: "plan",
  error: "error",
  errorCategory: "error_category",
  errorCode: "error_code",
  errorExitCode: "error_exit_code",
  errorProblems: "error_problems",
  costUsd: "cost_usd",
  risk: "risk",
  startedAt: "started_at",
  finishedAt: "finished_at",
  durationMs: "duration_ms",
  resources: "resources",
};
const JSON_FIELDS = new Set<keyof ExecutionUpdate>(["output", "request", "resources"]);

/** A column's value: JSON for structured fields; no problems is NULL, as on rows written before they were kept. */
function columnValue(key: keyof ExecutionUpdate, value: unknown): unknown {
  if (key === "errorProblems") return Array.isArray(value) && value.length > 0 ? JSON.stringify(value) : null;
  return JSON_FIELDS.has(key) ? JSON.stringify(value) : value;
}

export function updateExecution(registry: Registry, id: string, update: ExecutionUpdate): void {
  const sets: string[] = [];
  const params: Record<string, unknown> = { id };
  for (const [key, value] of Object.entries(update) as Array<[keyof ExecutionUpdate, unknown]>) {
    if (value === undefined) continue;
    sets.push(`${COLUMN[key]} = @${key}`);
    params[key] = columnValue(key, value);
  }
  if (sets.length) statement(registry, `UPDATE executions SET ${sets.join(", ")} WHERE id = @id`).run(params);
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
    const mac = row.mac as string | null;
    if (mac === null) {
      if (key) problems.push(`execution ${String(row.id)} is not signed: it was inserted or rewritten outside toolctl`);
    } else if (!key) {
      problems.push(`execution ${String(row.id)} is signed, but this home has no audit key to check it with`);
    } else if (mac !== executionMac(key, row)) {
      problems.push(`execution ${String(row.id)} was modified: its content does not match its signature`);
    }
    if (problems.length >= max) break;
  }
  return { checked, problems };
}

/** Looks an execution up by its id or by an unambiguous prefix of it. */
export function findExecution(registry: Registry, idOrPrefix: string): Execution | Execution[] | undefined {
  const rows = rowsByIdPrefix<ExecutionRow>(registry, "executions", idOrPrefix);
  if (rows.length === 1) return toExecution(rows[0]!);
  return rows.length === 0 ? undefined : rows.map(toExecution);
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
