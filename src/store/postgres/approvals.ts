/**
 * Approval requests in the team database, as sqlite/approvals.ts keeps them: filed on one machine, decided from
 * any other, used by exactly one execution whoever starts it (the use happens in the intent's serialized
 * transaction, see index.ts `started`).
 */
import type { Approval, DecideResult, NewApproval } from "../../domain/records.js";
import { nodeCrypto } from "../../util/builtins.js";
import {
  APPROVAL_INSERT_COLUMNS,
  approvalRequestedData,
  consumeRefusal,
  decisionEvent,
  decisionRefusal,
  expiresOnceDecided,
  newApprovalValues,
  toApproval,
  type ApprovalRow,
} from "../shared/approval-rows.js";
import { appendAudit } from "./audit-append.js";
import { nowIso, type PgRegistry, type Sql, type Tx } from "./db.js";

export async function fileApproval(registry: PgRegistry, filed: NewApproval): Promise<Approval> {
  const { request } = filed;
  const id = `ap_${nodeCrypto().randomBytes(4).toString("hex")}`;
  const requestedAt = nowIso();
  const expiresAt = new Date(Date.now() + filed.timeoutSeconds * 1000).toISOString();
  await registry.write(async (tx) => {
    const values = newApprovalValues(id, filed, requestedAt, expiresAt);
    await tx.run(`INSERT INTO approvals (${APPROVAL_INSERT_COLUMNS}) VALUES (${values.map((_, i) => `$${i + 1}`).join(", ")})`, values);
    await appendAudit(registry, tx, {
      type: "approval.requested",
      actor: filed.requestedBy,
      tool: request.tool,
      action: request.action,
      status: "pending",
      data: approvalRequestedData(id, filed, expiresAt),
    });
  });
  return (await getApproval(registry, id))!;
}

export async function getApproval(sql: Sql, id: string): Promise<Approval | undefined> {
  const row = await sql.one<ApprovalRow>("SELECT * FROM approvals WHERE id = $1", [id]);
  return row ? toApproval(row) : undefined;
}

export async function listApprovals(sql: Sql, all = false): Promise<Approval[]> {
  const rows = all
    ? await sql.query<ApprovalRow>("SELECT * FROM approvals ORDER BY requested_at")
    : await sql.query<ApprovalRow>("SELECT * FROM approvals WHERE status = 'pending' AND expires_at > $1 ORDER BY requested_at", [nowIso()]);
  return rows.map((row) => toApproval(row));
}

/** Approves or denies a pending request (see sqlite/approvals.ts `decideApproval`). */
export function decideApproval(
  registry: PgRegistry,
  id: string,
  decision: "approved" | "denied",
  by: string,
  via: string,
  shownDigest?: string,
): Promise<DecideResult> {
  return registry.write(async (tx): Promise<DecideResult> => {
    const row = await tx.one<ApprovalRow>("SELECT * FROM approvals WHERE id = $1", [id]);
    if (!row) return { ok: false, reason: `no approval request '${id}'; see: toolctl approvals` };
    const current = toApproval(row);
    const refusal = decisionRefusal(id, row, current, decision, shownDigest);
    if (refusal) return { ok: false, reason: refusal };
    const decidedAt = nowIso();
    const expiresAt = expiresOnceDecided(row, decision, decidedAt);
    await tx.run("UPDATE approvals SET status = $1, decided_by = $2, decided_via = $3, decided_at = $4, expires_at = $5 WHERE id = $6", [
      decision,
      by,
      via,
      decidedAt,
      expiresAt,
      id,
    ]);
    await appendAudit(registry, tx, decisionEvent(id, row, decision, by, via, expiresAt));
    return { ok: true, approval: { ...current, status: decision, decidedBy: by, decidedVia: via, decidedAt, expiresAt } };
  });
}

/**
 * Uses an approved request for one execution, inside the caller's serialized transaction; the update only applies
 * to a row still `approved`, so even a writer that skipped the lock could not use it twice.
 */
export async function consumeApproval(tx: Tx, id: string, digest: string, executionId: string): Promise<string | undefined> {
  const row = await tx.one<ApprovalRow>("SELECT * FROM approvals WHERE id = $1 FOR UPDATE", [id]);
  const refusal = consumeRefusal(id, row, digest);
  if (refusal) return refusal;
  const used = await tx.run("UPDATE approvals SET status = 'used', execution_id = $1 WHERE id = $2 AND status = 'approved'", [executionId, id]);
  return used === 1 ? undefined : `approval request ${id} is used, not approved`;
}
