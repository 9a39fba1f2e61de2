import { UsageError } from "../../errors.js";
import { isSpendDay, isWellFormedCode, openToolctl, OTP_DIGITS } from "../../api/index.js";
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

/** `YYYY-MM-DD`, then optionally `THH:MM[:SS[.fff]]` and a UTC offset (`Z`, `+01:00`, `-0500`). */
const ISO_TIME = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * Accepts an ISO 8601 date or time, always read in UTC as the tables are: a bare date is a whole UTC day
 * (`--since` starts at its first millisecond and `--until` ends at its last), and a time without an offset is a
 * UTC time, whatever the machine's time zone. A day that does not exist (2026-02-30) is refused, not rolled over.
 */
export function parseTime(value: string | undefined, flag: string, edge: "start" | "end" = "start"): string | undefined {
  if (value === undefined) return undefined;
  const match = ISO_TIME.exec(value);
  const [, day, hours, minutes, seconds, offset] = match ?? [];
  if (day !== undefined && !isSpendDay(day)) throw new UsageError(`${flag}: ${JSON.stringify(value)} is not a real calendar day`);
  const isDate = match !== null && hours === undefined;
  const time = new Date(isDate ? `${day}T00:00:00.000Z` : offset === undefined ? `${value}Z` : value);
  const inRange = isDate || (Number(hours) <= 23 && Number(minutes) <= 59 && Number(seconds ?? 0) <= 59);
  if (match === null || !inRange || Number.isNaN(time.getTime())) {
    throw new UsageError(`${flag}: expected an ISO date or time such as 2026-11-21 or 2026-11-21T09:30:00Z, got ${JSON.stringify(value)}`);
  }
  if (isDate && edge === "end") (time.setUTCDate(time.getUTCDate() + 1), time.setUTCMilliseconds(-1));
  return time.toISOString();
}

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
