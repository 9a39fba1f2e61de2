/**
 * TOTP enrolment and code checks against the team database, loaded on demand by twofactor.ts. Each check is one
 * serialized write: the enrolment, the throttle, the code, the replay guard, then the failure row or the new last
 * step and the audit event commit together, with every other machine's checks queued behind the registry's
 * advisory lock. The rules are those of
 * the SQLite registry (store/shared/totp.ts).
 *
 * The secret is sealed with this machine's master key, as in a home's own registry: machines that check codes
 * must hold that key (TOOLCTL_MASTER_KEY shared by the team), or they cannot open the secret.
 */
import { verifyTotp, newTotpSecret } from "../../policy/totp.js";
import { ringForSealing, seal, unsealFresh, type KeyRing } from "../../secrets/crypto.js";
import type { VerifyContext } from "../../domain/records.js";
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
import { PolicyError } from "../../errors.js";
import { appendAudit } from "./audit-append.js";
import type { PgRegistry, Tx } from "./db.js";
import { readThrottle, readTotpRow } from "./totp-state.js";

/** Starts an enrolment with a new secret, stored sealed and unconfirmed; an earlier unconfirmed one is replaced. */
export async function beginEnrollment(registry: PgRegistry, ring: KeyRing, actor = "user"): Promise<{ secret: string; startedAt: string }> {
  const secret = newTotpSecret();
  const startedAt = new Date().toISOString();
  return registry.write(async (tx) => {
    const existing = await readTotpRow(tx);
    if (existing?.confirmed) throw new PolicyError("policy_refused", ALREADY_ENROLLED);
    // Sealed under the write lock: a key rotation's last step (dropping unused keys) takes it too.
    const sealed = seal(ringForSealing(registry.home, ring), secret, TOTP_AAD);
    await tx.run(
      `INSERT INTO totp (id, sealed_secret, confirmed, last_step, created_at) VALUES (1, $1, 0, -1, $2)
       ON CONFLICT (id) DO UPDATE SET sealed_secret = excluded.sealed_secret, confirmed = 0, last_step = -1, created_at = excluded.created_at`,
      [sealed, startedAt],
    );
    await appendAudit(registry, tx, { type: "2fa.enrollment_started", actor, status: "pending", data: { replacedPending: existing !== undefined } });
    return { secret, startedAt };
  });
}

/** One attempt, start to finish, in one serialized write. Refusals are committed too: they are results, not errors. */
function attempt(
  registry: PgRegistry,
  ring: KeyRing,
  code: string,
  nowMs: number,
  context: VerifyContext,
  expected: "pending" | "confirmed",
  onSuccess: (tx: Tx, step: number) => Promise<void>,
): Promise<VerifyResult> {
  return registry.write(async (tx) => {
    const audit = (type: string, status: string, data: Record<string, unknown>) => appendAudit(registry, tx, attemptEvent(context, type, status, data));
    await tx.run("DELETE FROM totp_failures WHERE at_ms <= $1", [nowMs - THROTTLE_WINDOW_MS]);

    const row = await readTotpRow(tx);
    if (!enrolmentMatches(row, expected)) {
      await audit("2fa.failed", "not_enrolled", { reason: "not_enrolled" });
      return { ok: false, reason: "not_enrolled" };
    }

    const before = await readThrottle(tx, nowMs);
    if (before.throttledUntilMs !== undefined) {
      const { result, data } = throttledVerdict({ ...before, throttledUntilMs: before.throttledUntilMs }, nowMs);
      await audit("2fa.throttled", "throttled", data);
      return result;
    }

    const match = verifyTotp(unsealFresh(registry.home, ring, row.sealed_secret, TOTP_AAD), code, nowMs, { afterStep: row.last_step });
    if (!match.ok) {
      await tx.run("INSERT INTO totp_failures (at_ms) VALUES ($1)", [nowMs]);
      const { result, data } = failedVerdict(match.reason, await readThrottle(tx, nowMs), nowMs);
      await audit("2fa.failed", match.reason, data);
      return result;
    }

    await tx.run("UPDATE totp SET last_step = $1 WHERE id = 1", [match.step]);
    await audit("2fa.verified", "ok", { step: match.step });
    await onSuccess(tx, match.step);
    return { ok: true, step: match.step };
  });
}

/** Confirms a pending enrolment with its first code; from then on CRITICAL actions need a code, on every machine. */
export function confirmEnrollment(registry: PgRegistry, ring: KeyRing, code: string, nowMs: number, actor = "user"): Promise<VerifyResult> {
  return attempt(registry, ring, code, nowMs, { actor, purpose: "enroll" }, "pending", async (tx) => {
    const since = new Date(nowMs).toISOString();
    await tx.run("UPDATE totp SET confirmed = 1, created_at = $1 WHERE id = 1", [since]);
    await appendAudit(registry, tx, { type: "2fa.enrolled", actor, status: "enrolled", data: { since } });
  });
}

/** Checks a code for an action or approval. Only a confirmed enrolment counts. */
export function verifyCode(registry: PgRegistry, ring: KeyRing, code: string, nowMs: number, context: VerifyContext): Promise<VerifyResult> {
  return attempt(registry, ring, code, nowMs, context, "confirmed", async () => undefined);
}

/** Removes the enrolment; needs a valid code, under the same replay and throttle rules. */
export function disable(registry: PgRegistry, ring: KeyRing, code: string, nowMs: number, actor = "user"): Promise<VerifyResult> {
  return attempt(registry, ring, code, nowMs, { actor, purpose: "disable" }, "confirmed", async (tx) => {
    await tx.run("DELETE FROM totp WHERE id = 1");
    await appendAudit(registry, tx, { type: "2fa.disabled", actor, status: "disabled", data: {} });
  });
}
