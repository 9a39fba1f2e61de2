/**
 * A base URL and a request's path made one URL. The base URL's own query (Azure's `?api-version=...`) is not
 * where the path goes: it is taken off, and sent after the path with the request's own query parameters, which
 * win over a base parameter of the same name. A fragment is never sent (manifests and imports refuse one).
 */

/** The URL of `path` under `base`, without the base's query, and that query's `name=value` pairs as written. */
export function joinBase(base: string, path: string): { url: URL; baseQuery: string[] } {
  const parsed = new URL(base);
  const baseQuery = parsed.search.slice(1).split("&");
  parsed.search = "";
  parsed.hash = "";
  return { url: new URL(parsed.href.replace(/\/+$/, "") + path), baseQuery };
}

/** The query string sent: the base URL's pairs that the request does not set itself, then the request's own. */
export function mergeQuery(baseQuery: string[], own: string[]): string {
  const names = new Set(own.map(pairName));
  return [...baseQuery.filter((pair) => !names.has(pairName(pair))), ...own].filter((pair) => pair !== "").join("&");
}

function pairName(pair: string): string {
  const name = pair.split("=", 1)[0]!.replace(/\+/g, " ");
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}
