/**
 * TOTP (RFC 6238) codes, pure: the clock is passed in as `nowMs`, so tests and the registry decide what "now" is.
 * otplib computes each code (HMAC and dynamic truncation); this module owns the window and the replay rule.
 * Verification reports which time step matched: the caller stores the highest accepted step and passes it back
 * as `afterStep`, so a code is never accepted twice (RFC 6238 §5.2), not even later inside the window.
 */
import { generateSecret, generateSync, generateURI } from "otplib";
import { nodeCrypto } from "../util/builtins.js";
import { isWellFormedCode, normalizeCode } from "./otp-code.js";

export type TotpAlgorithm = "sha1" | "sha256" | "sha512";

export interface TotpOptions {
  digits?: number;
  algorithm?: TotpAlgorithm;
  periodSeconds?: number;
  /** Steps accepted on each side of the current one. RFC 6238 §5.2 recommends at most one. */
  windowSteps?: number;
}

/** What enrolment uses, and what authenticator apps assume when the URI names nothing else. */
export const TOTP_DEFAULTS = { digits: 6, algorithm: "sha1", periodSeconds: 30, windowSteps: 1 } as const satisfies Required<TotpOptions>;

/** 20 random bytes, the HMAC-SHA-1 block-size key RFC 4226 §4 recommends (160 bits). */
const SECRET_BYTES = 20;

export type TotpMatch = { ok: true; step: number } | { ok: false; reason: "invalid" | "replayed" };

export function timeStep(nowMs: number, periodSeconds: number = TOTP_DEFAULTS.periodSeconds): number {
  return Math.floor(nowMs / 1000 / periodSeconds);
}

/** A new base32 secret for enrolment. */
export function newTotpSecret(): string {
  return generateSecret({ length: SECRET_BYTES });
}

/** The code for one time step. `secret` is base32 text, or raw key bytes (as in the RFC vectors). */
export function generateTotpForStep(secret: string | Uint8Array, step: number, options: TotpOptions = {}): string {
  const { digits, algorithm, periodSeconds } = { ...TOTP_DEFAULTS, ...options };
  return generateSync({ secret, algorithm, digits, period: periodSeconds, epoch: step * periodSeconds });
}

export function generateTotp(secret: string | Uint8Array, nowMs: number, options: TotpOptions = {}): string {
  return generateTotpForStep(secret, timeStep(nowMs, options.periodSeconds), options);
}

export { isWellFormedCode, normalizeCode };

function equalInConstantTime(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && nodeCrypto().timingSafeEqual(left, right);
}

/**
 * Checks `code` against every step in the window. A step at or below `afterStep` was already used, so a match
 * there is a replay. Every step is compared, with no early exit, so timing does not tell which one matched.
 */
export function verifyTotp(secret: string | Uint8Array, code: string, nowMs: number, options: TotpOptions & { afterStep?: number } = {}): TotpMatch {
  const { digits, periodSeconds, windowSteps } = { ...TOTP_DEFAULTS, ...options };
  const candidate = normalizeCode(code);
  if (!isWellFormedCode(candidate, digits)) return { ok: false, reason: "invalid" };
  const current = timeStep(nowMs, periodSeconds);
  let fresh: number | undefined;
  let isReplay = false;
  for (let step = current - windowSteps; step <= current + windowSteps; step++) {
    if (step < 0) continue;
    if (!equalInConstantTime(generateTotpForStep(secret, step, options), candidate)) continue;
    // Two steps in the window can share a code (p ≈ 10⁻⁶). Taking the highest unused one means the same
    // digits cannot be accepted again for the other step later.
    if (options.afterStep !== undefined && step <= options.afterStep) isReplay = true;
    else fresh = step;
  }
  if (fresh !== undefined) return { ok: true, step: fresh };
  return { ok: false, reason: isReplay ? "replayed" : "invalid" };
}

/** The otpauth:// URI that authenticator apps scan (Key Uri Format); it contains the secret. */
export function otpauthUri(secret: string, account: string, issuer: string): string {
  return generateURI({ issuer, label: account, secret, algorithm: TOTP_DEFAULTS.algorithm, digits: TOTP_DEFAULTS.digits, period: TOTP_DEFAULTS.periodSeconds });
}
