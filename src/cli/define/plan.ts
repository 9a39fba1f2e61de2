import type { CommandDefinition } from "./types.js";

export const planDefinition: CommandDefinition = {
  name: "plan",
  register(program, action) {
    program
      .command("plan")
      .description("preview a plan file: each step's request, cost, risk, approvals and rollback, and the total against the budget; runs nothing")
      .argument("<file>", "a plan file (kind: Plan)")
      .option("--out <file>", "save the plan (JSON, secret references only) for toolctl apply")
      .option("--detailed-exitcode", "exit 0 when nothing would act, 2 when something would, 1 on error (3 when over budget)")
      .addHelpText(
        "after",
        "\nQuote actions (price checks) run, and are marked; nothing else does. Over a spending limit: exit 3.\n\nExample:\n  toolctl plan launch.plan.yaml\n  toolctl plan launch.plan.yaml --out launch.json --detailed-exitcode",
      )
      .action(action(async () => (await import("../commands/plan.js")).planCommand));
  },
};
