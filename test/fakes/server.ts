/**
 * What every fake provider shares: a real `node:http` server on 127.0.0.1 that records each request it
 * receives (method, URL, headers, raw body) and counts connections, so a test can prove that a dry run sent
 * nothing. Each provider's fake (stripe.ts, twilio.ts, webhooks.ts) supplies only its handler.
 *
 * `loopbackCopy` writes a copy of a shipped manifest whose only changes are the ones a loopback server
 * needs: `baseUrl` pointed at the fake, plain http, and 127.0.0.0/8 allowed through the outbound guard.
 */
import http from "node:http";
import { readFileSync, writeFileSync } from "node:fs";
import type { AddressInfo, Socket } from "node:net";
import path from "node:path";
import { parseDocument } from "yaml";

export interface SeenRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A handler answers through `res`, or returns "drop" to destroy the connection without a word. */
export type FakeHandler = (req: SeenRequest, res: http.ServerResponse) => void | "drop";

export class FakeServer {
  readonly requests: SeenRequest[] = [];
  connections = 0;
  private server: http.Server;
  private sockets = new Set<Socket>();
  private port = 0;

  constructor(private readonly handler: FakeHandler) {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const seen: SeenRequest = { method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
        this.requests.push(seen);
        let verdict: void | "drop";
        try {
          verdict = this.handler(seen, res);
        } catch (error) {
          res.writeHead(500, { "content-type": "text/plain" });
          res.end(`fake server bug: ${(error as Error).stack}`);
          return;
        }
        if (verdict === "drop") req.socket.destroy();
      });
    });
    this.server.on("connection", (socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The requests whose path (without the query) is `pathname`. */
  requestsTo(pathname: string): SeenRequest[] {
    return this.requests.filter((r) => new URL(r.url, "http://x").pathname === pathname);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export function sendJson(res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value, null, 2);
  res.writeHead(status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}

export function sendText(res: http.ServerResponse, status: number, text: string, contentType = "text/plain"): void {
  res.writeHead(status, { "content-type": contentType, "content-length": String(Buffer.byteLength(text)) });
  res.end(text);
}

/** The credentials of an `Authorization: Basic` header, or undefined. */
export function basicCredentials(headers: http.IncomingHttpHeaders): { username: string; password: string } | undefined {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/.exec(headers.authorization ?? "");
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? undefined : { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Random lowercase hex or alphanumeric ids, as providers mint them. */
export function randomId(length: number, alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"): string {
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(Math.random() * alphabet.length)];
  return out;
}

/**
 * Writes `<dir>/<name>.yaml`: the manifest at `source`, with `baseUrl` replaced by `baseUrl` and
 * `http.allowPlainHttp: true`, `http.allowPrivateNetworks: ["127.0.0.0/8"]` merged into its `http` settings.
 * Nothing else changes (comments, actions, auth, headers, costs), so the test runs the shipped manifest.
 */
export function loopbackCopy(source: string, baseUrl: string, dir: string): string {
  const document = parseDocument(readFileSync(source, "utf8"));
  if (document.errors.length > 0) throw new Error(`${source}: ${document.errors[0]!.message}`);
  document.set("baseUrl", baseUrl);
  document.setIn(["http", "allowPlainHttp"], true);
  document.setIn(["http", "allowPrivateNetworks"], ["127.0.0.0/8"]);
  const target = path.join(dir, path.basename(source));
  writeFileSync(target, document.toString());
  return target;
}

/** What every fake provider shares: one loopback server, started, addressed and closed the same way. */
export abstract class FakeProvider {
  readonly server = new FakeServer((req, res) => this.handle(req, res));

  protected abstract handle(req: SeenRequest, res: http.ServerResponse): void | "drop";

  async start(): Promise<this> {
    await this.server.start();
    return this;
  }

  get url(): string {
    return this.server.url;
  }

  close(): Promise<void> {
    return this.server.close();
  }
}
