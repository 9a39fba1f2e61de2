/**
 * A price quoted by the tool itself: a `read` action of the same tool (a domain's availability check) runs
 * first, without approval or reservation, and the price is read from its output. The quote is audited as part
 * of the execution it prices; a failed quote ends the run before anything is bought.
 */
import { ExitCode, ToolctlError, UsageError } from "../errors.js";
import { costFromQuote, type CostEstimate, type PendingQuote } from "../policy/cost.js";
import type { ErrorCategory, ToolRecord } from "../domain/records.js";
import type { Store } from "../store/port.js";
import type { Runner, RunContext, RunResult } from "../runners/types.js";
import { formatIssue, loadValidator } from "../schema/validator.js";
import { renderValue, TemplateError } from "../domain/template.js";
import { runAfter } from "./outcome.js";

/** `warnings`: bookkeeping after the quote call (its circuit breaker count) that could not be written. */
export type QuoteResult = ({ ok: true; cost: CostEstimate } | { ok: false; error: ToolctlError; category: ErrorCategory }) & { warnings?: string[] };

export async function takeQuote(
  store: Store,
  runner: Runner,
  pending: PendingQuote,
  context: Omit<RunContext, "action" | "input">,
  input: Record<string, unknown>,
  audit: (status: string, data: Record<string, unknown>) => void,
  signal: AbortSignal | undefined,
): Promise<QuoteResult> {
  const tool: ToolRecord = context.tool;
  const quoteAction = (await store.tools.action(tool.name, pending.quote.action))!;
  const name = `${tool.name}.${quoteAction.name}`;
  const record = (status: string, data: Record<string, unknown>) => audit(status, { quoteAction: quoteAction.name, ...data });
  let quoteInput: Record<string, unknown>;
  try {
    quoteInput = renderValue(pending.quote.input, { input }) as Record<string, unknown>;
  } catch (error) {
    if (!(error instanceof TemplateError)) throw error;
    record("failed", { error: error.message });
    return { ok: false, category: "validation", error: new UsageError(`the price quote (${name}): ${error.message}`) };
  }
  const issues = quoteAction.inputValidator ? loadValidator(quoteAction.inputValidator)(quoteInput) : [];
  if (issues.length > 0) {
    const message = `the price quote (${name}) got invalid input: ${issues.map((i) => formatIssue(i, "input")).join("; ")}`;
    record("failed", { error: message });
    return { ok: false, category: "validation", error: new UsageError(message) };
  }
  let result: RunResult;
  try {
    result = await runner.prepare({ ...context, action: quoteAction, input: quoteInput }).run({ signal: signal ?? new AbortController().signal });
  } catch (error) {
    // A blocked URL or a template that cannot be rendered: the quote is refused, on record, before anything is bought.
    if (!(error instanceof ToolctlError) && !(error instanceof TemplateError)) throw error;
    const message = context.redact(`the price quote (${name}) could not be taken: ${(error as Error).message}`);
    record("failed", { error: message });
    const refused = error instanceof ToolctlError ? new ToolctlError(error.code, error.exitCode, message) : new UsageError(message);
    const warnings = await runAfter((error as { after?: () => void }).after);
    return {
      ok: false,
      category: error instanceof ToolctlError && error.exitCode === ExitCode.policy ? "authorization" : "validation",
      error: refused,
      warnings,
    };
  }
  // The quote's outcome is on record (its audit event) before the call is counted.
  const quoted = readQuote(result, name, pending, context, record);
  return { ...quoted, warnings: (await runAfter(result.after)).map((w) => context.redact(w)) };
}

function readQuote(
  result: RunResult,
  name: string,
  pending: PendingQuote,
  context: Omit<RunContext, "action" | "input">,
  record: (status: string, data: Record<string, unknown>) => void,
): QuoteResult {
  if (result.outcome !== "succeeded") {
    const message = context.redact(`the price quote (${name}) failed: ${result.error ?? "no answer"}; nothing was bought`);
    record("failed", { error: message });
    return { ok: false, category: result.errorCategory ?? "other", error: new ToolctlError("action_failed", ExitCode.actionFailed, message) };
  }
  try {
    const cost = costFromQuote({ quote: pending.quote }, result.output);
    record("succeeded", { costUsd: cost.usd, basis: cost.basis });
    return { ok: true, cost };
  } catch (error) {
    if (!(error instanceof ToolctlError)) throw error;
    record("failed", { error: error.message });
    return { ok: false, category: "validation", error };
  }
}
