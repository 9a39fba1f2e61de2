import type { CommandDefinition } from "./types.js";

export const budgetDefinition: CommandDefinition = {
  name: "budget",
  register(program, action) {
    program
      .command("budget")
      .description("today's spend, reservations and what is left under the limits")
      .option("--day <YYYY-MM-DD>", "another day than today (UTC)")
      .addHelpText("after", "\nExample:\n  toolctl budget --json")
      .action(action(async () => (await import("../commands/budget.js")).budgetCommand));
  },
};
