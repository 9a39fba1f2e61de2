/**
 * OpenAPI 3.1 schemas are JSON Schema 2020-12: a schema with `$id` starts a resource that references can
 * name (`/schemas/pet#name`, `#name` for an `$anchor`). Such references are rewritten in place to plain
 * pointers into the document, so everything downstream resolves one kind of reference.
 * A `#/...` pointer is taken inside its enclosing resource when it exists there, else in the document,
 * which is what OpenAPI authors mean by it.
 */
import { walkStructure } from "./structure.js";

interface Holder {
  node: Record<string, unknown>;
  base: string;
  resource: string;
}

const toFragment = (pointer: string): string =>
  `#${pointer
    .split("/")
    .map((s) => encodeURIComponent(s).replace(/%7E/gi, "~"))
    .join("/")}`;
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
  // Only where schemas can be: an `$id` or `$ref` inside an example or a const is data.
  walkStructure(document, "", { base: documentUrl, resource: "" }, (record, pointer, state) => {
    let { base, resource } = state;
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
    return base === state.base && resource === state.resource ? state : { base, resource };
  });
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
