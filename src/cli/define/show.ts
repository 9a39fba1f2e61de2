import type { CommandDefinition } from "./types.js";

export const showDefinition: CommandDefinition = {
  name: "show",
  register(program, action) {
    program
      .command("show")
      .description("everything about one tool, or one action")
      .argument("<tool[.action]>", "a tool name, or tool.action")
      .addHelpText("after", "\nExample:\n  toolctl show calculator.calculate")
      .action(action(async () => (await import("../commands/show.js")).showCommand));
  },
};
