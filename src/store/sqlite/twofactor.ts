/**
 * TOTP enrolment and verification state. Each CLI run is a new process, so the replay guard (`totp.last_step`)
 * and the failure count (`totp_failures`) live here, and every check reads and writes them inside one
 * BEGIN IMMEDIATE transaction: two processes cannot both accept one code, nor both slip under the limit.
 *
 * Throttling: at most MAX_FAILURES refused codes (wrong or replayed) in any sliding THROTTLE_WINDOW_MS.
 * While throttled, attempts are refused without looking at the code and are NOT counted as failures: the
 * lockout ends at a time that can be announced (retryAfterSeconds) and endless retries cannot prolong it.
 * A success does not clear earlier failures, so a legitimate use never gives a guesser a fresh budget.
 */
import { PolicyError } from "../../errors.js";
import { verifyTotp, newTotpSecret } from "../../policy/totp.js";
import { ringForSealing, seal, unsealFresh, type KeyRing } from "../../secrets/crypto.js";
import { appendAudit } from "./audit.js";
import { writeTransaction, type Registry } from "./db.js";
import type { VerifyContext, TwoFactorStatus } from "../../domain/records.js";
import { readRow, readThrottle, THROTTLE_WINDOW_MS, TOTP_AAD, type VerifyResult } from "./totp-state.js";
export type { VerifyContext, TwoFactorStatus, VerifyResult };
export { isEnrolled, MAX_FAILURES, THROTTLE_WINDOW_MS, TOTP_AAD, twoFactorStatus } from "./totp-state.js";

function secondsUntil(untilMs: number, nowMs: number): number {
  return Math.max(1, Math.ceil((untilMs - nowMs) / 1000));
}

/**
 * Starts an enrolment with a new secret, stored sealed and unconfirmed; an earlier unconfirmed one is replaced.
 * Returns the base32 secret, which the caller shows once so it can go into an authenticator app.
 */
export function beginEnrollment(registry: Registry, ring: KeyRing, actor = "user"): { secret: string; startedAt: string } {
  const secret = newTotpSecret();
  const startedAt = new Date().toISOString();
  return writeTransaction(registry, () => {
    const existing = readRow(registry);
    if (existing?.confirmed) throw new PolicyError("policy_refused", "2FA is already enrolled; disable it first (toolctl 2fa disable)");
    registry.db
      .prepare("INSERT OR REPLACE INTO totp (id, sealed_secret, confirmed, last_step, created_at) VALUES (1, ?, 0, -1, ?)")
      .run(seal(ringForSealing(registry.home, ring), secret, TOTP_AAD), startedAt);
    appendAudit(registry, { type: "2fa.enrollment_started", actor, status: "pending", data: { replacedPending: existing !== undefined } });
    return { secret, startedAt };
  });
}

/**
 * One attempt, start to finish, under the write lock: enrolment state, throttle, code, replay guard, then the
 * failure row or the new last step, and the audit event. Refusals are committed too: they are results, not errors.
 */
function attempt(
  registry: Registry,
  ring: KeyRing,
  code: string,
  nowMs: number,
  context: VerifyContext,
  expected: "pending" | "confirmed",
  onSuccess: (step: number) => void,
): VerifyResult {
  return writeTransaction(registry, () => {
    const audit = (type: string, status: string, data: Record<string, unknown>) =>
      appendAudit(registry, {
        type,
        actor: context.actor,
        tool: context.tool,
        action: context.action,
        executionId: context.executionId,
        status,
        data: { purpose: context.purpose, ...(context.approvalId ? { approvalId: context.approvalId } : {}), ...data },
      });
    registry.db.prepare("DELETE FROM totp_failures WHERE at_ms <= ?").run(nowMs - THROTTLE_WINDOW_MS);

    const row = readRow(registry);
    if (expected === "pending" && row?.confirmed) throw new PolicyError("policy_refused", "2FA is already enrolled; disable it first (toolctl 2fa disable)");
    if (!row || (expected === "confirmed") !== (row.confirmed === 1)) {
      audit("2fa.failed", "not_enrolled", { reason: "not_enrolled" });
      return { ok: false, reason: "not_enrolled" };
    }

    const before = readThrottle(registry, nowMs);
    if (before.throttledUntilMs !== undefined) {
      const retryAfterSeconds = secondsUntil(before.throttledUntilMs, nowMs);
      audit("2fa.throttled", "throttled", { reason: "throttled", failuresInWindow: before.failures, retryAfterSeconds });
      return { ok: false, reason: "throttled", retryAfterSeconds };
    }

    const match = verifyTotp(unsealFresh(registry.home, ring, row.sealed_secret, TOTP_AAD), code, nowMs, { afterStep: row.last_step });
    if (!match.ok) {
      registry.db.prepare("INSERT INTO totp_failures (at_ms) VALUES (?)").run(nowMs);
      const after = readThrottle(registry, nowMs);
      // Saying when the lockout that this failure started ends spares the caller a pointless retry.
      const retryAfterSeconds = after.throttledUntilMs === undefined ? undefined : secondsUntil(after.throttledUntilMs, nowMs);
      audit("2fa.failed", match.reason, { reason: match.reason, failuresInWindow: after.failures, ...(retryAfterSeconds ? { retryAfterSeconds } : {}) });
      return { ok: false, reason: match.reason, ...(retryAfterSeconds ? { retryAfterSeconds } : {}) };
    }

    registry.db.prepare("UPDATE totp SET last_step = ? WHERE id = 1").run(match.step);
    audit("2fa.verified", "ok", { step: match.step });
    onSuccess(match.step);
    return { ok: true, step: match.step };
  });
}

/** Confirms a pending enrolment with its first code; from then on CRITICAL actions need a code. */
export function confirmEnrollment(registry: Registry, ring: KeyRing, code: string, nowMs: number, actor = "user"): VerifyResult {
  return attempt(registry, ring, code, nowMs, { actor, purpose: "enroll" }, "pending", () => {
    const since = new Date(nowMs).toISOString();
    registry.db.prepare("UPDATE totp SET confirmed = 1, created_at = ? WHERE id = 1").run(since);
    appendAudit(registry, { type: "2fa.enrolled", actor, status: "enrolled", data: { since } });
  });
}

/** Checks a code for an action or approval. Only a confirmed enrolment counts. */
export function verifyCode(registry: Registry, ring: KeyRing, code: string, nowMs: number, context: VerifyContext): VerifyResult {
  return attempt(registry, ring, code, nowMs, context, "confirmed", () => undefined);
}

/** Removes the enrolment; needs a valid code, under the same replay and throttle rules. */
export function disable(registry: Registry, ring: KeyRing, code: string, nowMs: number, actor = "user"): VerifyResult {
  return attempt(registry, ring, code, nowMs, { actor, purpose: "disable" }, "confirmed", () => {
    registry.db.prepare("DELETE FROM totp WHERE id = 1").run();
    appendAudit(registry, { type: "2fa.disabled", actor, status: "disabled", data: {} });
  });
}
