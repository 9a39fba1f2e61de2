/**
 * Requests a front door refused before they were calls (no session or token, a foreign Origin or Host, a
 * malformed message), written to the audit log as `ui.refused` (the approval page) or `mcp.refused` (the MCP
 * server): at most MAX_REFUSALS_PER_MINUTE one by one, so a flood cannot bury the log; the rest are counted
 * (`alsoRefused`) in the next one written. A door awaits the write before it answers: whoever was refused cannot
 * outrun the record.
 */
import type { Toolctl } from "./index.js";

export const MAX_REFUSALS_PER_MINUTE = 60;

export type RefusalLog = (reason: string, data: Record<string, unknown>) => Promise<void>;

/** `log` hears of a write that failed (the refusal still stands). */
export function refusalLog(toolctl: Toolctl, type: "ui.refused" | "mcp.refused", log: (message: string) => void): RefusalLog {
  const window = { minute: 0, count: 0, dropped: 0 };
  return async (reason, data) => {
    const minute = Math.floor(Date.now() / 60_000);
    if (window.minute !== minute) Object.assign(window, { minute, count: 0 });
    if (++window.count > MAX_REFUSALS_PER_MINUTE) {
      window.dropped++;
      return;
    }
    const dropped = window.dropped;
    window.dropped = 0;
    await toolctl.store.audit
      .append({ type, actor: toolctl.actor, status: "refused", data: { reason, ...data, ...(dropped ? { alsoRefused: dropped } : {}) } })
      .catch((error: unknown) => log(`cannot write the audit log: ${(error as Error).message}`));
  };
}
