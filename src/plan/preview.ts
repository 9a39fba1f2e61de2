/**
 * `toolctl plan FILE`: what a plan would do, executing nothing. Each step goes through the engine as a dry run
 * (its exact request or container, cost, risk, approval, 2FA, rollback); quote actions (price checks) may run,
 * and are marked. A step whose input waits on an earlier step's output is shown with "(known after apply)" in
 * those places; its cost is an estimate when the fields it is read from wait (else it is the cost), and when the
 * input cannot be checked before then, one from what is known.
 *
 * The result is plain data, and is the saved plan (`--out`): it holds the input templates (secret references,
 * never values), the digests of the manifests and of the environment variables read, and the total.
 */
import { createHash } from "node:crypto";
import type { Store } from "../store/port.js";
import type { ActionKind, RiskLevel } from "../domain/manifest.js";
import { evaluate, type Budget, type EngineDeps, type EvaluateOptions } from "../engine/evaluate.js";
import { ExitCode, NotFoundError, ToolctlError } from "../errors.js";
import { overDailyLimit, overPerActionLimit } from "../policy/approval.js";
import { costInputFields } from "../policy/cost.js";
import { roundUsd, spendDay } from "../policy/spend.js";
import { newExecutionId, newId } from "../util/ids.js";
import type { LoadedPlan } from "./load.js";
import { createSecretLookup } from "../secrets/resolve.js";
import { conditionHolds, renderStep, secretEnvNames, stepRefs, TemplateError } from "./render.js";
import { envValue } from "../util/env.js";
import { digestOf } from "../util/canonical.js";

export const PLAN_FORMAT = "toolctl-plan/1";

export interface StepPreview {
  id: string;
  action: string;
  description?: string;
  needs: string[];
  /** The input as written: templates, secret references only. Apply renders this, nothing else. */
  input: Record<string, unknown>;
  condition?: string;
  /** Whether the condition holds: "after apply" when it reads an earlier step's output. */
  runs: boolean | "after apply";
  kind: ActionKind;
  /** Changes something (not a read), unless its condition is false. */
  acts: boolean;
  toolDigest: string;
  /** The input rendered for people: redacted, "(known after apply: ...)" where it waits on a step. */
  shownInput: unknown;
  knownAfterApply: string[];
  /** The exact request or container, redacted; absent when the input can only be checked during apply. */
  request?: unknown;
  cost: { usd: number | null; basis: string; estimated: boolean; quoted: boolean };
  risk: RiskLevel;
  approval: { required: boolean; twoFactor: boolean };
  undo: string;
  reversible: boolean;
  warnings: string[];
}

export interface PlanPreview {
  format: typeof PLAN_FORMAT;
  id: string;
  name: string;
  description?: string;
  file: string;
  fileDigest: string;
  createdAt: string;
  /** SHA-256 of each environment variable the templates read (null when unset): apply notices a change. */
  env: Record<string, string | null>;
  order: string[];
  steps: StepPreview[];
  total: { usd: number; stepsWithUnknownCost: number; acting: number; needApproval: number; needTwoFactor: number; irreversible: number };
  budget: Budget;
  /** Why applying it now would be refused by a spending limit. */
  overBudget?: string;
  willAct: boolean;
  /** SHA-256 of the rest (see withDigest): a saved plan edited since it was saved is refused. */
  digest: string;
}

/**
 * The plan with `digest`: SHA-256 of the rest as saved (canonical JSON). A saved plan whose steps, inputs or
 * totals were edited after `plan --out` no longer matches it, and `apply` refuses it. Not a signature: it tells
 * an edited file, not a forged one.
 */
export function withDigest(preview: Omit<PlanPreview, "digest">): PlanPreview {
  return { ...preview, digest: planDigest(preview) };
}

/** The digest `withDigest` gives, of the plan as a saved file reads back (undefined fields left out). */
export function planDigest(preview: Omit<PlanPreview, "digest"> & { digest?: string }): string {
  const { digest: _digest, ...rest } = preview;
  return digestOf(JSON.parse(JSON.stringify(rest)));
}

export type PreviewOptions = Pick<EvaluateOptions, "actor" | "cwd" | "env" | "signal">;

/**
 * What a saved plan keeps of an environment variable it reads, so that apply can tell it changed: null when it is
 * not set; the SHA-256 of a value that is not a secret (the plan shows it anyway); for a secret, a digest keyed
 * with the audit key (store.secretDigest), since a short secret's plain digest gives it away to whoever reads the file.
 */
export async function envDigest(value: string | undefined, secret: boolean, store: Pick<Store, "secretDigest">): Promise<string | null> {
  if (value === undefined) return null;
  return secret ? store.secretDigest(value) : createHash("sha256").update(value).digest("hex");
}

/** Whether a saved plan's digest of a variable is the keyed one: the variable was a secret when planned. */
export const isSecretDigest = (digest: string | null): boolean => digest?.startsWith("hmac-sha256:") ?? false;

/** The planned cost of these steps; a cost known only after apply counts as nothing. */
export function totalUsd(steps: Array<Pick<StepPreview, "cost">>): number {
  return roundUsd(steps.reduce((sum, s) => sum + (s.cost.usd ?? 0), 0));
}

/**
 * Which of the plan's environment variables hold secrets: those named like one, and those equal to a secret of a
 * tool the plan uses (a secret the store cannot open is simply not compared).
 */
export async function planSecretEnv(
  envNames: readonly string[],
  actions: readonly string[],
  options: Pick<PreviewOptions, "cwd" | "env">,
  deps: EngineDeps,
): Promise<Set<string>> {
  const lookup = createSecretLookup(options.cwd, options.env, { home: deps.home, sealed: await deps.store.secrets.allSealed() });
  const values = new Set<string>();
  for (const toolName of new Set(actions.map((action) => action.split(".")[0]!))) {
    for (const name of (await deps.store.tools.get(toolName))?.secrets ?? []) {
      try {
        const found = lookup.get(name)?.value;
        if (found) values.add(found);
      } catch {
        // An unreadable store: the run itself will say so.
      }
    }
  }
  return secretEnvNames(envNames, options.env, values);
}

export async function previewPlan(loaded: LoadedPlan, options: PreviewOptions, deps: EngineDeps): Promise<PlanPreview> {
  const byId = new Map(loaded.plan.steps.map((step) => [step.id, step]));
  const secretEnv = await planSecretEnv(
    loaded.envNames,
    loaded.plan.steps.map((step) => step.action),
    options,
    deps,
  );
  const steps: StepPreview[] = [];
  const skipped = new Set<string>();
  for (const id of loaded.order) {
    const step = byId.get(id)!;
    const needs = loaded.needs[id]!;
    let preview: StepPreview;
    try {
      preview = await previewStep(step, needs, options, deps, secretEnv);
    } catch (error) {
      // Said where the plan file has it: the file, line, column and field of the step.
      if (!(error instanceof ToolctlError) || error.details.step !== step.id) throw error;
      const line = loaded.locate(["steps", loaded.plan.steps.indexOf(step), error.details.field as string], error.message);
      throw new ToolctlError(error.code, error.exitCode, line, { file: loaded.file, problems: [line] });
    }
    // A step after a step that will not run does not run either.
    if (preview.runs === false || needs.some((n) => skipped.has(n))) {
      skipped.add(id);
      preview.runs = false;
      preview.acts = false;
    }
    steps.push(preview);
  }
  const counted = steps.filter((s) => s.runs !== false);
  const usd = totalUsd(counted);
  const limits = deps.config.limits;
  const day = spendDay();
  const today = await deps.store.ledger.day(day);
  const budget = {
    day,
    committedUsd: today.committedUsd,
    reservedUsd: today.reservedUsd,
    dailyLimitUsd: limits.dailyUsd,
    perActionLimitUsd: limits.perActionUsd,
    afterUsd: roundUsd(today.committedUsd + today.reservedUsd + usd),
  };
  const overBudget = budgetProblem(counted, usd, budget.afterUsd, limits);
  return withDigest({
    format: PLAN_FORMAT,
    id: newId("pl"),
    name: loaded.plan.name,
    description: loaded.plan.description,
    file: loaded.file,
    fileDigest: loaded.digest,
    createdAt: new Date().toISOString(),
    env: Object.fromEntries(
      await Promise.all(loaded.envNames.map(async (name) => [name, await envDigest(envValue(options.env, name), secretEnv.has(name), deps.store)])),
    ),
    order: loaded.order,
    steps,
    total: {
      usd,
      stepsWithUnknownCost: counted.filter((s) => s.cost.usd === null).length,
      acting: counted.filter((s) => s.acts).length,
      needApproval: counted.filter((s) => s.approval.required).length,
      needTwoFactor: counted.filter((s) => s.approval.twoFactor).length,
      irreversible: counted.filter((s) => s.acts && !s.reversible).length,
    },
    budget,
    overBudget,
    willAct: counted.some((s) => s.acts),
  });
}

/** Why the plan would be refused by a spending limit: one step over the per-action limit, or the total over the day's. */
export function budgetProblem(
  steps: Array<Pick<StepPreview, "id" | "cost">>,
  usd: number,
  afterUsd: number,
  limits: EngineDeps["config"]["limits"],
): string | undefined {
  for (const step of steps) {
    const over = step.cost.usd === null ? undefined : overPerActionLimit(step.cost.usd, limits);
    if (over) return `step ${step.id}: ${over}`;
  }
  const overDay = overDailyLimit(usd, afterUsd, limits);
  return overDay ? `the plan's total of $${usd.toFixed(2)}: ${overDay}` : undefined;
}

/**
 * Whether the value at `field` (a path into the input) waits on an earlier step: it refers to one, or a value it
 * sits inside is a template that does. A field the plan does not write does not wait.
 */
function fieldWaits(input: Record<string, unknown>, field: string): boolean {
  let current: unknown = input;
  for (const segment of field.replace(/\[(\d+)\]/g, ".$1").split(".")) {
    if (typeof current === "string") return stepRefs(current).length > 0;
    if (current === null || typeof current !== "object" || !Object.hasOwn(current, segment)) return false;
    current = (current as Record<string, unknown>)[segment];
  }
  return stepRefs(current).length > 0;
}

/** A step that cannot be planned ends the plan with its reason, naming the step and the field of it at fault. */
function stepError(id: string, action: string, field: "action" | "input", error: { message: string; exitCode?: number; code?: string }): ToolctlError {
  return new ToolctlError(
    error.code === "policy_refused" ? "policy_refused" : "plan_invalid",
    (error.exitCode as ToolctlError["exitCode"]) ?? ExitCode.usage,
    `step ${id} (${action}): ${error.message}`,
    { step: id, field },
  );
}

async function previewStep(
  step: LoadedPlan["plan"]["steps"][number],
  needs: string[],
  options: PreviewOptions,
  deps: EngineDeps,
  secretEnv: ReadonlySet<string>,
): Promise<StepPreview> {
  const [toolName, actionName] = step.action.split(".") as [string, string];
  const tool = await deps.store.tools.get(toolName);
  const action = tool ? await deps.store.tools.action(toolName, actionName) : undefined;
  if (!tool || !action)
    throw stepError(
      step.id,
      step.action,
      "action",
      new NotFoundError(
        !tool
          ? `unknown tool '${toolName}'; import it first (toolctl import)`
          : `tool ${toolName} has no action '${actionName}'; see: toolctl show ${toolName}`,
      ),
    );
  const scope = { env: options.env, secretEnv };
  let runs: boolean | "after apply" = true;
  let input: Record<string, unknown>;
  try {
    if (step.condition !== undefined) runs = stepRefs(step.condition).length > 0 ? "after apply" : conditionHolds(step.condition, scope);
    input = renderStep(step.input, scope) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof TemplateError) throw stepError(step.id, step.action, "input", { message: `input: ${error.message}` });
    throw error;
  }
  const waiting = stepRefs(step.input);
  const quoted = action.definition.cost !== undefined && "quote" in action.definition.cost;
  // A cost read from an input field that waits on earlier steps is an estimate until then; one read from fields
  // written out in the plan (or a fixed one) is the cost, whatever else in the input waits.
  const costFields = costInputFields(action.definition.cost);
  const estimated = waiting.length > 0 && (costFields === "all" || costFields.some((field) => fieldWaits(step.input, field)));
  const evaluation = await evaluate(
    {
      ...options,
      target: step.action,
      input: { params: [], paramsJson: JSON.stringify(input) },
      dryRun: true,
      inputMayWait: waiting.length > 0,
      executionId: newExecutionId(),
    },
    deps,
    { tool, action },
  );
  if (!evaluation.ok) {
    const { error } = evaluation.refusal;
    throw stepError(step.id, step.action, error.code === "input_invalid" || error.code === "usage" ? "input" : "action", {
      message: evaluation.refusal.redactor.text(error.message),
      exitCode: error.exitCode,
      code: error.code,
    });
  }
  const decision = evaluation.decision;
  // A price check the step took is on record, as for any dry run.
  for (const event of decision.events) await deps.store.audit.append(event);
  const deferred = decision.inputDeferred === true;
  const warnings = deferred
    ? [`the input is checked during apply, once ${[...new Set(waiting.map((w) => w.split(".")[1]))].join(", ")} ran`]
    : decision.warnings;
  const known = !Number.isNaN(decision.cost.usd);
  return {
    id: step.id,
    action: step.action,
    description: step.description,
    needs,
    input: step.input,
    condition: step.condition,
    runs,
    kind: action.kind,
    acts: action.kind !== "read" && runs !== false,
    toolDigest: tool.digest,
    knownAfterApply: waiting,
    reversible: typeof action.definition.rollback === "object",
    shownInput: decision.shownInput,
    request: deferred ? undefined : decision.request,
    warnings,
    undo: decision.undo,
    cost: { usd: known ? decision.cost.usd : null, basis: decision.cost.basis, estimated, quoted },
    risk: decision.risk,
    approval: { required: decision.approval.required, twoFactor: decision.approval.twoFactor },
  };
}
