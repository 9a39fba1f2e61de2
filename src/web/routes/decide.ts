/**
 * Approve and Deny. Approving always takes a second factor (the session alone is not enough) and the digest that
 * was shown: a request changed since is refused. With a passkey, the form first asks `/approvals/ID/challenge` for
 * a challenge bound to that request and digest, and sends the authenticator's assertion with the form. Deny needs
 * only the session and its CSRF token, like the form that sent it. Every refusal is audited as `ui.refused` (a
 * wrong code is also the engine's own `2fa.failed`, a refused passkey its `2fa.passkey_refused`) and decides
 * nothing; the inbox is shown again with the reason.
 */
import { ExitCode, ToolctlError, UsageError } from "../../errors.js";
import { factorOf, VIA } from "../factors.js";
import type { Reply, Route, RouteContext } from "../route.js";
import { json, redirect } from "../route.js";
import { inboxPage } from "./inbox.js";

/** The status for a refusal: 400 for a malformed form, 404 for an unknown request, 403 refused by policy. */
export function refusalStatus(error: ToolctlError): number {
  return error.code === "not_found"
    ? 404
    : error.exitCode === ExitCode.usage
      ? 400
      : error.exitCode === ExitCode.policy || error.exitCode === ExitCode.needsHuman
        ? 403
        : 500;
}

/** A refusal, audited and shown with the inbox. */
async function refusedDecision(context: RouteContext, id: string, decision: string, error: unknown): Promise<Reply> {
  if (!(error instanceof ToolctlError)) throw error;
  await context.refused(error.message, { approval: id, decision, code: error.code });
  return inboxPage(context, refusalStatus(error), { kind: "error", text: error.message });
}

/** A refusal answered to the page's script, audited like any other. */
export async function refusedJson(context: RouteContext, error: unknown, data: Record<string, unknown>): Promise<Reply> {
  if (!(error instanceof ToolctlError)) throw error;
  await context.refused(error.message, { ...data, code: error.code });
  return json(refusalStatus(error), { error: error.message });
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
        if (!factor) throw new UsageError(`${id} was not approved: approving here needs a second factor (a passkey, or a TOTP code)`);
        await factor.approve(context.toolctl, id, digest, context.form, context.origin);
      } catch (error) {
        return refusedDecision(context, id, "approve", error);
      }
      return redirect(`/?done=approved&id=${encodeURIComponent(id)}`);
    },
  },
  {
    // The challenge for approving this request as shown, with a passkey: answered as JSON to the page's script.
    method: "POST",
    path: /^\/approvals\/([\w-]{1,64})\/challenge$/,
    async handle(context) {
      const id = context.params[0]!;
      try {
        return json(200, await context.toolctl.passkeyChallenge(context.origin, { approve: id, digest: context.form.get("digest") ?? "" }));
      } catch (error) {
        return refusedJson(context, error, { approval: id, decision: "challenge" });
      }
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
