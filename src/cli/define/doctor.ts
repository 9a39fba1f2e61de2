import type { CommandDefinition } from "./types.js";

export const doctorDefinition: CommandDefinition = {
  name: "doctor",
  register(program, action) {
    program
      .command("doctor")
      .description("what works and what is missing: registry, audit chain, config, Docker engine and runc, images, secrets, 2FA")
      .addHelpText("after", "\nExit 0 when nothing failed, 6 when something a registered tool needs is unavailable.\n\nExample:\n  toolctl doctor\n  toolctl doctor --json")
      .action(action(async () => (await import("../commands/doctor.js")).doctorCommand));
  },
};
