/**
 * The hand-off from `toolctl mcp` to the approval page: a call that needs approval sends a client that supports
 * URL-mode elicitation to the request's own page (an address with no secret in it), and keeps waiting for the
 * decision, which a human makes elsewhere; a client without it reads both ways in the tool result. The page is
 * found through the home's ui.json (`toolctl ui`), or served by `toolctl mcp --http --ui` on the MCP port with its
 * own sign-in. Every server here is the built binary, spawned as a client or a person would start it.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  ElicitationCompleteNotificationSchema,
  ElicitRequestSchema,
  type CallToolResult,
  type ElicitRequestURLParams,
} from "@modelcontextprotocol/sdk/types.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ExitCode, type Toolctl } from "../src/api/index.js";
import { baseEnv, binPath, openApi, repoRoot, runCli, tempDir, writeFiles } from "./helpers.js";

const TOKEN = "handoff-test-token-0123456789";

const manifest = `apiVersion: toolctl/v1
name: pay
description: Pays (echo)
runtime: echo
actions:
  charge:
    description: Charge dollars
    kind: create
    cost: { fromInput: amount }
    inputSchema: { type: object, required: [amount], properties: { amount: { type: number } } }
`;

async function homeWithPay(): Promise<Toolctl> {
  const toolctl = await openApi();
  const report = await toolctl.importManifests([path.join(writeFiles({ "pay.yaml": manifest }), "pay.yaml")]);
  expect(report.failed).toEqual([]);
  return toolctl;
}

interface Spawned {
  stderr(): string;
  /** Resolves with the first match of `pattern` in stderr (its first group, else the whole match). */
  waitFor(pattern: RegExp, ms?: number): Promise<string>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

const running: Spawned[] = [];
const clients: Client[] = [];
afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((client) => client.close()));
});
afterAll(async () => {
  await Promise.allSettled(running.splice(0).map((child) => child.stop()));
});

/** The built binary on `home` (or, without one, on whatever `cwd` finds: a project's), left running. */
function start(home: string | undefined, args: string[], env: Record<string, string> = {}, cwd = repoRoot): Spawned {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [binPath, ...(home ? ["--home", home] : []), ...args], { env: baseEnv(env), cwd });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  let stopped: Promise<number | null> | undefined;
  const spawned: Spawned = {
    stderr: () => stderr,
    async waitFor(pattern, ms = 15_000) {
      const end = Date.now() + ms;
      for (;;) {
        const match = pattern.exec(stderr);
        if (match) return match[1] ?? match[0];
        if (child.exitCode !== null || Date.now() > end) throw new Error(`no ${pattern} from toolctl ${args.join(" ")}:\n${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    stop() {
      stopped ??= (child.kill("SIGTERM"), exited);
      return stopped;
    },
  };
  running.push(spawned);
  return spawned;
}

/** `toolctl ui` on `home`: its origin and one-time login link. */
async function startUi(home: string) {
  const ui = start(home, ["ui", "--listen", "127.0.0.1:0", "--no-open"]);
  const loginUrl = await ui.waitFor(/^toolctl ui: (http:\/\/localhost:\d+\/login\?token=[\w-]+)$/m);
  return { ...ui, loginUrl, origin: new URL(loginUrl).origin };
}

/** Signs in with the login link as a browser would, and returns the session cookie. */
async function signIn(loginUrl: string): Promise<string> {
  const login = await fetch(loginUrl, { redirect: "manual" });
  expect(login.status).toBe(200);
  return login.headers.getSetCookie()[0]!.split(";")[0]!;
}

/** A client that declares URL-mode elicitation, records what it is asked and told, and answers `accept`. */
function elicitingClient(name = "handoff-agent") {
  const asked: ElicitRequestURLParams[] = [];
  const completed: string[] = [];
  const client = new Client({ name, version: "1.0.0" }, { capabilities: { elicitation: { url: {} } } });
  client.setRequestHandler(ElicitRequestSchema, (request) => {
    asked.push(request.params as ElicitRequestURLParams);
    return { action: "accept" };
  });
  client.setNotificationHandler(ElicitationCompleteNotificationSchema, (notification) => void completed.push(notification.params.elicitationId));
  clients.push(client);
  return { client, asked, completed };
}

function stdioTransport(home: string, args: string[]) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [binPath, "--home", home, "mcp", "--allow", "pay", ...args],
    env: baseEnv({ TOOLCTL_HOME: home }) as Record<string, string>,
    cwd: repoRoot,
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk) => (stderr += chunk));
  return { transport, stderr: () => stderr };
}

const text = (result: unknown) => ((result as CallToolResult).content[0] as { text: string }).text;

async function until<T>(what: string, fn: () => T | undefined | false, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = fn();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("over stdio, with toolctl ui serving the home's page", () => {
  let toolctl: Toolctl;
  let ui: Awaited<ReturnType<typeof startUi>>;

  beforeAll(async () => {
    toolctl = await homeWithPay();
    ui = await startUi(toolctl.home);
  }, 30_000);

  it("a client with URL elicitation is sent to the request's page (no secret in it); the call waits, is approved from another process, and returns its result", async () => {
    const { client, asked, completed } = elicitingClient();
    const { transport, stderr } = stdioTransport(toolctl.home, ["--approval-wait", "60"]);
    await client.connect(transport);
    const call = client.callTool({ name: "pay__charge", arguments: { amount: 5 } }, undefined, { timeout: 90_000 });

    const params = await until("the elicitation", () => asked[0]);
    const id = /\/approvals\/(ap_\w+)$/.exec(params.url)?.[1];
    expect(params).toMatchObject({ mode: "url", url: `${ui.origin}/approvals/${id}`, elicitationId: id });
    expect(params.url).not.toMatch(/token|login|\?/);
    for (const said of ["pay.charge needs your approval", `(request ${id})`, "Charge dollars", "Cost: $5.00", "Risk: MEDIUM", `toolctl approve ${id}`]) {
      expect(params.message).toContain(said);
    }
    // The client's yes opened a page and decided nothing: the request is still pending, and the page shows it.
    expect((await toolctl.approvals()).map((approval) => approval.id)).toEqual([id]);
    const page = await fetch(params.url, { headers: { cookie: await signIn(ui.loginUrl) } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`<section class="request" id="${id}">`);
    expect(stderr()).toContain(`Decide it on the approval page, ${params.url}, or in a terminal with: toolctl approve ${id}`);

    const approved = await runCli(["approve", id!, "--yes"], { home: toolctl.home });
    expect(approved.code, approved.stderr).toBe(0);
    const result = await call;
    expect(result.isError).toBeFalsy();
    expect(JSON.parse(text(result))).toEqual({ amount: 5 });
    expect(result._meta?.["toolctl/execution"]).toMatchObject({ status: "succeeded", approval: "another terminal" });
    expect((await toolctl.approvals(true)).find((approval) => approval.id === id)).toMatchObject({ status: "used", decidedVia: "another terminal" });
    // Told the page's interaction is over; asked once only.
    await until("the completion notice", () => completed.length > 0);
    expect(completed).toEqual([id]);
    expect(asked).toHaveLength(1);
  });

  it("an elicitation the user has not answered ends with the call: withdrawn when the wait ends, and the pending result names the page", async () => {
    const client = new Client({ name: "slow-agent", version: "1.0.0" }, { capabilities: { elicitation: { url: {} } } });
    clients.push(client);
    let shown: { id: string | number; params: ElicitRequestURLParams } | undefined;
    // A user who never answers: the prompt stays until the server withdraws it (or the client goes).
    client.setRequestHandler(ElicitRequestSchema, (request, extra) => {
      shown = { id: extra.requestId, params: request.params as ElicitRequestURLParams };
      return new Promise((resolve) => extra.signal.addEventListener("abort", () => resolve({ action: "cancel" })));
    });
    const { transport } = stdioTransport(toolctl.home, ["--approval-wait", "1"]);
    await client.connect(transport);
    // What the server sends, as it arrives. (The SDK's client ignores a cancellation of request id 0, the first
    // one a server makes, so the withdrawal is read from the wire rather than from the handler's signal.)
    const received: Array<{ method?: string; params?: { requestId?: unknown } }> = [];
    const onmessage = transport.onmessage!;
    transport.onmessage = (message) => {
      received.push(message as (typeof received)[number]);
      onmessage(message);
    };
    const result = await client.callTool({ name: "pay__charge", arguments: { amount: 3 } });
    const id = /^pending approval (ap_\w+)/.exec(text(result))?.[1];
    expect(shown?.params).toMatchObject({ mode: "url", url: `${ui.origin}/approvals/${id}` });
    const withdrawn = received.filter((message) => message.method === "notifications/cancelled").map((message) => message.params?.requestId);
    expect(withdrawn).toEqual([shown!.id]);
    expect(received.some((message) => message.method === "notifications/elicitation/complete")).toBe(false);
    expect(text(result)).toContain(`on the approval page, ${ui.origin}/approvals/${id}`);
    await toolctl.deny(id!);
  });

  it("a client without it gets a result naming the page and `toolctl approve`; the log names both, and the client is never asked", async () => {
    const client = new Client({ name: "plain-agent", version: "1.0.0" });
    clients.push(client);
    const { transport, stderr } = stdioTransport(toolctl.home, ["--approval-wait", "0"]);
    await client.connect(transport);
    const result = await client.callTool({ name: "pay__charge", arguments: { amount: 6 } });
    expect(result.isError).toBe(true);
    const id = /^pending approval (ap_\w+)/.exec(text(result))?.[1];
    const page = `${ui.origin}/approvals/${id}`;
    expect(text(result)).toContain(
      `A person approves it on the approval page, ${page} (a browser signed in with the login link the page's server printed), or in their own terminal with: toolctl approve ${id} (toolctl deny ${id} refuses it).`,
    );
    expect(result._meta?.["toolctl/approval"]).toEqual({ id, status: "pending", page });
    await until("the log", () => stderr().includes("needs a human's approval"));
    expect(stderr()).toContain(`approval ${id}`);
    expect(stderr()).toContain(`Decide it on the approval page, ${page}, or in a terminal with: toolctl approve ${id} (or toolctl deny ${id})`);
    await toolctl.deny(id!);
  });

  it("with no page served, says `toolctl approve` and that toolctl ui serves one; a ui.json left by a process that is gone is ignored", async () => {
    const other = await homeWithPay();
    for (const left of [false, true]) {
      if (left) writeFileSync(path.join(other.home, "ui.json"), JSON.stringify({ url: ui.origin, port: 1, pid: 2 ** 22 + 1, start: null, startedAt: "" }));
      const { client, asked } = elicitingClient();
      const { transport, stderr } = stdioTransport(other.home, ["--approval-wait", "1"]);
      await client.connect(transport);
      const result = await client.callTool({ name: "pay__charge", arguments: { amount: 7 } });
      const id = /^pending approval (ap_\w+)/.exec(text(result))?.[1];
      expect(text(result)).toContain(
        `A person approves it in their own terminal with: toolctl approve ${id} (toolctl deny ${id} refuses it). (toolctl ui serves an approval page where it can be decided in a browser.)`,
      );
      expect(text(result)).not.toContain("http://");
      expect(result._meta?.["toolctl/approval"]).toEqual({ id, status: "pending" });
      expect(asked).toEqual([]);
      expect(stderr()).toContain(`Decide it in a terminal with: toolctl approve ${id} (or toolctl deny ${id}); toolctl ui serves an approval page for it`);
      await client.close();
    }
  });
});

describe("toolctl mcp --http --ui: the page on the MCP server's port", () => {
  let toolctl: Toolctl;
  let server: Spawned;
  let origin: string;
  let loginUrl: string;
  /** The page's session cookie, signed in once with the login link. */
  let cookie: string;

  beforeAll(async () => {
    toolctl = await homeWithPay();
    server = start(toolctl.home, ["mcp", "--http", "127.0.0.1:0", "--ui", "--allow", "pay", "--approval-wait", "60"], { TOOLCTL_MCP_TOKEN: TOKEN });
    loginUrl = await server.waitFor(/^toolctl mcp: approval page login link \(signs in once\): (\S+)$/m);
    origin = new URL(loginUrl).origin;
  }, 30_000);

  const mcpUrl = () => `${origin}/mcp`;
  const initialize = (headers: Record<string, string>) =>
    fetch(mcpUrl(), {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "curl", version: "1" } },
      }),
    });

  it("prints the MCP address and the page's login link on stderr, and names the page in ui.json", async () => {
    // The MCP endpoint is printed as bound; the page as localhost (WebAuthn takes no IP address), on the same port.
    expect(server.stderr()).toContain(`toolctl mcp: serving MCP (Streamable HTTP) at http://127.0.0.1:${new URL(origin).port}/mcp`);
    expect(server.stderr()).toContain(`toolctl mcp: approval page at ${origin}/ (its own sign-in: the bearer token does not open it)`);
    expect(loginUrl).toMatch(/^http:\/\/localhost:\d+\/login\?token=[\w-]{40,}$/);
    expect(JSON.parse(readFileSync(path.join(toolctl.home, "ui.json"), "utf8"))).toMatchObject({ url: origin, pid: expect.any(Number) });
  });

  it("each door keeps its own key: the bearer token does not open the page, and a page session does not open /mcp", async () => {
    const refusedBefore = (await toolctl.audit({ type: "ui.refused" })).length;
    const withToken = await fetch(`${origin}/`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(withToken.status).toBe(401);
    expect(await withToken.text()).toContain("Not signed in");
    const refused = (await toolctl.audit({ type: "ui.refused" })).slice(refusedBefore);
    expect(refused.map((event) => [event.actor, event.data.reason, event.data.path])).toEqual([["user", "unauthorized: not signed in", "/"]]);

    cookie = await signIn(loginUrl);
    const inbox = await fetch(`${origin}/`, { headers: { cookie } });
    expect(inbox.status).toBe(200);
    expect(await inbox.text()).toContain("No pending approval requests.");

    const mcpRefusedBefore = (await toolctl.audit({ type: "mcp.refused" })).length;
    const withCookie = await initialize({ cookie });
    expect(withCookie.status).toBe(401);
    expect(await withCookie.json()).toMatchObject({ error: { message: "unauthorized: send Authorization: Bearer <token>" } });
    expect((await toolctl.audit({ type: "mcp.refused" })).length).toBe(mcpRefusedBefore + 1);
    const withBoth = await initialize({ cookie, authorization: `Bearer ${TOKEN}` });
    expect(withBoth.status).toBe(200);
    await withBoth.body?.cancel();
  });

  it("a call that needs approval sends the client to the page on the same port; denied there (as user), the call returns the refusal", async () => {
    const { client, asked, completed } = elicitingClient();
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl()), { requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } } }));
    const call = client.callTool({ name: "pay__charge", arguments: { amount: 4 } }, undefined, { timeout: 90_000 });
    const params = await until("the elicitation", () => asked[0]);
    const id = /\/approvals\/(ap_\w+)$/.exec(params.url)?.[1];
    expect(params).toMatchObject({ mode: "url", url: `${origin}/approvals/${id}`, elicitationId: id });

    // The page at that address, with the session signed in above: the request, and a Deny form.
    const shown = await fetch(params.url, { headers: { cookie } });
    expect(shown.status).toBe(200);
    const page = await shown.text();
    expect(page).toContain(`<section class="request" id="${id}">`);
    const csrf = /name="csrf" value="([\w-]+)"/.exec(page)?.[1];
    const denied = await fetch(`${origin}/approvals/${id}/deny`, {
      method: "POST",
      headers: { cookie, origin, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf: csrf! }).toString(),
      redirect: "manual",
    });
    expect(denied.status).toBe(303);
    const result = await call;
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/was denied/);
    expect((await toolctl.audit({ type: "approval.denied" })).map((event) => [event.actor, event.data.approval, event.data.via])).toEqual([
      ["user", id, "approval page"],
    ]);
    await until("the completion notice", () => completed.length > 0);
    expect(completed).toEqual([id]);
  });

  it("stops on SIGTERM (exit 0) and takes its ui.json with it; --ui needs --http on loopback", async () => {
    expect(await server.stop()).toBe(0);
    expect(existsSync(path.join(toolctl.home, "ui.json"))).toBe(false);
    for (const [args, message] of [
      [["--ui"], "error: --ui applies to --http only: with stdio, run toolctl ui in a terminal, and this server points to its page"],
      [
        ["--http", "0.0.0.0:0", "--allow-remote", "--ui"],
        "error: --ui: the approval page is served to this machine only, and --http 0.0.0.0:0 binds 0.0.0.0: use a loopback address (127.0.0.1), or serve the page with toolctl ui",
      ],
    ] as const) {
      const result = await runCli(["--home", tempDir("toolctl-home-"), "mcp", ...args], { env: { TOOLCTL_MCP_TOKEN: TOKEN } });
      expect(result.code, result.stderr).toBe(ExitCode.usage);
      expect(result.stderr.trimEnd().split("\n")).toEqual([message]);
    }
  });
});

describe("toolctl mcp --http --ui in a project", () => {
  it("serves the page with the project's settings, as toolctl ui does there: its tighter daily limit on /budget", async () => {
    const user = tempDir("toolctl-user-");
    const root = writeFiles({ "toolctl.yaml": "manifests: []\nlimits:\n  dailyUsd: 7\n" }, tempDir("toolctl-project-"));
    const server = start(undefined, ["mcp", "--http", "127.0.0.1:0", "--ui"], { HOME: user, TOOLCTL_MCP_TOKEN: TOKEN }, root);
    const loginUrl = await server.waitFor(/^toolctl mcp: approval page login link \(signs in once\): (\S+)$/m);
    const cookie = await signIn(loginUrl);
    const budget = await fetch(`${new URL(loginUrl).origin}/budget`, { headers: { cookie } });
    expect(budget.status).toBe(200);
    const page = await budget.text();
    expect(page).toContain("of $7.00");
    expect(page).not.toContain("of $500.00");
    // The registry is the project's, as for every command there.
    expect(JSON.parse(readFileSync(path.join(root, ".toolctl", "ui.json"), "utf8"))).toMatchObject({ url: new URL(loginUrl).origin });
    expect(await server.stop()).toBe(0);
  }, 30_000);
});
