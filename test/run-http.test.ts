/**
 * The http runtime end to end: the library API, in-process, against a real HTTP server on 127.0.0.1. A few tests
 * of what the CLI itself adds (flags, printing, exit codes) spawn the built binary.
 */
import http from "node:http";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inputSources, type ExecuteResult, type Toolctl } from "../src/api/index.js";
import { httpRunner } from "../src/runners/http/runner.js";
import type { RunContext } from "../src/runners/types.js";
import { loopbackTool, openApi, runCli, runJson, tempDir, writeFiles } from "./helpers.js";

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const seen: Seen[] = [];
let connections = 0;
let server: http.Server;
let port: number;
// Another service on the same loopback address: a tool allowed 127.0.0.1 for its own port must never reach it.
let canary: http.Server;
let canaryPort: number;
let canaryConnections = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      const url = new URL(req.url!, "http://x");
      const status = Number(url.searchParams.get("status") ?? 200);
      const json = (code: number, value: unknown) => {
        res.writeHead(code, { "content-type": "application/json" });
        res.end(JSON.stringify(value));
      };
      if (url.pathname === "/slow") return void setTimeout(() => json(200, { late: true }), 3000);
      if (url.pathname === "/html") {
        res.writeHead(200, { "content-type": "application/json" });
        return void res.end("<html>oops</html>");
      }
      if (url.pathname === "/text") {
        res.writeHead(200, { "content-type": "text/plain" });
        return void res.end("plain words");
      }
      if (url.pathname === "/wrong-shape") return json(200, { id: 42 });
      if (url.pathname === "/created-unreadable") {
        res.writeHead(201, { "content-type": "application/json" });
        return void res.end("charged ok");
      }
      if (url.pathname === "/deep") {
        res.writeHead(200, { "content-type": "application/json" });
        return void res.end("[".repeat(100_000) + "]".repeat(100_000));
      }
      if (url.pathname === "/long-error") {
        // The key straddles the 300-character cut of the error message.
        res.writeHead(400, { "content-type": "text/plain" });
        return void res.end("x".repeat(290) + String(req.headers["x-api-key"]));
      }
      if (url.pathname === "/hop") {
        res.writeHead(302, { location: `http://127.0.0.2:${port}/landing` });
        return void res.end();
      }
      if (url.pathname === "/other-port") {
        res.writeHead(307, { location: `http://127.0.0.1:${canaryPort}/stolen` });
        return void res.end();
      }
      if (url.pathname === "/elsewhere") {
        res.writeHead(302, { location: `http://127.0.0.2:${port}/items/moved` });
        return void res.end();
      }
      if (url.pathname === "/echo-secret") return json(200, { token: "not-a-secret-key-but-looks-like-one", leaked: req.headers.authorization });
      if (status >= 400) return json(status, { error: { message: `provider says ${status}`, type: "api_error" } });
      return json(200, { id: "obj_123", method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), body });
    });
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
  canary = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ canary: true }));
  });
  canary.on("connection", () => canaryConnections++);
  await new Promise<void>((resolve) => canary.listen(0, "127.0.0.1", resolve));
  canaryPort = (canary.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await new Promise<void>((resolve) => canary.close(() => resolve()));
});

function manifest(extra: { auth?: string; allowPrivate?: boolean | string; baseHost?: string; allowedHosts?: string[] } = {}): string {
  const networks = typeof extra.allowPrivate === "string" ? extra.allowPrivate : `["127.0.0.0/8"]`;
  const allow =
    (extra.allowPrivate === false ? "" : `\n  allowPrivateNetworks: ${networks}`) +
    (extra.allowedHosts ? `\n  allowedHosts: ${JSON.stringify(extra.allowedHosts)}` : "");
  return `apiVersion: toolctl/v1
name: fake
description: A fake provider on loopback
runtime: http
baseUrl: http://${extra.baseHost ?? "127.0.0.1"}:${port}
http:
  allowPlainHttp: true
  timeoutSeconds: 1
  # Reads are retried as by default (3 attempts), after short pauses.
  retry: { initialDelayMs: 10 }${allow}
${extra.auth ?? "auth: { type: none }"}
actions:
  get_item:
    description: Read an item
    kind: read
    inputSchema:
      type: object
      required: [id]
      properties:
        id: { type: string }
        tags: { type: array, items: { type: string } }
        status: { type: integer }
        limit: { type: integer }
    request:
      method: GET
      path: /items/{{ input.id }}
      query: { tag: "{{ input.tags }}", status: "{{ input.status }}", limit: "{{ input.limit }}" }
  create_item:
    description: Create an item
    kind: create
    idempotencyKey: { header: Idempotency-Key }
    inputSchema:
      type: object
      required: [name]
      properties:
        name: { type: string }
        amount: { type: number }
    request:
      method: POST
      path: /items
      json: { name: "{{ input.name }}", amount: "{{ input.amount }}", fixed: true }
  charge:
    description: Form-encoded charge
    kind: create
    inputSchema: { type: object, properties: { amount: { type: integer }, order: { type: string } } }
    request:
      method: POST
      path: /v1/charges
      form: { amount: "{{ input.amount }}", metadata: { order: "{{ input.order }}" }, expand: [customer, invoice] }
  slow_read:
    description: Times out
    kind: read
    timeoutSeconds: 0.3
    request: { method: GET, path: /slow }
  slow_write:
    description: Times out after sending
    kind: create
    timeoutSeconds: 0.3
    request: { method: POST, path: /slow, json: {} }
  not_json:
    description: Says JSON, sends HTML
    kind: read
    request: { method: GET, path: /html }
  text:
    description: Plain text
    kind: read
    request: { method: GET, path: /text, response: text }
  wrong_shape:
    description: Output that does not match
    kind: read
    outputSchema: { type: object, required: [name], properties: { name: { type: string } } }
    request: { method: GET, path: /wrong-shape }
  elsewhere:
    description: Redirects to another host
    kind: read
    request: { method: GET, path: /elsewhere }
  create_unreadable:
    description: A create answered 201 with a body that is not JSON
    kind: create
    request: { method: POST, path: /created-unreadable, json: {} }
  create_failing:
    description: A create answered 500
    kind: create
    request: { method: POST, path: /items, query: { status: 500 }, json: {} }
  create_wrong_shape:
    description: A create whose answer does not match
    kind: create
    outputSchema: { type: object, required: [name] }
    request: { method: POST, path: /wrong-shape, json: {} }
  deep:
    description: Pathologically deep JSON
    kind: read
    request: { method: GET, path: /deep }
  long_error:
    description: A long error body ending with the key
    kind: read
    request: { method: GET, path: /long-error }
  hop:
    description: Redirects to another origin
    kind: read
    request: { method: GET, path: /hop }
  echo_secret:
    description: The provider echoes the credential back
    kind: read
    request: { method: GET, path: /echo-secret }
  other_port:
    description: Redirects to another port of the same address
    kind: read
    request: { method: GET, path: /other-port }
`;
}

/** The API on a new home with the manifest imported. */
async function toolWith(text: string, env: Record<string, string> = {}): Promise<Toolctl> {
  const toolctl = await openApi({ env });
  const report = await toolctl.importManifests([writeFiles({ "fake.yaml": text })]);
  expect(report.failed).toEqual([]);
  expect(report.imported).toHaveLength(1);
  return toolctl;
}

/** The same home opened with another environment, as a run from another shell would see it. */
const withEnv = (toolctl: Toolctl, env: Record<string, string>) => openApi({ home: toolctl.home, env });

let plain: Promise<Toolctl> | undefined;
/**
 * One home with the plain manifest, for the long lists of path parameters: those refused send nothing and those
 * sent succeed, so no test leaves its circuit breaker a failure to count.
 */
const shared = () => (plain ??= toolWith(manifest()));

const outputOf = (result: ExecuteResult) => result.output as Record<string, any>;
const requestOf = (result: ExecuteResult) => result.request as Record<string, any>;

async function executionOf(toolctl: Toolctl, id: string) {
  const found = await toolctl.execution(id);
  if (found === undefined || Array.isArray(found)) throw new Error(`expected one execution ${id}, got ${JSON.stringify(found)}`);
  return found;
}

describe("http runner", () => {
  it("encodes path parameters and serialises query values, dropping absent ones", async () => {
    const toolctl = await toolWith(manifest());
    const result = await toolctl.run("fake.get_item", inputSources({ params: ["id=a b/c", "limit=5"], paramsJson: '{"tags":["x","y"]}' }));
    expect(result.exitCode).toBe(0);
    expect(result.status).toBe("succeeded");
    expect(outputOf(result).path).toBe("/items/a%20b%2Fc");
    const last = seen[seen.length - 1]!;
    expect(last.url).toBe("/items/a%20b%2Fc?tag=x&tag=y&limit=5");
  });

  it("sends a JSON body with typed values and an idempotency key equal to the execution id", async () => {
    const toolctl = await toolWith(manifest());
    const result = await toolctl.run("fake.create_item", inputSources({ params: ["name=widget", "amount=12.5"] }));
    expect(result.exitCode).toBe(0);
    const last = seen[seen.length - 1]!;
    expect(last.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(last.body)).toEqual({ name: "widget", amount: 12.5, fixed: true });
    expect(last.headers["idempotency-key"]).toBe(result.executionId);
  });

  it("sends nested form bodies in bracket notation", async () => {
    const toolctl = await toolWith(manifest());
    const result = await toolctl.run("fake.charge", inputSources({ params: ["amount=500", "order=A-1"] }));
    expect(result.exitCode).toBe(0);
    const last = seen[seen.length - 1]!;
    expect(last.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(decodeURIComponent(last.body)).toBe("amount=500&metadata[order]=A-1&expand[0]=customer&expand[1]=invoice");
  });

  it.each([
    ["bearer", "auth: { type: bearer, secret: FAKE_TOKEN }", (s: Seen) => s.headers.authorization, "Bearer sk_test_abcdef123456"],
    [
      "basic",
      "auth: { type: basic, username: 'AC{{ secrets.FAKE_SID }}', secret: FAKE_TOKEN }",
      (s: Seen) => s.headers.authorization,
      `Basic ${Buffer.from("ACsid42:sk_test_abcdef123456").toString("base64")}`,
    ],
    ["api_key header", "auth: { type: api_key, secret: FAKE_TOKEN, in: header, name: X-Api-Key }", (s: Seen) => s.headers["x-api-key"], "sk_test_abcdef123456"],
    [
      "api_key query",
      "auth: { type: api_key, secret: FAKE_TOKEN, in: query, name: key }",
      (s: Seen) => new URL(s.url, "http://x").searchParams.get("key"),
      "sk_test_abcdef123456",
    ],
  ])("authenticates with %s from secrets, and never shows the secret", async (_name, auth, pick, expected) => {
    const toolctl = await toolWith(manifest({ auth }), { FAKE_TOKEN: "sk_test_abcdef123456", FAKE_SID: "sid42" });
    const run = await toolctl.run("fake.get_item", { id: "1" });
    expect(run.exitCode).toBe(0);
    expect(pick(seen[seen.length - 1]!)).toBe(expected);
    const dry = await toolctl.run("fake.get_item", { id: "1" }, { dryRun: true });
    expect(dry.exitCode).toBe(0);
    expect(dry.status).toBe("dry_run");
    const kept = JSON.stringify([run, dry, await toolctl.executions(), await toolctl.audit()]);
    expect(kept).not.toContain("sk_test_abcdef123456");
    expect(kept).not.toContain(Buffer.from("ACsid42:sk_test_abcdef123456").toString("base64"));
    expect(JSON.stringify(dry.request)).toContain("[REDACTED]");
  });

  it("reads secrets from .env in the working directory", async () => {
    const toolctl = await toolWith(manifest({ auth: "auth: { type: bearer, secret: FAKE_TOKEN }" }));
    const cwd = writeFiles({ ".env": "# local secrets\nFAKE_TOKEN='from-dotenv-value'\n" });
    const there = await openApi({ home: toolctl.home, cwd });
    const result = await there.run("fake.get_item", { id: "1" });
    expect(result.exitCode).toBe(0);
    expect(seen[seen.length - 1]!.headers.authorization).toBe("Bearer from-dotenv-value");
  });

  it("names a missing secret, exits 2 and sends nothing", async () => {
    const toolctl = await toolWith(manifest({ auth: "auth: { type: bearer, secret: FAKE_TOKEN }" }));
    const before = seen.length;
    const result = await toolctl.run("fake.get_item", { id: "1" });
    expect(result.exitCode).toBe(2);
    expect(result.error!.exitCode).toBe(2);
    expect(result.error!.message).toMatch(/secret FAKE_TOKEN is not set/);
    expect(result.error!.category).toBe("authentication");
    expect(seen.length).toBe(before);
  });

  it("reads secrets and TOOL_ALLOWED_DOMAINS from the environment it was opened with, never from the process's own", async () => {
    const toolctl = await toolWith(manifest({ auth: "auth: { type: bearer, secret: FAKE_TOKEN }" }));
    const saved = { FAKE_TOKEN: process.env.FAKE_TOKEN, TOOL_ALLOWED_DOMAINS: process.env.TOOL_ALLOWED_DOMAINS };
    process.env.FAKE_TOKEN = "from-the-process";
    process.env.TOOL_ALLOWED_DOMAINS = `http://127.0.0.1:${canaryPort}`;
    try {
      const before = seen.length;
      const missing = await toolctl.run("fake.get_item", { id: "1" });
      expect(missing.exitCode).toBe(2);
      expect(missing.error!.message).toMatch(/secret FAKE_TOKEN is not set/);
      expect(seen.length).toBe(before);
      const given = await withEnv(toolctl, { FAKE_TOKEN: "from-the-given-env" });
      const blocked = await given.run("fake.other_port");
      expect(blocked.exitCode).toBe(3);
      expect(blocked.error!.code).toBe("url_blocked");
      expect(seen.at(-1)!.headers.authorization).toBe("Bearer from-the-given-env");
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it.each([
    [401, "authentication"],
    [403, "authorization"],
    [404, "validation"],
    [422, "validation"],
    [429, "rate_limit"],
    [500, "server_error"],
    [503, "server_error"],
  ])("maps HTTP %i to the %s category with the provider's message, exit 1", async (status, category) => {
    const toolctl = await toolWith(manifest());
    const result = await toolctl.run("fake.get_item", inputSources({ params: ["id=1", `status=${status}`] }));
    expect(result.exitCode).toBe(1);
    expect(result.status).toBe("failed");
    expect(result.error!.category).toBe(category);
    expect(result.error!.message).toBe(`HTTP ${status}: provider says ${status}`);
  });

  it("a read that times out fails with exit 1; a write that times out after sending is unknown, exit 5", async () => {
    const toolctl = await toolWith(manifest());
    const read = await toolctl.run("fake.slow_read");
    expect(read.exitCode).toBe(1);
    expect(read.error!.category).toBe("timeout");
    const write = await toolctl.run("fake.slow_write");
    expect(write.exitCode).toBe(5);
    expect(write.status).toBe("unknown");
    expect(write.error!.message).toMatch(/may have happened/);
    expect((await executionOf(toolctl, write.executionId)).status).toBe("unknown");
  });

  it("fails clearly on a non-JSON body where JSON was expected, and reads text when asked", async () => {
    const toolctl = await toolWith(manifest());
    const bad = await toolctl.run("fake.not_json");
    expect(bad.exitCode).toBe(1);
    expect(bad.error!.message).toMatch(/expected a JSON response but got application\/json: "<html>oops<\/html>"/);
    const text = await toolctl.run("fake.text");
    expect(text.exitCode).toBe(0);
    expect(text.output).toBe("plain words");
  });

  it("fails the execution when the output does not match outputSchema", async () => {
    const toolctl = await toolWith(manifest());
    const result = await toolctl.run("fake.wrong_shape");
    expect(result.exitCode).toBe(1);
    expect(result.error!.code).toBe("output_invalid");
    expect(result.error!.message).toMatch(/output\.name: is required/);
  });

  it("reports an unreachable host as a network failure, exit 1", async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const toolctl = await toolWith(manifest().replace(`:${port}`, `:${deadPort}`));
    const result = await toolctl.run("fake.get_item", { id: "1" });
    expect(result.exitCode).toBe(1);
    expect(result.error!.category).toBe("network");
  });

  it("refuses loopback unless the tool opts in: exit 3 and no connection made", async () => {
    const toolctl = await toolWith(manifest({ allowPrivate: false }));
    const before = connections;
    const result = await toolctl.run("fake.get_item", { id: "1" });
    expect(result.exitCode).toBe(3);
    expect(result.status).toBe("declined");
    expect(result.error!.code).toBe("url_blocked");
    expect(connections).toBe(before);
  });

  it.each([["true"], [`["127.0.0.0/8"]`], [`["127.0.0.1"]`]])(
    "allowPrivateNetworks: %s opens the tool's own origin, not another port of it: exit 3, no connection",
    async (networks) => {
      const before = canaryConnections;
      const toolctl = await toolWith(manifest({ allowPrivate: networks }));
      const result = await toolctl.run("fake.other_port");
      expect(result.exitCode).toBe(3);
      // The first hop was sent (a read, so nothing happened): a failure, not a refusal before anything ran.
      expect(result.status).toBe("failed");
      expect(result.error!.code).toBe("url_blocked");
      expect(result.error!.message).toBe(
        `URL blocked: 127.0.0.1 is loopback, reached only at the origins the tool lists (http://127.0.0.1:${port}), not http://127.0.0.1:${canaryPort}: http://127.0.0.1:${canaryPort}/stolen (redirect)`,
      );
      expect(canaryConnections).toBe(before);
      // Listed in allowedHosts (or TOOL_ALLOWED_DOMAINS), the other origin is reached.
      const listed = await toolWith(manifest({ allowPrivate: networks, allowedHosts: [`http://127.0.0.1:${canaryPort}`] }));
      const followed = await listed.run("fake.other_port");
      expect(followed.exitCode).toBe(0);
      expect(followed.output).toEqual({ canary: true });
      const byEnv = await (await withEnv(toolctl, { TOOL_ALLOWED_DOMAINS: `http://127.0.0.1:${canaryPort}` })).run("fake.other_port");
      expect(byEnv.exitCode).toBe(0);
      expect(canaryConnections).toBe(before + 2);
    },
  );

  it.each([["http://127.0.0.1:8080/admin"], ["ftp://127.0.0.1:21"], ["http://user:pw@127.0.0.1:8080"]])(
    "refuses the allowedHosts entry %s at import, naming the field",
    async (entry) => {
      const toolctl = await openApi();
      const report = await toolctl.importManifests([writeFiles({ "fake.yaml": manifest({ allowedHosts: ["api.example.com", entry] }) })]);
      expect(report.imported).toEqual([]);
      expect(report.failed).toHaveLength(1);
      expect(report.failed[0]!.code).toBe("manifest_invalid");
      expect(report.failed[0]!.problems.join("\n")).toContain(
        `http.allowedHosts.1: '${entry}' is not a host, a *.domain wildcard or an origin (http or https://host[:port], nothing after it)`,
      );
      expect(await toolctl.listTools()).toEqual([]);
    },
  );

  it("follows a redirect to another private host only when TOOL_ALLOWED_DOMAINS lists its origin", async () => {
    // A second host: the same port on 127.0.0.2, another loopback address.
    const second = http.createServer((req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: "moved", host: req.headers.host }));
    });
    await new Promise<void>((resolve) => second.listen(port, "127.0.0.2", resolve));
    try {
      const toolctl = await toolWith(manifest());
      const blocked = await toolctl.run("fake.elsewhere");
      expect(blocked.exitCode).toBe(3);
      expect(blocked.error!.code).toBe("url_blocked");
      // A host name alone opens no private origin.
      const hostOnly = await (await withEnv(toolctl, { TOOL_ALLOWED_DOMAINS: "example.com, 127.0.0.2" })).run("fake.elsewhere");
      expect(hostOnly.exitCode).toBe(3);
      expect(hostOnly.error!.message).toMatch(
        new RegExp(
          `127\\.0\\.0\\.2 is loopback, reached only at the origins the tool lists \\(http://127\\.0\\.0\\.1:${port}\\), not http://127\\.0\\.0\\.2:${port}`,
        ),
      );
      const allowed = await (await withEnv(toolctl, { TOOL_ALLOWED_DOMAINS: `example.com, http://127.0.0.2:${port}` })).run("fake.elsewhere");
      expect(allowed.exitCode).toBe(0);
      expect(allowed.output).toEqual({ id: "moved", host: `127.0.0.2:${port}` });
    } finally {
      await new Promise<void>((resolve) => second.close(() => resolve()));
    }
  });

  it("refuses plain http unless allowed", async () => {
    const toolctl = await toolWith(manifest().replace("allowPlainHttp: true", "allowPlainHttp: false"));
    const result = await toolctl.run("fake.get_item", { id: "1" });
    expect(result.exitCode).toBe(3);
    expect(result.error!.message).toMatch(/URL blocked/);
  });

  it("a dry run shows the exact request and sends nothing", async () => {
    const toolctl = await toolWith(manifest());
    const before = connections;
    const result = await toolctl.run("fake.create_item", { name: "w" }, { dryRun: true });
    expect(result.exitCode).toBe(0);
    expect(result.status).toBe("dry_run");
    expect(result.request).toMatchObject({ method: "POST", url: `http://127.0.0.1:${port}/items`, body: { name: "w", fixed: true } });
    expect(requestOf(result).headers["idempotency-key"]).toBe(result.executionId);
    expect(connections).toBe(before);
    const dryRuns = await toolctl.audit({ type: "execution.dry_run" });
    expect(dryRuns).toHaveLength(1);
    // The audit event names the prepared request as the result does.
    expect(dryRuns[0]!.data.request).toEqual(result.request);
    expect(dryRuns[0]!.data).not.toHaveProperty("plan");
    // preview() is the same decision, with nothing sent either.
    const preview = await toolctl.preview("fake.create_item", { name: "w" });
    expect(preview.status).toBe("dry_run");
    expect(preview.request).toMatchObject({ method: "POST", url: `http://127.0.0.1:${port}/items`, body: { name: "w", fixed: true } });
    expect(connections).toBe(before);
  });

  it("scrubs a secret the provider echoes back, and values under secret-looking keys", async () => {
    const toolctl = await toolWith(manifest({ auth: "auth: { type: bearer, secret: FAKE_TOKEN }" }), { FAKE_TOKEN: "sk_live_zyxw987654" });
    const result = await toolctl.run("fake.echo_secret");
    expect(result.exitCode).toBe(0);
    expect(result.output).toEqual({ token: "[REDACTED]", leaked: "Bearer [REDACTED]" });
    expect((await executionOf(toolctl, result.executionId)).output).toEqual({ token: "[REDACTED]", leaked: "Bearer [REDACTED]" });
  });

  describe("side effects that may have happened are never reported as clean failures", () => {
    it.each([
      ["create_unreadable", /HTTP 201, but expected a JSON response .* the action probably happened/],
      ["create_failing", /HTTP 500: provider says 500: the provider may have acted/],
      ["create_wrong_shape", /output does not match .* the action itself ran/],
    ])("%s is unknown, exit 5", async (action, message) => {
      const toolctl = await toolWith(manifest());
      const result = await toolctl.run(`fake.${action}`);
      expect(result.exitCode).toBe(5);
      expect(result.status).toBe("unknown");
      expect(result.error!.message).toMatch(message);
    });
  });

  it("records pathologically deep JSON without crashing, and leaves no execution running", async () => {
    const toolctl = await toolWith(manifest());
    const result = await toolctl.run("fake.deep");
    expect(result.exitCode).toBe(0);
    expect(JSON.stringify(result)).toContain("[TOO DEEP]");
    expect((await toolctl.executions({ status: "running" })).total).toBe(0);
    expect((await executionOf(toolctl, result.executionId)).status).toBe("succeeded");
  });

  it("scrubs a secret before cutting a long error message, so no part of it survives", async () => {
    const toolctl = await toolWith(manifest({ auth: "auth: { type: api_key, secret: FAKE_TOKEN, in: header, name: X-Api-Key }" }), {
      FAKE_TOKEN: "SECRETVALUE1234567890",
    });
    const result = await toolctl.run("fake.long_error");
    expect(result.exitCode).toBe(1);
    expect(JSON.stringify(result)).not.toMatch(/SECRETVAL/);
    expect(result.error!.message).toMatch(/x\[REDACTED\]$/);
  });

  it("scrubs secrets in every encoding a query string gives them", async () => {
    const secret = "SECRET~value (with) spaces!";
    const toolctl = await toolWith(manifest({ auth: "auth: { type: api_key, secret: FAKE_TOKEN, in: query, name: key }" }), { FAKE_TOKEN: secret });
    const result = await toolctl.run("fake.get_item", { id: "1" }, { dryRun: true });
    expect(requestOf(result).url).toMatch(/key=\[REDACTED\]$/);
    const events = [];
    for await (const event of toolctl.auditEvents()) events.push(event);
    expect(events.map((event) => event.type)).toContain("execution.dry_run");
    expect(JSON.stringify(events)).not.toContain("SECRET");
  });

  it("drops an API-key header when a redirect leaves the origin", async () => {
    const landing: http.IncomingHttpHeaders[] = [];
    const other = http.createServer((req, res) => {
      landing.push(req.headers);
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
    await new Promise<void>((resolve) => other.listen(port, "127.0.0.2", resolve));
    try {
      const toolctl = await toolWith(manifest({ auth: "auth: { type: api_key, secret: FAKE_TOKEN, in: header, name: X-Api-Token }" }), {
        FAKE_TOKEN: "hdr-secret-123456",
        TOOL_ALLOWED_DOMAINS: `http://127.0.0.2:${port}`,
      });
      const result = await toolctl.run("fake.hop");
      expect(result.exitCode).toBe(0);
      expect(landing).toHaveLength(1);
      expect(landing[0]!["x-api-token"]).toBeUndefined();
      expect(seen[seen.length - 1]!.headers["x-api-token"]).toBe("hdr-secret-123456");
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });

  it("refuses '..' as a path parameter: it would reach another endpoint", async () => {
    const toolctl = await shared();
    for (const id of ["..", ".", "%2e%2E"]) {
      const result = await toolctl.run("fake.get_item", inputSources({ params: [`id=${id}`] }));
      expect(result.exitCode).toBe(2);
      expect(result.error!.message).toMatch(/is not allowed as a path segment/);
    }
  });

  it("refuses a header value HTTP cannot carry, in the dry run and the run alike: exit 2, nothing sent", async () => {
    const toolctl = await toolWith(
      manifest().replace("      path: /items/{{ input.id }}\n", '      path: /items/{{ input.id }}\n      headers: { X-Note: "{{ input.id }}" }\n'),
    );
    const before = seen.length;
    for (const id of ["日本", "a\nb", "a\u0001b"]) {
      for (const result of [await toolctl.preview("fake.get_item", { id }), await toolctl.run("fake.get_item", { id })]) {
        expect(result.exitCode, JSON.stringify(id)).toBe(2);
        expect(result.error!.message).toContain("request.headers.X-Note: the value has characters a header cannot carry");
      }
    }
    expect(seen.length).toBe(before);
    expect((await toolctl.run("fake.get_item", { id: "café" })).exitCode).toBe(0);
  });

  it("refuses a path parameter that comes out empty: /items/ is another endpoint (the collection)", async () => {
    const toolctl = await shared();
    const before = seen.length;
    for (const result of [await toolctl.run("fake.get_item", inputSources({ params: ["id="] })), await toolctl.preview("fake.get_item", { id: "" })]) {
      expect(result.exitCode).toBe(2);
      expect(result.error!.message).toContain(
        `request.path "/items/{{ input.id }}": the segment "{{ input.id }}" came out empty, which addresses another endpoint`,
      );
    }
    expect(seen.length).toBe(before);
  });

  // A value goes as one encoded segment (`..%2F..`), but a server, a proxy or a framework in front of it may
  // decode it (once or twice), treat a backslash as a slash, cut a segment at `;` or read overlong UTF-8.
  it.each([
    ["../.."],
    ["../admin"],
    ["a/../../b"],
    ["a/.."],
    ["..%2F.."],
    ["..%2f"],
    ["%2e%2e"],
    ["%2E%2e/x"],
    [".%2E"],
    ["%2e."],
    ["..\\.."],
    ["..\\"],
    ["x\\..\\y"],
    ["%2e%2e%5cx"],
    ["..%5C"],
    ["%252e%252e%252f"],
    ["%25252e%25252e"],
    ["..;/x"],
    ["..;jsessionid=1"],
    ["%c0%ae%c0%ae/x"],
    ["..%c0%afx"],
    ["%u002e%u002e/x"],
    ["\uff0e\uff0e/x"],
    ["\u2025/x"],
    ["..%00"],
    [".. /x"],
  ])("refuses %j as a path parameter: exit 2, naming the path template and the field, nothing sent", async (id) => {
    const toolctl = await shared();
    const before = seen.length;
    const result = await toolctl.run("fake.get_item", { id });
    expect(result.exitCode).toBe(2);
    expect(result.status).toBe("failed");
    expect(result.error!.message).toBe(
      `cannot build the http call: request.path "/items/{{ input.id }}": input.id ${JSON.stringify(id)} is not allowed as a path segment: decoded as a server may decode it, it has a ".." segment, which climbs to another endpoint`,
    );
    expect(seen.length).toBe(before);
  });

  it.each([["a..b"], ["..."], ["v1.2..3"], ["..a"], ["%2e%2ex"], ["a/b"], [".hidden"], ["x;y"]])("still sends %j, which climbs nowhere", async (id) => {
    const toolctl = await shared();
    const result = await toolctl.run("fake.get_item", { id });
    expect(result.exitCode).toBe(0);
    expect(seen.at(-1)!.url).toBe(`/items/${encodeURIComponent(id)}`);
  });

  it("refuses every place a manifest could name a header the client owns, and imports nothing", async () => {
    const cases: Array<[string, string, string]> = [
      ["http.headers.Content-Length", "  retry: { initialDelayMs: 10 }", "  retry: { initialDelayMs: 10 }\n  headers: { Content-Length: '999' }"],
      ["auth.name", "auth: { type: none }", "auth: { type: api_key, secret: FAKE_KEY, name: Transfer-Encoding }"],
      ["actions.create_item.idempotencyKey.header", "idempotencyKey: { header: Idempotency-Key }", "idempotencyKey: { header: connection }"],
      [
        "actions.charge.request.sign.header",
        "      path: /v1/charges\n",
        "      path: /v1/charges\n      sign: { secret: FAKE_SIGNING, header: Keep-Alive }\n",
      ],
      [
        "actions.get_item.request.headers.upgrade",
        "      path: /items/{{ input.id }}\n",
        "      path: /items/{{ input.id }}\n      headers: { upgrade: websocket }\n",
      ],
    ];
    for (const [field, from, to] of cases) {
      const text = manifest().replace(from, to);
      expect(text, field).not.toBe(manifest());
      const toolctl = await openApi();
      const report = await toolctl.importManifests([writeFiles({ "fake.yaml": text })]);
      expect(report.imported, field).toEqual([]);
      expect(report.failed[0]!.problems!.join("\n"), field).toMatch(new RegExp(`${field.replace(/\./g, "\\.")}: a header the HTTP client sets itself \\(`));
    }
  });

  it("a tool stored before client-owned headers were refused: a value for one is refused when the request is built, so never shown", () => {
    const context = (input: Record<string, unknown>) =>
      ({
        tool: {
          name: "old",
          definition: { baseUrl: `http://127.0.0.1:${port}`, http: { allowPlainHttp: true, allowPrivateNetworks: true }, auth: { type: "none" } },
        },
        action: {
          name: "get",
          kind: "read",
          definition: { request: { method: "GET", path: "/", query: {}, headers: { Host: "{{ input.host }}" }, response: "auto" } },
        },
        input,
        secrets: {},
        executionId: "ex_old",
        env: {},
        sandbox: false,
        redact: (text: string) => text,
        addSecret: () => {},
        optionalSecret: () => undefined,
      }) as unknown as RunContext;
    expect(() => httpRunner.prepare(context({ host: "evil.example" }))).toThrow(
      "request.headers.Host: a header the HTTP client sets itself (it sends the URL's host): a value given here would never be sent; remove it from the manifest and import it again",
    );
    // Left out, it is not there to show.
    expect(httpRunner.prepare(context({})).description.headers).not.toHaveProperty("host");
  });

  it("scrubs a password given as input wherever a template copies it", async () => {
    const text = manifest().replace('json: { name: "{{ input.name }}"', 'json: { note: "{{ input.password }}", name: "{{ input.name }}"');
    expect(text).toContain("input.password");
    const toolctl = await toolWith(text);
    const result = await toolctl.run("fake.create_item", { name: "n", password: "hunter2-very-secret" }, { dryRun: true });
    expect(result.exitCode).toBe(0);
    expect(requestOf(result).body.note).toBe("[REDACTED]");
    expect(JSON.stringify(result)).not.toContain("hunter2-very-secret");
    expect(JSON.stringify(await toolctl.audit())).not.toContain("hunter2-very-secret");
  });
});

/** What the CLI adds over the API: flags into input, what it prints, exit codes. */
describe("through the CLI", () => {
  it("turns --param and --params into the request: encoded path, repeated query values, absent ones dropped", async () => {
    const home = (await toolWith(manifest())).home;
    const result = await runJson(["run", "fake.get_item", "--param", "id=a b/c", "--params", '{"tags":["x","y"]}', "--param", "limit=5"], { home });
    expect(result.code).toBe(0);
    expect(result.json.status).toBe("succeeded");
    expect(result.json.output.path).toBe("/items/a%20b%2Fc");
    const last = seen[seen.length - 1]!;
    expect(last.url).toBe("/items/a%20b%2Fc?tag=x&tag=y&limit=5");
  });

  it("prints neither the secret nor its encoding, in a run (--json) or a human dry run", async () => {
    const auth = "auth: { type: basic, username: 'AC{{ secrets.FAKE_SID }}', secret: FAKE_TOKEN }";
    const home = (await toolWith(manifest({ auth }))).home;
    const env = { FAKE_TOKEN: "sk_test_abcdef123456", FAKE_SID: "sid42" };
    const run = await runJson(["run", "fake.get_item", "-p", "id=1"], { home, env });
    expect(run.code).toBe(0);
    expect(seen[seen.length - 1]!.headers.authorization).toBe(`Basic ${Buffer.from("ACsid42:sk_test_abcdef123456").toString("base64")}`);
    const dry = await runCli(["run", "fake.get_item", "-p", "id=1", "--dry-run"], { home, env });
    expect(dry.code).toBe(0);
    for (const text of [run.stdout, run.stderr, dry.stdout, dry.stderr]) {
      expect(text).not.toContain("sk_test_abcdef123456");
      expect(text).not.toContain(Buffer.from("ACsid42:sk_test_abcdef123456").toString("base64"));
    }
    expect(dry.stdout).toContain("[REDACTED]");
  });

  it("refuses at import a header the HTTP client sets itself (it would be shown but never sent): exit 2, naming the file and the field", async () => {
    const dir = writeFiles({
      "fake.yaml": manifest().replace(
        "      path: /items/{{ input.id }}\n",
        "      path: /items/{{ input.id }}\n      headers: { Host: evil.example, X-Note: ok }\n",
      ),
    });
    const result = await runCli(["import", dir], { home: tempDir("toolctl-http-") });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(path.join(dir, "fake.yaml"));
    expect(result.stderr).toContain(
      "actions.get_item.request.headers.Host: a header the HTTP client sets itself (it sends the URL's host): a value written here would never be sent; leave it out",
    );
  });

  it("refuses an allowedHosts entry at import: exit 2, naming the field on stderr", async () => {
    const entry = "http://127.0.0.1:8080/admin";
    const dir = writeFiles({ "fake.yaml": manifest({ allowedHosts: ["api.example.com", entry] }) });
    const result = await runCli(["import", dir], { home: tempDir("toolctl-http-") });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `http.allowedHosts.1: '${entry}' is not a host, a *.domain wildcard or an origin (http or https://host[:port], nothing after it)`,
    );
  });
});

/** Answers as servers write them: empty bodies under every content type, and text in charsets other than UTF-8. */
describe("reading the answer", () => {
  const latin1 = (text: string) => Buffer.from(text, "latin1");
  const BODIES: Record<string, { type?: string; body: Buffer }> = {
    "/empty-json": { type: "application/json", body: Buffer.alloc(0) },
    "/empty-problem": { type: "application/problem+json; charset=utf-8", body: Buffer.alloc(0) },
    "/empty-xml": { type: "application/xml", body: Buffer.alloc(0) },
    "/empty-text": { type: "text/plain; charset=utf-8", body: Buffer.alloc(0) },
    "/empty-none": { body: Buffer.alloc(0) },
    "/latin1-json": { type: "application/json; charset=iso-8859-1", body: latin1('{"name":"Café"}') },
    "/latin1-json-quoted": { type: 'application/json;charset="ISO-8859-1"', body: latin1('{"name":"Café"}') },
    "/latin1-text": { type: "text/plain; charset=iso-8859-1", body: latin1("Café crème") },
    "/sjis-text": { type: "text/plain; charset=Shift_JIS", body: Buffer.from([0x93, 0xfa, 0x96, 0x7b]) },
    "/latin1-xml": { type: "application/xml; charset=iso-8859-1", body: latin1("<r><name>Café</name></r>") },
    "/latin1-xml-declared": { type: "text/xml", body: latin1('<?xml version="1.0" encoding="ISO-8859-1"?><r><name>Café</name></r>') },
    "/utf8-xml-over-declaration": {
      type: "application/xml; charset=utf-8",
      body: Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><r><name>Café</name></r>'),
    },
    "/bom-json": { type: "application/json", body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"name":"Café"}')]) },
    "/utf8-json": { type: "application/json", body: Buffer.from('{"name":"Café"}') },
    "/bad-utf8-json": { type: "application/json", body: latin1('{"name":"Café"}') },
    "/bad-utf8-text": { type: "text/plain", body: latin1("Café") },
    "/unknown-charset": { type: "text/plain; charset=x-klingon", body: Buffer.from("Café") },
  };
  let bodies: http.Server;
  let base: string;
  const requests: string[] = [];
  beforeAll(async () => {
    bodies = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        const url = new URL(req.url!, "http://x");
        requests.push(`${req.method} ${url.pathname}`);
        const status = Number(url.searchParams.get("status") ?? 200);
        const answer = BODIES[url.pathname]!;
        res.writeHead(status, answer.type ? { "content-type": answer.type } : {});
        res.end(req.method === "HEAD" || status === 204 || status === 304 ? undefined : answer.body);
      });
    });
    await new Promise<void>((resolve) => bodies.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(bodies.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => bodies.close(() => resolve())));

  const answers = () =>
    openApi().then(async (toolctl) => {
      const actions = `  get:
    description: Reads what a path answers
    kind: read
    inputSchema: { type: object, required: [path], properties: { path: { type: string }, status: { type: integer } } }
    request: { method: GET, path: "/{{ input.path }}", query: { status: "{{ input.status }}" } }
  head:
    description: HEAD of a path
    kind: read
    inputSchema: { type: object, required: [path], properties: { path: { type: string } } }
    request: { method: HEAD, path: "/{{ input.path }}" }
  remove:
    description: A DELETE answered 204, whose output is an object or null
    kind: delete
    idempotent: true
    outputSchema: { anyOf: [{ type: object }, { type: "null" }] }
    inputSchema: { type: object, required: [path], properties: { path: { type: string }, status: { type: integer } } }
    request: { method: DELETE, path: "/{{ input.path }}", query: { status: "{{ input.status }}" } }
`;
      const report = await toolctl.importManifests([writeFiles({ "answers.yaml": loopbackTool("answers", base, actions) })]);
      expect(report.failed).toEqual([]);
      return toolctl;
    });

  it("an empty 2xx body is null whatever its content type (JSON, XML, text, none), for 200, 204 and HEAD", async () => {
    const toolctl = await answers();
    for (const path of ["empty-json", "empty-problem", "empty-xml", "empty-text", "empty-none"]) {
      for (const status of [200, 204]) {
        const result = await toolctl.run("answers.get", { path, status });
        expect(result.exitCode, `${path} ${status}: ${JSON.stringify(result.error)}`).toBe(0);
        expect(result.output, `${path} ${status}`).toBeNull();
        expect(result.warnings).toEqual([]);
      }
    }
    // A HEAD answer has headers and never a body.
    for (const path of ["utf8-json", "latin1-xml", "latin1-text"]) {
      const head = await toolctl.run("answers.head", { path });
      expect(head.exitCode, JSON.stringify(head.error)).toBe(0);
      expect(head.output, path).toBeNull();
    }
    // A DELETE answered 204 with a JSON content type matches an output schema that allows null.
    const removed = await toolctl.run("answers.remove", { path: "empty-json", status: 204 }, { yes: true });
    expect(removed.exitCode, JSON.stringify(removed.error)).toBe(0);
    expect(removed.output).toBeNull();
  });

  it("an empty answer that is not 2xx (304, 404) has no output either: null, not an empty string", async () => {
    const toolctl = await answers();
    for (const status of [304, 404]) {
      const result = await toolctl.run("answers.get", { path: "empty-json", status });
      expect(result.exitCode).toBe(1);
      expect(result.error!.message).toBe(`HTTP ${status}`);
      expect((await executionOf(toolctl, result.executionId)).output, String(status)).toBeNull();
    }
  });

  it("decodes a body in the charset its Content-Type declares (JSON, text, XML), with no warning", async () => {
    const toolctl = await answers();
    const cases: Array<[string, unknown]> = [
      ["latin1-json", { name: "Café" }],
      ["latin1-json-quoted", { name: "Café" }],
      ["latin1-text", "Café crème"],
      ["sjis-text", "日本"],
      ["latin1-xml", { r: { name: "Café" } }],
      ["utf8-json", { name: "Café" }],
      // A byte order mark says UTF-8 and is not part of the JSON.
      ["bom-json", { name: "Café" }],
    ];
    for (const [path, output] of cases) {
      const result = await toolctl.run("answers.get", { path });
      expect(result.exitCode, `${path}: ${JSON.stringify(result.error)}`).toBe(0);
      expect(result.output, path).toEqual(output);
      expect(result.warnings, path).toEqual([]);
    }
  });

  it("reads XML in its declaration's encoding when the Content-Type names no charset, and in the header's when it does", async () => {
    const toolctl = await answers();
    const declared = await toolctl.run("answers.get", { path: "latin1-xml-declared" });
    expect(declared.exitCode, JSON.stringify(declared.error)).toBe(0);
    expect(declared.output).toEqual({ r: { name: "Café" } });
    expect(declared.warnings).toEqual([]);
    const header = await toolctl.run("answers.get", { path: "utf8-xml-over-declaration" });
    expect(header.exitCode, JSON.stringify(header.error)).toBe(0);
    expect(header.output).toEqual({ r: { name: "Café" } });
    expect(header.warnings).toEqual([]);
  });

  it("says so in a warning when the body is not valid in its charset, or names a charset toolctl cannot read", async () => {
    const toolctl = await answers();
    const json = await toolctl.run("answers.get", { path: "bad-utf8-json" });
    expect(json.exitCode).toBe(0);
    expect(json.output).toEqual({ name: "Caf\uFFFD" });
    expect(json.warnings).toEqual(["the answer is not valid UTF-8: the bytes that are not read as U+FFFD (\uFFFD)"]);
    const text = await toolctl.run("answers.get", { path: "bad-utf8-text" });
    expect(text.output).toBe("Caf\uFFFD");
    expect(text.warnings).toEqual(["the answer is not valid UTF-8: the bytes that are not read as U+FFFD (\uFFFD)"]);
    const unknown = await toolctl.run("answers.get", { path: "unknown-charset" });
    expect(unknown.exitCode).toBe(0);
    expect(unknown.output).toBe("Café");
    expect(unknown.warnings).toEqual(['the answer\'s Content-Type names charset "x-klingon", which toolctl cannot decode: it is read as UTF-8']);
  });
});
