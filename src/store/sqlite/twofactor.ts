/**
 * TOTP enrolment and verification state. Each CLI run is a new process, so the replay guard (`totp.last_step`)
 * and the failure count (`totp_failures`) live here, and every check reads and writes them inside one
 * BEGIN IMMEDIATE transaction: two processes cannot both accept one code, nor both slip under the limit. The
 * rules themselves (throttle, refusals, audit events) are shared with PostgreSQL: store/shared/totp.ts.
 */
import { PolicyError } from "../../errors.js";
import { verifyTotp, newTotpSecret } from "../../policy/totp.js";
import { ringForSealing, seal, unsealFresh, type KeyRing } from "../../secrets/crypto.js";
import { appendAudit } from "./audit.js";
import { writeTransaction, type Registry } from "./db.js";
import type { VerifyContext, TwoFactorStatus } from "../../domain/records.js";
import { readRow, readThrottle } from "./totp-state.js";
import {
  ALREADY_ENROLLED,
  attemptEvent,
  enrolmentMatches,
  failedVerdict,
  throttledVerdict,
  THROTTLE_WINDOW_MS,
  TOTP_AAD,
  type VerifyResult,
} from "../shared/totp.js";
export type { VerifyContext, TwoFactorStatus, VerifyResult };
export { isEnrolled, MAX_FAILURES, THROTTLE_WINDOW_MS, TOTP_AAD, twoFactorStatus } from "./totp-state.js";

/**
 * Starts an enrolment with a new secret, stored sealed and unconfirmed; an earlier unconfirmed one is replaced.
 * Returns the base32 secret, which the caller shows once so it can go into an authenticator app.
 */
export function beginEnrollment(registry: Registry, ring: KeyRing, actor = "user"): { secret: string; startedAt: string } {
  const secret = newTotpSecret();
  const startedAt = new Date().toISOString();
  return writeTransaction(registry, () => {
    const existing = readRow(registry);
    if (existing?.confirmed) throw new PolicyError("policy_refused", ALREADY_ENROLLED);
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
    const audit = (type: string, status: string, data: Record<string, unknown>) => appendAudit(registry, attemptEvent(context, type, status, data));
    registry.db.prepare("DELETE FROM totp_failures WHERE at_ms <= ?").run(nowMs - THROTTLE_WINDOW_MS);

    const row = readRow(registry);
    if (!enrolmentMatches(row, expected)) {
      audit("2fa.failed", "not_enrolled", { reason: "not_enrolled" });
      return { ok: false, reason: "not_enrolled" };
    }

    const before = readThrottle(registry, nowMs);
    if (before.throttledUntilMs !== undefined) {
      const { result, data } = throttledVerdict({ ...before, throttledUntilMs: before.throttledUntilMs }, nowMs);
      audit("2fa.throttled", "throttled", data);
      return result;
    }

    const match = verifyTotp(unsealFresh(registry.home, ring, row.sealed_secret, TOTP_AAD), code, nowMs, { afterStep: row.last_step });
    if (!match.ok) {
      registry.db.prepare("INSERT INTO totp_failures (at_ms) VALUES (?)").run(nowMs);
      const { result, data } = failedVerdict(match.reason, readThrottle(registry, nowMs), nowMs);
      audit("2fa.failed", match.reason, data);
      return result;
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
