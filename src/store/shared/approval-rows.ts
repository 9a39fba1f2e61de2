/**
 * Approval requests as both backends store them: the row, the check that it is still the request that was filed,
 * and its mapping to an `Approval` (expiry is read, not written).
 */
import { approvalDigest, approvedTooLongAgo, type ApprovalRequest } from "../../policy/approval.js";
import { canonicalJson } from "../../util/canonical.js";
import { nowIso } from "../../util/ids.js";
import type { Approval, ApprovalStatus, AuditEventInput, NewApproval } from "../../domain/records.js";

export interface ApprovalRow {
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
export function verifiedRequest(row: ApprovalRow): { request: ApprovalRequest } | { problem: string } {
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

export function toApproval(row: ApprovalRow, now = nowIso()): Approval {
  // Expiry is read, not written: a pending request past its time is expired whether or not anyone looked, and so is
  // an approval not used in time (approving moves `expires_at`: see `expiresOnceDecided`).
  const status = (row.status === "pending" || row.status === "approved") && row.expires_at <= now ? "expired" : row.status;
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

/** The columns of a newly filed request, in the order of APPROVAL_INSERT's parameters. */
export const APPROVAL_INSERT_COLUMNS = "id, tool, action, digest, request, input, cost_usd, risk, needs_otp, status, requested_by, requested_at, expires_at";

export function newApprovalValues(id: string, filed: NewApproval, requestedAt: string, expiresAt: string): unknown[] {
  const { request } = filed;
  return [
    id,
    request.tool,
    request.action,
    filed.digest,
    JSON.stringify(request),
    JSON.stringify(request.details),
    request.cost.usd,
    request.risk,
    request.needsOtp ? 1 : 0,
    "pending",
    filed.requestedBy,
    requestedAt,
    expiresAt,
  ];
}

/** The `approval.requested` event of a newly filed request. */
export function approvalRequestedData(id: string, filed: NewApproval, expiresAt: string): Record<string, unknown> {
  const { request } = filed;
  return { approval: id, costUsd: request.cost.usd, risk: request.risk, needsOtp: request.needsOtp, target: request.target, expiresAt };
}

/** Why a pending request cannot be decided so, or undefined when it can. */
export function decisionRefusal(id: string, row: ApprovalRow, current: Approval, decision: "approved" | "denied", shownDigest?: string): string | undefined {
  if (current.status !== "pending") return `approval request ${id} is already ${current.status}`;
  if (decision === "approved") {
    if (current.problem) return current.problem;
    if (row.digest !== shownDigest) return `approval request ${id} changed while it was being decided: look at it again (toolctl approve ${id})`;
  }
  return undefined;
}

/**
 * When a request expires once decided: an approval may be used for as long as the request could wait for it
 * (the approval timeout it was filed with), counted from the decision, so one given at the last moment can still
 * be used and one left unused does not stay good forever. A denial keeps the request's time.
 */
export function expiresOnceDecided(row: ApprovalRow, decision: "approved" | "denied", decidedAt: string): string {
  if (decision === "denied") return row.expires_at;
  return new Date(Date.parse(decidedAt) + Math.max(0, Date.parse(row.expires_at) - Date.parse(row.requested_at))).toISOString();
}

/** Why an approval cannot be used by the run about to start, or undefined when it can (see `consumeApproval`). */
export function consumeRefusal(id: string, row: ApprovalRow | undefined, digest: string): string | undefined {
  if (!row) return `approval request ${id} is gone`;
  const current = toApproval(row);
  if (current.status === "expired" && current.decidedAt !== null) return `${approvedTooLongAgo(current)}: a new approval is needed`;
  if (current.status !== "approved") return `approval request ${id} is ${current.status}, not approved`;
  if (row.digest !== digest) return `approval request ${id} was for a different request: a new approval is needed`;
  return undefined;
}

/** The audit event of a decision on request `id`. */
export function decisionEvent(id: string, row: ApprovalRow, decision: "approved" | "denied", by: string, via: string, expiresAt: string): AuditEventInput {
  return {
    type: `approval.${decision}`,
    actor: by,
    tool: row.tool,
    action: row.action,
    status: decision,
    data: { approval: id, via, costUsd: row.cost_usd, risk: row.risk, ...(decision === "approved" ? { usableUntil: expiresAt } : {}) },
  };
}
