import { collect } from "./flags.js";
import type { CommandDefinition } from "./types.js";

export const importDefinition: CommandDefinition = {
  name: "import",
  register(program, action) {
    program
      .command("import")
      .description("load manifests (files, or every manifest in a directory), or an OpenAPI spec, into the registry")
      .argument("[paths...]", "manifest files or directories")
      .option("--openapi <file|url>", "import a Swagger 2.0 / OpenAPI 3.0 / 3.1 spec (JSON or YAML) as one tool, pending until approved")
      .option("--name <name>", "the tool's name (default: from the spec's title)")
      .option("--base-url <url>", "call this base URL instead of the spec's servers")
      .option("--tag <tag>", "only operations with this tag (repeatable)", collect)
      .option("--operation <id>", "only this operation, by operationId or action name (repeatable)", collect)
      .option("--path-prefix <prefix>", "only operations whose path starts with this")
      .option("--strict", "refuse the spec if any selected operation cannot be imported, instead of leaving it out")
      .option("--allow-plain-http", "allow http:// for the spec URL and the tool's calls")
      .option("--allow-private-networks", "allow loopback and private addresses for the spec URL and the tool's calls")
      .option("-n, --dry-run", "show what the import would add or change, and change nothing")
      .addHelpText(
        "after",
        "\nExamples:\n  toolctl import manifests/examples\n  toolctl import ./stripe.yaml --json\n  toolctl import manifests/ --dry-run\n  toolctl import --openapi ./petstore.yaml --tag pet\n  toolctl import --openapi https://api.example.com/openapi.json --name example --operation listPets",
      )
      .action(action(async () => (await import("../commands/import.js")).importCommand));
  },
};
