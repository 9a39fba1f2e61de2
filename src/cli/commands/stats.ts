import type { StatsCounts, StatsGroup, StatsPeriod } from "../../domain/records.js";
import { displayWidth, table } from "../../ui/output.js";
import type { CommandContext } from "../program.js";
import { parseTime, withToolctl } from "./shared.js";

interface StatsFlags {
  period: StatsPeriod;
  by: StatsGroup;
  since?: string;
  until?: string;
  tool?: string;
}

/** Cents when that is exact; per-unit prices such as $0.0079 keep their digits instead of rounding to $0.01. */
export function formatUsd(usd: number): string {
  const cents = usd.toFixed(2);
  return Number(cents) === usd ? `$${cents}` : `$${usd.toFixed(6).replace(/0+$/, "")}`;
}

const PERIOD_HEADER: Record<StatsPeriod, string> = { hour: "HOUR (UTC)", day: "DAY (UTC)", week: "WEEK OF (UTC)", month: "MONTH (UTC)" };

export async function statsCommand(context: CommandContext, flags: StatsFlags): Promise<void> {
  const query = {
    period: flags.period,
    by: flags.by,
    tool: flags.tool,
    since: parseTime(flags.since, "--since"),
    until: parseTime(flags.until, "--until", "end"),
  };
  const stats = await withToolctl(context, (toolctl) => toolctl.stats(query));
  context.output.data(stats, () => {
    if (stats.rows.length === 0) {
      return query.since || query.until || query.tool ? "no executions match these filters" : "no executions yet";
    }
    const numbers = (c: StatsCounts) => [String(c.count), String(c.succeeded), String(c.failed), String(c.unknown), String(c.dryRuns), formatUsd(c.spendUsd)];
    const headers = [PERIOD_HEADER[stats.period], stats.by.toUpperCase(), "RUNS", "OK", "FAILED", "UNKNOWN", "DRY RUNS", "SPEND"];
    const rows = [...stats.rows.map((r) => [r.bucket, r.group, ...numbers(r)]), ["total", "", ...numbers(stats.totals)]];
    // Numbers read best right-aligned: pad them to their column's width before the table pads the rest.
    for (let column = 2; column < headers.length; column += 1) {
      const width = Math.max(headers[column]!.length, ...rows.map((row) => row[column]!.length));
      headers[column] = headers[column]!.padStart(width);
      for (const row of rows) row[column] = row[column]!.padStart(width);
    }
    const lines = table(headers, rows, (h) => context.output.color.bold(h), { width: context.output.width, flex: [1] }).split("\n");
    const rule = context.output.color.dim("-".repeat(Math.max(...lines.slice(1).map(displayWidth))));
    return [...lines.slice(0, -1), rule, lines[lines.length - 1]!].join("\n");
  });
}
