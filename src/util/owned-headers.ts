/**
 * Request headers the HTTP client (net/client.ts) sets itself, whatever a caller asks: framing and routing
 * (Host, Content-Length, Transfer-Encoding) and the connection's own headers (RFC 9110 §7.6.1). The client
 * drops a caller's value for any of them; so that a dry run never shows one that is not sent, a manifest may not
 * name them and an OpenAPI import leaves such parameters out. Each maps to what the client does instead.
 */
const ONE_CONNECTION = "it opens one connection per request and closes it after the answer";

export const CLIENT_OWNED_HEADERS: Readonly<Record<string, string>> = {
  host: "it sends the URL's host",
  "content-length": "it sends the body's own length",
  "transfer-encoding": "it sends the body whole, with its length",
  connection: ONE_CONNECTION,
  "keep-alive": ONE_CONNECTION,
  "proxy-connection": ONE_CONNECTION,
  te: "it asks for no transfer coding",
  trailer: "it sends no trailer",
  upgrade: "it never switches protocols",
};

/** What the client does in place of this header (any case), or undefined when the header is the caller's to set. */
export function clientOwnedHeader(name: string): string | undefined {
  const lower = name.toLowerCase();
  return Object.hasOwn(CLIENT_OWNED_HEADERS, lower) ? CLIENT_OWNED_HEADERS[lower] : undefined;
}
