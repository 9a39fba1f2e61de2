/**
 * The audit log: append-only rows (enforced by triggers), each chained to the one before and signed with the
 * audit key: hash_i = HMAC-SHA-256(audit key, hash_{i-1} ‖ canonical JSON of row i). Without the key nobody can
 * recompute the chain after an edit, a deletion or an insertion. The last event's seq and hash are kept as a
 * signed checkpoint in the same transaction as the events, and exported to `audit.head` beside the database.
 * Events written before the log was keyed keep their plain SHA-256 chain; the first signed event pins them.
 */
import path from "node:path";
import { loadAuditKey, type AuditKey } from "../../secrets/audit-key.js";
import { exportCommittedHead, exportFirstHead, fileWriteError, nowIso, statement, type Registry } from "./db.js";
import { GENESIS_HASH, hashRow } from "../shared/signing.js";
import {
  appendRefusal,
  appendRefused,
  ChainCheck,
  firstHead,
  headBehindNote,
  headPendingNote,
  judgeHeads,
  MAX_PROBLEMS,
  MISSING_EXECUTIONS_SQL,
  missingExecutionProblem,
  pendingHeadHolds,
  toEvent,
  verificationOf,
  type AuditRow,
  type LogEnd,
} from "../shared/audit-rows.js";
import { putPendingHeadFile, readPendingHeadFile } from "../shared/head-file.js";
import { HEAD_FILE, readHead, type ChainHead } from "./head.js";
import { signUnsignedExecutions, verifyExecutionSignatures } from "./executions.js";
import type { AuditEventInput, AuditEvent, AuditVerification, AuditQuery } from "../../domain/records.js";
export type { AuditEventInput, AuditEvent, AuditVerification, AuditQuery };

/**
 * Appends one event. Must run inside a write transaction (see `writeTransaction`), so that reading the
 * previous hash and inserting the next row cannot interleave with another process. Data must already be redacted.
 */
export function appendAudit(registry: Registry, event: AuditEventInput): { seq: number; hash: string } {
  const last = statement(registry, "SELECT seq, hash, key_id FROM audit_events ORDER BY seq DESC LIMIT 1").get() as LogEnd | undefined;
  // The transaction's first event: the log must end where it was left (later ones chain onto this one).
  if (!registry.pendingHead) {
    const checkpoint = statement(registry, "SELECT seq, hash, key_id AS keyId, mac FROM audit_checkpoint WHERE id = 1").get() as ChainHead | undefined;
    const key = registry.auditKey();
    const exported = headInPlace(registry, key, last);
    const refusal = appendRefusal(last, checkpoint, exported, key, { file: HEAD_FILE, mayBeUnwritten: false });
    if (refusal) throw appendRefused(refusal, registry.file);
    // Before the log's first signed event (the key was given, or made by an earlier write that did not commit), its
    // head is exported where the log ends now: from then on a process stopped between COMMIT and the export leaves
    // the head behind the log (a note), never missing (which is what a cut log with its head removed looks like).
    if (exported === undefined) exportFirstHead(registry, firstHead(key, last));
  }
  // The first signed event of a log that predates signing: executions written until now are signed with it.
  if (last !== undefined && last.key_id === null) signUnsignedExecutions(registry);
  const row = {
    seq: (last?.seq ?? 0) + 1,
    ts: nowIso(),
    type: event.type,
    actor: event.actor,
    tool: event.tool ?? null,
    action: event.action ?? null,
    execution_id: event.executionId ?? null,
    status: event.status ?? null,
    data: JSON.stringify(event.data ?? {}),
  };
  const prevHash = last?.hash ?? GENESIS_HASH;
  const key = registry.auditKey();
  const hash = hashRow(prevHash, row, key);
  statement(
    registry,
    `INSERT INTO audit_events (seq, ts, type, actor, tool, action, execution_id, status, data, prev_hash, hash, key_id)
     VALUES (@seq, @ts, @type, @actor, @tool, @action, @execution_id, @status, @data, @prev_hash, @hash, @key_id)`,
  ).run({ ...row, prev_hash: prevHash, hash, key_id: key.id });
  registry.pendingHead = { seq: row.seq, hash };
  return { seq: row.seq, hash };
}

/**
 * The exported head, under the write lock. When the head file is missing but its temp file holds the head at the
 * log's very end, signed (a process stopped between writing it and renaming it), that head is put in place and
 * used; a failure to put it there refuses the write (exit 6), which leaves things as they were.
 */
function headInPlace(registry: Registry, key: AuditKey, last: LogEnd | undefined): ChainHead | "invalid" | undefined {
  const exported = readHead(registry.home);
  if (exported !== undefined) return exported;
  const pending = readPendingHeadFile(registry.home, HEAD_FILE);
  if (!pendingHeadHolds(pending, key, last)) return undefined;
  try {
    putPendingHeadFile(registry.home, HEAD_FILE);
  } catch (error) {
    throw fileWriteError(error, path.join(registry.home, HEAD_FILE));
  }
  return pending;
}

/** Puts the head left in the temp file in place for `verifyAudit`, under the write lock; best effort, as an export. */
function putPendingHead(registry: Registry, key: AuditKey | null): void {
  try {
    registry.db
      .transaction(() => {
        if (readHead(registry.home) !== undefined) return;
        const last = statement(registry, "SELECT seq, hash, key_id FROM audit_events ORDER BY seq DESC LIMIT 1").get() as LogEnd | undefined;
        if (pendingHeadHolds(readPendingHeadFile(registry.home, HEAD_FILE), key, last)) putPendingHeadFile(registry.home, HEAD_FILE);
      })
      .immediate();
  } catch {
    // A home it may not write: the next write puts it in place.
  }
}

/**
 * Checks the whole chain, the signed checkpoint, the exported head and every execution's signature. What only a
 * crash can cause (the head file behind the committed log) is a note; everything else is a problem. `keyHome` is
 * where the audit key is looked up: the registry's own home, except for a copy checked with the key of the home
 * it was made from (`toolctl db export`).
 */
export function verifyAudit(registry: Registry, keyHome = registry.home): AuditVerification {
  const notes: string[] = [];
  const key = loadAuditKey(keyHome, registry.env, { create: false }) ?? null;
  // The head file first, then one read transaction for the rest: other processes append meanwhile, and the head
  // is exported only after their COMMIT, so it is never ahead of what the snapshot holds unless events were cut.
  // Its temp file is read before it: a rename in between moves the head from one to the other, never out of sight.
  const pending = readPendingHeadFile(registry.home, HEAD_FILE);
  const headFile = readHead(registry.home);
  const { chain, headBehindBy, headPending, executions } = registry.db
    .transaction(() => {
      const chain = new ChainCheck(key);
      for (const row of registry.db.prepare("SELECT * FROM audit_events ORDER BY seq").iterate() as IterableIterator<AuditRow>) {
        if (!chain.add(row)) break;
      }
      chain.finish();
      // A head left in the temp file by a process stopped before renaming it stands in for a missing head file
      // when it is signed and at the log's very end: a note, and it is put in place below.
      const headPending = headFile === undefined && pendingHeadHolds(pending, key, chain.last);
      const { headBehindBy } = judgeHeads({
        key,
        chain,
        checkpoint: registry.db.prepare("SELECT seq, hash, key_id AS keyId, mac FROM audit_checkpoint WHERE id = 1").get() as ChainHead | undefined,
        exported: headPending ? pending : headFile,
        headFile: HEAD_FILE,
        hashAt: (seq) => registry.db.prepare("SELECT hash FROM audit_events WHERE seq = ?").pluck().get(seq) as string | undefined,
        held: () => ({
          tools: registry.db.prepare("SELECT count(*) FROM tools").pluck().get() as number,
          executions: registry.db.prepare("SELECT count(*) FROM executions").pluck().get() as number,
        }),
      });
      const executions = verifyExecutionSignatures(registry, key, MAX_PROBLEMS);
      const missing = registry.db.prepare(MISSING_EXECUTIONS_SQL).all() as Array<{ id: string; seq: number }>;
      executions.problems.push(...missing.map(missingExecutionProblem));
      return { chain, headBehindBy, headPending, executions };
    })
    .deferred();
  if (headPending) {
    notes.push(headPendingNote(HEAD_FILE));
    putPendingHead(registry, key);
  }
  if (headBehindBy > 0) {
    // Exported after COMMIT: a process killed in between leaves the file behind a log that is itself intact.
    notes.push(headBehindNote(headBehindBy));
    exportCommittedHead(registry);
  }
  return verificationOf(chain, executions, notes);
}

/** The WHERE clause of an audit query's filters (everything but the paging), and its parameters. */
function auditFilter(query: AuditQuery): { filter: string; params: Record<string, unknown> } {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  const add = (clause: string, key: string, value: unknown) => {
    if (value === undefined) return;
    where.push(clause);
    params[key] = value;
  };
  add("tool = @tool", "tool", query.tool);
  add("action = @action", "action", query.action);
  add("status = @status", "status", query.status);
  add("type = @type", "type", query.type);
  add("actor = @actor", "actor", query.actor);
  add("execution_id = @executionId", "executionId", query.executionId);
  add("ts >= @since", "since", query.since);
  add("ts <= @until", "until", query.until);
  return { filter: where.length ? `WHERE ${where.join(" AND ")}` : "", params };
}

/** The newest `limit` events matching, after skipping the newest `offset`, oldest first. */
export function queryAudit(registry: Registry, query: AuditQuery): AuditEvent[] {
  const { filter, params } = auditFilter(query);
  // A time range walks the time index (ts, then seq) and stops at the limit; any other filter walks its own
  // index, whose rows come in seq order. Either way nothing is sorted, however large the log.
  const order = query.since !== undefined || query.until !== undefined ? ["ts", "seq"] : ["seq"];
  const offset = query.offset ?? 0;
  // SQLite takes an OFFSET only after a LIMIT: -1 is no limit.
  const paging = query.limit ? "LIMIT @limit OFFSET @offset" : offset > 0 ? "LIMIT -1 OFFSET @offset" : "";
  const sql = `SELECT * FROM (SELECT * FROM audit_events ${filter}
    ORDER BY ${order.map((column) => `${column} DESC`).join(", ")} ${paging}) ORDER BY ${order.join(", ")}`;
  if (query.limit) params.limit = query.limit;
  if (paging) params.offset = offset;
  return (registry.db.prepare(sql).all(params) as AuditRow[]).map(toEvent);
}

/** How many events match the query's filters (its limit and offset aside). */
export function countAudit(registry: Registry, query: AuditQuery): number {
  const { filter, params } = auditFilter(query);
  return registry.db.prepare(`SELECT count(*) FROM audit_events ${filter}`).pluck().get(params) as number;
}

/** Every event, oldest first, one at a time: the whole log is never held in memory. */
export function* iterateAudit(registry: Registry): Generator<AuditEvent> {
  for (const row of registry.db.prepare("SELECT * FROM audit_events ORDER BY seq").iterate() as IterableIterator<AuditRow>) yield toEvent(row);
}
