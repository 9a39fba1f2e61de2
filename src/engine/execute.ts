/**
 * `execute()`: resolve → validate → decide → record intent → run → validate output → record outcome.
 * The decision (request or command, cost, risk) is computed first as plain data: a dry run renders it, a
 * real run executes exactly it. The intent is committed to the audit log before any side effect; if that
 * write fails, nothing runs. Expected outcomes come back as values with their exit code.
 */
import type { Actor } from "../config/home.js";
import type { RiskLevel } from "../domain/manifest.js";
import { describeRollback } from "../domain/rollback.js";
import { EnvironmentError, ExitCode, NotFoundError, PolicyError, SecretMissingError, ToolctlError, UsageError, type ExitCodeValue } from "../errors.js";
import { approvalDigest, approvalNeeded, overDailyLimit, overPerActionLimit, type ApprovalNeed, type ApprovalRequest } from "../policy/approval.js";
import { estimateCost, needsQuote, type CostEstimate } from "../policy/cost.js";
import { assessRisk, RISK_ORDER } from "../policy/risk.js";
import type { Config } from "../config/schema.js";
import { consumeApproval } from "../store/sqlite/approvals.js";
import { grantProblem } from "../store/sqlite/grants.js";
import { createGuards } from "../store/sqlite/guards.js";
import { daySpend, reserveSpend, roundUsd, spendDay } from "../store/sqlite/ledger.js";
import { obtainApproval, type Human, type TwoFactor } from "./approve.js";
import { destinationOf } from "./destination.js";
import { appendAudit } from "../store/sqlite/audit.js";
import { nowIso, writeTransaction, type Registry } from "../store/sqlite/db.js";
import { newExecutionId, type ErrorCategory, type ExecutionStatus } from "../store/sqlite/executions.js";
import { actionNames, getAction, getDefinitions, getTool, toolNames, type ActionRecord, type ToolRecord } from "../store/sqlite/tools.js";
import type { Runner, RunResult } from "../runners/types.js";
import { loadValidator, formatIssue } from "../schema/validator.js";
import { Redactor } from "../secrets/redact.js";
import { createSecretLookup, resolveSecrets } from "../secrets/resolve.js";
import { TemplateError } from "../template/render.js";
import { didYouMean } from "../util/suggest.js";
import { actionSecrets } from "../manifest/secrets.js";
import { buildInput, type InputSources } from "./input.js";
import { runAndRecord } from "./outcome.js";
import { takeQuote } from "./quote.js";
import { compileOnFirstRun, needsCompiling } from "./validators.js";
import { createRecorder } from "./record.js";
import { parseTarget } from "./target.js";

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
  /** Told when the side effect starts and ends, for a spinner; the engine itself prints nothing. */
  progress?: Progress;
  /** Set by the engine while an action runs: the CLI calls `onForce` on a second Ctrl-C, just before exiting. */
  interrupts?: { onForce?: () => void };
}

export interface Progress {
  start(label: string): void;
  stop(): void;
  /** A line of progress for a step before the action (pulling an image). */
  status?(text: string): void;
}

export interface ExecuteDeps {
  registry: Registry;
  runners: Record<string, () => Promise<Runner>>;
  config: Config;
  human: Human;
  twoFactor: TwoFactor;
}

export interface ExecuteResult {
  executionId: string;
  tool: string;
  action: string;
  status: ExecutionStatus;
  exitCode: ExitCodeValue;
  input?: unknown;
  output?: unknown;
  plan?: Record<string, unknown>;
  cost?: CostEstimate;
  risk?: RiskLevel;
  approval?: ApprovalNeed & { via?: string };
  /** Today's spend against the daily limit, as it stands with this action's cost reserved. */
  budget?: { day: string; committedUsd: number; reservedUsd: number; dailyLimitUsd: number; perActionLimitUsd: number; afterUsd: number };
  /** Present on every outcome but success and dry run; `exitCode` repeats the top-level one for scripts. */
  error?: { code: string; exitCode: ExitCodeValue; message: string; category?: ErrorCategory; problems?: string[] };
  warnings: string[];
  durationMs?: number;
  /** Peak memory, CPU time and duration of a sandboxed run. */
  resources?: RunResult["resources"];
  /** How this action is undone: the compensating action, or irreversible; said up front in dry runs. */
  undo?: string;
  /** An automatic rollback after a failure that acted, and how it went. */
  rollback?: { executionId: string; status: ExecutionStatus; error?: string };
}

/**
 * Which runner carries the action out: a `docker` tool always runs in Docker; a `process` tool that names an
 * image does when asked (`--sandbox docker` or config docker.sandboxProcesses). A flag that cannot apply is an error.
 */
function sandboxedRuntime(tool: ToolRecord, sandbox: "docker" | "none" | undefined, explicit: boolean): string | UsageError {
  if (tool.runtime === "docker") {
    return sandbox === "none" && explicit ? new UsageError(`--sandbox none: tool ${tool.name} runs only in Docker (runtime docker)`) : "docker";
  }
  if (sandbox !== "docker") return tool.runtime;
  if (tool.runtime === "process" && tool.definition.image) return "docker";
  if (!explicit) return tool.runtime;
  return new UsageError(
    tool.runtime === "process"
      ? `--sandbox docker: tool ${tool.name} names no image to run in; add image: to its manifest`
      : `--sandbox docker: tool ${tool.name} has runtime ${tool.runtime}; only process tools can run in a sandbox`,
  );
}

/** Finds the tool and action or throws a not-found error with a suggestion; the attempt is audited either way. */
function resolveTarget(registry: Registry, target: string, actor: Actor): { tool: ToolRecord; action: ActionRecord } {
  const { tool: toolName, action: actionName } = parseTarget(target);
  const tool = getTool(registry, toolName);
  const action = tool ? getAction(registry, toolName, actionName) : undefined;
  if (tool && action) return { tool, action };
  const message = !tool
    ? `unknown tool '${toolName}'${didYouMean(toolName, toolNames(registry))}; see: toolctl list`
    : `tool ${toolName} has no action '${actionName}'${didYouMean(actionName, actionNames(registry, toolName))}; see: toolctl show ${toolName}`;
  writeTransaction(registry, () =>
    appendAudit(registry, { type: "execution.rejected", actor, tool: toolName, action: actionName, status: "rejected", data: { reason: message } }),
  );
  throw new NotFoundError(message);
}

export async function execute(options: ExecuteOptions, deps: ExecuteDeps): Promise<ExecuteResult> {
  const { registry } = deps;
  const { tool, action } = resolveTarget(registry, options.target, options.actor);
  const redactor = new Redactor();
  for (const value of options.extraSecrets ?? []) redactor.add(value);
  const id = options.executionId ?? newExecutionId();
  const record = createRecorder(registry, {
    id, tool: tool.name, action: action.name, actor: options.actor, createdAt: nowIso(), toolDigest: tool.digest, rollbackOf: options.rollbackOf, planRunId: options.planRunId,
  });
  const undoSpec = action.definition.rollback;
  const undo = undoSpec === undefined ? "none declared" : undoSpec === "irreversible" ? "irreversible: this cannot be undone" : `${describeRollback(undoSpec)}${deps.config.rollback.auto ? " (automatic if the action acts but fails)" : ""}`;
  const base = { executionId: id, tool: tool.name, action: action.name, warnings: [] as string[], undo };

  /** An attempt that ends before anything ran. */
  const endEarly = (status: ExecutionStatus, error: ToolctlError, category: ErrorCategory | null, extra: Partial<ExecuteResult> = {}): ExecuteResult => {
    const message = redactor.text(error.message);
    const problems = error.details.problems?.map((p) => redactor.text(p));
    const input = redactor.value(extra.input ?? null);
    const plan = redactor.value(extra.plan);
    record.ended(status, input, { error: message, errorCategory: category, plan, costUsd: extra.cost?.usd, risk: extra.risk },
      // Needing a human nobody could ask ends the attempt declined; the audit log keeps the reason apart from a no.
      error.code === "needs_human" ? "execution.needs_approval" : status === "declined" ? "execution.refused" : "execution.invalid",
      { input, plan, error: message, problems, category, cost: extra.cost, risk: extra.risk });
    return { ...base, ...extra, input, plan, status, exitCode: error.exitCode, error: { code: error.code, exitCode: error.exitCode, message, category: category ?? undefined, problems } };
  };

  // A pending tool can be dry-run: seeing what it would send or start is how it is reviewed before approval.
  const pending = grantProblem(tool);
  if (pending && !options.dryRun) return endEarly("declined", new PolicyError("tool_pending", pending), "authorization");
  if (pending) base.warnings.push(`a real run would be refused: ${pending}`);
  if (tool.status !== "active" && !pending) {
    const how = tool.status === "revoked" ? `toolctl tool approve ${tool.name}` : `toolctl tool enable ${tool.name}`;
    return endEarly("declined", new PolicyError("tool_disabled", `tool ${tool.name} is ${tool.status}; run: ${how}`), "authorization");
  }

  if (needsCompiling(action)) {
    try {
      await compileOnFirstRun(registry, tool, action);
    } catch (error) {
      if (error instanceof UsageError) return endEarly("failed", error, "validation");
      throw error;
    }
  }

  let input: Record<string, unknown>;
  try {
    // `--param` values are typed through the shared definitions the schema refers to, read only when needed.
    input = buildInput(options.input, action.definition.inputSchema, (name) => getDefinitions(registry, tool.name, [name])[name]);
  } catch (error) {
    if (error instanceof UsageError) return endEarly("failed", error, "validation");
    throw error;
  }
  // A password typed as input is a secret too, wherever a template copies it.
  redactor.addUnderSecretKeys(input);
  const issues = action.inputValidator ? loadValidator(action.inputValidator)(input) : [];
  if (issues.length > 0) {
    const problems = issues.map((issue) => formatIssue(issue, "input"));
    const summary = problems.length === 1 ? problems[0]! : `${problems.length} problems`;
    const error = new ToolctlError("input_invalid", ExitCode.usage, `invalid input for ${tool.name}.${action.name}: ${summary}`, { problems });
    return endEarly("failed", error, "validation", { input });
  }

  const secretLookup = createSecretLookup(options.cwd, options.env, { home: deps.registry.home });
  const warnings: string[] = [];
  // Only the secrets this action (and the read that quotes its price) uses: one that sends no credentials needs none.
  const quote = action.definition.cost && "quote" in action.definition.cost ? getAction(registry, tool.name, action.definition.cost.quote.action, false) : undefined;
  const needed = actionSecrets(tool.definition, [action.definition, ...(quote ? [quote.definition] : [])]);
  let secrets: Record<string, string>;
  try {
    secrets = resolveSecrets(needed, secretLookup, redactor, tool.name);
  } catch (error) {
    // A store that cannot be read (key missing or wrong) ends the attempt on record, like a missing secret.
    if (error instanceof EnvironmentError) return endEarly("failed", error, "authentication", { input });
    if (!(error instanceof SecretMissingError)) throw error;
    if (!options.dryRun) return endEarly("failed", error, "authentication", { input });
    // A dry run still shows the request, with a marker where each missing secret would go.
    warnings.push(error.message);
    secrets = Object.fromEntries(needed.map((name) => [name, secretLookup.get(name)?.value ?? `<missing secret ${name}>`]));
  }

  const runtime = sandboxedRuntime(tool, options.sandbox ?? (deps.config.docker.sandboxProcesses ? "docker" : undefined), options.sandbox !== undefined);
  if (typeof runtime !== "string") return endEarly("failed", runtime, "validation", { input });
  const runner = await deps.runners[runtime]!();
  const runContext = {
    tool, secrets, executionId: id, env: options.env, sandbox: deps.config.sandboxApis, home: registry.home, pullImages: deps.config.docker.pull,
    processConfinement: deps.config.process?.confinement ?? "auto",
    guards: runtime === "http" ? createGuards(registry, tool.name, options.actor, deps.config.rateLimits[tool.name] ?? tool.definition.http?.requestsPerMinute) : undefined,
    redact: (text: string) => redactor.text(text), addSecret: (value: string) => redactor.add(value), cwd: options.cwd,
    optionalSecret: (name: string) => {
      const found = secretLookup.get(name)?.value;
      redactor.add(found);
      return found;
    },
  };
  let cost = estimateCost(action.definition, input);
  if (needsQuote(cost)) {
    // The price comes from the tool itself (a read action); without secrets a dry run shows it unquoted.
    if (warnings.length > 0) warnings.push("the price could not be quoted without the missing secret: treated as CRITICAL");
    else {
      const quoted = await takeQuote(registry, runner, cost, runContext, input, { actor: options.actor, executionId: id, action: action.name }, options.signal);
      warnings.push(...(quoted.warnings ?? []));
      if (!quoted.ok) return endEarly("failed", quoted.error, quoted.category, { input });
      cost = quoted.cost;
    }
  }
  // A price that cannot be read from the input is never treated as free.
  if (!needsQuote(cost) && !(cost.usd >= 0)) {
    return endEarly("failed", new UsageError(`cannot estimate the cost of ${tool.name}.${action.name}: ${cost.basis}`), "validation", { input });
  }
  const risk = assessRisk(action.definition, cost);
  const approval = approvalNeeded(action.definition, risk, cost.usd, deps.config.approvals);
  const limits = deps.config.limits;
  const day = spendDay();
  const today = daySpend(registry, day);
  const budget = {
    day, committedUsd: today.committedUsd, reservedUsd: today.reservedUsd, dailyLimitUsd: limits.dailyUsd, perActionLimitUsd: limits.perActionUsd,
    afterUsd: roundUsd(today.committedUsd + today.reservedUsd + (Number.isNaN(cost.usd) ? 0 : cost.usd)),
  };
  const decided = { ...base, warnings: [...base.warnings, ...warnings], cost, risk, approval, budget };

  let prepared;
  try {
    prepared = runner.prepare({ ...runContext, action, input });
  } catch (error) {
    if (error instanceof PolicyError) return endEarly("declined", error, "authorization", { input, cost, risk });
    if (error instanceof EnvironmentError) return endEarly("failed", error, "environment", { input, cost, risk });
    if (error instanceof SecretMissingError) return endEarly("failed", error, "authentication", { input, cost, risk });
    if (error instanceof TemplateError) return endEarly("failed", new UsageError(`cannot build the ${tool.runtime} call: ${error.message}`), "validation", { input, cost, risk });
    throw error;
  }
  decided.warnings.push(...(prepared.warnings ?? []));
  const plan = redactor.value(prepared.description);
  const shown: Omit<ExecuteResult, "status" | "exitCode"> = { ...decided, input: redactor.value(input), plan };

  // Limits are checked before anyone is asked: an action over a limit never runs, even with --yes.
  const overLimit = overPerActionLimit(cost.usd, limits) ?? overDailyLimit(cost.usd, budget.afterUsd, limits);

  if (options.dryRun) {
    if (overLimit) decided.warnings.push(`a real run would be refused: ${overLimit}`);
    if (deps.config.audit.dryRuns) {
      record.ended("dry_run", shown.input, { plan, costUsd: cost.usd, risk }, "execution.dry_run", { input: shown.input, plan, cost, risk, approval, budget });
    }
    return { ...shown, status: "dry_run", exitCode: ExitCode.ok };
  }
  if (overLimit) return endEarly("declined", new PolicyError("policy_refused", `${tool.name}.${action.name} refused: ${overLimit}`), null, { ...shown, input });
  // The environment is checked before anyone is asked: no approval for a run whose engine or image is missing.
  if (prepared.preflight) {
    try {
      await prepared.preflight({ signal: options.signal ?? new AbortController().signal, status: options.progress?.status });
    } catch (error) {
      if (!(error instanceof ToolctlError)) throw error;
      const declined = error.exitCode === ExitCode.policy;
      return endEarly(declined ? "declined" : "failed", error, declined ? "resource_limit" : "environment", { ...shown, input });
    } finally {
      options.progress?.stop();
    }
  }

  // Everything its approver is shown, here or from another terminal; the approval is bound to its digest.
  const request: ApprovalRequest = {
    tool: tool.name, action: action.name, description: action.description, details: shown.input, target: destinationOf(plan),
    cost, risk, undo, needsOtp: approval.twoFactor,
  };
  const digest = approvalDigest(request);
  const planned = options.planApproval;
  if (planned) {
    const changed = planChange(planned, cost.usd, risk);
    if (changed) return endEarly("declined", new PolicyError("policy_refused", `${tool.name}.${action.name} refused: ${changed}; make a new plan`), null, { ...shown, input });
  }
  // Within an approved plan only a CRITICAL step asks again, for its TOTP code (`yes` skips the yes/no question).
  const verdict = planned && !approval.twoFactor
    ? { approved: true as const, via: planned.via }
    : approval.required
    ? await obtainApproval(registry, request, digest, {
      yes: options.yes === true || planned !== undefined, otp: options.otp, wait: options.wait === true, timeoutSeconds: deps.config.approvals.timeoutSeconds,
      actor: options.actor, signal: options.signal, executionId: id,
    }, deps.human, deps.twoFactor)
    : { approved: true as const, via: "not required" };
  if (!verdict.approved) return endEarly(verdict.status, verdict.error, null, { ...shown, input });
  shown.approval = { ...approval, via: verdict.via };
  // Ctrl-C before the side effect stops the run: nothing has happened yet, so nothing will.
  if (options.signal?.aborted) {
    return endEarly("declined", new ToolctlError("interrupted", ExitCode.interrupted, `${tool.name}.${action.name}: interrupted before it ran; nothing ran`), null, { ...shown, input });
  }

  // The intent is durable before the side effect, together with the spend reservation and the use of the
  // approval: if this transaction fails, the error propagates and nothing runs.
  try {
    record.started(shown.input, { plan, costUsd: cost.usd, risk }, { input: shown.input, plan, cost, risk, approval: verdict.via, approvalId: "approvalId" in verdict ? verdict.approvalId : undefined }, () => {
      if ("approvalId" in verdict && verdict.approvalId) {
        const problem = consumeApproval(registry, verdict.approvalId, digest, id);
        if (problem) throw new PolicyError("policy_refused", problem);
      }
      if (cost.usd > 0) {
        // The day is taken again under the lock: a run approved after midnight counts against the new day.
        const reserved = reserveSpend(registry, { executionId: id, tool: tool.name, action: action.name, amountUsd: cost.usd, day: spendDay(), dailyLimitUsd: limits.dailyUsd });
        if (!reserved.ok) {
          const after = roundUsd(reserved.spend.committedUsd + reserved.spend.reservedUsd + cost.usd);
          throw new PolicyError("policy_refused", `${tool.name}.${action.name} refused: ${overDailyLimit(cost.usd, after, limits)}`);
        }
      }
    });
  } catch (error) {
    if (error instanceof PolicyError) return endEarly("declined", error, "authorization", { ...shown, input });
    throw error;
  }
  const result = await runAndRecord(prepared, { options, action, record, redactor, shown });
  // An action that acted but failed is undone now when its tool says how (loaded only then).
  if (result.error?.code === "output_invalid" && typeof action.definition.rollback === "object") {
    return (await import("./rollback.js")).autoRollback(result, options, deps);
  }
  return result;
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
