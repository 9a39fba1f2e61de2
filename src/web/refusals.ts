/**
 * Refusals written to the audit log as `ui.refused`: at most MAX_REFUSALS_PER_MINUTE one by one, so a flood
 * cannot bury the log; the rest are counted (`alsoRefused`) in the next one written. The MCP server does the same.
 */
import type { Toolctl } from "../api/index.js";

export const MAX_REFUSALS_PER_MINUTE = 60;

export function refusalLog(toolctl: Toolctl, log: (message: string) => void): (reason: string, data: Record<string, unknown>) => Promise<void> {
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
      .append({ type: "ui.refused", actor: toolctl.actor, status: "refused", data: { reason, ...data, ...(dropped ? { alsoRefused: dropped } : {}) } })
      .catch((error: unknown) => log(`toolctl ui: cannot write the audit log: ${(error as Error).message}`));
  };
}
