import { UsageError } from "../../errors.js";
import type { CommandDefinition } from "./types.js";

export const secretDefinition: CommandDefinition = {
  name: "secret",
  register(program, action) {
    const secret = program
      .command("secret")
      .description("the encrypted secret store (used after the environment and .env); values are never printed")
      .addHelpText(
        "after",
        "\nExample:\n  toolctl secret set STRIPE_API_KEY            # prompts, hidden\n  printf '%s' \"$TOKEN\" | toolctl secret set GITHUB_TOKEN\n  toolctl secret list --json",
      );
    secret
      .command("set")
      .description("store or replace a secret: the value comes from a hidden prompt, or stdin when piped, never an argument")
      .argument("<name>", "secret name, as used in manifests ({{ secrets.NAME }})")
      .allowExcessArguments(true)
      .hook("preAction", async (command) => {
        // A value typed after the name is already in shell history; refusing it says why instead of a bare arity error.
        if (command.args.length > 1) throw new UsageError((await import("../commands/secret.js")).VALUE_AS_ARGUMENT);
      })
      .addHelpText("after", "\nExample:\n  toolctl secret set STRIPE_API_KEY\n  printf '%s' \"$TOKEN\" | toolctl secret set GITHUB_TOKEN")
      .action(action(async () => (await import("../commands/secret.js")).setSecretCommand));
    secret
      .command("list")
      .description("stored secrets: names, dates and key ids, never values")
      .option("--check", "also decrypt each one and report any that cannot be (exit 6)")
      .addHelpText("after", "\nExample:\n  toolctl secret list --check --json")
      .action(action(async () => (await import("../commands/secret.js")).listSecretsCommand));
    secret
      .command("rm")
      .description("remove a secret from the store")
      .argument("<name>", "secret name")
      .addHelpText("after", "\nExample:\n  toolctl secret rm STRIPE_API_KEY")
      .action(action(async () => (await import("../commands/secret.js")).removeSecretCommand));
    secret
      .command("rotate")
      .description("make a new master key and re-seal every stored secret with it; safe to interrupt and re-run")
      .addHelpText("after", "\nWith TOOLCTL_MASTER_KEY, put the next key in TOOLCTL_MASTER_KEY_NEW first.\n\nExample:\n  toolctl secret rotate")
      .action(action(async () => (await import("../commands/secret.js")).rotateSecretsCommand));
  },
};
