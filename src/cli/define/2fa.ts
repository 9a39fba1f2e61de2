import type { CommandDefinition } from "./types.js";

export const twoFactorDefinition: CommandDefinition = {
  name: "2fa",
  register(program, action) {
    const twoFactor = program
      .command("2fa")
      .description("TOTP two-factor authentication: CRITICAL actions and approvals need a code once enrolled")
      .addHelpText("after", "\nExample:\n  toolctl 2fa enroll\n  toolctl 2fa status --json");
    twoFactor
      .command("enroll")
      .description("create a TOTP secret, show its QR code and confirm it with a first code")
      .option("--code <code>", "confirm a pending enrolment with this code, without prompting")
      .addHelpText("after", "\nExample:\n  toolctl 2fa enroll\n  toolctl 2fa enroll --code 123456   # finish an enrolment started elsewhere")
      .action(action(async () => (await import("../commands/twofa.js")).enrollCommand));
    twoFactor
      .command("status")
      .description("whether 2FA is enrolled, since when, and whether wrong codes have locked it for now")
      .addHelpText("after", "\nExample:\n  toolctl 2fa status --json")
      .action(action(async () => (await import("../commands/twofa.js")).statusCommand));
    twoFactor
      .command("disable")
      .description("remove the 2FA enrolment (needs a valid code)")
      .option("--code <code>", "a current code from your authenticator app (prompted for on a terminal)")
      .addHelpText("after", "\nExample:\n  toolctl 2fa disable --code 123456")
      .action(action(async () => (await import("../commands/twofa.js")).disableCommand));
  },
};
