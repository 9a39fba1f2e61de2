/** `/audit`: the audit log, newest first, filtered by type, tool, execution and since; at most 200 events. */
import { parseSince, when } from "../format.js";
import { html, type Html } from "../html.js";
import { page } from "../layout.js";
import type { Route } from "../route.js";

const LIMIT = 200;

/** What an event's data says in a few words: its error or reason, else the data itself. */
function note(data: Record<string, unknown>): string {
  if (typeof data.error === "string") return data.error;
  if (typeof data.reason === "string") return data.reason;
  const text = JSON.stringify(data);
  return text === "{}" ? "" : text.length > 160 ? `${text.slice(0, 159)}…` : text;
}

export const auditRoutes: Route[] = [
  {
    method: "GET",
    path: /^\/audit$/,
    async handle(context) {
      const params = context.url.searchParams;
      const filters = {
        type: params.get("type")?.trim() ?? "",
        tool: params.get("tool")?.trim() ?? "",
        execution: params.get("execution")?.trim() ?? "",
        since: params.get("since")?.trim() ?? "",
      };
      const since = parseSince(filters.since);
      const form = html`<form class="filters" method="get" action="/audit">
        <label>Type <input name="type" value="${filters.type}" placeholder="approval.approved" size="18" /></label>
        <label>Tool <input name="tool" value="${filters.tool}" size="14" /></label>
        <label>Execution <input name="execution" value="${filters.execution}" size="22" /></label>
        <label>Since <input name="since" value="${filters.since}" placeholder="2026-11-21" size="22" /></label>
        <button type="submit">Filter</button>
      </form>`;
      let results: Html;
      let status = 200;
      if ("error" in since) {
        status = 400;
        results = html`<p class="notice error">${since.error}</p>`;
      } else {
        const events = await context.toolctl.audit({
          type: filters.type || undefined,
          tool: filters.tool || undefined,
          executionId: filters.execution || undefined,
          since: since.since,
          limit: LIMIT,
        });
        results =
          events.length === 0
            ? html`<p class="muted">No audit events match.</p>`
            : html`<table id="audit">
                  <thead>
                    <tr>
                      <th>#</th>
                      <th>Time</th>
                      <th>Actor</th>
                      <th>Type</th>
                      <th>Action</th>
                      <th>Status</th>
                      <th>Execution</th>
                      <th>Note</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${events.reverse().map(
                      (e) =>
                        html`<tr>
                          <td>${e.seq}</td>
                          <td>${when(e.ts)}</td>
                          <td>${e.actor}</td>
                          <td>${e.type}</td>
                          <td>${e.tool ? `${e.tool}${e.action ? `.${e.action}` : ""}` : ""}</td>
                          <td>${e.status ?? ""}</td>
                          <td>${e.executionId ? html`<a href="/executions/${e.executionId}">${e.executionId}</a>` : ""}</td>
                          <td>${note(e.data)}</td>
                        </tr>`,
                    )}
                  </tbody>
                </table>
                <p class="muted">
                  ${events.length === LIMIT ? `The newest ${LIMIT} events; narrow the filters to see older ones (or use toolctl audit).` : `${events.length} event${events.length === 1 ? "" : "s"}.`}
                </p>`;
      }
      return {
        status,
        body: page({
          title: "Audit",
          current: "audit",
          csrf: context.session.csrf,
          body: html`<h1>Audit log</h1>
            ${form}${results}`,
        }),
      };
    },
  },
];
