import { Option } from "commander";
import { collect } from "./flags.js";
import type { CommandDefinition } from "./types.js";

export const runDefinition: CommandDefinition = {
  name: "run",
  register(program, action) {
    program
      .command("run")
      .description("run one action: validate, show cost and risk, execute, record")
      .argument("<tool.action>", "the action to run")
      .option("-p, --param <key=value>", "an input field, typed by the input schema (repeatable; dotted keys nest)", collect, [])
      .option("--params <json>", "input as a JSON object")
      .option("--params-file <file>", "input as a JSON file; '-' reads stdin")
      .option("-n, --dry-run", "show exactly what would be sent or started, and run nothing")
      .option("-y, --yes", "approve without a prompt (CRITICAL also needs --otp)")
      .option("--otp <code>", "the TOTP code from your authenticator, for a CRITICAL action")
      .option("--wait", "file an approval request and wait for `toolctl approve ID` from another terminal")
      .addOption(
        new Option("--sandbox <mode>", "run a process tool that names an image in Docker, or directly (default: config docker.sandboxProcesses)").choices([
          "docker",
          "none",
        ]),
      )
      .addHelpText(
        "after",
        '\nExamples:\n  toolctl run calculator.calculate --param operation=add --param a=5 --param b=3\n  toolctl run calculator.calculate --sandbox docker --param operation=multiply --param a=6 --param b=7\n  toolctl run weather.current --params \'{"latitude":48.85,"longitude":2.35}\' --dry-run\n  echo \'{"message":"hi"}\' | toolctl run echo.say --params-file - --json',
      )
      .action(action(async () => (await import("../commands/run.js")).runCommand));
  },
};
