/**
 * Loading a spec: the root document from a file or URL, its version, and every file its `$ref`s reach (those in
 * data, such as examples and `x-` code samples, are not references: see structure.ts). Local files only for a
 * local spec, the spec's own origin only for a remote one, each URL through the guard. A file that cannot be
 * had is not an error here: it is noted, and only the operations that need it are left out (see refs.ts).
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { PolicyError, ToolctlError, UsageError } from "../errors.js";
import type { OutboundPolicy } from "../net/outbound-policy.js";
import { isInside, realPath } from "../util/paths.js";
import { redactUrl } from "../net/outbound-policy.js";
import { fetchRemote, readLocal } from "./fetch.js";
import { rewriteIdRefs } from "./ids.js";
import { parseSpecText, specError } from "./parse.js";
import { structuralRefs } from "./structure.js";

export type SpecDialect = "swagger2" | "openapi30" | "openapi31";

export interface LoadedSpec {
  root: Record<string, unknown>;
  /** `file:///...` or `http(s)://...`: what relative references and relative server URLs resolve against. */
  rootUrl: string;
  dialect: SpecDialect;
  /** As the document says it: "2.0", "3.0.3", "3.1.0". */
  version: string;
  /** Every loaded document by URL (no fragment), the root included. */
  documents: Map<string, unknown>;
  /** Documents a reference reaches that could not be loaded, by URL. */
  unavailable: Map<string, Unavailable>;
  isRemote: boolean;
  /** How messages name a document: a path relative to the working directory, or the URL without its query. */
  show(url: string): string;
}

export interface Unavailable {
  /** Why, as the end of "$ref ... cannot be resolved: <why>". */
  why: string;
  /** The guard or the same-origin rule refused it: nothing was fetched. */
  isRefused: boolean;
}

export interface LoadOptions {
  cwd: string;
  allowPlainHttp?: boolean;
  allowPrivateNetworks?: boolean;
  /** The directory a local spec's references must stay in (real paths), and directories inside it they must not reach. */
  confineRefs?: { root: string; except?: string[] };
  signal?: AbortSignal;
}

/** `file` (resolved through its links as far as it exists) when it is inside `root` and in none of `except`. */
function confinedPath(file: string, { root, except = [] }: { root: string; except?: string[] }): string | undefined {
  const target = realPath(file);
  if (!isInside(realPath(root), target) || except.some((dir) => isInside(realPath(dir), target))) return undefined;
  return target;
}

const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value);
const isHttpUrl = (text: string): boolean => /^https?:\/\//i.test(text);
const withoutHash = (url: string): string => url.replace(/#.*$/, "");
/** Documents read at once while crawling a remote spec's references. */
const PARALLEL_READS = 8;

function decodeFragment(fragment: string): string {
  try {
    return decodeURIComponent(fragment);
  } catch {
    return fragment;
  }
}

function detectVersion(root: unknown, shown: string): { dialect: SpecDialect; version: string } {
  if (!isRecord(root)) throw specError(shown, 'not an OpenAPI document: expected a mapping with an "openapi" or "swagger" field');
  const supported = "supported: Swagger 2.0, OpenAPI 3.0.x and 3.1.x";
  if (root.swagger !== undefined) {
    const version = String(root.swagger);
    if (version === "2.0" || version === "2") return { dialect: "swagger2", version: "2.0" };
    throw specError(shown, `unsupported version: swagger ${version} (${supported})`);
  }
  if (root.openapi !== undefined) {
    // `openapi: 3.0` unquoted in YAML is the number 3.
    const version = String(root.openapi);
    if (/^3(\.0(\.\d+)?(-[\w.]+)?)?$/.test(version)) return { dialect: "openapi30", version };
    if (/^3\.1(\.\d+)?(-[\w.]+)?$/.test(version)) return { dialect: "openapi31", version };
    throw specError(shown, `unsupported version: openapi ${version} (${supported})`);
  }
  if (root.swaggerVersion !== undefined) throw specError(shown, `unsupported version: swagger ${String(root.swaggerVersion)} (${supported})`);
  throw specError(shown, 'not an OpenAPI document: no "openapi" or "swagger" field');
}

export async function loadSpec(source: string, options: LoadOptions): Promise<LoadedSpec> {
  const isRemote = isHttpUrl(source);
  let rootUrl: string;
  try {
    rootUrl = isRemote ? new URL(source).href : /^file:/i.test(source) ? new URL(source).href : pathToFileURL(path.resolve(options.cwd, source)).href;
  } catch {
    throw new UsageError(`${source}: not a file path or an http(s) URL`);
  }
  const show = (url: string): string => {
    if (url === rootUrl) return isRemote ? redactUrl(url) : source;
    if (!url.startsWith("file:")) return redactUrl(url);
    const file = fileURLToPath(url);
    const relative = path.relative(options.cwd, file);
    return relative.startsWith("..") || path.isAbsolute(relative) ? file : relative;
  };
  const policyFor = (hosts: string[]): OutboundPolicy => ({
    allowPlainHttp: options.allowPlainHttp ?? false,
    allowPrivate: options.allowPrivateNetworks ?? false,
    allowedHosts: hosts,
  });

  // The spec itself may redirect to any public host (private ones need the option); what it refers to may not.
  // The spec's own origin is listed: with --allow-private-networks, the only private origin it may be read from.
  const fetched = isRemote ? await fetchRemote(rootUrl, policyFor(["*", new URL(rootUrl).origin]), options.signal) : await readLocal(rootUrl, source);
  const root = parseSpecText(fetched.text, show(rootUrl), fetched.url);
  const { dialect, version } = detectVersion(root, show(rootUrl));
  rootUrl = withoutHash(fetched.url);
  const origin = isRemote ? new URL(rootUrl).origin : undefined;
  if (dialect === "openapi31") rewriteIdRefs(root, rootUrl);

  const documents = new Map<string, unknown>([[rootUrl, root]]);
  const unavailable = new Map<string, Unavailable>();
  const spec: LoadedSpec = { root: root as Record<string, unknown>, rootUrl, dialect, version, documents, unavailable, isRemote, show };

  /** Why a document may not be read, or undefined when it may. */
  const refusal = (target: URL): string | undefined => {
    if (isRemote) return target.origin === origin ? undefined : `a spec from ${origin} may only refer to ${origin}`;
    if (target.protocol !== "file:") return "a local spec may only refer to local files";
    const confine = options.confineRefs;
    if (confine !== undefined && confinedPath(fileURLToPath(target), confine) === undefined) {
      return `${show(target.href)} is outside the project (${confine.root}${confine.except?.length ? `, leaving out ${confine.except.join(", ")}` : ""})`;
    }
    return undefined;
  };
  const read = async (url: string): Promise<void> => {
    const refused = refusal(new URL(url));
    if (refused !== undefined) return void unavailable.set(url, { why: refused, isRefused: true });
    if (!isRemote && !existsSync(fileURLToPath(url))) return void unavailable.set(url, { why: `${show(url)} does not exist`, isRefused: false });
    try {
      const got = isRemote
        ? await fetchRemote(url, policyFor([new URL(rootUrl).hostname, new URL(rootUrl).origin]), options.signal)
        : await readLocal(url, show(url));
      documents.set(url, parseSpecText(got.text, show(url), url));
    } catch (error) {
      if (!(error instanceof ToolctlError) || options.signal?.aborted) throw error;
      unavailable.set(url, { why: error.message, isRefused: error instanceof PolicyError });
    }
  };

  // Breadth first from the root, walking only what references reach: a file of fragments is read once, and
  // its parts are walked as they are referred to. What a walked object contains is walked with it.
  const walked = new Map<string, Set<string>>();
  const isWalked = (url: string, pointer: string): boolean => {
    const pointers = walked.get(url);
    for (let p = pointer; pointers !== undefined; p = p.slice(0, p.lastIndexOf("/"))) {
      if (pointers.has(p)) return true;
      if (p === "") break;
    }
    return false;
  };
  let frontier = [{ url: rootUrl, pointer: "" }];
  while (frontier.length > 0) {
    const next: Array<{ url: string; pointer: string }> = [];
    for (const { url, pointer } of frontier) {
      if (isWalked(url, pointer)) continue;
      walked.set(url, (walked.get(url) ?? new Set()).add(pointer));
      let node: unknown = documents.get(url);
      for (const segment of pointer === "" ? [] : pointer.split("/").slice(1)) {
        node = isRecord(node) || Array.isArray(node) ? (node as Record<string, unknown>)[segment.replace(/~1/g, "/").replace(/~0/g, "~")] : undefined;
      }
      for (const { ref } of structuralRefs(node)) {
        let target: URL;
        try {
          target = new URL(ref, url);
        } catch {
          continue; // refs.ts says so when an operation needs it
        }
        const fragment = decodeFragment(target.hash.slice(1));
        next.push({ url: withoutHash(target.href), pointer: fragment.startsWith("/") ? fragment : "" });
      }
    }
    const toRead = [...new Set(next.map((t) => t.url))].filter((url) => !documents.has(url) && !unavailable.has(url));
    for (let i = 0; i < toRead.length; i += PARALLEL_READS) await Promise.all(toRead.slice(i, i + PARALLEL_READS).map(read));
    frontier = next.filter((t) => documents.has(t.url));
  }
  return spec;
}
