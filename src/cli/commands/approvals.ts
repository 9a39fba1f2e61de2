import { loadConfig } from "../../config/config.js";
import { describeCodeRefusal, OTP_DIGITS } from "../../policy/otp-code.js";
import { NeedsHumanError, NotFoundError, PolicyError } from "../../errors.js";
import { decideApproval, getApproval, listApprovals, type Approval } from "../../registry/approvals.js";
import { table } from "../../ui/output.js";
import { askCode, canPrompt } from "../../ui/prompt.js";
import type { CommandContext } from "../program.js";
import { checkOtpFlag, withRegistry } from "./shared.js";

export async function listApprovalsCommand(context: CommandContext, flags: { all?: boolean }): Promise<void> {
  const approvals = await withRegistry(context, (registry) => listApprovals(registry, flags.all === true));
  context.output.data({ approvals }, () => {
    if (approvals.length === 0) return flags.all ? "no approval requests yet" : "no pending approval requests";
    const rows = approvals.map((a) => [a.id, `${a.tool}.${a.action}`, `$${a.costUsd.toFixed(2)}`, a.risk, a.needsOtp ? "yes" : "no", a.status, a.requestedBy, a.expiresAt]);
    return table(["ID", "ACTION", "COST", "RISK", "2FA", "STATUS", "BY", "EXPIRES"], rows, (h) => context.output.color.bold(h));
  });
}

function describe(approval: Approval): string {
  return `${approval.id}: ${approval.tool}.${approval.action}, $${approval.costUsd.toFixed(2)}, risk ${approval.risk}, input ${JSON.stringify(approval.input)}`;
}

/** `toolctl approve ID [--otp CODE]`: a CRITICAL request also needs a valid TOTP code, checked here. */
export async function approveCommand(context: CommandContext, id: string, flags: { otp?: string }): Promise<void> {
  if (flags.otp !== undefined) checkOtpFlag(flags.otp);
  const result = await withRegistry(context, async (registry) => {
    const approval = getApproval(registry, id);
    if (!approval) throw new NotFoundError(`no approval request '${id}'; see: toolctl approvals`);
    let via = "another terminal";
    if (approval.needsOtp && approval.status === "pending") {
      let code = flags.otp;
      if (code === undefined) {
        if (!canPrompt()) throw new NeedsHumanError(`${id} is CRITICAL: add --otp CODE from your authenticator`);
        const { approvals } = (await loadConfig(context.home, context.env)).values;
        const entered = await askCode("TOTP code:", approvals.timeoutSeconds * 1000, OTP_DIGITS);
        if ("answer" in entered) throw new PolicyError("policy_refused", `${id} was not approved: no TOTP code given`);
        code = entered.code;
      }
      const [{ verifyCode }, { loadKeyRing }] = await Promise.all([import("../../registry/twofactor.js"), import("../../secrets/crypto.js")]);
      const ring = loadKeyRing(context.home, context.env, { create: false });
      const verdict = ring
        ? verifyCode(registry, ring, code, Date.now(), { actor: context.actor, purpose: "approve", approvalId: id, tool: approval.tool, action: approval.action })
        : ({ ok: false, reason: "not_enrolled", retryAfterSeconds: undefined } as const);
      if (!verdict.ok) {
        throw new PolicyError("policy_refused", `${id} was not approved: ${describeCodeRefusal(verdict.reason, verdict.retryAfterSeconds)}`);
      }
      via = "another terminal with TOTP";
    }
    const decided = decideApproval(registry, id, "approved", context.actor, via);
    if (!decided.ok) throw new PolicyError("policy_refused", decided.reason);
    return decided.approval;
  });
  context.output.data(result, () => `approved ${describe(result)}`);
}

export async function denyCommand(context: CommandContext, id: string): Promise<void> {
  const result = await withRegistry(context, (registry) => {
    if (!getApproval(registry, id)) throw new NotFoundError(`no approval request '${id}'; see: toolctl approvals`);
    const decided = decideApproval(registry, id, "denied", context.actor, "another terminal");
    if (!decided.ok) throw new PolicyError("policy_refused", decided.reason);
    return decided.approval;
  });
  context.output.data(result, () => `denied ${describe(result)}`);
}
