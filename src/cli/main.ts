/**
 * The command tree. Each command parses its flags, lazily imports its implementation and hands the result
 * to the view, so start-up stays close to bare node. Exit codes are decided here, in one place.
 */
import { readFileSync } from "node:fs";

const argv = process.argv.slice(2);

// `--version` is answered before anything else loads: scripts call it to probe for toolctl.
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  process.stdout.write(`${pkg.version}\n`);
} else {
  const { runCli } = await import("./program.js");
  await runCli(argv);
}
