/**
 * `execute()`: evaluate → record intent → run → validate output → record outcome. The decision (request or
 * command, cost, risk, approval, limits) is computed first as a value by `evaluate()`: a dry run renders it, a
 * real run executes exactly it. The intent is committed to the audit log before any side effect; if that write
 * fails, nothing runs. Expected outcomes come back as values with their exit code.
 */
import type { Actor } from "../config/home.js";
import type { RiskLevel } from "../domain/manifest.js";
import type { ErrorCategory, ExecutionError, ExecutionOrigin, ExecutionStatus } from "../domain/records.js";
import { executionError, ExitCode, PolicyError, ToolctlError, type ExitCodeValue } from "../errors.js";
import type { ApprovalNeed } from "../policy/approval.js";
import type { CostEstimate } from "../policy/cost.js";
import { overDailyLimit } from "../policy/approval.js";
import { RISK_ORDER } from "../policy/risk.js";
import { roundUsd, spendDay } from "../policy/spend.js";
import type { RunResult } from "../runners/types.js";
import { newExecutionId, nowIso } from "../util/ids.js";
import { obtainApproval, type Human, type TwoFactor } from "./approve.js";
import { evaluate, resolveTarget, type Budget, type Decision, type EngineDeps, type Refusal } from "./evaluate.js";
import type { InputSources } from "./input.js";
import { runAndRecord } from "./outcome.js";
import { createRecorder, type Recorder } from "./record.js";

export interface ExecuteOptions {
  target: string;
  input: InputSources;
  dryRun: boolean;
  /** `--yes`: approves without a prompt (CRITICAL also needs `otp`). */
  yes?: boolean;
  /** `--otp CODE`: the TOTP code for a CRITICAL action. */
  otp?: string;
  /** `--wait`: file an approval request and wait for `toolctl approve` from another terminal. */
  wait?: boolean;
  /**
   * With `wait`: stop waiting after this many seconds and leave the request pending (the run ends `declined`
   * with `approval_pending`; `approvalId` can run it once approved). Default: wait until the request expires.
   */
  waitSeconds?: number;
  /** Run under an approval request filed earlier and since approved: it must be for exactly this call (its digest). */
  approvalId?: string;
  /** The front door the run came through (an MCP client and session), recorded on the execution and its audit events. */
  origin?: ExecutionOrigin;
  /** With `wait`: ask the human channel before filing a request (see ApprovalOptions.askFirst). */
  askFirst?: { via: string };
  /** Set by rollback: the execution this one compensates. */
  rollbackOf?: string;
  /** Set by apply: the id is chosen (and written on the plan step) before the run, so a crash leaves a trail. */
  executionId?: string;
  /** Set by apply: the plan run this execution is a step (or a compensation) of. */
  planRunId?: string;
  /**
   * Set by apply: the whole plan was approved at once. The step asks no further yes, only a TOTP code when it
   * is CRITICAL; it is refused when it now costs more than the plan said (beyond an estimate's own risk level).
   */
  planApproval?: { via: string; plannedUsd: number | null; plannedRisk: RiskLevel; estimated: boolean };
  /** Secret values already in the input (a plan step's `{{ secrets.X }}`): never shown or recorded. */
  extraSecrets?: string[];
  /** `--sandbox`: run a process tool that names an image in Docker, or directly; the config decides otherwise. */
  sandbox?: "docker" | "none";
  actor: Actor;
  cwd: string;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /**
   * A time limit on the action itself, counted from when it starts (not while it waits for approval), on top of
   * the action's own timeout: a compensation's `rollback.timeoutSeconds`. Running out is a timeout, never Ctrl-C.
   */
  timeLimit?: { seconds: number; setting: string; /** Set by the engine once the action starts: the limit's own timer. */ timer?: AbortSignal };
  /** Told when the side effect starts and ends, for a spinner; the engine itself prints nothing. */
  progress?: Progress;
  /** Set by the engine while an action runs: the CLI awaits `onForce` on a second Ctrl-C, just before exiting. */
  interrupts?: { onForce?: () => Promise<void> };
}

export interface Progress {
  start(label: string): void;
  stop(): void;
  /** A line of progress for a step before the action (pulling an image). */
  status?(text: string): void;
  /**
   * A pipeline stage that just ended and how long it took, for `--verbose`: resolve, evaluate, preflight,
   * approval, record intent, run (with the runner's redacted `detail`: an HTTP status, an exit code) and record
   * outcome; a dry run ends with record.
   */
  stage?(name: string, ms: number, detail?: Record<string, unknown>): void;
}

/** Reports each stage with the time since the previous one. */
function stageClock(progress: Progress | undefined): (name: string) => void {
  let last = Date.now();
  return (name) => {
    const now = Date.now();
    progress?.stage?.(name, now - last);
    last = now;
  };
}

export interface ExecuteResult {
  executionId: string;
  tool: string;
  action: string;
  status: ExecutionStatus;
  exitCode: ExitCodeValue;
  input?: unknown;
  output?: unknown;
  /** The prepared request: the HTTP call, command, container or built-in operation, redacted (`result` once it ran). */
  request?: Record<string, unknown>;
  cost?: CostEstimate;
  risk?: RiskLevel;
  /** `via`: how it was approved; `requestId`: the filed approval request (a wait, or a run under an earlier one). */
  approval?: ApprovalNeed & { via?: string; requestId?: string };
  /** Today's spend against the daily limit, as it stands with this action's cost reserved. */
  budget?: Budget;
  /** Present on every outcome but success and dry run; `exitCode` repeats the top-level one for scripts. */
  error?: ExecutionError;
  warnings: string[];
  durationMs?: number;
  /** Peak memory, CPU time and duration of a sandboxed run. */
  resources?: RunResult["resources"];
  /** How this action is undone: the compensating action, or irreversible; said up front in dry runs. */
  undo?: string;
  /** An automatic rollback after a failure that acted, and how it went. */
  rollback?: { executionId: string; status: ExecutionStatus; error?: string };
}

export interface ExecuteDeps extends EngineDeps {
  human: Human;
  twoFactor: TwoFactor;
  /**
   * Runs the declared compensation after a run that acted but answered wrongly (engine/rollback.ts `autoRollback`).
   * Handed in rather than imported: rollback runs `execute`, so `execute` stays the layer below it.
   */
  autoRollback(result: ExecuteResult, options: ExecuteOptions, deps: ExecuteDeps): Promise<ExecuteResult>;
}

/** An attempt that ends before anything ran, on record with its reason. */
async function endEarly(record: Recorder, refusal: Refusal, base: ResultBase, extra: Partial<ExecuteResult> = {}): Promise<ExecuteResult> {
  const { redactor, error, status, category } = refusal;
  const message = redactor.text(error.message);
  const problems = error.details.problems?.map((p) => redactor.text(p));
  const input = redactor.value(extra.input ?? refusal.input ?? null);
  const request = redactor.value(extra.request);
  const cost = extra.cost ?? refusal.cost;
  const risk = extra.risk ?? refusal.risk;
  for (const event of refusal.events) await record.event(event);
  await record.ended(
    status,
    input,
    {
      error: message,
      errorCategory: category,
      errorCode: error.code,
      errorExitCode: error.exitCode,
      errorProblems: problems ?? null,
      request,
      costUsd: cost?.usd,
      risk,
    },
    // Needing a human nobody could ask ends the attempt declined; the audit log keeps the reason apart from a no.
    error.code === "needs_human" ? "execution.needs_approval" : status === "declined" ? "execution.refused" : "execution.invalid",
    { input, request, error: message, problems, category, cost, risk },
  );
  return {
    ...base,
    warnings: [...base.warnings, ...refusal.warnings],
    cost,
    risk,
    ...extra,
    input,
    request,
    status,
    exitCode: error.exitCode,
    error: executionError({ status, message, category, code: error.code, exitCode: error.exitCode, problems }),
  };
}

type ResultBase = Pick<ExecuteResult, "executionId" | "tool" | "action" | "warnings" | "undo">;

export async function execute(options: ExecuteOptions, deps: ExecuteDeps): Promise<ExecuteResult> {
  const { store } = deps;
  const id = options.executionId ?? newExecutionId();
  const stage = stageClock(options.progress);
  const found = await resolveTarget(store, options.target);
  stage("resolve");
  if ("missing" in found) {
    // Not an execution (there is nothing to run), but the attempt is audited.
    await store.audit.append({
      type: "execution.rejected",
      actor: options.actor,
      tool: found.tool,
      action: found.action,
      status: "rejected",
      data: { reason: found.missing.message, ...(options.origin ? { origin: options.origin } : {}) },
    });
    throw found.missing;
  }
  const { tool, action } = found;
  const record = createRecorder(store, {
    id,
    tool: tool.name,
    action: action.name,
    actor: options.actor,
    createdAt: nowIso(),
    toolDigest: tool.digest,
    rollbackOf: options.rollbackOf,
    planRunId: options.planRunId,
    origin: options.origin,
  });
  const evaluation = await evaluate({ ...options, executionId: id }, deps, found);
  stage("evaluate");
  if (!evaluation.ok) {
    const { refusal } = evaluation;
    return endEarly(record, refusal, { executionId: id, tool: tool.name, action: action.name, warnings: [], undo: refusal.undo });
  }
  return carryOut(evaluation.decision, options, deps, record, stage);
}

/** The result a decision is shown as, before it runs. */
function shownOf(decision: Decision): Omit<ExecuteResult, "status" | "exitCode"> {
  return {
    executionId: decision.executionId,
    tool: decision.tool.name,
    action: decision.action.name,
    warnings: [...decision.warnings],
    undo: decision.undo,
    input: decision.shownInput,
    request: decision.request,
    cost: decision.cost,
    risk: decision.risk,
    approval: decision.approval,
    budget: decision.budget,
  };
}

/** Approves, records the intent and runs a decision: exactly what was evaluated, nothing recomputed. */
async function carryOut(
  decision: Decision,
  options: ExecuteOptions,
  deps: ExecuteDeps,
  record: Recorder,
  stage: (name: string) => void = () => undefined,
): Promise<ExecuteResult> {
  const { store } = deps;
  const { tool, action, cost, risk, approval, redactor, prepared } = decision;
  const name = `${tool.name}.${action.name}`;
  const shown = shownOf(decision);
  for (const event of decision.events) await record.event(event);
  const refuse = (status: Refusal["status"], error: ToolctlError, category: ErrorCategory | null) =>
    endEarly(record, { status, error, category, events: [], warnings: [], redactor }, shown, { ...shown, input: decision.input });

  if (options.dryRun) {
    if (decision.overLimit) shown.warnings.push(`a real run would be refused: ${decision.overLimit}`);
    if (deps.config.audit.dryRuns) {
      await record.ended("dry_run", shown.input, { request: shown.request, costUsd: cost.usd, risk }, "execution.dry_run", {
        input: shown.input,
        request: shown.request,
        cost,
        risk,
        approval,
        budget: shown.budget,
      });
      stage("record");
    }
    return { ...shown, status: "dry_run", exitCode: ExitCode.ok };
  }
  if (decision.overLimit) return refuse("declined", new PolicyError("policy_refused", `${name} refused: ${decision.overLimit}`), null);
  if (!prepared) throw new Error(`${name}: a decision without a prepared call cannot run`);
  // The environment is checked before anyone is asked: no approval for a run whose engine or image is missing.
  if (prepared.preflight) {
    try {
      await prepared.preflight({ signal: options.signal ?? new AbortController().signal, status: options.progress?.status });
    } catch (error) {
      if (!(error instanceof ToolctlError)) throw error;
      const declined = error.exitCode === ExitCode.policy;
      return refuse(declined ? "declined" : "failed", error, declined ? "resource_limit" : "environment");
    } finally {
      options.progress?.stop();
    }
    stage("preflight");
  }

  const planned = options.planApproval;
  if (planned) {
    const changed = planChange(planned, cost.usd, risk);
    if (changed) return refuse("declined", new PolicyError("policy_refused", `${name} refused: ${changed}; make a new plan`), null);
  }
  // Within an approved plan only a CRITICAL step asks again, for its TOTP code (`yes` skips the yes/no question).
  const verdict =
    planned && !approval.twoFactor
      ? { approved: true as const, via: planned.via }
      : approval.required || options.approvalId !== undefined
        ? await obtainApproval(
            store,
            decision.approvalRequest,
            decision.approvalDigest,
            {
              yes: options.yes === true || planned !== undefined,
              otp: options.otp,
              wait: options.wait === true,
              waitSeconds: options.waitSeconds,
              approvalId: options.approvalId,
              origin: options.origin,
              askFirst: options.askFirst,
              timeoutSeconds: deps.config.approvals.timeoutSeconds,
              actor: options.actor,
              signal: options.signal,
              executionId: decision.executionId,
            },
            deps.human,
            deps.twoFactor,
          )
        : { approved: true as const, via: "not required" };
  stage("approval");
  const requestId = "approvalId" in verdict && verdict.approvalId ? { requestId: verdict.approvalId } : {};
  if (!verdict.approved) {
    shown.approval = { ...approval, ...requestId };
    return refuse(verdict.status, verdict.error, null);
  }
  shown.approval = { ...approval, via: verdict.via, ...requestId };
  // Ctrl-C before the side effect stops the run: nothing has happened yet, so nothing will.
  if (options.signal?.aborted) {
    return refuse("declined", new ToolctlError("interrupted", ExitCode.interrupted, `${name}: interrupted before it ran; nothing ran`), null);
  }

  // The intent is durable before the side effect, together with the spend reservation and the use of the
  // approval: if this transaction fails, the error propagates and nothing runs.
  const approvalId = "approvalId" in verdict ? verdict.approvalId : undefined;
  const started = await record.started(
    shown.input,
    { request: shown.request, costUsd: cost.usd, risk },
    { input: shown.input, request: shown.request, cost, risk, approval: verdict.via, approvalId },
    {
      approval: approvalId ? { id: approvalId, digest: decision.approvalDigest } : undefined,
      // The day is taken again under the lock: a run approved after midnight counts against the new day.
      reserve: cost.usd > 0 ? { amountUsd: cost.usd, day: spendDay(), dailyLimitUsd: deps.config.limits.dailyUsd } : undefined,
    },
  );
  stage("record intent");
  if (!started.ok) {
    const message =
      started.reason === "over_daily_limit"
        ? `${name} refused: ${overDailyLimit(cost.usd, roundUsd(started.spend.committedUsd + started.spend.reservedUsd + cost.usd), deps.config.limits)}`
        : started.message;
    return refuse("declined", new PolicyError(started.reason === "tool_changed" ? "tool_disabled" : "policy_refused", message), "authorization");
  }
  const result = await runAndRecord(prepared, { options: withTimeLimit(options), action, record, redactor, shown });
  // An action that acted but failed is undone now when its tool says how (loaded only then).
  if (result.error?.code === "output_invalid" && typeof action.definition.rollback === "object") {
    return deps.autoRollback(result, options, deps);
  }
  return result;
}

/** The options the action runs under: with a time limit, a signal that also aborts when it runs out. */
function withTimeLimit(options: ExecuteOptions): ExecuteOptions {
  if (!options.timeLimit) return options;
  const timer = AbortSignal.timeout(options.timeLimit.seconds * 1000);
  return { ...options, timeLimit: { ...options.timeLimit, timer }, signal: options.signal ? AbortSignal.any([options.signal, timer]) : timer };
}

/**
 * Why a step of an approved plan may not run as approved: it costs more than planned. A cost the plan could only
 * estimate (its input waited on earlier steps) may come out higher, as long as its risk level does not rise.
 */
function planChange(planned: NonNullable<ExecuteOptions["planApproval"]>, usd: number, risk: RiskLevel): string | undefined {
  const riskRose = RISK_ORDER.indexOf(risk) > RISK_ORDER.indexOf(planned.plannedRisk);
  if (riskRose) return `its risk is now ${risk}, the plan approved ${planned.plannedRisk}`;
  if (planned.plannedUsd === null || planned.estimated) return undefined;
  if (usd > planned.plannedUsd + 0.005) return `it now costs $${usd.toFixed(2)}, the plan approved $${planned.plannedUsd.toFixed(2)}`;
  return undefined;
}
