/**
 * `/approvals/:id`: one approval request, the page an MCP client sends its user to (URL-mode elicitation). A
 * pending request is shown as in the inbox, with Approve (a second factor, always) and Deny; one decided, expired
 * or used says so, and an unknown id says there is none. The address holds no secret: a browser without a
 * session is told how to sign in (server.ts), and the decision takes what it takes in the inbox. Its address:
 * approvalPageUrl (served.ts).
 */
import type { Approval } from "../../api/index.js";
import { usd, when } from "../format.js";
import { html, type Html } from "../html.js";
import { page } from "../layout.js";
import type { Reply, Route } from "../route.js";
import { factorNotices, loadInbox, requestCard } from "./inbox.js";

const PATH = /^\/approvals\/([\w-]{1,64})$/;

/** The approval id when `path` is the page of one approval request. */
export function isApprovalPage(path: string): string | undefined {
  return PATH.exec(path)?.[1];
}

const OUTCOME: Record<Exclude<Approval["status"], "pending">, { said: string; after?: string; kind: "ok" | "error" }> = {
  approved: { said: "was approved", kind: "ok" },
  denied: { said: "was denied", kind: "error" },
  expired: { said: "expired before anyone decided it", kind: "error" },
  used: { said: "was approved", after: ", and its run has used it", kind: "ok" },
};

function decided(approval: Approval): Html {
  // An approval nobody used before it expired was decided: say so, and that it went unused.
  const outcome =
    approval.status === "expired" && approval.decidedBy
      ? { ...OUTCOME.approved, after: `, and expired unused (${approval.expiresAt})`, kind: "error" as const }
      : OUTCOME[approval.status as keyof typeof OUTCOME];
  const by = approval.decidedBy
    ? html` by ${approval.decidedBy}${approval.decidedVia ? html` (${approval.decidedVia})` : ""}, ${when(approval.decidedAt)}`
    : "";
  return html`<p class="notice ${outcome.kind}" id="decided">
      Approval request ${approval.id} ${outcome.said}${by}${outcome.after}. There is nothing left to decide here.
    </p>
    <dl class="request">
      <dt>Action</dt>
      <dd>${approval.tool}.${approval.action}</dd>
      <dt>Cost</dt>
      <dd>${usd(approval.costUsd)}</dd>
      <dt>Risk</dt>
      <dd>${approval.risk}</dd>
      <dt>Filed</dt>
      <dd>by ${approval.requestedBy}, ${when(approval.requestedAt)}</dd>
      ${
        approval.executionId &&
        html`<dt>Execution</dt>
          <dd><a href="/executions/${approval.executionId}">${approval.executionId}</a></dd>`
      }
    </dl>`;
}

export const approvalRoutes: Route[] = [
  {
    method: "GET",
    path: PATH,
    async handle(context): Promise<Reply> {
      const id = context.params[0]!;
      const [approval, state] = await Promise.all([context.toolctl.store.approvals.get(id), loadInbox(context.toolctl)]);
      const back = html`<p><a href="/">All pending requests</a></p>`;
      const shown = (status: number, body: Html): Reply => ({
        status,
        body: page({
          title: `Approval ${id}`,
          current: "inbox",
          csrf: context.session.csrf,
          body: html`<h1>Approval request ${id}</h1>
            ${body}${back}`,
        }),
      });
      if (!approval)
        return shown(404, html`<p class="notice error" id="decided">There is no approval request ${id}: it was never filed here, or it was removed.</p>`);
      if (approval.status !== "pending") return shown(200, decided(approval));
      // The inbox's own card: what it shows, and what deciding takes, cannot drift apart between the two pages.
      return shown(200, html`${factorNotices(state)}${requestCard(approval, state, context.session.csrf)}`);
    },
  },
];
