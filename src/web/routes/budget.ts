/**
 * `/budget`: today's spend, reservations and limits (as `toolctl budget`), and the spend of the last 30 days per
 * day and tool from the execution statistics (succeeded and unknown runs: an unknown outcome may have spent).
 */
import { roundUsd } from "../../api/index.js";
import { daysBetween, spendChart } from "../chart.js";
import { usd, when } from "../format.js";
import { html } from "../html.js";
import { page } from "../layout.js";
import type { Route } from "../route.js";

export const CHART_DAYS = 30;

export const budgetRoutes: Route[] = [
  {
    method: "GET",
    path: /^\/budget$/,
    async handle(context) {
      const { toolctl } = context;
      const { spend, entries, limits } = await toolctl.budget();
      const first = new Date(Date.parse(`${spend.day}T00:00:00Z`) - (CHART_DAYS - 1) * 86_400_000).toISOString().slice(0, 10);
      const stats = await toolctl.stats({ period: "day", by: "tool", since: `${first}T00:00:00.000Z` });
      const days = daysBetween(first, spend.day);
      const { svg, legend } = spendChart(
        days,
        stats.rows.map((row) => ({ day: row.bucket, tool: row.group, usd: row.spendUsd })),
      );
      const left = Math.max(0, roundUsd(limits.dailyUsd - spend.committedUsd - spend.reservedUsd));
      const body = html`<h1>Budget for ${spend.day} (UTC)</h1>
        <dl class="request" id="today">
          <dt>Spent</dt>
          <dd>${usd(spend.committedUsd)}</dd>
          <dt>Reserved</dt>
          <dd>${usd(spend.reservedUsd)} <span class="muted">(runs in flight, or whose outcome is unknown)</span></dd>
          <dt>Left today</dt>
          <dd>${usd(left)} of ${usd(limits.dailyUsd)}</dd>
          <dt>Per action</dt>
          <dd>at most ${usd(limits.perActionUsd)}</dd>
        </dl>
        ${
          entries.length > 0 &&
          html`<h2>Today's ledger</h2>
            <table id="ledger">
              <thead>
                <tr>
                  <th>Execution</th>
                  <th>Action</th>
                  <th>Amount</th>
                  <th>Ledger</th>
                  <th>Outcome</th>
                  <th>At</th>
                </tr>
              </thead>
              <tbody>
                ${entries.map(
                  (e) =>
                    html`<tr>
                      <td><a href="/executions/${e.executionId}">${e.executionId}</a></td>
                      <td>${e.tool}.${e.action}</td>
                      <td>${usd(e.amountUsd)}</td>
                      <td>${e.state}</td>
                      <td>${e.executionStatus ?? "-"}</td>
                      <td>${when(e.createdAt)}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
        }
        <h2>Spend per day, last ${CHART_DAYS} days</h2>
        ${svg}
        ${
          legend.length === 0
            ? html`<p class="muted">Nothing spent in these ${CHART_DAYS} days.</p>`
            : html`<ul class="legend" id="legend">
                ${legend.map((entry) => html`<li><span class="c${entry.colour}"></span>${entry.tool}: ${usd(entry.usd)}</li>`)}
              </ul>`
        }
        <p class="muted">In ${CHART_DAYS} days: ${usd(stats.totals.spendUsd)} over ${stats.totals.count} execution${stats.totals.count === 1 ? "" : "s"}.</p>`;
      return { status: 200, body: page({ title: "Budget", current: "budget", csrf: context.session.csrf, body }) };
    },
  },
];
