import os from "node:os";
import { askCode as askCodeOnce } from "../../ui/prompt.js";
import { EnvironmentError, ExitCode, NeedsHumanError, PolicyError, UsageError } from "../../errors.js";
import { isWellFormedCode, normalizeCode, otpauthUri, TOTP_DEFAULTS } from "../../policy/totp.js";
import type { Registry } from "../../store/sqlite/db.js";
import { beginEnrollment, confirmEnrollment, disable, twoFactorStatus, type VerifyResult } from "../../store/sqlite/twofactor.js";
import { loadKeyRing, type KeyRing } from "../../secrets/crypto.js";
import type { CommandContext } from "../program.js";
import { withRegistry } from "./shared.js";

const ISSUER = "toolctl";
const ENROLL_TRIES = 3;
/** Enrolment and disabling are not approvals: a fixed five minutes to type a code, after which nobody answering is a no. */
const PROMPT_TIMEOUT_MS = 5 * 60_000;

interface CodeFlags {
  code?: string;
}

/** Prompting needs someone at a terminal on both ends: stdin to type, stderr to see the question. */
function isInteractive(context: CommandContext): boolean {
  return !context.json && process.stdin.isTTY === true && process.stderr.isTTY === true;
}

function accountLabel(): string {
  let user = "user";
  try {
    user = os.userInfo().username || user;
  } catch {
    // No passwd entry (some containers): the label is only a hint shown in the app.
  }
  return `${user}@${os.hostname()}`;
}

function requireRing(context: CommandContext): KeyRing {
  const ring = loadKeyRing(context.home, context.env, { create: false });
  if (!ring) throw new EnvironmentError(`the key ring is missing (${context.home}/master.key or TOOLCTL_MASTER_KEY): the 2FA secret cannot be read`);
  return ring;
}

function checkCodeFlag(code: string): string {
  if (!isWellFormedCode(code)) throw new UsageError(`--code must be the ${TOTP_DEFAULTS.digits}-digit code from your authenticator app, got ${JSON.stringify(code)}`);
  return normalizeCode(code);
}

/** Turns a refused code into the error the user sees: wrong and throttled are policy refusals (exit 3). */
function refusal(result: Exclude<VerifyResult, { ok: true }>, what: string): Error {
  const retry = result.retryAfterSeconds ? `; too many wrong codes: try again in ${result.retryAfterSeconds}s` : "";
  switch (result.reason) {
    case "throttled":
      return new PolicyError("policy_refused", `${what}: too many wrong codes; try again in ${result.retryAfterSeconds}s (the code was not checked)`, { reason: result.reason, retryAfterSeconds: result.retryAfterSeconds });
    case "replayed":
      return new PolicyError("policy_refused", `${what}: that code was already used; wait for the next one${retry}`, { reason: result.reason, retryAfterSeconds: result.retryAfterSeconds });
    case "invalid":
      return new PolicyError("policy_refused", `${what}: wrong code${retry}`, { reason: result.reason, retryAfterSeconds: result.retryAfterSeconds });
    case "not_enrolled":
      return new UsageError(`${what}: 2FA is not enrolled; run: toolctl 2fa enroll`);
  }
}

type Answer = { code: string } | { refused: "eof" | "interrupted" | "timeout" };

async function askCode(message: string): Promise<Answer> {
  const answer = await askCodeOnce(message, PROMPT_TIMEOUT_MS, TOTP_DEFAULTS.digits);
  return "code" in answer ? { code: normalizeCode(answer.code) } : { refused: answer.answer };
}

async function showEnrollment(context: CommandContext, uri: string, secret: string): Promise<void> {
  const c = context.output.color;
  const hasQr = process.stderr.isTTY === true;
  if (hasQr) {
    const { default: QRCode } = await import("qrcode");
    process.stderr.write(`${await QRCode.toString(uri, { type: "terminal", small: true })}\n`);
  }
  process.stdout.write(`${uri}\n`);
  const how = hasQr ? "Scan the QR code, or add this key to your authenticator app" : "Add this key (or the URI above) to your authenticator app";
  context.output.info(`${how}: ${c.bold(secret)}\n${c.dim("It is shown only now; it is stored encrypted.")}`);
}

const FINISH_HINT = "finish it with: toolctl 2fa enroll --code CODE";

function confirmWith(context: CommandContext, registry: Registry, ring: KeyRing, code: string): VerifyResult {
  return confirmEnrollment(registry, ring, code, Date.now(), context.actor);
}

export async function enrollCommand(context: CommandContext, flags: CodeFlags): Promise<number> {
  if (context.actor === "agent") throw new NeedsHumanError("2FA must be enrolled by a person, not an agent (TOOLCTL_ACTOR=agent): the secret would be known to the agent it guards against");
  if (flags.code !== undefined) {
    const code = checkCodeFlag(flags.code);
    return withRegistry(context, (registry) => {
      const status = twoFactorStatus(registry);
      if (status.enrolled) throw new PolicyError("policy_refused", "2FA is already enrolled; disable it first (toolctl 2fa disable)");
      if (!status.pending) throw new UsageError("no 2FA enrolment is pending; start one with: toolctl 2fa enroll");
      const result = confirmWith(context, registry, requireRing(context), code);
      if (!result.ok) throw refusal(result, "2FA enrolment not confirmed");
      const since = twoFactorStatus(registry).since;
      context.output.data({ enrolled: true, since }, () => context.output.color.green("2FA enrolled: CRITICAL actions now need a code"));
      return ExitCode.ok;
    });
  }

  const ring = loadKeyRing(context.home, context.env, { create: true })!;
  return withRegistry(context, async (registry) => {
    const { secret } = beginEnrollment(registry, ring, context.actor);
    const uri = otpauthUri(secret, accountLabel(), ISSUER);
    if (!isInteractive(context)) {
      if (context.json) {
        // The secret is shown once, as every authenticator set-up does: people type it when they cannot scan.
        context.output.data({ enrolled: false, pending: true, uri, secret, next: "toolctl 2fa enroll --code CODE" }, () => "");
        return ExitCode.needsHuman;
      }
      await showEnrollment(context, uri, secret);
      throw new NeedsHumanError(`2FA enrolment is pending and this is not an interactive terminal; ${FINISH_HINT}`, { flag: "--code" });
    }

    await showEnrollment(context, uri, secret);
    for (let attempt = 1; attempt <= ENROLL_TRIES; attempt++) {
      const answer = await askCode(`Code from your authenticator app${attempt > 1 ? ` (try ${attempt} of ${ENROLL_TRIES})` : ""}:`);
      if ("refused" in answer) {
        context.output.warn(`no code entered (${answer.refused}): 2FA enrolment stays pending; ${FINISH_HINT}`);
        return answer.refused === "interrupted" ? ExitCode.interrupted : ExitCode.needsHuman;
      }
      const result = confirmWith(context, registry, ring, answer.code);
      if (result.ok) {
        context.output.info(context.output.color.green("2FA enrolled: CRITICAL actions now need a code"));
        return ExitCode.ok;
      }
      const error = refusal(result, "not confirmed");
      if (result.reason === "throttled" || result.retryAfterSeconds || attempt === ENROLL_TRIES) {
        throw new PolicyError("policy_refused", `${error.message}; 2FA enrolment stays pending; ${FINISH_HINT}`, { reason: result.reason });
      }
      context.output.warn(error.message);
    }
    return ExitCode.policy;
  });
}

export async function statusCommand(context: CommandContext): Promise<void> {
  const status = await withRegistry(context, (registry) => twoFactorStatus(registry));
  const c = context.output.color;
  context.output.data(status, () => {
    const state = status.enrolled ? c.green(`enrolled since ${status.since}`) : status.pending ? c.yellow(`pending since ${status.since} (finish: toolctl 2fa enroll --code CODE)`) : "not enrolled (toolctl 2fa enroll)";
    const throttle = status.throttledUntil
      ? c.red(`throttled until ${status.throttledUntil}`)
      : `${status.failuresInWindow} of ${status.maxFailures} wrong codes allowed in ${status.windowMinutes} minutes used`;
    return `2FA: ${state}\n${throttle}`;
  });
}

export async function disableCommand(context: CommandContext, flags: CodeFlags): Promise<number> {
  return withRegistry(context, async (registry) => {
    const status = twoFactorStatus(registry);
    if (!status.enrolled) {
      context.output.data({ enrolled: false, changed: false }, () => "2FA is not enrolled; nothing changed");
      return ExitCode.ok;
    }
    let code: string;
    if (flags.code !== undefined) code = checkCodeFlag(flags.code);
    else if (!isInteractive(context)) throw new NeedsHumanError("disabling 2FA needs a code: pass --code CODE", { flag: "--code" });
    else {
      const answer = await askCode("Code from your authenticator app to disable 2FA:");
      if ("refused" in answer) {
        context.output.warn(`no code entered (${answer.refused}): 2FA stays enrolled`);
        return answer.refused === "interrupted" ? ExitCode.interrupted : ExitCode.needsHuman;
      }
      code = answer.code;
    }
    const result = disable(registry, requireRing(context), code, Date.now(), context.actor);
    if (!result.ok) throw refusal(result, "2FA not disabled");
    context.output.data({ enrolled: false, changed: true }, () => "2FA disabled");
    return ExitCode.ok;
  });
}
