import { addPaging, positiveInt } from "./flags.js";
import type { CommandDefinition } from "./types.js";

export const planRunsDefinition: CommandDefinition = {
  name: "plan-runs",
  register(program, action) {
    const runs = program.command("plan-runs").description("applied plans: inspect one, resume an interrupted one, or roll back its completed steps");
    addPaging(runs.command("list").description("plan runs, newest first"), "runs", 20)
      .addHelpText("after", "\nExample:\n  toolctl plan-runs list --json --limit 5")
      .action(action(async () => (await import("../commands/plan.js")).listPlanRunsCommand));
    runs
      .command("show")
      .description("a plan run's steps: status, execution and what became of each")
      .argument("<id>", "the plan run (an unambiguous prefix is enough)")
      .addHelpText("after", "\nExample:\n  toolctl plan-runs show pr_mwq1a2b3c4 --json")
      .action(action(async () => (await import("../commands/plan.js")).showPlanRunCommand));
    runs
      .command("resume")
      .description("carry on with the steps not done yet; completed steps never run again")
      .argument("<id>", "the plan run")
      .option("-y, --yes", "approve the remaining steps without a prompt")
      .option("--otp <code>", "the TOTP code for a CRITICAL step")
      .option("--parallelism <n>", "independent steps at once", positiveInt("--parallelism"), 1)
      .action(action(async () => (await import("../commands/plan.js")).resumePlanRunCommand));
    runs
      .command("rollback")
      .description("undo the completed steps of a run, newest first, through their declared compensations")
      .argument("<id>", "the plan run")
      .option("-y, --yes", "accepted for symmetry: compensations of a plan are approved with it")
      .option("--otp <code>", "the TOTP code, when a compensation is CRITICAL")
      .action(action(async () => (await import("../commands/plan.js")).rollbackPlanRunCommand));
  },
};
