import type { CommandDefinition } from "./types.js";

export const approveDefinition: CommandDefinition = {
  name: "approve",
  register(program, action) {
    program
      .command("approve")
      .description("show a pending request in full (action, input, where it goes, cost, risk, undo) and approve it after a typed yes")
      .argument("<id>", "approval request id")
      .option("-y, --yes", "approve without the yes/no question (needed without a terminal)")
      .option("--otp <code>", "TOTP code, for a CRITICAL request (prompted on a terminal otherwise)")
      .addHelpText(
        "after",
        "\nThe request is checked against its digest before it is shown: one edited in the database is refused (exit 3).\nWithout a terminal and without --yes: exit 4.\n\nExample:\n  toolctl approve ap_1a2b3c4d\n  toolctl approve ap_1a2b3c4d --yes --otp 123456 --json",
      )
      .action(action(async () => (await import("../commands/approvals.js")).approveCommand));
  },
};
