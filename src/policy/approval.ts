/**
 * Whether a human must approve, and whether a TOTP code is needed, from the risk, the cost and the config
 * (PRODUCT.md's table; the seeds' `require_approval_for_paid_actions` and `require_2fa_above_usd`).
 */
import type { ActionSpec, RiskLevel } from "../domain/manifest.js";
import { digestOf } from "../util/canonical.js";
import type { ApprovalRequest } from "../domain/approval-request.js";

/** Kept in the domain (approvals are stored with it); exported here too, beside the functions that compute it. */
export type { ApprovalRequest };

export function approvalDigest(request: ApprovalRequest): string {
  return digestOf(request);
}

export interface ApprovalNeed {
  /** A human must say yes. */
  required: boolean;
  /** A TOTP code is needed as well. */
  twoFactor: boolean;
}

export interface ApprovalSettings {
  paidActions: boolean;
  twoFactorAboveUsd: number;
}

export function approvalNeeded(action: Pick<ActionSpec, "approval">, risk: RiskLevel, costUsd: number, settings: ApprovalSettings): ApprovalNeed {
  const twoFactor = risk === "CRITICAL" || costUsd > settings.twoFactorAboveUsd;
  const required = twoFactor || action.approval === "always" || (settings.paidActions && risk !== "LOW");
  return { required, twoFactor };
}

export interface LimitSettings {
  perActionUsd: number;
  dailyUsd: number;
}

/**
 * Today's spend plus this cost over the daily limit: the refusal, or undefined when it fits. A $0 action adds
 * nothing to the day, so it is never refused, even when the day is already over (the limit was lowered since).
 */
export function overDailyLimit(costUsd: number, afterUsd: number, limits: LimitSettings): string | undefined {
  if (costUsd === 0 || afterUsd <= limits.dailyUsd) return undefined;
  return `estimated $${costUsd.toFixed(2)} would take today's spend to $${afterUsd.toFixed(2)}, over the daily limit of $${limits.dailyUsd.toFixed(2)} (see: toolctl budget)`;
}

/** The per-action limit, checked before anyone is asked: an action over it never runs, even with --yes. */
export function overPerActionLimit(costUsd: number, limits: LimitSettings): string | undefined {
  return costUsd > limits.perActionUsd ? `estimated $${costUsd.toFixed(2)} is over the per-action limit of $${limits.perActionUsd.toFixed(2)}` : undefined;
}

/** What an approval left unused until it expired says. */
export function approvedTooLongAgo(approval: { id: string; expiresAt: string }): string {
  return `approval request ${approval.id} was approved but not used before it expired (${approval.expiresAt})`;
}
