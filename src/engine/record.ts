/**
 * How one execution is written down. Every step is a single transaction of the store holding the execution row
 * and its audit event together, so the history and the audit log can never disagree. Data arrives redacted.
 */
import type { Actor } from "../config/home.js";
import type { AuditEventInput, ExecutionOrigin, ExecutionStatus, ExecutionUpdate } from "../domain/records.js";
import type { StartedRun, StartRefusal, Store } from "../store/port.js";

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
  /** The front door it came through; also added to every audit event of the execution. */
  origin?: ExecutionOrigin;
}

export interface Recorder {
  /** An audit event about the attempt that is not a change of its status (a price quote). */
  event(event: AuditEventInput): Promise<void>;
  /** An attempt that ends without running: refused, invalid, needing approval, or a dry run. */
  ended(status: ExecutionStatus, input: unknown, update: ExecutionUpdate, type: string, data: Record<string, unknown>): Promise<void>;
  /**
   * The intent, written before any side effect, with the approval's use and the spend reservation. The tool is
   * re-read under the write lock: a tool disabled or changed since the run began refuses the start.
   */
  started(
    input: unknown,
    update: ExecutionUpdate,
    data: Record<string, unknown>,
    with_: Pick<StartedRun, "approval" | "reserve">,
  ): Promise<{ ok: true } | StartRefusal>;
  /** The outcome, settling the ledger in the same transaction: spent when it succeeded, kept when unknown. */
  finished(status: ExecutionStatus, update: ExecutionUpdate, data: Record<string, unknown>): Promise<void>;
}

export function createRecorder(store: Store, target: RecordTarget): Recorder {
  const { id, tool, action, actor, createdAt, toolDigest, rollbackOf, planRunId, origin } = target;
  const audit = { actor, tool, action, executionId: id };
  const row = (status: ExecutionStatus, input: unknown) => ({ id, tool, action, actor, status, input, createdAt, toolDigest, rollbackOf, planRunId, origin });
  const withOrigin = (data: Record<string, unknown>) => (origin ? { ...data, origin } : data);
  return {
    async event(event) {
      await store.audit.append(event);
    },
    ended: (status, input, update, type, data) =>
      store.executions.ended({ execution: row(status, input), update, audit: { ...audit, type, status, data: withOrigin(data) } }),
    started: (input, update, data, with_) =>
      store.executions.started({
        execution: row("running", input),
        update,
        toolDigest,
        ...with_,
        audit: { ...audit, type: "execution.started", status: "running", data: withOrigin(data) },
      }),
    finished: (status, update, data) =>
      store.executions.finished(id, status, update, { ...audit, type: `execution.${status}`, status, data: withOrigin(data) }),
  };
}
