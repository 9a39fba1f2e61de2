/**
 * The team's TOTP state that needs no TOTP library: the enrolment row, the throttle, the status. Read by every
 * command that opens the store; the code checks (totp-checks.ts) are loaded only when a code is checked.
 */
import type { TwoFactorStatus } from "../../domain/records.js";
import { passkeyInfo, toPasskey, type PasskeyRow } from "../shared/passkeys.js";
import { statusOf, throttleOf, THROTTLE_WINDOW_MS, type Throttle, type TotpRow } from "../shared/totp.js";
import type { Sql } from "./db.js";

export async function readTotpRow(sql: Sql): Promise<TotpRow | undefined> {
  return sql.one<TotpRow>("SELECT sealed_secret, confirmed, last_step, created_at FROM totp WHERE id = 1");
}

/** Failures still inside the window, oldest first, and when the lockout (if any) ends. */
export async function readThrottle(sql: Sql, nowMs: number): Promise<Throttle> {
  const rows = await sql.query<{ at_ms: number }>("SELECT at_ms FROM totp_failures WHERE at_ms > $1 ORDER BY at_ms", [nowMs - THROTTLE_WINDOW_MS]);
  return throttleOf(rows.map((row) => row.at_ms));
}

/** A confirmed enrolment exists: CRITICAL actions need a code, on every machine. */
export async function isEnrolled(sql: Sql): Promise<boolean> {
  return (await sql.one<{ confirmed: number }>("SELECT confirmed FROM totp WHERE id = 1"))?.confirmed === 1;
}

export async function twoFactorStatus(sql: Sql, nowMs: number = Date.now()): Promise<TwoFactorStatus> {
  const [row, throttle, passkeys] = await Promise.all([
    readTotpRow(sql),
    readThrottle(sql, nowMs),
    sql.query<PasskeyRow>("SELECT * FROM passkeys ORDER BY created_at, name"),
  ]);
  return statusOf(
    row,
    throttle,
    passkeys.map((passkey) => passkeyInfo(toPasskey(passkey))),
  );
}
