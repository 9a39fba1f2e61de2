/**
 * The `TwoFactorStore` of a team database. One enrolment serves every machine: its replay guard
 * (`totp.last_step`) and its failures live in the database, and each code check is one serialized write (the
 * registry's advisory lock), so a code is accepted once across all machines and the wrong-code throttle counts
 * every machine's guesses together.
 *
 * The code checks (totp-checks.ts) load the TOTP library, which nothing else needs: they are imported when a
 * code is actually checked.
 */
import type { TwoFactorStore } from "../port.js";
import type { PgRegistry } from "./db.js";
import { isEnrolled, twoFactorStatus } from "./totp-state.js";

export function pgTwoFactor(registry: PgRegistry): TwoFactorStore {
  const checks = () => import("./totp-checks.js");
  return {
    isEnrolled: () => isEnrolled(registry),
    status: (nowMs) => twoFactorStatus(registry, nowMs),
    begin: async (ring, actor) => (await checks()).beginEnrollment(registry, ring, actor),
    confirm: async (ring, code, nowMs, actor) => (await checks()).confirmEnrollment(registry, ring, code, nowMs, actor),
    verify: async (ring, code, nowMs, context) => (await checks()).verifyCode(registry, ring, code, nowMs, context),
    disable: async (ring, code, nowMs, actor) => (await checks()).disable(registry, ring, code, nowMs, actor),
  };
}
