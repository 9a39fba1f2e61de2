import type { Approval } from "../../domain/records.js";
import { OTP_DIGITS } from "../../api/index.js";
import { ExitCode, NeedsHumanError, PolicyError, ToolctlError } from "../../errors.js";
import { approvalMessage } from "../../ui/approval.js";
import { table, truncate } from "../../ui/output.js";
import { askCode, askYesNo, canPrompt } from "../../ui/prompt.js";
import { listEnvelope, printList } from "../list-output.js";
import type { CommandContext } from "../program.js";
import { checkOtpFlag, withToolctl } from "./shared.js";

export async function listApprovalsCommand(context: CommandContext, flags: { all?: boolean }): Promise<void> {
  const approvals = await withToolctl(context, (toolctl) => toolctl.approvals(flags.all === true));
  await printList(context, listEnvelope(approvals), () => {
    if (approvals.length === 0) return flags.all ? "no approval requests yet" : "no pending approval requests";
    // A request that fails its digest check is listed by id only: what it says cannot be trusted.
    const rows = approvals.map((a) => [
      a.id,
      `${a.tool}.${a.action}`,
      a.request ? truncate(a.request.target, 60) : "(refused, see below)",
      a.request ? truncate(JSON.stringify(a.input), 50) : "-",
      `$${a.costUsd.toFixed(2)}`,
      a.risk,
      a.needsOtp ? "yes" : "no",
      a.status,
      a.requestedBy,
      a.expiresAt,
    ]);
    const text = table(["ID", "ACTION", "WHERE", "INPUT", "COST", "RISK", "2FA", "STATUS", "BY", "EXPIRES"], rows, (h) => context.output.color.bold(h), {
      width: context.output.width,
      flex: [2, 3],
    });
    const problems = approvals.filter((a) => a.problem).map((a) => context.output.color.red(`${a.problem}; it cannot be approved (toolctl deny ${a.id})`));
    return [text, ...problems].join("\n");
  });
}

function describe(approval: Approval): string {
  const where = approval.request ? `, ${approval.request.target}` : "";
  return `${approval.id}: ${approval.tool}.${approval.action}${where}, $${approval.costUsd.toFixed(2)}, risk ${approval.risk}, input ${JSON.stringify(approval.input)}`;
}

/**
 * `toolctl approve ID [--yes] [--otp CODE]`: shows the request as it was filed, checked against its digest
 * first (a row edited in the database is refused, not shown), then asks for a typed yes on a terminal (`--yes`
 * skips it; with neither, exit 4), then a TOTP code when CRITICAL. The approval names the digest shown.
 */
export async function approveCommand(context: CommandContext, id: string, flags: { otp?: string; yes?: boolean }): Promise<void> {
  if (flags.otp !== undefined) checkOtpFlag(flags.otp);
  const result = await withToolctl(context, async (toolctl) => {
    const approval = await toolctl.pendingApproval(id);
    const request = approval.request;
    const interactive = canPrompt();
    if (!flags.yes && !interactive) {
      throw new NeedsHumanError(
        `approving ${id} needs a human to see it: run toolctl approve ${id} on a terminal, or add ${request.needsOtp ? "--yes --otp CODE" : "--yes"}`,
      );
    }
    // The person deciding sees the request on a terminal; a script with --yes gets it in the result.
    if (interactive || !context.json) {
      process.stderr.write(
        `Approval request ${id}, filed by ${approval.requestedBy} at ${approval.requestedAt}, expires ${approval.expiresAt}\n\n${approvalMessage(request)}\n`,
      );
    }
    const { timeoutSeconds } = (await toolctl.settings()).approvals;
    const timeoutMs = timeoutSeconds * 1000;
    if (!flags.yes) {
      const answer = await askYesNo(`Approve request ${id}? [yes/no]`, timeoutMs);
      if (answer === "interrupted") throw new ToolctlError("interrupted", ExitCode.interrupted, `interrupted: ${id} stays pending`);
      if (answer !== "yes") {
        const why = answer === "no" ? "answered no" : answer === "timeout" ? `no answer within ${timeoutSeconds} s` : "input ended";
        throw new PolicyError("policy_refused", `${id} was not approved (${why}); it stays pending until it expires, or refuse it with toolctl deny ${id}`);
      }
    }
    let otp = flags.otp;
    if (request.needsOtp && otp === undefined && interactive) {
      const entered = await askCode("TOTP code:", timeoutMs, OTP_DIGITS);
      if ("answer" in entered) {
        if (entered.answer === "interrupted") throw new ToolctlError("interrupted", ExitCode.interrupted, `interrupted: ${id} stays pending`);
        throw new PolicyError("policy_refused", `${id} was not approved: no TOTP code given`);
      }
      otp = entered.code;
    }
    return toolctl.approve(id, { digest: approval.digest, otp });
  });
  context.output.data(result, () => `approved ${describe(result)}`);
}

export async function denyCommand(context: CommandContext, id: string): Promise<void> {
  const result = await withToolctl(context, (toolctl) => toolctl.deny(id));
  context.output.data(result, () => `denied ${describe(result)}`);
}
