import { readFileSync } from "node:fs";
import type { ExecuteResult, RunOptions, Toolctl, ToolHealth } from "../../api/index.js";
import { inputSources } from "../../api/input.js";
import { ExitCode, UsageError } from "../../errors.js";
import { createHuman } from "../../ui/approval.js";
import { createProgress } from "../../ui/output.js";
import { writeText as writeHuman } from "../../ui/stdio.js";
import { revealHidden } from "../../util/hidden.js";
import { createTrace } from "../../ui/trace.js";
import type { CommandContext } from "../program.js";
import { checkOtpFlag, pretty, withToolctl } from "./shared.js";

interface RunFlags {
  param: string[];
  params?: string;
  paramsFile?: string;
  dryRun?: boolean;
  yes?: boolean;
  otp?: string;
  wait?: boolean;
  sandbox?: "docker" | "none";
}

function readParamsFile(name: string | undefined): { name: string; text: string } | undefined {
  if (name === undefined) return undefined;
  try {
    return { name: name === "-" ? "(stdin)" : name, text: readFileSync(name === "-" ? 0 : name, "utf8") };
  } catch (error) {
    throw new UsageError(`--params-file ${name}: cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

function renderHuman(result: ExecuteResult, context: CommandContext): void {
  const c = context.output.color;
  // As every human view does (ui/output.ts): the characters that would reorder the text are shown.
  const writeText = (fd: 1 | 2, text: string) => writeHuman(fd, revealHidden(text));
  const name = `${result.tool}.${result.action}`;
  for (const warning of result.warnings) context.output.warn(warning);
  const approval =
    result.approval?.via && result.approval.via !== "not required"
      ? `approved via ${result.approval.via}`
      : result.approval?.twoFactor
        ? "approval and a TOTP code required"
        : result.approval?.required
          ? "approval required"
          : "no approval needed";
  const decision = result.cost ? `cost $${result.cost.usd.toFixed(2)} (${result.cost.basis}), risk ${result.risk}, ${approval}` : "";
  if (result.status === "dry_run") {
    const request = result.request ?? {};
    const lines = [c.bold(`dry run: ${name}`) + c.dim("  (nothing was executed)")];
    if (request.runtime === "http") {
      lines.push(`  ${request.method} ${request.url}`);
      for (const [header, value] of Object.entries((request.headers ?? {}) as Record<string, string>)) lines.push(`  ${header}: ${value}`);
      if (typeof request.encodedBody === "string") lines.push(`  body: ${request.encodedBody}`);
      else if (request.body !== undefined) lines.push(`  body:`, pretty(request.body).replace(/^/gm, "    "));
      lines.push(`  timeout: ${request.timeoutSeconds}s`);
      if (typeof request.retries === "string") lines.push(`  retries: ${request.retries}`);
    } else if (request.runtime === "process") {
      lines.push(
        `  argv: ${JSON.stringify(request.argv)}`,
        `  cwd: ${request.cwd}`,
        `  env: ${(request.env as string[]).join(", ") || "(none)"}`,
        `  stdin: ${request.stdin}`,
        `  timeout: ${request.timeoutSeconds}s`,
      );
    } else if (request.runtime === "docker") {
      const limits = request.limits as Record<string, unknown>;
      lines.push(
        `  image: ${request.image}`,
        `  command: ${JSON.stringify(request.command)}`,
        ...(typeof request.workdir === "string" ? [`  workdir: ${request.workdir}`] : []),
        `  user: ${request.user}, network: ${request.network}, read-only root, /tmp tmpfs, all capabilities dropped, no-new-privileges`,
        `  limits: ${limits.memoryMb} MB memory (no swap), ${limits.cpus} CPU, ${limits.pids} processes`,
      );
      for (const mount of request.mounts as Array<Record<string, unknown>>) {
        lines.push(
          `  mount: ${mount.source} at ${mount.target}${mount.readOnly ? " (read-only)" : ""}${mount.quotaMb !== undefined ? ` (quota ${mount.quotaMb} MB)` : ""}`,
        );
      }
      lines.push(`  env: ${(request.env as string[]).join(", ") || "(none)"}`, `  stdin: ${request.stdin}`, `  timeout: ${request.timeoutSeconds}s`);
    } else {
      lines.push(`  ${request.runtime}: ${request.summary ?? request.returns ?? ""}`);
    }
    lines.push(`  input: ${JSON.stringify(result.input)}`, `  ${decision}`, `  undo: ${result.undo ?? "none declared"}`);
    const b = result.budget;
    if (b)
      lines.push(
        `  budget ${b.day}: $${b.committedUsd.toFixed(2)} spent + $${b.reservedUsd.toFixed(2)} reserved; this run would bring it to $${b.afterUsd.toFixed(2)} of $${b.dailyLimitUsd.toFixed(2)} (at most $${b.perActionLimitUsd.toFixed(2)} per action)`,
      );
    lines.push(c.dim(`  execution ${result.executionId}`));
    writeText(1, `${lines.join("\n")}\n`);
    return;
  }
  const undoing = (result as { rollbackOf?: string }).rollbackOf;
  if (result.status === "succeeded") {
    if (result.output !== undefined && result.output !== null) writeText(1, `${pretty(result.output)}\n`);
    context.output.info(c.green(`✓ ${name} succeeded`) + c.dim(` in ${result.durationMs}ms · ${decision} · ${result.executionId}`));
    if (undoing) context.output.info(`${undoing} is rolled back`);
    return;
  }
  const error = result.error!;
  writeText(2, `${c.red(`error: ${error.message}`)}\n`);
  for (const problem of error.problems && error.problems.length > 1 ? error.problems : []) writeText(2, `  ${problem}\n`);
  if (error.code === "needs_human") context.output.info(c.dim(`  ${decision}`));
  else if (result.status === "unknown")
    context.output.info(c.yellow(`outcome unknown: look it up before retrying (toolctl executions show ${result.executionId})`));
  else context.output.info(c.dim(`execution ${result.executionId} ${result.status}${error.category ? ` (${error.category})` : ""}`));
}

/** The exit code of a process stopped by SIGTERM, as shells report it (128 + 15). */
const TERMINATED = 143;

/** `result` with another exit code, in its error too. */
function withExitCode<T extends { exitCode: number }>(result: T, exitCode: number): T {
  const error = (result as { error?: { exitCode?: number } }).error;
  return { ...result, exitCode, ...(error ? { error: { ...error, exitCode } } : {}) };
}

/** What every engine call from the CLI passes: the Ctrl-C signal, the spinner, the terminal's human. */
export type CliRunOptions = Required<Pick<RunOptions, "signal" | "interrupts" | "human">> & Pick<RunOptions, "progress">;

/**
 * Runs one engine call (a run, a rollback, a plan or an apply) with Ctrl-C and SIGTERM handling, progress and the
 * chosen view: `render` true shows an execution result, a function shows anything else, false nothing.
 */
export async function withEngine<T extends { exitCode: number }>(
  context: CommandContext,
  flags: Pick<RunFlags, "otp" | "dryRun">,
  call: (toolctl: Toolctl, options: CliRunOptions) => Promise<T>,
  render: boolean | ((result: T) => void) = true,
): Promise<number> {
  if (flags.otp !== undefined) checkOtpFlag(flags.otp);
  const controller = new AbortController();
  const interrupts: { onForce?: () => Promise<void> } = {};
  let count = 0;
  // First Ctrl-C: stop the action and record how it ended. Second: record it as unknown and exit at once.
  let finished = false;
  // SIGTERM (CI cancelling a job, timeout(1), a service manager) stops the action the same way, and exits 143.
  let terminated = false;
  const onSignal = (signal: NodeJS.Signals) => {
    count++;
    if (signal === "SIGTERM") terminated = true;
    const code = terminated ? TERMINATED : ExitCode.interrupted;
    // After the outcome is recorded, a signal during shutdown just ends the process.
    if (finished) process.exit(code);
    if (count > 1) {
      const force = interrupts.onForce?.();
      if (!force) process.exit(code);
      // The outcome is written (as unknown) before exiting; a store that hangs does not keep the process alive.
      setTimeout(() => process.exit(code), 2_000).unref();
      void force.finally(() => process.exit(code));
      return;
    }
    writeHuman(
      2,
      signal === "SIGTERM" ? "terminate signal received: stopping the action\n" : "interrupt received: stopping (press Ctrl-C again to exit at once)\n",
    );
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const spinner = flags.dryRun ? undefined : await createProgress(context.output, context.env);
  // --verbose: each stage as it ends, then the request and the answer (the spinner is off then).
  const trace = context.output.verbose ? createTrace((line) => context.output.debug(line), spinner) : undefined;
  const progress = trace?.progress ?? spinner;
  try {
    const ended = await withToolctl(context, (toolctl) => call(toolctl, { signal: controller.signal, progress, interrupts, human: createHuman(context.json) }));
    // Stopped by SIGTERM: the process exits 143, and what it prints says so too.
    const result = terminated && ended.exitCode === ExitCode.interrupted ? withExitCode(ended, TERMINATED) : ended;
    trace?.wire(result as Partial<ExecuteResult>);
    if (typeof render === "function") render(result);
    else if (render && context.json) context.output.data(result, () => "");
    else if (render) renderHuman(result as unknown as ExecuteResult, context);
    return result.exitCode;
  } finally {
    spinner?.stop();
    finished = true;
  }
}

export async function runCommand(context: CommandContext, target: string, flags: RunFlags): Promise<number> {
  const paramsFile = readParamsFile(flags.paramsFile);
  return withEngine(context, flags, (toolctl, options) =>
    toolctl.run(target, inputSources({ params: flags.param, paramsJson: flags.params, paramsFile }), {
      ...options,
      dryRun: flags.dryRun === true,
      yes: flags.yes === true,
      otp: flags.otp,
      wait: flags.wait === true,
      sandbox: flags.sandbox,
    }),
  );
}

type RollbackFlags = Pick<RunFlags, "yes" | "otp" | "wait" | "dryRun">;

/** `toolctl rollback ID`: the declared compensation of an execution, run like any action and linked to it. */
export async function rollbackCommand(context: CommandContext, id: string, flags: RollbackFlags): Promise<number> {
  return withEngine(context, flags, (toolctl, options) =>
    toolctl.rollback(id, { ...options, dryRun: flags.dryRun === true, yes: flags.yes === true, otp: flags.otp, wait: flags.wait === true }),
  );
}

/**
 * `toolctl tool test NAME`: the tool's declared harmless read, run for real, as a health check: healthy,
 * degraded (it works, slowly) or failing, with the latency. Exit 0 unless failing.
 */
export async function toolTestCommand(context: CommandContext, name: string): Promise<number> {
  let report: Partial<Omit<ToolHealth, "result">> = {};
  let action = "";
  const code = await withEngine(
    context,
    {},
    async (toolctl, options) => {
      const { result, ...health } = await toolctl.testTool(name, options);
      action = health.action;
      report = health;
      return { ...result, exitCode: health.status === "failing" ? (result.exitCode === ExitCode.ok ? ExitCode.actionFailed : result.exitCode) : ExitCode.ok };
    },
    false,
  );
  context.output.data(report, () => {
    const c = context.output.color;
    const mark = report.status === "healthy" ? c.green("healthy") : report.status === "degraded" ? c.yellow("degraded") : c.red("failing");
    return `${name}: ${mark}${report.latencyMs !== null ? ` in ${report.latencyMs} ms` : ""} (${name}.${action}, ${report.executionId})${report.error ? `: ${report.error.message}` : ""}`;
  });
  return code;
}
