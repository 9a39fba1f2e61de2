/**
 * The approval message, as the seeds show it ("⚠️ Action Approval Required"), and the prompt-backed `Human`
 * the engine asks. Everything goes to stderr: stdout stays for the result.
 */
import { revealHidden } from "../util/hidden.js";
import type { ApprovalRequest, Human } from "../engine/approve.js";
import { askCode, askYesNo, canPrompt } from "./prompt.js";

function detailLines(details: unknown): string[] {
  if (details === null || typeof details !== "object") return [`  ${JSON.stringify(details)}`];
  return Object.entries(details as Record<string, unknown>).map(([key, value]) => `  ${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
}

export function approvalMessage(request: ApprovalRequest): string {
  return [
    "⚠️  Action Approval Required",
    "",
    `Action: ${request.tool}.${request.action}`,
    `Description: ${request.description}`,
    `Target: ${request.target}`,
    `Cost: $${request.cost.usd.toFixed(2)} (${request.cost.basis})`,
    `Risk Level: ${request.risk}`,
    `Undo: ${request.undo}`,
    ...(request.needsOtp ? ["2FA: a TOTP code is required"] : []),
    "",
    "Details:",
    ...detailLines(request.details),
    "",
  ].join("\n");
}

export function createHuman(json: boolean): Human {
  return {
    canPrompt: canPrompt(),
    async confirm(request, timeoutMs, signal) {
      process.stderr.write(`${revealHidden(approvalMessage(request))}\n`);
      return askYesNo("Approve this action? [yes/no]", timeoutMs, signal);
    },
    code: (timeoutMs, signal) => askCode("TOTP code:", timeoutMs, undefined, signal),
    waiting(approvalId, expiresAt) {
      const line = `waiting for approval ${approvalId} (until ${expiresAt}): decide it from another terminal with\n  toolctl approve ${approvalId}    or    toolctl deny ${approvalId}\n`;
      if (!json) process.stderr.write(line);
      else process.stderr.write(`${JSON.stringify({ waitingForApproval: approvalId, expiresAt })}\n`);
    },
  };
}
