import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import { didYouMean } from "../../util/suggest.js";
import type { CommandDefinition } from "./types.js";

const SUBCOMMANDS = ["get", "set", "unset"];

export const configDefinition: CommandDefinition = {
  name: "config",
  register(program, action) {
    const show = action(async () => (await import("../commands/config.js")).configCommand);
    const config = program
      .command("config")
      .description("the effective settings, and where each came from (default, config.yaml, a project's toolctl.yaml or environment); get, set or unset one")
      .addHelpText("after", "\nExample:\n  toolctl config\n  TOOLCTL_LIMITS_DAILY_USD=50 toolctl config --json\n  toolctl config set limits.dailyUsd 100")
      .action((...args: unknown[]) => {
        const word = (args[args.length - 1] as Command).args[0];
        if (word !== undefined) throw new UsageError(`unknown config command '${word}'${didYouMean(word, SUBCOMMANDS)}; one of: ${SUBCOMMANDS.join(", ")}`);
        return show(...args);
      });
    config
      .command("get")
      .description("print one setting's effective value (a list comma-separated); --json adds where it came from")
      .argument("<key>", "a setting, e.g. limits.dailyUsd, mcp.allow, rateLimits.stripe, or a group such as limits")
      .addHelpText("after", "\nExample:\n  toolctl config get limits.dailyUsd\n  toolctl config get mcp.allow --json")
      .action(action(async () => (await import("../commands/config.js")).getCommand));
    config
      .command("set")
      .description("set a setting in config.yaml (checked against the schema; comments and layout are kept)")
      .argument("<key>", "a setting, e.g. limits.dailyUsd, mcp.allow or rateLimits.TOOL")
      .argument("<value>", "its value: true/false, a number, a choice, or for mcp.allow a comma-separated list")
      .addHelpText(
        "after",
        "\nExample:\n  toolctl config set limits.dailyUsd 100\n  toolctl config set rateLimits.stripe 60\n  toolctl config set mcp.allow stripe,pay.charge\n  toolctl config set mcp.allow ''     # the empty list",
      )
      .action(action(async () => (await import("../commands/config.js")).setCommand));
    config
      .command("unset")
      .description("remove a setting from config.yaml, so its default applies again")
      .argument("<key>", "a setting, rateLimits.TOOL, or a whole group")
      .addHelpText("after", "\nExample:\n  toolctl config unset limits.dailyUsd\n  toolctl config unset rateLimits.stripe")
      .action(action(async () => (await import("../commands/config.js")).unsetCommand));
    // `config sett`: a typo of a subcommand, not "too many arguments". Only now, after the subcommands are made:
    // they would inherit it and take `config set KEY VALUE EXTRA` silently.
    config.allowExcessArguments(true);
  },
};
