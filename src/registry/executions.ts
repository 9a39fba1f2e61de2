/**
 * Executions: one row per run attempt, from `requested` to its final status. Everything stored here is
 * redacted by the engine before it arrives.
 */
import { nodeCrypto } from "../util/builtins.js";
import { currentProcess } from "../util/process.js";
import { rowsByIdPrefix, type Registry } from "./db.js";

export type ExecutionStatus =
  | "requested" | "approved" | "running" | "succeeded" | "failed" | "unknown" | "rolled_back" | "declined" | "dry_run";

export type ErrorCategory =
  | "network" | "authentication" | "authorization" | "rate_limit" | "validation" | "timeout" | "server_error" | "resource_limit"
  | "environment" | "unknown";

export interface Execution {
  id: string;
  tool: string;
  action: string;
  actor: string;
  status: ExecutionStatus;
  input: unknown;
  output: unknown;
  plan: unknown;
  error: string | null;
  errorCategory: ErrorCategory | null;
  costUsd: number | null;
  risk: string | null;
  toolDigest: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  /** Peak memory, CPU time and duration of a sandboxed run. */
  resources: unknown;
  /** For a compensation: the execution it undoes. */
  rollbackOf: string | null;
  /** For a step of an applied plan: the plan run (toolctl plan-runs show ID). */
  planRunId: string | null;
}

interface ExecutionRow {
  id: string; tool: string; action: string; actor: string; status: ExecutionStatus; input: string | null; output: string | null;
  plan: string | null; error: string | null; error_category: ErrorCategory | null; cost_usd: number | null; risk: string | null;
  tool_digest: string | null; created_at: string; started_at: string | null; finished_at: string | null; duration_ms: number | null;
  resources: string | null;
  rollback_of: string | null;
  plan_run_id: string | null;
}

const parse = (text: string | null): unknown => (text === null ? null : JSON.parse(text));

function toExecution(row: ExecutionRow): Execution {
  return {
    id: row.id, tool: row.tool, action: row.action, actor: row.actor, status: row.status, input: parse(row.input),
    output: parse(row.output), plan: parse(row.plan), error: row.error, errorCategory: row.error_category, costUsd: row.cost_usd,
    risk: row.risk, toolDigest: row.tool_digest, createdAt: row.created_at, startedAt: row.started_at,
    finishedAt: row.finished_at, durationMs: row.duration_ms, resources: parse(row.resources ?? null),
    rollbackOf: row.rollback_of ?? null, planRunId: row.plan_run_id ?? null,
  };
}

/** Time-ordered ids: a prefix, a base-36 millisecond clock, then randomness. Short enough to type, unique across processes. */
export function newId(prefix: "ex" | "pl" | "pr"): string {
  return `${prefix}_${Date.now().toString(36)}${nodeCrypto().randomBytes(5).toString("hex")}`;
}

export function newExecutionId(): string {
  return newId("ex");
}

export interface NewExecution {
  id: string;
  tool: string;
  action: string;
  actor: string;
  status: ExecutionStatus;
  input: unknown;
  createdAt: string;
  toolDigest?: string | null;
  rollbackOf?: string;
  planRunId?: string;
}

/** The row names the process writing it (pid and start time): a reader can then tell when a running one was killed. */
export function insertExecution(registry: Registry, execution: NewExecution): void {
  const writer = currentProcess();
  registry.db
    .prepare(
      `INSERT INTO executions (id, tool, action, actor, status, input, tool_digest, created_at, rollback_of, plan_run_id, pid, pid_start)
       VALUES (@id, @tool, @action, @actor, @status, @input, @toolDigest, @createdAt, @rollbackOf, @planRunId, @pid, @pidStart)`,
    )
    .run({
      ...execution, input: JSON.stringify(execution.input ?? null), toolDigest: execution.toolDigest ?? null, rollbackOf: execution.rollbackOf ?? null,
      planRunId: execution.planRunId ?? null, pid: writer.pid, pidStart: writer.start,
    });
}

export interface ExecutionUpdate {
  status?: ExecutionStatus;
  output?: unknown;
  plan?: unknown;
  error?: string | null;
  errorCategory?: ErrorCategory | null;
  costUsd?: number | null;
  risk?: string | null;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  resources?: unknown;
}

const COLUMN: Record<keyof ExecutionUpdate, string> = {
  status: "status", output: "output", plan: "plan", error: "error", errorCategory: "error_category", costUsd: "cost_usd",
  risk: "risk", startedAt: "started_at", finishedAt: "finished_at", durationMs: "duration_ms", resources: "resources",
};
const JSON_FIELDS = new Set<keyof ExecutionUpdate>(["output", "plan", "resources"]);

export function updateExecution(registry: Registry, id: string, update: ExecutionUpdate): void {
  const sets: string[] = [];
  const params: Record<string, unknown> = { id };
  for (const [key, value] of Object.entries(update) as Array<[keyof ExecutionUpdate, unknown]>) {
    if (value === undefined) continue;
    sets.push(`${COLUMN[key]} = @${key}`);
    params[key] = JSON_FIELDS.has(key) ? JSON.stringify(value) : value;
  }
  if (sets.length) registry.db.prepare(`UPDATE executions SET ${sets.join(", ")} WHERE id = @id`).run(params);
}

/** Looks an execution up by its id or by an unambiguous prefix of it. */
export function findExecution(registry: Registry, idOrPrefix: string): Execution | Execution[] | undefined {
  const rows = rowsByIdPrefix<ExecutionRow>(registry, "executions", idOrPrefix);
  if (rows.length === 1) return toExecution(rows[0]!);
  return rows.length === 0 ? undefined : rows.map(toExecution);
}

export interface ExecutionQuery {
  tool?: string;
  action?: string;
  status?: string;
  actor?: string;
  since?: string;
  until?: string;
  limit: number;
  offset: number;
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
  const total = registry.db.prepare(`SELECT count(*) FROM executions ${filter}`).pluck().get(params) as number;
  const rows = registry.db
    .prepare(`SELECT * FROM executions ${filter} ORDER BY created_at DESC, id DESC LIMIT @limit OFFSET @offset`)
    .all({ ...params, limit: query.limit, offset: query.offset }) as ExecutionRow[];
  return { total, items: rows.map(toExecution) };
}
