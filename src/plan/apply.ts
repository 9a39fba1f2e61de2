/**
 * `toolctl apply`: exactly the planned steps, under one approval for the whole plan (CRITICAL steps still ask
 * for their TOTP code). A saved plan is refused when it is stale (a manifest re-imported, an environment
 * variable or the plan file changed) or when the budget no longer allows it, and it is applied once only.
 *
 * Steps run in dependency order, independent ones side by side up to `parallelism`. Each is an execution of its
 * own, linked to the plan run, whose id is written on the step before it starts. When a step fails, nothing new
 * starts; with rollback.auto, the steps that completed are undone in reverse order of completion through their
 * declared compensations, and irreversible ones are reported as left in place. An interrupted apply (Ctrl-C, a
 * crash) stays on record: `plan-runs resume` carries on without re-running completed steps, and `plan-runs
 * rollback` undoes them.
 */
import { existsSync, readFileSync } from "node:fs";
import type { ApprovalRequest } from "../engine/approve.js";
import { obtainApproval } from "../engine/approve.js";
import { execute, type ExecuteDeps, type ExecuteResult } from "../engine/execute.js";
import { rollbackExecution } from "../engine/rollback.js";
import { executionError, ExitCode, PolicyError, SecretMissingError, ToolctlError, UsageError, ValidationError, type ExitCodeValue } from "../errors.js";
import { maxRisk } from "../policy/risk.js";
import type { ErrorCategory, ExecutionError, PlanRun, PlanRunStatus, PlanRunStep, PlanStepStatus } from "../domain/records.js";
import { savedPlanProblems } from "../domain/saved-plan.js";
import { roundUsd, spendDay } from "../policy/spend.js";
import { newExecutionId, newId } from "../util/ids.js";
import { isOrphaned, stillRunning } from "./orphaned.js";
import { createSecretLookup } from "../secrets/resolve.js";
import { collectRefs } from "../domain/template.js";
import { digestOf, sha256Hex } from "../util/canonical.js";
import {
  budgetProblem,
  envDigest,
  isSecretDigest,
  planDigest,
  planSecretEnv,
  totalUsd,
  type PlanPreview,
  type PreviewOptions,
  type StepPreview,
} from "./preview.js";
import { conditionHolds, renderStep, TemplateError } from "./render.js";
import { envValue } from "../util/env.js";

export interface StepReporter {
  started(step: StepPreview): void;
  finished(step: StepPreview, outcome: StepOutcome): void;
}

export interface ApplyOptions extends PreviewOptions {
  yes: boolean;
  otp?: string;
  parallelism: number;
  reporter?: StepReporter;
}

/** A step as the apply reports its progress. */
export interface StepOutcome {
  id: string;
  action: string;
  status: PlanStepStatus;
  executionId?: string | null;
  rollbackExecutionId?: string | null;
  note?: string | null;
}

/**
 * What `apply`, `plan-runs resume` and `plan-runs rollback` return: the plan run, named and shaped as `plan-runs
 * show` shows it (`id`, steps by `id`, `error` the error object executions have, or null), with the exit code.
 */
export interface ApplyResult {
  id: string;
  planId: string;
  name: string;
  status: PlanRunStatus;
  exitCode: ExitCodeValue;
  totalUsd: number;
  steps: PlanRunStep[];
  error: ExecutionError | null;
}

interface StepState extends StepOutcome {
  output?: unknown;
  finishedAt?: number;
  /** An idempotent execution of this step cut off mid-run: run again, its success supersedes that one's spend. */
  supersedes?: string;
}

/** A plan run's error object, as kept with the run and returned by the apply. */
function runError(message: string, code: string, exitCode: ExitCodeValue, category?: ErrorCategory, problems?: readonly string[]): ExecutionError {
  return executionError<ErrorCategory>({ status: "failed", message, code, exitCode, category, problems });
}

const stale = (why: string[], file: string) =>
  new ToolctlError("plan_stale", ExitCode.policy, `saved plan is stale: ${why.join("; ")}; make a new one with toolctl plan ${file} --out <file>`);

/** Why a saved plan may no longer be applied as it is, or undefined. */
export async function staleness(preview: PlanPreview, deps: ExecuteDeps, env: NodeJS.ProcessEnv, checkFile = true): Promise<ToolctlError | undefined> {
  // A saved plan is applied as it was planned, or not at all: its steps, inputs and totals are what was shown.
  if (checkFile && typeof preview.digest !== "string") return stale(["the saved plan has no digest (an earlier toolctl saved it)"], preview.file);
  if (checkFile && planDigest(preview) !== preview.digest) return stale(["the saved plan was edited after it was saved"], preview.file);
  const why: string[] = [];
  for (const tool of new Set(preview.steps.map((s) => s.action.split(".")[0]!))) {
    const now = await deps.store.tools.get(tool);
    const planned = preview.steps.find((s) => s.action.startsWith(`${tool}.`))!.toolDigest;
    if (!now) why.push(`tool ${tool} was removed`);
    else if (now.digest !== planned) why.push(`the manifest of ${tool} changed (re-imported since the plan was made)`);
  }
  for (const [name, digest] of Object.entries(preview.env)) {
    const value = envValue(env, name);
    if ((await envDigest(value, isSecretDigest(digest), deps.store)) !== digest)
      why.push(`environment variable ${name} ${value === undefined ? "is no longer set" : digest === null ? "is set now" : "changed"}`);
  }
  if (checkFile && existsSync(preview.file) && sha256Hex(readFileSync(preview.file, "utf8")) !== preview.fileDigest) why.push(`${preview.file} changed`);
  return why.length > 0 ? stale(why, preview.file) : undefined;
}

/** Applies a plan: a saved one (checked for staleness first) or one just made from its file. */
export async function applyPlan(preview: PlanPreview, saved: boolean, options: ApplyOptions, deps: ExecuteDeps): Promise<ApplyResult> {
  if (saved) {
    // Read back from a file: its shape is checked before anything is looked up, reserved or recorded.
    const problems = savedPlanProblems(preview);
    if (problems.length > 0) {
      const lines = problems.map((p) => `saved plan: ${p}`);
      throw new ValidationError("plan_invalid", lines.length === 1 ? lines[0]! : `saved plan: ${lines.length} problems`, lines);
    }
    const problem = await staleness(preview, deps, options.env);
    if (problem) throw problem;
  }
  const appliedAlready = (earlier: { id: string; status: string }) =>
    new PolicyError(
      "policy_refused",
      `plan ${preview.id} was already applied (plan run ${earlier.id}, ${earlier.status}); a saved plan is applied once: make a new one, or see toolctl plan-runs show ${earlier.id}`,
    );
  const earlier = await deps.store.planRuns.ofPlan(preview.id);
  if (earlier) throw appliedAlready(earlier);
  await checkBudget(preview, preview.steps, deps);
  await checkTwoFactor(preview, preview.steps, options.otp, deps);
  const secrets = await resolvePlanSecrets(preview, options, deps);
  const runId = newId("pr");
  const approved = await approvePlan(preview, preview.steps, runId, options, deps);
  // Another process applying the same saved plan may have got there since the check above: one of them runs it.
  const raced = await deps.store.planRuns.create({
    id: runId,
    planId: preview.id,
    name: preview.name,
    plan: preview,
    actor: options.actor,
    steps: preview.order,
  });
  if (raced) throw appliedAlready(raced);
  const states = new Map(preview.steps.map((s) => [s.id, { id: s.id, action: s.action, status: "pending" } as StepState]));
  return runAndSettle(runId, preview, states, secrets, approved, options, deps);
}

/** `plan-runs resume ID`: the steps not done yet, after reconciling each with the history. */
export async function resumePlanRun(id: string, options: ApplyOptions, deps: ExecuteDeps): Promise<ApplyResult> {
  const run = await deps.store.planRuns.get(id);
  await deps.store.executions.settleAbandoned(options.actor);
  if (run.status === "succeeded" || run.status === "rolled_back") throw new UsageError(`plan run ${run.id} is ${run.status}: there is nothing to resume`);
  // Said before anyone is asked to approve; taking the run (claim, below) is what keeps two resumes apart.
  if (run.status === "running" && !isOrphaned(run)) throw stillRunning(run.id, run.pid, run.host);
  const preview = run.plan as PlanPreview;
  const problem = await staleness(preview, deps, options.env, false);
  if (problem) throw problem;
  const states = await reconcile(run, preview, deps, "resume");
  // Steps that can no longer run (after one rolled back or left in place) are neither approved nor budgeted.
  for (const id of preview.order) {
    const step = preview.steps.find((s) => s.id === id)!;
    const state = states.get(id)!;
    const reason = state.status === "pending" ? whyBlocked(step, states) : undefined;
    if (reason) Object.assign(state, { status: "not_started", note: `not started: ${reason}` });
  }
  const remaining = preview.steps.filter((s) => states.get(s.id)!.status === "pending");
  await checkBudget(preview, remaining, deps);
  await checkTwoFactor(preview, remaining, options.otp, deps);
  const secrets = await resolvePlanSecrets(preview, options, deps);
  const approved = await approvePlan(preview, remaining, run.id, options, deps);
  // Taken in one transaction: of two resumes (or a resume and a rollback) at once, the other is refused here,
  // before it runs a step.
  await claim(run, options, deps);
  for (const state of states.values()) await deps.store.planRuns.updateStep(run.id, state.id, { status: state.status, note: state.note });
  return runAndSettle(run.id, preview, states, secrets, approved, options, deps);
}

/** `plan-runs rollback ID`: undoes the completed steps of a run that did not finish, newest first. */
export async function rollbackPlanRun(id: string, options: ApplyOptions, deps: ExecuteDeps): Promise<ApplyResult> {
  const run = await deps.store.planRuns.get(id);
  await deps.store.executions.settleAbandoned(options.actor);
  if (run.status === "rolled_back") throw new UsageError(`plan run ${run.id} was already rolled back`);
  const preview = run.plan as PlanPreview;
  await claim(run, options, deps);
  let states: Map<string, StepState>;
  try {
    states = await reconcile(run, preview, deps, "rollback");
  } catch (error) {
    // Nothing was undone: the run is left as it was (a run whose process was gone, interrupted).
    await deps.store.planRuns.setStatus(run.id, run.status === "running" ? "interrupted" : run.status, options.actor, run.error ?? undefined);
    throw error;
  }
  // What reconciling found is recorded: a step cut off mid-run is `unknown`, no longer `running`.
  for (const state of states.values()) {
    const row = run.steps.find((step) => step.id === state.id);
    if (row && (row.status !== state.status || (row.note ?? undefined) !== state.note))
      await deps.store.planRuns.updateStep(run.id, state.id, { status: state.status, note: state.note });
  }
  const status = await undoCompleted(run.id, preview, states, options, deps);
  const exitCode = status === "rolled_back" ? ExitCode.ok : ExitCode.actionFailed;
  const named = (wanted: PlanStepStatus[]) =>
    [...states.values()]
      .filter((s) => wanted.includes(s.status))
      .map((s) => `${s.id} (${s.action})`)
      .join(", ");
  const notUndone = named(["rollback_failed", "left_in_place"]);
  const unknown = named(["unknown"]);
  const why = [
    notUndone ? `some completed steps could not be rolled back: ${notUndone}` : "",
    unknown ? `a step's outcome is unknown (it may or may not have acted): ${unknown}; look it up before anything more (toolctl plan-runs show ${run.id})` : "",
  ].filter(Boolean);
  const error = status === "rolled_back" ? undefined : runError(why.join("; ") || "some completed steps could not be rolled back", "action_failed", exitCode);
  await deps.store.planRuns.setStatus(run.id, status, options.actor, error);
  return summary(run.id, preview, states, status, exitCode, error);
}

/** The run taken by this process, or a usage error naming the live process that holds it. */
async function claim(run: PlanRun, options: ApplyOptions, deps: ExecuteDeps): Promise<void> {
  const claimed = await deps.store.planRuns.claim(run.id, options.actor);
  if (!claimed.ok) throw stillRunning(run.id, claimed.pid, claimed.host);
}

/**
 * A step that will need a TOTP code when it runs is refused then if 2FA is not set up: found before the first
 * step acts, so no earlier step (an irreversible payment) runs for a plan that cannot finish.
 */
async function checkTwoFactor(preview: PlanPreview, steps: StepPreview[], otp: string | undefined, deps: ExecuteDeps): Promise<void> {
  const needing = steps.filter((s) => s.runs !== false && s.approval.twoFactor);
  if (needing.length === 0) return;
  const named = needing.map((s) => `${s.id} (${s.action})`).join(", ");
  if (!(await deps.twoFactor.isEnrolled())) {
    throw new PolicyError(
      "policy_refused",
      `plan ${preview.name} refused: step${needing.length > 1 ? "s" : ""} ${named} will need a TOTP code, but 2FA is not set up: run toolctl 2fa enroll first; nothing ran`,
    );
  }
  // A code is accepted once: the second step would be refused after the first had acted.
  if (otp !== undefined && needing.length > 1) {
    throw new UsageError(
      `plan ${preview.name}: steps ${named} each need a TOTP code, and --otp gives one, which is accepted once: apply it in a terminal without --otp, where each step asks for its own when it runs; nothing ran`,
    );
  }
}

async function checkBudget(preview: PlanPreview, steps: StepPreview[], deps: ExecuteDeps): Promise<void> {
  const counted = steps.filter((s) => s.runs !== false);
  const usd = totalUsd(counted);
  const today = await deps.store.ledger.day(spendDay());
  const problem = budgetProblem(counted, usd, roundUsd(today.committedUsd + today.reservedUsd + usd), deps.config.limits);
  if (problem) throw new PolicyError("policy_refused", `plan ${preview.name} refused: the budget does not allow it now: ${problem}`);
}

/** The secrets the steps' templates name, resolved once; a missing one stops the apply before anything runs. */
async function resolvePlanSecrets(preview: PlanPreview, options: ApplyOptions, deps: ExecuteDeps): Promise<Record<string, string>> {
  const names = new Set(
    preview.steps.flatMap((s) =>
      collectRefs([s.input, s.condition])
        .filter((r) => r.root === "secrets")
        .map((r) => r.path.split(".")[1]!),
    ),
  );
  const lookup = createSecretLookup(options.cwd, options.env, { home: deps.home, sealed: await deps.store.secrets.allSealed() });
  const secrets: Record<string, string> = {};
  for (const name of names) {
    const found = lookup.get(name);
    if (!found)
      throw new SecretMissingError(`secret ${name} is not set (the plan's steps use it): set it in the environment, .env or with toolctl secret set ${name}`, {
        secret: name,
      });
    secrets[name] = found.value;
  }
  return secrets;
}

/** One approval for the steps about to run, showing the total; nothing asked when none of them needs one. */
async function approvePlan(preview: PlanPreview, steps: StepPreview[], runId: string, options: ApplyOptions, deps: ExecuteDeps): Promise<string> {
  const counted = steps.filter((s) => s.runs !== false);
  if (!counted.some((s) => s.approval.required)) return "not required";
  const usd = totalUsd(counted);
  const unknown = counted.filter((s) => s.cost.usd === null).length;
  const details = Object.fromEntries(
    counted.map((s) => [
      s.id,
      [
        s.action,
        s.cost.usd === null ? "cost known after apply" : `$${s.cost.usd.toFixed(2)}${s.cost.estimated ? " (estimate)" : ""}`,
        s.risk,
        ...(s.approval.twoFactor ? ["TOTP code asked when it runs"] : []),
        ...(s.acts && !s.reversible ? [s.undo.startsWith("irreversible") ? "irreversible" : "no rollback"] : []),
      ].join("  "),
    ]),
  );
  const request: ApprovalRequest = {
    tool: "plan",
    action: preview.name,
    description: `${counted.length} step${counted.length === 1 ? "" : "s"} from ${preview.file}`,
    cost: { usd, basis: `the sum of ${counted.length} steps${unknown ? `, ${unknown} more known after apply` : ""}` },
    risk: maxRisk(...counted.map((s) => s.risk)),
    details,
    needsOtp: false,
    target: "each step's own tool and request, as planned",
    undo: counted.some((s) => s.acts && !s.reversible) ? "not every step can be undone: see the steps below" : "every step that acts declares a rollback",
  };
  const verdict = await obtainApproval(
    deps.store,
    request,
    digestOf({ plan: preview.id, steps: counted.map((s) => s.id) }),
    {
      yes: options.yes,
      wait: false,
      subject: `plan ${preview.name}`,
      canWait: false,
      timeoutSeconds: deps.config.approvals.timeoutSeconds,
      actor: options.actor,
      signal: options.signal,
      executionId: runId,
    },
    deps.human,
    deps.twoFactor,
  );
  if (!verdict.approved) throw verdict.error;
  return `plan run ${runId} (${verdict.via})`;
}

/** Step rows against the history: what really happened to each step of an interrupted or failed run. */
async function reconcile(run: PlanRun, preview: PlanPreview, deps: ExecuteDeps, purpose: "resume" | "rollback"): Promise<Map<string, StepState>> {
  const states = new Map<string, StepState>();
  const unresolved: string[] = [];
  for (const row of run.steps) {
    const step = preview.steps.find((s) => s.id === row.id)!;
    const state: StepState = {
      id: row.id,
      action: step.action,
      status: row.status,
      executionId: row.executionId ?? undefined,
      rollbackExecutionId: row.rollbackExecutionId ?? undefined,
      note: row.note ?? undefined,
      finishedAt: row.finishedAt ? Date.parse(row.finishedAt) : undefined,
    };
    const found = row.executionId ? await deps.store.executions.find(row.executionId) : undefined;
    const execution = Array.isArray(found) ? undefined : found;
    // Rolling back again: a step whose compensation failed is undone anew while its execution still stands (and
    // counts as undone once it no longer does); otherwise it stays as it was.
    const undoAgain = purpose === "rollback" && row.status === "rollback_failed" && (execution?.status === "succeeded" || execution?.status === "rolled_back");
    if (row.status === "running" || row.status === "unknown" || row.status === "succeeded" || undoAgain) {
      if (!execution) Object.assign(state, { status: "pending", executionId: undefined, note: "had not started: it runs again" });
      else if (execution.status === "rolled_back")
        // Undone meanwhile on its own (toolctl rollback of its execution), or by a compensation that ended late.
        Object.assign(state, { status: "rolled_back", note: `rolled back outside this plan run (execution ${execution.id} is rolled_back)` });
      else if (execution.status === "succeeded")
        Object.assign(state, {
          status: "succeeded",
          output: execution.output,
          finishedAt: state.finishedAt ?? Date.parse(execution.finishedAt ?? execution.createdAt),
        });
      else if (execution.status === "running" || execution.status === "unknown") {
        const action = await deps.store.tools.action(step.action.split(".")[0]!, step.action.split(".")[1]!, false);
        const idempotent = action?.definition.idempotent ?? action?.kind === "read";
        if (purpose === "resume" && idempotent)
          Object.assign(state, { status: "pending", supersedes: execution.id, note: `cut off (execution ${execution.id}); idempotent, so it runs again` });
        else {
          // Cut off (its process gone, settled with no finish time), or ended unknown (a timeout, a 5xx): said as it was.
          const why = execution.finishedAt
            ? `its outcome is unknown: ${execution.error?.message ?? "it may have acted"}`
            : "cut off mid-run: its outcome is unknown";
          Object.assign(state, { status: "unknown", note: `${why} (execution ${execution.id})` });
          unresolved.push(`step ${row.id} (${step.action}, execution ${execution.id})`);
        }
      } else Object.assign(state, { status: "pending", note: `its last attempt ended ${execution.status}: it runs again` });
    } else if (purpose === "resume" && ["failed", "not_started", "skipped"].includes(row.status)) {
      Object.assign(state, { status: "pending" });
    }
    states.set(row.id, state);
  }
  if (purpose === "resume" && unresolved.length > 0) {
    throw new ToolctlError(
      "unknown_outcome",
      ExitCode.unknownOutcome,
      `cannot resume plan run ${run.id}: ${unresolved.join(", ")} ended with its outcome unknown (cut off, or a timeout or error after it was sent), so it may or may not have acted; check it (toolctl executions show ID), then undo the run with toolctl plan-runs rollback ${run.id}`,
    );
  }
  return states;
}

async function runAndSettle(
  runId: string,
  preview: PlanPreview,
  states: Map<string, StepState>,
  secrets: Record<string, string>,
  approvedVia: string,
  options: ApplyOptions,
  deps: ExecuteDeps,
): Promise<ApplyResult> {
  const failure = await runSteps(runId, preview, states, secrets, approvedVia, options, deps);
  if (!failure) {
    // Nothing failed now, but a step that could not run leaves the plan undone: never reported as succeeded.
    const notRun = [...states.values()].filter((s) => s.status === "not_started");
    if (notRun.length === 0) {
      await deps.store.planRuns.setStatus(runId, "succeeded", options.actor);
      return summary(runId, preview, states, "succeeded", ExitCode.ok);
    }
    const why = notRun.map((s) => `${s.id} (${(s.note ?? "").replace(/^not started: /, "")})`).join(", ");
    const error = runError(
      `plan run ${runId} did not complete: ${notRun.length} step${notRun.length === 1 ? "" : "s"} did not run: ${why}`,
      "action_failed",
      ExitCode.actionFailed,
    );
    await deps.store.planRuns.setStatus(runId, "failed", options.actor, error);
    return summary(runId, preview, states, "failed", ExitCode.actionFailed, error);
  }
  if (options.signal?.aborted) {
    const error = runError(
      `interrupted: ${failure.message}; see toolctl plan-runs show ${runId}, then resume or roll it back`,
      "interrupted",
      ExitCode.interrupted,
    );
    await deps.store.planRuns.setStatus(runId, "interrupted", options.actor, error);
    return summary(runId, preview, states, "interrupted", ExitCode.interrupted, error);
  }
  for (const state of states.values()) {
    if (state.status === "pending") {
      state.status = "not_started";
      await deps.store.planRuns.updateStep(runId, state.id, { status: "not_started", note: `not started: step ${failure.step} failed` });
      state.note = `not started: step ${failure.step} failed`;
    }
  }
  let status: PlanRunStatus = "failed";
  let message = failure.message;
  if (deps.config.rollback.auto) {
    status = await undoCompleted(runId, preview, states, options, deps);
    message += status === "rolled_back" ? "; the completed steps were rolled back" : "; not every completed step could be rolled back (see the steps)";
  }
  const error = runError(message, failure.code, failure.exitCode, failure.category, failure.problems);
  await deps.store.planRuns.setStatus(runId, status, options.actor, error);
  return summary(runId, preview, states, status, failure.exitCode, error);
}

/** The first step that failed, and how: its execution's error code, category and problems when it ran. */
interface Failure {
  step: string;
  message: string;
  exitCode: ExitCodeValue;
  code: string;
  category?: ErrorCategory;
  problems?: string[];
}

/** Runs what is pending, in dependency order; returns the first failure, after the steps already started end. */
async function runSteps(
  runId: string,
  preview: PlanPreview,
  states: Map<string, StepState>,
  secrets: Record<string, string>,
  approvedVia: string,
  options: ApplyOptions,
  deps: ExecuteDeps,
): Promise<Failure | undefined> {
  const byId = new Map(preview.steps.map((s) => [s.id, s]));
  const running = new Map<string, Promise<void>>();
  let failure: Failure | undefined;
  const fail = (step: string, message: string, exitCode: ExitCodeValue, code: string, category?: ErrorCategory, problems?: string[]) => {
    failure ??= { step, message: `step ${step} (${byId.get(step)!.action}): ${message}`, exitCode, code, category, problems };
  };
  const finish = async (step: StepPreview, state: StepState, status: PlanStepStatus, note?: string, rollbackExecutionId?: string) => {
    Object.assign(state, { status, note, finishedAt: Date.now(), ...(rollbackExecutionId ? { rollbackExecutionId } : {}) });
    await deps.store.planRuns.updateStep(runId, step.id, { status, note, ...(rollbackExecutionId ? { rollbackExecutionId } : {}) });
    options.reporter?.finished(step, state);
  };
  // Environment values that are secrets go in as they are, and are scrubbed like secrets from all that is recorded.
  const secretEnvValues = [
    ...(await planSecretEnv(
      Object.keys(preview.env),
      preview.steps.map((s) => s.action),
      options,
      deps,
    )),
  ]
    .map((name) => envValue(options.env, name))
    .filter((value): value is string => value !== undefined && value !== "");
  const runOne = async (step: StepPreview, state: StepState) => {
    const outputs = Object.fromEntries([...states.values()].filter((s) => s.status === "succeeded").map((s) => [s.id, s.output]));
    const scope = { env: options.env, outputs, secrets };
    let input: Record<string, unknown>;
    try {
      if (step.condition !== undefined && !conditionHolds(step.condition, scope)) return await finish(step, state, "skipped", "its condition is false");
      input = renderStep(step.input, scope) as Record<string, unknown>;
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      await finish(step, state, "failed", `input: ${error.message}`);
      return fail(step.id, `input: ${error.message}`, ExitCode.actionFailed, "input_invalid");
    }
    state.executionId = newExecutionId();
    Object.assign(state, { status: "running" });
    await deps.store.planRuns.updateStep(runId, step.id, { status: "running", executionId: state.executionId });
    options.reporter?.started(step);
    const result: ExecuteResult = await execute(
      {
        actor: options.actor,
        cwd: options.cwd,
        env: options.env,
        signal: options.signal,
        target: step.action,
        input: { params: [], paramsJson: JSON.stringify(input) },
        dryRun: false,
        yes: options.yes,
        otp: options.otp,
        executionId: state.executionId,
        planRunId: runId,
        extraSecrets: [...Object.values(secrets), ...secretEnvValues],
        planApproval: { via: approvedVia, plannedUsd: step.cost.usd, plannedRisk: step.risk, estimated: step.cost.estimated },
      },
      deps,
    );
    if (result.status === "succeeded") {
      state.output = result.output;
      if (state.supersedes) {
        const [tool, action] = step.action.split(".") as [string, string];
        for (const cutOff of await cutOffAttempts(deps, runId, step.action, state.supersedes))
          await deps.store.executions.superseded(cutOff, {
            type: "execution.superseded",
            actor: options.actor,
            tool,
            action,
            executionId: cutOff,
            status: "unknown",
            data: { by: state.executionId, planRunId: runId },
          });
      }
      return await finish(step, state, "succeeded");
    }
    const message = result.error?.message ?? result.status;
    // Acted, answered wrongly, and undone by the engine's automatic rollback: nothing of it is left in place.
    if (result.status === "rolled_back") await finish(step, state, "rolled_back", message, result.rollback?.executionId);
    else await finish(step, state, result.status === "unknown" ? "unknown" : "failed", message);
    fail(step.id, message, result.exitCode, result.error?.code ?? result.status, result.error?.category, result.error?.problems);
  };

  for (;;) {
    const exclusive = [...running.keys()].some((id) => byId.get(id)!.approval.twoFactor);
    if (!failure && !options.signal?.aborted && !exclusive) {
      for (const id of preview.order) {
        const state = states.get(id)!;
        if (state.status !== "pending" || running.size >= Math.max(1, options.parallelism)) continue;
        const step = byId.get(id)!;
        const reason = whyBlocked(step, states);
        if (reason) {
          await finish(step, state, "not_started", `not started: ${reason}`);
          continue;
        }
        const skipped = step.needs.find((n) => states.get(n)!.status === "skipped");
        if (skipped) {
          await finish(step, state, "skipped", `step ${skipped} did not run`);
          continue;
        }
        if (!step.needs.every((n) => states.get(n)!.status === "succeeded")) continue;
        // A step that asks for a TOTP code runs alone, so that prompts never overlap.
        if (step.approval.twoFactor && running.size > 0) break;
        running.set(
          id,
          runOne(step, state).finally(() => running.delete(id)),
        );
        if (step.approval.twoFactor) break;
      }
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  if (!failure && options.signal?.aborted && [...states.values()].some((s) => s.status === "pending")) {
    failure = { step: "-", message: "stopped before every step ran", exitCode: ExitCode.interrupted, code: "interrupted" };
  }
  // Whatever else kept a step waiting, it did not run, and says so.
  if (!failure) {
    for (const step of preview.steps) {
      const state = states.get(step.id)!;
      if (state.status === "pending") await finish(step, state, "not_started", "not started: its dependencies did not all succeed");
    }
  }
  return failure;
}

/** What a step after another that will never succeed (rolled back, left in place, failed...) became of it. */
const NEVER_SUCCEEDS: Partial<Record<PlanStepStatus, string>> = {
  rolled_back: "was rolled back",
  left_in_place: "was left in place",
  rollback_failed: "could not be rolled back",
  failed: "failed",
  unknown: "has an unknown outcome",
  not_started: "did not run",
};

/** Why a step cannot run: one of the steps it needs is done for and will not succeed now. */
function whyBlocked(step: StepPreview, states: Map<string, StepState>): string | undefined {
  for (const need of step.needs) {
    const fate = NEVER_SUCCEEDS[states.get(need)!.status];
    if (fate) return `it needs step ${need}, which ${fate}`;
  }
  return undefined;
}

/** Undoes the completed steps, newest first; returns rolled_back when nothing that acted is left in place. */
async function undoCompleted(
  runId: string,
  preview: PlanPreview,
  states: Map<string, StepState>,
  options: ApplyOptions,
  deps: ExecuteDeps,
): Promise<PlanRunStatus> {
  const byId = new Map(preview.steps.map((s) => [s.id, s]));
  const completed = [...states.values()]
    .filter((s) => s.status === "succeeded" && byId.get(s.id)!.kind !== "read")
    .sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0));
  // A step cut off mid-run, one an earlier rollback left in place, or one whose compensation cannot run again now.
  let clean = ![...states.values()].some((s) => s.status === "unknown" || s.status === "left_in_place" || s.status === "rollback_failed");
  for (const state of completed) {
    const step = byId.get(state.id)!;
    const set = async (status: PlanStepStatus, note: string, rollbackExecutionId?: string) => {
      Object.assign(state, { status, note, rollbackExecutionId });
      await deps.store.planRuns.updateStep(runId, state.id, { status, note, rollbackExecutionId });
      options.reporter?.finished(step, state);
    };
    if (!step.reversible) {
      clean = false;
      await set("left_in_place", step.undo.startsWith("irreversible") ? "irreversible: left in place" : "declares no rollback: left in place");
      continue;
    }
    try {
      const undo = await rollbackExecution(
        state.executionId!,
        { actor: options.actor, cwd: options.cwd, env: options.env, dryRun: false, yes: true, otp: options.otp, planRunId: runId },
        deps,
      );
      if (undo.status === "succeeded") await set("rolled_back", `rolled back by ${undo.tool}.${undo.action} (${undo.executionId})`, undo.executionId);
      else {
        clean = false;
        await set(
          "rollback_failed",
          `rollback ${undo.tool}.${undo.action} (${undo.executionId}) ${undo.status}: ${undo.error?.message ?? ""}`.trim(),
          undo.executionId,
        );
      }
    } catch (error) {
      if (!(error instanceof ToolctlError)) throw error;
      clean = false;
      await set("rollback_failed", `rollback refused: ${error.message}`);
    }
  }
  return clean ? "rolled_back" : "failed";
}

function summary(
  runId: string,
  preview: PlanPreview,
  states: Map<string, StepState>,
  status: PlanRunStatus,
  exitCode: ExitCodeValue,
  error?: ExecutionError,
): ApplyResult {
  const spent = preview.steps.filter((s) => ["succeeded", "left_in_place"].includes(states.get(s.id)?.status ?? ""));
  return {
    id: runId,
    planId: preview.id,
    name: preview.name,
    status,
    exitCode,
    totalUsd: totalUsd(spent),
    steps: preview.order.map((id, position) => {
      const state = states.get(id)!;
      return {
        id,
        action: state.action,
        position,
        status: state.status,
        executionId: state.executionId ?? null,
        rollbackExecutionId: state.rollbackExecutionId ?? null,
        note: state.note ?? null,
        finishedAt: state.finishedAt === undefined ? null : new Date(state.finishedAt).toISOString(),
      };
    }),
    error: error ?? null,
  };
}

/**
 * The attempts of one idempotent step a success supersedes: the one cut off last (the step's own), and any cut off
 * before it whose reservation is still held (a resume cut off as well): the same action in the same plan run, with
 * the same input, ended unknown. One success of an action safe to repeat stands for all of them.
 */
async function cutOffAttempts(deps: ExecuteDeps, runId: string, target: string, last: string): Promise<string[]> {
  const found = await deps.store.executions.find(last);
  const latest = Array.isArray(found) ? undefined : found;
  if (!latest) return [last];
  const [tool, action] = target.split(".") as [string, string];
  const unknown = await deps.store.executions.list({ tool, action, status: "unknown", limit: 1000, offset: 0 });
  const input = digestOf(latest.input);
  const earlier = unknown.items.filter((e) => e.id !== last && e.planRunId === runId && e.createdAt < latest.createdAt && digestOf(e.input) === input);
  const held = new Set<string>();
  // Reserved on the day the run started (taken under the ledger's lock), which is its creation day but at midnight.
  for (const day of new Set(earlier.flatMap((e) => [e.createdAt, e.startedAt ?? e.createdAt].map((at) => at.slice(0, 10))))) {
    for (const entry of await deps.store.ledger.entries(day)) if (entry.state === "reserved") held.add(entry.executionId);
  }
  return [...earlier.filter((e) => held.has(e.id)).map((e) => e.id), last];
}
