import { Option } from "commander";
import { EXECUTION_STATUSES } from "../../domain/records.js";
import { addPaging, positiveInt, refuseParentFlags } from "./flags.js";
import type { CommandDefinition } from "./types.js";

export const executionsDefinition: CommandDefinition = {
  name: "executions",
  register(program, action) {
    const executions = program
      .command("executions")
      .description("execution history, newest first")
      .option("--tool <tool>", "only this tool")
      .option("--action <action>", "only this action")
      .addOption(new Option("--status <status>", "only this status").choices(EXECUTION_STATUSES))
      .addOption(new Option("--actor <actor>", "only this actor").choices(["user", "ci", "agent"]))
      .option("--since <time>", "on or after this ISO date or time, in UTC unless it has an offset")
      .option("--until <time>", "on or before this ISO date or time (a bare date: that whole UTC day), in UTC unless it has an offset");
    addPaging(executions, "executions", 20)
      .option("--page <n>", "page number, from 1 (instead of --offset: skips (n-1) times --limit)", positiveInt("--page"))
      .addHelpText(
        "after",
        "\nExample:\n  toolctl executions --status failed --limit 5\n  toolctl executions --json --limit 50 --offset 50\n  toolctl executions show ex_lx2k…",
      )
      .action(action(async () => (await import("../commands/executions.js")).listExecutionsCommand));
    // It takes none of the list's filters or paging: given, they are refused rather than ignored.
    refuseParentFlags(executions.command("show").description("one execution in full").argument("<id>", "execution id, or an unambiguous prefix of it")).action(
      action(async () => (await import("../commands/executions.js")).showExecutionCommand),
    );
  },
};
