import { NotFoundError, UsageError } from "../../errors.js";
import type { CountFilter, Execution } from "../../domain/records.js";
import { table, truncate } from "../../ui/output.js";
import { listEnvelope, pageFooter, printList } from "../list-output.js";
import type { CommandContext } from "../program.js";
import { parseTime, pretty, withToolctl } from "./shared.js";

interface ListFlags extends CountFilter {
  limit: number;
  offset?: number;
  page?: number;
}

/** The first row to show: `--offset`, or `--page` counted in pages of `--limit`. */
function offsetOf(flags: ListFlags): number {
  if (flags.offset !== undefined && flags.page !== undefined) throw new UsageError("--page and --offset cannot be combined: choose one");
  if (flags.page === undefined) return flags.offset ?? 0;
  // The offset a page stands for is held to the bound of --offset itself (flags.ts's MAX_COUNT, 2^53 - 1).
  const lastPage = Math.floor(Number.MAX_SAFE_INTEGER / flags.limit) + 1;
  if (flags.page > lastPage) throw new UsageError(`--page must be at most ${lastPage} with --limit ${flags.limit}, got ${JSON.stringify(String(flags.page))}`);
  return (flags.page - 1) * flags.limit;
}

/** Whether any of the filters was given (paging aside): an empty list then says that nothing matches them. */
function filtered(flags: ListFlags): boolean {
  return [flags.tool, flags.action, flags.status, flags.actor, flags.since, flags.until].some((value) => value !== undefined);
}

export async function listExecutionsCommand(context: CommandContext, flags: ListFlags): Promise<void> {
  const offset = offsetOf(flags);
  const query = {
    tool: flags.tool,
    action: flags.action,
    status: flags.status,
    actor: flags.actor,
    since: parseTime(flags.since, "--since"),
    until: parseTime(flags.until, "--until", "end"),
    limit: flags.limit,
    offset,
  };
  const { total, items } = await withToolctl(context, (toolctl) => toolctl.executions(query));
  const pages = Math.max(1, Math.ceil(total / flags.limit));
  const page = Math.floor(offset / flags.limit) + 1;
  const envelope = listEnvelope(items, { total, limit: flags.limit, offset });
  const footer = pageFooter(envelope.page, items.length);
  await printList(
    context,
    envelope,
    () => {
      if (items.length === 0 && total === 0) return filtered(flags) ? "no executions match these filters" : "no executions yet";
      if (items.length === 0) return `nothing past row ${offset} (${total} execution${total === 1 ? "" : "s"})`;
      const rows = items.map((e) => [
        e.id,
        e.createdAt.replace("T", " ").slice(0, 19),
        `${e.tool}.${e.action}`,
        e.status,
        e.actor,
        e.costUsd === null ? "-" : `$${e.costUsd.toFixed(2)}`,
        e.durationMs === null ? "-" : `${e.durationMs}ms`,
        truncate(e.error?.message ?? "", 50),
      ]);
      return table(["ID", "CREATED (UTC)", "ACTION", "STATUS", "ACTOR", "COST", "TIME", "ERROR"], rows, (h) => context.output.color.bold(h), {
        width: context.output.width,
        flex: [7],
      });
    },
    { pager: true, footer: footer === undefined || offset % flags.limit !== 0 ? footer : `page ${page} of ${pages} · ${footer}` },
  );
}

/** "mcp (claude-code 2.1.0, session 5f1c…)": the front door a run came through. */
function originText(origin: NonNullable<Execution["origin"]>): string {
  const parts = [origin.client ? `${origin.client.name} ${origin.client.version}` : "", origin.session ? `session ${origin.session}` : ""].filter(Boolean);
  return `${origin.via}${parts.length ? ` (${parts.join(", ")})` : ""}`;
}

export async function showExecutionCommand(context: CommandContext, id: string): Promise<void> {
  const found = await withToolctl(context, (toolctl) => toolctl.execution(id));
  if (!found) throw new NotFoundError(`no execution '${id}'; see: toolctl executions`);
  if (Array.isArray(found)) throw new UsageError(`'${id}' matches several executions (${found.map((e) => e.id).join(", ")}); give more of the id`);
  const e: Execution = found;
  await context.output.page(e, () =>
    [
      `${context.output.color.bold(e.id)}  ${e.tool}.${e.action}  ${e.status}`,
      `  actor: ${e.actor}${e.origin ? `  via: ${originText(e.origin)}` : ""}`,
      `  created: ${e.createdAt}${e.startedAt ? `  started: ${e.startedAt}` : ""}${e.finishedAt ? `  finished: ${e.finishedAt}` : ""}`,
      e.durationMs === null ? "" : `  duration: ${e.durationMs}ms`,
      e.costUsd === null ? "" : `  cost: $${e.costUsd.toFixed(2)}  risk: ${e.risk}`,
      e.error ? `  error: ${e.error.message} (${e.error.code}, ${e.error.category}, exit ${e.error.exitCode})` : "",
      ...(e.error?.problems ?? []).map((problem) => `    - ${problem}`),
      `  input:\n${pretty(e.input).replace(/^/gm, "    ")}`,
      e.request ? `  request:\n${pretty(e.request).replace(/^/gm, "    ")}` : "",
      e.output !== null ? `  output:\n${pretty(e.output).replace(/^/gm, "    ")}` : "",
    ]
      .filter(Boolean)
      .join("\n"),
  );
}
