/**
 * Appending to the audit chain in PostgreSQL. Appends run inside a serialized write (db.ts `write`, which holds
 * the registry's advisory lock), so reading the last hash and inserting the next event cannot interleave with
 * another machine's append: the chain stays one chain, with no gap and no fork in `seq`.
 */
import { GENESIS_HASH, hashRow } from "../shared/signing.js";
import { appendRefusal, appendRefused, type LogEnd } from "../shared/audit-rows.js";
import type { ChainHead } from "../shared/head-file.js";
import { headFileName, readExportedHead } from "./head.js";
import type { AuditEventInput } from "../../domain/records.js";
import { nowIso, type PgRegistry, type Tx } from "./db.js";

/** Appends one event; `data` must already be redacted. The transaction's checkpoint is written before it commits (db.ts `writeCheckpoint`). */
export async function appendAudit(registry: PgRegistry, tx: Tx, event: AuditEventInput): Promise<{ seq: number; hash: string }> {
  const last = await tx.one<LogEnd>("SELECT seq, hash, key_id FROM audit_events ORDER BY seq DESC LIMIT 1");
  // The transaction's first event: the log must end where it was left (later ones chain onto this one).
  if (!tx.pendingHead) {
    const checkpoint = await tx.one<ChainHead>('SELECT seq, hash, key_id AS "keyId", mac FROM audit_checkpoint WHERE id = 1');
    const head = { file: await headFileName(registry, tx), mayBeUnwritten: true };
    const refusal = appendRefusal(last, checkpoint, await readExportedHead(registry, tx), await registry.auditKey(tx), head);
    if (refusal) throw appendRefused(refusal, registry.location);
  }
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
  const key = await registry.auditKey(tx);
  const hash = hashRow(prevHash, row, key);
  await tx.run(
    `INSERT INTO audit_events (seq, ts, type, actor, tool, action, execution_id, status, data, prev_hash, hash, key_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
    [row.seq, row.ts, row.type, row.actor, row.tool, row.action, row.execution_id, row.status, row.data, prevHash, hash, key.id],
  );
  tx.pendingHead = { seq: row.seq, hash };
  return { seq: row.seq, hash };
}
