import type { CommandDefinition } from "./types.js";

export const doctorDefinition: CommandDefinition = {
  name: "doctor",
  register(program, action) {
    program
      .command("doctor")
      .description("what works and what is missing: config, registry, audit chain, 2FA, secrets, keys, process confinement, Docker engine and runc, images")
      .addHelpText(
        "after",
        "\nExit 0 when nothing failed, 6 when something a registered tool needs is unavailable.\n\nExample:\n  toolctl doctor\n  toolctl doctor --json",
      )
      .action(action(async () => (await import("../commands/doctor.js")).doctorCommand));
  },
};
