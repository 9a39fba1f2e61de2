/**
 * `evaluate()`: what running an action would do, as a value. It resolves the target, builds and validates the
 * input, resolves the secrets, quotes the price when the tool quotes it, prepares the runner's exact request,
 * command or container, and decides cost, risk, the approval needed, the budget effect and the limits verdict.
 *
 * It writes nothing: a dry run, a plan preview, an approval prompt and an agent's preview render the `Decision`,
 * and `execute()` records it and runs exactly it. Its only outside effects are reads (a price quote is a read
 * action of the tool, whose audit events come back with the decision for the caller to record).
 */
import type { Actor } from "../config/home.js";
import type { Config } from "../config/schema.js";
import type { RiskLevel } from "../domain/manifest.js";
import type { ActionRecord, AuditEventInput, ErrorCategory, ToolRecord } from "../domain/records.js";
import { describeRollback } from "../domain/rollback.js";
import { EnvironmentError, ExitCode, NotFoundError, PolicyError, SecretMissingError, ToolctlError, UsageError } from "../errors.js";
import { actionSecrets } from "../manifest/secrets.js";
import { approvalDigest, approvalNeeded, overDailyLimit, overPerActionLimit, type ApprovalNeed, type ApprovalRequest } from "../policy/approval.js";
import { estimateCost, needsQuote, type CostEstimate } from "../policy/cost.js";
import { grantProblem } from "../policy/grants.js";
import { roundUsd, spendDay } from "../policy/spend.js";
import { assessRisk, maxRisk } from "../policy/risk.js";
import type { Prepared, Runner, RunContext } from "../runners/types.js";
import { formatIssue, loadValidator } from "../schema/validator.js";
import { Redactor } from "../secrets/redact.js";
import { createSecretLookup, resolveSecrets } from "../secrets/resolve.js";
import type { Store } from "../store/port.js";
import { TemplateError } from "../domain/template.js";
import { didYouMean } from "../util/suggest.js";
import { callLimitsFor } from "./call-limits.js";
import { destinationOf } from "./destination.js";
import { buildInput, type InputSources } from "./input.js";
import { takeQuote } from "./quote.js";
import { parseTarget } from "./target.js";
import { compileOnFirstRun, needsCompiling, reachableDefinitions } from "./validators.js";

export interface EvaluateOptions {
  target: string;
  input: InputSources;
  /** A dry run or a preview: a pending tool is shown (with a warning) and a missing secret is a marker, not a refusal. */
  dryRun: boolean;
  /**
   * A plan step whose input waits on earlier steps: when the input fails its schema, the decision is still made
   * from what is known (cost estimated, CRITICAL when it cannot be), marked `inputDeferred`.
   */
  inputMayWait?: boolean;
  /** `--sandbox`: run a process tool that names an image in Docker, or directly; the config decides otherwise. */
  sandbox?: "docker" | "none";
  /** Secret values already in the input (a plan step's `{{ secrets.X }}`): never shown or recorded. */
  extraSecrets?: string[];
  executionId: string;
  actor: Actor;
  cwd: string;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

export interface EngineDeps {
  store: Store;
  /** The toolctl home: where the master key and per-home resources are; never visible to a tool. */
  home: string;
  runners: Record<string, () => Promise<Runner>>;
  config: Config;
}

export interface Budget {
  day: string;
  committedUsd: number;
  reservedUsd: number;
  dailyLimitUsd: number;
  perActionLimitUsd: number;
  afterUsd: number;
}

/** What running the action would do, decided before anything runs. Everything shown here is redacted. */
export interface Decision {
  executionId: string;
  tool: ToolRecord;
  action: ActionRecord;
  /** The validated input (with secret values; never shown). */
  input: Record<string, unknown>;
  /** The input as shown and recorded: redacted. */
  shownInput: unknown;
  /** The exact request, command or container, redacted (`runtime`, then the runtime's own fields). */
  request: Record<string, unknown>;
  cost: CostEstimate;
  risk: RiskLevel;
  approval: ApprovalNeed;
  budget: Budget;
  /** Why a real run would be refused by a spending limit, checked before anyone is asked. */
  overLimit?: string;
  /** How the action is undone, said up front. */
  undo: string;
  /** What the approver sees, and the digest an approval is bound to. */
  approvalRequest: ApprovalRequest;
  approvalDigest: string;
  /** The input waits on earlier plan steps and could not be checked yet: no request was prepared. */
  inputDeferred?: boolean;
  warnings: string[];
  /** Audit events of what evaluating did (a price quote), to record with the attempt. */
  events: AuditEventInput[];
  /** The runner's prepared call: `execute()` runs exactly this. */
  prepared?: Prepared;
  redactor: Redactor;
}

/** Why the action cannot run, decided before anything ran: recorded as an attempt that ended early. */
export interface Refusal {
  status: "failed" | "declined";
  error: ToolctlError;
  category: ErrorCategory | null;
  tool?: ToolRecord;
  action?: ActionRecord;
  undo?: string;
  input?: unknown;
  cost?: CostEstimate;
  risk?: RiskLevel;
  events: AuditEventInput[];
  warnings: string[];
  redactor: Redactor;
}

export type Evaluation = { ok: true; decision: Decision } | { ok: false; refusal: Refusal };

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

export function describeUndo(action: ActionRecord, config: Config): string {
  const spec = action.definition.rollback;
  if (spec === undefined) return "none declared";
  if (spec === "irreversible") return "irreversible: this cannot be undone";
  return `${describeRollback(spec)}${config.rollback.auto ? " (automatic if the action acts but fails)" : ""}`;
}

/** The tool and action a target names, or a not-found refusal with a suggestion. */
export async function resolveTarget(
  store: Store,
  target: string,
): Promise<{ tool: ToolRecord; action: ActionRecord } | { missing: NotFoundError; tool: string; action: string }> {
  const { tool: toolName, action: actionName } = parseTarget(target);
  const tool = await store.tools.get(toolName);
  const action = tool ? await store.tools.action(toolName, actionName) : undefined;
  if (tool && action) return { tool, action };
  const message = !tool
    ? `unknown tool '${toolName}'${didYouMean(toolName, await store.tools.names())}; see: toolctl list`
    : `tool ${toolName} has no action '${actionName}'${didYouMean(actionName, await store.tools.actionNames(toolName))}; see: toolctl show ${toolName}`;
  return { missing: new NotFoundError(message), tool: toolName, action: actionName };
}

export async function evaluate(options: EvaluateOptions, deps: EngineDeps, found: { tool: ToolRecord; action: ActionRecord }): Promise<Evaluation> {
  const { store, config } = deps;
  const { tool, action } = found;
  const redactor = new Redactor();
  for (const value of options.extraSecrets ?? []) redactor.add(value);
  const undo = describeUndo(action, config);
  const warnings: string[] = [];
  const events: AuditEventInput[] = [];
  let input: Record<string, unknown> | undefined;
  const refuse = (
    status: Refusal["status"],
    error: ToolctlError,
    category: ErrorCategory | null,
    extra: Partial<Refusal> = {},
  ): Promise<Evaluation> | Evaluation => {
    // A plan step whose input waits on earlier steps fails checks only for what is not known yet: decided from
    // what is known, and checked again for real once the steps it waits on ran.
    if (options.inputMayWait && category === "validation" && input !== undefined) return deferred(input);
    return { ok: false, refusal: { status, error, category, tool, action, undo, events, warnings, redactor, ...extra } };
  };

  const limits = config.limits;
  const budgetFor = async (usd: number): Promise<Budget> => {
    const day = spendDay();
    const today = await store.ledger.day(day);
    return {
      day,
      committedUsd: today.committedUsd,
      reservedUsd: today.reservedUsd,
      dailyLimitUsd: limits.dailyUsd,
      perActionLimitUsd: limits.perActionUsd,
      afterUsd: roundUsd(today.committedUsd + today.reservedUsd + (Number.isNaN(usd) ? 0 : usd)),
    };
  };
  const decide = async (cost: CostEstimate, risk: RiskLevel, request: Record<string, unknown>, extra: Partial<Decision>): Promise<Evaluation> => {
    const approval = approvalNeeded(action.definition, risk, cost.usd, config.approvals);
    const budget = await budgetFor(cost.usd);
    const overLimit = Number.isNaN(cost.usd) ? undefined : (overPerActionLimit(cost.usd, limits) ?? overDailyLimit(cost.usd, budget.afterUsd, limits));
    const shownInput = redactor.value(input!);
    const approvalRequest: ApprovalRequest = {
      tool: tool.name,
      action: action.name,
      description: action.description,
      details: shownInput,
      target: destinationOf(request),
      cost,
      risk,
      undo,
      needsOtp: approval.twoFactor,
    };
    return {
      ok: true,
      decision: {
        executionId: options.executionId,
        tool,
        action,
        input: input!,
        shownInput,
        request,
        cost,
        risk,
        approval,
        budget,
        overLimit,
        undo,
        approvalRequest,
        approvalDigest: approvalDigest(approvalRequest),
        warnings,
        events,
        redactor,
        ...extra,
      },
    };
  };

  // A pending tool can be dry-run: seeing what it would send or start is how it is reviewed before approval.
  const pending = grantProblem(tool);
  if (pending && !options.dryRun) return refuse("declined", new PolicyError("tool_pending", pending), "authorization");
  if (pending) warnings.push(`a real run would be refused: ${pending}`);
  if (tool.status !== "active" && !pending) {
    const how = tool.status === "revoked" ? `toolctl tool approve ${tool.name}` : `toolctl tool enable ${tool.name}`;
    return refuse("declined", new PolicyError("tool_disabled", `tool ${tool.name} is ${tool.status}; run: ${how}`), "authorization");
  }

  if (needsCompiling(action)) {
    try {
      await compileOnFirstRun(store, tool, action);
    } catch (error) {
      if (error instanceof UsageError) return refuse("failed", error, "validation");
      throw error;
    }
  }

  try {
    // `--param` values are typed through the shared definitions the schema refers to, read only when needed.
    const definitions = options.input.params.length > 0 ? await reachableDefinitions(store, tool.name, action.definition.inputSchema) : {};
    input = buildInput(options.input, action.definition.inputSchema, (name) => definitions[name]);
  } catch (error) {
    if (error instanceof UsageError) return refuse("failed", error, "validation");
    throw error;
  }
  // A password typed as input is a secret too, wherever a template copies it.
  redactor.addUnderSecretKeys(input);
  const issues = action.inputValidator ? loadValidator(action.inputValidator)(input) : [];
  if (issues.length > 0) {
    const problems = issues.map((issue) => formatIssue(issue, "input"));
    const summary = problems.length === 1 ? problems[0]! : `${problems.length} problems`;
    const error = new ToolctlError("input_invalid", ExitCode.usage, `invalid input for ${tool.name}.${action.name}: ${summary}`, { problems });
    return refuse("failed", error, "validation", { input });
  }
  async function deferred(known: Record<string, unknown>): Promise<Evaluation> {
    const cost = estimateCost(action.definition, known);
    const isKnown = !needsQuote(cost) && Number.isFinite(cost.usd);
    const risk = isKnown ? assessRisk(action.definition, cost) : maxRisk("CRITICAL");
    const shownCost = isKnown ? cost : { usd: Number.NaN, basis: "known after apply" };
    return decide(shownCost as CostEstimate, risk, { runtime: tool.runtime, summary: "known after apply" }, { inputDeferred: true });
  }

  const sealed = tool.secrets.length > 0 || tool.runtime === "vercel" || tool.runtime === "http" ? await store.secrets.allSealed() : new Map<string, string>();
  // An empty store is left out: it can supply nothing, and reading how its key would be found costs file lookups.
  const secretLookup = createSecretLookup(options.cwd, options.env, sealed.size > 0 ? { home: deps.home, sealed } : undefined);
  // Only the secrets this action (and the read that quotes its price) uses: one that sends no credentials needs none.
  const quote =
    action.definition.cost && "quote" in action.definition.cost ? await store.tools.action(tool.name, action.definition.cost.quote.action, false) : undefined;
  const needed = actionSecrets(tool.definition, [action.definition, ...(quote ? [quote.definition] : [])]);
  let secrets: Record<string, string>;
  let secretsMissing = false;
  try {
    secrets = resolveSecrets(needed, secretLookup, redactor, tool.name);
  } catch (error) {
    // A store that cannot be read (key missing or wrong) ends the attempt on record, like a missing secret.
    if (error instanceof EnvironmentError) return refuse("failed", error, "authentication", { input });
    if (!(error instanceof SecretMissingError)) throw error;
    if (!options.dryRun) return refuse("failed", error, "authentication", { input });
    // A dry run still shows the request, with a marker where each missing secret would go.
    warnings.push(error.message);
    secretsMissing = true;
    secrets = Object.fromEntries(needed.map((name) => [name, secretLookup.get(name)?.value ?? `<missing secret ${name}>`]));
  }

  const runtime = sandboxedRuntime(tool, options.sandbox ?? (config.docker.sandboxProcesses ? "docker" : undefined), options.sandbox !== undefined);
  if (typeof runtime !== "string") return refuse("failed", runtime, "validation", { input });
  const runner = await deps.runners[runtime]!();
  const runContext: Omit<RunContext, "action" | "input"> = {
    tool,
    secrets,
    executionId: options.executionId,
    env: options.env,
    sandbox: config.sandboxApis,
    home: deps.home,
    pullImages: config.docker.pull,
    processConfinement: config.process?.confinement ?? "auto",
    callLimits:
      runtime === "http" ? callLimitsFor(store, tool.name, options.actor, config.rateLimits[tool.name] ?? tool.definition.http?.requestsPerMinute) : undefined,
    redact: (text: string) => redactor.text(text),
    addSecret: (value: string) => redactor.add(value),
    cwd: options.cwd,
    optionalSecret: (name: string) => {
      const value = secretLookup.get(name)?.value;
      redactor.add(value);
      return value;
    },
  };
  let cost = estimateCost(action.definition, input);
  if (needsQuote(cost)) {
    // The price comes from the tool itself (a read action); without secrets a dry run shows it unquoted.
    if (secretsMissing) warnings.push("the price could not be quoted without the missing secret: treated as CRITICAL");
    else {
      const quoted = await takeQuote(
        store,
        runner,
        cost,
        runContext,
        input,
        (status, data) =>
          events.push({ type: "execution.quote", actor: options.actor, tool: tool.name, action: action.name, executionId: options.executionId, status, data }),
        options.signal,
      );
      warnings.push(...(quoted.warnings ?? []));
      if (!quoted.ok) return refuse("failed", quoted.error, quoted.category, { input });
      cost = quoted.cost;
    }
  }
  // A price that cannot be read from the input is never treated as free.
  if (!needsQuote(cost) && !(cost.usd >= 0)) {
    return refuse("failed", new UsageError(`cannot estimate the cost of ${tool.name}.${action.name}: ${cost.basis}`), "validation", { input });
  }
  const risk = assessRisk(action.definition, cost);

  let prepared: Prepared;
  try {
    prepared = runner.prepare({ ...runContext, action, input });
  } catch (error) {
    const extra = { input, cost, risk };
    if (error instanceof PolicyError) return refuse("declined", error, "authorization", extra);
    if (error instanceof EnvironmentError) return refuse("failed", error, "environment", extra);
    if (error instanceof SecretMissingError) return refuse("failed", error, "authentication", extra);
    if (error instanceof TemplateError) return refuse("failed", new UsageError(`cannot build the ${tool.runtime} call: ${error.message}`), "validation", extra);
    throw error;
  }
  warnings.push(...(prepared.warnings ?? []));
  return decide(cost, risk, redactor.value(prepared.description) as Record<string, unknown>, { prepared });
}
