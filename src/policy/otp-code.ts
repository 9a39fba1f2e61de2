/**
 * What a one-time code looks like, and how a refused one is explained. Kept apart from totp.ts, which loads
 * otplib, so that `run --otp` and the prompts can check a code's shape without paying for it at start-up.
 */
export const OTP_DIGITS = 6;

/** People copy codes as "123 456"; spaces are not part of the code. */
export function normalizeCode(code: string): string {
  return code.replace(/\s+/g, "");
}

export function isWellFormedCode(code: string, digits: number = OTP_DIGITS): boolean {
  return new RegExp(`^\\d{${digits}}$`).test(normalizeCode(code));
}

export type CodeRefusal = "not_enrolled" | "invalid" | "replayed" | "throttled";

/** Why a code was not accepted, in the words shown to people. */
export function describeCodeRefusal(reason: string, retryAfterSeconds?: number): string {
  if (reason === "throttled") return `too many wrong codes: try again in ${retryAfterSeconds ?? 900} s`;
  if (reason === "replayed") return "that code was already used: wait for the next one";
  if (reason === "not_enrolled") return "2FA is not enrolled";
  return "the TOTP code is wrong";
}
