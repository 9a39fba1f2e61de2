/**
 * The team's audit log: one chain for every machine, appended under the registry's write lock (audit-append.ts),
 * read here. `all()` streams it in pages by seq; `verify()` reads the chain, the checkpoint and the executions in
 * one REPEATABLE READ snapshot, so appends from other machines during a verification cannot make an intact log look
 * cut or forked.
 */
import type { AuditEvent, AuditEventInput, AuditQuery, AuditVerification } from "../../domain/records.js";
import { loadAuditKey } from "../../secrets/audit-key.js";
import {
  ChainCheck,
  headBehindNote,
  headUnwrittenNote,
  judgeHeads,
  MAX_PROBLEMS,
  MISSING_EXECUTIONS_SQL,
  missingExecutionProblem,
  toEvent,
  verificationOf,
  type AuditRow,
} from "../shared/audit-rows.js";
import type { ChainHead } from "../shared/head-file.js";
import { appendAudit } from "./audit-append.js";
import { describePgError, type PgRegistry, type Sql } from "./db.js";
import { verifyExecutionSignatures } from "./executions.js";
import { exportCommittedHead, headFileName, readExportedHead } from "./head.js";

const PAGE = 500;

export function appendAuditEvent(registry: PgRegistry, event: AuditEventInput): Promise<{ seq: number; hash: string }> {
  return registry.write((tx) => appendAudit(registry, tx, event));
}

/** The WHERE clause of an audit query's filters (everything but the paging), and its values. */
function auditFilter(query: AuditQuery): { filter: string; values: unknown[] } {
  const where: string[] = [];
  const values: unknown[] = [];
  const add = (clause: string, value: unknown) => {
    if (value === undefined) return;
    values.push(value);
    where.push(`${clause} $${values.length}`);
  };
  add("tool =", query.tool);
  add("action =", query.action);
  add("status =", query.status);
  add("type =", query.type);
  add("actor =", query.actor);
  add("execution_id =", query.executionId);
  add("ts >=", query.since);
  add("ts <=", query.until);
  return { filter: where.length ? `WHERE ${where.join(" AND ")}` : "", values };
}

/** The newest `limit` events matching, after skipping the newest `offset`, oldest first (as sqlite/audit.ts `queryAudit`). */
export async function queryAudit(sql: Sql, query: AuditQuery): Promise<AuditEvent[]> {
  const { filter, values } = auditFilter(query);
  const order = query.since !== undefined || query.until !== undefined ? ["ts", "seq"] : ["seq"];
  let paging = "";
  if (query.limit) {
    values.push(query.limit);
    paging += ` LIMIT $${values.length}`;
  }
  if (query.offset) {
    values.push(query.offset);
    paging += ` OFFSET $${values.length}`;
  }
  const text = `SELECT * FROM (SELECT * FROM audit_events ${filter}
    ORDER BY ${order.map((column) => `${column} DESC`).join(", ")}${paging}) AS newest ORDER BY ${order.join(", ")}`;
  return (await sql.query<AuditRow>(text, values)).map(toEvent);
}

/** How many events match the query's filters (its limit and offset aside). */
export async function countAudit(sql: Sql, query: AuditQuery): Promise<number> {
  const { filter, values } = auditFilter(query);
  return (await sql.one<{ n: number }>(`SELECT count(*)::int AS n FROM audit_events ${filter}`, values))?.n ?? 0;
}

/** Every event, oldest first, a page at a time: seq only grows, and appends are serialized, so no page skips one. */
export async function* iterateAudit(sql: Sql): AsyncGenerator<AuditEvent> {
  let after = 0;
  for (;;) {
    const page = await sql.query<AuditRow>("SELECT * FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2", [after, PAGE]);
    for (const row of page) yield toEvent(row);
    if (page.length < PAGE) return;
    after = page[page.length - 1]!.seq;
  }
}

/** Runs `fn` on one connection inside a read-only REPEATABLE READ transaction: everything it reads is one snapshot. */
async function inSnapshot<T>(registry: PgRegistry, fn: (sql: Sql) => Promise<T>): Promise<T> {
  let client;
  try {
    client = await registry.pool.connect();
  } catch (error) {
    throw describePgError(error, registry.location);
  }
  const sql: Sql = {
    query: async <R>(text: string, values?: unknown[]) => (await client.query(text, values)).rows as R[],
    one: async <R>(text: string, values?: unknown[]) => (await client.query(text, values)).rows[0] as R | undefined,
    run: async (text: string, values?: unknown[]) => (await client.query(text, values)).rowCount ?? 0,
  };
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const value = await fn(sql);
    await client.query("COMMIT");
    return value;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw (error as { code?: unknown }).code !== undefined ? describePgError(error, registry.location) : error;
  } finally {
    client.release();
  }
}

/**
 * Checks the whole chain, the signed checkpoint, this machine's exported head and every execution's signature
 * (see sqlite/audit.ts `verifyAudit`; the checks themselves are shared/audit-rows.ts). `within`: a transaction to
 * check instead of a snapshot of what is committed (`db migrate-to` checks its copy before COMMIT); the head is
 * then never exported.
 */
export async function verifyAudit(registry: PgRegistry, within?: Sql): Promise<AuditVerification> {
  const notes: string[] = [];
  const key = loadAuditKey(registry.home, registry.env, { create: false }) ?? null;
  const headFile = await headFileName(registry, within);
  const exported = await readExportedHead(registry, within);
  const inRead = <T>(fn: (sql: Sql) => Promise<T>) => (within ? fn(within) : inSnapshot(registry, fn));
  const { chain, headBehindBy, headUnwritten, executions } = await inRead(async (sql) => {
    const chain = new ChainCheck(key);
    let after = 0;
    walk: for (;;) {
      const page = await sql.query<AuditRow>("SELECT * FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2", [after, PAGE]);
      for (const row of page) if (!chain.add(row)) break walk;
      if (page.length < PAGE) break;
      after = page[page.length - 1]!.seq;
    }
    chain.finish();
    const checkpoint = await sql.one<ChainHead>('SELECT seq, hash, key_id AS "keyId", mac FROM audit_checkpoint WHERE id = 1');
    const seqs = [checkpoint?.seq, exported !== undefined && exported !== "invalid" ? exported.seq : undefined].filter((seq) => seq !== undefined);
    const hashes = new Map(
      (await sql.query<{ seq: number; hash: string }>("SELECT seq, hash FROM audit_events WHERE seq = ANY($1::bigint[])", [seqs])).map((row) => [
        row.seq,
        row.hash,
      ]),
    );
    const held =
      chain.count === 0
        ? (await sql.one<{ tools: number; executions: number }>(
            "SELECT (SELECT count(*) FROM tools) AS tools, (SELECT count(*) FROM executions) AS executions",
          ))!
        : { tools: 0, executions: 0 };
    const heads = judgeHeads({ key, chain, checkpoint, exported, headFile, hashAt: (seq) => hashes.get(seq), held: () => held, headMayBeUnwritten: true });
    const executions = await verifyExecutionSignatures(sql, key, MAX_PROBLEMS);
    executions.problems.push(...(await sql.query<{ id: string; seq: number }>(MISSING_EXECUTIONS_SQL)).map(missingExecutionProblem));
    return { chain, ...heads, executions };
  });
  // Exported after COMMIT, and other machines append too: a head behind an intact log is brought up to date, and a
  // machine that joined the team and has not written yet gets its first one.
  if (headUnwritten && executions.problems.length === 0) notes.push(headUnwrittenNote(headFile));
  else if (headBehindBy > 0)
    notes.push(headBehindNote(headBehindBy, "other machines wrote since this one last did, or a toolctl process here stopped before exporting it"));
  if (notes.length > 0 && !within) await exportCommittedHead(registry).catch(() => {});
  return verificationOf(chain, executions, notes);
}
