import type { CommandDefinition } from "./types.js";

export const initDefinition: CommandDefinition = {
  name: "init",
  register(program, action) {
    program
      .command("init")
      .description("make the current directory a toolctl project: write a commented toolctl.yaml, and ignore .toolctl/ in .gitignore")
      .option("--force", "replace an existing toolctl.yaml")
      .addHelpText(
        "after",
        "\nCommands run in this directory or below it then use the project's registry in .toolctl/ (--home and\nTOOLCTL_HOME still win). List manifests and specs in toolctl.yaml, then: toolctl sync\n\nExample:\n  toolctl init && toolctl sync",
      )
      .action(action(async () => (await import("../commands/init.js")).initCommand));
  },
};
