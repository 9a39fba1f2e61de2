/**
 * `toolctl plan FILE`, `toolctl apply PLAN|FILE` and `toolctl plan-runs ...`: thin shells around src/plan/.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ExitCode, ToolctlError, UsageError, ValidationError } from "../../errors.js";
import { savedPlanProblems } from "../../domain/saved-plan.js";
import type { ApplyCallOptions, ApplyResult, PlanPreview, Toolctl } from "../../api/index.js";
import { table, truncate } from "../../ui/output.js";
import { listEnvelope, pageFooter, printList } from "../list-output.js";
import type { CommandContext } from "../program.js";
import { withEngine, type CliRunOptions } from "./run.js";
import { checkOtpFlag, withToolctl } from "./shared.js";

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
    return await withEngine(
      context,
      { dryRun: true },
      async (toolctl, options) => {
        const preview = await toolctl.plan(file, { signal: options.signal });
        if (flags.out !== undefined) savePlan(flags.out, preview);
        // Over a limit: the policy code, whatever else; then Terraform's -detailed-exitcode (0 no changes, 2 changes).
        const exitCode = preview.overBudget ? ExitCode.policy : flags.detailedExitcode && preview.willAct ? 2 : ExitCode.ok;
        return { preview, exitCode };
      },
      ({ preview }) => {
        context.output.data(preview, () => renderPlan(preview, context.output.color));
        if (flags.out !== undefined) context.output.info(`saved plan ${preview.id} to ${flags.out}; apply it with: toolctl apply ${flags.out}`);
      },
    );
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
    throw new UsageError(`${file}: cannot read the saved plan: ${code === "ENOENT" ? "no such file" : (code ?? (error as Error).message)}`);
  }
  const record = value as Partial<PlanPreview> | null;
  if (record === null || typeof record !== "object" || record.format === undefined) return undefined;
  if (record.format !== "toolctl-plan/1" || typeof record.id !== "string" || !Array.isArray(record.steps) || !Array.isArray(record.order)) {
    throw new UsageError(
      `${file}: not a saved plan this toolctl can apply (format ${JSON.stringify(record.format)}); make one with toolctl plan FILE --out ${file}`,
    );
  }
  const problems = savedPlanProblems(record);
  if (problems.length > 0) {
    throw new ValidationError(
      "plan_invalid",
      `${file}: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ""}`,
      problems.map((p) => `${file}: ${p}`),
    );
  }
  return record as PlanPreview;
}

async function applyWith(
  context: CommandContext,
  flags: ApplyFlags,
  call: (toolctl: Toolctl, options: ApplyCallOptions & CliRunOptions) => Promise<ApplyResult>,
): Promise<number> {
  if (flags.otp !== undefined) checkOtpFlag(flags.otp);
  const { createStepReporter, renderApply } = await import("../../ui/plan.js");
  const c = context.output.color;
  // Step lines are progress: not in JSON mode, nor with --quiet.
  const reporter = context.json || context.output.quiet ? undefined : createStepReporter(c, (line) => process.stderr.write(`${line}\n`));
  return withEngine(
    context,
    { otp: flags.otp },
    (toolctl, options) => call(toolctl, { ...options, yes: flags.yes === true, otp: flags.otp, parallelism: flags.parallelism, reporter }),
    (result) => context.output.data(result, () => renderApply(result, c)),
  );
}

export async function applyCommand(context: CommandContext, file: string, flags: ApplyFlags): Promise<number> {
  const saved = readSaved(file);
  return applyWith(context, flags, async (toolctl, options) => {
    const preview = saved ?? (await toolctl.plan(file, { signal: options.signal }));
    // The plan is shown to whoever approves it. With --quiet it is shown only when someone will be asked: not with
    // --yes, nor when no step needs approval.
    const asked = !flags.yes && preview.total.needApproval + preview.total.needTwoFactor > 0;
    if (!context.json && (!context.output.quiet || asked)) {
      const { renderPlan } = await import("../../ui/plan.js");
      process.stderr.write(`${renderPlan(preview, context.output.color)}\n\n`);
    }
    return toolctl.apply(preview, { ...options, saved: saved !== undefined });
  });
}

export async function resumePlanRunCommand(context: CommandContext, id: string, flags: ApplyFlags): Promise<number> {
  return applyWith(context, flags, (toolctl, options) => toolctl.resumePlanRun(id, options));
}

export async function rollbackPlanRunCommand(context: CommandContext, id: string, flags: Omit<ApplyFlags, "parallelism">): Promise<number> {
  return applyWith(context, { ...flags, parallelism: 1 }, (toolctl, options) => toolctl.rollbackPlanRun(id, options));
}

export async function showPlanRunCommand(context: CommandContext, id: string): Promise<void> {
  const { renderPlanRun } = await import("../../ui/plan.js");
  await withToolctl(context, async (toolctl) => {
    const run = await toolctl.planRun(id);
    context.output.data(run, () => renderPlanRun(run, run.interrupted, context.output.color));
  });
}

export async function listPlanRunsCommand(context: CommandContext, flags: { limit: number; offset?: number }): Promise<void> {
  const offset = flags.offset ?? 0;
  const { total, items } = await withToolctl(context, (toolctl) => toolctl.planRuns({ limit: flags.limit, offset }));
  const envelope = listEnvelope(items, { total, limit: flags.limit, offset });
  await printList(
    context,
    envelope,
    () =>
      items.length === 0
        ? total === 0
          ? "no plan runs yet (toolctl apply PLAN)"
          : `nothing past run ${offset} (${total} plan run${total === 1 ? "" : "s"})`
        : table(
            ["ID", "PLAN", "STATUS", "STARTED (UTC)", "ERROR"],
            items.map((r) => [
              r.id,
              r.name,
              r.interrupted ? "interrupted" : r.status,
              r.createdAt.replace("T", " ").slice(0, 19),
              truncate(r.error?.message ?? "", 60),
            ]),
            (h) => context.output.color.bold(h),
            { width: context.output.width, flex: [4] },
          ),
    { footer: pageFooter(envelope.page, items.length) },
  );
}
