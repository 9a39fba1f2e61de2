/**
 * The checks a request passes before any route sees it, and the headers every response carries. Each check
 * returns the reason for a refusal (or undefined): the server answers, audits and stops there.
 */
import type { IncomingMessage } from "node:http";

/**
 * On every response. `Referrer-Policy: same-origin` rather than `no-referrer`: under `no-referrer` browsers send
 * `Origin: null` with a form's POST, and the Origin check would have nothing to check; `same-origin` still
 * sends nothing to any other site.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
  "cache-control": "no-store",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

const MAX_FORM_BYTES = 16 * 1024;

/** `Host` must be one of this server's own names with its port: any other is DNS rebinding. */
export function hostRefusal(req: IncomingMessage, hosts: Set<string>): string | undefined {
  const host = req.headers.host ?? "";
  return hosts.has(host.toLowerCase()) ? undefined : `forbidden: Host ${JSON.stringify(host)} is not this server`;
}

/**
 * A POST must come from one of this server's pages: its `Origin` (else its `Referer`) names this server, and the
 * browser's `Sec-Fetch-Site`, when sent, says same-origin.
 */
export function originRefusal(req: IncomingMessage, hosts: Set<string>): string | undefined {
  const { origin, referer } = req.headers;
  const from = origin !== undefined && origin !== "null" ? hostOf(origin) : referer !== undefined ? hostOf(referer) : undefined;
  if (from === undefined || !hosts.has(from)) return `forbidden: a form may be sent only from this server's pages (Origin ${JSON.stringify(origin ?? null)})`;
  const site = req.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin") return `forbidden: a form may be sent only from this server's pages (Sec-Fetch-Site ${site})`;
  return undefined;
}

export function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return value.join("=");
  }
  return undefined;
}

/** The host:port of an Origin or Referer header, when it is an http URL. */
function hostOf(value: string): string | undefined {
  try {
    const url = new URL(value);
    return url.protocol === "http:" ? url.host.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

/** A POST's body, when it is a plain form of a sensible size; else why not. */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams | string> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") return `not a form (Content-Type ${JSON.stringify(type)})`;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) return `form over ${MAX_FORM_BYTES} bytes`;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}
