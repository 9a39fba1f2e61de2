/**
 * Approve and Deny. Approving always takes a second factor (the session alone is not enough) and the digest that
 * was shown: a request changed since is refused. Deny needs only the session and its CSRF token, like the form
 * that sent it. Every refusal is audited as `ui.refused` (a wrong code is also the engine's own `2fa.failed`)
 * and decides nothing; the inbox is shown again with the reason.
 */
import { ExitCode, ToolctlError, UsageError } from "../../errors.js";
import { factorOf, VIA } from "../factors.js";
import type { Reply, Route, RouteContext } from "../route.js";
import { redirect } from "../route.js";
import { inboxPage } from "./inbox.js";

/** A refusal, shown with the inbox: 400 for a malformed form, 404 for an unknown request, 403 refused by policy. */
async function refusedDecision(context: RouteContext, id: string, decision: string, error: unknown): Promise<Reply> {
  if (!(error instanceof ToolctlError)) throw error;
  await context.refused(error.message, { approval: id, decision, code: error.code });
  const status =
    error.code === "not_found"
      ? 404
      : error.exitCode === ExitCode.usage
        ? 400
        : error.exitCode === ExitCode.policy || error.exitCode === ExitCode.needsHuman
          ? 403
          : 500;
  return inboxPage(context, status, { kind: "error", text: error.message });
}

export const decideRoutes: Route[] = [
  {
    method: "POST",
    path: /^\/approvals\/([\w-]{1,64})\/approve$/,
    async handle(context) {
      const id = context.params[0]!;
      const factor = factorOf(context.form.get("factor"));
      const digest = context.form.get("digest") ?? "";
      try {
        if (!factor) throw new UsageError(`${id} was not approved: approving here needs a second factor (a TOTP code)`);
        await factor.approve(context.toolctl, id, digest, context.form);
      } catch (error) {
        return refusedDecision(context, id, "approve", error);
      }
      return redirect(`/?done=approved&id=${encodeURIComponent(id)}`);
    },
  },
  {
    method: "POST",
    path: /^\/approvals\/([\w-]{1,64})\/deny$/,
    async handle(context) {
      const id = context.params[0]!;
      try {
        await context.toolctl.deny(id, { via: VIA });
      } catch (error) {
        return refusedDecision(context, id, "deny", error);
      }
      return redirect(`/?done=denied&id=${encodeURIComponent(id)}`);
    },
  },
  {
    method: "POST",
    path: /^\/logout$/,
    async handle(context) {
      context.endSession();
      return redirect("/signed-out");
    },
  },
];
