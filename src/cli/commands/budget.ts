import { isSpendDay, roundUsd, spendDay } from "../../api/index.js";
import { UsageError } from "../../errors.js";
import { table } from "../../ui/output.js";
import type { CommandContext } from "../program.js";
import { withToolctl } from "./shared.js";

/** Today's spend (UTC day), what is reserved by runs in flight (or of unknown outcome), and what is left. */
export async function budgetCommand(context: CommandContext, flags: { day?: string }): Promise<void> {
  if (flags.day !== undefined && !isSpendDay(flags.day)) {
    throw new UsageError(`--day: expected a UTC date such as 2026-11-21, got ${JSON.stringify(flags.day)}`);
  }
  const today = flags.day === undefined || flags.day === spendDay();
  const view = await withToolctl(context, async (toolctl) => {
    const { spend, entries, limits } = await toolctl.budget(flags.day);
    const headroomUsd = Math.max(0, roundUsd(limits.dailyUsd - spend.committedUsd - spend.reservedUsd));
    return { ...spend, dailyLimitUsd: limits.dailyUsd, perActionLimitUsd: limits.perActionUsd, headroomUsd, entries };
  });
  const usd = (n: number) => `$${n.toFixed(2)}`;
  context.output.data(view, () => {
    const lines = [
      `${context.output.color.bold(`budget for ${view.day}`)}`,
      `  spent:      ${usd(view.committedUsd)}`,
      `  reserved:   ${usd(view.reservedUsd)}  (runs in flight, or whose outcome is unknown)`,
      `  ${today ? "left today:" : "left:      "} ${usd(view.headroomUsd)} of ${usd(view.dailyLimitUsd)}; at most ${usd(view.perActionLimitUsd)} per action`,
    ];
    if (view.entries.length) {
      const rows = view.entries.map((e) => [e.executionId, `${e.tool}.${e.action}`, usd(e.amountUsd), e.state, e.executionStatus ?? "-"]);
      lines.push(
        "",
        table(["EXECUTION", "ACTION", "AMOUNT", "LEDGER", "OUTCOME"], rows, (h) => context.output.color.bold(h), { width: context.output.width, flex: [1] }),
      );
    }
    return lines.join("\n");
  });
}
