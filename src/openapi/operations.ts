/**
 * The operations of a spec, in document order: every method of every path item (path items may be `$ref`s
 * to other files), with what identifies them. Two operations sharing an operationId make the spec invalid.
 */
import { specError } from "./parse.js";
import type { LoadedSpec } from "./load.js";
import { escapeSegment, isRecord, type Located, type RefResolver } from "./refs.js";
import { operationIdentity } from "./names.js";

export const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

export interface OperationRef {
  method: (typeof METHODS)[number];
  path: string;
  /** `GET /pets/{petId}` */
  identity: string;
  operationId?: string;
  tags: string[];
  operation: Located & { node: Record<string, unknown> };
  pathItem: Located & { node: Record<string, unknown> };
}

export function collectOperations(spec: LoadedSpec, resolver: RefResolver): { operations: OperationRef[]; webhooks: number } {
  const operations: OperationRef[] = [];
  const paths = isRecord(spec.root.paths) ? spec.root.paths : {};
  for (const [path, value] of Object.entries(paths)) {
    if (!path.startsWith("/")) continue; // x-* extensions
    const item = resolver.follow(value, spec.rootUrl, `/paths/${escapeSegment(path)}`);
    if (!isRecord(item.node)) continue;
    const pathItem = item as OperationRef["pathItem"];
    for (const method of METHODS) {
      const found = item.node[method];
      if (!isRecord(found)) continue;
      const operationId = typeof found.operationId === "string" && found.operationId.trim() !== "" ? found.operationId.trim() : undefined;
      operations.push({
        method, path, identity: operationIdentity(method, path), operationId,
        tags: Array.isArray(found.tags) ? found.tags.map(String) : [],
        operation: { node: found, url: item.url, pointer: `${item.pointer}/${method}` },
        pathItem,
      });
    }
  }
  const owners = new Map<string, OperationRef>();
  for (const op of operations) {
    if (op.operationId === undefined) continue;
    const earlier = owners.get(op.operationId);
    if (earlier) throw specError(spec.show(spec.rootUrl), `duplicate operationId "${op.operationId}": ${earlier.identity} and ${op.identity}`, { operationId: op.operationId });
    owners.set(op.operationId, op);
  }
  const webhooks = isRecord(spec.root.webhooks) ? Object.keys(spec.root.webhooks).length : 0;
  return { operations, webhooks };
}
