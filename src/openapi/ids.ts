/**
 * OpenAPI 3.1 schemas are JSON Schema 2020-12: a schema with `$id` starts a resource that references can
 * name (`/schemas/pet#name`, `#name` for an `$anchor`). Such references are rewritten in place to plain
 * pointers into the document, so everything downstream resolves one kind of reference.
 * A `#/...` pointer is taken inside its enclosing resource when it exists there, else in the document,
 * which is what OpenAPI authors mean by it.
 */

interface Holder {
  node: Record<string, unknown>;
  base: string;
  resource: string;
}

const escapeSegment = (segment: string): string => segment.replace(/~/g, "~0").replace(/\//g, "~1");
const toFragment = (pointer: string): string => `#${pointer.split("/").map((s) => encodeURIComponent(s).replace(/%7E/gi, "~")).join("/")}`;
const withoutHash = (url: string): string => url.replace(/#.*$/, "");

function decodeFragment(fragment: string): string {
  try {
    return decodeURIComponent(fragment);
  } catch {
    return fragment;
  }
}

function pointerExists(document: unknown, pointer: string): boolean {
  let node = document;
  for (const raw of pointer.split("/").slice(1)) {
    const segment = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (node === null || typeof node !== "object" || !Object.hasOwn(node, segment)) return false;
    node = (node as Record<string, unknown>)[segment];
  }
  return true;
}

/** Rewrites `$id`- and `$anchor`-based references of one document in place. Returns how many it rewrote. */
export function rewriteIdRefs(document: unknown, documentUrl: string): number {
  const resources = new Map<string, string>([[documentUrl, ""]]);
  const anchors = new Map<string, string>();
  const holders: Holder[] = [];
  let hasIds = false;
  const seen = new Set<object>();
  const walk = (node: unknown, pointer: string, base: string, resource: string): void => {
    if (node === null || typeof node !== "object" || seen.has(node)) return;
    seen.add(node);
    if (Array.isArray(node)) {
      node.forEach((item, index) => walk(item, `${pointer}/${index}`, base, resource));
      return;
    }
    const record = node as Record<string, unknown>;
    if (typeof record.$id === "string" && pointer !== "") {
      try {
        base = withoutHash(new URL(record.$id, base).href);
        resources.set(base, pointer);
        resource = pointer;
        hasIds = true;
      } catch {
        // Not a URI reference: left alone, like any other unknown keyword.
      }
    }
    if (typeof record.$anchor === "string") {
      anchors.set(`${base}#${record.$anchor}`, pointer);
      hasIds = true;
    }
    if (typeof record.$ref === "string") holders.push({ node: record, base, resource });
    for (const [key, value] of Object.entries(record)) walk(value, `${pointer}/${escapeSegment(key)}`, base, resource);
  };
  walk(document, "", documentUrl, "");
  if (!hasIds) return 0;

  let rewritten = 0;
  for (const holder of holders) {
    const ref = holder.node.$ref as string;
    let target: string | undefined;
    if (ref.startsWith("#/") || ref === "#") {
      const inside = holder.resource + decodeFragment(ref.slice(1));
      if (holder.resource !== "" && pointerExists(document, inside)) target = inside;
    } else {
      let url: URL;
      try {
        url = new URL(ref, holder.base);
      } catch {
        continue;
      }
      const resource = resources.get(withoutHash(url.href));
      const fragment = decodeFragment(url.hash.slice(1));
      if (resource === undefined) continue;
      if (fragment === "" || fragment.startsWith("/")) target = resource + fragment;
      else target = anchors.get(`${withoutHash(url.href)}#${fragment}`);
    }
    if (target !== undefined && target !== ref.slice(1)) {
      holder.node.$ref = toFragment(target);
      rewritten++;
    }
  }
  return rewritten;
}
