/**
 * The TOTP rules both backends apply, without the TOTP library: the throttle, the status, the refusals and the
 * audit events of a code check. Each backend runs one check as one serialized write (SQLite: BEGIN IMMEDIATE;
 * PostgreSQL: the registry's advisory lock), so two processes, or two machines, cannot both accept one code nor
 * both slip under the limit.
 *
 * Throttling: at most MAX_FAILURES refused codes (wrong or replayed) in any sliding THROTTLE_WINDOW_MS.
 * While throttled, attempts are refused without looking at the code and are NOT counted as failures: the
 * lockout ends at a time that can be announced (retryAfterSeconds) and endless retries cannot prolong it.
 * A success does not clear earlier failures, so a legitimate use never gives a guesser a fresh budget.
 */
import { PolicyError } from "../../errors.js";
import type { AuditEventInput, PasskeyInfo, TwoFactorStatus, VerifyContext } from "../../domain/records.js";

/** The additional authenticated data for the sealed secret: the row it belongs to. */
export const TOTP_AAD = "totp:1";
export const MAX_FAILURES = 5;
export const THROTTLE_WINDOW_MS = 15 * 60_000;

export const ALREADY_ENROLLED = "2FA is already enrolled; disable it first (toolctl 2fa disable)";

export type VerifyResult =
  { ok: true; step: number } | { ok: false; reason: "not_enrolled" | "invalid" | "replayed" | "throttled"; retryAfterSeconds?: number };

export interface TotpRow {
  sealed_secret: string;
  confirmed: number;
  last_step: number;
  created_at: string;
}

export interface Throttle {
  failures: number;
  throttledUntilMs?: number;
}

/** The throttle from the failures still inside the window (`times`, oldest first). */
export function throttleOf(times: number[]): Throttle {
  if (times.length < MAX_FAILURES) return { failures: times.length };
  // Attempts resume once enough of the oldest failures have aged out to leave room for one more.
  return { failures: times.length, throttledUntilMs: times[times.length - MAX_FAILURES]! + THROTTLE_WINDOW_MS };
}

export function secondsUntil(untilMs: number, nowMs: number): number {
  return Math.max(1, Math.ceil((untilMs - nowMs) / 1000));
}

export function statusOf(row: TotpRow | undefined, throttle: Throttle, passkeys: PasskeyInfo[]): TwoFactorStatus {
  return {
    enrolled: row?.confirmed === 1,
    pending: row !== undefined && row.confirmed !== 1,
    since: row?.created_at ?? null,
    failuresInWindow: throttle.failures,
    maxFailures: MAX_FAILURES,
    windowMinutes: THROTTLE_WINDOW_MS / 60_000,
    throttledUntil: throttle.throttledUntilMs === undefined ? null : new Date(throttle.throttledUntilMs).toISOString(),
    passkeys,
  };
}

/** The audit event of one code check, with what the context says about it. */
export function attemptEvent(context: VerifyContext, type: string, status: string, data: Record<string, unknown>): AuditEventInput {
  return {
    type,
    actor: context.actor,
    tool: context.tool,
    action: context.action,
    executionId: context.executionId,
    status,
    data: { purpose: context.purpose, ...(context.approvalId ? { approvalId: context.approvalId } : {}), ...data },
  };
}

/**
 * Whether the enrolment is in the state an attempt expects (a pending one to confirm, a confirmed one to check
 * against); a confirmed enrolment cannot be confirmed again, which is an error rather than a refused code.
 */
export function enrolmentMatches(row: TotpRow | undefined, expected: "pending" | "confirmed"): row is TotpRow {
  if (expected === "pending" && row?.confirmed === 1) throw new PolicyError("policy_refused", ALREADY_ENROLLED);
  return row !== undefined && (expected === "confirmed") === (row.confirmed === 1);
}

/** The refusal while throttled, and its audit data. */
export function throttledVerdict(before: Throttle & { throttledUntilMs: number }, nowMs: number): { result: VerifyResult; data: Record<string, unknown> } {
  const retryAfterSeconds = secondsUntil(before.throttledUntilMs, nowMs);
  return {
    result: { ok: false, reason: "throttled", retryAfterSeconds },
    data: { reason: "throttled", failuresInWindow: before.failures, retryAfterSeconds },
  };
}

/** The refusal of a wrong or replayed code, given the throttle once this failure is counted, and its audit data. */
export function failedVerdict(reason: "invalid" | "replayed", after: Throttle, nowMs: number): { result: VerifyResult; data: Record<string, unknown> } {
  // Saying when the lockout that this failure started ends spares the caller a pointless retry.
  const retryAfterSeconds = after.throttledUntilMs === undefined ? undefined : secondsUntil(after.throttledUntilMs, nowMs);
  return {
    result: { ok: false, reason, ...(retryAfterSeconds ? { retryAfterSeconds } : {}) },
    data: { reason, failuresInWindow: after.failures, ...(retryAfterSeconds ? { retryAfterSeconds } : {}) },
  };
}
