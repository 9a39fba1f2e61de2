/**
 * Where an imported tool sends its requests: `servers[0]` with its variables' defaults (Swagger 2: schemes,
 * host and basePath), or the base URL given on the command line. Every server's host goes on the allow-list.
 */
import { UsageError } from "../errors.js";
import type { LoadedSpec } from "./load.js";
import { isRecord } from "./refs.js";

export interface BaseUrlChoice {
  baseUrl: string;
  /** The spec's own base URL when one was given instead: an operation whose server is that one follows the given one. */
  specBaseUrl?: string;
  isGiven: boolean;
  allowedHosts: string[];
  warnings: string[];
}

/** Combinations of a server's enum variables tried for the allow-list, at most. */
const MAX_EXPANSIONS = 32;

interface Server {
  url: string;
  variables: Record<string, { default: string; values: string[] }>;
}

function readServers(value: unknown): Server[] {
  if (!Array.isArray(value)) return [];
  return value
    .filter(isRecord)
    .filter((s) => typeof s.url === "string")
    .map((s) => ({
      url: s.url as string,
      variables: Object.fromEntries(
        Object.entries(isRecord(s.variables) ? s.variables : {})
          .filter(([, v]) => isRecord(v))
          .map(([name, v]) => {
            const variable = v as Record<string, unknown>;
            const values = Array.isArray(variable.enum) ? variable.enum.map(String) : [];
            return [name, { default: variable.default !== undefined ? String(variable.default) : (values[0] ?? ""), values }];
          }),
      ),
    }));
}

function substitute(url: string, values: Record<string, string>): string {
  return url.replace(/\{([^{}]+)\}/g, (whole, name: string) => values[name] ?? whole);
}

/**
 * A server URL made absolute (a relative one against the spec's own URL), or undefined when it cannot be. A
 * protocol-relative one (`//api.example.com/v1`) is https, whatever the spec was fetched over.
 */
function absolute(url: string, spec: LoadedSpec): URL | undefined {
  const resolved = parsed(url, spec);
  return resolved && !/\{[^{}]*\}/.test(url) && (resolved.protocol === "https:" || resolved.protocol === "http:") ? resolved : undefined;
}

function parsed(url: string, spec: LoadedSpec): URL | undefined {
  const withScheme = url.startsWith("//") ? `https:${url}` : url;
  try {
    return spec.isRemote ? new URL(withScheme, spec.rootUrl) : new URL(withScheme);
  } catch {
    return undefined;
  }
}

/**
 * Why a server URL (its variables' defaults put in) cannot be a base URL, in words that end "server "..." ...":
 * a variable it does not define, a scheme other than http(s), a relative URL in a local file.
 */
function unusable(written: string, substituted: string, spec: LoadedSpec): string {
  const names = [...substituted.matchAll(/\{([^{}]*)\}/g)].map((m) => `{${m[1]}}`);
  if (names.length > 0) return `uses ${names.join(", ")}, which its variables do not define`;
  const url = parsed(substituted, spec);
  if (url !== undefined && url.protocol !== "https:" && url.protocol !== "http:") return `is not an http(s) URL (${url.protocol.slice(0, -1)})`;
  if (url === undefined && !spec.isRemote && !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(written)) return "is relative";
  return "is not a valid URL";
}

/**
 * A URL as a base URL: no trailing slash on its path and no fragment (a fragment is never sent); a query is
 * kept, and sent after the path of every request.
 */
function asBase(url: URL): string {
  const copy = new URL(url.href);
  copy.hash = "";
  const search = copy.search;
  copy.search = "";
  return copy.href.replace(/\/+$/, "") + search;
}

const fragmentDropped = (written: string, url: URL): string => `the server URL "${written}" has a fragment (${url.hash}), which is never sent: it is left out`;

/**
 * The servers of a 3.x document, a path item or an operation, as absolute base URLs with default variables, or
 * why one cannot be; `warning` when a fragment was left out.
 */
export function serverUrls(value: unknown, spec: LoadedSpec): Array<{ url: string; warning?: string } | { problem: string }> {
  return readServers(value).map((server) => {
    const defaults = Object.fromEntries(Object.entries(server.variables).map(([name, v]) => [name, v.default]));
    const substituted = substitute(server.url, defaults);
    const url = absolute(substituted, spec);
    if (url === undefined) return { problem: `server ${JSON.stringify(server.url)} ${unusable(server.url, substituted, spec)}` };
    return { url: asBase(url), ...(url.hash !== "" ? { warning: fragmentDropped(server.url, url) } : {}) };
  });
}

const urlOf = (server: { url: string } | { problem: string } | undefined): string | undefined => (server && "url" in server ? server.url : undefined);

function allHosts(servers: Server[], spec: LoadedSpec): string[] {
  const hosts = new Set<string>();
  for (const server of servers) {
    let combinations: Array<Record<string, string>> = [{}];
    for (const [name, variable] of Object.entries(server.variables)) {
      const values = [...new Set([variable.default, ...variable.values])];
      combinations = combinations.flatMap((c) => values.map((value) => ({ ...c, [name]: value }))).slice(0, MAX_EXPANSIONS);
    }
    for (const values of combinations) {
      const url = absolute(substitute(server.url, values), spec);
      if (url) hosts.add(url.hostname);
    }
  }
  return [...hosts];
}

function swaggerBase(spec: LoadedSpec): string | undefined {
  const root = spec.root;
  const schemes = Array.isArray(root.schemes) ? root.schemes.map(String) : [];
  const fromSpec = spec.isRemote ? new URL(spec.rootUrl) : undefined;
  const scheme = schemes.includes("https") ? "https" : schemes.includes("http") ? "http" : (fromSpec?.protocol.slice(0, -1) ?? "https");
  const host = typeof root.host === "string" && root.host !== "" ? root.host : fromSpec?.host;
  if (host === undefined) return undefined;
  const basePath = typeof root.basePath === "string" ? root.basePath : "/";
  try {
    return asBase(new URL(`${scheme}://${host}${basePath.startsWith("/") ? "" : "/"}${basePath}`));
  } catch {
    return undefined;
  }
}

export function chooseBaseUrl(spec: LoadedSpec, given: string | undefined, allowPlainHttp: boolean): BaseUrlChoice {
  const warnings: string[] = [];
  let baseUrl: string;
  let allowedHosts: string[];
  let specBaseUrl: string | undefined;
  if (given !== undefined) {
    let url: URL;
    try {
      url = new URL(given);
    } catch {
      throw new UsageError(`base URL "${given}" is not a URL`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new UsageError(`base URL "${given}" must be http or https`);
    if (url.hash !== "") throw new UsageError(`--base-url "${given}" has a fragment (${url.hash}), which is never sent; leave it out`);
    baseUrl = asBase(url);
    allowedHosts = [url.hostname];
    specBaseUrl = spec.dialect === "swagger2" ? swaggerBase(spec) : urlOf(serverUrls(spec.root.servers, spec)[0]);
  } else if (spec.dialect === "swagger2") {
    const base = swaggerBase(spec);
    if (base === undefined) throw noBase(spec, 'the spec has no "host"');
    baseUrl = base;
    allowedHosts = [new URL(base).hostname];
  } else {
    const servers = readServers(spec.root.servers);
    const first = serverUrls(spec.root.servers, spec)[0];
    // No servers: the spec's own origin when it was fetched (OpenAPI's default server is "/").
    const fallback = first === undefined && spec.isRemote ? absolute("/", spec) : undefined;
    if (first === undefined && fallback === undefined) throw noBase(spec, "the spec has no servers");
    if (first !== undefined && "problem" in first) throw noBase(spec, `its first ${first.problem}`);
    const url = first?.url ?? asBase(fallback!);
    if (first?.warning) warnings.push(first.warning);
    baseUrl = url;
    allowedHosts = [...new Set([new URL(url).hostname, ...allHosts(servers, spec)])];
  }
  if (baseUrl.startsWith("http:") && !allowPlainHttp) {
    warnings.push(`the base URL ${baseUrl} is plain HTTP: runs are refused unless the tool allows plain HTTP (http.allowPlainHttp)`);
  }
  return { baseUrl, specBaseUrl, isGiven: given !== undefined, allowedHosts, warnings };
}

function noBase(spec: LoadedSpec, why: string): UsageError {
  return new UsageError(`${spec.show(spec.rootUrl)}: no base URL: ${why}; pass one (--base-url https://...)`, { reason: "no_base_url" });
}
