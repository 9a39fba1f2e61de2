/**
 * The command tree. Each command parses its flags, lazily imports its implementation and hands the result
 * to the view, so start-up stays close to bare node. Exit codes are decided here, in one place.
 */
import { readFileSync } from "node:fs";
import { watchStdio, writeText } from "../ui/stdio.js";

const argv = process.argv.slice(2);

// stdout and stderr are written without their streams until something needs one (../ui/stdio.ts). When one is
// built: `toolctl list | head` closes the pipe early, which is the reader's choice, not an error worth a stack trace.
watchStdio((stream) =>
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  }),
);

async function main(): Promise<void> {
  // `--version` is answered before anything else loads: scripts call it to probe for toolctl. With `--json`, as JSON.
  const isVersion = (arg: string | undefined) => arg === "--version" || arg === "-V";
  const json = argv.length === 2 && argv.includes("--json");
  if ((argv.length === 1 && isVersion(argv[0])) || (json && argv.some(isVersion))) {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    writeText(1, json ? `${JSON.stringify({ version: pkg.version })}\n` : `${pkg.version}\n`);
  } else if (argv[0] === "__complete" || argv[0] === "__complete-spec") {
    // Shell completion (toolctl completion): answered without commander or the command tree, from the spec the build
    // wrote beside this file.
    const { complete, printSpec } = await import("./completion/complete.js");
    if (argv[0] === "__complete") await complete(argv.slice(1), new URL("./completion-spec.json", import.meta.url));
    else await printSpec();
  } else {
    const { runCli } = await import("./program.js");
    await runCli(argv);
  }
}

main().catch((error: unknown) => {
  // A bug that escaped every handler: its stack is the report.
  writeText(2, `${(error as Error)?.stack ?? String(error)}\n`);
  process.exitCode = 1;
});
