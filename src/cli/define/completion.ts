import { Argument } from "commander";
import type { CommandDefinition } from "./types.js";

export const completionDefinition: CommandDefinition = {
  name: "completion",
  register(program, action) {
    program
      .command("completion")
      .description("print the shell completion script for bash, zsh or fish: commands, flags, tools, actions, ids and --param names")
      .addArgument(new Argument("<shell>", "the shell").choices(["bash", "zsh", "fish"]))
      .addHelpText(
        "after",
        "\nInstall:\n  bash   source <(toolctl completion bash)          # in ~/.bashrc\n  zsh    source <(toolctl completion zsh)           # in ~/.zshrc, after compinit\n  fish   toolctl completion fish > ~/.config/fish/completions/toolctl.fish",
      )
      .action(action(async () => (await import("../commands/completion.js")).completionCommand));
  },
};
