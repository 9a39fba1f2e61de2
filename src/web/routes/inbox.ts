/**
 * The approvals inbox (`/`): every pending request with everything the terminal prompt shows (action,
 * description, input, where it goes, cost, risk, undo, whether a terminal would need a code) and its effect on
 * today's budget, with Approve (always with a second factor) and Deny. `/inbox/list` is the list alone, which
 * the page's script fetches again when /events says the inbox changed.
 */
import type { Approval, Toolctl } from "../../api/index.js";
import { digestOf } from "../../util/canonical.js";
import { FACTORS, type Readiness, type SecondFactor } from "../factors.js";
import { inline, pretty, usd, when } from "../format.js";
import { html, type Html } from "../html.js";
import { page } from "../layout.js";
import type { Reply, Route, RouteContext } from "../route.js";

export interface InboxState {
  approvals: Approval[];
  budget: Awaited<ReturnType<Toolctl["budget"]>>;
  /** Each second-factor kind and whether it can be used now. */
  factors: Array<{ factor: SecondFactor; readiness: Readiness }>;
  /** Changes whenever anything shown changes: /events sends it, the list carries it. */
  version: string;
}

export async function loadInbox(toolctl: Toolctl): Promise<InboxState> {
  const [approvals, budget, factors] = await Promise.all([
    toolctl.approvals(),
    toolctl.budget(),
    Promise.all(FACTORS.map(async (factor) => ({ factor, readiness: await factor.readiness(toolctl) }))),
  ]);
  const shown = {
    approvals: approvals.map((a) => [a.id, a.status, a.digest, a.expiresAt, a.problem]),
    spend: budget.spend,
    limits: budget.limits,
    factors: factors.map(({ factor, readiness }) => [factor.kind, readiness.ready]),
  };
  return { approvals, budget, factors, version: digestOf(shown).slice(0, 16) };
}

function details(value: unknown): Html {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return html`<pre>${pretty(value)}</pre>`;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return html`<p class="muted">(no input)</p>`;
  return html`<dl>
    ${entries.map(
      ([key, item]) =>
        html`<dt>${key}</dt>
          <dd><code>${inline(item)}</code></dd>`,
    )}
  </dl>`;
}

function budgetEffect(costUsd: number, state: InboxState): Html {
  const { spend, limits } = state.budget;
  const today = spend.committedUsd + spend.reservedUsd;
  const after = today + costUsd;
  const over = costUsd > 0 && after > limits.dailyUsd;
  return html`${usd(today)} spent or reserved today of ${usd(limits.dailyUsd)}; with this
  ${usd(after)}${over ? html` <strong class="status-failed">(over the daily limit: the run will be refused when it starts)</strong>` : ""}`;
}

function decideForms(approval: Approval, state: InboxState, csrf: string): Html {
  const deny = html`<form method="post" action="/approvals/${approval.id}/deny" data-id="${approval.id}">
    <input type="hidden" name="csrf" value="${csrf}" />
    <button type="submit" class="deny">Deny</button>
  </form>`;
  if (!approval.request) return html`<div class="decide">${deny}</div>`;
  const ready = state.factors.filter((entry) => entry.readiness.ready);
  const approve = ready.map(
    ({ factor }) =>
      html`<form method="post" action="/approvals/${approval.id}/approve" data-id="${approval.id}" ${factor.formAttributes?.(approval.id)}>
        <input type="hidden" name="csrf" value="${csrf}" />
        <input type="hidden" name="digest" value="${approval.digest}" />
        <input type="hidden" name="factor" value="${factor.kind}" />
        <div>${factor.fields(approval.id)}</div>
        <button type="submit" class="approve">Approve</button>
      </form>`,
  );
  return html`<div class="decide">${approve}${deny}</div>`;
}

/** One pending request as the inbox shows it, with Approve and Deny; also the page of one approval (approval.ts). */
export function requestCard(approval: Approval, state: InboxState, csrf: string): Html {
  const request = approval.request;
  const head = html`<h2>
    ${approval.tool}.${approval.action} <span class="risk risk-${approval.risk}">${approval.risk}</span> <span class="muted">${approval.id}</span>
  </h2>`;
  if (!request) {
    // What it says cannot be trusted: shown by id only, and it can only be denied.
    return html`<section class="request" id="${approval.id}">
      ${head}
      <p class="notice error">${approval.problem}; it cannot be approved.</p>
      ${decideForms(approval, state, csrf)}
    </section>`;
  }
  return html`<section class="request" id="${approval.id}">
    ${head}
    <p>${request.description}</p>
    <dl>
      <dt>Where it goes</dt>
      <dd><code>${request.target}</code></dd>
      <dt>Cost</dt>
      <dd>${usd(request.cost.usd)} <span class="muted">(${request.cost.basis})</span></dd>
      <dt>Risk</dt>
      <dd>${request.risk}</dd>
      <dt>Undo</dt>
      <dd>${request.undo}</dd>
      <dt>At a terminal</dt>
      <dd>${request.needsOtp ? "needs a TOTP code (CRITICAL)" : "needs a yes"}; here a second factor is always asked</dd>
      <dt>Budget</dt>
      <dd>${budgetEffect(request.cost.usd, state)}</dd>
      <dt>Filed</dt>
      <dd>by ${approval.requestedBy}, ${when(approval.requestedAt)}; expires ${when(approval.expiresAt)}</dd>
      <dt>Digest</dt>
      <dd><code>${approval.digest}</code></dd>
    </dl>
    <h3>Input</h3>
    ${details(request.details)} ${decideForms(approval, state, csrf)}
  </section>`;
}

/** When no second factor can be used: why, and what to run (shown above the inbox and one approval's page). */
export function factorNotices(state: InboxState): Html | "" {
  const blocked = state.factors.filter((entry) => !entry.readiness.ready).map((entry) => entry.readiness);
  const canApprove = blocked.length < state.factors.length;
  return canApprove
    ? ""
    : html`<div class="notice warn" id="no-factor">
        <p>Nothing can be approved here until you set up a second factor in a terminal, then reload this page. Requests can still be denied.</p>
        <ul>
          ${blocked.map((readiness) => !readiness.ready && html`<li>${readiness.why} Run <code>${readiness.command}</code>.</li>`)}
        </ul>
      </div>`;
}

/** The list alone (`/inbox/list`), carrying its version. */
export function inboxList(state: InboxState, csrf: string): Html {
  const notices = factorNotices(state);
  const count = state.approvals.length;
  return html`<div id="inbox" data-version="${state.version}">
    ${notices}
    <p class="muted" id="count">${count === 0 ? "No pending approval requests." : `${count} pending approval request${count === 1 ? "" : "s"}.`}</p>
    ${state.approvals.map((approval) => requestCard(approval, state, csrf))}
  </div>`;
}

export interface InboxMessage {
  kind: "ok" | "error";
  text: string;
}

export async function inboxPage(context: Pick<RouteContext, "toolctl" | "session">, status: number, message?: InboxMessage): Promise<Reply> {
  const state = await loadInbox(context.toolctl);
  const body = html`<h1>Approval requests</h1>
    ${message && html`<p class="notice ${message.kind}" role="status" id="message">${message.text}</p>`}
    <p id="live" class="muted"></p>
    ${inboxList(state, context.session.csrf)}`;
  const passkeys = state.factors.some(({ factor, readiness }) => factor.kind === "passkey" && readiness.ready);
  return { status, body: page({ title: "Approvals", current: "inbox", csrf: context.session.csrf, body, passkeys }) };
}

const DONE: Record<string, (id: string) => string> = {
  approved: (id) => `Approved ${id}: the waiting run goes ahead.`,
  denied: (id) => `Denied ${id}: the waiting run stops.`,
};

export const inboxRoutes: Route[] = [
  {
    method: "GET",
    path: /^\/$/,
    handle(context) {
      const done = DONE[context.url.searchParams.get("done") ?? ""];
      const id = context.url.searchParams.get("id") ?? "";
      return inboxPage(context, 200, done && /^[\w-]{1,64}$/.test(id) ? { kind: "ok", text: done(id) } : undefined);
    },
  },
  {
    method: "GET",
    path: /^\/inbox\/list$/,
    async handle(context) {
      return { status: 200, body: inboxList(await loadInbox(context.toolctl), context.session.csrf) };
    },
  },
];
