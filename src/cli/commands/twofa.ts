import os from "node:os";
import type { Toolctl } from "../../api/index.js";
import { colorEnabled } from "../../ui/output.js";
import { askCode as askCodeOnce } from "../../ui/prompt.js";
import { qrWidth, renderQr } from "../../ui/qr.js";
import { ExitCode, NeedsHumanError, PolicyError, UsageError } from "../../errors.js";
import { isWellFormedCode, normalizeCode, OTP_DIGITS } from "../../api/index.js";
import type { CommandContext } from "../program.js";
import { openForCommand, withToolctl } from "./shared.js";

const ENROLL_TRIES = 3;
/** Enrolment and disabling are not approvals: a fixed five minutes to type a code, after which nobody answering is a no. */
const PROMPT_TIMEOUT_MS = 5 * 60_000;

interface CodeFlags {
  code?: string;
}

interface EnrollFlags extends CodeFlags {
  passkey?: boolean;
  name?: string;
  /** False with --no-open. */
  open?: boolean;
}

/** How often `2fa enroll --passkey` looks for the new passkey (ms). */
const PASSKEY_POLL_MS = 300;
/** How long `2fa enroll --passkey` keeps serving once the passkey is added, for the page to show it (ms). */
const PAGE_GRACE_MS = 1500;

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

function checkCodeFlag(code: string): string {
  if (!isWellFormedCode(code)) throw new UsageError(`--code must be the ${OTP_DIGITS}-digit code from your authenticator app, got ${JSON.stringify(code)}`);
  return normalizeCode(code);
}

type Answer = { code: string } | { refused: "eof" | "interrupted" | "timeout" };

async function askCode(message: string): Promise<Answer> {
  const answer = await askCodeOnce(message, PROMPT_TIMEOUT_MS, OTP_DIGITS);
  return "code" in answer ? { code: normalizeCode(answer.code) } : { refused: answer.answer };
}

/**
 * The QR code on stderr (a terminal's only): black on white set explicitly, with its 4-module quiet zone, so it
 * scans on dark and light themes alike; plain characters under NO_COLOR. Too narrow a terminal gets a note.
 */
async function showQr(context: CommandContext, uri: string): Promise<boolean> {
  const { default: QRCode } = await import("qrcode");
  const matrix = QRCode.create(uri, { errorCorrectionLevel: "M" }).modules;
  const width = qrWidth(matrix);
  const columns = process.stderr.columns;
  if (columns > 0 && columns < width) {
    context.output.warn(`the terminal is ${columns} columns wide and the QR code needs ${width}: widen it to scan, or add the key below by hand`);
    return false;
  }
  process.stderr.write(renderQr(matrix, { color: colorEnabled(2, context.env), env: context.env }));
  return true;
}

async function showEnrollment(context: CommandContext, uri: string, secret: string): Promise<void> {
  const c = context.output.color;
  const hasQr = process.stderr.isTTY === true && (await showQr(context, uri));
  process.stdout.write(`${uri}\n`);
  const how = hasQr ? "Scan the QR code, or add this key to your authenticator app" : "Add this key (or the URI above) to your authenticator app";
  context.output.info(`${how}: ${c.bold(secret)}\n${c.dim("It is shown only now; it is stored encrypted.")}`);
}

const FINISH_HINT = "finish it with: toolctl 2fa enroll --code CODE";

/** A wrong code at the enrolment prompt: the refusal's reason and wait, when the API refused it. */
function refusalOf(error: unknown): { reason?: string; retryAfterSeconds?: number } | undefined {
  return error instanceof PolicyError ? (error.details as { reason?: string; retryAfterSeconds?: number }) : undefined;
}

async function confirmInteractively(context: CommandContext, toolctl: Toolctl): Promise<number> {
  for (let attempt = 1; attempt <= ENROLL_TRIES; attempt++) {
    const answer = await askCode(`Code from your authenticator app${attempt > 1 ? ` (try ${attempt} of ${ENROLL_TRIES})` : ""}:`);
    if ("refused" in answer) {
      context.output.warn(`no code entered (${answer.refused}): 2FA enrolment stays pending; ${FINISH_HINT}`);
      return answer.refused === "interrupted" ? ExitCode.interrupted : ExitCode.needsHuman;
    }
    try {
      await toolctl.confirmTwoFactor(answer.code);
      context.output.info(context.output.color.green("2FA enrolled: CRITICAL actions now need a code"));
      return ExitCode.ok;
    } catch (error) {
      const refused = refusalOf(error);
      if (!refused) throw error;
      const message = (error as Error).message.replace(/^2FA enrolment not confirmed/, "not confirmed");
      if (refused.reason === "throttled" || refused.retryAfterSeconds || attempt === ENROLL_TRIES) {
        throw new PolicyError("policy_refused", `${message}; 2FA enrolment stays pending; ${FINISH_HINT}`, { reason: refused.reason });
      }
      context.output.warn(message);
    }
  }
  return ExitCode.policy;
}

export async function enrollCommand(context: CommandContext, flags: EnrollFlags): Promise<number> {
  if (flags.passkey) {
    if (flags.code !== undefined) throw new UsageError("--code confirms a TOTP enrolment: it does not go with --passkey");
    return enrollPasskey(context, flags);
  }
  if (flags.name !== undefined) throw new UsageError("--name names a passkey: use it with --passkey");
  const code = flags.code === undefined ? undefined : checkCodeFlag(flags.code);
  return withToolctl(context, async (toolctl) => {
    if (code !== undefined) {
      const { since } = await toolctl.confirmTwoFactor(code);
      context.output.data({ enrolled: true, since }, () => context.output.color.green("2FA enrolled: CRITICAL actions now need a code"));
      return ExitCode.ok;
    }
    const { secret, uri } = await toolctl.beginTwoFactor(accountLabel());
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
    return confirmInteractively(context, toolctl);
  });
}

/**
 * `2fa enroll --passkey`: serves the approval page (on loopback, like `toolctl ui`) with its login link leading to
 * /2fa/passkeys, and waits until a passkey is added there; Ctrl-C stops waiting (exit 130) and adds nothing.
 */
async function enrollPasskey(context: CommandContext, flags: EnrollFlags): Promise<number> {
  const [web, { openBrowser, stopSignal }] = await Promise.all([import("../../web/index.js"), import("./ui.js")]);
  const log = (message: string) => process.stderr.write(`${message}\n`);
  const toolctl = await openForCommand(context);
  try {
    if (context.actor === "agent") {
      throw new NeedsHumanError("passkeys are added by a person, not an agent (TOOLCTL_ACTOR=agent): the factor would belong to the agent it guards against");
    }
    const before = new Set((await toolctl.passkeys()).map((passkey) => passkey.id));
    const landing = `/2fa/passkeys${flags.name ? `?suggest=${encodeURIComponent(flags.name)}` : ""}`;
    const server = await web.serveUi(toolctl, { log, landing });
    let stopped: "SIGINT" | "SIGTERM" | undefined;
    void stopSignal().then((signal) => (stopped = signal));
    try {
      log(`toolctl 2fa: ${server.loginUrl}`);
      log("toolctl 2fa: open the link to add a passkey (it signs in once); waiting for it, Ctrl-C stops");
      if (flags.open !== false && process.stdin.isTTY === true && process.stderr.isTTY === true) openBrowser(server.loginUrl);
      for (;;) {
        const added = (await toolctl.passkeys()).find((passkey) => !before.has(passkey.id));
        if (added) {
          // The page that says so is still being loaded: served a moment longer, it shows.
          await new Promise((resolve) => setTimeout(resolve, PAGE_GRACE_MS));
          context.output.data({ added }, () => context.output.color.green(`Passkey '${added.name}' added: the approval page now approves with a passkey`));
          return ExitCode.ok;
        }
        if (stopped) {
          context.output.warn("no passkey was added");
          return stopped === "SIGINT" ? ExitCode.interrupted : ExitCode.needsHuman;
        }
        await new Promise((resolve) => setTimeout(resolve, PASSKEY_POLL_MS));
      }
    } finally {
      await server.close();
    }
  } finally {
    await toolctl.close();
  }
}

/** `2fa passkey rm NAME|ID [--code CODE]`: a terminal confirms with a TOTP code (the page takes a passkey). */
export async function removePasskeyCommand(context: CommandContext, name: string, flags: CodeFlags): Promise<number> {
  return withToolctl(context, async (toolctl) => {
    const passkeys = await toolctl.passkeys();
    const found = passkeys.find((passkey) => passkey.name === name) ?? passkeys.find((passkey) => passkey.id === name);
    if (!found) {
      const names = passkeys.map((passkey) => passkey.name);
      throw new UsageError(`no passkey named '${name}'${names.length ? ` (registered: ${names.join(", ")})` : ""}; see: toolctl 2fa status`);
    }
    if (!(await toolctl.twoFactorStatus()).enrolled) {
      throw new NeedsHumanError(
        `removing a passkey here needs a TOTP code, and 2FA is not enrolled: remove it on the approval page with another passkey (toolctl ui, then Passkeys)`,
      );
    }
    let code: string;
    if (flags.code !== undefined) code = checkCodeFlag(flags.code);
    else if (!isInteractive(context)) throw new NeedsHumanError("removing a passkey needs a code: pass --code CODE", { flag: "--code" });
    else {
      const answer = await askCode(`Code from your authenticator app to remove the passkey '${found.name}':`);
      if ("refused" in answer) {
        context.output.warn(`no code entered (${answer.refused}): the passkey stays`);
        return answer.refused === "interrupted" ? ExitCode.interrupted : ExitCode.needsHuman;
      }
      code = answer.code;
    }
    const removed = await toolctl.removePasskey(found.id, { otp: code });
    context.output.data({ removed }, () => `Passkey '${removed.name}' removed`);
    return ExitCode.ok;
  });
}

export async function statusCommand(context: CommandContext): Promise<void> {
  const status = await withToolctl(context, (toolctl) => toolctl.twoFactorStatus());
  const c = context.output.color;
  context.output.data(status, () => {
    const state = status.enrolled
      ? c.green(`enrolled since ${status.since}`)
      : status.pending
        ? c.yellow(`pending since ${status.since} (finish: toolctl 2fa enroll --code CODE)`)
        : "not enrolled (toolctl 2fa enroll)";
    const throttle = status.throttledUntil
      ? c.red(`throttled until ${status.throttledUntil}`)
      : `${status.failuresInWindow} of ${status.maxFailures} wrong codes allowed in ${status.windowMinutes} minutes used`;
    const passkeys =
      status.passkeys.length === 0
        ? "Passkeys: none (toolctl 2fa enroll --passkey)"
        : [
            `Passkeys (${status.passkeys.length}):`,
            ...status.passkeys.map(
              (passkey) => `  ${c.bold(passkey.name)}  added ${passkey.createdAt}  last used ${passkey.lastUsedAt ?? "never"}  ${c.dim(passkey.id)}`,
            ),
          ].join("\n");
    return `2FA: ${state}\n${throttle}\n${passkeys}`;
  });
}

export async function disableCommand(context: CommandContext, flags: CodeFlags): Promise<number> {
  return withToolctl(context, async (toolctl) => {
    const status = await toolctl.twoFactorStatus();
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
    await toolctl.disableTwoFactor(code);
    context.output.data({ enrolled: false, changed: true }, () => "2FA disabled");
    return ExitCode.ok;
  });
}
