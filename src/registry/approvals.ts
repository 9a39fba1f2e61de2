/**
 * Approval requests filed by `run --wait` and decided from another terminal with `approve` or `deny`.
 * A request is bound to a digest of tool, action, input and cost, is used by exactly one execution, and
 * expires. Every read-then-write happens in one BEGIN IMMEDIATE transaction.
 */
import { nodeCrypto } from "../util/builtins.js";
import { appendAudit } from "./audit.js";
import { nowIso, writeTransaction, type Registry } from "./db.js";

export type ApprovalStatus = "pending" | "approved" | "denied" | "expired" | "used";

export interface Approval {
  id: string;
  tool: string;
  action: string;
  digest: string;
  input: unknown;
  costUsd: number;
  risk: string;
  needsOtp: boolean;
  status: ApprovalStatus;
  requestedBy: string;
  requestedAt: string;
  expiresAt: string;
  decidedBy: string | null;
  decidedVia: string | null;
  decidedAt: string | null;
  executionId: string | null;
}

interface Row {
  id: string; tool: string; action: string; digest: string; input: string; cost_usd: number; risk: string; needs_otp: number;
  status: ApprovalStatus; requested_by: string; requested_at: string; expires_at: string; decided_by: string | null;
  decided_via: string | null; decided_at: string | null; execution_id: string | null;
}

function toApproval(row: Row, now = nowIso()): Approval {
  // Expiry is read, not written: a pending request past its time is expired whether or not anyone looked.
  const status = row.status === "pending" && row.expires_at <= now ? "expired" : row.status;
  return {
    id: row.id, tool: row.tool, action: row.action, digest: row.digest, input: JSON.parse(row.input), costUsd: row.cost_usd, risk: row.risk,
    needsOtp: row.needs_otp === 1, status, requestedBy: row.requested_by, requestedAt: row.requested_at, expiresAt: row.expires_at,
    decidedBy: row.decided_by, decidedVia: row.decided_via, decidedAt: row.decided_at, executionId: row.execution_id,
  };
}

export type NewApproval = Pick<Approval, "tool" | "action" | "digest" | "input" | "costUsd" | "risk" | "needsOtp" | "requestedBy"> & {
  timeoutSeconds: number;
};

export function fileApproval(registry: Registry, request: NewApproval): Approval {
  const id = `ap_${nodeCrypto().randomBytes(4).toString("hex")}`;
  const requestedAt = nowIso();
  const expiresAt = new Date(Date.now() + request.timeoutSeconds * 1000).toISOString();
  writeTransaction(registry, () => {
    registry.db
      .prepare(
        `INSERT INTO approvals (id, tool, action, digest, input, cost_usd, risk, needs_otp, status, requested_by, requested_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
      )
      .run(id, request.tool, request.action, request.digest, JSON.stringify(request.input), request.costUsd, request.risk, request.needsOtp ? 1 : 0,
        request.requestedBy, requestedAt, expiresAt);
    appendAudit(registry, {
      type: "approval.requested", actor: request.requestedBy, tool: request.tool, action: request.action, status: "pending",
      data: { approval: id, costUsd: request.costUsd, risk: request.risk, needsOtp: request.needsOtp, expiresAt },
    });
  });
  return getApproval(registry, id)!;
}

export function getApproval(registry: Registry, id: string): Approval | undefined {
  const row = registry.db.prepare("SELECT * FROM approvals WHERE id = ?").get(id) as Row | undefined;
  return row ? toApproval(row) : undefined;
}

export function listApprovals(registry: Registry, all = false): Approval[] {
  const rows = registry.db.prepare(`SELECT * FROM approvals ${all ? "" : "WHERE status = 'pending' AND expires_at > ?"} ORDER BY requested_at`)
    .all(...(all ? [] : [nowIso()])) as Row[];
  return rows.map((row) => toApproval(row));
}

export type DecideResult = { ok: true; approval: Approval } | { ok: false; reason: string };

/** Approves or denies a pending request. `via` says how: "another terminal", "another terminal with TOTP". */
export function decideApproval(registry: Registry, id: string, decision: "approved" | "denied", by: string, via: string): DecideResult {
  return writeTransaction(registry, () => {
    const row = registry.db.prepare("SELECT * FROM approvals WHERE id = ?").get(id) as Row | undefined;
    if (!row) return { ok: false, reason: `no approval request '${id}'; see: toolctl approvals` };
    const current = toApproval(row);
    if (current.status !== "pending") return { ok: false, reason: `approval request ${id} is already ${current.status}` };
    registry.db.prepare("UPDATE approvals SET status = ?, decided_by = ?, decided_via = ?, decided_at = ? WHERE id = ?").run(decision, by, via, nowIso(), id);
    appendAudit(registry, {
      type: `approval.${decision}`, actor: by, tool: row.tool, action: row.action, status: decision,
      data: { approval: id, via, costUsd: row.cost_usd, risk: row.risk },
    });
    return { ok: true, approval: { ...current, status: decision, decidedBy: by, decidedVia: via } };
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
  if (row.digest !== digest) return `approval request ${id} was for different input or cost: a new approval is needed`;
  registry.db.prepare("UPDATE approvals SET status = 'used', execution_id = ? WHERE id = ?").run(executionId, id);
  return undefined;
}
