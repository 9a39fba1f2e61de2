/**
 * Importing a subset: operations with one of some tags, named ones (by operationId or action name), or those
 * under a path prefix. Filters that select nothing, or name an operation the spec does not have, are errors.
 */
import { UsageError } from "../errors.js";
import { suggest } from "../util/suggest.js";
import type { OperationRef } from "./operations.js";

export interface FilterOptions {
  tags?: string[];
  operations?: string[];
  pathPrefix?: string;
}

/** Why an operation is not selected by the filters, or undefined when it is. */
export function filterReason(op: OperationRef, name: string, options: FilterOptions): string | undefined {
  if (options.tags && options.tags.length > 0) {
    const wanted = new Set(options.tags.map((t) => t.toLowerCase()));
    if (!op.tags.some((t) => wanted.has(t.toLowerCase()))) return `not selected: no tag ${options.tags.join(" or ")}`;
  }
  if (options.operations && options.operations.length > 0 && !options.operations.some((o) => o === op.operationId || o === name)) {
    return "not selected: not among the operations asked for";
  }
  if (options.pathPrefix !== undefined && !op.path.startsWith(options.pathPrefix)) return `not selected: path does not start with ${options.pathPrefix}`;
  return undefined;
}

/**
 * A name in `operations` that matches nothing, or filters that select nothing, is a usage error; its `option`
 * detail names the filter (`operations`, `tags` or `pathPrefix`), so a caller can point at where it was given.
 */
export function checkFilters(operations: OperationRef[], names: string[], selected: number, options: FilterOptions, source: string): void {
  const unknown = (options.operations ?? []).filter((o) => !operations.some((op, i) => op.operationId === o || names[i] === o));
  if (unknown.length > 0) {
    const hint = suggest(unknown[0]!, [...names, ...operations.flatMap((op) => op.operationId ?? [])]);
    throw new UsageError(`${source}: no operation ${unknown.map((o) => `'${o}'`).join(", ")}${hint ? ` (did you mean '${hint}'?)` : ""}`, {
      option: "operations",
    });
  }
  if (selected > 0) return;
  const asked = [
    options.tags?.length ? `tag ${options.tags.join(", ")}` : "",
    options.operations?.length ? `operation ${options.operations.join(", ")}` : "",
    options.pathPrefix !== undefined ? `path prefix ${options.pathPrefix}` : "",
  ].filter(Boolean);
  const tags = [...new Set(operations.flatMap((op) => op.tags))].sort();
  const known = options.tags?.length ? ` (tags in this spec: ${tags.length > 0 ? tags.join(", ") : "none"})` : "";
  const option = options.tags?.length ? "tags" : options.operations?.length ? "operations" : "pathPrefix";
  throw new UsageError(`${source}: no operation matches ${asked.join(" and ")}${known}`, { option });
}
