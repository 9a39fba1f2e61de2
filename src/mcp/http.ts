/**
 * `toolctl mcp --http`: the Streamable HTTP transport, safe by default. It binds 127.0.0.1 unless told otherwise
 * (a non-loopback address needs `--allow-remote`), requires a bearer token, and checks `Host` and `Origin` on
 * every request against DNS rebinding, as the MCP specification asks of local servers. Each client gets its own
 * session (a server and a transport); all share one McpHost, so one client's slow call never blocks another's.
 *
 * Another handler may answer every other path on the same port (`--ui`: the approval page). It does its own
 * checks, by its own rules: the bearer token opens /mcp and nothing else, and nothing of the page opens /mcp.
 */
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import { isIP, type AddressInfo } from "node:net";
import { hostname, networkInterfaces } from "node:os";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { UsageError } from "../errors.js";
import { checkMessage, errorResponse, type Refusal } from "./malformed.js";
import type { McpHost } from "./server.js";

export const MCP_PATH = "/mcp";

export interface Listen {
  host: string;
  port: number;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);

/** `PORT` or `HOST:PORT` (`[::1]:PORT` for IPv6). */
export function parseListen(value: string): Listen {
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]+):)?(\d{1,5})$/.exec(value);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) throw new UsageError(`--http: expected PORT or HOST:PORT (such as 8808 or 127.0.0.1:8808), got ${JSON.stringify(value)}`);
  const host = match[1] ? match[1].replace(/^\[|\]$/g, "") : "127.0.0.1";
  return { host, port };
}

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || (isIP(host) === 4 && host.startsWith("127."));
}

function hashOf(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

function send(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
}

/** A handler for every path but /mcp on the same server (the approval page), doing its own checks. */
export interface MountedHandler {
  /** Told the address the server listens on (the address it bound, and its port), before the first request. */
  listening(address: Listen): void;
  handle(req: IncomingMessage, res: ServerResponse): void;
  close(): void;
}

export interface HttpOptions extends Listen {
  /** Answers every path but /mcp; without it they are 404. */
  mount?: MountedHandler;
  /** The SHA-256 of the bearer token clients must send. */
  tokenHash: Buffer;
  /** Default MAX_SESSIONS. */
  maxSessions?: number;
  /** Default SESSION_IDLE_MS. */
  sessionIdleMs?: number;
  log: (message: string) => void;
}

export interface RunningHttp {
  url: string;
  close(): Promise<void>;
}

/** A session with no call for this long is closed (a client that went away without saying so); its client starts a new one. */
export const SESSION_IDLE_MS = 30 * 60_000;
/** At most this many sessions at once; a new one past it replaces the longest idle, or is refused (503). */
export const MAX_SESSIONS = 64;

interface Session {
  transport: WebStandardStreamableHTTPServerTransport;
  server: Server;
  lastSeen: number;
  /** Calls being answered (POST); a client's open event stream (GET) is not counted. */
  inFlight: number;
}

const hostPart = (name: string) => (name.includes(":") ? `[${name}]` : name);

/**
 * The names a client may use to reach a server bound to `bind` (its `Host` header): the address itself, the
 * loopback names for a loopback address, and for a wildcard bind (0.0.0.0, ::) every address of this machine and
 * its host name. Anything else is a name that merely resolves here: the DNS rebinding the check exists for.
 */
export function hostNames(bind: string): string[] {
  if (bind === "0.0.0.0" || bind === "::") {
    const addresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((entry) => hostPart(entry.address.split("%")[0]!)));
    return [...new Set(["127.0.0.1", "localhost", "[::1]", hostname(), ...addresses])];
  }
  return isLoopback(bind) ? ["127.0.0.1", "localhost", "[::1]", hostPart(bind)] : [hostPart(bind)];
}

export async function serveHttp(host: McpHost, options: HttpOptions): Promise<RunningHttp> {
  const sessions = new Map<string, Session>();
  const maxSessions = options.maxSessions ?? MAX_SESSIONS;
  const idleMs = options.sessionIdleMs ?? SESSION_IDLE_MS;
  let port = options.port;
  const names = hostNames(options.host);
  /** Host header values this server answers to. */
  const allowedHosts = () => new Set(names.map((name) => `${name}:${port}`.toLowerCase()));

  const authorized = (req: IncomingMessage): boolean => {
    const header = req.headers.authorization ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    return match !== null && timingSafeEqual(hashOf(match[1]!), options.tokenHash);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const target = requestTarget(req.url ?? "/");
    if (target?.pathname !== MCP_PATH) {
      if (options.mount) return options.mount.handle(req, res);
      return send(res, 404, `not found: the MCP endpoint is ${MCP_PATH}`);
    }
    const remote = req.socket.remoteAddress ?? null;
    // On record before the answer: whoever was refused cannot outrun the audit log.
    const refuse = async (status: number, message: string, headers: Record<string, string> = {}) => {
      await host.refusedRequest(message, { transport: "http", remote });
      send(res, status, message, headers);
    };
    // JSON that the SDK would refuse as a parse error (-32700): answered as JSON-RPC says (-32600 or -32602, see malformed.ts).
    const refuseMessage = async (refusal: Refusal, data: Record<string, unknown>) => {
      await host.refusedRequest(`malformed message: ${refusal.reason}`, data);
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify(errorResponse(refusal)));
    };
    const tooLarge = async () => {
      await host.refusedRequest("malformed message: the body is over the size limit", { transport: "http", remote });
      send(res, 413, `request body over ${MAX_BODY_BYTES} bytes`);
    };
    const hosts = allowedHosts();
    if (!hosts.has((req.headers.host ?? "").toLowerCase())) return refuse(403, `forbidden: Host ${JSON.stringify(req.headers.host ?? "")} is not this server`);
    // A request-target in absolute form (as sent to a proxy) names the host it is for, which HTTP/1.1 puts before
    // Host: it must name this server too, or the request is refused as a foreign Host is.
    if (target.authority !== undefined && !hosts.has(target.authority)) {
      return refuse(403, `forbidden: request target ${JSON.stringify(req.url)} is not this server`);
    }
    const origin = req.headers.origin;
    if (origin !== undefined) {
      let originHost = "";
      try {
        const parsed = new URL(origin);
        originHost = parsed.protocol === "http:" ? parsed.host.toLowerCase() : "";
      } catch {
        originHost = "";
      }
      if (!hosts.has(originHost)) return refuse(403, `forbidden: Origin ${JSON.stringify(origin)} may not call this server`);
    }
    if (!authorized(req)) {
      return refuse(401, `unauthorized: ${req.headers.authorization ? "wrong bearer token" : "send Authorization: Bearer <token>"}`, {
        "www-authenticate": 'Bearer realm="toolctl"',
      });
    }

    const sessionId = req.headers["mcp-session-id"];
    const existing = typeof sessionId === "string" ? sessions.get(sessionId) : undefined;
    if (existing) {
      existing.lastSeen = Date.now();
      // A call being answered keeps its session; the event stream a client keeps open (GET) does not.
      if (req.method !== "GET") {
        existing.inFlight++;
        res.once("close", () => {
          existing.inFlight--;
          existing.lastSeen = Date.now();
        });
      }
      const body = req.method === "POST" ? await readBody(req, tooLarge) : { parsed: undefined };
      if (body === undefined) return;
      const refusal = body.parsed === undefined ? undefined : checkMessage(body.parsed, true);
      if (refusal) return refuseMessage(refusal, { session: existing.transport.sessionId ?? null });
      return bridge(existing.transport, req, res, body, host, target.path);
    }
    if (typeof sessionId === "string") return refuse(404, `session ${sessionId} not found: initialize a new one`);
    if (req.method !== "POST") return refuse(400, "no session: start one with an initialize request (POST)");

    const body = await readBody(req, tooLarge);
    if (body === undefined) return;
    if (body.parsed === undefined) {
      await host.refusedRequest("malformed message: the body is not JSON", { transport: "http", remote });
      return sendParseError(res);
    }
    const refusal = checkMessage(body.parsed, true);
    if (refusal) return refuseMessage(refusal, { transport: "http", remote });
    if (!isInitializeRequest(body.parsed)) return refuse(400, "no session: the first request must be initialize");
    // Room is made (the session idle longest closed) only once the transport has taken the initialize: one it
    // refuses (a wrong Accept or Content-Type) closes nobody's session.
    if (sessions.size >= maxSessions && idlest() === undefined) return send(res, 503, `too many sessions (${maxSessions}), all busy: try again later`);
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        // Every session turned busy since the check above: this one is closed once answered (its client gets 404
        // on its next request, and starts again), so that never more than maxSessions live.
        if (sessions.size >= maxSessions && !evictIdle()) return;
        sessions.set(id, { transport, server, lastSeen: Date.now(), inFlight: 0 });
      },
      onsessionclosed: (id) => void sessions.delete(id),
    });
    const server = host.createServer(() => transport.sessionId);
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
      void server.close();
    };
    try {
      await host.connect(server, transport, () => transport.sessionId);
      await bridge(transport, req, res, body, host, target.path);
    } finally {
      // An initialize the transport refused (406, 415, 400...) started no session, and nothing of it stays: its
      // server leaves the host (which would otherwise tell it of every change of the tool list, for ever).
      const id = transport.sessionId;
      if (id === undefined || sessions.get(id)?.transport !== transport) await server.close();
    }
  };

  /** The session idle longest, when one is idle (no call being answered). */
  const idlest = (): Session | undefined => [...sessions.values()].filter((session) => session.inFlight === 0).sort((a, b) => a.lastSeen - b.lastSeen)[0];

  /** Closes the session idle longest, when one is idle: room for a new client, made at once (a concurrent initialize sees it). */
  const evictIdle = (): boolean => {
    const idle = idlest();
    if (!idle) return false;
    if (idle.transport.sessionId) sessions.delete(idle.transport.sessionId);
    void idle.transport.close();
    return true;
  };
  const sweeper = setInterval(
    () => {
      const now = Date.now();
      for (const session of sessions.values()) {
        if (session.inFlight === 0 && now - session.lastSeen > idleMs) void session.transport.close();
      }
    },
    Math.min(60_000, idleMs),
  );
  sweeper.unref();

  const http: HttpServer = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      options.log(`toolctl mcp: ${(error as Error).stack ?? String(error)}`);
      if (!res.headersSent) send(res, 500, "internal error");
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "EADDRINUSE"
          ? new UsageError(`--http: ${options.host}:${options.port} is already in use; choose another port`)
          : new UsageError(`--http: cannot listen on ${options.host}:${options.port}: ${error.code ?? error.message}`),
      ),
    );
    http.listen(options.port, options.host, () => resolve());
  });
  const bound = http.address() as AddressInfo;
  port = bound.port;
  options.mount?.listening({ host: bound.address, port });
  host.start();
  return {
    url: `http://${hostPart(options.host)}:${port}${MCP_PATH}`,
    async close() {
      clearInterval(sweeper);
      options.mount?.close();
      await Promise.allSettled([...sessions.values()].map(({ transport }) => transport.close()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** A request-target: its path, its path and query, and for the absolute form the `host:port` it names. */
interface Target {
  pathname: string;
  path: string;
  /** Absolute form only (`http://HOST:PORT/mcp`): the host and port it names, lower case; "" when it names none this server could be. */
  authority?: string;
}

/**
 * The request-target of a request line (RFC 9112 §3.2). The origin form (`/mcp?x`) is read as a path, never as a
 * reference to resolve (`//evil.example/mcp` is a path that is not /mcp). The absolute form
 * (`http://127.0.0.1:8808/mcp`) is served by its path, and carries its authority for the Host check; another
 * scheme, or credentials in it, name no host of this server. Undefined for a target that is neither (`*`, or
 * one that does not parse).
 */
function requestTarget(raw: string): Target | undefined {
  if (raw.startsWith("/")) {
    const url = parseUrl(`http://origin-form${raw}`);
    return url ? { pathname: url.pathname, path: `${url.pathname}${url.search}` } : undefined;
  }
  if (!/^[a-z][a-z0-9+.-]*:/i.test(raw)) return undefined;
  const url = parseUrl(raw);
  if (!url) return undefined;
  const named = url.protocol === "http:" && url.hostname !== "" && url.username === "" && url.password === "";
  return { pathname: url.pathname, path: `${url.pathname}${url.search}`, authority: named ? `${url.hostname}:${url.port || "80"}`.toLowerCase() : "" };
}

function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** A request's body: `parsed` when it is JSON, else its `text` for the transport to refuse (and report) itself. */
interface Body {
  parsed: unknown;
  text?: string;
}

/** Reads the body of a POST; undefined, once `tooLarge` has answered, when it is over MAX_BODY_BYTES. */
async function readBody(req: IncomingMessage, tooLarge: () => Promise<void>): Promise<Body | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      // Answered while the request is still open (leaving the loop destroys it).
      await tooLarge();
      return undefined;
    }
    chunks.push(chunk);
  }
  const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString("utf8");
  try {
    return { parsed: JSON.parse(text) as unknown };
  } catch {
    return { parsed: undefined, text };
  }
}

function sendParseError(res: ServerResponse): void {
  res.writeHead(400, { "content-type": "application/json" });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32700, message: "Parse error: the body is not JSON" }, id: null }));
}

/**
 * How long a response's event stream may go without an event before its headers are sent alone. A call that
 * answers sooner (most do) goes out as one write, headers and result together; one that waits (for a human's
 * approval, a long run) has its headers sent then, and its events as they come.
 */
const HEADERS_ALONE_AFTER_MS = 25;

/**
 * Hands a request to the SDK's web-standard transport and writes its Response to `res`: node:http to
 * Request/Response and back, with nothing else in between. A body that is not JSON goes to the transport as
 * text, which answers it with a JSON-RPC parse error and reports it (an audit record, see McpHost.createServer);
 * such an answer waits for that record.
 */
async function bridge(
  transport: WebStandardStreamableHTTPServerTransport,
  req: IncomingMessage,
  res: ServerResponse,
  body: Body,
  host: McpHost,
  path: string,
): Promise<void> {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  // The Host was checked (it is this server), and the path is the request-target's own, in whatever form it came.
  const request = new Request(`http://${req.headers.host ?? "localhost"}${path}`, {
    method: req.method,
    headers,
    ...(body.text !== undefined ? { body: body.text } : {}),
  });
  const response = await transport.handleRequest(request, body.text === undefined && body.parsed !== undefined ? { parsedBody: body.parsed } : undefined);
  if (response.status >= 400) await host.refusalsWritten();
  res.statusCode = response.status;
  response.headers.forEach((value, name) => res.setHeader(name, value));
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  // The client went away: the transport forgets the stream (the SDK cancels it, as a closed connection does).
  res.once("close", () => {
    if (!res.writableFinished) void reader.cancel().catch(() => undefined);
  });
  // A GET is the client's stream for the server's own messages: its headers go at once.
  const stream = (response.headers.get("content-type") ?? "").startsWith("text/event-stream");
  let timer: NodeJS.Timeout | undefined;
  if (stream && req.method === "GET") res.flushHeaders();
  else if (stream) timer = setTimeout(() => res.headersSent || res.flushHeaders(), HEADERS_ALONE_AFTER_MS);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      // node:http holds writes made in one tick and sends them together: an event and the end of its stream
      // (the transport closes it right after the result) leave in one write.
      res.write(value);
    }
  } catch {
    // Cancelled: the connection is gone.
  } finally {
    clearTimeout(timer);
    res.end();
  }
}
