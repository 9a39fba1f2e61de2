/**
 * `/executions`: the history, newest first, filtered by tool, status, actor and since (as `toolctl executions`),
 * 50 a page; `/executions/:id` one execution in full (input and request as recorded: redacted by the engine).
 */
import { EXECUTION_STATUSES } from "../../domain/records.js";
import type { Execution } from "../../api/index.js";
import { parseSince, pretty, usd, when } from "../format.js";
import { html, queryString, type Html } from "../html.js";
import { page } from "../layout.js";
import type { Route, RouteContext } from "../route.js";

const PAGE_SIZE = 50;
const ACTORS = ["user", "ci", "agent"] as const;

const statusCell = (status: string) => html`<span class="status-${status}">${status}</span>`;

function options(values: readonly string[], selected: string, any: string): Html {
  return html`<option value="">${any}</option>
    ${values.map((value) => html`<option value="${value}" ${value === selected ? html` selected` : ""}>${value}</option>`)}`;
}

async function listPage(context: RouteContext) {
  const params = context.url.searchParams;
  const filters = {
    tool: params.get("tool")?.trim() ?? "",
    status: EXECUTION_STATUSES.find((status) => status === params.get("status")) ?? "",
    actor: ACTORS.find((actor) => actor === params.get("actor")) ?? "",
    since: params.get("since")?.trim() ?? "",
  };
  const pageNumber = Math.max(1, Math.min(1_000_000, Number.parseInt(params.get("page") ?? "1", 10) || 1));
  const since = parseSince(filters.since);
  const form = html`<form class="filters" method="get" action="/executions">
    <label>Tool <input name="tool" value="${filters.tool}" size="14" /></label>
    <label
      >Status
      <select name="status">
        ${options(EXECUTION_STATUSES, filters.status, "any")}
      </select></label
    >
    <label
      >Actor
      <select name="actor">
        ${options(ACTORS, filters.actor, "any")}
      </select></label
    >
    <label>Since <input name="since" value="${filters.since}" placeholder="2026-11-21" size="22" /></label>
    <button type="submit">Filter</button>
  </form>`;
  let results: Html;
  let status = 200;
  if ("error" in since) {
    status = 400;
    results = html`<p class="notice error">${since.error}</p>`;
  } else {
    const { total, items } = await context.toolctl.executions({
      tool: filters.tool || undefined,
      status: filters.status || undefined,
      actor: filters.actor || undefined,
      since: since.since,
      limit: PAGE_SIZE,
      offset: (pageNumber - 1) * PAGE_SIZE,
    });
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    const link = (n: number) => `/executions${queryString({ ...filters, page: n })}`;
    results = html`${
        items.length === 0
          ? html`<p class="muted">${total === 0 ? "No executions match." : `Page ${pageNumber} is empty.`}</p>`
          : html`<table id="executions">
              <thead>
                <tr>
                  <th>ID</th>
                  <th>Created</th>
                  <th>Action</th>
                  <th>Status</th>
                  <th>Actor</th>
                  <th>Cost</th>
                  <th>Time</th>
                  <th>Error</th>
                </tr>
              </thead>
              <tbody>
                ${items.map(
                  (e) =>
                    html`<tr>
                      <td><a href="/executions/${e.id}">${e.id}</a></td>
                      <td>${when(e.createdAt)}</td>
                      <td>${e.tool}.${e.action}</td>
                      <td>${statusCell(e.status)}</td>
                      <td>${e.actor}</td>
                      <td>${e.costUsd === null ? "-" : usd(e.costUsd)}</td>
                      <td>${e.durationMs === null ? "-" : `${e.durationMs} ms`}</td>
                      <td>${e.error?.message ?? ""}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
      }
      <p class="pager muted">
        ${pageNumber > 1 ? html`<a href="${link(pageNumber - 1)}">← newer</a>` : ""} page ${pageNumber} of ${pages} · ${total}
        execution${total === 1 ? "" : "s"} ${pageNumber < pages ? html`<a href="${link(pageNumber + 1)}">older →</a>` : ""}
      </p>`;
  }
  return {
    status,
    body: page({
      title: "Executions",
      current: "executions",
      csrf: context.session.csrf,
      body: html`<h1>Executions</h1>
        ${form}${results}`,
    }),
  };
}

function field(label: string, value: Html | string | null | undefined): Html {
  return value === null || value === undefined || value === ""
    ? html``
    : html`<dt>${label}</dt>
        <dd>${value}</dd>`;
}

function executionView(e: Execution): Html {
  return html`<h1>${e.tool}.${e.action} ${statusCell(e.status)}</h1>
    <dl class="request">
      ${field("ID", html`<code>${e.id}</code>`)} ${field("Actor", e.actor)}
      ${field("Through", e.origin ? `${e.origin.via}${e.origin.client ? ` (${e.origin.client.name} ${e.origin.client.version})` : ""}` : null)}
      ${field("Created", when(e.createdAt))} ${field("Started", e.startedAt && when(e.startedAt))} ${field("Finished", e.finishedAt && when(e.finishedAt))}
      ${field("Duration", e.durationMs === null ? null : `${e.durationMs} ms`)} ${field("Cost", e.costUsd === null ? null : usd(e.costUsd))}
      ${field("Risk", e.risk)} ${field("Error", e.error ? `${e.error.message} (${e.error.code}, ${e.error.category})` : null)}
      ${field("Undoes", e.rollbackOf && html`<a href="/executions/${e.rollbackOf}">${e.rollbackOf}</a>`)} ${field("Plan run", e.planRunId)}
      ${field("Tool version", e.toolDigest && html`<code>${e.toolDigest}</code>`)}
    </dl>
    <h2>Input</h2>
    <pre>${pretty(e.input)}</pre>
    ${
      e.request !== null && e.request !== undefined
        ? html`<h2>Request</h2>
            <pre>${pretty(e.request)}</pre>`
        : ""
    }
    ${
      e.output !== null && e.output !== undefined
        ? html`<h2>Output</h2>
            <pre>${pretty(e.output)}</pre>`
        : ""
    }
    ${
      e.resources
        ? html`<h2>Resources</h2>
            <pre>${pretty(e.resources)}</pre>`
        : ""
    }
    <p><a href="/audit?execution=${e.id}">Its audit events</a> · <a href="/executions">All executions</a></p>`;
}

export const executionRoutes: Route[] = [
  { method: "GET", path: /^\/executions$/, handle: listPage },
  {
    method: "GET",
    path: /^\/executions\/([\w-]{1,64})$/,
    async handle(context) {
      const id = context.params[0]!;
      const found = await context.toolctl.execution(id);
      const frame = (status: number, body: Html) => ({
        status,
        body: page({ title: `Execution ${id}`, current: "executions", csrf: context.session.csrf, body }),
      });
      if (!found)
        return frame(
          404,
          html`<h1>No execution ${id}</h1>
            <p><a href="/executions">All executions</a></p>`,
        );
      if (Array.isArray(found)) {
        return frame(
          300,
          html`<h1>${id} matches several executions</h1>
            <ul>
              ${found.map((e) => html`<li><a href="/executions/${e.id}">${e.id}</a> ${e.tool}.${e.action}</li>`)}
            </ul>`,
        );
      }
      return frame(200, executionView(found));
    },
  },
];
