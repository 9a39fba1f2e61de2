/**
 * `toolctl mcp --http`, the Streamable HTTP front door, through the MCP SDK's own client: the server runs
 * in-process (`serveHttpMcp` on port 0) on an API opened as actor agent; raw `fetch` and `node:http` requests show
 * what it refuses (token, Origin, Host, path, body, session) and that a refused request runs nothing. The CLI's
 * own surface (flags, the token kept in the home) spawns the built binary.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { hostname, networkInterfaces } from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CallToolResultSchema, McpError, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import type { Toolctl } from "../src/api/index.js";
import { McpHost, serveHttpMcp } from "../src/mcp/index.js";
import { serveHttp } from "../src/mcp/http.js";
import { baseEnv, binPath, homeWithExamples, openApi, repoRoot, runCli, tempDir, writeFiles } from "./helpers.js";

const TOKEN = "test-token-0123456789abcdef";

const manifests = {
  "echo.yaml": `apiVersion: toolctl/v1
name: echo
description: Echoes its input back
runtime: echo
actions:
  say:
    description: Return the message unchanged
    kind: read
    inputSchema: { type: object, required: [message], additionalProperties: false, properties: { message: { type: string } } }
    outputSchema: { type: object, required: [message], properties: { message: { type: string } } }
`,
  "pay.yaml": `apiVersion: toolctl/v1
name: pay
description: Pretend payments (echo)
runtime: echo
actions:
  charge:
    description: Charge a fixed $2.50
    kind: create
    cost: { fixed: 2.5 }
    rollback: irreversible
    inputSchema: { type: object, properties: { note: { type: string } } }
`,
};

/** An http tool whose one action waits on a loopback server that answers only when the test says so. */
function slowManifest(port: number): string {
  return `apiVersion: toolctl/v1
name: slow
description: A loopback service that answers when told
runtime: http
baseUrl: http://127.0.0.1:${port}
http: { allowPlainHttp: true, allowPrivateNetworks: ["127.0.0.0/8"], timeoutSeconds: 20, retry: { attempts: 1 } }
actions:
  wait:
    description: Wait for the answer
    kind: read
    request: { method: GET, path: /wait }
`;
}

interface Running {
  toolctl: Toolctl;
  url: string;
  close(): Promise<void>;
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function start(options: { env?: Record<string, string>; allow?: string[]; extra?: Record<string, string>; listen?: string } = {}): Promise<Running> {
  const toolctl = await openApi({ actor: "agent", env: options.env });
  const report = await toolctl.importManifests([writeFiles({ ...manifests, ...options.extra })]);
  expect(report.failed).toEqual([]);
  const server = await serveHttpMcp(toolctl, {
    listen: options.listen ?? "127.0.0.1:0",
    allowRemote: false,
    newToken: false,
    env: { TOOLCTL_MCP_TOKEN: TOKEN },
    allow: options.allow ?? [],
    approvalWaitSeconds: 0,
    version: "0.0.0-test",
  });
  cleanups.push(() => server.close());
  return { toolctl, url: server.url, close: () => server.close() };
}

async function connect(url: string, token: string | undefined, name = "test-agent", version = "1.2.3") {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name, version });
  cleanups.push(() => client.close());
  await client.connect(transport);
  return { client, transport };
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

/** `promise`, or a failure naming `what` after `ms` (rather than the test's own timeout). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function executionId(result: CallToolResult): string {
  const meta = result._meta?.["toolctl/execution"] as { id?: string } | undefined;
  expect(meta?.id, JSON.stringify(result)).toEqual(expect.any(String));
  return meta!.id!;
}

function textOf(result: CallToolResult): string {
  return result.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");
}

const ACCEPT = "application/json, text/event-stream";
const initialize = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "0" } },
};
const callEcho = (id: number) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo__say", arguments: { message: "raw" } } });

/** A request with `node:http`, which (unlike fetch) lets the test choose the Host header. */
function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; /** The request-target as sent, when not the URL's path. */ target?: string },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const target = options.target === undefined ? {} : { path: options.target };
    const req = http.request(url, { method: options.method ?? "POST", headers: options.headers, agent: false, ...target }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

describe("Streamable HTTP with the SDK client", () => {
  it("lists the tools and calls a read, recorded as actor agent with the client's name, version and session", async () => {
    const { toolctl, url } = await start();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const { client, transport } = await connect(url, TOKEN, "test-agent", "1.2.3");
    expect(client.getServerVersion()).toEqual({ name: "toolctl", title: "toolctl", version: "0.0.0-test" });

    const { tools } = await client.listTools();
    // Reads are offered; the paid create is not (no --allow).
    expect(tools.map((tool) => tool.name).sort()).toEqual(["echo__say", "preview", "resume"]);

    const result = await call(client, "echo__say", { message: "hi" });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ message: "hi" });
    const id = executionId(result);
    expect(transport.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    const execution = await toolctl.execution(id);
    expect(execution).toMatchObject({
      tool: "echo",
      action: "say",
      status: "succeeded",
      actor: "agent",
      origin: { via: "mcp", client: { name: "test-agent", version: "1.2.3" }, session: transport.sessionId },
    });
    expect(await toolctl.countExecutions()).toBe(1);
  });

  it("answers at the URL it prints when bound to another loopback address", async () => {
    const { toolctl, url } = await start({ listen: "127.0.0.2:0" });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.2:\d+\/mcp$/);
    const { client } = await connect(url, TOKEN);
    const result = await call(client, "echo__say", { message: "on 127.0.0.2" });
    expect(result.structuredContent).toEqual({ message: "on 127.0.0.2" });
    expect(await toolctl.countExecutions({ status: "succeeded" })).toBe(1);
    // Another name for the machine is still refused.
    const rebound = await rawRequest(url, {
      headers: { "content-type": "application/json", accept: ACCEPT, authorization: `Bearer ${TOKEN}`, host: `evil.example:${new URL(url).port}` },
      body: JSON.stringify(initialize),
    });
    expect(rebound.status).toBe(403);
  });

  it("refuses a missing or wrong token with 401 and WWW-Authenticate: Bearer, and the SDK client cannot connect", async () => {
    const { toolctl, url } = await start();
    const body = JSON.stringify(initialize);
    const missing = await fetch(url, { method: "POST", headers: { "content-type": "application/json", accept: ACCEPT }, body });
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer\b/);
    expect(await missing.json()).toMatchObject({ jsonrpc: "2.0", error: { message: expect.stringMatching(/^unauthorized/) } });
    const wrong = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: ACCEPT, authorization: `Bearer ${TOKEN}x` },
      body,
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("www-authenticate")).toMatch(/^Bearer\b/);
    const notBearer = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: ACCEPT, authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString("base64")}` },
      body,
    });
    expect(notBearer.status).toBe(401);

    for (const token of [undefined, "wrong-token-0123456789", `${TOKEN.slice(0, -1)}X`]) {
      const error = await connect(url, token).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StreamableHTTPError);
      expect((error as StreamableHTTPError).code).toBe(401);
    }
    expect(await toolctl.countExecutions()).toBe(0);
    const refused = (await toolctl.audit()).filter((event) => event.type === "mcp.refused");
    expect(refused.map((event) => event.data.reason)).toEqual([
      "unauthorized: send Authorization: Bearer <token>",
      "unauthorized: wrong bearer token",
      "unauthorized: wrong bearer token",
      "unauthorized: send Authorization: Bearer <token>",
      "unauthorized: wrong bearer token",
      "unauthorized: wrong bearer token",
    ]);
    expect(refused[0]).toMatchObject({ actor: "agent", status: "refused", data: { transport: "http", remote: "127.0.0.1" } });
  });

  it("a run whose redacted output no longer fits its output schema is a readable result saying it ran, never a protocol error", async () => {
    const { toolctl, url } = await start({
      extra: {
        "keys.yaml": `apiVersion: toolctl/v1
name: keys
description: Echoes a token back
runtime: echo
actions:
  mint:
    description: Return the token given
    kind: read
    inputSchema: { type: object, required: [token], properties: { token: { type: integer }, name: { type: string } } }
    outputSchema: { type: object, required: [token], properties: { token: { type: integer }, name: { type: string } } }
  pair:
    description: Return the pair given
    kind: read
    inputSchema: { type: object, properties: { pair: { type: array } } }
    outputSchema: { type: object, properties: { pair: { type: array, prefixItems: [{ type: string }, { type: number }], items: false } } }
`,
      },
    });
    const { client } = await connect(url, TOKEN);
    await client.listTools();
    // The "token" key is secret-looking: the value comes back as "[REDACTED]", which the integer schema refuses.
    const result = await call(client, "keys__mint", { token: 42, name: "n" });
    const id = executionId(result);
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toBeUndefined();
    expect(textOf(result)).toContain(`keys.mint ran and succeeded (execution ${id})`);
    expect(textOf(result)).toMatch(/do not run it again/i);
    // The secret value nowhere as a number (the execution id may hold the digits 42 by chance).
    expect(textOf(result)).not.toMatch(/\b42\b/);
    expect(textOf(result)).toContain("with secrets redacted, ");
    expect((await toolctl.execution(id)).status).toBe("succeeded");
    // An output the listed schema refuses as clients read it (draft-07: `items: false` is "no items"), with no secret
    // in it, is not blamed on redaction.
    const pair = await call(client, "keys__pair", { pair: ["a", 1] });
    expect(pair.isError).toBe(true);
    expect(textOf(pair)).toContain("keys.pair ran and succeeded");
    expect(textOf(pair)).toContain("as MCP clients check it against the listed schema, ");
    expect(textOf(pair)).not.toContain("redacted");
    // An output that fits is still structured.
    const fine = await call(client, "echo__say", { message: "hi" });
    expect(fine.structuredContent).toEqual({ message: "hi" });
  });

  it("a call whose arguments are not an object is an invalid-params error (-32602), on record, and runs nothing", async () => {
    const { toolctl, url } = await start();
    const { client } = await connect(url, TOKEN);
    for (const args of [[1], "amount=3", null, 5]) {
      const error = await client.request({ method: "tools/call", params: { name: "echo__say", arguments: args as never } }, CallToolResultSchema).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, JSON.stringify(args)).toBeInstanceOf(McpError);
      expect((error as McpError).code).toBe(-32602);
      expect((error as McpError).message).toMatch(/arguments must be an object/);
    }
    const badName = await client.request({ method: "tools/call", params: { name: 5 as never, arguments: {} } }, CallToolResultSchema).catch((e: unknown) => e);
    expect((badName as McpError).code).toBe(-32602);
    expect(await toolctl.countExecutions()).toBe(0);
    const refused = (await toolctl.audit({ type: "mcp.refused" })).map((event) => String(event.data.reason));
    expect(refused.filter((reason) => /^malformed message: tools\/call/.test(reason))).toHaveLength(5);
    // The session goes on.
    expect((await call(client, "echo__say", { message: "still here" })).structuredContent).toEqual({ message: "still here" });
  });

  it("a call id used again in the session is refused (-32600), on record, and runs nothing: a retry never pays twice", async () => {
    const { toolctl, url } = await start();
    const { transport } = await connect(url, TOKEN);
    const headers = { "content-type": "application/json", accept: ACCEPT, authorization: `Bearer ${TOKEN}`, "mcp-session-id": transport.sessionId! };
    const send = async (body: unknown) => (await fetch(url, { method: "POST", headers, body: JSON.stringify(body) })).text();
    expect(await send(callEcho(1007))).toContain('"toolctl/execution"');
    const again = await send(callEcho(1007));
    expect(again).toContain('"code":-32600');
    expect(again).toContain("request id 1007 was already used in this session: a call sent again needs a new id (the first may have run)");
    // In a batch too: the second of two calls with one id runs nothing, and the one answer the id can carry is the
    // first call's.
    const batch = await send([callEcho(1008), callEcho(1008)]);
    expect(batch).toContain('"toolctl/execution"');
    expect(batch).not.toContain('"code":-32600');
    expect(await toolctl.countExecutions()).toBe(2);
    const refused = (await toolctl.audit({ type: "mcp.refused" })).map((event) => String(event.data.reason));
    expect(refused.filter((reason) => reason.includes("was already used in this session"))).toHaveLength(2);
  });

  it("a whole number past 2^53 - 1 in the arguments is refused (-32602), as the CLI refuses it: reading the JSON rounded it", async () => {
    const { toolctl, url } = await start();
    const { client } = await connect(url, TOKEN);
    const error = await client
      .request({ method: "tools/call", params: { name: "echo__say", arguments: { message: "x", ids: [1, 12345678901234567891] } } }, CallToolResultSchema)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpError);
    expect((error as McpError).code).toBe(-32602);
    expect((error as McpError).message).toMatch(/arguments\.ids\[1\] \(12345678901234567000\) is a whole number past 2\^53 - 1, .*; nothing ran$/);
    expect(await toolctl.countExecutions()).toBe(0);
    expect((await call(client, "echo__say", { message: "the session goes on" })).isError).toBeFalsy();
  });

  it("puts a refusal on record before answering it, however slow the audit log is to write", async () => {
    const { toolctl, url } = await start();
    // A slow disk: each audit write takes 150 ms. Whoever was refused must not hear of it before the log does.
    const audit = toolctl.store.audit;
    const append = audit.append.bind(audit);
    audit.append = async (event) => {
      await new Promise((resolve) => setTimeout(resolve, 150));
      return append(event);
    };
    const json = { "content-type": "application/json", accept: ACCEPT };
    const requests: Array<[string, () => Promise<Response>]> = [
      ["unauthorized: send Authorization: Bearer <token>", () => fetch(url, { method: "POST", headers: json, body: JSON.stringify(initialize) })],
      [
        'forbidden: Origin "http://evil.example" may not call this server',
        () => fetch(url, { method: "POST", headers: { ...json, authorization: `Bearer ${TOKEN}`, origin: "http://evil.example" }, body: "{}" }),
      ],
      ["malformed message: the body is not JSON", () => fetch(url, { method: "POST", headers: { ...json, authorization: `Bearer ${TOKEN}` }, body: "{" })],
      [
        "malformed message: the body is over the size limit",
        () => fetch(url, { method: "POST", headers: { ...json, authorization: `Bearer ${TOKEN}` }, body: "x".repeat(4 * 1024 * 1024 + 1) }),
      ],
    ];
    for (const [reason, request] of requests) {
      const response = await request();
      expect(response.status, reason).toBeGreaterThanOrEqual(400);
      await response.body?.cancel();
      const refused = (await toolctl.audit({ type: "mcp.refused" })).map((event) => event.data.reason);
      expect(refused.at(-1), reason).toBe(reason);
    }
    // In a session, a message that is JSON but not JSON-RPC is refused by the SDK's transport: its answer waits too.
    const { transport } = await connect(url, TOKEN);
    const inSession = await fetch(url, {
      method: "POST",
      headers: { ...json, authorization: `Bearer ${TOKEN}`, "mcp-session-id": transport.sessionId! },
      body: JSON.stringify({ hello: "world" }),
    });
    expect(inSession.status).toBe(400);
    await inSession.body?.cancel();
    const last = (await toolctl.audit({ type: "mcp.refused" })).at(-1);
    expect(last?.data).toMatchObject({ reason: expect.stringMatching(/^malformed message: /), session: transport.sessionId });
  });

  it("refuses a foreign Origin, a rebinding Host, another path, a body that is not JSON and an unknown session; none of them runs anything", async () => {
    const { toolctl, url } = await start();
    const { transport } = await connect(url, TOKEN);
    const session = transport.sessionId!;
    const port = new URL(url).port;
    // Each refused request carries a call that would run echo.say if it got through (the control below shows it does).
    const headers = { "content-type": "application/json", accept: ACCEPT, authorization: `Bearer ${TOKEN}`, "mcp-session-id": session };

    const evil = await fetch(url, { method: "POST", headers: { ...headers, origin: "http://evil.example" }, body: JSON.stringify(callEcho(10)) });
    expect(evil.status).toBe(403);
    expect((await evil.json()).error.message).toBe('forbidden: Origin "http://evil.example" may not call this server');
    // The same host over https, or on another port, is another origin.
    for (const origin of [`https://127.0.0.1:${port}`, `http://127.0.0.1:${Number(port) === 1 ? 2 : 1}`, "null"]) {
      const other = await fetch(url, { method: "POST", headers: { ...headers, origin }, body: JSON.stringify(callEcho(11)) });
      expect(other.status, origin).toBe(403);
    }

    for (const host of [`evil.example:${port}`, "evil.example", `127.0.0.1:${Number(port) + 1}`, "localhost"]) {
      const rebound = await rawRequest(url, { headers: { ...headers, host }, body: JSON.stringify(callEcho(12)) });
      expect(rebound.status, host).toBe(403);
      expect(JSON.parse(rebound.body).error.message).toBe(`forbidden: Host ${JSON.stringify(host)} is not this server`);
    }

    for (const other of ["/", "/mcp/", "/mcpx", "/other"]) {
      const response = await fetch(new URL(other, url), { method: "POST", headers, body: JSON.stringify(callEcho(13)) });
      expect(response.status, other).toBe(404);
      expect((await response.json()).error.message).toBe("not found: the MCP endpoint is /mcp");
    }

    const { "mcp-session-id": _, ...noSession } = headers;
    const malformed = await fetch(url, { method: "POST", headers: noSession, body: '{"jsonrpc": "2.0", "method": "initialize", ' });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toEqual({ jsonrpc: "2.0", error: { code: -32700, message: expect.stringMatching(/^Parse error/) }, id: null });

    const unknown = await fetch(url, {
      method: "POST",
      headers: { ...headers, "mcp-session-id": "00000000-0000-4000-8000-000000000000" },
      body: JSON.stringify(callEcho(14)),
    });
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error.message).toBe("session 00000000-0000-4000-8000-000000000000 not found: initialize a new one");

    // A first request that is not initialize starts no session.
    const notInitialize = await fetch(url, { method: "POST", headers: noSession, body: JSON.stringify(callEcho(15)) });
    expect(notInitialize.status).toBe(400);
    expect(await toolctl.countExecutions()).toBe(0);
    // Every refusal is on record (the 404s for another path are not: that is not the MCP endpoint).
    const refused = (await toolctl.audit()).filter((event) => event.type === "mcp.refused").map((event) => String(event.data.reason));
    expect(refused.filter((reason) => reason.startsWith("forbidden: Origin"))).toHaveLength(4);
    expect(refused.filter((reason) => reason.startsWith("forbidden: Host"))).toHaveLength(4);
    expect(refused).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^malformed message/),
        "session 00000000-0000-4000-8000-000000000000 not found: initialize a new one",
        "no session: the first request must be initialize",
      ]),
    );

    // The control: the same call with this server's own Origin and Host runs.
    for (const [i, origin] of [`http://127.0.0.1:${port}`, `http://localhost:${port}`].entries()) {
      const allowed = await fetch(url, { method: "POST", headers: { ...headers, origin }, body: JSON.stringify(callEcho(16 + 100 * i)) });
      expect(allowed.status, origin).toBe(200);
      expect(await allowed.text()).toContain('"toolctl/execution"');
    }
    const viaLocalhost = await rawRequest(url, { headers: { ...headers, host: `localhost:${port}` }, body: JSON.stringify(callEcho(17)) });
    expect(viaLocalhost.status).toBe(200);
    expect(await toolctl.countExecutions()).toBe(3);

    // A session the client ended is gone.
    await transport.terminateSession();
    const ended = await fetch(url, { method: "POST", headers, body: JSON.stringify(callEcho(18)) });
    expect(ended.status).toBe(404);
    expect(await toolctl.countExecutions()).toBe(3);
  });

  it("serves 16 clients at once, each in its own session", async () => {
    const { toolctl, url } = await start();
    const CLIENTS = 16;
    const CALLS = 4;
    const perClient = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        const { client, transport } = await connect(url, TOKEN, `agent-${c}`, "1.0.0");
        const ids: string[] = [];
        for (let i = 0; i < CALLS; i++) {
          const result = await call(client, "echo__say", { message: `client ${c} call ${i}` });
          expect(result.structuredContent).toEqual({ message: `client ${c} call ${i}` });
          ids.push(executionId(result));
        }
        return { name: `agent-${c}`, session: transport.sessionId!, ids };
      }),
    );
    expect(new Set(perClient.map((c) => c.session)).size).toBe(CLIENTS);
    for (const { name, session, ids } of perClient) {
      for (const id of ids) {
        expect(await toolctl.execution(id)).toMatchObject({ status: "succeeded", actor: "agent", origin: { via: "mcp", client: { name }, session } });
      }
    }
    expect(await toolctl.countExecutions()).toBe(CLIENTS * CALLS);
    expect(await toolctl.countExecutions({ status: "succeeded" })).toBe(CLIENTS * CALLS);
  });

  it("one client's slow call does not hold up another's", async () => {
    let arrived!: () => void;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    let held: http.ServerResponse | undefined;
    const service = http.createServer((_req, res) => {
      held = res;
      arrived();
    });
    await new Promise<void>((resolve) => service.listen(0, "127.0.0.1", resolve));
    cleanups.push(async () => {
      service.closeAllConnections();
      await new Promise((resolve) => service.close(resolve));
    });
    const { toolctl, url } = await start({ extra: { "slow.yaml": slowManifest((service.address() as AddressInfo).port) } });

    const slowClient = await connect(url, TOKEN, "slow-agent");
    const fastClient = await connect(url, TOKEN, "fast-agent");
    let slowDone = false;
    const slow = call(slowClient.client, "slow__wait").finally(() => (slowDone = true));
    slow.catch(() => undefined);
    await arrival;
    const fast = await within(call(fastClient.client, "echo__say", { message: "meanwhile" }), 5000, "the fast call while the slow one runs");
    expect(fast.structuredContent).toEqual({ message: "meanwhile" });
    expect(slowDone).toBe(false);
    expect(await toolctl.countExecutions({ status: "running" })).toBe(1);

    held!.writeHead(200, { "content-type": "application/json" });
    held!.end(JSON.stringify({ done: true }));
    const result = await slow;
    expect(result.isError).toBeFalsy();
    expect(JSON.parse(textOf(result))).toEqual({ done: true });
    expect(await toolctl.execution(executionId(result))).toMatchObject({
      status: "succeeded",
      origin: { client: { name: "slow-agent" }, session: slowClient.transport.sessionId },
    });
  });

  it("16 clients paying against a daily limit never spend past it", async () => {
    const LIMIT = 20;
    const { toolctl, url } = await start({
      env: { TOOLCTL_LIMITS_DAILY_USD: String(LIMIT), TOOLCTL_APPROVALS_PAID_ACTIONS: "false" },
      allow: ["pay"],
    });
    const results = (
      await Promise.all(
        Array.from({ length: 16 }, async (_, c) => {
          const { client } = await connect(url, TOKEN, `payer-${c}`);
          const mine: CallToolResult[] = [];
          for (let i = 0; i < 3; i++) mine.push(await call(client, "pay__charge", { note: `${c}/${i}` }));
          return mine;
        }),
      )
    ).flat();
    expect(results).toHaveLength(48);
    const succeeded = results.filter((r) => !r.isError);
    const refused = results.filter((r) => r.isError);
    // $2.50 each under $20: exactly 8 fit.
    expect(succeeded).toHaveLength(8);
    const spent = succeeded.reduce((sum, r) => sum + (r._meta!["toolctl/execution"] as { costUsd: number }).costUsd, 0);
    expect(spent).toBe(LIMIT);
    for (const r of refused) expect(textOf(r)).toMatch(/daily limit/i);
    const executions = await toolctl.executions({ status: "succeeded", limit: 100 });
    expect(executions.items).toHaveLength(8);
    expect(executions.items.reduce((sum, e) => sum + (e.costUsd ?? 0), 0)).toBeLessThanOrEqual(LIMIT);
    const { spend, limits } = await toolctl.budget();
    expect(limits.dailyUsd).toBe(LIMIT);
    expect(spend).toMatchObject({ committedUsd: LIMIT, reservedUsd: 0 });
  });
});

/** `toolctl mcp --http 127.0.0.1:0` spawned; resolves once it printed its URL and what it says of the token. */
async function startCli(home: string, args: string[] = [], env: Record<string, string> = {}) {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [binPath, "--home", home, "mcp", "--http", "127.0.0.1:0", ...args], {
    env: baseEnv(env),
    cwd: repoRoot,
  });
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  cleanups.push(async () => {
    child.kill("SIGKILL");
    await exited;
  });
  await new Promise<void>((resolve, reject) => {
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
      if (/^toolctl mcp: bearer token.*\n/m.test(stderr)) resolve();
    });
    void exited.then((code) => reject(new Error(`toolctl mcp exited ${code}:\n${stderr}`)));
  });
  const url = /serving MCP \(Streamable HTTP\) at (\S+)\n/.exec(stderr)?.[1];
  expect(url, stderr).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
  const token = /bearer token \(shown once; only its hash is kept\): (\S+)\n/.exec(stderr)?.[1];
  return {
    url: url!,
    token,
    stderr: () => stderr,
    async stop() {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

async function status(url: string, token: string): Promise<number> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: ACCEPT, authorization: `Bearer ${token}` },
    body: JSON.stringify(initialize),
  });
  await response.body?.cancel();
  return response.status;
}

describe("sessions, wildcard binds and a failed start", () => {
  async function startWith(extra: { maxSessions?: number; sessionIdleMs?: number; listen?: string; allowRemote?: boolean }) {
    const toolctl = await openApi({ actor: "agent" });
    await toolctl.importManifests([writeFiles(manifests)]);
    const server = await serveHttpMcp(toolctl, {
      listen: extra.listen ?? "127.0.0.1:0",
      allowRemote: extra.allowRemote ?? false,
      newToken: false,
      env: { TOOLCTL_MCP_TOKEN: TOKEN },
      allow: [],
      approvalWaitSeconds: 0,
      version: "0.0.0-test",
      maxSessions: extra.maxSessions,
      sessionIdleMs: extra.sessionIdleMs,
    });
    cleanups.push(() => server.close());
    return { toolctl, url: server.url };
  }

  it("past the session cap the longest idle session makes room; its client's next call finds no session", async () => {
    const { url } = await startWith({ maxSessions: 2 });
    const first = await connect(url, TOKEN, "first");
    const second = await connect(url, TOKEN, "second");
    await call(second.client, "echo__say", { message: "2" });
    const third = await connect(url, TOKEN, "third");
    expect(textOf(await call(third.client, "echo__say", { message: "3" }))).toContain('"3"');
    expect(textOf(await call(second.client, "echo__say", { message: "still" }))).toContain("still");
    await expect(call(first.client, "echo__say", { message: "gone" })).rejects.toThrow(/404|not found/i);
  });

  it("closes a session idle past the limit", async () => {
    const { url } = await startWith({ sessionIdleMs: 150 });
    const { client, transport } = await connect(url, TOKEN);
    const session = transport.sessionId!;
    await call(client, "echo__say", { message: "hi" });
    await new Promise((resolve) => setTimeout(resolve, 600));
    const probe = await rawRequest(url, {
      headers: { host: new URL(url).host, authorization: `Bearer ${TOKEN}`, "content-type": "application/json", accept: ACCEPT, "mcp-session-id": session },
      body: JSON.stringify(callEcho(9)),
    });
    expect(probe.status).toBe(404);
  });

  it("bound to 0.0.0.0 (with --allow-remote) it answers this machine's addresses and names, not a foreign name", async () => {
    const { url } = await startWith({ listen: "0.0.0.0:0", allowRemote: true });
    const port = new URL(url).port;
    const external = Object.values(networkInterfaces())
      .flat()
      .find((entry) => entry && entry.family === "IPv4" && !entry.internal)?.address;
    for (const host of ["127.0.0.1", "localhost", hostname(), ...(external ? [external] : [])]) {
      const { client } = await connect(`http://${host}:${port}/mcp`, TOKEN);
      expect(textOf(await call(client, "echo__say", { message: host }))).toContain(host);
    }
    const rebinding = await rawRequest(`http://127.0.0.1:${port}/mcp`, {
      headers: { host: `evil.example:${port}`, authorization: `Bearer ${TOKEN}`, "content-type": "application/json", accept: ACCEPT },
      body: JSON.stringify(initialize),
    });
    expect(rebinding.status).toBe(403);
  });

  it("a start that cannot listen keeps no token: the next start makes and prints one", async () => {
    const blocker = http.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => blocker.close(resolve)));
    const toolctl = await openApi({ actor: "agent" });
    const busy = (blocker.address() as AddressInfo).port;
    const options = { allowRemote: false, newToken: false, env: {}, allow: [], approvalWaitSeconds: 0, version: "0" };
    await expect(serveHttpMcp(toolctl, { ...options, listen: `127.0.0.1:${busy}` })).rejects.toThrow(/already in use/);
    expect(() => statSync(path.join(toolctl.home, "mcp-token.sha256"))).toThrow();
    const server = await serveHttpMcp(toolctl, { ...options, listen: "127.0.0.1:0" });
    cleanups.push(() => server.close());
    expect(server.token.created).toEqual(expect.any(String));
  });
});

describe("initializes the transport refuses, and request-targets in absolute form", () => {
  /** The server on a host the test holds, to count the sessions' servers it keeps, with what it logs. */
  async function hosted(options: { maxSessions?: number } = {}) {
    const toolctl = await openApi({ actor: "agent" });
    await toolctl.importManifests([writeFiles(manifests)]);
    const host = new McpHost(toolctl, { allow: [], approvalWaitSeconds: 0, version: "0.0.0-test" });
    const logs: string[] = [];
    const running = await serveHttp(host, {
      host: "127.0.0.1",
      port: 0,
      tokenHash: createHash("sha256").update(TOKEN).digest(),
      maxSessions: options.maxSessions,
      log: (message) => void logs.push(message),
    });
    cleanups.push(async () => {
      await running.close();
      await host.close();
    });
    return { toolctl, host, url: running.url, logs };
  }

  it("an initialize the transport refuses (406, 415) keeps no server and closes nobody's session, however many come", async () => {
    const { toolctl, host, url, logs } = await hosted({ maxSessions: 1 });
    // The one session the cap allows, idle: a refused initialize must not make room by closing it.
    const first = await connect(url, TOKEN, "first");
    expect(host.serverCount).toBe(1);
    const json = { "content-type": "application/json", authorization: `Bearer ${TOKEN}` };
    const refused: Array<[number, RequestInit]> = [
      [406, { headers: { ...json, accept: "application/json" }, body: JSON.stringify(initialize) }],
      [415, { headers: { ...json, accept: ACCEPT, "content-type": "text/plain" }, body: JSON.stringify(initialize) }],
      [406, { headers: { ...json, accept: "text/event-stream" }, body: JSON.stringify(initialize) }],
    ];
    for (let round = 0; round < 100; round++) {
      const [expected, init] = refused[round % refused.length]!;
      const response = await fetch(url, { method: "POST", ...init });
      expect(response.status).toBe(expected);
      expect(response.headers.get("mcp-session-id")).toBeNull();
      await response.body?.cancel();
    }
    expect(host.serverCount).toBe(1);
    expect(logs).toEqual([]);
    expect(textOf(await call(first.client, "echo__say", { message: "still mine" }))).toContain("still mine");
    expect(await toolctl.countExecutions()).toBe(1);
    // A real client still gets in, in place of the idle one.
    const second = await connect(url, TOKEN, "second");
    expect(textOf(await call(second.client, "echo__say", { message: "second" }))).toContain("second");
    expect(host.serverCount).toBe(1);
    await second.transport.terminateSession();
    expect(host.serverCount).toBe(0);
  });

  it("an absolute-form target is served by its path when it names this server, and refused (403, on record) when it names another", async () => {
    const { toolctl, host, url, logs } = await hosted();
    const { port, host: authority } = new URL(url);
    const headers = { host: authority, "content-type": "application/json", accept: ACCEPT, authorization: `Bearer ${TOKEN}` };
    const foreign = [
      "http://evil.example/mcp",
      `http://evil.example:${port}/mcp`,
      `https://127.0.0.1:${port}/mcp`,
      `http://127.0.0.1:${Number(port) === 1 ? 2 : 1}/mcp`,
      `http://user:secret@127.0.0.1:${port}/mcp`,
    ];
    for (const target of foreign) {
      const response = await rawRequest(url, { target, headers, body: JSON.stringify(initialize) });
      expect(response.status, target).toBe(403);
      expect(JSON.parse(response.body).error.message, target).toBe(`forbidden: request target ${JSON.stringify(target)} is not this server`);
      expect(response.headers["mcp-session-id"], target).toBeUndefined();
    }
    // Read as a path, `//evil.example/mcp` is not the endpoint.
    expect((await rawRequest(url, { target: "//evil.example/mcp", headers, body: JSON.stringify(initialize) })).status).toBe(404);
    expect(host.serverCount).toBe(0);
    const reasons = (await toolctl.audit({ type: "mcp.refused" })).map((event) => String(event.data.reason));
    expect(reasons.filter((reason) => reason.startsWith("forbidden: request target"))).toHaveLength(foreign.length);

    // Naming this server, it is served as /mcp: a session starts, and a call in it runs.
    for (const name of [authority, `localhost:${port}`]) {
      const started = await rawRequest(url, { target: `http://${name}/mcp`, headers, body: JSON.stringify(initialize) });
      expect(started.status, name).toBe(200);
      const session = started.headers["mcp-session-id"] as string;
      expect(session).toMatch(/^[0-9a-f-]{36}$/);
      const called = await rawRequest(url, {
        target: `HTTP://${name.toUpperCase()}/mcp`,
        headers: { ...headers, "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" },
        body: JSON.stringify(callEcho(2)),
      });
      expect(called.status, name).toBe(200);
      expect(called.body).toContain('"toolctl/execution"');
    }
    expect(await toolctl.countExecutions({ status: "succeeded" })).toBe(2);
    // Nothing went wrong inside: no 500, no stack trace.
    expect(logs).toEqual([]);
  });
});

describe("toolctl mcp --http (the binary)", () => {
  it("refuses bad flags with exit 2 and a one-line error", async () => {
    const home = tempDir("toolctl-home-");
    const cases: Array<[string[], RegExp]> = [
      [["--http", "0.0.0.0:0"], /^error: --http 0\.0\.0\.0:0: 0\.0\.0\.0 is not a loopback address;.*--allow-remote/],
      [["--http", "abc"], /^error: --http: expected PORT or HOST:PORT .*got "abc"$/],
      [["--http", "70000"], /^error: --http: expected PORT or HOST:PORT .*got "70000"$/],
      [["--new-token"], /^error: --new-token applies to --http only$/],
      [["--allow", "nope!"], /^error: --allow: expected TOOL or TOOL\.ACTION .*got "nope!"$/],
      [["--approval-wait", "x"], /^error: --approval-wait: expected whole seconds from 0 to 86400, got "x"$/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(["mcp", ...args], { home })));
    results.forEach((result, i) => {
      const [args, message] = cases[i]!;
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stdout).toBe("");
      const lines = result.stderr.trimEnd().split("\n");
      expect(lines, result.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(message);
    });
  });

  it("makes a token on first start, keeps only its SHA-256 (0600), reuses it, and --new-token replaces it", async () => {
    const home = await homeWithExamples();
    const first = await startCli(home);
    const token = first.token!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const file = path.join(home, "mcp-token.sha256");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = readFileSync(file, "utf8");
    expect(stored).toBe(`${createHash("sha256").update(token).digest("hex")}\n`);
    expect(stored).not.toContain(token);

    const { client, transport } = await connect(first.url, token, "cli-agent", "9.9.9");
    const result = await call(client, "echo__say", { message: "through the binary" });
    expect(result.structuredContent).toEqual({ message: "through the binary" });
    const id = executionId(result);
    await client.close();
    expect(await first.stop()).toBe(0);
    const reader = await openApi({ home });
    expect(await reader.execution(id)).toMatchObject({
      actor: "agent",
      origin: { via: "mcp", client: { name: "cli-agent", version: "9.9.9" }, session: transport.sessionId },
    });

    const second = await startCli(home);
    expect(second.token).toBeUndefined();
    expect(second.stderr()).not.toContain(token);
    expect(second.stderr()).toMatch(/bearer token: the one printed when it was made/);
    expect(await status(second.url, token)).toBe(200);
    expect(await second.stop()).toBe(0);

    const renewed = await startCli(home, ["--new-token"]);
    const next = renewed.token!;
    expect(next).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(next).not.toBe(token);
    expect(readFileSync(file, "utf8")).toBe(`${createHash("sha256").update(next).digest("hex")}\n`);
    expect(await status(renewed.url, token)).toBe(401);
    expect(await status(renewed.url, next)).toBe(200);
    expect(await renewed.stop()).toBe(0);
  });

  it("uses TOOLCTL_MCP_TOKEN when set, and refuses one shorter than 16 characters", async () => {
    const home = tempDir("toolctl-home-");
    const fromEnv = "env-token-0123456789";
    const server = await startCli(home, [], { TOOLCTL_MCP_TOKEN: fromEnv });
    expect(server.token).toBeUndefined();
    expect(server.stderr()).toContain("bearer token from TOOLCTL_MCP_TOKEN");
    expect(await status(server.url, fromEnv)).toBe(200);
    expect(await status(server.url, `${fromEnv}x`)).toBe(401);
    expect(await server.stop()).toBe(0);
    // Nothing was written to the home for it.
    expect(() => statSync(path.join(home, "mcp-token.sha256"))).toThrow(/ENOENT/);

    const short = await runCli(["mcp", "--http", "127.0.0.1:0"], { home, env: { TOOLCTL_MCP_TOKEN: "fifteen-chars-x" } });
    expect(short.code).toBe(2);
    expect(short.stderr.trimEnd()).toBe("error: TOOLCTL_MCP_TOKEN: use at least 16 characters and no spaces");
  });
});
