/**
 * How one execution is written down. Every step is a single transaction holding the execution row and its
 * audit event together, so the history and the audit log can never disagree. Data arrives already redacted.
 */
import type { Actor } from "../config/home.js";
import { PolicyError } from "../errors.js";
import { appendAudit } from "../store/sqlite/audit.js";
import { nowIso, writeTransaction, type Registry } from "../store/sqlite/db.js";
import { insertExecution, updateExecution, type ExecutionStatus, type ExecutionUpdate } from "../store/sqlite/executions.js";
import { settleSpend } from "../store/sqlite/ledger.js";

export interface RecordTarget {
  id: string;
  tool: string;
  action: string;
  actor: Actor;
  createdAt: string;
  toolDigest: string;
  /** The execution this one compensates, for a rollback. */
  rollbackOf?: string;
  /** The plan run this execution is a step (or a compensation) of. */
  planRunId?: string;
}

export interface Recorder {
  /** An attempt that ends without running: refused, invalid, needing approval, or a dry run. */
  ended(status: ExecutionStatus, input: unknown, update: ExecutionUpdate, type: string, data: Record<string, unknown>): void;
  /**
   * The intent, written before any side effect. The tool is re-read under the write lock: if it was disabled
   * or changed since the run began, this throws a policy error and nothing is written.
   */
  started(input: unknown, update: ExecutionUpdate, data: Record<string, unknown>, inside?: () => void): void;
  /** The outcome, settling the ledger in the same transaction: spent when it succeeded, kept when unknown. */
  finished(status: ExecutionStatus, update: ExecutionUpdate, data: Record<string, unknown>): void;
}

/**
 * How long the outcome's write waits for the lock. The action has happened: an outcome that cannot be written
 * turns a known result into `unknown`, so it waits longer than any other write (the registry's busy timeout).
 */
const OUTCOME_BUSY_TIMEOUT_MS = 60_000;

function withBusyTimeout<T>(registry: Registry, ms: number, fn: () => T): T {
  const before = registry.db.pragma("busy_timeout", { simple: true }) as number;
  registry.db.pragma(`busy_timeout = ${ms}`);
  try {
    return fn();
  } finally {
    registry.db.pragma(`busy_timeout = ${before}`);
  }
}

export function createRecorder(registry: Registry, target: RecordTarget): Recorder {
  const { id, tool, action, actor, createdAt, toolDigest, rollbackOf, planRunId } = target;
  const audit = { actor, tool, action, executionId: id };
  const insert = (status: ExecutionStatus, input: unknown) =>
    insertExecution(registry, { id, tool, action, actor, status, input, createdAt, toolDigest, rollbackOf, planRunId });
  return {
    ended(status, input, update, type, data) {
      writeTransaction(registry, () => {
        insert(status, input);
        updateExecution(registry, id, { finishedAt: nowIso(), ...update });
        appendAudit(registry, { ...audit, type, status, data });
      });
    },
    started(input, update, data, inside) {
      writeTransaction(registry, () => {
        const current = registry.db.prepare("SELECT status, digest FROM tools WHERE name = ?").get(tool) as { status: string; digest: string } | undefined;
        if (!current || current.status !== "active" || current.digest !== toolDigest) {
          const now = !current ? "was removed" : current.status !== "active" ? `is now ${current.status}` : "was re-imported with changes";
          throw new PolicyError("tool_disabled", `tool ${tool} ${now} while this run was being prepared; nothing ran`);
        }
        // Reserving spend and using an approval happen here, under the same lock as the intent.
        inside?.();
        insert("running", input);
        updateExecution(registry, id, { startedAt: nowIso(), ...update });
        appendAudit(registry, { ...audit, type: "execution.started", status: "running", data });
      });
    },
    finished(status, update, data) {
      withBusyTimeout(registry, OUTCOME_BUSY_TIMEOUT_MS, () =>
        writeTransaction(registry, () => {
          updateExecution(registry, id, { status, finishedAt: nowIso(), ...update });
          if (status === "succeeded") settleSpend(registry, id, "committed");
          else if (status !== "unknown") settleSpend(registry, id, "released");
          appendAudit(registry, { ...audit, type: `execution.${status}`, status, data });
        }));
    },
  };
}
