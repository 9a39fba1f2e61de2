/**
 * What a call returns to the agent. A run's output is the text content (JSON unless the action's output is
 * text) and, when the action declares an output schema, `structuredContent` too. Anything that stopped the run
 * (invalid input with every problem and its path, a policy refusal with its reason, a failure) is a tool error
 * the model can read and act on, never a protocol error. Outputs are already scrubbed of secrets by the engine.
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { REDACTED, type ExecuteResult } from "../api/index.js";

/** The largest text content a call returns; longer output is cut, with a note saying where the whole of it is. */
export const MAX_OUTPUT_BYTES = 100_000;

function textOf(value: unknown): string {
  return typeof value === "string" ? value : (JSON.stringify(value, null, 2) ?? "null");
}

/** Cuts `text` to `max` bytes of UTF-8 (never inside a character) and says so. */
export function cut(text: string, max: number, executionId: string): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= max) return text;
  let end = max;
  // Back off to the start of a character: continuation bytes are 10xxxxxx.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return `${bytes.subarray(0, end).toString("utf8")}\n… [output cut at ${end} of ${bytes.length} bytes; the whole output: toolctl executions show ${executionId}]`;
}

function meta(result: ExecuteResult): Record<string, unknown> {
  return {
    "toolctl/execution": {
      id: result.executionId,
      action: `${result.tool}.${result.action}`,
      status: result.status,
      costUsd: result.cost?.usd ?? null,
      risk: result.risk ?? null,
      approval: result.approval?.via ?? null,
      durationMs: result.durationMs ?? null,
      // The same object as run --json's error: code, exit code, category, message, problems.
      error: result.error ?? null,
    },
  };
}

export function errorResult(message: string, extra: Partial<CallToolResult> = {}): CallToolResult {
  return { isError: true, content: [{ type: "text", text: message }], ...extra };
}

/** The reason a run did not succeed, in words the model can act on. */
function failureText(result: ExecuteResult): string {
  const error = result.error!;
  const lines = [`${result.tool}.${result.action} ${result.status}: ${error.message}`];
  if (error.problems?.length) lines.push("problems:", ...error.problems.map((problem) => `- ${problem}`));
  if (result.status === "unknown") lines.push("The request may have reached the other side: check before calling again.");
  lines.push(`execution ${result.executionId}`);
  return lines.join("\n");
}

/** How a person decides a request: on the approval page when one is served for this home, else in a terminal. */
function whereToDecide(approvalId: string, page: string | undefined, twoFactor: boolean): string {
  const terminal = `toolctl approve ${approvalId}${twoFactor ? " --otp CODE" : ""} (toolctl deny ${approvalId} refuses it)`;
  return page
    ? `A person approves it on the approval page, ${page} (a browser signed in with the login link the page's server printed), or in their own terminal with: ${terminal}.`
    : `A person approves it in their own terminal with: ${terminal}. (toolctl ui serves an approval page where it can be decided in a browser.)`;
}

export function pendingText(result: ExecuteResult, approvalId: string, page?: string): string {
  return [
    `pending approval ${approvalId}: ${result.tool}.${result.action} waits for a human's decision and has not run.`,
    result.error?.message ?? "",
    whereToDecide(approvalId, page, result.approval?.twoFactor === true),
    `Once approved, call the resume tool with {"approval": "${approvalId}"} to run exactly this call.`,
  ]
    .filter(Boolean)
    .join("\n");
}

/** The server's note when a call files a request (its log, and a logging notification to the client). */
export function filedText(target: string, approvalId: string, expiresAt: string, page?: string): string {
  const terminal = `toolctl approve ${approvalId} (or toolctl deny ${approvalId})`;
  return page
    ? `${target} needs a human's approval: approval ${approvalId}, until ${expiresAt}. Decide it on the approval page, ${page}, or in a terminal with: ${terminal}`
    : `${target} needs a human's approval: approval ${approvalId}, until ${expiresAt}. Decide it in a terminal with: ${terminal}; toolctl ui serves an approval page for it`;
}

/** What the request is, for the URL elicitation that sends the user to its page: action, cost, risk, undo. */
export interface HandOff {
  id: string;
  target: string;
  description?: string;
  costUsd: number;
  costBasis?: string;
  risk: string;
  undo?: string;
  twoFactor: boolean;
}

/** The message of the URL elicitation: what is asked, and that the page (not the client) is where it is decided. */
export function handOffText(request: HandOff): string {
  const cost = `$${request.costUsd.toFixed(2)}${request.costBasis ? ` (${request.costBasis})` : ""}`;
  return [
    `${request.target} needs your approval (request ${request.id})${request.description ? `: ${request.description}` : ""}.`,
    `Cost: ${cost}. Risk: ${request.risk}.${request.undo ? ` Undo: ${request.undo}.` : ""}`,
    "Open the approval page to see it in full and approve (with your second factor) or deny it there; sign in first with the login link the page's server printed if this browser is not signed in.",
    `Or, in a terminal: toolctl approve ${request.id}${request.twoFactor ? " --otp CODE" : ""}`,
  ].join("\n");
}

export function runResult(
  result: ExecuteResult,
  options: { maxOutputBytes: number; structured: boolean; misfit?: (output: unknown) => string | undefined; page?: string },
): CallToolResult {
  const approvalId = result.approval?.requestId;
  if (result.error?.code === "approval_pending" && approvalId) {
    return errorResult(pendingText(result, approvalId, options.page), {
      _meta: { ...meta(result), "toolctl/approval": { id: approvalId, status: "pending", ...(options.page ? { page: options.page } : {}) } },
    });
  }
  if (result.error) return errorResult(failureText(result), { _meta: meta(result) });
  const output = result.output ?? null;
  const structured = options.structured && output !== null && typeof output === "object" && !Array.isArray(output);
  const notes = result.warnings.length ? `\n\nwarnings:\n${result.warnings.map((w) => `- ${w}`).join("\n")}` : "";
  // Redacted after the engine checked it, the output may no longer fit the listed schema, and a client refuses a
  // result whose structured content does not: said as a tool result the model can read, that the action ran.
  const misfit = structured ? options.misfit?.(output) : undefined;
  if (misfit !== undefined) {
    return errorResult(
      `${result.tool}.${result.action} ran and succeeded (execution ${result.executionId}); do not run it again. Its output cannot be given as structured content: ${JSON.stringify(output).includes(REDACTED) ? "with secrets redacted, " : "as MCP clients check it against the listed schema, "}${misfit}. It is:\n${cut(textOf(output), options.maxOutputBytes, result.executionId)}${notes}`,
      { _meta: meta(result) },
    );
  }
  return {
    content: [{ type: "text", text: cut(textOf(output), options.maxOutputBytes, result.executionId) + notes }],
    ...(structured ? { structuredContent: output as Record<string, unknown> } : {}),
    _meta: meta(result),
  };
}

/** The decision a dry run made, for the `preview` tool: what would be sent, cost, risk, approval, budget, undo. */
export function previewResult(result: ExecuteResult): CallToolResult {
  if (result.error) return errorResult(failureText(result), { _meta: meta(result) });
  const decision = {
    action: `${result.tool}.${result.action}`,
    input: result.input ?? null,
    request: result.request ?? null,
    cost: result.cost ?? null,
    risk: result.risk ?? null,
    approval: result.approval ?? null,
    budget: result.budget ?? null,
    undo: result.undo ?? null,
    warnings: result.warnings,
  };
  return { content: [{ type: "text", text: JSON.stringify(decision, null, 2) }], structuredContent: decision, _meta: meta(result) };
}
