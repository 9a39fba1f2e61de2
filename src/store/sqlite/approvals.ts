/**
 * Approval requests filed by `run --wait` and decided from another terminal with `approve` or `deny`.
 * A request keeps everything its approver is shown (the ApprovalRequest) and is bound to its digest; it is
 * used by exactly one execution, and expires. Every read-then-write happens in one BEGIN IMMEDIATE transaction.
 */
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
  type ApprovalRow as Row,
} from "../shared/approval-rows.js";
import { appendAudit } from "./audit.js";
import { nowIso, writeTransaction, type Registry } from "./db.js";
import type { ApprovalStatus, Approval } from "../../domain/records.js";
import type { NewApproval, DecideResult } from "../../domain/records.js";
export type { NewApproval, DecideResult };
export type { ApprovalStatus, Approval };

export function fileApproval(registry: Registry, filed: NewApproval): Approval {
  const { request } = filed;
  const id = `ap_${nodeCrypto().randomBytes(4).toString("hex")}`;
  const requestedAt = nowIso();
  const expiresAt = new Date(Date.now() + filed.timeoutSeconds * 1000).toISOString();
  writeTransaction(registry, () => {
    registry.db
      .prepare(`INSERT INTO approvals (${APPROVAL_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(...newApprovalValues(id, filed, requestedAt, expiresAt));
    appendAudit(registry, {
      type: "approval.requested",
      actor: filed.requestedBy,
      tool: request.tool,
      action: request.action,
      status: "pending",
      data: approvalRequestedData(id, filed, expiresAt),
    });
  });
  return getApproval(registry, id)!;
}

export function getApproval(registry: Registry, id: string): Approval | undefined {
  const row = registry.db.prepare("SELECT * FROM approvals WHERE id = ?").get(id) as Row | undefined;
  return row ? toApproval(row) : undefined;
}

export function listApprovals(registry: Registry, all = false): Approval[] {
  const rows = registry.db
    .prepare(`SELECT * FROM approvals ${all ? "" : "WHERE status = 'pending' AND expires_at > ?"} ORDER BY requested_at`)
    .all(...(all ? [] : [nowIso()])) as Row[];
  return rows.map((row) => toApproval(row));
}

/**
 * Approves or denies a pending request. `via` says how: "another terminal", "another terminal with TOTP".
 * An approval names the digest of the request its approver was shown: a request that changed since, or that
 * no longer matches its digest, is not approved. Denying needs no such check.
 */
export function decideApproval(registry: Registry, id: string, decision: "approved" | "denied", by: string, via: string, shownDigest?: string): DecideResult {
  return writeTransaction(registry, () => {
    const row = registry.db.prepare("SELECT * FROM approvals WHERE id = ?").get(id) as Row | undefined;
    if (!row) return { ok: false, reason: `no approval request '${id}'; see: toolctl approvals` };
    const current = toApproval(row);
    const refusal = decisionRefusal(id, row, current, decision, shownDigest);
    if (refusal) return { ok: false, reason: refusal };
    const decidedAt = nowIso();
    const expiresAt = expiresOnceDecided(row, decision, decidedAt);
    registry.db
      .prepare("UPDATE approvals SET status = ?, decided_by = ?, decided_via = ?, decided_at = ?, expires_at = ? WHERE id = ?")
      .run(decision, by, via, decidedAt, expiresAt, id);
    appendAudit(registry, decisionEvent(id, row, decision, by, via, expiresAt));
    return { ok: true, approval: { ...current, status: decision, decidedBy: by, decidedVia: via, decidedAt, expiresAt } };
  });
}

/**
 * Uses an approved request for one execution: the digest must match what is about to run (changed input needs
 * a new approval), and a request is used only once. Runs inside the caller's write transaction.
 */
export function consumeApproval(registry: Registry, id: string, digest: string, executionId: string): string | undefined {
  const row = registry.db.prepare("SELECT * FROM approvals WHERE id = ?").get(id) as Row | undefined;
  const refusal = consumeRefusal(id, row, digest);
  if (refusal) return refusal;
  registry.db.prepare("UPDATE approvals SET status = 'used', execution_id = ? WHERE id = ?").run(executionId, id);
  return undefined;
}
