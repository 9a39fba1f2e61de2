/**
 * Spend per day, stacked by tool, as an SVG drawn on the server (no script, no library): one bar per day of the
 * range, one coloured segment per tool, the busiest tools with colours of their own and the rest as "other".
 */
import { usd } from "./format.js";
import { html, type Html } from "./html.js";

export interface DayToolSpend {
  day: string;
  tool: string;
  usd: number;
}

/** Colours .c0 to .c7 in the stylesheet; the last one is kept for "other". */
const COLOURS = 8;
const WIDTH = 900;
const HEIGHT = 240;
const PAD = { left: 56, right: 8, top: 12, bottom: 36 };

/** The days from `from` to `to` (YYYY-MM-DD, UTC), inclusive. */
export function daysBetween(from: string, to: string): string[] {
  const days: string[] = [];
  for (let time = Date.parse(`${from}T00:00:00Z`); time <= Date.parse(`${to}T00:00:00Z`); time += 86_400_000)
    days.push(new Date(time).toISOString().slice(0, 10));
  return days;
}

/** A round step for the axis (1, 2 or 5 times a power of ten) giving about four lines. */
function axisStep(max: number): number {
  const rough = max / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= rough)!;
}

export function spendChart(days: string[], spend: DayToolSpend[]): { svg: Html; legend: Array<{ tool: string; colour: number; usd: number }> } {
  const totals = new Map<string, number>();
  for (const row of spend) totals.set(row.tool, (totals.get(row.tool) ?? 0) + row.usd);
  const ranked = [...totals.entries()].filter(([, amount]) => amount > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const named = ranked.length > COLOURS ? ranked.slice(0, COLOURS - 1) : ranked;
  const colourOf = new Map(named.map(([tool], i) => [tool, i]));
  const legend = named.map(([tool, amount], i) => ({ tool, colour: i, usd: amount }));
  if (ranked.length > named.length)
    legend.push({ tool: "other", colour: COLOURS - 1, usd: ranked.slice(named.length).reduce((sum, [, amount]) => sum + amount, 0) });

  const perDay = new Map<string, Map<number, number>>();
  for (const row of spend) {
    if (row.usd <= 0) continue;
    const colour = colourOf.get(row.tool) ?? COLOURS - 1;
    const day = perDay.get(row.day) ?? new Map<number, number>();
    day.set(colour, (day.get(colour) ?? 0) + row.usd);
    perDay.set(row.day, day);
  }
  const dayTotals = days.map((day) => [...(perDay.get(day)?.values() ?? [])].reduce((a, b) => a + b, 0));
  const step = axisStep(Math.max(1, ...dayTotals));
  const top = Math.ceil(Math.max(1, ...dayTotals) / step) * step;
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotWidth / Math.max(1, days.length);
  const y = (amount: number) => PAD.top + plotHeight - (amount / top) * plotHeight;
  const round = (n: number) => Math.round(n * 10) / 10;

  const grid: Html[] = [];
  for (let value = 0; value <= top + 1e-9; value += step) {
    grid.push(
      html`<line class="axis" x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${round(y(value))}" y2="${round(y(value))}" />
        <text x="${PAD.left - 6}" y="${round(y(value)) + 4}" text-anchor="end">${usd(value)}</text>`,
    );
  }
  const bars = days.map((day, i) => {
    let base = 0;
    const x = round(PAD.left + i * slot + slot * 0.15);
    const width = round(slot * 0.7);
    const segments = [...(perDay.get(day)?.entries() ?? [])]
      .sort((a, b) => a[0] - b[0])
      .map(([colour, amount]) => {
        const segment = html`<rect class="c${colour}" x="${x}" y="${round(y(base + amount))}" width="${width}" height="${round(y(base) - y(base + amount))}"
          ><title>${day} ${legend.find((entry) => entry.colour === colour)?.tool}: ${usd(amount)}</title></rect
        >`;
        base += amount;
        return segment;
      });
    // Every fifth day is labelled, and the last: thirty labels would not fit.
    const label =
      i % 5 === 0 || i === days.length - 1
        ? html`<text x="${round(PAD.left + i * slot + slot / 2)}" y="${HEIGHT - PAD.bottom + 16}" text-anchor="middle">${day.slice(5)}</text>`
        : "";
    return html`${segments}${label}`;
  });
  const svg = html`<svg
    class="chart"
    id="spend-chart"
    viewBox="0 0 ${WIDTH} ${HEIGHT}"
    role="img"
    aria-label="Spend per day and tool, ${days[0]} to ${days[days.length - 1]}"
  >
    ${grid}
    <line class="axis" x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${HEIGHT - PAD.bottom}" />
    ${bars}
  </svg>`;
  return { svg, legend };
}
