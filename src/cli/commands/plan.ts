/**
 * `toolctl plan FILE`, `toolctl apply PLAN|FILE` and `toolctl plan-runs ...`: thin shells around src/plan/.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ExitCode, ToolctlError, UsageError } from "../../errors.js";
import type { ApplyOptions, ApplyResult } from "../../plan/apply.js";
import type { PlanPreview } from "../../plan/preview.js";
import type { CommandContext } from "../program.js";
import { withEngine } from "./run.js";
import { checkOtpFlag, withSettledRegistry } from "./shared.js";

interface PlanFlags {
  out?: string;
  detailedExitcode?: boolean;
}

interface ApplyFlags {
  yes?: boolean;
  otp?: string;
  parallelism: number;
}

/** Writes the saved plan next to where it is going, then renames it: never a half-written plan.json. */
function savePlan(file: string, preview: PlanPreview): void {
  const temporary = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(temporary, `${JSON.stringify(preview, null, 2)}\n`, { mode: 0o600 });
    renameSync(temporary, file);
  } catch (error) {
    throw new UsageError(`--out ${file}: cannot write the plan: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

export async function planCommand(context: CommandContext, file: string, flags: PlanFlags): Promise<number> {
  const { renderPlan } = await import("../../ui/plan.js");
  try {
    return await withEngine(context, { dryRun: true }, async (options, deps) => {
      const [{ readPlanFile }, { previewPlan }] = await Promise.all([import("../../plan/load.js"), import("../../plan/preview.js")]);
      const preview = await previewPlan(readPlanFile(file), { actor: options.actor, cwd: options.cwd, env: options.env, signal: options.signal }, deps);
      if (flags.out !== undefined) savePlan(flags.out, preview);
      // Over a limit: the policy code, whatever else; then Terraform's -detailed-exitcode (0 no changes, 2 changes).
      const exitCode = preview.overBudget ? ExitCode.policy : flags.detailedExitcode && preview.willAct ? 2 : ExitCode.ok;
      return { preview, exitCode };
    }, ({ preview }) => {
      context.output.data(preview, () => renderPlan(preview, context.output.color));
      if (flags.out !== undefined) context.output.info(`saved plan ${preview.id} to ${flags.out}; apply it with: toolctl apply ${flags.out}`);
    });
  } catch (error) {
    // With --detailed-exitcode every error is 1 (as Terraform's), except a refusal by policy.
    if (!flags.detailedExitcode || !(error instanceof ToolctlError) || error.exitCode === ExitCode.policy) throw error;
    context.output.error(error);
    return 1;
  }
}

/** A saved plan (JSON from `plan --out`) or a plan file to plan now. */
function readSaved(file: string): PlanPreview | undefined {
  if (!file.toLowerCase().endsWith(".json")) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`${file}: cannot read the saved plan: ${code === "ENOENT" ? "no such file" : code ?? (error as Error).message}`);
  }
  const record = value as Partial<PlanPreview> | null;
  if (record === null || typeof record !== "object" || record.format === undefined) return undefined;
  if (record.format !== "toolctl-plan/1" || typeof record.id !== "string" || !Array.isArray(record.steps) || !Array.isArray(record.order)) {
    throw new UsageError(`${file}: not a saved plan this toolctl can apply (format ${JSON.stringify(record.format)}); make one with toolctl plan FILE --out ${file}`);
  }
  return record as PlanPreview;
}

async function applyWith(
  context: CommandContext, flags: ApplyFlags,
  call: (options: ApplyOptions, deps: Parameters<Parameters<typeof withEngine>[2]>[1]) => Promise<ApplyResult>,
): Promise<number> {
  if (flags.otp !== undefined) checkOtpFlag(flags.otp);
  const { createStepReporter, renderApply } = await import("../../ui/plan.js");
  const c = context.output.color;
  const reporter = context.json ? undefined : createStepReporter(c, (line) => process.stderr.write(`${line}\n`));
  return withEngine(context, { otp: flags.otp }, (options, deps) =>
    call({ actor: options.actor, cwd: options.cwd, env: options.env, signal: options.signal, yes: flags.yes === true, otp: flags.otp, parallelism: flags.parallelism, reporter }, deps),
  (result) => context.output.data(result, () => renderApply(result, c)));
}

export async function applyCommand(context: CommandContext, file: string, flags: ApplyFlags): Promise<number> {
  const saved = readSaved(file);
  return applyWith(context, flags, async (options, deps) => {
    const { applyPlan } = await import("../../plan/apply.js");
    let preview = saved;
    if (!preview) {
      const [{ readPlanFile }, { previewPlan }] = await Promise.all([import("../../plan/load.js"), import("../../plan/preview.js")]);
      preview = await previewPlan(readPlanFile(file), options, deps);
    }
    if (!context.json) {
      const { renderPlan } = await import("../../ui/plan.js");
      process.stderr.write(`${renderPlan(preview, context.output.color)}\n\n`);
    }
    return applyPlan(preview, saved !== undefined, options, deps);
  });
}

export async function resumePlanRunCommand(context: CommandContext, id: string, flags: ApplyFlags): Promise<number> {
  return applyWith(context, flags, async (options, deps) => (await import("../../plan/apply.js")).resumePlanRun(id, options, deps));
}

export async function rollbackPlanRunCommand(context: CommandContext, id: string, flags: Omit<ApplyFlags, "parallelism">): Promise<number> {
  return applyWith(context, { ...flags, parallelism: 1 }, async (options, deps) => (await import("../../plan/apply.js")).rollbackPlanRun(id, options, deps));
}

export async function showPlanRunCommand(context: CommandContext, id: string): Promise<void> {
  const [{ requirePlanRun, isOrphaned }, { renderPlanRun }] = await Promise.all([import("../../store/sqlite/plan-runs.js"), import("../../ui/plan.js")]);
  await withSettledRegistry(context, (registry) => {
    const run = requirePlanRun(registry, id);
    const interrupted = isOrphaned(run);
    context.output.data({ ...run, interrupted }, () => renderPlanRun(run, interrupted, context.output.color));
  });
}

export async function listPlanRunsCommand(context: CommandContext, flags: { limit: number }): Promise<void> {
  const { listPlanRuns, isOrphaned } = await import("../../store/sqlite/plan-runs.js");
  await withSettledRegistry(context, (registry) => {
    const runs = listPlanRuns(registry, flags.limit).map((run) => ({ ...run, interrupted: isOrphaned(run) }));
    context.output.data(runs, () =>
      runs.length === 0 ? "no plan runs yet (toolctl apply PLAN)" : runs.map((r) => `${r.id}  ${r.name}  ${r.interrupted ? "interrupted" : r.status}  ${r.createdAt}`).join("\n"));
  });
}
