/**
 * The TOTP state that needs no TOTP library: whether a code is enrolled and how the throttle stands. Kept apart
 * from twofactor.ts so that opening the store (every command) does not load the TOTP library; the code checks
 * load it when a code is actually checked.
 */
import type { TwoFactorStatus } from "../../domain/records.js";
import type { Registry } from "./db.js";
import { listPasskeys, passkeyInfo } from "./passkeys.js";

/** The additional authenticated data for the sealed secret: the row it belongs to. */
export const TOTP_AAD = "totp:1";
export const MAX_FAILURES = 5;
export const THROTTLE_WINDOW_MS = 15 * 60_000;

export type VerifyResult =
  { ok: true; step: number } | { ok: false; reason: "not_enrolled" | "invalid" | "replayed" | "throttled"; retryAfterSeconds?: number };

export interface TotpRow {
  sealed_secret: string;
  confirmed: number;
  last_step: number;
  created_at: string;
}

export function readRow(registry: Registry): TotpRow | undefined {
  return registry.db.prepare("SELECT sealed_secret, confirmed, last_step, created_at FROM totp WHERE id = 1").get() as TotpRow | undefined;
}

/** Failures still inside the window, oldest first, and when the lockout (if any) ends. */
export function readThrottle(registry: Registry, nowMs: number): { failures: number; throttledUntilMs?: number } {
  const times = registry.db
    .prepare("SELECT at_ms FROM totp_failures WHERE at_ms > ? ORDER BY at_ms")
    .pluck()
    .all(nowMs - THROTTLE_WINDOW_MS) as number[];
  if (times.length < MAX_FAILURES) return { failures: times.length };
  // Attempts resume once enough of the oldest failures have aged out to leave room for one more.
  return { failures: times.length, throttledUntilMs: times[times.length - MAX_FAILURES]! + THROTTLE_WINDOW_MS };
}

export function twoFactorStatus(registry: Registry, nowMs: number = Date.now()): TwoFactorStatus {
  const row = readRow(registry);
  const throttle = readThrottle(registry, nowMs);
  return {
    enrolled: row?.confirmed === 1,
    pending: row !== undefined && row.confirmed !== 1,
    since: row?.created_at ?? null,
    failuresInWindow: throttle.failures,
    maxFailures: MAX_FAILURES,
    windowMinutes: THROTTLE_WINDOW_MS / 60_000,
    throttledUntil: throttle.throttledUntilMs === undefined ? null : new Date(throttle.throttledUntilMs).toISOString(),
    passkeys: listPasskeys(registry).map(passkeyInfo),
  };
}

/** A confirmed enrolment exists: CRITICAL actions need a code. */
export function isEnrolled(registry: Registry): boolean {
  return (registry.db.prepare("SELECT confirmed FROM totp WHERE id = 1").pluck().get() as number | undefined) === 1;
}
