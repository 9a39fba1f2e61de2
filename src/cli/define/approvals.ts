import type { CommandDefinition } from "./types.js";

export const approvalsDefinition: CommandDefinition = {
  name: "approvals",
  register(program, action) {
    program
      .command("approvals")
      .description("approval requests filed by run --wait, with their input and where each goes (pending ones unless --all)")
      .option("--all", "every request, decided or expired too")
      .addHelpText(
        "after",
        "\n--json carries each full request (input, where it goes, cost, risk, undo). A request that no longer\nmatches its digest (edited in the database) is listed by id only.\n\nExample:\n  toolctl approvals\n  toolctl approvals --json",
      )
      .action(action(async () => (await import("../commands/approvals.js")).listApprovalsCommand));
  },
};
