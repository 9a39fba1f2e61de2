/**
 * `toolctl mcp` through the official SDK's client: what an agent sees (reads by default, writes when allowed, the
 * annotations, names every client accepts), calls through the same pipeline as `run` (validation problems and
 * policy refusals as tool errors, outputs cut with a note), approvals decided by a human in another process and
 * `resume`, cancellation, progress, and list_changed. Most tests use the Streamable HTTP transport against a server
 * started in-process; the stdio tests spawn the built binary, as Claude Code or Cursor would.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CallToolResultSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  McpError,
  ToolListChangedNotificationSchema,
  type CallToolResult,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Toolctl } from "../src/api/index.js";
import { MCP_NAME_PATTERN, mcpToolName, serveHttpMcp, type McpOptions } from "../src/mcp/index.js";
import { generateTotp } from "../src/policy/totp.js";
import { FakeServer, sendJson } from "./fakes/server.js";
import { baseEnv, binPath, openApi, rejection, repoRoot, runCli, writeFiles } from "./helpers.js";

const TOKEN = "mcp-test-token-0123456789";

const shop = new FakeServer((req, res) => {
  if (req.url.startsWith("/slow")) {
    setTimeout(() => sendJson(res, 200, { slow: true }), 1500);
    return;
  }
  sendJson(res, 200, { id: "it_1", method: req.method, path: req.url });
});
beforeAll(async () => void (await shop.start()));
afterAll(() => shop.close());

const shopManifest = () => `apiVersion: toolctl/v1
name: shop
description: A shop on loopback
runtime: http
baseUrl: ${shop.url}
tags: [store]
http: { allowPlainHttp: true, allowPrivateNetworks: ["127.0.0.0/8"], timeoutSeconds: 5, retry: { attempts: 1 } }
auth: { type: none }
actions:
  get_item:
    description: Read an item
    kind: read
    inputSchema: { type: object, required: [id], properties: { id: { type: string }, count: { type: integer, minimum: 1 } } }
    outputSchema: { type: object, required: [id], properties: { id: { type: string } } }
    request: { method: GET, path: "/items/{{ input.id }}" }
  slow_read:
    description: A read that takes 1.5 s
    kind: read
    inputSchema: { type: object }
    request: { method: GET, path: /slow }
  slow_create:
    description: A create that takes 1.5 s to answer
    kind: create
    inputSchema: { type: object }
    request: { method: POST, path: /slow }
  create_item:
    description: Create an item
    kind: create
    inputSchema: { type: object, required: [name], properties: { name: { type: string } } }
    request: { method: POST, path: /items, json: { name: "{{ input.name }}" } }
  delete_item:
    description: Delete an item
    kind: delete
    rollback: irreversible
    inputSchema: { type: object, required: [id], properties: { id: { type: string } } }
    request: { method: DELETE, path: "/items/{{ input.id }}" }
`;

const echoManifests = {
  "pay.yaml": `apiVersion: toolctl/v1
name: pay
description: Pays (echo)
runtime: echo
actions:
  charge:
    description: Charge dollars
    kind: create
    cost: { fromInput: amount }
    inputSchema: { type: object, required: [amount], properties: { amount: { type: number } } }
  balance:
    description: Read the balance
    kind: read
    inputSchema: { type: object, properties: { note: { type: string } } }
`,
  "notes.yaml": `apiVersion: toolctl/v1
name: notes
description: Notes (echo)
runtime: echo
tags: [text]
actions:
  read:
    description: Read a note back
    kind: read
    inputSchema: { type: object, properties: { text: { type: string } } }
`,
};

const servers: Array<{ close(): Promise<void> }> = [];
const clients: Client[] = [];
afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((client) => client.close()));
  await Promise.allSettled(servers.splice(0).map((server) => server.close()));
});

async function agentApi(env: Record<string, string> = {}): Promise<Toolctl> {
  const toolctl = await openApi({ actor: "agent", env });
  const report = await toolctl.importManifests([writeFiles({ ...echoManifests, "shop.yaml": shopManifest() })]);
  expect(report.failed).toEqual([]);
  return toolctl;
}

type ServeOptions = Partial<McpOptions>;

async function serve(toolctl: Toolctl, options: ServeOptions = {}) {
  const server = await serveHttpMcp(toolctl, {
    allow: [],
    approvalWaitSeconds: 30,
    version: "0.0.0-test",
    pollMs: 100,
    listen: "127.0.0.1:0",
    allowRemote: false,
    newToken: false,
    env: { TOOLCTL_MCP_TOKEN: TOKEN },
    ...options,
  });
  servers.push(server);
  return server;
}

async function connect(url: string, name = "test-agent"): Promise<Client> {
  const client = new Client({ name, version: "1.2.3" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } } }));
  clients.push(client);
  return client;
}

async function agent(options: ServeOptions = {}, env: Record<string, string> = {}) {
  const toolctl = await agentApi(env);
  const server = await serve(toolctl, options);
  return { toolctl, server, client: await connect(server.url) };
}

const names = (tools: Tool[]) => tools.map((tool) => tool.name).sort();
const text = (result: unknown) => ((result as CallToolResult).content[0] as { text: string }).text;
const executionOf = (result: unknown) => ((result as CallToolResult)._meta?.["toolctl/execution"] as { id: string }).id;

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("what the agent sees", () => {
  it("reads by default, each with its schema, annotations and a description stating cost and risk; never a policy tool", async () => {
    const { client } = await agent();
    const { tools } = await client.listTools();
    expect(names(tools)).toEqual(["notes__read", "pay__balance", "preview", "resume", "shop__get_item", "shop__slow_read"]);
    for (const tool of tools) expect(tool.name).toMatch(MCP_NAME_PATTERN);
    const get = tools.find((tool) => tool.name === "shop__get_item")!;
    expect(get).toMatchObject({
      title: "shop: get_item",
      inputSchema: { type: "object", required: ["id"] },
      outputSchema: { type: "object", required: ["id"] },
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
      _meta: { "toolctl/action": "shop.get_item", "toolctl/kind": "read" },
    });
    expect(get.description).toMatch(/Cost: none declared \(\$0\)\. Risk: from cost; approval auto\./);
    expect(tools.find((tool) => tool.name === "notes__read")!.annotations).toMatchObject({ openWorldHint: false });
    expect(names(tools).some((name) => /approve|deny|grant|secret|import|config|2fa|totp/i.test(name))).toBe(false);
  });

  it("create, update and delete actions only when allowed, by tool or by action; --tools and --tag narrow", async () => {
    const toolctl = await agentApi();
    const byTool = await connect((await serve(toolctl, { allow: ["shop"] })).url);
    const shopTools = (await byTool.listTools()).tools;
    expect(names(shopTools)).toEqual(expect.arrayContaining(["shop__create_item", "shop__delete_item"]));
    expect(names(shopTools)).not.toContain("pay__charge");
    expect(shopTools.find((tool) => tool.name === "shop__delete_item")!.annotations).toMatchObject({
      readOnlyHint: false,
      destructiveHint: true,
      idempotentHint: false,
    });
    const byAction = await connect((await serve(toolctl, { allow: ["pay.charge"] })).url);
    const listed = names((await byAction.listTools()).tools);
    expect(listed).toContain("pay__charge");
    expect(listed).not.toContain("shop__create_item");
    const narrowed = await connect((await serve(toolctl, { tools: ["pay", "shop"], tag: "store", allow: ["shop"] })).url);
    expect(names((await narrowed.listTools()).tools)).toEqual([
      "preview",
      "resume",
      "shop__create_item",
      "shop__delete_item",
      "shop__get_item",
      "shop__slow_create",
      "shop__slow_read",
    ]);
  });

  it("tools that are not active are not offered", async () => {
    const { toolctl, client } = await agent();
    await toolctl.disableTool("shop");
    expect(names((await client.listTools()).tools)).toEqual(["notes__read", "pay__balance", "preview", "resume"]);
  });

  it("names fit ^[a-zA-Z0-9_-]{1,64}$: tool__action, else a stable hashed form", () => {
    expect(mcpToolName("shop", "get_item")).toBe("shop__get_item");
    const long = mcpToolName("a".repeat(60), "list_everything");
    expect(long).toMatch(MCP_NAME_PATTERN);
    expect(long).toHaveLength(64);
    expect(mcpToolName("a".repeat(60), "list_everything")).toBe(long);
    expect(mcpToolName("a".repeat(60), "list_everything2")).not.toBe(long);
    // `__` inside a name could be read two ways: hashed, so a__b.c and a.b__c never meet.
    expect(mcpToolName("a__b", "c")).not.toBe(mcpToolName("a", "b__c"));
    expect(mcpToolName("a__b", "c")).toMatch(/^a__b__c_[0-9a-f]{8}$/);
    // An action named like another's hashed form (64 characters, ending in _ and 8 hex digits) is hashed itself.
    const hashed = mcpToolName("stripe", "PostCustomersCustomerSubscriptionsSubscriptionExposedIdDiscount");
    expect(hashed).toMatch(/^stripe__PostCustomersCustomerSubscriptionsSubscriptionE_[0-9a-f]{8}$/);
    const lookalike = hashed.slice("stripe__".length);
    expect(mcpToolName("stripe", lookalike)).not.toBe(hashed);
    expect(mcpToolName("stripe", lookalike)).toMatch(MCP_NAME_PATTERN);
    expect(mcpToolName("stripe", lookalike.slice(0, -1))).toBe(`stripe__${lookalike.slice(0, -1)}`);
  });
});

describe("calls go through the same pipeline", () => {
  it("a read runs and returns its output as text and structuredContent, recorded as the agent with the client and session", async () => {
    const { toolctl, client } = await agent();
    const result = await client.callTool({ name: "shop__get_item", arguments: { id: "it_1" } });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ id: "it_1", method: "GET", path: "/items/it_1" });
    expect(JSON.parse(text(result))).toMatchObject({ id: "it_1" });
    const execution = await toolctl.execution(executionOf(result));
    expect(execution).toMatchObject({
      actor: "agent",
      status: "succeeded",
      origin: { via: "mcp", client: { name: "test-agent", version: "1.2.3" }, session: expect.stringMatching(/^[0-9a-f-]{36}$/) },
    });
    const started = (await toolctl.audit()).find((event) => event.type === "execution.started" && event.executionId === executionOf(result));
    expect(started?.data).toMatchObject({ origin: { via: "mcp", client: { name: "test-agent" } } });
  });

  it("arguments that fail the schema come back as one tool error listing every problem with its path; nothing is sent", async () => {
    const { client } = await agent();
    const before = shop.requests.length;
    const result = await client.callTool({ name: "shop__get_item", arguments: { id: 5, count: 0 } });
    expect(result.isError).toBe(true);
    expect(text(result)).toContain("input.id: must be string");
    expect(text(result)).toContain("input.count: must be >= 1");
    expect(shop.requests.length).toBe(before);
  });

  it("arguments are the action's input, whatever their names: a `params` list is a field, never the CLI's --param", async () => {
    const { client } = await agent();
    for (const args of [{ params: ["text=forged"] }, { params: [1, 2] }, { params: [], paramsFile: { name: "f", text: '{"text":"from a file"}' } }]) {
      const result = await client.callTool({ name: "notes__read", arguments: args });
      expect(result.isError, text(result)).toBeFalsy();
      expect(JSON.parse(text(result))).toEqual(args);
    }
  });

  it("an unknown tool is an MCP error, audited; a write that was never offered is unknown too", async () => {
    const { toolctl, client } = await agent();
    const unknown = await client.callTool({ name: "nope__nothing", arguments: {} }).catch((error: unknown) => error);
    expect(unknown).toBeInstanceOf(McpError);
    expect((unknown as McpError).code).toBe(-32602);
    expect((unknown as McpError).message).toBe("MCP error -32602: Unknown tool: nope__nothing");
    const write = await client.callTool({ name: "shop__create_item", arguments: { name: "x" } }).catch((error: unknown) => error);
    expect(write).toBeInstanceOf(McpError);
    expect(shop.requests.some((request) => request.method === "POST")).toBe(false);
    const refused = (await toolctl.audit()).filter((event) => event.type === "mcp.refused");
    expect(refused.map((event) => event.data.reason)).toEqual(["unknown tool nope__nothing", "unknown tool shop__create_item"]);
    expect(refused[0]!.actor).toBe("agent");
  });

  it("refused calls are written at most 60 a minute, the rest counted, each reason cut to a readable length", async () => {
    const { toolctl, client } = await agent();
    const long = `x${"y".repeat(5_000)}`;
    for (let i = 0; i < 70; i++) {
      const name = i % 2 === 0 ? `nope${i}__${long}` : `nope${i}__nothing`;
      expect(await client.callTool({ name, arguments: {} }).catch((error: unknown) => error)).toBeInstanceOf(McpError);
    }
    const refused = (await toolctl.audit({ limit: 500 })).filter((event) => event.type === "mcp.refused");
    expect(refused.length).toBeLessThanOrEqual(60);
    expect(refused.length).toBeGreaterThanOrEqual(50);
    for (const event of refused) expect(String(event.data.reason).length).toBeLessThan(600);
    expect(String(refused[0]!.data.reason)).toMatch(/^unknown tool nope0__xy+… \(5021 characters\)$/);
  });

  it("a tool disabled or revoked after tools/list is refused with the engine's reason, as a tool error, and audited", async () => {
    const { toolctl, client } = await agent();
    await client.listTools();
    await toolctl.disableTool("shop");
    const result = await client.callTool({ name: "shop__get_item", arguments: { id: "x" } });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/disabled/);
    expect(shop.requests.some((request) => request.url === "/items/x")).toBe(false);
    const execution = await toolctl.execution(executionOf(result));
    expect(execution).toMatchObject({ status: "declined", actor: "agent" });
  });

  it("a policy refusal (over the per-action limit) is a tool error saying why, never a protocol error", async () => {
    const { client } = await agent({ allow: ["pay"] }, { TOOLCTL_LIMITS_PER_ACTION_USD: "10" });
    const result = await client.callTool({ name: "pay__charge", arguments: { amount: 50 } });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/pay\.charge declined: .*limit/);
  });

  it("a long output is cut at the documented size with a note; structuredContent stays whole", async () => {
    const { client } = await agent({ maxOutputBytes: 200 });
    const long = "é".repeat(500);
    const result = await client.callTool({ name: "notes__read", arguments: { text: long } });
    expect(result.isError).toBeFalsy();
    const shown = text(result);
    expect(Buffer.byteLength(shown.split("\n… [output cut")[0]!)).toBeLessThanOrEqual(200);
    expect(shown).toMatch(/… \[output cut at \d+ of \d+ bytes; the whole output: toolctl executions show ex_/);
    expect(shown).not.toContain("\uFFFD");
  });

  it("preview returns the decision without running: the exact request, cost, risk, approval need and budget", async () => {
    const { toolctl, client } = await agent({ allow: ["shop"] });
    const before = shop.requests.length;
    const result = await client.callTool({ name: "preview", arguments: { action: "shop__create_item", input: { name: "lamp" } } });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({
      action: "shop.create_item",
      request: { method: "POST", url: `${shop.url}/items`, body: { name: "lamp" } },
      risk: expect.any(String),
      approval: { required: expect.any(Boolean) },
      budget: { day: expect.any(String) },
    });
    expect(shop.requests.length).toBe(before);
    const byDot = await client.callTool({ name: "preview", arguments: { action: "shop.get_item", input: { id: "a" } } });
    expect(byDot.structuredContent).toMatchObject({ action: "shop.get_item" });
    const hidden = await client.callTool({ name: "preview", arguments: { action: "pay.charge", input: { amount: 1 } } });
    expect(hidden.isError).toBe(true);
    expect(text(hidden)).toMatch(/not one of this server's tools/);
    expect((await toolctl.executions({ status: "succeeded" })).total).toBe(0);
  });
});

describe("approvals come from a human, never from the agent", () => {
  it("a call that needs approval waits; `toolctl approve ID --yes` from another process lets it run; the client was told the id", async () => {
    const { toolctl, client } = await agent({ allow: ["pay"] });
    const logs: string[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => void logs.push(String(notification.params.data)));
    const progress: string[] = [];
    const call = client.callTool({ name: "pay__charge", arguments: { amount: 5 } }, undefined, {
      onprogress: (p) => void progress.push(p.message ?? ""),
      timeout: 60_000,
    });
    const [filed] = await until("the approval request", async () => {
      const open = await toolctl.approvals();
      return open.length ? open : undefined;
    });
    expect(filed).toMatchObject({ tool: "pay", action: "charge", status: "pending", requestedBy: "agent" });
    const approved = await runCli(["approve", filed!.id, "--yes"], { env: { TOOLCTL_HOME: toolctl.home } });
    expect(approved.code, approved.stderr).toBe(0);
    const result = await call;
    expect(result.isError).toBeFalsy();
    expect(await toolctl.execution(executionOf(result))).toMatchObject({ status: "succeeded" });
    expect(logs.join("\n")).toContain(`toolctl approve ${filed!.id}`);
    expect(progress.join("\n")).toContain(filed!.id);
  });

  it("when the wait ends undecided the result names the pending approval; resume runs exactly that call once", async () => {
    const { toolctl, client } = await agent({ allow: ["pay"], approvalWaitSeconds: 0 });
    const first = await client.callTool({ name: "pay__charge", arguments: { amount: 7 } });
    expect(first.isError).toBe(true);
    const id = (first._meta?.["toolctl/approval"] as { id: string }).id;
    expect(text(first)).toContain(`pending approval ${id}`);
    expect(text(first)).toContain(`toolctl approve ${id}`);
    expect(text(first)).toContain(`{"approval": "${id}"}`);

    // Still pending: resume says so again, nothing runs.
    const early = await client.callTool({ name: "resume", arguments: { approval: id } });
    expect(text(early)).toContain(`pending approval ${id}`);

    const human = await openApi({ home: toolctl.home });
    await human.approve(id);
    const ran = await client.callTool({ name: "resume", arguments: { approval: id } });
    expect(ran.isError).toBeFalsy();
    expect(await toolctl.execution(executionOf(ran))).toMatchObject({ status: "succeeded", input: { amount: 7 }, costUsd: 7 });

    const again = await client.callTool({ name: "resume", arguments: { approval: id } });
    expect(again.isError).toBe(true);
    expect(text(again)).toMatch(/no call of this server is waiting on approval/);
    expect((await toolctl.executions({ status: "succeeded" })).total).toBe(1);
    expect((await toolctl.audit()).some((event) => event.type === "mcp.refused" && String(event.data.reason).includes(id))).toBe(true);
  });

  it("resume refuses an action withdrawn from agents since it was filed, as a direct call is; offered again, it runs", async () => {
    const toolctl = await agentApi();
    const config = path.join(toolctl.home, "config.yaml");
    writeFileSync(config, "mcp:\n  allow: [pay]\n");
    const server = await serve(toolctl, { approvalWaitSeconds: 0 });
    const client = await connect(server.url);
    const first = await client.callTool({ name: "pay__charge", arguments: { amount: 7 } });
    const id = (first._meta?.["toolctl/approval"] as { id: string }).id;
    expect(id).toMatch(/^ap_/);
    // Withdrawn (as `toolctl config unset mcp.allow` does), then approved by a human.
    writeFileSync(config, "mcp:\n  approvalWaitSeconds: 30\n");
    await until("the write withdrawn", async () => !names((await client.listTools()).tools).includes("pay__charge") || undefined);
    await (await openApi({ home: toolctl.home })).approve(id);

    const reason =
      "pay.charge is not offered to agents (a create, update or delete action needs toolctl mcp --allow pay.charge, or pay.charge in config mcp.allow)";
    // From another session, as from this one: refused as the direct call is, and on record the same way.
    const other = await connect(server.url, "other-agent");
    const resumed = await other.callTool({ name: "resume", arguments: { approval: id } });
    expect(resumed.isError).toBe(true);
    expect(text(resumed)).toContain(`${reason}; nothing ran`);
    const direct = await other.callTool({ name: "pay__charge", arguments: { amount: 7 } });
    expect(text(direct)).toBe(`${reason}; nothing ran`);
    expect((await toolctl.executions()).total).toBe(1);
    expect((await toolctl.executions({ status: "succeeded" })).total).toBe(0);
    const refused = (await toolctl.audit({ type: "mcp.refused" })).filter((event) => event.data.reason === reason);
    expect(refused).toHaveLength(2);
    for (const event of refused) expect(event).toMatchObject({ actor: "agent", tool: "pay", action: "charge", status: "refused" });
    expect(refused[0]!.data).toEqual(refused[1]!.data);

    // Offered again: the call still waits on its approval, and runs once.
    writeFileSync(config, "mcp:\n  allow: [pay.charge]\n");
    const ran = await other.callTool({ name: "resume", arguments: { approval: id } });
    expect(ran.isError, text(ran)).toBeFalsy();
    expect(await toolctl.execution(executionOf(ran))).toMatchObject({ status: "succeeded", input: { amount: 7 } });
  });

  it("a denied request runs nothing on resume", async () => {
    const { toolctl, client } = await agent({ allow: ["pay"], approvalWaitSeconds: 0 });
    const first = await client.callTool({ name: "pay__charge", arguments: { amount: 7 } });
    const id = (first._meta?.["toolctl/approval"] as { id: string }).id;
    const denied = await runCli(["deny", id], { env: { TOOLCTL_HOME: toolctl.home } });
    expect(denied.code, denied.stderr).toBe(0);
    const result = await client.callTool({ name: "resume", arguments: { approval: id } });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/denied/);
    expect((await toolctl.executions({ status: "succeeded" })).total).toBe(0);
  });

  it("a CRITICAL call is approved only with the human's TOTP code typed in their terminal; the agent has no way to pass one", async () => {
    const { toolctl, client } = await agent({ allow: ["pay"], approvalWaitSeconds: 0 });
    const human = await openApi({ home: toolctl.home });
    const { secret } = await human.beginTwoFactor("test");
    await human.confirmTwoFactor(generateTotp(secret, Date.now()));
    const first = await client.callTool({ name: "pay__charge", arguments: { amount: 150, otp: "123456" } });
    expect(text(first)).toMatch(/input: must NOT have additional properties|pending approval/);
    const pending = await client.callTool({ name: "pay__charge", arguments: { amount: 150 } });
    const id = (pending._meta?.["toolctl/approval"] as { id: string }).id;
    expect(text(pending)).toContain(`toolctl approve ${id} --otp CODE`);
    const noCode = await rejection(human.approve(id));
    expect(noCode.message).toMatch(/TOTP|--otp/);
    await human.approve(id, { otp: generateTotp(secret, Date.now() + 30_000) });
    const ran = await client.callTool({ name: "resume", arguments: { approval: id } });
    expect(ran.isError).toBeFalsy();
  });
});

describe("form elicitation (optional, off by default)", () => {
  async function elicitingClient(url: string, answer: (message: string) => { action: "accept" | "decline" | "cancel"; content?: Record<string, unknown> }) {
    const asked: string[] = [];
    const client = new Client({ name: "eliciting-agent", version: "1.0.0" }, { capabilities: { elicitation: { form: {} } } });
    client.setRequestHandler(ElicitRequestSchema, (request) => {
      asked.push(request.params.message);
      return answer(request.params.message);
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } } }));
    clients.push(client);
    return { client, asked };
  }

  it("with --elicit a MEDIUM call is approved through the client; HIGH still needs a terminal", async () => {
    const toolctl = await agentApi();
    const server = await serve(toolctl, { allow: ["pay"], elicit: true, approvalWaitSeconds: 0 });
    const { client, asked } = await elicitingClient(server.url, () => ({ action: "accept", content: { approve: true } }));
    const medium = await client.callTool({ name: "pay__charge", arguments: { amount: 5 } });
    expect(medium.isError).toBeFalsy();
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatch(/^Approve pay\.charge\? Charge dollars/);
    expect(asked[0]).toContain("Cost: $5.00");
    expect(asked[0]).toContain("Risk: MEDIUM");
    expect(await toolctl.execution(executionOf(medium))).toMatchObject({ status: "succeeded" });
    const approved = (await toolctl.audit()).find((event) => event.type === "approval.approved");
    expect(approved?.data).toMatchObject({ via: "MCP elicitation", origin: { client: { name: "eliciting-agent" } } });

    const high = await client.callTool({ name: "pay__charge", arguments: { amount: 50 } });
    expect(text(high)).toMatch(/pending approval ap_/);
    expect(asked).toHaveLength(1);
  });

  it("a no through the client declines; a cancel files the request for a terminal instead", async () => {
    const toolctl = await agentApi();
    const server = await serve(toolctl, { allow: ["pay"], elicit: true, approvalWaitSeconds: 0 });
    const saysNo = await elicitingClient(server.url, () => ({ action: "accept", content: { approve: false } }));
    const no = await saysNo.client.callTool({ name: "pay__charge", arguments: { amount: 5 } });
    expect(no.isError).toBe(true);
    expect(text(no)).toMatch(/not approved \(answered no through MCP elicitation\)/);
    const cancels = await elicitingClient(server.url, () => ({ action: "cancel" }));
    const pending = await cancels.client.callTool({ name: "pay__charge", arguments: { amount: 6 } });
    expect(text(pending)).toMatch(/pending approval ap_/);
    expect((await toolctl.executions({ status: "succeeded" })).total).toBe(0);
  });

  it("is off by default: the client is never asked", async () => {
    const toolctl = await agentApi();
    const server = await serve(toolctl, { allow: ["pay"], approvalWaitSeconds: 0 });
    const { client, asked } = await elicitingClient(server.url, () => ({ action: "accept", content: { approve: true } }));
    const result = await client.callTool({ name: "pay__charge", arguments: { amount: 5 } });
    expect(text(result)).toMatch(/pending approval ap_/);
    expect(asked).toEqual([]);
  });
});

describe("MCP tasks", () => {
  it("a client that supports tasks gets a task at once; it waits for approval past --approval-wait and yields the result", async () => {
    const { toolctl, client } = await agent({ allow: ["pay"], approvalWaitSeconds: 0 });
    expect(client.getServerCapabilities()).toMatchObject({ tasks: { requests: { tools: { call: {} } } } });
    expect((await client.listTools()).tools.find((tool) => tool.name === "pay__charge")?.execution).toEqual({ taskSupport: "optional" });
    const stream = client.experimental.tasks.callToolStream({ name: "pay__charge", arguments: { amount: 4 } }, CallToolResultSchema, {
      task: { ttl: 60_000 },
    });
    const seen: string[] = [];
    let result: CallToolResult | undefined;
    let approvedId: string | undefined;
    let taskId: string | undefined;
    for await (const message of stream) {
      if (message.type === "taskCreated") {
        seen.push(`created ${message.task.status}`);
        taskId = message.task.taskId;
      }
      if (message.type === "taskStatus") {
        seen.push(`${message.task.status}: ${message.task.statusMessage ?? ""}`);
        const id = /approve (ap_\w+)/.exec(message.task.statusMessage ?? "")?.[1];
        if (id && !approvedId) {
          approvedId = id;
          const approved = await runCli(["approve", id, "--yes"], { env: { TOOLCTL_HOME: toolctl.home } });
          expect(approved.code, approved.stderr).toBe(0);
        }
      }
      if (message.type === "result") result = message.result as CallToolResult;
      if (message.type === "error") throw message.error;
    }
    expect(seen[0]).toBe("created working");
    expect(approvedId).toBeDefined();
    expect(result?.isError).toBeFalsy();
    expect(await toolctl.execution(executionOf(result))).toMatchObject({ status: "succeeded", costUsd: 4, origin: { via: "mcp" } });
    // The finished task says how it ended, no longer that it waits for a human.
    expect(await client.experimental.tasks.getTask(taskId!)).toMatchObject({
      status: "completed",
      statusMessage: "the run ended succeeded; its result is ready",
    });
  });

  it("a ttl no timer can hold, or none at all, is clamped: the task lives, and says the ttl it got", async () => {
    const { client } = await agent();
    for (const [asked, granted] of [
      [1e12, 24 * 60 * 60_000],
      [0, 1_000],
    ] as const) {
      const stream = client.experimental.tasks.callToolStream({ name: "notes__read", arguments: {} }, CallToolResultSchema, { task: { ttl: asked } });
      let created: { taskId: string; ttl: number | null } | undefined;
      let result: CallToolResult | undefined;
      for await (const message of stream) {
        if (message.type === "taskCreated") created = message.task as { taskId: string; ttl: number | null };
        if (message.type === "result") result = message.result as CallToolResult;
        if (message.type === "error") throw message.error;
      }
      expect(created?.ttl).toBe(granted);
      expect(result?.isError).toBeFalsy();
      expect((await client.experimental.tasks.getTask(created!.taskId)).status).toBe("completed");
    }
  });

  it("tasks/cancel withdraws the approval request the task waits on; an unknown tool is refused before any task exists", async () => {
    const { toolctl, client } = await agent({ allow: ["pay"] });
    const stream = client.experimental.tasks.callToolStream({ name: "pay__charge", arguments: { amount: 4 } }, CallToolResultSchema, {
      task: { ttl: 60_000 },
    });
    const first = await stream.next();
    const taskId = (first.value as { task: { taskId: string } }).task.taskId;
    const [filed] = await until("the approval request", async () => {
      const open = await toolctl.approvals();
      return open.length ? open : undefined;
    });
    await client.experimental.tasks.cancelTask(taskId);
    await until("the request to be withdrawn", async () => (await toolctl.approvals(true)).find((a) => a.id === filed!.id && a.status === "denied"));
    await stream.return(undefined);
    const unknown = client.experimental.tasks.callToolStream({ name: "nope__x", arguments: {} }, CallToolResultSchema, { task: { ttl: 1000 } });
    const answer = await unknown.next();
    expect(answer.value).toMatchObject({ type: "error" });
    expect(String((answer.value as { error: Error }).error.message)).toMatch(/Unknown tool/);
  });
});

describe("cancellation and progress", () => {
  it("notifications/cancelled aborts the call like Ctrl-C: a create already sent is recorded unknown, a read failed", async () => {
    const { toolctl, client } = await agent({ allow: ["shop.slow_create"] }, { TOOLCTL_APPROVALS_PAID_ACTIONS: "false" });
    /** Calls `action`, cancels once its request reached the server, and returns the execution as settled. */
    const cancelMidway = async (action: string) => {
      const before = shop.requests.filter((request) => request.url === "/slow").length;
      const controller = new AbortController();
      const call = client.callTool({ name: `shop__${action}`, arguments: {} }, undefined, { signal: controller.signal });
      await until("the slow request to arrive", () => shop.requests.filter((request) => request.url === "/slow").length > before);
      controller.abort();
      await expect(call).rejects.toThrow();
      return until("the run to be settled", async () => {
        const { items } = await toolctl.executions({ tool: "shop", action });
        return items[0] && items[0].status !== "running" ? items[0] : undefined;
      });
    };
    expect((await cancelMidway("slow_create")).status).toBe("unknown");
    // A read is safe to repeat: interrupted, it is failed, not unknown.
    expect((await cancelMidway("slow_read")).status).toBe("failed");
  });

  it("cancelling a call that waits for approval withdraws its request", async () => {
    const { toolctl, client } = await agent({ allow: ["pay"] });
    const controller = new AbortController();
    const call = client.callTool({ name: "pay__charge", arguments: { amount: 3 } }, undefined, { signal: controller.signal });
    const [filed] = await until("the approval request", async () => {
      const open = await toolctl.approvals();
      return open.length ? open : undefined;
    });
    controller.abort();
    await expect(call).rejects.toThrow();
    const withdrawn = await until("the request to be withdrawn", async () => {
      const all = await toolctl.approvals(true);
      const found = all.find((approval) => approval.id === filed!.id);
      return found?.status === "denied" ? found : undefined;
    });
    expect(withdrawn.decidedVia).toMatch(/withdrawn/);
  });
});

describe("list_changed", () => {
  it("is sent when another instance imports, disables or re-enables a tool while the server runs", async () => {
    const { toolctl, client } = await agent();
    await client.listTools();
    let changes = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes++);
    const other = await openApi({ home: toolctl.home });
    await other.importManifests([
      writeFiles({ "extra.yaml": echoManifests["notes.yaml"].replace("name: notes", "name: extra").replace("tags: [text]\n", "") }),
    ]);
    await until("a list_changed after the import", () => changes >= 1);
    expect(names((await client.listTools()).tools)).toContain("extra__read");
    await other.disableTool("extra");
    await until("a list_changed after disable", () => changes >= 2);
    expect(names((await client.listTools()).tools)).not.toContain("extra__read");
  });
});

describe("over stdio, spawning the binary as an MCP client does", () => {
  async function stdioClient(home: string, args: string[] = []): Promise<Client> {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [binPath, "--home", home, "mcp", ...args],
      env: baseEnv({ TOOLCTL_HOME: home }) as Record<string, string>,
      cwd: repoRoot,
      stderr: "pipe",
    });
    const client = new Client({ name: "stdio-agent", version: "9.9.9" });
    await client.connect(transport);
    clients.push(client);
    return client;
  }

  it("a call whose arguments are not an object is an invalid-params error (-32602), on record; the session goes on", async () => {
    const toolctl = await agentApi();
    const client = await stdioClient(toolctl.home);
    const error = await client
      .request({ method: "tools/call", params: { name: "pay__balance", arguments: [1] as never } }, CallToolResultSchema)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpError);
    expect((error as McpError).code).toBe(-32602);
    expect((await toolctl.audit({ type: "mcp.refused" })).map((event) => event.data.reason)).toEqual([
      "malformed message: tools/call arguments must be an object (the tool's input)",
    ]);
    expect(JSON.parse(text(await client.callTool({ name: "pay__balance", arguments: { note: "hi" } })))).toEqual({ note: "hi" });
  });

  it("lists and calls tools, records the client, and announces a tool imported by `toolctl import` in another process", async () => {
    const toolctl = await agentApi();
    const client = await stdioClient(toolctl.home);
    expect(client.getServerVersion()).toMatchObject({ name: "toolctl" });
    expect(client.getServerCapabilities()).toMatchObject({ tools: { listChanged: true } });
    const result = await client.callTool({ name: "pay__balance", arguments: { note: "hi" } });
    expect(JSON.parse(text(result))).toEqual({ note: "hi" });
    expect(await toolctl.execution(executionOf(result))).toMatchObject({
      actor: "agent",
      origin: { via: "mcp", client: { name: "stdio-agent", version: "9.9.9" }, session: expect.any(String) },
    });
    const shown = await runCli(["executions", "show", executionOf(result)], { env: { TOOLCTL_HOME: toolctl.home } });
    expect(shown.stdout).toMatch(/actor: agent {2}via: mcp \(stdio-agent 9\.9\.9, session [0-9a-f-]{36}\)/);

    let changed = false;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void (changed = true));
    const dir = writeFiles({ "late.yaml": echoManifests["notes.yaml"].replace("name: notes", "name: late") });
    const imported = await runCli(["import", dir], { env: { TOOLCTL_HOME: toolctl.home } });
    expect(imported.code, imported.stderr).toBe(0);
    await until("list_changed", () => changed, 8000);
    expect(names((await client.listTools()).tools)).toContain("late__read");
  });

  it("config mcp.allow offers writes like --allow; a bad entry in it is exit 2 naming the field", async () => {
    const toolctl = await agentApi();
    writeFileSync(path.join(toolctl.home, "config.yaml"), "mcp:\n  allow: [pay.charge]\n  approvalWaitSeconds: 5\n");
    const client = await stdioClient(toolctl.home, ["--allow", "shop.create_item"]);
    const listed = names((await client.listTools()).tools);
    expect(listed).toEqual(expect.arrayContaining(["pay__charge", "shop__create_item"]));
    expect(listed).not.toContain("shop__delete_item");
    writeFileSync(path.join(toolctl.home, "config.yaml"), "mcp:\n  allow: [Shop!]\n");
    const bad = await runCli(["mcp"], { env: { TOOLCTL_HOME: toolctl.home } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/config\.yaml.*mcp\.allow/s);
  });

  it("exits 0 when the client closes stdin, and bad flags exit 2 with one line naming the flag", async () => {
    const toolctl = await agentApi();
    const child = spawn(process.execPath, [binPath, "--home", toolctl.home, "mcp"], { env: baseEnv({ TOOLCTL_HOME: toolctl.home }), stdio: "pipe" });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    // A malformed message is refused and on record; nothing runs.
    child.stdin.end('{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "pay__balance"\n');
    expect(await exited).toBe(0);
    const refused = (await toolctl.audit()).filter((event) => event.type === "mcp.refused");
    expect(refused.map((event) => event.data.reason)).toEqual([expect.stringMatching(/^malformed message: /)]);
    expect((await toolctl.executions()).total).toBe(0);
    for (const [args, flag] of [
      [["--allow", "Bad!"], "--allow"],
      [["--tools", "a,,b"], "--tools"],
      [["--approval-wait", "soon"], "--approval-wait"],
      [["--new-token"], "--new-token"],
    ] as const) {
      const result = await runCli(["mcp", ...args], { env: { TOOLCTL_HOME: toolctl.home } });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr.trim().split("\n")[0]).toContain(flag);
      expect(result.stdout).toBe("");
    }
  });
});
