/**
 * The audit log: append-only rows (enforced by triggers), each hash-chained to the one before:
 * hash_i = SHA-256(hash_{i-1} ‖ canonical JSON of row i). The latest head is also written to a file
 * beside the database, so that cutting rows off the end is detected too.
 */
import { canonicalJson, sha256Hex } from "../util/canonical.js";
import { nowIso, type Registry } from "./db.js";
import { HEAD_FILE, readHead } from "./head.js";

export const GENESIS_HASH = "0".repeat(64);

export interface AuditEventInput {
  type: string;
  actor: string;
  tool?: string | null;
  action?: string | null;
  executionId?: string | null;
  status?: string | null;
  data?: Record<string, unknown>;
}

export interface AuditEvent {
  seq: number;
  ts: string;
  type: string;
  actor: string;
  tool: string | null;
  action: string | null;
  executionId: string | null;
  status: string | null;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

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
}

function hashRow(prevHash: string, row: Omit<AuditRow, "prev_hash" | "hash">): string {
  const body = canonicalJson({
    seq: row.seq, ts: row.ts, type: row.type, actor: row.actor, tool: row.tool, action: row.action,
    execution_id: row.execution_id, status: row.status, data: row.data,
  });
  return sha256Hex(`${prevHash}\n${body}`);
}

/**
 * Appends one event. Must run inside a write transaction (see `writeTransaction`), so that reading the
 * previous hash and inserting the next row cannot interleave with another process. Data must already be redacted.
 */
export function appendAudit(registry: Registry, event: AuditEventInput): { seq: number; hash: string } {
  const db = registry.db;
  const last = db.prepare("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").get() as { seq: number; hash: string } | undefined;
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
  const hash = hashRow(prevHash, row);
  db.prepare(
    `INSERT INTO audit_events (seq, ts, type, actor, tool, action, execution_id, status, data, prev_hash, hash)
     VALUES (@seq, @ts, @type, @actor, @tool, @action, @execution_id, @status, @data, @prev_hash, @hash)`,
  ).run({ ...row, prev_hash: prevHash, hash });
  registry.pendingHead = { seq: row.seq, hash };
  return { seq: row.seq, hash };
}

export interface VerifyResult {
  ok: boolean;
  events: number;
  head: { seq: number; hash: string } | null;
  problems: string[];
}

export function verifyAudit(registry: Registry): VerifyResult {
  const problems: string[] = [];
  let prevHash = GENESIS_HASH;
  let expectedSeq = 1;
  let count = 0;
  let last: AuditRow | undefined;
  for (const row of registry.db.prepare("SELECT * FROM audit_events ORDER BY seq").iterate() as IterableIterator<AuditRow>) {
    count++;
    if (row.seq !== expectedSeq) problems.push(`event ${expectedSeq}${row.seq - expectedSeq > 1 ? `-${row.seq - 1}` : ""} is missing (deleted?)`);
    if (row.prev_hash !== prevHash) problems.push(`event ${row.seq} does not link to the event before it (deleted, inserted or reordered)`);
    if (hashRow(row.prev_hash, row) !== row.hash) problems.push(`event ${row.seq} was modified: its content does not match its hash`);
    prevHash = row.hash;
    expectedSeq = row.seq + 1;
    last = row;
    if (problems.length > 50) break;
  }
  const exported = readHead(registry.home);
  // toolctl exports the head on every append, so a log without one has lost it: truncation cannot be ruled out.
  if (exported === undefined && count > 0) problems.push(`the exported head (${HEAD_FILE}) is missing: events cut off the end could not be detected`);
  if (exported === "invalid") problems.push(`the exported head (${HEAD_FILE}) is not a valid head`);
  if (exported !== undefined && exported !== "invalid") {
    const atHead = registry.db.prepare("SELECT hash FROM audit_events WHERE seq = ?").get(exported.seq) as { hash: string } | undefined;
    if (!atHead) problems.push(`the exported head (event ${exported.seq}) is missing: events were cut off the end of the log`);
    else if (atHead.hash !== exported.hash) problems.push(`event ${exported.seq} does not match the exported head hash: the log was rewritten`);
  }
  return { ok: problems.length === 0, events: count, head: last ? { seq: last.seq, hash: last.hash } : null, problems };
}

export interface AuditQuery {
  tool?: string;
  action?: string;
  status?: string;
  type?: string;
  actor?: string;
  executionId?: string;
  since?: string;
  until?: string;
  limit?: number;
}

export function queryAudit(registry: Registry, query: AuditQuery): AuditEvent[] {
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
  const sql = `SELECT * FROM (SELECT * FROM audit_events ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
    ORDER BY seq DESC ${query.limit ? "LIMIT @limit" : ""}) ORDER BY seq`;
  if (query.limit) params.limit = query.limit;
  return (registry.db.prepare(sql).all(params) as AuditRow[]).map((row) => ({
    seq: row.seq, ts: row.ts, type: row.type, actor: row.actor, tool: row.tool, action: row.action,
    executionId: row.execution_id, status: row.status, data: JSON.parse(row.data) as Record<string, unknown>,
    prevHash: row.prev_hash, hash: row.hash,
  }));
}
