/**
 * The operations of a spec, in document order: every method of every path item. Path items and operations may
 * be `$ref`s (to other files, as in specs split one operation per file); one that cannot be resolved is kept
 * with the error, so that it is reported as left out rather than imported hollow. A path item that cannot be
 * resolved has no known methods: it stands for itself, with the method `*`. Two operations sharing an
 * operationId make the spec invalid.
 */
import { ToolctlError } from "../errors.js";
import { specError } from "./parse.js";
import type { LoadedSpec } from "./load.js";
import { escapeSegment, isRecord, type Located, type RefResolver } from "./refs.js";
import { operationIdentity } from "./names.js";

export const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

export interface OperationRef {
  method: (typeof METHODS)[number] | "*";
  path: string;
  /** `GET /pets/{petId}` */
  identity: string;
  operationId?: string;
  tags: string[];
  operation: Located & { node: Record<string, unknown> };
  pathItem: Located & { node: Record<string, unknown> };
  /** Why the operation (or its path item) could not be resolved: it is reported, not converted. */
  unresolved?: ToolctlError;
}

/** Follows a `$ref`, or returns the error saying why it cannot be followed. */
function followOrFail(resolver: RefResolver, node: unknown, url: string, pointer: string): Located | ToolctlError {
  try {
    return resolver.follow(node, url, pointer);
  } catch (error) {
    if (error instanceof ToolctlError) return error;
    throw error;
  }
}

export function collectOperations(spec: LoadedSpec, resolver: RefResolver): { operations: OperationRef[]; webhooks: number } {
  const operations: OperationRef[] = [];
  const paths = isRecord(spec.root.paths) ? spec.root.paths : {};
  for (const [path, value] of Object.entries(paths)) {
    if (!path.startsWith("/")) continue; // x-* extensions
    const pointer = `/paths/${escapeSegment(path)}`;
    const item = followOrFail(resolver, value, spec.rootUrl, pointer);
    if (item instanceof ToolctlError) {
      const here = { node: {}, url: spec.rootUrl, pointer };
      operations.push({ method: "*", path, identity: operationIdentity("*", path), tags: [], operation: here, pathItem: here, unresolved: item });
      continue;
    }
    if (!isRecord(item.node)) continue;
    const pathItem = item as OperationRef["pathItem"];
    for (const method of METHODS) {
      if (!isRecord(item.node[method])) continue;
      const found = followOrFail(resolver, item.node[method], item.url, `${item.pointer}/${method}`);
      const identity = operationIdentity(method, path);
      if (found instanceof ToolctlError || !isRecord(found.node)) {
        const unresolved = found instanceof ToolctlError ? found : specError(spec.show(item.url), `${identity}: the operation is not an object`);
        operations.push({
          method,
          path,
          identity,
          tags: [],
          operation: { node: {}, url: item.url, pointer: `${item.pointer}/${method}` },
          pathItem,
          unresolved,
        });
        continue;
      }
      const node = found.node;
      const operationId = typeof node.operationId === "string" && node.operationId.trim() !== "" ? node.operationId.trim() : undefined;
      operations.push({
        method,
        path,
        identity,
        operationId,
        tags: Array.isArray(node.tags) ? node.tags.map(String) : [],
        operation: found as OperationRef["operation"],
        pathItem,
      });
    }
  }
  const owners = new Map<string, OperationRef>();
  for (const op of operations) {
    if (op.operationId === undefined) continue;
    const earlier = owners.get(op.operationId);
    if (earlier)
      throw specError(spec.show(spec.rootUrl), `duplicate operationId "${op.operationId}": ${earlier.identity} and ${op.identity}`, {
        operationId: op.operationId,
      });
    owners.set(op.operationId, op);
  }
  const webhooks = isRecord(spec.root.webhooks) ? Object.keys(spec.root.webhooks).length : 0;
  return { operations, webhooks };
}
