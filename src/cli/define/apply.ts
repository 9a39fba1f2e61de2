import { positiveInt } from "./flags.js";
import type { CommandDefinition } from "./types.js";

export const applyDefinition: CommandDefinition = {
  name: "apply",
  register(program, action) {
    program
      .command("apply")
      .description("apply a saved plan (or a plan file, planned now): one approval, steps in dependency order, rollback of completed steps on failure")
      .argument("<plan>", "a saved plan from toolctl plan --out, or a plan file")
      .option("-y, --yes", "approve the whole plan without a prompt (CRITICAL steps also need --otp)")
      .option("--otp <code>", "the TOTP code for a CRITICAL step")
      .option("--parallelism <n>", "independent steps run side by side, at most n at once", positiveInt("--parallelism"), 1)
      .addHelpText(
        "after",
        "\nA saved plan is refused when stale (a manifest re-imported, an environment variable or the plan file\nchanged) or over budget, and is applied once. An interrupted apply: see toolctl plan-runs.\n\nExample:\n  toolctl apply launch.json\n  toolctl apply launch.plan.yaml --yes --parallelism 2 --json",
      )
      .action(action(async () => (await import("../commands/plan.js")).applyCommand));
  },
};
