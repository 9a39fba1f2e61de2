import { Option } from "commander";
import { addPaging, refuseParentFlags } from "./flags.js";
import type { CommandDefinition } from "./types.js";

export const auditDefinition: CommandDefinition = {
  name: "audit",
  register(program, action) {
    const audit = program
      .command("audit")
      .description("the audit log, oldest first (the newest --limit events)")
      .option("--tool <tool>", "only this tool")
      .option("--action <action>", "only this action")
      .option("--status <status>", "only events with this status")
      .option("--type <type>", "only this event type, such as execution.dry_run")
      .addOption(new Option("--actor <actor>", "only this actor").choices(["user", "ci", "agent"]))
      .option("--execution <id>", "only events of this execution")
      .option("--since <time>", "on or after this ISO date or time, in UTC unless it has an offset")
      .option("--until <time>", "on or before this ISO date or time (a bare date: that whole UTC day), in UTC unless it has an offset");
    addPaging(audit, "events", 50)
      .addHelpText(
        "after",
        "\nExample:\n  toolctl audit --tool echo --json\n  toolctl audit --limit 100 --offset 100   # the 100 before the newest 100\n  toolctl audit export   # every event, as JSON lines\n  toolctl audit verify",
      )
      .action(action(async () => (await import("../commands/audit.js")).auditCommand));
    // Neither takes the filters or paging of `audit` itself: given, they are refused rather than ignored.
    refuseParentFlags(
      audit
        .command("verify")
        .description(
          "check the hash chain, the signed checkpoint, the exported head and each execution's signature: detects edited, deleted, reordered or truncated events",
        ),
    ).action(action(async () => (await import("../commands/audit.js")).verifyCommand));
    refuseParentFlags(
      audit
        .command("export")
        .description("every event as JSON lines, with its hashes, to stdout or a file (no filters: every event)")
        .option("-o, --output <file>", "write to this file instead of stdout; with --json, stdout then carries {file, events}"),
    ).action(action(async () => (await import("../commands/audit.js")).exportCommand));
  },
};
