import type { CommandDefinition } from "./types.js";

export const uiDefinition: CommandDefinition = {
  name: "ui",
  register(program, action) {
    program
      .command("ui")
      .description("the local approval page: approve or deny requests (with a passkey or a TOTP code), browse executions, the audit log and spend")
      .option("--listen <[host:]port>", "listen on this loopback address and port (default: 127.0.0.1 and a free port; other hosts are refused)")
      .option("--no-open", "print the login link without opening a browser")
      .addHelpText(
        "after",
        "\nPrints a one-time login link on stderr and opens it in a browser when run on a terminal. Approving on the page always takes\na passkey (toolctl 2fa enroll --passkey) or, without one, a TOTP code (toolctl 2fa enroll). Passkeys need the page at\nhttp://localhost:PORT, the address it prints. Ctrl-C or SIGTERM stops the server.\n\nExample:\n  toolctl ui\n  toolctl ui --listen 8809 --no-open",
      )
      .action(action(async () => (await import("../commands/ui.js")).uiCommand));
  },
};
