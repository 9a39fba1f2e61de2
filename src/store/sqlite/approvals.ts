/**
 * Approval requests filed by `run --wait` and decided from another terminal with `approve` or `deny`.
 * A request keeps everything its approver is shown (the ApprovalRequest) and is bound to its digest; it is
 * used by exactly one execution, and expires. Every read-then-write happens in one BEGIN IMMEDIATE transaction.
 */
import { approvalDigest, type ApprovalRequest } from "../../policy/approval.js";
import { nodeCrypto } from "../../util/builtins.js";
import { canonicalJson } from "../../util/canonical.js";
import { appendAudit } from "./audit.js";
import { nowIso, writeTransaction, type Registry } from "./db.js";
import type { ApprovalStatus, Approval } from "../../domain/records.js";
import type { NewApproval, DecideResult } from "../../domain/records.js";
export type { NewApproval, DecideResult };
export type { ApprovalStatus, Approval };

interface Row {
  id: string;
  tool: string;
  action: string;
  digest: string;
  request: string | null;
  input: string;
  cost_usd: number;
  risk: string;
  needs_otp: number;
  status: ApprovalStatus;
  requested_by: string;
  requested_at: string;
  expires_at: string;
  decided_by: string | null;
  decided_via: string | null;
  decided_at: string | null;
  execution_id: string | null;
}

/**
 * The stored request, when it is the one that was filed: it must hash to the row's digest, and the columns
 * that queries and decisions read (tool, action, input, cost, risk, 2FA) must say the same. A row edited in
 * the database fails here and is never shown or approved.
 */
function verifiedRequest(row: Row): { request: ApprovalRequest } | { problem: string } {
  if (row.request === null)
    return { problem: `approval request ${row.id} was filed by an older toolctl that does not keep the full request; run the action again to file a new one` };
  const edited = { problem: `approval request ${row.id} does not match its digest: it was changed after it was filed` };
  let request: ApprovalRequest;
  try {
    request = JSON.parse(row.request) as ApprovalRequest;
  } catch {
    return edited;
  }
  let inputColumn: unknown;
  try {
    inputColumn = JSON.parse(row.input);
  } catch {
    return edited;
  }
  const agrees =
    approvalDigest(request) === row.digest &&
    request.tool === row.tool &&
    request.action === row.action &&
    request.cost?.usd === row.cost_usd &&
    request.risk === row.risk &&
    request.needsOtp === (row.needs_otp === 1) &&
    canonicalJson(request.details) === canonicalJson(inputColumn);
  return agrees ? { request } : edited;
}

function toApproval(row: Row, now = nowIso()): Approval {
  // Expiry is read, not written: a pending request past its time is expired whether or not anyone looked.
  const status = row.status === "pending" && row.expires_at <= now ? "expired" : row.status;
  const verified = verifiedRequest(row);
  const request = "request" in verified ? verified.request : null;
  return {
    id: row.id,
    tool: row.tool,
    action: row.action,
    digest: row.digest,
    request,
    problem: "problem" in verified ? verified.problem : null,
    input: request ? request.details : null,
    costUsd: row.cost_usd,
    risk: row.risk,
    needsOtp: row.needs_otp === 1,
    status,
    requestedBy: row.requested_by,
    requestedAt: row.requested_at,
    expiresAt: row.expires_at,
    decidedBy: row.decided_by,
    decidedVia: row.decided_via,
    decidedAt: row.decided_at,
    executionId: row.execution_id,
  };
}

export function fileApproval(registry: Registry, filed: NewApproval): Approval {
  const { request } = filed;
  const id = `ap_${nodeCrypto().randomBytes(4).toString("hex")}`;
  const requestedAt = nowIso();
  const expiresAt = new Date(Date.now() + filed.timeoutSeconds * 1000).toISOString();
  writeTransaction(registry, () => {
    registry.db
      .prepare(
        `INSERT INTO approvals (id, tool, action, digest, request, input, cost_usd, risk, needs_otp, status, requested_by, requested_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
      )
      .run(
        id,
        request.tool,
        request.action,
        filed.digest,
        JSON.stringify(request),
        JSON.stringify(request.details),
        request.cost.usd,
        request.risk,
        request.needsOtp ? 1 : 0,
        filed.requestedBy,
        requestedAt,
        expiresAt,
      );
    appendAudit(registry, {
      type: "approval.requested",
      actor: filed.requestedBy,
      tool: request.tool,
      action: request.action,
      status: "pending",
      data: { approval: id, costUsd: request.cost.usd, risk: request.risk, needsOtp: request.needsOtp, target: request.target, expiresAt },
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
    if (current.status !== "pending") return { ok: false, reason: `approval request ${id} is already ${current.status}` };
    if (decision === "approved") {
      if (current.problem) return { ok: false, reason: current.problem };
      if (row.digest !== shownDigest)
        return { ok: false, reason: `approval request ${id} changed while it was being decided: look at it again (toolctl approve ${id})` };
    }
    const decidedAt = nowIso();
    registry.db.prepare("UPDATE approvals SET status = ?, decided_by = ?, decided_via = ?, decided_at = ? WHERE id = ?").run(decision, by, via, decidedAt, id);
    appendAudit(registry, {
      type: `approval.${decision}`,
      actor: by,
      tool: row.tool,
      action: row.action,
      status: decision,
      data: { approval: id, via, costUsd: row.cost_usd, risk: row.risk },
    });
    return { ok: true, approval: { ...current, status: decision, decidedBy: by, decidedVia: via, decidedAt } };
  });
}

/**
 * Uses an approved request for one execution: the digest must match what is about to run (changed input needs
 * a new approval), and a request is used only once. Runs inside the caller's write transaction.
 */
export function consumeApproval(registry: Registry, id: string, digest: string, executionId: string): string | undefined {
  const row = registry.db.prepare("SELECT * FROM approvals WHERE id = ?").get(id) as Row | undefined;
  if (!row) return `approval request ${id} is gone`;
  const current = toApproval(row);
  if (current.status !== "approved") return `approval request ${id} is ${current.status}, not approved`;
  if (row.digest !== digest) return `approval request ${id} was for a different request: a new approval is needed`;
  registry.db.prepare("UPDATE approvals SET status = 'used', execution_id = ? WHERE id = ?").run(executionId, id);
  return undefined;
}
