import { Argument } from "commander";
import type { CommandDefinition } from "./types.js";

export const newDefinition: CommandDefinition = {
  name: "new",
  register(program, action) {
    program
      .command("new")
      .description("write a commented manifest to start a tool from (http, process or docker), or an http tool from a curl command line")
      .addArgument(new Argument("<runtime>", "the tool's runtime").choices(["http", "process", "docker"]))
      .argument("<name>", "the tool's name (lowercase letters, digits, '_' or '-')")
      .option("--out <file>", "write here instead of NAME.yaml in the current directory (an existing file is never replaced)")
      .option("--from-curl <command>", "http only: make the action from this curl command line; credentials in it become secret references")
      .addHelpText(
        "after",
        "\nThe manifest imports as it is (toolctl import NAME.yaml). With --from-curl, every credential in the line (the\nAuthorization header, -u's password, API-key headers, and query, form or JSON fields named like key, token,\nsecret or password) is replaced by {{ secrets.NAME }} and never written; the secrets to set are listed.\n\nExamples:\n  toolctl new http weather\n  toolctl new process resize --out tools/resize.yaml\n  toolctl new http github --from-curl 'curl -H \"Authorization: Bearer $GITHUB_TOKEN\" https://api.github.com/user/repos'",
      )
      .action(action(async () => (await import("../commands/new.js")).newCommand));
  },
};
