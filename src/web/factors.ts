/**
 * The second factor the page asks for before it approves anything. A session alone never approves: whoever
 * holds the browser (or a script that found the cookie) still needs something only the person has. With a
 * passkey registered, that is the passkey (a touch, and the authenticator's own check of its user); else a TOTP
 * code. Each kind is an entry in FACTORS with its form fields and its check; only one is offered at a time.
 */
import { isWellFormedCode, OTP_DIGITS, type Approval, type Toolctl } from "../api/index.js";
import { PolicyError, UsageError } from "../errors.js";
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
  /** Attributes of the approve form (the passkey's form asks for a challenge before it is sent). */
  formAttributes?(id: string): Html;
  /**
   * Approves `id` as shown (`digest`) with what the form sent, on the page at `origin`; a refusal is a
   * ToolctlError, and approves nothing.
   */
  approve(toolctl: Toolctl, id: string, digest: string, form: URLSearchParams, origin: string): Promise<Approval>;
}

const passkey: SecondFactor = {
  kind: "passkey",
  async readiness(toolctl) {
    if ((await toolctl.passkeys()).length > 0) return { ready: true };
    return { ready: false, why: "No passkey is registered.", command: "toolctl 2fa enroll --passkey" };
  },
  fields() {
    return html`<input type="hidden" name="assertion" value="" />
      <p class="muted">Approve asks for your passkey.</p>
      <p class="passkey-status" role="status"></p>`;
  },
  formAttributes(id) {
    return html` data-passkey-challenge="/approvals/${id}/challenge"`;
  },
  async approve(toolctl, id, digest, form, origin) {
    const sent = form.get("assertion") ?? "";
    if (sent.trim() === "") throw new UsageError(`${id} was not approved: approving here needs your passkey (no assertion was sent)`);
    return toolctl.approve(id, { digest, passkey: { origin, response: parseAssertion(id, sent) }, via: VIA });
  },
};

const totp: SecondFactor = {
  kind: "totp",
  async readiness(toolctl) {
    const status = await toolctl.twoFactorStatus();
    if (status.passkeys.length > 0) return { ready: false, why: "A passkey is registered: this page approves with it.", command: "toolctl 2fa status" };
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
    // Once a passkey is registered the page takes it only: a TOTP secret can be read from the home, a passkey cannot.
    if ((await toolctl.passkeys()).length > 0)
      throw new PolicyError("policy_refused", `${id} was not approved: a passkey is registered, and this page approves with it`);
    return toolctl.approve(id, { digest, otp: code, requireCode: true, via: VIA });
  },
};

export const FACTORS: readonly SecondFactor[] = [passkey, totp];

export function factorOf(kind: string | null): SecondFactor | undefined {
  return FACTORS.find((factor) => factor.kind === kind);
}

/** The browser's answer, as JSON; anything else is a malformed form. */
export function parseAssertion(id: string, sent: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(sent);
  } catch {
    throw new UsageError(`${id}: the passkey's answer is not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new UsageError(`${id}: the passkey's answer is not a WebAuthn response`);
  return value as Record<string, unknown>;
}
