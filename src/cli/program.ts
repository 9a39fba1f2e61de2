import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { resolveActor, resolveHome, type CommonOptions } from "../config/home.js";
import { ExitCode, exitCodeFor, ToolctlError, UsageError } from "../errors.js";
import { createOutput, type Output } from "../ui/output.js";
import { runtimes, toolStatuses } from "../domain/runtimes.js";
import { didYouMean } from "../util/suggest.js";

export interface CommandContext extends CommonOptions {
  output: Output;
}

function contextFor(command: Command): CommandContext {
  const globals = command.optsWithGlobals<{ home?: string; json?: boolean }>();
  const env = process.env;
  return {
    home: resolveHome(globals.home, env),
    json: globals.json === true,
    actor: resolveActor(env),
    cwd: process.cwd(),
    env,
    output: createOutput(globals.json === true, env),
  };
}

type Handler = (context: CommandContext, ...args: any[]) => Promise<number | void>;

/** Wraps a lazily imported handler: builds the context, runs it, and turns its result or error into an exit code. */
function action(load: () => Promise<Handler>) {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const context = contextFor(command);
    try {
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

const collect = (value: string, previous: string[] = []) => [...previous, value];

function positiveInt(flag: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive integer, got ${JSON.stringify(value)}`);
    return n;
  };
}

/** A flag that takes one of a fixed list: anything else is a usage error with the closest value and the list. */
function oneOf(flag: string, noun: string, values: readonly string[]) {
  return (value: string) => {
    if (values.includes(value)) return value;
    throw new UsageError(`${flag}: unknown ${noun} '${value}'${didYouMean(value, values)}; one of: ${values.join(", ")}`);
  };
}

/** Every top-level command, in help order. */
export const COMMAND_NAMES = ["import", "list", "show", "approvals", "approve", "deny", "budget", "config", "tool", "doctor", "run", "rollback", "plan", "apply", "plan-runs", "stats", "2fa", "secret", "executions", "audit"] as const;

/**
 * The command tree. With `only`, just that command is registered (start-up cost is the tree it builds);
 * without it, all of them, as help and "did you mean" need.
 */
export function buildProgram(only?: string): Command {
  // Each command is registered by a function of its own: V8 compiles a function only when it is called, so
  // starting one command does not compile the definitions of all the others.
  const register = (name: string, define: () => void) => {
    if (only === undefined || only === name) define();
  };
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  const program = new Command("toolctl")
    .description("Run real-world actions safely: manifests, dry runs, approvals, sandboxes and a tamper-evident audit log.")
    .version(pkg.version, "-V, --version")
    .option("--home <dir>", "toolctl home (default: $TOOLCTL_HOME, else ~/.toolctl)")
    .option("--json", "print JSON on stdout (errors too) and nothing else")
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText("after", "\nExample:\n  toolctl import manifests/examples && toolctl run echo.say --param message=hi --dry-run");

  register("import", () => {
    program
      .command("import")
      .description("load manifests (files, or every manifest in a directory), or an OpenAPI spec, into the registry")
      .argument("[paths...]", "manifest files or directories")
      .option("--openapi <file|url>", "import a Swagger 2.0 / OpenAPI 3.0 / 3.1 spec (JSON or YAML) as one tool, pending until approved")
      .option("--name <name>", "the tool's name (default: from the spec's title)")
      .option("--base-url <url>", "call this base URL instead of the spec's servers")
      .option("--tag <tag>", "only operations with this tag (repeatable)", collect, [])
      .option("--operation <id>", "only this operation, by operationId or action name (repeatable)", collect, [])
      .option("--path-prefix <prefix>", "only operations whose path starts with this")
      .option("--strict", "refuse the spec if any selected operation cannot be imported, instead of leaving it out")
      .option("--allow-plain-http", "allow http:// for the spec URL and the tool's calls")
      .option("--allow-private-networks", "allow loopback and private addresses for the spec URL and the tool's calls")
      .addHelpText("after", "\nExamples:\n  toolctl import manifests/examples\n  toolctl import ./stripe.yaml --json\n  toolctl import --openapi ./petstore.yaml --tag pet\n  toolctl import --openapi https://api.example.com/openapi.json --name example --operation listPets")
      .action(action(async () => (await import("./commands/import.js")).importCommand));
  });

  register("list", () => {
    program
      .command("list")
      .description("list registered tools")
      .option("--runtime <runtime>", `only tools of this runtime (${runtimes.join(", ")})`, oneOf("--runtime", "runtime", runtimes))
      .option("--status <status>", `only tools with this status (${toolStatuses.join(", ")})`, oneOf("--status", "status", toolStatuses))
      .option("--tag <tag>", "only tools with this tag")
      .option("-s, --search <text>", "free text over tool and action names and descriptions")
      .addHelpText("after", "\nExample:\n  toolctl list --search weather --json")
      .action(action(async () => (await import("./commands/list.js")).listCommand));
  });

  register("show", () => {
    program
      .command("show")
      .description("everything about one tool, or one action")
      .argument("<tool[.action]>", "a tool name, or tool.action")
      .addHelpText("after", "\nExample:\n  toolctl show calculator.calculate")
      .action(action(async () => (await import("./commands/show.js")).showCommand));
  });

  register("approvals", () => {
    program
      .command("approvals")
      .description("approval requests filed by run --wait, with their input and where each goes (pending ones unless --all)")
      .option("--all", "every request, decided or expired too")
      .addHelpText("after", "\n--json carries each full request (input, where it goes, cost, risk, undo). A request that no longer\nmatches its digest (edited in the database) is listed by id only.\n\nExample:\n  toolctl approvals\n  toolctl approvals --json")
      .action(action(async () => (await import("./commands/approvals.js")).listApprovalsCommand));
  });

  register("approve", () => {
    program
      .command("approve")
      .description("show a pending request in full (action, input, where it goes, cost, risk, undo) and approve it after a typed yes")
      .argument("<id>", "approval request id")
      .option("-y, --yes", "approve without the yes/no question (needed without a terminal)")
      .option("--otp <code>", "TOTP code, for a CRITICAL request (prompted on a terminal otherwise)")
      .addHelpText("after", "\nThe request is checked against its digest before it is shown: one edited in the database is refused (exit 3).\nWithout a terminal and without --yes: exit 4.\n\nExample:\n  toolctl approve ap_1a2b3c4d\n  toolctl approve ap_1a2b3c4d --yes --otp 123456 --json")
      .action(action(async () => (await import("./commands/approvals.js")).approveCommand));
  });

  register("deny", () => {
    program
      .command("deny")
      .description("deny a pending request: the waiting run stops at once")
      .argument("<id>", "approval request id")
      .addHelpText("after", "\nExample:\n  toolctl deny ap_1a2b3c4d")
      .action(action(async () => (await import("./commands/approvals.js")).denyCommand));
  });

  register("budget", () => {
    program
      .command("budget")
      .description("today's spend, reservations and what is left under the limits")
      .option("--day <YYYY-MM-DD>", "another day than today (UTC)")
      .addHelpText("after", "\nExample:\n  toolctl budget --json")
      .action(action(async () => (await import("./commands/budget.js")).budgetCommand));
  });

  register("config", () => {
    program
      .command("config")
      .description("the effective settings, and where each came from (default, config.yaml or environment)")
      .addHelpText("after", "\nExample:\n  toolctl config\n  TOOLCTL_LIMITS_DAILY_USD=50 toolctl config --json")
      .action(action(async () => (await import("./commands/config.js")).configCommand));
  });

  register("tool", () => {
    const tool = program.command("tool").description("tool lifecycle: approve, revoke, enable, disable, remove, clear-state");
    for (const [verb, help] of [
      ["enable", "allow a tool to run again (pending if it asks for more than it was granted)"],
      ["disable", "stop a tool from running (it stays registered)"],
      ["remove", "delete a tool from the registry (its history stays)"],
    ] as const) {
      tool
        .command(verb)
        .description(help)
        .argument("<name>", "tool name")
        .addHelpText("after", `\nExample:\n  toolctl tool ${verb} weather`)
        .action(action(async () => (await import("./commands/tool.js")).toolCommand(verb)));
    }
    tool
      .command("approve")
      .description("show what a pending tool asks for (network, memory, CPU, storage, hosts) and grant it")
      .argument("<name>", "tool name")
      .option("-y, --yes", "grant without a prompt")
      .addHelpText("after", "\nExample:\n  toolctl tool approve calculator\n  toolctl tool approve petstore --yes --json")
      .action(action(async () => (await import("./commands/tool.js")).approveToolCommand));
    tool
      .command("revoke")
      .description("take a tool's grants away and remove its state volume; its history stays")
      .argument("<name>", "tool name")
      .addHelpText("after", "\nExample:\n  toolctl tool revoke calculator")
      .action(action(async () => (await import("./commands/tool.js")).revokeToolCommand));
    tool
      .command("test")
      .description("run the tool's declared harmless read: healthy, degraded (slow) or failing, with the latency")
      .argument("<name>", "tool name")
      .addHelpText("after", "\nExit 0 when healthy or degraded; otherwise the failed run's exit code.\n\nExample:\n  toolctl tool test stripe\n  toolctl tool test weather --json")
      .action(action(async () => (await import("./commands/run.js")).toolTestCommand));
    tool
      .command("clear-state")
      .description("empty a Docker tool's /state volume (the way out of \"volume quota exceeded\")")
      .argument("<name>", "tool name")
      .addHelpText("after", "\nExample:\n  toolctl tool clear-state notes")
      .action(action(async () => (await import("./commands/tool.js")).clearStateCommand));
  });

  register("doctor", () => {
    program
      .command("doctor")
      .description("what works and what is missing: registry, audit chain, config, Docker engine and runc, images, secrets, 2FA")
      .addHelpText("after", "\nExit 0 when nothing failed, 6 when something a registered tool needs is unavailable.\n\nExample:\n  toolctl doctor\n  toolctl doctor --json")
      .action(action(async () => (await import("./commands/doctor.js")).doctorCommand));
  });

  register("run", () => {
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
      .addOption(new Option("--sandbox <mode>", "run a process tool that names an image in Docker, or directly (default: config docker.sandboxProcesses)").choices(["docker", "none"]))
      .addHelpText(
        "after",
        "\nExamples:\n  toolctl run calculator.calculate --param operation=add --param a=5 --param b=3\n  toolctl run calculator.calculate --sandbox docker --param operation=mul --param a=6 --param b=7\n  toolctl run weather.current --params '{\"latitude\":48.85,\"longitude\":2.35}' --dry-run\n  echo '{\"message\":\"hi\"}' | toolctl run echo.say --params-file - --json",
      )
      .action(action(async () => (await import("./commands/run.js")).runCommand));
  });

  register("rollback", () => {
    program
      .command("rollback")
      .description("undo an execution with its declared compensation (a refund, a delete), run and recorded like any action")
      .argument("<execution-id>", "the execution to undo (an unambiguous prefix is enough)")
      .option("-n, --dry-run", "show the compensating request and run nothing")
      .option("-y, --yes", "approve without a prompt (CRITICAL also needs --otp)")
      .option("--otp <code>", "the TOTP code, when the compensation is CRITICAL")
      .option("--wait", "file an approval request and wait for `toolctl approve ID` from another terminal")
      .addHelpText("after", "\nThe compensation gets its own execution id (and idempotency key), points at the original, and the\noriginal becomes rolled_back. An irreversible action is refused (exit 3).\n\nExample:\n  toolctl rollback ex_mwq1a2b3c4 --dry-run\n  toolctl rollback ex_mwq1a2b3c4 --yes --json")
      .action(action(async () => (await import("./commands/run.js")).rollbackCommand));
  });

  register("plan", () => {
    program
      .command("plan")
      .description("preview a plan file: each step's request, cost, risk, approvals and rollback, and the total against the budget; runs nothing")
      .argument("<file>", "a plan file (kind: Plan)")
      .option("--out <file>", "save the plan (JSON, secret references only) for toolctl apply")
      .option("--detailed-exitcode", "exit 0 when nothing would act, 2 when something would, 1 on error (3 when over budget)")
      .addHelpText("after", "\nQuote actions (price checks) run, and are marked; nothing else does. Over a spending limit: exit 3.\n\nExample:\n  toolctl plan launch.plan.yaml\n  toolctl plan launch.plan.yaml --out launch.json --detailed-exitcode")
      .action(action(async () => (await import("./commands/plan.js")).planCommand));
  });

  register("apply", () => {
    program
      .command("apply")
      .description("apply a saved plan (or a plan file, planned now): one approval, steps in dependency order, rollback of completed steps on failure")
      .argument("<plan>", "a saved plan from toolctl plan --out, or a plan file")
      .option("-y, --yes", "approve the whole plan without a prompt (CRITICAL steps also need --otp)")
      .option("--otp <code>", "the TOTP code for a CRITICAL step")
      .option("--parallelism <n>", "independent steps run side by side, at most n at once", positiveInt("--parallelism"), 1)
      .addHelpText("after", "\nA saved plan is refused when stale (a manifest re-imported, an environment variable or the plan file\nchanged) or over budget, and is applied once. An interrupted apply: see toolctl plan-runs.\n\nExample:\n  toolctl apply launch.json\n  toolctl apply launch.plan.yaml --yes --parallelism 2 --json")
      .action(action(async () => (await import("./commands/plan.js")).applyCommand));
  });

  register("plan-runs", () => {
    const runs = program.command("plan-runs").description("applied plans: inspect one, resume an interrupted one, or roll back its completed steps");
    runs
      .command("list")
      .description("plan runs, newest first")
      .option("--limit <n>", "at most n runs", positiveInt("--limit"), 20)
      .action(action(async () => (await import("./commands/plan.js")).listPlanRunsCommand));
    runs
      .command("show")
      .description("a plan run's steps: status, execution and what became of each")
      .argument("<id>", "the plan run (an unambiguous prefix is enough)")
      .addHelpText("after", "\nExample:\n  toolctl plan-runs show pr_mwq1a2b3c4 --json")
      .action(action(async () => (await import("./commands/plan.js")).showPlanRunCommand));
    runs
      .command("resume")
      .description("carry on with the steps not done yet; completed steps never run again")
      .argument("<id>", "the plan run")
      .option("-y, --yes", "approve the remaining steps without a prompt")
      .option("--otp <code>", "the TOTP code for a CRITICAL step")
      .option("--parallelism <n>", "independent steps at once", positiveInt("--parallelism"), 1)
      .action(action(async () => (await import("./commands/plan.js")).resumePlanRunCommand));
    runs
      .command("rollback")
      .description("undo the completed steps of a run, newest first, through their declared compensations")
      .argument("<id>", "the plan run")
      .option("-y, --yes", "accepted for symmetry: compensations of a plan are approved with it")
      .option("--otp <code>", "the TOTP code, when a compensation is CRITICAL")
      .action(action(async () => (await import("./commands/plan.js")).rollbackPlanRunCommand));
  });

  register("stats", () => {
    program
      .command("stats")
      .description("counts, failures and spend by period, grouped by tool, action or status")
      .addOption(new Option("--period <period>", "bucket size, in UTC").choices(["hour", "day", "week", "month"]).default("day"))
      .addOption(new Option("--by <group>", "group rows by").choices(["tool", "action", "status"]).default("tool"))
      .option("--since <time>", "on or after this ISO time or date")
      .option("--until <time>", "on or before this ISO time or date")
      .option("--tool <tool>", "only this tool")
      .addHelpText("after", "\nSpend counts succeeded and unknown executions (an unknown outcome may have spent the money).\n\nExample:\n  toolctl stats --period week --by action --since 2026-11-01\n  toolctl stats --by status --tool stripe --json")
      .action(action(async () => (await import("./commands/stats.js")).statsCommand));
  });

  register("2fa", () => {
    const twoFactor = program
      .command("2fa")
      .description("TOTP two-factor authentication: CRITICAL actions and approvals need a code once enrolled")
      .addHelpText("after", "\nExample:\n  toolctl 2fa enroll\n  toolctl 2fa status --json");
    twoFactor
      .command("enroll")
      .description("create a TOTP secret, show its QR code and confirm it with a first code")
      .option("--code <code>", "confirm a pending enrolment with this code, without prompting")
      .addHelpText("after", "\nExample:\n  toolctl 2fa enroll\n  toolctl 2fa enroll --code 123456   # finish an enrolment started elsewhere")
      .action(action(async () => (await import("./commands/twofa.js")).enrollCommand));
    twoFactor
      .command("status")
      .description("whether 2FA is enrolled, since when, and whether wrong codes have locked it for now")
      .addHelpText("after", "\nExample:\n  toolctl 2fa status --json")
      .action(action(async () => (await import("./commands/twofa.js")).statusCommand));
    twoFactor
      .command("disable")
      .description("remove the 2FA enrolment (needs a valid code)")
      .option("--code <code>", "a current code from your authenticator app (prompted for on a terminal)")
      .addHelpText("after", "\nExample:\n  toolctl 2fa disable --code 123456")
      .action(action(async () => (await import("./commands/twofa.js")).disableCommand));
  });

  register("secret", () => {
    const secret = program
      .command("secret")
      .description("the encrypted secret store (used after the environment and .env); values are never printed")
      .addHelpText("after", "\nExample:\n  toolctl secret set STRIPE_API_KEY            # prompts, hidden\n  printf '%s' \"$TOKEN\" | toolctl secret set GITHUB_TOKEN\n  toolctl secret list --json");
    secret
      .command("set")
      .description("store or replace a secret: the value comes from a hidden prompt, or stdin when piped, never an argument")
      .argument("<name>", "secret name, as used in manifests ({{ secrets.NAME }})")
      .allowExcessArguments(true)
      .hook("preAction", async (command) => {
        // A value typed after the name is already in shell history; refusing it says why instead of a bare arity error.
        if (command.args.length > 1) throw new UsageError((await import("./commands/secret.js")).VALUE_AS_ARGUMENT);
      })
      .addHelpText("after", "\nExample:\n  toolctl secret set STRIPE_API_KEY\n  printf '%s' \"$TOKEN\" | toolctl secret set GITHUB_TOKEN")
      .action(action(async () => (await import("./commands/secret.js")).setSecretCommand));
    secret
      .command("list")
      .description("stored secrets: names, dates and key ids, never values")
      .option("--check", "also decrypt each one and report any that cannot be (exit 6)")
      .addHelpText("after", "\nExample:\n  toolctl secret list --check --json")
      .action(action(async () => (await import("./commands/secret.js")).listSecretsCommand));
    secret
      .command("rm")
      .description("remove a secret from the store")
      .argument("<name>", "secret name")
      .addHelpText("after", "\nExample:\n  toolctl secret rm STRIPE_API_KEY")
      .action(action(async () => (await import("./commands/secret.js")).removeSecretCommand));
    secret
      .command("rotate")
      .description("make a new master key and re-seal every stored secret with it; safe to interrupt and re-run")
      .addHelpText("after", "\nWith TOOLCTL_MASTER_KEY, put the next key in TOOLCTL_MASTER_KEY_NEW first.\n\nExample:\n  toolctl secret rotate")
      .action(action(async () => (await import("./commands/secret.js")).rotateSecretsCommand));
  });

  register("executions", () => {
    const executions = program
      .command("executions")
      .description("execution history, newest first")
      .option("--tool <tool>", "only this tool")
      .option("--action <action>", "only this action")
      .addOption(new Option("--status <status>", "only this status").choices(["requested", "running", "succeeded", "failed", "unknown", "declined", "dry_run"]))
      .addOption(new Option("--actor <actor>", "only this actor").choices(["user", "ci", "agent"]))
      .option("--since <time>", "on or after this ISO time or date")
      .option("--until <time>", "on or before this ISO time or date")
      .option("--limit <n>", "rows per page (default 20)", positiveInt("--limit"), 20)
      .option("--page <n>", "page number, from 1", positiveInt("--page"), 1)
      .addHelpText("after", "\nExample:\n  toolctl executions --status failed --limit 5\n  toolctl executions show ex_lx2k…")
      .action(action(async () => (await import("./commands/executions.js")).listExecutionsCommand));
    executions
      .command("show")
      .description("one execution in full")
      .argument("<id>", "execution id, or an unambiguous prefix of it")
      .action(action(async () => (await import("./commands/executions.js")).showExecutionCommand));
  });

  register("audit", () => {
    const audit = program
      .command("audit")
      .description("the audit log, oldest first (the newest --limit events)")
      .option("--tool <tool>", "only this tool")
      .option("--action <action>", "only this action")
      .option("--status <status>", "only events with this status")
      .option("--type <type>", "only this event type, such as execution.dry_run")
      .addOption(new Option("--actor <actor>", "only this actor").choices(["user", "ci", "agent"]))
      .option("--execution <id>", "only events of this execution")
      .option("--since <time>", "on or after this ISO time or date")
      .option("--until <time>", "on or before this ISO time or date")
      .option("--limit <n>", "at most this many events (default 50)", positiveInt("--limit"), 50)
      .addHelpText("after", "\nExample:\n  toolctl audit --tool echo --json   # JSON lines\n  toolctl audit verify")
      .action(action(async () => (await import("./commands/audit.js")).auditCommand));
    audit
      .command("verify")
      .description("check the hash chain: detects edited, deleted, reordered or truncated events")
      .action(action(async () => (await import("./commands/audit.js")).verifyCommand));
    audit
      .command("export")
      .description("every event as JSON lines, with its hashes, to stdout or a file")
      .option("-o, --output <file>", "write to this file instead of stdout")
      .action(action(async () => (await import("./commands/audit.js")).exportCommand));
  });

  return program;
}

/** The command a command line invokes, when it names one; undefined for help, a typo or none (all are built then). */
export function invokedCommand(args: string[]): string | undefined {
  if (args.some((arg) => arg === "--help" || arg === "-h")) return undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--home") {
      i++;
      continue;
    }
    if (arg.startsWith("-")) continue;
    return (COMMAND_NAMES as readonly string[]).includes(arg) ? arg : undefined;
  }
  return undefined;
}

export async function runCli(args: string[]): Promise<void> {
  const program = buildProgram(invokedCommand(args));
  const json = args.includes("--json");
  // Commander's own errors (unknown option, missing argument) are usage errors: exit 2, in the chosen view.
  program.exitOverride();
  for (const command of [program, ...program.commands.flatMap((c) => [c, ...c.commands])]) {
    command.exitOverride();
    // In JSON mode commander's own error text (and its help hint) stays off both streams: the JSON error says it.
    if (json) command.configureOutput({ outputError: () => undefined, writeErr: () => undefined });
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
        if (json) createOutput(true).error(new UsageError("a subcommand is required; see --help"));
        process.exitCode = ExitCode.usage;
        return;
      }
      if (json) createOutput(true).error(new UsageError(error.message.replace(/^error: /, "")));
      process.exitCode = ExitCode.usage;
      return;
    }
    if (error instanceof ToolctlError) {
      createOutput(json).error(error);
      process.exitCode = error.exitCode;
      return;
    }
    throw error;
  }
}
