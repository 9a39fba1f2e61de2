import type { CommandDefinition } from "./types.js";

export const configDefinition: CommandDefinition = {
  name: "config",
  register(program, action) {
    program
      .command("config")
      .description("the effective settings, and where each came from (default, config.yaml or environment)")
      .addHelpText("after", "\nExample:\n  toolctl config\n  TOOLCTL_LIMITS_DAILY_USD=50 toolctl config --json")
      .action(action(async () => (await import("../commands/config.js")).configCommand));
  },
};
