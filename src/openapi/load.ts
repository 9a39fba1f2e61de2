/**
 * Loading a spec: the root document from a file or URL, its version, and every file its `$ref`s reach.
 * json-schema-ref-parser crawls the references, but reads and parses only through the hooks given here:
 * local files only for a local spec, the spec's own origin only for a remote one, each URL through the guard.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { $RefParser } from "@apidevtools/json-schema-ref-parser";
import { PolicyError, UsageError } from "../errors.js";
import type { OutboundPolicy } from "../runners/http/guard.js";
import { redactUrl } from "../runners/http/guard.js";
import { fetchRemote, readLocal } from "./fetch.js";
import { rewriteIdRefs } from "./ids.js";
import { parseSpecText, specError } from "./parse.js";

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
  isRemote: boolean;
  /** How messages name a document: a path relative to the working directory, or the URL without its query. */
  show(url: string): string;
}

export interface LoadOptions {
  cwd: string;
  allowPlainHttp?: boolean;
  allowPrivateNetworks?: boolean;
  signal?: AbortSignal;
}

const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value);
const isHttpUrl = (text: string): boolean => /^https?:\/\//i.test(text);
const withoutHash = (url: string): string => url.replace(/#.*$/, "");

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

/** Every `$ref` string that leaves its document. */
function externalRefs(document: unknown): string[] {
  const refs: string[] = [];
  // YAML aliases can share (or loop) values; JSON never does, but the check is cheap.
  const seen = new Set<object>();
  const stack: object[] = [document as object];
  while (stack.length > 0) {
    const node = stack.pop() as Record<string, unknown>;
    if (seen.has(node)) continue;
    seen.add(node);
    for (const key in node) {
      const value = node[key];
      if (typeof value === "object" && value !== null) stack.push(value);
      else if (key === "$ref" && typeof value === "string" && value.charCodeAt(0) !== 35 /* # */) refs.push(value);
    }
  }
  return refs;
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
  const spec: LoadedSpec = { root: root as Record<string, unknown>, rootUrl, dialect, version, documents, isRemote, show };

  /** Where a reference may go: a local spec to local files, a remote one to its own origin only. */
  const checkTarget = (ref: string, from: string): void => {
    let target: URL;
    try {
      target = new URL(ref, from);
    } catch {
      throw specError(show(from), `$ref "${ref}" is not a valid reference`);
    }
    const url = withoutHash(target.href);
    if (isRemote) {
      if (target.origin !== origin) {
        throw new PolicyError("url_blocked", `${show(from)}: $ref "${ref}" refused: a spec from ${origin} may only refer to ${origin}`, { ref, file: show(from) });
      }
    } else if (target.protocol !== "file:") {
      throw new PolicyError("url_blocked", `${show(from)}: $ref "${ref}" refused: a local spec may only refer to local files`, { ref, file: show(from) });
    } else if (!existsSync(fileURLToPath(url))) {
      throw specError(show(from), `$ref "${ref}" cannot be resolved: ${show(url)} does not exist`, { ref });
    }
  };
  const checkAll = (document: unknown, from: string): boolean => {
    const refs = externalRefs(document);
    for (const ref of refs) checkTarget(ref, from);
    return refs.length > 0;
  };
  // Most specs are one file: then the crawl is skipped altogether.
  if (!checkAll(root, rootUrl)) return spec;

  let failure: unknown;
  const fail = (error: unknown): never => {
    failure ??= error;
    throw error;
  };
  // ref-parser hands over file paths percent-encoded, or URLs; the documents map is keyed by URL.
  const urlOf = (given: string): string => withoutHash(isHttpUrl(given) || /^file:/i.test(given) ? new URL(given).href : pathToFileURL(decodeURI(given)).href);
  const parser = new $RefParser();
  try {
    await parser.resolve(isRemote ? rootUrl : fileURLToPath(rootUrl), root as object, {
      continueOnError: false,
      resolve: {
        external: true,
        file: false,
        http: false,
        guarded: {
          order: 1,
          canRead: true,
          read: async (file: { url: string }) => {
            try {
              const url = urlOf(file.url);
              if (isRemote ? new URL(url).origin !== origin : !url.startsWith("file:")) {
                throw new PolicyError("url_blocked", `URL blocked: ${show(url)} is outside the spec's origin`, { url: show(url) });
              }
              const got = isRemote ? await fetchRemote(url, policyFor([new URL(rootUrl).hostname, new URL(rootUrl).origin]), options.signal) : await readLocal(url, show(url));
              return got.text;
            } catch (error) {
              return fail(error);
            }
          },
        },
      },
      parse: {
        json: false,
        yaml: false,
        text: false,
        binary: false,
        spec: {
          order: 1,
          canParse: true,
          allowEmpty: false,
          parse: (file: { url: string; data: unknown }) => {
            try {
              const url = urlOf(file.url);
              const value = parseSpecText(String(file.data), show(url), url);
              checkAll(value, url);
              documents.set(url, value);
              return value;
            } catch (error) {
              return fail(error);
            }
          },
        },
      },
    });
  } catch (error) {
    if (failure !== undefined) throw failure;
    throw specError(show(rootUrl), `cannot resolve its references: ${(error as Error).message.split("\n")[0]}`);
  }
  return spec;
}
