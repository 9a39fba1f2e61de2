/**
 * Resolving `$ref`s against the loaded documents. Every value keeps the URL of the document it lives in,
 * because a relative reference inside it resolves against that document, not against the root. A reference
 * that cannot be resolved throws when, and only when, something needs it: the operation that does is left
 * out, and the others are imported.
 */
import { PolicyError } from "../errors.js";
import type { LoadedSpec } from "./load.js";
import { specError } from "./parse.js";

export interface Located {
  node: unknown;
  /** The document's URL, without fragment. */
  url: string;
  /** JSON pointer inside that document ("" for its root). */
  pointer: string;
}

const MAX_REF_CHAIN = 32;

function decodeFragment(fragment: string): string {
  try {
    return decodeURIComponent(fragment);
  } catch {
    return fragment;
  }
}

export const unescapeSegment = (segment: string): string => segment.replace(/~1/g, "/").replace(/~0/g, "~");
export const escapeSegment = (segment: string): string => segment.replace(/~/g, "~0").replace(/\//g, "~1");
export const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value);

export class RefResolver {
  constructor(private readonly spec: LoadedSpec) {}

  /** What a reference written in document `from` points at. A target that does not exist is a spec error naming both. */
  resolve(ref: string, from: string): Located {
    let url = from;
    let fragment: string;
    if (ref.startsWith("#")) {
      fragment = ref.slice(1);
    } else {
      let target: URL;
      try {
        target = new URL(ref, from);
      } catch {
        throw specError(this.spec.show(from), `$ref "${ref}" is not a valid reference`, { ref });
      }
      fragment = target.hash.slice(1);
      url = target.href.replace(/#.*$/, "");
    }
    const pointer = decodeFragment(fragment);
    const missing = (why: string) => specError(this.spec.show(from), `$ref "${ref}" cannot be resolved: ${why}`, { ref });
    if (pointer !== "" && !pointer.startsWith("/")) throw missing(`no $anchor "${pointer}" in ${this.spec.show(url)}`);
    const document = this.spec.documents.get(url);
    if (document === undefined) {
      const unavailable = this.spec.unavailable.get(url);
      if (unavailable?.isRefused) {
        throw new PolicyError("url_blocked", `${this.spec.show(from)}: $ref "${ref}" refused: ${unavailable.why}`, { ref, file: this.spec.show(from) });
      }
      throw missing(unavailable?.why ?? `${this.spec.show(url)} was not loaded`);
    }
    let node: unknown = document;
    let at = "";
    for (const raw of pointer === "" ? [] : pointer.split("/").slice(1)) {
      const segment = unescapeSegment(raw);
      if (node === null || typeof node !== "object" || !Object.hasOwn(node, segment)) {
        throw missing(`no "${segment}" at ${this.spec.show(url)}#${at || "/"}`);
      }
      node = (node as Record<string, unknown>)[segment];
      at += `/${raw}`;
    }
    return { node, url, pointer: at };
  }

  /** Follows `$ref`s of non-schema objects (parameters, bodies, responses, path items) to the object itself. */
  follow(node: unknown, url: string, pointer: string): Located {
    let current: Located = { node, url, pointer };
    for (let hops = 0; isRecord(current.node) && typeof current.node.$ref === "string"; hops++) {
      if (hops >= MAX_REF_CHAIN) throw specError(this.spec.show(current.url), `$ref "${current.node.$ref}" is part of a reference loop`);
      current = this.resolve(current.node.$ref, current.url);
    }
    return current;
  }

  /** `key` identifies a target across documents: the same schema reached by two spellings is one definition. */
  key(located: Located): string {
    return `${located.url}#${located.pointer}`;
  }
}
