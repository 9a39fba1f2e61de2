import type { CommandDefinition } from "./types.js";

export const twoFactorDefinition: CommandDefinition = {
  name: "2fa",
  register(program, action) {
    const twoFactor = program
      .command("2fa")
      .description("two-factor authentication: a TOTP code (CRITICAL actions and approvals) and passkeys (the approval page)")
      .addHelpText("after", "\nExample:\n  toolctl 2fa enroll\n  toolctl 2fa enroll --passkey --name laptop\n  toolctl 2fa status --json");
    twoFactor
      .command("enroll")
      .description("create a TOTP secret, show its QR code and confirm it with a first code; or (--passkey) register a passkey on the approval page")
      .option("--code <code>", "confirm a pending enrolment with this code, without prompting")
      .option("--passkey", "register a passkey instead: serves the approval page's passkey page and waits until one is added (Ctrl-C stops)")
      .option("--name <name>", "with --passkey: the name to suggest for it (such as laptop)")
      .option("--no-open", "with --passkey: print the page's one-time login link without opening a browser")
      .addHelpText(
        "after",
        "\nWith --passkey the page's login link is printed on stderr (and opened in a browser on a terminal). Once 2FA or a passkey\nexists, adding a passkey asks for one of them on the page.\n\nExample:\n  toolctl 2fa enroll\n  toolctl 2fa enroll --code 123456   # finish an enrolment started elsewhere\n  toolctl 2fa enroll --passkey --name laptop",
      )
      .action(action(async () => (await import("../commands/twofa.js")).enrollCommand));
    twoFactor
      .command("status")
      .description("whether 2FA is enrolled, since when, whether wrong codes have locked it for now, and the registered passkeys")
      .addHelpText("after", "\nExample:\n  toolctl 2fa status --json")
      .action(action(async () => (await import("../commands/twofa.js")).statusCommand));
    twoFactor
      .command("disable")
      .description("remove the 2FA enrolment (needs a valid code)")
      .option("--code <code>", "a current code from your authenticator app (prompted for on a terminal)")
      .addHelpText("after", "\nExample:\n  toolctl 2fa disable --code 123456")
      .action(action(async () => (await import("../commands/twofa.js")).disableCommand));
    const passkey = twoFactor.command("passkey").description("the registered passkeys (listed by toolctl 2fa status)");
    passkey
      .command("rm")
      .description("remove a passkey by name or id (needs a TOTP code; on the approval page, a passkey does too)")
      .argument("<name>", "the passkey's name or id, as toolctl 2fa status lists it")
      .option("--code <code>", "a current code from your authenticator app (prompted for on a terminal)")
      .addHelpText("after", "\nExample:\n  toolctl 2fa passkey rm laptop --code 123456")
      .action(action(async () => (await import("../commands/twofa.js")).removePasskeyCommand));
  },
};
