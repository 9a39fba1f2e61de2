/**
 * The audit log: append-only rows (enforced by triggers), each chained to the one before and signed with the
 * audit key: hash_i = HMAC-SHA-256(audit key, hash_{i-1} ‖ canonical JSON of row i). Without the key nobody can
 * recompute the chain after an edit, a deletion or an insertion. The last event's seq and hash are kept as a
 * signed checkpoint in the same transaction as the events, and exported to `audit.head` beside the database.
 * Events written before the log was keyed keep their plain SHA-256 chain; the first signed event pins them.
 */
import { loadAuditKey } from "../../secrets/audit-key.js";
import { exportCommittedHead, nowIso, statement, type Registry } from "./db.js";
import { checkpointMac, GENESIS_HASH, hashRow } from "../shared/signing.js";
import { HEAD_FILE, readHead } from "./head.js";
import { signUnsignedExecutions, verifyExecutionSignatures } from "./executions.js";
import type { AuditEventInput, AuditEvent, AuditVerification, AuditQuery } from "../../domain/records.js";
export type { AuditEventInput, AuditEvent, AuditVerification, AuditQuery };

interface AuditRow {
  seq: number;
  ts: string;
  type: string;
  actor: string;
  tool: string | null;
  action: string | null;
  execution_id: string | null;
  status: string | null;
  data: string;
  prev_hash: string;
  hash: string;
  /** The audit key that signed this event; null for an event written before the log was keyed. */
  key_id: string | null;
}

/**
 * Appends one event. Must run inside a write transaction (see `writeTransaction`), so that reading the
 * previous hash and inserting the next row cannot interleave with another process. Data must already be redacted.
 */
export function appendAudit(registry: Registry, event: AuditEventInput): { seq: number; hash: string } {
  const last = statement(registry, "SELECT seq, hash, key_id FROM audit_events ORDER BY seq DESC LIMIT 1").get() as
    { seq: number; hash: string; key_id: string | null } | undefined;
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

const MAX_PROBLEMS = 50;

/**
 * Checks the whole chain, the signed checkpoint, the exported head and every execution's signature. What only a
 * crash can cause (the head file behind the committed log) is a note; everything else is a problem. `keyHome` is
 * where the audit key is looked up: the registry's own home, except for a copy checked with the key of the home
 * it was made from (`toolctl db export`).
 */
export function verifyAudit(registry: Registry, keyHome = registry.home): AuditVerification {
  const problems: string[] = [];
  const notes: string[] = [];
  const key = loadAuditKey(keyHome, registry.env, { create: false }) ?? null;
  let prevHash = GENESIS_HASH;
  let expectedSeq = 1;
  let count = 0;
  let signed = 0;
  let last: AuditRow | undefined;
  const otherKeys = new Set<string>();
  for (const row of registry.db.prepare("SELECT * FROM audit_events ORDER BY seq").iterate() as IterableIterator<AuditRow>) {
    count++;
    if (row.seq !== expectedSeq) problems.push(`event ${expectedSeq}${row.seq - expectedSeq > 1 ? `-${row.seq - 1}` : ""} is missing (deleted?)`);
    if (row.prev_hash !== prevHash) problems.push(`event ${row.seq} does not link to the event before it (deleted, inserted or reordered)`);
    if (row.key_id === null) {
      // A plain hash anyone can compute: only acceptable before the first signed event.
      if (signed > 0) problems.push(`event ${row.seq} is not signed, but events before it are: it was inserted or rewritten`);
      else if (hashRow(row.prev_hash, row, null) !== row.hash) problems.push(`event ${row.seq} was modified: its content does not match its hash`);
    } else {
      signed++;
      if (!key) otherKeys.add(row.key_id);
      else if (row.key_id !== key.id) {
        otherKeys.add(row.key_id);
        problems.push(`event ${row.seq} is signed with audit key '${row.key_id}', not with this home's key '${key.id}' (${key.where})`);
      } else if (hashRow(row.prev_hash, row, key) !== row.hash) problems.push(`event ${row.seq} was modified: its content does not match its signature`);
    }
    prevHash = row.hash;
    expectedSeq = row.seq + 1;
    last = row;
    if (problems.length > MAX_PROBLEMS) break;
  }
  if (!key && signed > 0)
    problems.unshift(
      `${signed} events are signed with audit key ${[...otherKeys].join(", ")}, but this home has no audit key: restore audit.key, the keyring entry, or TOOLCTL_AUDIT_KEY`,
    );

  const lastSeq = last?.seq ?? 0;
  const eventAt = (seq: number) => registry.db.prepare("SELECT hash FROM audit_events WHERE seq = ?").pluck().get(seq) as string | undefined;
  const checkpoint = registry.db.prepare("SELECT seq, hash, key_id AS keyId, mac FROM audit_checkpoint WHERE id = 1").get() as
    { seq: number; hash: string; keyId: string; mac: string } | undefined;
  const signedBy = (head: { seq: number; hash: string; keyId: string; mac: string }) =>
    key !== null && head.keyId === key.id && checkpointMac(key, head) === head.mac;
  if (checkpoint) {
    if (!signedBy(checkpoint)) problems.push("the audit checkpoint's signature does not match: it was rewritten");
    else if (checkpoint.seq > lastSeq)
      problems.push(`events ${lastSeq + 1}-${checkpoint.seq} were cut off the end of the log (the checkpoint is at event ${checkpoint.seq})`);
    else if (eventAt(checkpoint.seq) !== checkpoint.hash) problems.push(`event ${checkpoint.seq} does not match the checkpoint: the log was rewritten`);
    else if (checkpoint.seq < lastSeq) problems.push(`events ${checkpoint.seq + 1}-${lastSeq} come after the checkpoint: they were added outside toolctl`);
  } else if (count > 0 && (signed > 0 || key !== null)) {
    // The first signed write of a home creates its key and its checkpoint together: a key without one is a deletion.
    problems.push("the audit checkpoint is missing although the log is signed: it was deleted");
  }

  if (count === 0) {
    const tools = registry.db.prepare("SELECT count(*) FROM tools").pluck().get() as number;
    const executions = registry.db.prepare("SELECT count(*) FROM executions").pluck().get() as number;
    if (key) problems.push(`the audit log is empty, but its key exists (${key.where}): its events were deleted`);
    else if (tools + executions > 0)
      problems.push(`the audit log is empty, but the registry holds ${tools} tools and ${executions} executions: its events were deleted`);
  }

  const exported = readHead(registry.home);
  if (exported === undefined && count > 0) problems.push(`the exported head (${HEAD_FILE}) is missing: events cut off the end could not be detected`);
  if (exported === "invalid") problems.push(`the exported head (${HEAD_FILE}) is not a valid head`);
  if (exported !== undefined && exported !== "invalid") {
    if (!signedBy(exported)) problems.push(`the exported head (${HEAD_FILE}) is not signed with this home's audit key: it was forged or replaced`);
    else if (exported.seq > lastSeq)
      problems.push(`the exported head is at event ${exported.seq}, but the log ends at ${lastSeq}: events were cut off the end of the log`);
    else if (eventAt(exported.seq) !== exported.hash) problems.push(`event ${exported.seq} does not match the exported head: the log was rewritten`);
    else if (exported.seq < lastSeq && problems.length === 0) {
      // Exported after COMMIT: a process killed in between leaves the file behind a log that is itself intact.
      notes.push(`the exported head was behind by ${lastSeq - exported.seq} events (a toolctl process stopped before exporting it); brought up to date`);
      exportCommittedHead(registry);
    }
  }

  const executions = verifyExecutionSignatures(registry, key, MAX_PROBLEMS);
  problems.push(...executions.problems);
  return { ok: problems.length === 0, events: count, head: last ? { seq: last.seq, hash: last.hash } : null, problems, notes, executions: executions.checked };
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

function toEvent(row: AuditRow): AuditEvent {
  return {
    seq: row.seq,
    ts: row.ts,
    type: row.type,
    actor: row.actor,
    tool: row.tool,
    action: row.action,
    executionId: row.execution_id,
    status: row.status,
    data: JSON.parse(row.data) as Record<string, unknown>,
    prevHash: row.prev_hash,
    hash: row.hash,
    keyId: row.key_id,
  };
}

/** Every event, oldest first, one at a time: the whole log is never held in memory. */
export function* iterateAudit(registry: Registry): Generator<AuditEvent> {
  for (const row of registry.db.prepare("SELECT * FROM audit_events ORDER BY seq").iterate() as IterableIterator<AuditRow>) yield toEvent(row);
}
