import type { CommandDefinition } from "./types.js";

export const denyDefinition: CommandDefinition = {
  name: "deny",
  register(program, action) {
    program
      .command("deny")
      .description("deny a pending request: the waiting run stops at once")
      .argument("<id>", "approval request id")
      .addHelpText("after", "\nExample:\n  toolctl deny ap_1a2b3c4d")
      .action(action(async () => (await import("../commands/approvals.js")).denyCommand));
  },
};
