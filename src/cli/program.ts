/**
 * The command-line program: the list of commands, the wrapper that runs a handler and turns its result or error
 * into an exit code, and commander's own errors. Each command's flags and help are in ./define/<command>.ts; its
 * handler, imported only when it runs, is in ./commands/.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { resolveActor, resolveHome, type CommonOptions } from "../config/home.js";
import { ExitCode, exitCodeFor, ToolctlError, UsageError } from "../errors.js";
import { didYouMean } from "../util/suggest.js";
import { createOutput, loadColors, pagerCommand, type Output } from "../ui/output.js";
import type { CommandDefinition, Handler } from "./define/types.js";
import { importDefinition } from "./define/import.js";
import { listDefinition } from "./define/list.js";
import { showDefinition } from "./define/show.js";
import { approvalsDefinition } from "./define/approvals.js";
import { approveDefinition } from "./define/approve.js";
import { denyDefinition } from "./define/deny.js";
import { budgetDefinition } from "./define/budget.js";
import { configDefinition } from "./define/config.js";
import { toolDefinition } from "./define/tool.js";
import { doctorDefinition } from "./define/doctor.js";
import { runDefinition } from "./define/run.js";
import { rollbackDefinition } from "./define/rollback.js";
import { planDefinition } from "./define/plan.js";
import { applyDefinition } from "./define/apply.js";
import { planRunsDefinition } from "./define/plan-runs.js";
import { statsDefinition } from "./define/stats.js";
import { twoFactorDefinition } from "./define/2fa.js";
import { secretDefinition } from "./define/secret.js";
import { executionsDefinition } from "./define/executions.js";
import { auditDefinition } from "./define/audit.js";
import { mcpDefinition } from "./define/mcp.js";
import { uiDefinition } from "./define/ui.js";
import { newDefinition } from "./define/new.js";
import { completionDefinition } from "./define/completion.js";
import { dbDefinition } from "./define/db.js";
import { initDefinition } from "./define/init.js";
import { syncDefinition } from "./define/sync.js";

export interface CommandContext extends CommonOptions {
  output: Output;
}

interface GlobalFlags {
  home?: string;
  database?: string;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  pager?: boolean;
}

async function contextFor(command: Command): Promise<CommandContext> {
  const globals = command.optsWithGlobals<GlobalFlags>();
  // An empty value (an unset shell variable, `--home "$DIR"`) would silently mean the default: a usage error instead.
  if (globals.home !== undefined && globals.home.trim() === "") throw new UsageError("--home: expected a directory, got an empty value");
  if (globals.database !== undefined && globals.database.trim() === "") throw new UsageError("--database: expected a postgres:// URL, got an empty value");
  const env = process.env;
  const json = globals.json === true;
  const cwd = process.cwd();
  const { home, source, project } = resolveHome(globals.home, env, cwd);
  return {
    home,
    homeSource: source,
    ...(project ? { project } : {}),
    ...(globals.database !== undefined ? { database: globals.database } : {}),
    json,
    actor: resolveActor(env),
    cwd,
    env,
    output: createOutput({
      json,
      quiet: globals.quiet === true,
      verbose: globals.verbose === true,
      pager: pagerCommand(globals.pager !== false, env),
      env,
      colors: json ? undefined : await loadColors(env),
    }),
  };
}

/** Wraps a lazily imported handler: builds the context, runs it, and turns its result or error into an exit code. */
function action(load: () => Promise<Handler>) {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const context = await contextFor(command);
    try {
      const { quiet, verbose } = context.output;
      if (quiet && verbose) throw new UsageError("--quiet and --verbose cannot be combined: choose one");
      if (verbose) context.output.debug(`home: ${context.home} (${context.homeSource}); actor: ${context.actor}`);
      // A broken toolctl.yaml stops every command in the project before anything is written, except three: init
      // replaces it, completion prints a script, and doctor reports it among its findings.
      if (context.project && !["init", "completion", "doctor"].includes(command.name())) {
        await (await import("../config/project.js")).readProject(context.project);
      }
      const handler = await load();
      const code = await handler(context, ...args.slice(0, -1));
      process.exitCode = code ?? ExitCode.ok;
    } catch (error) {
      context.output.error(error);
      process.exitCode = exitCodeFor(error);
      if (!(error instanceof ToolctlError)) {
        // A bug, not an expected outcome: keep the stack for the report.
        process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
      }
    }
  };
}

/** Every top-level command, in help order. */
const COMMANDS: readonly CommandDefinition[] = [
  initDefinition,
  syncDefinition,
  importDefinition,
  newDefinition,
  listDefinition,
  showDefinition,
  approvalsDefinition,
  approveDefinition,
  denyDefinition,
  budgetDefinition,
  configDefinition,
  toolDefinition,
  doctorDefinition,
  dbDefinition,
  runDefinition,
  rollbackDefinition,
  planDefinition,
  applyDefinition,
  planRunsDefinition,
  statsDefinition,
  twoFactorDefinition,
  secretDefinition,
  executionsDefinition,
  auditDefinition,
  mcpDefinition,
  uiDefinition,
  completionDefinition,
];

export const COMMAND_NAMES = COMMANDS.map((command) => command.name);

/**
 * The command tree. With `only`, just that command is registered (start-up cost is the tree it builds);
 * without it, all of them, as help and "did you mean" need.
 */
export function buildProgram(only?: string): Command {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  const program = new Command("toolctl")
    .description("Run real-world actions safely: manifests, dry runs, approvals, sandboxes and a tamper-evident audit log.")
    .version(pkg.version, "-V, --version")
    .option("--home <dir>", "toolctl home (default: $TOOLCTL_HOME, else the nearest toolctl.yaml's .toolctl/, else ~/.toolctl)")
    .option(
      "--database <url>",
      "a team's PostgreSQL database (postgres://…) instead of the home's registry (default: $TOOLCTL_DATABASE_URL, else database.url in config.yaml)",
    )
    .option("--json", "print JSON on stdout (errors too) and nothing else")
    .option("-q, --quiet", "only errors on stderr (data still on stdout): no notes, warnings or spinners")
    .option("-v, --verbose", "say what happens on stderr: a run's pipeline stages with their timing, the request sent and the answer (secrets redacted)")
    .option("--no-pager", "never page long output (show, audit, executions); see TOOLCTL_PAGER")
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText(
      "after",
      "\nEnvironment variables: toolctl help environment\n\nExample:\n  toolctl import manifests/examples && toolctl run echo.say --param message=hi --dry-run",
    );

  // Each command is registered by a function of its own: V8 compiles a function only when it is called, so
  // starting one command does not compile the definitions of all the others.
  for (const command of COMMANDS) {
    if (only === undefined || only === command.name) command.register(program, action);
  }

  return program;
}

/** The command a command line invokes, when it names one; undefined for help, a typo or none (all are built then). */
export function invokedCommand(args: string[]): string | undefined {
  if (args.some((arg) => arg === "--help" || arg === "-h")) return undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--home" || arg === "--database") {
      i++;
      continue;
    }
    if (arg.startsWith("-")) continue;
    return COMMAND_NAMES.includes(arg) ? arg : undefined;
  }
  return undefined;
}

/** Commander's error text with its suggestion (`\n(Did you mean list?)`) folded into the error's line. */
function oneLine(text: string): string {
  return text.replace(/\n\(Did you mean (\S+?)\?\)/, " (did you mean '$1'?)");
}

/** `toolctl help environment` (and `help env`): a help topic rather than a command, so it is answered here. */
function isEnvironmentHelp(args: string[]): boolean {
  const words = args.filter((arg) => !arg.startsWith("-"));
  return words.length === 2 && words[0] === "help" && (words[1] === "environment" || words[1] === "env");
}

/** The words after `help` (`toolctl help config set`), when the command line asks for help on a command. */
function helpTopic(args: string[]): string[] | undefined {
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--home" || arg === "--database") i++;
    else if (!arg.startsWith("-")) words.push(arg);
  }
  return words.length >= 2 && words[0] === "help" ? words.slice(1) : undefined;
}

/**
 * `toolctl help WORDS…`: the help of that command or subcommand, on stdout. Commander's own help command takes one
 * word and answers an unknown one with the whole program's help; here a word that names nothing is a usage error
 * with a suggestion, as a mistyped command is.
 */
function showHelpTopic(program: Command, topic: string[]): void {
  let command = program;
  for (const [i, word] of topic.entries()) {
    const next = command.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (next === undefined) {
      if (command !== program && command.commands.length === 0) throw new UsageError(`'toolctl ${topic.slice(0, i).join(" ")}' has no subcommand '${word}'`);
      throw new UsageError(
        `unknown command '${topic.slice(0, i + 1).join(" ")}'${didYouMean(
          word,
          command.commands.map((c) => c.name()),
        )}`,
      );
    }
    command = next;
  }
  command.outputHelp();
}

export async function runCli(args: string[]): Promise<void> {
  const json = args.includes("--json");
  const topic = helpTopic(args);
  if (topic !== undefined && !isEnvironmentHelp(args)) {
    try {
      showHelpTopic(buildProgram(), topic);
      process.exitCode = ExitCode.ok;
    } catch (error) {
      createOutput({ json, colors: json ? undefined : await loadColors(process.env) }).error(error);
      process.exitCode = exitCodeFor(error);
    }
    return;
  }
  if (isEnvironmentHelp(args)) {
    const { environmentHelp } = await import("./commands/environment.js");
    await environmentHelp(
      createOutput({ json, pager: pagerCommand(!args.includes("--no-pager"), process.env), colors: json ? undefined : await loadColors(process.env) }),
    );
    return;
  }
  const program = buildProgram(invokedCommand(args));
  // Commander's own errors (unknown option, missing argument) are usage errors: exit 2, in the chosen view.
  program.exitOverride();
  for (const command of [program, ...program.commands.flatMap((c) => [c, ...c.commands])]) {
    command.exitOverride();
    // In JSON mode commander's own error text (and its help hint) stays off both streams: the JSON error says it.
    if (json) command.configureOutput({ outputError: () => undefined, writeErr: () => undefined });
    // Its "did you mean" goes on the error's own line, in toolctl's wording: one line per error.
    else command.configureOutput({ outputError: (text, write) => write(oneLine(text)) });
  }
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      // `--help` and `--version` succeed; help shown because a command group was given no subcommand is a usage error.
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version" || (error.code === "commander.help" && error.exitCode === 0)) {
        process.exitCode = ExitCode.ok;
        return;
      }
      if (error.code === "commander.help") {
        if (json) createOutput({ json: true }).error(new UsageError("a subcommand is required; see --help"));
        process.exitCode = ExitCode.usage;
        return;
      }
      if (json) createOutput({ json: true }).error(new UsageError(oneLine(error.message).replace(/^error: /, "")));
      process.exitCode = ExitCode.usage;
      return;
    }
    if (error instanceof ToolctlError) {
      createOutput({ json, colors: json ? undefined : await loadColors(process.env) }).error(error);
      process.exitCode = error.exitCode;
      return;
    }
    throw error;
  }
}
