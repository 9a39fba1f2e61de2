import { Option } from "commander";
import { addPaging } from "./flags.js";
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
      .option("--since <time>", "on or after this ISO time or date")
      .option("--until <time>", "on or before this ISO time or date");
    addPaging(audit, "events", 50)
      .addHelpText(
        "after",
        "\nExample:\n  toolctl audit --tool echo --json\n  toolctl audit --limit 100 --offset 100   # the 100 before the newest 100\n  toolctl audit export   # every event, as JSON lines\n  toolctl audit verify",
      )
      .action(action(async () => (await import("../commands/audit.js")).auditCommand));
    audit
      .command("verify")
      .description(
        "check the hash chain, the signed checkpoint, the exported head and each execution's signature: detects edited, deleted, reordered or truncated events",
      )
      .action(action(async () => (await import("../commands/audit.js")).verifyCommand));
    audit
      .command("export")
      .description("every event as JSON lines, with its hashes, to stdout or a file")
      .option("-o, --output <file>", "write to this file instead of stdout")
      .action(action(async () => (await import("../commands/audit.js")).exportCommand));
  },
};
