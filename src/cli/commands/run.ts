import { readFileSync } from "node:fs";
import { execute, type ExecuteResult } from "../../engine/execute.js";
import { UsageError } from "../../errors.js";
import { loadConfig } from "../../config/config.js";
import type { TwoFactor } from "../../engine/approve.js";
import type { Registry } from "../../registry/db.js";
import type { Runner } from "../../runners/types.js";
import { createHuman } from "../../ui/approval.js";
import { createProgress } from "../../ui/output.js";
import type { CommandContext } from "../program.js";
import { checkOtpFlag, pretty, withRegistry } from "./shared.js";

interface RunFlags {
  param: string[];
  params?: string;
  paramsFile?: string;
  dryRun?: boolean;
  yes?: boolean;
  otp?: string;
  wait?: boolean;
}

/** The engine's view of 2FA. The TOTP code (and otplib) is loaded only when a code is actually checked. */
function twoFactorFor(registry: Registry, context: CommandContext): TwoFactor {
  return {
    isEnrolled: () => (registry.db.prepare("SELECT confirmed FROM totp WHERE id = 1").pluck().get() as number | undefined) === 1,
    async verify(code, target) {
      const [{ verifyCode }, { loadKeyRing }] = await Promise.all([import("../../registry/twofactor.js"), import("../../secrets/crypto.js")]);
      const ring = loadKeyRing(context.home, context.env, { create: false });
      if (!ring) return { ok: false, reason: "not_enrolled" };
      return verifyCode(registry, ring, code, Date.now(), { actor: context.actor, purpose: "run", tool: target.tool, action: target.action, executionId: target.executionId });
    },
  };
}

/** Runners load on demand: a process run never pays for the HTTP client, and the reverse. */
export const RUNNERS: Record<string, () => Promise<Runner>> = {
  http: async () => (await import("../../runners/http/runner.js")).httpRunner,
  process: async () => (await import("../../runners/process.js")).processRunner,
  echo: async () => (await import("../../runners/echo.js")).echoRunner,
};

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
  const name = `${result.tool}.${result.action}`;
  for (const warning of result.warnings) context.output.warn(warning);
  const approval = result.approval?.via && result.approval.via !== "not required"
    ? `approved via ${result.approval.via}`
    : result.approval?.twoFactor ? "approval and a TOTP code required" : result.approval?.required ? "approval required" : "no approval needed";
  const decision = result.cost ? `cost $${result.cost.usd.toFixed(2)} (${result.cost.basis}), risk ${result.risk}, ${approval}` : "";
  if (result.status === "dry_run") {
    const plan = result.plan ?? {};
    const lines = [c.bold(`dry run: ${name}`) + c.dim("  (nothing was executed)")];
    if (plan.runtime === "http") {
      lines.push(`  ${plan.method} ${plan.url}`);
      for (const [header, value] of Object.entries((plan.headers ?? {}) as Record<string, string>)) lines.push(`  ${header}: ${value}`);
      if (plan.body !== undefined) lines.push(`  body:`, pretty(plan.body).replace(/^/gm, "    "));
      lines.push(`  timeout: ${plan.timeoutSeconds}s`);
    } else if (plan.runtime === "process") {
      lines.push(`  argv: ${JSON.stringify(plan.argv)}`, `  cwd: ${plan.cwd}`, `  env: ${(plan.env as string[]).join(", ") || "(none)"}`,
        `  stdin: ${plan.stdin}`, `  timeout: ${plan.timeoutSeconds}s`);
    } else {
      lines.push(`  ${plan.runtime}: ${plan.returns ?? ""}`);
    }
    lines.push(`  input: ${JSON.stringify(result.input)}`, `  ${decision}`);
    const b = result.budget;
    if (b) lines.push(`  budget ${b.day}: $${b.committedUsd.toFixed(2)} spent + $${b.reservedUsd.toFixed(2)} reserved; this run would bring it to $${b.afterUsd.toFixed(2)} of $${b.dailyLimitUsd.toFixed(2)} (at most $${b.perActionLimitUsd.toFixed(2)} per action)`);
    lines.push(c.dim(`  execution ${result.executionId}`));
    process.stdout.write(`${lines.join("\n")}\n`);
    return;
  }
  if (result.status === "succeeded") {
    if (result.output !== undefined && result.output !== null) process.stdout.write(`${pretty(result.output)}\n`);
    context.output.info(c.green(`✓ ${name} succeeded`) + c.dim(` in ${result.durationMs}ms · ${decision} · ${result.executionId}`));
    return;
  }
  const error = result.error!;
  process.stderr.write(`${c.red(`error: ${error.message}`)}\n`);
  for (const problem of error.problems && error.problems.length > 1 ? error.problems : []) process.stderr.write(`  ${problem}\n`);
  if (result.status === "requested") context.output.info(c.dim(`  ${decision}`));
  else if (result.status === "unknown") context.output.info(c.yellow(`outcome unknown: look it up before retrying (toolctl executions show ${result.executionId})`));
  else context.output.info(c.dim(`execution ${result.executionId} ${result.status}${error.category ? ` (${error.category})` : ""}`));
}

export async function runCommand(context: CommandContext, target: string, flags: RunFlags): Promise<number> {
  if (flags.otp !== undefined) checkOtpFlag(flags.otp);
  const paramsFile = readParamsFile(flags.paramsFile);
  const controller = new AbortController();
  const interrupts: { onForce?: () => void } = {};
  let count = 0;
  // First Ctrl-C: stop the action and record how it ended. Second: record it as unknown and exit at once.
  let finished = false;
  const onSigint = () => {
    count++;
    // After the outcome is recorded, an interrupt during shutdown just ends the process, as 130.
    if (finished) process.exit(130);
    if (count > 1) {
      interrupts.onForce?.();
      process.exit(130);
    }
    process.stderr.write("interrupt received: stopping (press Ctrl-C again to exit at once)\n");
    controller.abort();
  };
  process.on("SIGINT", onSigint);
  const progress = flags.dryRun ? undefined : await createProgress(context.json, context.env);
  const config = (await loadConfig(context.home, context.env)).values;
  try {
    const result = await withRegistry(context, (registry) =>
      execute(
        {
          target, dryRun: flags.dryRun === true, yes: flags.yes === true, otp: flags.otp, wait: flags.wait === true, actor: context.actor, cwd: context.cwd, env: context.env, signal: controller.signal, progress, interrupts,
          input: { params: flags.param, paramsJson: flags.params, paramsFile },
        },
        { registry, runners: RUNNERS, config, human: createHuman(context.json), twoFactor: twoFactorFor(registry, context) },
      ),
    );
    if (context.json) context.output.data(result, () => "");
    else renderHuman(result, context);
    return result.exitCode;
  } finally {
    progress?.stop();
    finished = true;
  }
}
