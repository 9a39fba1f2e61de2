import type { CommandDefinition } from "./types.js";

export const syncDefinition: CommandDefinition = {
  name: "sync",
  register(program, action) {
    program
      .command("sync")
      .description("import every manifest and spec the project's toolctl.yaml lists; says which tools were added, updated or unchanged")
      .option("--prune", "also remove the tools an earlier sync imported that toolctl.yaml no longer lists (never tools imported by hand)")
      .option("-n, --dry-run", "show what the sync would add, update and (with --prune) remove, and change nothing")
      .addHelpText(
        "after",
        "\nThe nearest toolctl.yaml in this directory or above it is read; its paths are from its directory.\n\nExample:\n  toolctl sync\n  toolctl sync --prune --dry-run\n  toolctl sync --prune --json",
      )
      .action(action(async () => (await import("../commands/sync.js")).syncCommand));
  },
};
