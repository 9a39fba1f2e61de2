import { runtimes, toolStatuses } from "../../domain/runtimes.js";
import { oneOf } from "./flags.js";
import type { CommandDefinition } from "./types.js";

export const listDefinition: CommandDefinition = {
  name: "list",
  register(program, action) {
    program
      .command("list")
      .description("list registered tools")
      .option("--runtime <runtime>", `only tools of this runtime (${runtimes.join(", ")})`, oneOf("--runtime", "runtime", runtimes))
      .option("--status <status>", `only tools with this status (${toolStatuses.join(", ")})`, oneOf("--status", "status", toolStatuses))
      .option("--tag <tag>", "only tools with this tag")
      .option("-s, --search <text>", "free text over tool and action names and descriptions")
      .addHelpText("after", "\nExample:\n  toolctl list --search weather --json")
      .action(action(async () => (await import("../commands/list.js")).listCommand));
  },
};
