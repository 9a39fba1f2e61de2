import { Option } from "commander";
import type { CommandDefinition } from "./types.js";

export const statsDefinition: CommandDefinition = {
  name: "stats",
  register(program, action) {
    program
      .command("stats")
      .description("counts, failures and spend by period, grouped by tool, action or status")
      .addOption(new Option("--period <period>", "bucket size, in UTC").choices(["hour", "day", "week", "month"]).default("day"))
      .addOption(new Option("--by <group>", "group rows by").choices(["tool", "action", "status"]).default("tool"))
      .option("--since <time>", "on or after this ISO date or time, in UTC unless it has an offset")
      .option("--until <time>", "on or before this ISO date or time (a bare date: that whole UTC day), in UTC unless it has an offset")
      .option("--tool <tool>", "only this tool")
      .addHelpText(
        "after",
        "\nSpend counts succeeded and unknown executions (an unknown outcome may have spent the money).\n\nExample:\n  toolctl stats --period week --by action --since 2026-11-01\n  toolctl stats --by status --tool stripe --json",
      )
      .action(action(async () => (await import("../commands/stats.js")).statsCommand));
  },
};
