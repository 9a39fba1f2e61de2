/**
 * Messages a well-behaved MCP client never sends: not JSON, JSON that is not a JSON-RPC 2.0 message, a request
 * whose `params` is a list or a string, a batch, a line over the size limit. Over stdio the SDK's transport
 * dropped them unanswered (the client waited until its own timeout); each now gets the JSON-RPC error it calls for,
 * is on record as `mcp.refused`, and the session goes on. The stdio tests spawn the built binary and write raw
 * lines to its stdin (and one has a real SDK client send such requests); the HTTP door, started in-process, answers
 * the same bodies the same way.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CallToolResultSchema, EmptyResultSchema, McpError, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import type { Toolctl } from "../src/api/index.js";
import { serveHttpMcp } from "../src/mcp/index.js";
import { MAX_LINE_BYTES } from "../src/mcp/stdio.js";
import { baseEnv, binPath, openApi, repoRoot, writeFiles } from "./helpers.js";

const TOKEN = "stdio-malformed-token-0123456789";

const manifests = {
  "notes.yaml": `apiVersion: toolctl/v1
name: notes
description: Notes (echo)
runtime: echo
actions:
  read:
    description: Read a note back
    kind: read
    inputSchema: { type: object, properties: { text: { type: string } } }
`,
};

interface Message {
  jsonrpc?: string;
  id?: string | number | null;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
  method?: string;
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function agentApi(): Promise<Toolctl> {
  const toolctl = await openApi({ actor: "agent" });
  const report = await toolctl.importManifests([writeFiles(manifests)]);
  expect(report.failed).toEqual([]);
  cleanups.push(() => toolctl.close());
  return toolctl;
}

/** `toolctl mcp` on stdio, spoken to line by line: every line it prints is read as a JSON-RPC message. */
class RawStdio {
  readonly messages: Message[] = [];
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<number | null>;
  stderr = "";
  private rest = "";

  constructor(home: string) {
    this.child = spawn(process.execPath, [binPath, "--home", home, "mcp"], { env: baseEnv({ TOOLCTL_HOME: home }), cwd: repoRoot, stdio: "pipe" });
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
    this.child.stdout.setEncoding("utf8");
    this.child.stdout.on("data", (chunk: string) => {
      const lines = (this.rest + chunk).split("\n");
      this.rest = lines.pop()!;
      for (const line of lines) this.messages.push(JSON.parse(line) as Message);
    });
    // A server that exited early fails the test by its message below, not by a write to a closed pipe.
    this.child.stdin.on("error", () => undefined);
    this.child.stderr.setEncoding("utf8");
    this.child.stderr.on("data", (chunk: string) => (this.stderr += chunk));
    cleanups.push(async () => {
      if (this.child.exitCode === null) {
        this.child.stdin.end();
        await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
        if (this.child.exitCode === null) this.child.kill("SIGKILL");
      }
    });
  }

  write(text: string): void {
    this.child.stdin.write(text);
  }

  /** The `count`-th message printed (from 1), once it is; fails naming `what` after `ms`. */
  async nth(count: number, what: string, ms = 8000): Promise<Message> {
    const end = Date.now() + ms;
    while (this.messages.length < count) {
      if (this.child.exitCode !== null) throw new Error(`${what}: toolctl mcp exited (${this.child.exitCode}) instead; stderr: ${this.stderr}`);
      if (Date.now() > end) throw new Error(`${what}: no answer within ${ms} ms (${this.messages.length} messages so far)`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.messages[count - 1]!;
  }

  /** Writes one line and returns the next message printed. */
  async ask(line: string, what = line.slice(0, 80)): Promise<Message> {
    const count = this.messages.length + 1;
    this.write(`${line}\n`);
    return this.nth(count, what);
  }

  async initialize(): Promise<void> {
    const answer = await this.ask(
      JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw-lines", version: "0" } },
      }),
    );
    expect(answer).toMatchObject({ id: 1, result: { serverInfo: { name: "toolctl" } } });
    this.write(`${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`);
  }
}

const error = (id: string | number | null, code: number, message: RegExp) => ({ jsonrpc: "2.0", id, error: { code, message: expect.stringMatching(message) } });

async function refusals(toolctl: Toolctl): Promise<Array<Record<string, unknown>>> {
  return (await toolctl.audit({ type: "mcp.refused" })).map((event) => event.data);
}

describe("over stdio, raw lines to the built binary", () => {
  it("answers each malformed line with its JSON-RPC error, after it is on record; the session goes on", async () => {
    const toolctl = await agentApi();
    const mcp = new RawStdio(toolctl.home);
    await mcp.initialize();
    const cases: Array<[string, ReturnType<typeof error>]> = [
      // JSON-RPC allows positional params; every MCP method takes named ones.
      ['{"jsonrpc":"2.0","id":7,"method":"tools/call","params":[1,2]}', error(7, -32602, /^Invalid params: "params" must be an object/)],
      ['{"jsonrpc":"2.0","id":"eight","method":"tools/call","params":"x"}', error("eight", -32600, /^Invalid Request: "params" must be an object/)],
      ['{"jsonrpc":"2.0","id":9,"method":"tools/list","params":null}', error(9, -32600, /^Invalid Request: "params" must be an object/)],
      ['{"jsonrpc": "2.0", "id": 10, "method": "tools/call", "params": {"name": "notes__read"', error(null, -32700, /^Parse error: the line is not JSON/)],
      ["not json at all", error(null, -32700, /^Parse error/)],
      ['{"hello":"world"}', error(null, -32600, /^Invalid Request: "jsonrpc" must be "2.0"/)],
      ['{"jsonrpc":"1.0","id":11,"method":"tools/list"}', error(11, -32600, /^Invalid Request: "jsonrpc" must be "2.0"/)],
      ['{"jsonrpc":"2.0","id":12,"method":7}', error(12, -32600, /^Invalid Request: "method" must be text/)],
      ['{"jsonrpc":"2.0","id":13,"method":"tools/list","extra":true}', error(13, -32600, /^Invalid Request: a request has no member "extra"/)],
      ['{"jsonrpc":"2.0","id":null,"method":"tools/list"}', error(null, -32600, /^Invalid Request: "id" must be text or an integer/)],
      ['[{"jsonrpc":"2.0","id":14,"method":"ping"}]', error(null, -32600, /^Invalid Request: a batch/)],
      ["42", error(null, -32600, /^Invalid Request: a message must be a JSON object/)],
      // Not a request: its id is one of this server's own, so the answer does not carry it.
      ['{"jsonrpc":"2.0","id":15,"result":"not an object"}', error(null, -32600, /^Invalid Request: not a valid response/)],
    ];
    for (const [line, expected] of cases) expect(await mcp.ask(line), line).toEqual(expected);
    // A notification with a list for params is valid JSON-RPC, which never answers a notification: refused unanswered.
    mcp.write('{"jsonrpc":"2.0","method":"notifications/cancelled","params":[1]}\n');
    // A blank line is nothing to answer.
    mcp.write("\n\r\n");
    const listed = await mcp.ask('{"jsonrpc":"2.0","id":20,"method":"tools/list"}');
    expect(listed.id).toBe(20);
    expect((listed.result!.tools as Array<{ name: string }>).map((tool) => tool.name)).toContain("notes__read");
    const called = await mcp.ask(JSON.stringify({ jsonrpc: "2.0", id: 21, method: "tools/call", params: { name: "notes__read", arguments: { text: "hi" } } }));
    expect(called.id).toBe(21);
    const result = called.result as CallToolResult;
    expect(result.isError).toBeFalsy();
    expect(mcp.messages).toHaveLength(1 + cases.length + 2);

    // Each on record as the HTTP door records one in a session: the reason, and the session its calls carry.
    const execution = (result._meta?.["toolctl/execution"] as { id: string }).id;
    const session = (await toolctl.execution(execution)).origin?.session;
    expect(session).toEqual(expect.stringMatching(/^[0-9a-f-]{36}$/));
    const records = await refusals(toolctl);
    expect(records).toHaveLength(cases.length + 1);
    for (const record of records) expect(record).toEqual({ reason: expect.stringMatching(/^malformed message: /), session });
    expect(records.map((record) => record.reason)).toEqual(
      expect.arrayContaining([
        'malformed message: "params" must be an object (MCP takes parameters by name), not a list',
        "malformed message: the line is not JSON",
        'malformed message: "jsonrpc" must be "2.0"',
        "malformed message: a batch (a JSON array) is not accepted here: send one message per line",
      ]),
    );
    // Only the valid call ran.
    expect((await toolctl.executions()).total).toBe(1);
    mcp.child.stdin.end();
    expect(await mcp.exited).toBe(0);
  });

  it("a tools/call without params or with a task that is not one is invalid params (-32602); an id past 2^53 an invalid request; on record, nothing runs", async () => {
    const toolctl = await agentApi();
    const mcp = new RawStdio(toolctl.home);
    await mcp.initialize();
    const call = (id: number, params: Record<string, unknown>) => JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params });
    const cases: Array<[string, ReturnType<typeof error>]> = [
      ['{"jsonrpc":"2.0","id":50,"method":"tools/call"}', error(50, -32602, /^Invalid params: needs params: the tool's name and its arguments$/)],
      [call(51, { name: "notes__read", arguments: { text: "x" }, task: { ttl: "a" } }), error(51, -32602, /^Invalid params: task\.ttl must be a number/)],
      [call(52, { name: "notes__read", arguments: { text: "x" }, task: 5 }), error(52, -32602, /^Invalid params: task must be an object/)],
      [call(53, { name: "notes__read", arguments: { text: "x" }, task: [] }), error(53, -32602, /^Invalid params: task must be an object/)],
      // Not an id the SDK reads (a double past 2^53 is no exact integer): it is answered with it all the same.
      ['{"jsonrpc":"2.0","id":1e300,"method":"ping"}', error(1e300, -32600, /^Invalid Request: "id" must be text or an integer/)],
      ['{"jsonrpc":"2.0","id":9007199254740992,"method":"ping"}', error(9007199254740992, -32600, /^Invalid Request: "id" must be text or an integer/)],
    ];
    for (const [line, expected] of cases) expect(await mcp.ask(line), line).toEqual(expected);
    expect(await mcp.ask('{"jsonrpc":"2.0","id":9007199254740991,"method":"ping"}')).toEqual({ jsonrpc: "2.0", id: 9007199254740991, result: {} });
    expect((await refusals(toolctl)).map((record) => record.reason)).toEqual([
      "malformed message: tools/call needs params: the tool's name and its arguments",
      "malformed message: tools/call task.ttl must be a number (milliseconds)",
      "malformed message: tools/call task must be an object (its ttl, in milliseconds)",
      "malformed message: tools/call task must be an object (its ttl, in milliseconds)",
      'malformed message: "id" must be text or an integer (within ±9007199254740991)',
      'malformed message: "id" must be text or an integer (within ±9007199254740991)',
    ]);
    expect((await toolctl.executions()).total).toBe(0);
    // A task that fits still starts one.
    const task = await mcp.ask(call(60, { name: "notes__read", arguments: { text: "as a task" }, task: { ttl: 60_000 } }));
    expect(task).toMatchObject({ id: 60, result: { task: { status: "working" } } });
  });

  it("refuses a line over the size limit once it is that long, skips its rest, and the session goes on", async () => {
    const toolctl = await agentApi();
    const mcp = new RawStdio(toolctl.home);
    await mcp.initialize();
    const padding = "a".repeat(1024 * 1024);
    mcp.write('{"jsonrpc":"2.0","id":30,"method":"ping","params":{"pad":"');
    // Refused before its newline comes: a client that never sends one is not waited for.
    for (let written = 0; written <= MAX_LINE_BYTES; written += padding.length) mcp.write(padding);
    expect(await mcp.nth(2, "the refusal of a long line")).toEqual(
      error(null, -32600, new RegExp(`^Invalid Request: the message is over ${MAX_LINE_BYTES} bytes`)),
    );
    mcp.write(`${padding}"}}\n`);
    expect(await mcp.ask('{"jsonrpc":"2.0","id":31,"method":"ping"}')).toEqual({ jsonrpc: "2.0", id: 31, result: {} });
    expect(mcp.messages).toHaveLength(3);
    expect((await refusals(toolctl)).map((record) => record.reason)).toEqual(["malformed message: the message is over the size limit"]);
  });

  it("past 60 refusals a minute every line is still answered, and the log takes 60 of them, as for HTTP", async () => {
    const toolctl = await agentApi();
    const mcp = new RawStdio(toolctl.home);
    await mcp.initialize();
    // All in one minute of the log's window.
    if (Date.now() % 60_000 > 50_000) await new Promise((resolve) => setTimeout(resolve, 60_500 - (Date.now() % 60_000)));
    mcp.write(Array.from({ length: 70 }, (_, i) => `{"jsonrpc":"2.0","id":${100 + i},"method":"ping","params":"x"}\n`).join(""));
    await mcp.nth(71, "70 answers", 40_000);
    expect(mcp.messages.slice(1).map((message) => message.id)).toEqual(expect.arrayContaining(Array.from({ length: 70 }, (_, i) => 100 + i)));
    expect(mcp.messages.slice(1).every((message) => message.error?.code === -32600)).toBe(true);
    expect(await refusals(toolctl)).toHaveLength(60);
    expect(await mcp.ask('{"jsonrpc":"2.0","id":200,"method":"ping"}')).toEqual({ jsonrpc: "2.0", id: 200, result: {} });
  }, 60_000);

  it("closing stdin right after a malformed line: the refusal is on record and answered before toolctl exits 0", async () => {
    const toolctl = await agentApi();
    const mcp = new RawStdio(toolctl.home);
    mcp.child.stdin.end('{"jsonrpc":"2.0","id":40,"method":"tools/call","params":[]}\n');
    expect(await mcp.exited).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(mcp.messages).toEqual([error(40, -32602, /^Invalid params/)]);
    expect((await refusals(toolctl)).map((record) => record.reason)).toEqual([
      'malformed message: "params" must be an object (MCP takes parameters by name), not a list',
    ]);
  });
});

describe("over stdio, a real SDK client", () => {
  it("gets an error, not a timeout, for a request whose params are not an object, and its session goes on", async () => {
    const toolctl = await agentApi();
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [binPath, "--home", toolctl.home, "mcp"],
      env: baseEnv({ TOOLCTL_HOME: toolctl.home }) as Record<string, string>,
      cwd: repoRoot,
      stderr: "pipe",
    });
    const client = new Client({ name: "stdio-agent", version: "1.0.0" });
    await client.connect(transport);
    cleanups.push(() => client.close());
    // The SDK's client sends what it is given: a test double for a client with a bug.
    const ask = (params: unknown) =>
      client.request({ method: "tools/call", params: params as never }, CallToolResultSchema, { timeout: 5000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
    const list = await ask([{ name: "notes__read" }]);
    expect(list).toBeInstanceOf(McpError);
    expect((list as McpError).code).toBe(-32602);
    const text = await ask("notes__read");
    expect(text).toBeInstanceOf(McpError);
    expect((text as McpError).code).toBe(-32600);
    expect(await client.request({ method: "ping" }, EmptyResultSchema)).toEqual({});
    const result = (await client.callTool({ name: "notes__read", arguments: { text: "still here" } })) as CallToolResult;
    expect(JSON.parse((result.content[0] as { text: string }).text)).toEqual({ text: "still here" });
    const session = (await toolctl.execution((result._meta?.["toolctl/execution"] as { id: string }).id)).origin?.session;
    expect(await refusals(toolctl)).toEqual([
      { reason: 'malformed message: "params" must be an object (MCP takes parameters by name), not a list', session },
      { reason: 'malformed message: "params" must be an object', session },
    ]);
  });
});

describe("over HTTP, the same bodies", () => {
  async function start(): Promise<{ toolctl: Toolctl; url: string; client: Client; session: string }> {
    const toolctl = await agentApi();
    const server = await serveHttpMcp(toolctl, {
      listen: "127.0.0.1:0",
      allowRemote: false,
      newToken: false,
      env: { TOOLCTL_MCP_TOKEN: TOKEN },
      allow: [],
      approvalWaitSeconds: 0,
      version: "0.0.0-test",
    });
    cleanups.push(() => server.close());
    const transport = new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } });
    const client = new Client({ name: "http-agent", version: "1.0.0" });
    await client.connect(transport);
    cleanups.push(() => client.close());
    return { toolctl, url: server.url, client, session: transport.sessionId! };
  }

  const headers = { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${TOKEN}` };

  it("answers 400 with the JSON-RPC error stdio gives, on record with the session; the session goes on", async () => {
    const { toolctl, url, client, session } = await start();
    const cases: Array<[string, ReturnType<typeof error>]> = [
      ['{"jsonrpc":"2.0","id":7,"method":"tools/call","params":[1,2]}', error(7, -32602, /^Invalid params: "params" must be an object/)],
      ['{"jsonrpc":"2.0","id":"eight","method":"tools/call","params":"x"}', error("eight", -32600, /^Invalid Request: "params" must be an object/)],
      ['{"hello":"world"}', error(null, -32600, /^Invalid Request: "jsonrpc" must be "2.0"/)],
      ["[]", error(null, -32600, /^Invalid Request: an empty batch/)],
      [
        '[{"jsonrpc":"2.0","id":8,"method":"ping"},{"jsonrpc":"2.0","id":9,"method":7}]',
        error(null, -32600, /^Invalid Request: message 2 of the batch: "method"/),
      ],
      // A notification has nothing to carry an id: refused all the same (HTTP has no silence to answer with).
      ['{"jsonrpc":"2.0","method":"notifications/cancelled","params":[1]}', error(null, -32602, /^Invalid params/)],
    ];
    for (const [body, expected] of cases) {
      const response = await fetch(url, { method: "POST", headers: { ...headers, "mcp-session-id": session }, body });
      expect(response.status, body).toBe(400);
      expect(await response.json(), body).toEqual(expected);
    }
    const records = await refusals(toolctl);
    expect(records).toHaveLength(cases.length);
    for (const record of records) expect(record).toEqual({ reason: expect.stringMatching(/^malformed message: /), session });
    expect((await client.listTools()).tools.map((tool) => tool.name)).toContain("notes__read");
  });

  it("a tools/call without params or with an invalid task is -32602 through the SDK client, on record with the session; an id past 2^53 is -32600", async () => {
    const { toolctl, url, client, session } = await start();
    const ask = (params: unknown) =>
      client.request({ method: "tools/call", ...(params === undefined ? {} : { params }) } as never, CallToolResultSchema, { timeout: 5000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
    for (const [params, message] of [
      [undefined, /needs params/],
      [{ name: "notes__read", arguments: { text: "x" }, task: { ttl: "a" } }, /task\.ttl must be a number/],
      [{ name: "notes__read", arguments: { text: "x" }, task: "soon" }, /task must be an object/],
    ] as const) {
      const refused = await ask(params);
      expect(refused, JSON.stringify(params)).toBeInstanceOf(McpError);
      expect((refused as McpError).code).toBe(-32602);
      expect((refused as McpError).message).toMatch(message);
    }
    const response = await fetch(url, {
      method: "POST",
      headers: { ...headers, "mcp-session-id": session },
      body: '{"jsonrpc":"2.0","id":1e300,"method":"ping"}',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual(error(1e300, -32600, /^Invalid Request: "id" must be text or an integer/));
    expect(await refusals(toolctl)).toEqual([
      { reason: "malformed message: tools/call needs params: the tool's name and its arguments", session },
      { reason: "malformed message: tools/call task.ttl must be a number (milliseconds)", session },
      { reason: "malformed message: tools/call task must be an object (its ttl, in milliseconds)", session },
      { reason: 'malformed message: "id" must be text or an integer (within ±9007199254740991)', session },
    ]);
    expect((await toolctl.executions()).total).toBe(0);
    expect((await client.callTool({ name: "notes__read", arguments: { text: "still here" } })).isError).toBeFalsy();
  });

  it("refuses a malformed first message as an invalid request, with its id, before asking for initialize", async () => {
    const { toolctl, url } = await start();
    const response = await fetch(url, {
      method: "POST",
      headers,
      body: '{"jsonrpc":"2.0","id":3,"method":"initialize","params":"2025-06-18"}',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual(error(3, -32600, /^Invalid Request: "params" must be an object/));
    expect((await refusals(toolctl)).at(-1)).toEqual({ reason: 'malformed message: "params" must be an object', transport: "http", remote: "127.0.0.1" });
  });
});
