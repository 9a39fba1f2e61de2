/**
 * `execute()`: resolve → validate → decide → record intent → run → validate output → record outcome.
 * The decision (request or command, cost, risk) is computed first as plain data: a dry run renders it, a
 * real run executes exactly it. The intent is committed to the audit log before any side effect; if that
 * write fails, nothing runs. Expected outcomes come back as values with their exit code.
 */
import type { Actor } from "../config/home.js";
import type { RiskLevel } from "../domain/manifest.js";
import { ExitCode, NotFoundError, PolicyError, SecretMissingError, ToolctlError, UsageError, type ExitCodeValue } from "../errors.js";
import { approvalNeeded, assessRisk, estimateCost, type ApprovalNeed, type CostEstimate } from "../policy/risk.js";
import { appendAudit, exportHead } from "../registry/audit.js";
import { nowIso, writeTransaction, type Registry } from "../registry/db.js";
import {
  insertExecution, newExecutionId, updateExecution, type ErrorCategory, type ExecutionStatus,
} from "../registry/executions.js";
import { actionNames, getAction, getTool, toolNames, type ActionRecord, type ToolRecord } from "../registry/tools.js";
import type { Runner, RunResult } from "../runners/types.js";
import { loadValidator, formatIssue } from "../schema/validator.js";
import { Redactor } from "../secrets/redact.js";
import { createSecretLookup, resolveSecrets } from "../secrets/resolve.js";
import { TemplateError } from "../template/render.js";
import { didYouMean } from "../util/suggest.js";
import { buildInput, type InputSources } from "./input.js";

export interface ExecuteOptions {
  target: string;
  input: InputSources;
  dryRun: boolean;
  /** `--yes`: approves a MEDIUM or HIGH action without a prompt. */
  yes?: boolean;
  actor: Actor;
  cwd: string;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Told when the side effect starts and ends, for a spinner; the engine itself prints nothing. */
  progress?: { start(label: string): void; stop(): void };
}

export interface ExecuteDeps {
  registry: Registry;
  runners: Record<string, () => Promise<Runner>>;
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
  approval?: ApprovalNeed;
  /** Present on every outcome but success and dry run; `exitCode` repeats the top-level one for scripts. */
  error?: { code: string; exitCode: ExitCodeValue; message: string; category?: ErrorCategory; problems?: string[] };
  warnings: string[];
  durationMs?: number;
}

export function parseTarget(target: string): { tool: string; action: string } {
  const dot = target.indexOf(".");
  if (dot <= 0 || dot === target.length - 1) throw new UsageError(`'${target}' is not tool.action (for example: echo.say)`);
  return { tool: target.slice(0, dot), action: target.slice(dot + 1) };
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
  const head = writeTransaction(registry, () =>
    appendAudit(registry, { type: "execution.rejected", actor, tool: toolName, action: actionName, status: "rejected", data: { reason: message } }),
  );
  exportHead(registry, head);
  throw new NotFoundError(message);
}

const EXIT_FOR_STATUS: Partial<Record<ExecutionStatus, ExitCodeValue>> = {
  succeeded: ExitCode.ok, dry_run: ExitCode.ok, failed: ExitCode.actionFailed, unknown: ExitCode.unknownOutcome, declined: ExitCode.policy,
};

export async function execute(options: ExecuteOptions, deps: ExecuteDeps): Promise<ExecuteResult> {
  const { registry } = deps;
  const { tool, action } = resolveTarget(registry, options.target, options.actor);
  const redactor = new Redactor();
  const id = newExecutionId();
  const createdAt = nowIso();
  const base = { executionId: id, tool: tool.name, action: action.name, warnings: [] as string[] };
  const audit = { actor: options.actor, tool: tool.name, action: action.name, executionId: id };

  /** Records an attempt that ends before anything ran: one transaction for the execution and its audit event. */
  const endEarly = (status: ExecutionStatus, error: ToolctlError, category: ErrorCategory | null, extra: Partial<ExecuteResult> = {}): ExecuteResult => {
    const message = redactor.text(error.message);
    const problems = error.details.problems?.map((p) => redactor.text(p));
    const input = redactor.value(extra.input ?? null);
    const head = writeTransaction(registry, () => {
      insertExecution(registry, { id, tool: tool.name, action: action.name, actor: options.actor, status, input, createdAt, toolDigest: tool.digest });
      updateExecution(registry, id, { error: message, errorCategory: category, finishedAt: nowIso(), plan: redactor.value(extra.plan) });
      return appendAudit(registry, {
        ...audit, type: status === "declined" ? "execution.refused" : "execution.invalid", status,
        data: { input, error: message, problems, category },
      });
    });
    exportHead(registry, head);
    return { ...base, ...extra, input, status, exitCode: error.exitCode, error: { code: error.code, exitCode: error.exitCode, message, category: category ?? undefined, problems } };
  };

  if (tool.status !== "active") {
    const why = tool.status === "pending"
      ? `tool ${tool.name} is pending approval; run: toolctl tool approve ${tool.name}`
      : `tool ${tool.name} is ${tool.status}; run: toolctl tool enable ${tool.name}`;
    return endEarly("declined", new PolicyError(tool.status === "pending" ? "tool_pending" : "tool_disabled", why), "authorization");
  }

  let input: Record<string, unknown>;
  try {
    input = buildInput(options.input, action.definition.inputSchema);
  } catch (error) {
    if (error instanceof UsageError) return endEarly("failed", error, "validation");
    throw error;
  }
  const issues = action.inputValidator ? loadValidator(action.inputValidator)(input) : [];
  if (issues.length > 0) {
    const problems = issues.map((issue) => formatIssue(issue, "input"));
    const summary = problems.length === 1 ? problems[0]! : `${problems.length} problems`;
    const error = new ToolctlError("input_invalid", ExitCode.usage, `invalid input for ${tool.name}.${action.name}: ${summary}`, { problems });
    return endEarly("failed", error, "validation", { input });
  }

  const cost = estimateCost(action.definition, input);
  const risk = assessRisk(action.definition, cost);
  const approval = approvalNeeded(action.definition, risk);
  const decided = { ...base, input, cost, risk, approval };

  const secretLookup = createSecretLookup(options.cwd, options.env);
  let secrets: Record<string, string>;
  try {
    secrets = resolveSecrets(tool.secrets, secretLookup, redactor, tool.name);
  } catch (error) {
    if (!(error instanceof SecretMissingError)) throw error;
    if (!options.dryRun) return endEarly("failed", error, "authentication", { input, cost, risk });
    // A dry run still shows the request, with a marker where each missing secret would go.
    decided.warnings.push(error.message);
    secrets = Object.fromEntries(tool.secrets.map((name) => [name, secretLookup.get(name)?.value ?? `<missing secret ${name}>`]));
  }

  const runner = await deps.runners[tool.runtime]!();
  let prepared;
  try {
    prepared = runner.prepare({ tool, action, input, secrets, executionId: id, env: options.env });
  } catch (error) {
    if (error instanceof PolicyError) return endEarly("declined", error, "authorization", { input, cost, risk });
    if (error instanceof TemplateError) return endEarly("failed", new UsageError(`cannot build the ${tool.runtime} call: ${error.message}`), "validation", { input, cost, risk });
    throw error;
  }
  const plan = redactor.value(prepared.description);
  const shownInput = redactor.value(input);

  if (options.dryRun) {
    const head = writeTransaction(registry, () => {
      insertExecution(registry, { id, tool: tool.name, action: action.name, actor: options.actor, status: "dry_run", input: shownInput, createdAt, toolDigest: tool.digest });
      updateExecution(registry, id, { plan, costUsd: cost.usd, risk, finishedAt: nowIso() });
      return appendAudit(registry, { ...audit, type: "execution.dry_run", status: "dry_run", data: { input: shownInput, plan, cost, risk } });
    });
    exportHead(registry, head);
    return { ...decided, input: shownInput, plan, status: "dry_run", exitCode: ExitCode.ok };
  }

  const refusal = approval.twoFactor
    ? `${tool.name}.${action.name} is CRITICAL (estimated $${cost.usd}) and needs a TOTP code, which this version of toolctl cannot verify yet: nothing ran`
    : approval.required && !options.yes
      ? `${tool.name}.${action.name} needs approval (risk ${risk}, estimated $${cost.usd.toFixed(2)}${action.definition.approval === "always" ? ", approval: always" : ""}): re-run with --yes to approve it`
      : undefined;
  if (refusal) {
    const head = writeTransaction(registry, () => {
      insertExecution(registry, { id, tool: tool.name, action: action.name, actor: options.actor, status: "requested", input: shownInput, createdAt, toolDigest: tool.digest });
      updateExecution(registry, id, { plan, costUsd: cost.usd, risk, error: refusal, finishedAt: nowIso() });
      return appendAudit(registry, { ...audit, type: "execution.needs_approval", status: "requested", data: { input: shownInput, plan, cost, risk, reason: refusal } });
    });
    exportHead(registry, head);
    return { ...decided, input: shownInput, plan, status: "requested", exitCode: ExitCode.needsHuman, error: { code: "needs_human", exitCode: ExitCode.needsHuman, message: refusal } };
  }
  const approvedVia = approval.required ? "--yes" : "not required";

  // The intent is durable before the side effect: if this write fails, the error propagates and nothing runs.
  const startedAt = nowIso();
  const intentHead = writeTransaction(registry, () => {
    insertExecution(registry, { id, tool: tool.name, action: action.name, actor: options.actor, status: "running", input: shownInput, createdAt, toolDigest: tool.digest });
    updateExecution(registry, id, { plan, costUsd: cost.usd, risk, startedAt });
    return appendAudit(registry, { ...audit, type: "execution.started", status: "running", data: { input: shownInput, plan, cost, risk, approval: approvedVia } });
  });
  exportHead(registry, intentHead);

  const started = Date.now();
  let result: RunResult;
  let blockedByPolicy = false;
  options.progress?.start(`${tool.name}.${action.name}`);
  try {
    result = await prepared.run({ signal: options.signal ?? new AbortController().signal, onStarted: () => {} });
  } catch (error) {
    if (error instanceof PolicyError) {
      // A redirect to a blocked address: refused before that hop was contacted.
      blockedByPolicy = true;
      result = { outcome: "failed", error: error.message, errorCategory: "authorization", details: {} };
    } else {
      result = { outcome: "unknown", error: `internal error while running: ${(error as Error).message}`, errorCategory: "unknown", details: {} };
    }
  }

  options.progress?.stop();
  let outputInvalid = false;
  if (result.outcome === "succeeded" && action.outputValidator) {
    const outputIssues = loadValidator(action.outputValidator)(result.output);
    if (outputIssues.length > 0) {
      const problems = outputIssues.map((issue) => formatIssue(issue, "output"));
      outputInvalid = true;
      result = {
        ...result, outcome: "failed", errorCategory: "validation",
        error: `output does not match the action's outputSchema: ${problems.length === 1 ? problems[0] : problems.join("; ")}`,
      };
    }
  }

  const interrupted = options.signal?.aborted === true;
  const status: ExecutionStatus = result.outcome;
  const durationMs = Date.now() - started;
  const output = redactor.value(result.output ?? null);
  const details = redactor.value(result.details);
  const errorMessage = result.error === undefined ? undefined : redactor.text(result.error);
  try {
    const head = writeTransaction(registry, () => {
      updateExecution(registry, id, {
        status, output, error: errorMessage ?? null, errorCategory: result.errorCategory ?? null, finishedAt: nowIso(), durationMs,
        plan: { ...plan, result: details },
      });
      return appendAudit(registry, {
        ...audit, type: `execution.${status}`, status,
        data: { output, error: errorMessage, category: result.errorCategory, details, durationMs, interrupted: interrupted || undefined },
      });
    });
    exportHead(registry, head);
  } catch (error) {
    // The side effect happened (or may have) but could not be recorded: never report it as a clean result.
    return {
      ...decided, input: shownInput, plan, output, status: "unknown", exitCode: ExitCode.unknownOutcome, durationMs,
      error: { code: "unknown_outcome", exitCode: ExitCode.unknownOutcome, message: `the action ran but its outcome could not be recorded: ${(error as Error).message}` },
    };
  }
  const exitCode = interrupted ? ExitCode.interrupted : blockedByPolicy ? ExitCode.policy : (EXIT_FOR_STATUS[status] ?? ExitCode.actionFailed);
  return {
    ...decided, input: shownInput, plan, output, status, exitCode, durationMs,
    error: errorMessage === undefined ? undefined : {
      code: status === "unknown" ? "unknown_outcome" : outputInvalid ? "output_invalid" : blockedByPolicy ? "url_blocked" : "action_failed",
      exitCode, message: errorMessage, category: result.errorCategory,
    },
  };
}
