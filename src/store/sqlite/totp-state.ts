/**
 * The TOTP state that needs no TOTP library: whether a code is enrolled and how the throttle stands. Kept apart
 * from twofactor.ts so that opening the store (every command) does not load the TOTP library; the code checks
 * load it when a code is actually checked.
 */
import type { TwoFactorStatus } from "../../domain/records.js";
import { statusOf, throttleOf, THROTTLE_WINDOW_MS, type Throttle, type TotpRow } from "../shared/totp.js";
import type { Registry } from "./db.js";
import { listPasskeys } from "./passkeys.js";
import { passkeyInfo } from "../shared/passkeys.js";

export { MAX_FAILURES, THROTTLE_WINDOW_MS, TOTP_AAD, type TotpRow, type VerifyResult } from "../shared/totp.js";

export function readRow(registry: Registry): TotpRow | undefined {
  return registry.db.prepare("SELECT sealed_secret, confirmed, last_step, created_at FROM totp WHERE id = 1").get() as TotpRow | undefined;
}

/** Failures still inside the window, oldest first, and when the lockout (if any) ends. */
export function readThrottle(registry: Registry, nowMs: number): Throttle {
  return throttleOf(
    registry.db
      .prepare("SELECT at_ms FROM totp_failures WHERE at_ms > ? ORDER BY at_ms")
      .pluck()
      .all(nowMs - THROTTLE_WINDOW_MS) as number[],
  );
}

export function twoFactorStatus(registry: Registry, nowMs: number = Date.now()): TwoFactorStatus {
  return statusOf(readRow(registry), readThrottle(registry, nowMs), listPasskeys(registry).map(passkeyInfo));
}

/** A confirmed enrolment exists: CRITICAL actions need a code. */
export function isEnrolled(registry: Registry): boolean {
  return (registry.db.prepare("SELECT confirmed FROM totp WHERE id = 1").pluck().get() as number | undefined) === 1;
}
