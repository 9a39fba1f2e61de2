/**
 * One outbound HTTP exchange with SSRF protection (reliability.md §1): every hop is checked statically
 * (checkUrl), every DNS answer is checked, and the socket is pinned to the vetted address so a second,
 * rebinding DNS answer can never be used. node:http(s) directly: undici costs ~120 ms to load.
 */
import type { ClientRequest, IncomingMessage, RequestOptions } from "node:http";
import type { LookupAddress } from "node:dns";
import { PolicyError } from "../errors.js";
import { checkResolvedAddress, checkUrl, redactUrl, type OutboundPolicy } from "./outbound-policy.js";
import { CLIENT_OWNED_HEADERS } from "../util/owned-headers.js";

export class HttpTransportError extends Error {
  readonly category: "network" | "timeout";
  readonly mayHaveBeenSent: boolean;
  /**
   * Whether asking again may go otherwise (a refused or dropped connection, a timeout). A redirect loop or an answer
   * over the size cap comes back the same: retrying it only sends the request again.
   */
  readonly transient: boolean;
  constructor(message: string, category: "network" | "timeout", mayHaveBeenSent: boolean, options: { cause?: unknown; transient?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HttpTransportError";
    this.category = category;
    this.mayHaveBeenSent = mayHaveBeenSent;
    this.transient = options.transient ?? true;
  }
}

export interface HttpRequestSpec {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  timeoutMs: number;
  maxResponseBytes?: number;
  /** Headers that carry secrets besides Authorization and Cookie (an API key header): dropped on a cross-origin redirect. */
  sensitiveHeaders?: string[];
}
export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
  url: string;
  redirects: string[];
  remoteAddress: string;
}
export type LookupFn = (hostname: string) => Promise<Array<{ address: string; family: 4 | 6 }>>;
export interface SendOptions {
  signal?: AbortSignal;
  lookup?: LookupFn;
  onSent?: () => void;
}

const DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024;
const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);
const CREDENTIAL_HEADERS = ["authorization", "cookie", "proxy-authorization"];
const BODY_HEADERS = ["content-type", "content-encoding", "content-language", "content-location"];
// Framing, routing and the connection are ours: a caller's Host could address a different virtual host than the
// one vetted, a caller's Transfer-Encoding next to our Content-Length would make the request ambiguous, and a
// caller's Connection or Upgrade would keep or switch a connection we close. Manifests cannot name them (so a dry
// run never shows one); a caller's value is still dropped here.
const OWNED_HEADERS = Object.keys(CLIENT_OWNED_HEADERS);

/** Mutable across hops: once any hop's socket connected, the side effect may have happened. */
interface ExchangeState {
  sent: boolean;
  notified: boolean;
  timeoutMs: number;
}

interface Pinned {
  address: string;
  family: 4 | 6;
}

type AbortErrorWithFlag = Error & { mayHaveBeenSent: boolean };

function abortError(sent: boolean): AbortErrorWithFlag {
  const err = new Error("the HTTP request was aborted") as AbortErrorWithFlag;
  err.name = "AbortError";
  err.mayHaveBeenSent = sent;
  return err;
}

function stopError(signal: AbortSignal, state: ExchangeState): Error {
  if (signal.reason === "timeout") {
    return new HttpTransportError(`request timed out after ${state.timeoutMs} ms`, "timeout", state.sent);
  }
  return abortError(state.sent);
}

function withoutHeaders(headers: Record<string, string>, names: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !names.includes(k.toLowerCase())));
}

async function systemLookup(hostname: string): Promise<Array<{ address: string; family: 4 | 6 }>> {
  const dns = await import("node:dns/promises");
  const answers = await dns.lookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
}

async function resolvePinned(url: URL, policy: OutboundPolicy, lookup: LookupFn, signal: AbortSignal, state: ExchangeState): Promise<Pinned> {
  const host = url.hostname;
  // IP literals never reach a lookup hook (§1.2); checkUrl has already classified them.
  if (host.startsWith("[")) return { address: host.slice(1, -1), family: 6 };
  if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) return { address: host, family: 4 };

  let answers: Array<{ address: string; family: 4 | 6 }>;
  let onAbort: (() => void) | undefined;
  try {
    answers = await Promise.race([
      lookup(host),
      new Promise<never>((_, reject) => {
        onAbort = () => reject(stopError(signal, state));
        if (signal.aborted) onAbort();
        else signal.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
  } catch (err) {
    if (err instanceof HttpTransportError || (err instanceof Error && err.name === "AbortError")) throw err;
    const code = (err as { code?: string }).code ?? (err as Error).message;
    throw new HttpTransportError(`DNS lookup failed for ${host}: ${code}`, "network", state.sent, { cause: err });
  } finally {
    if (onAbort) signal.removeEventListener("abort", onAbort);
  }
  if (answers.length === 0) throw new HttpTransportError(`DNS lookup for ${host} returned no addresses`, "network", state.sent);
  // Every answer must pass, not just the one we use: a mixed public/private set is a rebinding setup.
  for (const a of answers) checkResolvedAddress(url, a.address, policy);
  const first = answers[0]!;
  return { address: first.address, family: first.address.includes(":") ? 6 : 4 };
}

/** A `lookup` for net.connect that can only ever return the vetted address. */
function pinnedLookup(expectedHost: string, pinned: Pinned): NonNullable<RequestOptions["lookup"]> {
  return ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (hostname !== expectedHost) {
      callback(new Error(`unexpected lookup for ${hostname}`));
    } else if (options?.all) {
      callback(null, [{ address: pinned.address, family: pinned.family } satisfies LookupAddress]);
    } else {
      callback(null, pinned.address, pinned.family);
    }
  }) as unknown as NonNullable<RequestOptions["lookup"]>;
}

interface HopResult {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
  location?: string;
  remoteAddress: string;
}

interface HopSpec {
  url: URL;
  pinned: Pinned;
  method: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  maxBytes: number;
}

async function exchange(hop: HopSpec, signal: AbortSignal, state: ExchangeState, onSent?: () => void): Promise<HopResult> {
  const isHttps = hop.url.protocol === "https:";
  const mod = isHttps ? await import("node:https") : await import("node:http");
  if (signal.aborted) throw stopError(signal, state);
  const hostname = hop.url.hostname.startsWith("[") ? hop.url.hostname.slice(1, -1) : hop.url.hostname;

  return new Promise<HopResult>((resolve, reject) => {
    let settled = false;
    let remoteAddress = hop.pinned.address;
    let req: ClientRequest | undefined;
    const done = (err: Error | undefined, result?: HopResult): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      if (err) {
        req?.destroy();
        reject(err);
      } else {
        resolve(result!);
      }
    };
    const onAbort = (): void => done(stopError(signal, state));
    signal.addEventListener("abort", onAbort, { once: true });

    const headers: Record<string, string> = { ...hop.headers };
    if (!Object.keys(headers).some((k) => k.toLowerCase() === "user-agent")) headers["user-agent"] = "toolctl";
    if (hop.body !== undefined) headers["content-length"] = String(Buffer.byteLength(hop.body));

    const options: RequestOptions = {
      protocol: hop.url.protocol,
      hostname,
      port: hop.url.port === "" ? undefined : Number(hop.url.port),
      path: `${hop.url.pathname}${hop.url.search}`,
      method: hop.method,
      headers,
      agent: false, // a pooled socket could outlive the check that vetted its address
      lookup: pinnedLookup(hostname, hop.pinned),
    };
    try {
      req = mod.request(options);
    } catch (err) {
      // Invalid header names or values throw synchronously, before anything was sent.
      done(err as Error);
      return;
    }
    const request = req;
    // "finish" alone is not proof of sending: a TLS socket accepts (buffers) the whole request before the
    // handshake, so onSent waits for both the write and the (secure) connection.
    let connected = false;
    let written = false;
    const maybeNotify = (): void => {
      if (!connected || !written || state.notified) return;
      state.notified = true;
      onSent?.();
    };
    request.on("socket", (socket) => {
      // For TLS, nothing of the request leaves before the handshake completes; a TLS failure is "not sent".
      const markConnected = (): void => {
        connected = true;
        state.sent = true;
        remoteAddress = socket.remoteAddress ?? remoteAddress;
        maybeNotify();
      };
      if (isHttps) socket.once("secureConnect", markConnected);
      else if (socket.connecting) socket.once("connect", markConnected);
      else markConnected();
    });
    request.on("finish", () => {
      written = true;
      maybeNotify();
    });
    request.on("error", (err) => {
      if (settled) return;
      const code = (err as NodeJS.ErrnoException).code;
      done(new HttpTransportError(`${code ?? "network error"}: ${err.message}`, "network", state.sent, { cause: err }));
    });
    request.on("response", (res: IncomingMessage) => onResponse(res));

    const onResponse = (res: IncomingMessage): void => {
      const status = res.statusCode ?? 0;
      const headersOut: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headersOut[k] = v;
      const location = res.headers.location;
      if (REDIRECT_CODES.has(status) && location !== undefined) {
        // The redirect body is never needed; drop the connection instead of reading it.
        res.destroy();
        done(undefined, { status, headers: headersOut, body: Buffer.alloc(0), location, remoteAddress });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > hop.maxBytes) {
          done(new HttpTransportError(`response body exceeds ${hop.maxBytes} bytes`, "network", true, { transient: false }));
          res.destroy();
          return;
        }
        chunks.push(chunk);
      });
      res.on("end", () => done(undefined, { status, headers: headersOut, body: Buffer.concat(chunks), remoteAddress }));
      res.on("error", (err) => done(new HttpTransportError(`response failed: ${err.message}`, "network", true, { cause: err })));
      res.on("close", () => {
        if (!res.complete) done(new HttpTransportError("connection closed before the response was complete", "network", true));
      });
    };

    request.end(hop.body);
  });
}

export async function sendHttp(req: HttpRequestSpec, policy: OutboundPolicy, options: SendOptions = {}): Promise<HttpResponse> {
  const state: ExchangeState = { sent: false, notified: false, timeoutMs: req.timeoutMs };
  if (options.signal?.aborted) throw abortError(false);
  const maxRedirects = policy.maxRedirects ?? 5;
  const lookup = options.lookup ?? systemLookup;
  // One controller for both stop causes, so every phase (DNS, connect, body, later hops) shares one deadline.
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort("timeout"), req.timeoutMs);
  const onCallerAbort = (): void => stop.abort("aborted");
  options.signal?.addEventListener("abort", onCallerAbort, { once: true });

  try {
    let method = req.method.toUpperCase();
    let body = req.body;
    let headers = withoutHeaders(req.headers, OWNED_HEADERS);
    let current = req.url;
    const redirects: string[] = [];
    for (;;) {
      let url: URL;
      let pinned: Pinned;
      try {
        url = checkUrl(current, policy);
        pinned = await resolvePinned(url, policy, lookup, stop.signal, state);
      } catch (err) {
        if (redirects.length > 0 && err instanceof PolicyError) {
          throw new PolicyError("url_blocked", `${err.message} (redirect)`, { ...err.details, redirects: redirects.map(redactUrl) });
        }
        throw err;
      }
      const hop = await exchange(
        { url, pinned, method, headers, body, maxBytes: req.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES },
        stop.signal,
        state,
        options.onSent,
      );

      if (hop.location === undefined) {
        return { status: hop.status, headers: hop.headers, body: hop.body, url: url.href, redirects, remoteAddress: hop.remoteAddress };
      }
      if (redirects.length >= maxRedirects) throw new HttpTransportError("too many redirects", "network", true, { transient: false });
      let next: URL;
      try {
        next = new URL(hop.location, url);
      } catch {
        throw new PolicyError("url_blocked", `URL blocked: invalid redirect location: ${redactUrl(hop.location)}`, { url: redactUrl(url) });
      }
      // Credentials and bodies were meant for a TLS channel; never replay them in clear text.
      if (url.protocol === "https:" && next.protocol === "http:") {
        throw new PolicyError("url_blocked", `URL blocked: redirect from https to http: ${redactUrl(next)}`, { url: redactUrl(next) });
      }
      if (next.origin !== url.origin) {
        headers = withoutHeaders(headers, [...CREDENTIAL_HEADERS, ...(req.sensitiveHeaders ?? []).map((h) => h.toLowerCase())]);
      }
      // Fetch semantics: 303 always becomes GET; 301/302 become GET for anything but GET/HEAD; 307/308 keep both.
      const toGet = (hop.status === 303 && method !== "HEAD") || ((hop.status === 301 || hop.status === 302) && method !== "GET" && method !== "HEAD");
      if (toGet) {
        method = "GET";
        body = undefined;
        headers = withoutHeaders(headers, BODY_HEADERS);
      }
      redirects.push(next.href);
      current = next.href;
    }
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onCallerAbort);
  }
}
