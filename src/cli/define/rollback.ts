import type { CommandDefinition } from "./types.js";

export const rollbackDefinition: CommandDefinition = {
  name: "rollback",
  register(program, action) {
    program
      .command("rollback")
      .description("undo an execution with its declared compensation (a refund, a delete), run and recorded like any action")
      .argument("<execution-id>", "the execution to undo (an unambiguous prefix is enough)")
      .option("-n, --dry-run", "show the compensating request and run nothing")
      .option("-y, --yes", "approve without a prompt (CRITICAL also needs --otp)")
      .option("--otp <code>", "the TOTP code, when the compensation is CRITICAL")
      .option("--wait", "file an approval request and wait for `toolctl approve ID` from another terminal")
      .addHelpText(
        "after",
        "\nThe compensation gets its own execution id (and idempotency key), points at the original, and the\noriginal becomes rolled_back. An irreversible action is refused (exit 3).\n\nExample:\n  toolctl rollback ex_mwq1a2b3c4 --dry-run\n  toolctl rollback ex_mwq1a2b3c4 --yes --json",
      )
      .action(action(async () => (await import("../commands/run.js")).rollbackCommand));
  },
};
