import type { CommandDefinition } from "./types.js";

export const doctorDefinition: CommandDefinition = {
  name: "doctor",
  register(program, action) {
    program
      .command("doctor")
      .description("what works and what is missing: config, registry, audit chain, 2FA, secrets, keys, process confinement, Docker engine and runc, images")
      .addHelpText(
        "after",
        "\nExit 0 when no check failed, 6 when one did (an invalid config, an unusable registry or a broken audit chain,\nmissing secrets, or something a registered tool needs that is unavailable).\n\nExample:\n  toolctl doctor\n  toolctl doctor --json",
      )
      .action(action(async () => (await import("../commands/doctor.js")).doctorCommand));
  },
};
