import { UsageError } from "../../errors.js";
import { isWellFormedCode, openToolctl, OTP_DIGITS } from "../../api/index.js";
import type { Toolctl } from "../../api/index.js";
import type { Actor } from "../../config/home.js";
import type { CommandContext } from "../program.js";
import { announcePage } from "../../web/served.js";

/**
 * The API on the command's home, registry and project, acting as `actor` (the command's own unless a command
 * fixes it), its warnings printed as the command's. The caller closes it.
 */
export async function openForCommand(context: CommandContext, actor: Actor = context.actor): Promise<Toolctl> {
  const toolctl = await openToolctl({
    home: context.home,
    project: context.project,
    database: context.database,
    env: context.env,
    cwd: context.cwd,
    actor,
  });
  toolctl.on("warning", (message) => context.output.warn(message));
  return toolctl;
}

/** Opens the API on the command's home for one command and always closes it, so locks and WAL checkpoints are released. */
export async function withToolctl<T>(context: CommandContext, fn: (toolctl: Toolctl) => Promise<T> | T): Promise<T> {
  const toolctl = await openForCommand(context);
  try {
    return await fn(toolctl);
  } finally {
    await toolctl.close();
  }
}

export function pretty(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

// One reader of `--since`/`--until` for the CLI and the API's `since`/`until`, so that both give the same rows.
export { parseTime } from "../../api/time.js";

/** A malformed `--otp` is a typo, not a guess: refused before it could count against the 2FA throttle. */
export function checkOtpFlag(code: string): void {
  if (!isWellFormedCode(code)) throw new UsageError(`--otp: expected the ${OTP_DIGITS}-digit code from your authenticator, got ${JSON.stringify(code)}`);
}

/**
 * Writes the home's ui.json (where `toolctl mcp` finds the approval page to send a human to) and returns what
 * removes it. A home that cannot take it still gets its page, only without the MCP hand-off.
 */
export function announceServedPage(home: string, origin: string, log: (message: string) => void): () => void {
  try {
    const withdraw = announcePage(home, origin);
    return () => {
      try {
        withdraw();
      } catch {
        // Left behind, it names a process that is gone, and is ignored.
      }
    };
  } catch (error) {
    log(`warning: cannot write ui.json in ${home} (${(error as Error).message}): toolctl mcp will not point to this page`);
    return () => undefined;
  }
}
