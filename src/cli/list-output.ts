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
 * Prints a list: the envelope in JSON mode, else the human view. `pager` sends the human view through the pager
 * on a terminal (long lists: executions, audit).
 */
export async function printList<T>(
  context: CommandContext,
  envelope: ListEnvelope<T>,
  human: () => string,
  { pager = false }: { pager?: boolean } = {},
): Promise<void> {
  if (pager) await context.output.page(envelope, human);
  else context.output.data(envelope, human);
}
