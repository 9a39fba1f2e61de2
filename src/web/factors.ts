/**
 * The second factor the page asks for before it approves anything. A session alone never approves: whoever
 * holds the browser (or a script that found the cookie) still needs something only the person has. TOTP is the
 * first kind; another (a passkey) is one more entry in FACTORS with its own form fields and check.
 */
import { isWellFormedCode, OTP_DIGITS, type Approval, type Toolctl } from "../api/index.js";
import { UsageError } from "../errors.js";
import { html, type Html } from "./html.js";

/** How the page records a decision made here, for the audit log; the API adds the factor ("with TOTP"). */
export const VIA = "approval page";

export type Readiness = { ready: true } | { ready: false; why: string; command: string };

export interface SecondFactor {
  /** Sent back by the form as `factor`. */
  kind: string;
  /** Whether it can be used now; when not, why and the command that sets it up. */
  readiness(toolctl: Toolctl): Promise<Readiness>;
  /** The fields it adds to an approve form. */
  fields(id: string): Html;
  /** Approves `id` as shown (`digest`) with what the form sent; a refusal is a ToolctlError, and approves nothing. */
  approve(toolctl: Toolctl, id: string, digest: string, form: URLSearchParams): Promise<Approval>;
}

const totp: SecondFactor = {
  kind: "totp",
  async readiness(toolctl) {
    const status = await toolctl.twoFactorStatus();
    if (status.enrolled) return { ready: true };
    return { ready: false, why: "2FA is not enrolled: approving on this page needs a TOTP code from your authenticator app.", command: "toolctl 2fa enroll" };
  },
  fields(id) {
    return html`<label for="otp-${id}">TOTP code</label>
      <input
        id="otp-${id}"
        name="otp"
        inputmode="numeric"
        autocomplete="one-time-code"
        pattern="[0-9 ]{${OTP_DIGITS},${OTP_DIGITS + 1}}"
        maxlength="${OTP_DIGITS + 1}"
        required
      />`;
  },
  async approve(toolctl, id, digest, form) {
    const code = form.get("otp") ?? "";
    // A malformed code is a typo, not a guess: refused before it could count against the 2FA throttle.
    if (code.trim() === "") throw new UsageError(`${id} was not approved: enter the ${OTP_DIGITS}-digit code from your authenticator app`);
    if (!isWellFormedCode(code)) throw new UsageError(`${id} was not approved: a TOTP code is ${OTP_DIGITS} digits`);
    return toolctl.approve(id, { digest, otp: code, requireCode: true, via: VIA });
  },
};

export const FACTORS: readonly SecondFactor[] = [totp];

export function factorOf(kind: string | null): SecondFactor | undefined {
  return FACTORS.find((factor) => factor.kind === kind);
}
