import type { ActionSpec } from "../../domain/manifest.js";
import { describeRollback } from "../../domain/rollback.js";
import { displayWidth, padEnd } from "../../ui/output.js";
import type { CommandContext } from "../program.js";
import { pretty, withToolctl } from "./shared.js";

type RequestSpec = NonNullable<ActionSpec["request"]>;
type Style = { style?: string; explode?: boolean };

const templateText = (value: unknown): string => (typeof value === "string" ? value : JSON.stringify(value));
const styleWords = (style: Style): string =>
  [style.style !== undefined ? `style ${style.style}` : "", style.explode !== undefined ? `explode ${style.explode}` : ""].filter(Boolean).join(", ");
const styleText = (style: Style | undefined): string => (style === undefined ? "" : `  (${styleWords(style)})`);

/** Where each input goes: the query, headers, cookies and body of an http action, with their styles. */
function requestLines(request: RequestSpec): string[] {
  const styles = (request.styles ?? {}) as Record<string, Record<string, Style> | undefined>;
  const lines = [`  request: ${request.method} ${request.path}${request.baseUrl ? `  (at ${request.baseUrl})` : ""}`];
  for (const [name, value] of Object.entries(request.query ?? {})) lines.push(`    query ${name}: ${templateText(value)}${styleText(styles.query?.[name])}`);
  for (const [name, value] of Object.entries(request.headers ?? {})) lines.push(`    header ${name}: ${value}${styleText(styles.header?.[name])}`);
  for (const [name, value] of Object.entries(request.cookies ?? {}))
    lines.push(`    cookie ${name}: ${templateText(value)}${styleText(styles.cookie?.[name])}`);
  if (request.json !== undefined) lines.push(`    json body: ${templateText(request.json)}`);
  if (request.form !== undefined) {
    lines.push(`    form body: ${templateText(request.form)}`);
    for (const [name, style] of Object.entries(styles.form ?? {})) lines.push(`      form field ${name}: ${styleWords(style)}`);
  }
  if (request.body !== undefined) lines.push(`    text body: ${request.body}`);
  return lines;
}

export async function showCommand(context: CommandContext, target: string): Promise<void> {
  const view = await withToolctl(context, (toolctl) => toolctl.describe(target));
  const c = context.output.color;
  await context.output.page(view, () => {
    const t = view.tool;
    const lines = [
      `${c.bold(t.name)} ${t.version}  ${t.status}  (${t.runtime})`,
      `  ${t.description}`,
      t.tags.length ? `  tags: ${t.tags.join(", ")}` : "",
      t.baseUrl ? `  base URL: ${t.baseUrl}${t.sandboxBaseUrl ? `  (sandbox: ${t.sandboxBaseUrl})` : ""}` : "",
      `  auth: ${t.auth.type}${"in" in t.auth ? ` in ${t.auth.in} ${t.auth.name}` : ""}`,
      ...t.secrets.map((s) => `  secret ${s.name}: ${s.present ? c.green(`present (${s.source})`) : c.red("missing")}`),
      t.http
        ? `  http: timeout ${t.http.timeoutSeconds}s, plain http ${t.http.allowPlainHttp ? "allowed" : "refused"}, private networks ${JSON.stringify(t.http.allowPrivateNetworks)}${t.http.allowedHosts.length ? `, extra hosts ${t.http.allowedHosts.join(", ")}` : ""}`
        : "",
      t.process ? `  process: timeout ${t.process.timeoutSeconds}s, environment passed: ${t.process.env.join(", ") || "(none)"}` : "",
      t.image ? `  image: ${t.image}` : "",
      ...t.asks.map(
        (item) =>
          `  asks: ${item.name === "host" ? `calls ${item.asked}` : `${item.name} ${item.asked}`}${item.needsGrant ? c.yellow(item.allowed === "not granted" ? " (not granted)" : ` (not granted; now ${item.allowed})`) : ""}`,
      ),
      `  source: ${t.source ?? "-"}`,
    ];
    if ("actions" in view) {
      lines.push("", c.bold("actions:"));
      // Names and kinds padded to the longest of each, so kinds and descriptions line up.
      const nameWidth = Math.max(20, ...view.actions.map((a) => displayWidth(a.name)));
      const kindWidth = Math.max(7, ...view.actions.map((a) => a.kind.length));
      for (const a of view.actions)
        lines.push(`  ${padEnd(a.name, nameWidth)} ${a.kind.padEnd(kindWidth)} ${a.description}`, `  ${"".padEnd(nameWidth)} cost: ${a.cost}; risk: ${a.risk}`);
    } else {
      const a = view.action;
      lines.push(
        "",
        `${c.bold(`${t.name}.${a.name}`)} (${a.kind})  ${a.description}`,
        `  cost: ${a.costRule}`,
        `  risk: ${a.riskRule}`,
        `  idempotent: ${a.idempotent ?? a.kind === "read"}${a.idempotencyKey ? ` (key in header ${a.idempotencyKey.header})` : ""}`,
        `  rollback: ${a.rollback === undefined ? "none declared" : a.rollback === "irreversible" ? "irreversible" : describeRollback(a.rollback)}`,
        ...(a.request ? requestLines(a.request) : []),
        a.auth ? `  auth: ${a.auth.type}${"in" in a.auth ? ` in ${a.auth.in} ${a.auth.name}` : ""} (this action's own)` : "",
        a.command ? `  command: ${JSON.stringify(a.command)}` : "",
        "  input schema:",
        pretty(a.inputSchema).replace(/^/gm, "    "),
        a.outputSchema ? `  output schema:\n${pretty(a.outputSchema).replace(/^/gm, "    ")}` : "",
      );
    }
    return lines.filter((line) => line !== "").join("\n");
  });
}
