/**
 * Executions as both backends store them: the row, its mapping to an `Execution`, the columns an update may set,
 * and the checks on a row's signature.
 */
import type { AuditKey } from "../../secrets/audit-key.js";
import type { AuditEventInput, ErrorCategory, Execution, ExecutionStatus, ExecutionUpdate, NewExecution } from "../../domain/records.js";
import type { ProcessIdentity } from "../../util/process.js";
import { executionError } from "../../errors.js";
import { nowIso } from "../../util/ids.js";
import { executionMac } from "./signing.js";

export interface ExecutionRow {
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

export function toExecution(row: ExecutionRow): Execution {
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

/** The columns of a new execution's row, by name, as inserted. */
export function newExecutionColumns(execution: NewExecution, writer: ProcessIdentity) {
  return {
    id: execution.id,
    tool: execution.tool,
    action: execution.action,
    actor: execution.actor,
    status: execution.status,
    input: JSON.stringify(execution.input ?? null),
    tool_digest: execution.toolDigest ?? null,
    created_at: execution.createdAt,
    rollback_of: execution.rollbackOf ?? null,
    plan_run_id: execution.planRunId ?? null,
    pid: writer.pid,
    pid_start: writer.start,
    origin: execution.origin ? JSON.stringify(execution.origin) : null,
  };
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

/** The columns an update sets and their stored values; fields left undefined are not touched. */
export function updatedColumns(update: ExecutionUpdate): Array<[column: string, value: unknown]> {
  const columns: Array<[string, unknown]> = [];
  for (const [key, value] of Object.entries(update) as Array<[keyof ExecutionUpdate, unknown]>) {
    if (value === undefined) continue;
    columns.push([COLUMN[key], columnValue(key, value)]);
  }
  return columns;
}

/** What is wrong with one stored execution's signature, if anything. */
/** The start of a problem for an execution signed with another key: counted, and said once per key (audit-rows.ts). */
export const FOREIGN_EXECUTION = "an execution is signed with audit key '";

export function signatureProblem(row: Record<string, unknown>, key: AuditKey | null): string | undefined {
  const mac = row.mac as string | null;
  if (mac === null) return key ? `execution ${String(row.id)} is not signed: it was inserted or rewritten outside toolctl` : undefined;
  if (!key) return `execution ${String(row.id)} is signed, but this home has no audit key to check it with`;
  const signer = mac.slice(0, mac.indexOf(":"));
  if (signer && signer !== key.id) return `${FOREIGN_EXECUTION}${signer}'`;
  if (mac !== executionMac(key, row)) return `execution ${String(row.id)} was modified: its content does not match its signature`;
  return undefined;
}

/** A running execution as an abandoned-run sweep reads it: whose process (and its start) to look for. */
export interface RunningRow {
  id: string;
  tool: string;
  action: string;
  pid: number | null;
  pid_start: string | null;
}

/** The audit event of a run settled as unknown because its toolctl process is gone. */
export function abandonedEvent(row: { id: string; tool: string; action: string; pid: number }, actor: string, error: string): AuditEventInput {
  return {
    type: "execution.unknown",
    actor,
    tool: row.tool,
    action: row.action,
    executionId: row.id,
    status: "unknown",
    data: { error, category: "other", pid: row.pid, settledAt: nowIso(), settledBy: process.pid },
  };
}

export function abandonedReason(pid: number): string {
  return `toolctl process ${pid} is gone: it was killed or crashed while the action ran; the action may have happened: check before retrying`;
}

/**
 * Why a compensation of `original` may not start: the original is undone already, or another compensation of it
 * is running or succeeded (two `toolctl rollback` at once would refund a payment twice), or ended `unknown` (it
 * may have happened: sending it again could refund twice too). Read in the intent's transaction, so of two racing
 * rollbacks exactly one starts. One that failed did not happen, and may be tried again.
 */
export function rollbackTaken(
  original: { id: string; status: string } | undefined,
  other: { id: string; status: string; tool?: string; action?: string } | undefined,
): string | undefined {
  if (original?.status === "rolled_back") return `execution ${original.id} was already rolled back${other ? ` by ${other.id}` : ""}; nothing ran`;
  if (other?.status === "succeeded") return `execution ${other.id} already rolled back ${original?.id ?? "this execution"}; nothing ran`;
  if (other?.status === "running")
    return `execution ${original?.id ?? "this execution"} is being rolled back by ${other.id}, started by another process; nothing ran`;
  if (other?.status === "unknown") {
    const target = `${other.tool}.${other.action}`;
    return `execution ${other.id} (${target}), a rollback of ${original?.id ?? "this execution"}, ended unknown: it may have happened, so it is not sent again; check with the provider, and if it did not happen, run ${target} yourself; nothing ran`;
  }
  return undefined;
}

/** The SQL both backends read it with (`?` or `$1` for the original's id): a success first, then one running. */
export const COMPENSATION_IN_FLIGHT = (param: string) =>
  `SELECT id, status, tool, action FROM executions WHERE rollback_of = ${param} AND status IN ('running', 'succeeded', 'unknown')
    ORDER BY status = 'succeeded' DESC, status = 'running' DESC, created_at LIMIT 1`;
