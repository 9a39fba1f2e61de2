/**
 * The team's TOTP enrolment in PostgreSQL, and the `TwoFactorStore` over it. One enrolment serves every machine:
 * its replay guard (`totp.last_step`) and its failures live in the database, and each code check is one
 * serialized write (the registry's advisory lock), so a code is accepted once across all machines and the
 * wrong-code throttle counts every machine's guesses together.
 *
 * The code checks (twofactor.ts) load the TOTP library, which nothing else needs: they are imported when a code is
 * actually checked.
 */
import type { TwoFactorStore } from "../port.js";
import { passkeyInfo, toPasskey, type PasskeyRow } from "../shared/passkeys.js";
import { statusOf, throttleOf, THROTTLE_WINDOW_MS, type Throttle, type TotpRow } from "../shared/totp.js";
import type { PgRegistry, Sql } from "./db.js";

export async function readTotpRow(sql: Sql): Promise<TotpRow | undefined> {
  return sql.one<TotpRow>("SELECT sealed_secret, confirmed, last_step, created_at FROM totp WHERE id = 1");
}

/** Failures still inside the window, oldest first, and when the lockout (if any) ends. */
export async function readThrottle(sql: Sql, nowMs: number): Promise<Throttle> {
  const rows = await sql.query<{ at_ms: number }>("SELECT at_ms FROM totp_failures WHERE at_ms > $1 ORDER BY at_ms", [nowMs - THROTTLE_WINDOW_MS]);
  return throttleOf(rows.map((row) => row.at_ms));
}

export function pgTwoFactor(registry: PgRegistry): TwoFactorStore {
  const checks = () => import("./twofactor.js");
  return {
    isEnrolled: async () => (await registry.one<{ confirmed: number }>("SELECT confirmed FROM totp WHERE id = 1"))?.confirmed === 1,
    status: async (nowMs = Date.now()) => {
      const [row, throttle, passkeys] = await Promise.all([
        readTotpRow(registry),
        readThrottle(registry, nowMs),
        registry.query<PasskeyRow>("SELECT * FROM passkeys ORDER BY created_at, name"),
      ]);
      return statusOf(
        row,
        throttle,
        passkeys.map((passkey) => passkeyInfo(toPasskey(passkey))),
      );
    },
    begin: async (ring, actor) => (await checks()).beginEnrollment(registry, ring, actor),
    confirm: async (ring, code, nowMs, actor) => (await checks()).confirmEnrollment(registry, ring, code, nowMs, actor),
    verify: async (ring, code, nowMs, context) => (await checks()).verifyCode(registry, ring, code, nowMs, context),
    disable: async (ring, code, nowMs, actor) => (await checks()).disable(registry, ring, code, nowMs, actor),
  };
}
