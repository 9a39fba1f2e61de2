/**
 * The one JSON shape of every list command: `{ "items": [...], "page": { total, limit, offset, next } }`.
 * `total` counts every item the filters match, `next` is the `--offset` of the next page (null on the last one),
 * and a list that is not paged has `limit: null`, `offset: 0` and `next: null`.
 */
import type { CommandContext } from "./program.js";

export interface PageInfo {
  total: number;
  limit: number | null;
  offset: number;
  next: number | null;
}

export interface ListEnvelope<T> {
  items: T[];
  page: PageInfo;
}

/** The envelope of one page of a list; without `paging`, the whole list. */
export function listEnvelope<T>(items: T[], paging?: { total: number; limit: number; offset: number }): ListEnvelope<T> {
  if (!paging) return { items, page: { total: items.length, limit: null, offset: 0, next: null } };
  const { total, limit, offset } = paging;
  return { items, page: { total, limit, offset, next: offset + limit < total ? offset + limit : null } };
}

/**
 * The footer of a page of a paged list (executions, audit, plan-runs): which rows these are and, when there are
 * more, the `--offset` of the next (older) page. Undefined for an empty page.
 */
export function pageFooter(page: PageInfo, shown: number): string | undefined {
  if (shown === 0) return undefined;
  const rows = `rows ${page.offset + 1}-${page.offset + shown} of ${page.total}`;
  return page.next === null ? rows : `${rows} · older: --offset ${page.next}`;
}

/**
 * Prints a list: the envelope in JSON mode, else the human view. `pager` sends the human view through the pager
 * on a terminal (long lists: executions, audit). `footer` is a note, not data: it goes to stderr after the list
 * (so `| wc -l` counts rows only), and not at all with --quiet or --json.
 */
export async function printList<T>(
  context: CommandContext,
  envelope: ListEnvelope<T>,
  human: () => string,
  { pager = false, footer }: { pager?: boolean; footer?: string } = {},
): Promise<void> {
  if (pager) await context.output.page(envelope, human);
  else context.output.data(envelope, human);
  if (footer !== undefined) context.output.info(context.output.color.dim(footer));
}
