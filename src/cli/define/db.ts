import type { CommandDefinition } from "./types.js";

export const dbDefinition: CommandDefinition = {
  name: "db",
  register(program, action) {
    const db = program
      .command("db")
      .description("move a registry between backends: this home's SQLite registry and a team's PostgreSQL database")
      .addHelpText(
        "after",
        "\nExit 0 when the copy's audit chain verifies, 2 for a bad URL, a target in use or a home in use, 6 when a database is unreachable or the chain does not verify.\n\nExample:\n  toolctl db migrate-to postgres://toolctl@db.internal/toolctl\n  toolctl db export ./backup-2026-12-06",
      );
    db.command("migrate-to")
      .argument("<url>", "an empty PostgreSQL database: postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=…]")
      .description(
        "copy this home's registry (tools, grants, history, approvals, ledger, audit log, 2FA, passkeys) into an empty PostgreSQL database, then verify its audit chain there; secrets stay on this machine",
      )
      .addHelpText(
        "after",
        "\nExample:\n  toolctl db migrate-to postgres://toolctl@db.internal/toolctl\n  export TOOLCTL_DATABASE_URL=postgres://toolctl@db.internal/toolctl",
      )
      .action(action(async () => (await import("../commands/db.js")).migrateToCommand));
    db.command("export")
      .argument("<dir>", "a directory without a registry.db: it becomes a home holding the copy")
      .description(
        "copy the team database (--database, $TOOLCTL_DATABASE_URL or database.url) into a new SQLite registry in DIR, from one consistent snapshot, then verify its audit chain: a backup",
      )
      .addHelpText("after", "\nExample:\n  toolctl db export ./backup-2026-12-06\n  TOOLCTL_HOME=./backup-2026-12-06 toolctl audit verify")
      .action(action(async () => (await import("../commands/db.js")).exportCommand));
  },
};
