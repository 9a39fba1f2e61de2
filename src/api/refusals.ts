/**
 * Requests a front door refused (no session or token, a foreign Origin or Host, a malformed message; an MCP call
 * of a tool that is not offered), written to the audit log as `ui.refused` (the approval page) or `mcp.refused` (the MCP
 * server): at most MAX_REFUSALS_PER_MINUTE one by one, so a flood cannot bury the log; the rest are counted
 * (`alsoRefused`) in the next one written, and a reason is cut at MAX_REASON_CHARS. A door awaits the write before it answers: whoever was refused cannot
 * outrun the record.
 */
import type { Toolctl } from "./index.js";

export const MAX_REFUSALS_PER_MINUTE = 60;

/** The longest reason written: a refused name can be as long as a request allows, and the log keeps its start. */
export const MAX_REASON_CHARS = 500;

export type RefusalLog = (reason: string, data: Record<string, unknown>, target?: { tool: string | null; action: string | null }) => Promise<void>;

function clipped(reason: string): string {
  return reason.length <= MAX_REASON_CHARS ? reason : `${reason.slice(0, MAX_REASON_CHARS)}… (${reason.length} characters)`;
}

/** `log` hears of a write that failed (the refusal still stands). */
export function refusalLog(toolctl: Toolctl, type: "ui.refused" | "mcp.refused", log: (message: string) => void): RefusalLog {
  const window = { minute: 0, count: 0, dropped: 0 };
  return async (reason, data, target) => {
    const minute = Math.floor(Date.now() / 60_000);
    if (window.minute !== minute) Object.assign(window, { minute, count: 0 });
    if (++window.count > MAX_REFUSALS_PER_MINUTE) {
      window.dropped++;
      return;
    }
    const dropped = window.dropped;
    window.dropped = 0;
    await toolctl.store.audit
      .append({
        type,
        actor: toolctl.actor,
        ...(target ?? {}),
        status: "refused",
        data: { reason: clipped(reason), ...data, ...(dropped ? { alsoRefused: dropped } : {}) },
      })
      .catch((error: unknown) => log(`cannot write the audit log: ${(error as Error).message}`));
  };
}
