/**
 * The http runtime end to end: the built binary against a real HTTP server on 127.0.0.1.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, runJson, tempDir, writeFiles } from "./helpers.js";

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
  const allow = (extra.allowPrivate === false ? "" : `\n  allowPrivateNetworks: ${networks}`) + (extra.allowedHosts ? `\n  allowedHosts: ${JSON.stringify(extra.allowedHosts)}` : "");
  return `apiVersion: toolctl/v1
name: fake
description: A fake provider on loopback
runtime: http
baseUrl: http://${extra.baseHost ?? "127.0.0.1"}:${port}
http:
  allowPlainHttp: true
  timeoutSeconds: 1${allow}
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
    request: { method: GET, path: /slow }
  slow_write:
    description: Times out after sending
    kind: create
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

async function homeWith(text: string): Promise<string> {
  const dir = writeFiles({ "fake.yaml": text });
  const home = tempDir("toolctl-http-");
  const result = await runCli(["import", dir], { home });
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return home;
}

describe("http runner", () => {
  it("encodes path parameters and serialises query values, dropping absent ones", async () => {
    const home = await homeWith(manifest());
    const result = await runJson(["run", "fake.get_item", "--param", "id=a b/c", "--params", '{"tags":["x","y"]}', "--param", "limit=5"], { home });
    expect(result.code).toBe(0);
    expect(result.json.status).toBe("succeeded");
    expect(result.json.output.path).toBe("/items/a%20b%2Fc");
    const last = seen[seen.length - 1]!;
    expect(last.url).toBe("/items/a%20b%2Fc?tag=x&tag=y&limit=5");
  });

  it("sends a JSON body with typed values and an idempotency key equal to the execution id", async () => {
    const home = await homeWith(manifest());
    const result = await runJson(["run", "fake.create_item", "-p", "name=widget", "-p", "amount=12.5"], { home });
    expect(result.code).toBe(0);
    const last = seen[seen.length - 1]!;
    expect(last.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(last.body)).toEqual({ name: "widget", amount: 12.5, fixed: true });
    expect(last.headers["idempotency-key"]).toBe(result.json.executionId);
  });

  it("sends nested form bodies in bracket notation", async () => {
    const home = await homeWith(manifest());
    const result = await runJson(["run", "fake.charge", "-p", "amount=500", "-p", "order=A-1"], { home });
    expect(result.code).toBe(0);
    const last = seen[seen.length - 1]!;
    expect(last.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(decodeURIComponent(last.body)).toBe("amount=500&metadata[order]=A-1&expand[0]=customer&expand[1]=invoice");
  });

  it.each([
    ["bearer", "auth: { type: bearer, secret: FAKE_TOKEN }", (s: Seen) => s.headers.authorization, "Bearer sk_test_abcdef123456"],
    ["basic", "auth: { type: basic, username: 'AC{{ secrets.FAKE_SID }}', secret: FAKE_TOKEN }", (s: Seen) => s.headers.authorization,
      `Basic ${Buffer.from("ACsid42:sk_test_abcdef123456").toString("base64")}`],
    ["api_key header", "auth: { type: api_key, secret: FAKE_TOKEN, in: header, name: X-Api-Key }", (s: Seen) => s.headers["x-api-key"], "sk_test_abcdef123456"],
    ["api_key query", "auth: { type: api_key, secret: FAKE_TOKEN, in: query, name: key }", (s: Seen) => new URL(s.url, "http://x").searchParams.get("key"), "sk_test_abcdef123456"],
  ])("authenticates with %s from secrets, and never shows the secret", async (_name, auth, pick, expected) => {
    const home = await homeWith(manifest({ auth }));
    const env = { FAKE_TOKEN: "sk_test_abcdef123456", FAKE_SID: "sid42" };
    const run = await runJson(["run", "fake.get_item", "-p", "id=1"], { home, env });
    expect(run.code).toBe(0);
    expect(pick(seen[seen.length - 1]!)).toBe(expected);
    const dry = await runCli(["run", "fake.get_item", "-p", "id=1", "--dry-run"], { home, env });
    expect(dry.code).toBe(0);
    for (const text of [run.stdout, run.stderr, dry.stdout, dry.stderr]) {
      expect(text).not.toContain("sk_test_abcdef123456");
      expect(text).not.toContain(Buffer.from("ACsid42:sk_test_abcdef123456").toString("base64"));
    }
    expect(dry.stdout).toContain("[REDACTED]");
  });

  it("reads secrets from .env in the working directory", async () => {
    const home = await homeWith(manifest({ auth: "auth: { type: bearer, secret: FAKE_TOKEN }" }));
    const cwd = writeFiles({ ".env": "# local secrets\nFAKE_TOKEN='from-dotenv-value'\n" });
    const result = await runJson(["run", "fake.get_item", "-p", "id=1"], { home, cwd });
    expect(result.code).toBe(0);
    expect(seen[seen.length - 1]!.headers.authorization).toBe("Bearer from-dotenv-value");
  });

  it("names a missing secret, exits 2 and sends nothing", async () => {
    const home = await homeWith(manifest({ auth: "auth: { type: bearer, secret: FAKE_TOKEN }" }));
    const before = seen.length;
    const result = await runJson(["run", "fake.get_item", "-p", "id=1"], { home });
    expect(result.code).toBe(2);
    expect(result.json.error.message).toMatch(/secret FAKE_TOKEN is not set/);
    expect(result.json.error.category).toBe("authentication");
    expect(seen.length).toBe(before);
  });

  it.each([
    [401, "authentication"], [403, "authorization"], [404, "validation"], [422, "validation"], [429, "rate_limit"], [500, "server_error"], [503, "server_error"],
  ])("maps HTTP %i to the %s category with the provider's message, exit 1", async (status, category) => {
    const home = await homeWith(manifest());
    const result = await runJson(["run", "fake.get_item", "-p", "id=1", "-p", `status=${status}`], { home });
    expect(result.code).toBe(1);
    expect(result.json.status).toBe("failed");
    expect(result.json.error.category).toBe(category);
    expect(result.json.error.message).toBe(`HTTP ${status}: provider says ${status}`);
  });

  it("a read that times out fails with exit 1; a write that times out after sending is unknown, exit 5", async () => {
    const home = await homeWith(manifest());
    const read = await runJson(["run", "fake.slow_read"], { home });
    expect(read.code).toBe(1);
    expect(read.json.error.category).toBe("timeout");
    const write = await runJson(["run", "fake.slow_write"], { home });
    expect(write.code).toBe(5);
    expect(write.json.status).toBe("unknown");
    expect(write.json.error.message).toMatch(/may have happened/);
    const shown = await runJson(["executions", "show", write.json.executionId], { home });
    expect(shown.json.status).toBe("unknown");
  });

  it("fails clearly on a non-JSON body where JSON was expected, and reads text when asked", async () => {
    const home = await homeWith(manifest());
    const bad = await runJson(["run", "fake.not_json"], { home });
    expect(bad.code).toBe(1);
    expect(bad.json.error.message).toMatch(/expected a JSON response but got application\/json: "<html>oops<\/html>"/);
    const text = await runJson(["run", "fake.text"], { home });
    expect(text.code).toBe(0);
    expect(text.json.output).toBe("plain words");
  });

  it("fails the execution when the output does not match outputSchema", async () => {
    const home = await homeWith(manifest());
    const result = await runJson(["run", "fake.wrong_shape"], { home });
    expect(result.code).toBe(1);
    expect(result.json.error.code).toBe("output_invalid");
    expect(result.json.error.message).toMatch(/output\.name: is required/);
  });

  it("reports an unreachable host as a network failure, exit 1", async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const home = await homeWith(manifest().replace(`:${port}`, `:${deadPort}`));
    const result = await runJson(["run", "fake.get_item", "-p", "id=1"], { home });
    expect(result.code).toBe(1);
    expect(result.json.error.category).toBe("network");
  });

  it("refuses loopback unless the tool opts in: exit 3 and no connection made", async () => {
    const home = await homeWith(manifest({ allowPrivate: false }));
    const before = connections;
    const result = await runJson(["run", "fake.get_item", "-p", "id=1"], { home });
    expect(result.code).toBe(3);
    expect(result.json.status).toBe("declined");
    expect(result.json.error.code).toBe("url_blocked");
    expect(connections).toBe(before);
  });

  it.each([["true"], [`["127.0.0.0/8"]`], [`["127.0.0.1"]`]])("allowPrivateNetworks: %s opens the tool's own origin, not another port of it: exit 3, no connection", async (networks) => {
    const before = canaryConnections;
    const home = await homeWith(manifest({ allowPrivate: networks }));
    const result = await runJson(["run", "fake.other_port"], { home });
    expect(result.code).toBe(3);
    // The first hop was sent (a read, so nothing happened): a failure, not a refusal before anything ran.
    expect(result.json.status).toBe("failed");
    expect(result.json.error.code).toBe("url_blocked");
    expect(result.json.error.message).toBe(
      `URL blocked: 127.0.0.1 is loopback, reached only at the origins the tool lists (http://127.0.0.1:${port}), not http://127.0.0.1:${canaryPort}: http://127.0.0.1:${canaryPort}/stolen (redirect)`,
    );
    expect(canaryConnections).toBe(before);
    // Listed in allowedHosts (or TOOL_ALLOWED_DOMAINS), the other origin is reached.
    const listed = await homeWith(manifest({ allowPrivate: networks, allowedHosts: [`http://127.0.0.1:${canaryPort}`] }));
    const followed = await runJson(["run", "fake.other_port"], { home: listed });
    expect(followed.code).toBe(0);
    expect(followed.json.output).toEqual({ canary: true });
    const byEnv = await runJson(["run", "fake.other_port"], { home, env: { TOOL_ALLOWED_DOMAINS: `http://127.0.0.1:${canaryPort}` } });
    expect(byEnv.code).toBe(0);
    expect(canaryConnections).toBe(before + 2);
  });

  it.each([["http://127.0.0.1:8080/admin"], ["ftp://127.0.0.1:21"], ["http://user:pw@127.0.0.1:8080"]])("refuses the allowedHosts entry %s at import: exit 2, naming the field", async (entry) => {
    const dir = writeFiles({ "fake.yaml": manifest({ allowedHosts: ["api.example.com", entry] }) });
    const home = tempDir("toolctl-http-");
    const result = await runCli(["import", dir], { home });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`http.allowedHosts.1: '${entry}' is not a host, a *.domain wildcard or an origin (http or https://host[:port], nothing after it)`);
  });

  it("follows a redirect to another private host only when TOOL_ALLOWED_DOMAINS lists its origin", async () => {
    // A second host: the same port on 127.0.0.2, another loopback address.
    const second = http.createServer((req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: "moved", host: req.headers.host }));
    });
    await new Promise<void>((resolve) => second.listen(port, "127.0.0.2", resolve));
    try {
      const home = await homeWith(manifest());
      const blocked = await runJson(["run", "fake.elsewhere"], { home });
      expect(blocked.code).toBe(3);
      expect(blocked.json.error.code).toBe("url_blocked");
      // A host name alone opens no private origin.
      const hostOnly = await runJson(["run", "fake.elsewhere"], { home, env: { TOOL_ALLOWED_DOMAINS: "example.com, 127.0.0.2" } });
      expect(hostOnly.code).toBe(3);
      expect(hostOnly.json.error.message).toMatch(new RegExp(`127\\.0\\.0\\.2 is loopback, reached only at the origins the tool lists \\(http://127\\.0\\.0\\.1:${port}\\), not http://127\\.0\\.0\\.2:${port}`));
      const allowed = await runJson(["run", "fake.elsewhere"], { home, env: { TOOL_ALLOWED_DOMAINS: `example.com, http://127.0.0.2:${port}` } });
      expect(allowed.code).toBe(0);
      expect(allowed.json.output).toEqual({ id: "moved", host: `127.0.0.2:${port}` });
    } finally {
      await new Promise<void>((resolve) => second.close(() => resolve()));
    }
  });

  it("refuses plain http unless allowed", async () => {
    const home = await homeWith(manifest().replace("allowPlainHttp: true", "allowPlainHttp: false"));
    const result = await runJson(["run", "fake.get_item", "-p", "id=1"], { home });
    expect(result.code).toBe(3);
    expect(result.json.error.message).toMatch(/URL blocked/);
  });

  it("a dry run prints the exact request and sends nothing", async () => {
    const home = await homeWith(manifest());
    const before = connections;
    const result = await runJson(["run", "fake.create_item", "-p", "name=w", "--dry-run"], { home });
    expect(result.code).toBe(0);
    expect(result.json.status).toBe("dry_run");
    expect(result.json.plan).toMatchObject({ method: "POST", url: `http://127.0.0.1:${port}/items`, body: { name: "w", fixed: true } });
    expect(result.json.plan.headers["idempotency-key"]).toBe(result.json.executionId);
    expect(connections).toBe(before);
    const audit = await runCli(["audit", "--type", "execution.dry_run", "--json"], { home });
    expect(audit.stdout.trim().split("\n")).toHaveLength(1);
  });

  it("scrubs a secret the provider echoes back, and values under secret-looking keys", async () => {
    const home = await homeWith(manifest({ auth: "auth: { type: bearer, secret: FAKE_TOKEN }" }));
    const result = await runJson(["run", "fake.echo_secret"], { home, env: { FAKE_TOKEN: "sk_live_zyxw987654" } });
    expect(result.code).toBe(0);
    expect(result.json.output).toEqual({ token: "[REDACTED]", leaked: "Bearer [REDACTED]" });
  });

  describe("side effects that may have happened are never reported as clean failures", () => {
    it.each([
      ["create_unreadable", /HTTP 201, but expected a JSON response .* the action probably happened/],
      ["create_failing", /HTTP 500: provider says 500: the provider may have acted/],
      ["create_wrong_shape", /output does not match .* the action itself ran/],
    ])("%s is unknown, exit 5", async (action, message) => {
      const home = await homeWith(manifest());
      const result = await runJson(["run", `fake.${action}`], { home });
      expect(result.code).toBe(5);
      expect(result.json.status).toBe("unknown");
      expect(result.json.error.message).toMatch(message);
    });
  });

  it("records pathologically deep JSON without crashing, and leaves no execution running", async () => {
    const home = await homeWith(manifest());
    const result = await runJson(["run", "fake.deep"], { home });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("[TOO DEEP]");
    const running = await runJson(["executions", "--status", "running"], { home });
    expect(running.json.total).toBe(0);
  });

  it("scrubs a secret before cutting a long error message, so no part of it survives", async () => {
    const home = await homeWith(manifest({ auth: "auth: { type: api_key, secret: FAKE_TOKEN, in: header, name: X-Api-Key }" }));
    const result = await runJson(["run", "fake.long_error"], { home, env: { FAKE_TOKEN: "SECRETVALUE1234567890" } });
    expect(result.code).toBe(1);
    expect(result.stdout).not.toMatch(/SECRETVAL/);
    expect(result.json.error.message).toMatch(/x\[REDACTED\]$/);
  });

  it("scrubs secrets in every encoding a query string gives them", async () => {
    const home = await homeWith(manifest({ auth: "auth: { type: api_key, secret: FAKE_TOKEN, in: query, name: key }" }));
    const secret = "SECRET~value (with) spaces!";
    const result = await runJson(["run", "fake.get_item", "-p", "id=1", "--dry-run"], { home, env: { FAKE_TOKEN: secret } });
    expect(result.json.plan.url).toMatch(/key=\[REDACTED\]$/);
    const audit = await runCli(["audit", "--json"], { home });
    expect(audit.stdout).not.toContain("SECRET");
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
      const home = await homeWith(manifest({ auth: "auth: { type: api_key, secret: FAKE_TOKEN, in: header, name: X-Api-Token }" }));
      const result = await runJson(["run", "fake.hop"], { home, env: { FAKE_TOKEN: "hdr-secret-123456", TOOL_ALLOWED_DOMAINS: `http://127.0.0.2:${port}` } });
      expect(result.code).toBe(0);
      expect(landing).toHaveLength(1);
      expect(landing[0]!["x-api-token"]).toBeUndefined();
      expect(seen[seen.length - 1]!.headers["x-api-token"]).toBe("hdr-secret-123456");
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });

  it("refuses '..' as a path parameter: it would reach another endpoint", async () => {
    const home = await homeWith(manifest());
    for (const id of ["..", ".", "%2e%2E"]) {
      const result = await runJson(["run", "fake.get_item", "-p", `id=${id}`], { home });
      expect(result.code).toBe(2);
      expect(result.json.error.message).toMatch(/is not allowed as a path segment/);
    }
  });

  // A value goes as one encoded segment (`..%2F..`), but a server, a proxy or a framework in front of it may
  // decode it (once or twice), treat a backslash as a slash, cut a segment at `;` or read overlong UTF-8.
  it.each([
    ["../.."], ["../admin"], ["a/../../b"], ["a/.."], ["..%2F.."], ["..%2f"], ["%2e%2e"], ["%2E%2e/x"], [".%2E"], ["%2e."],
    ["..\\.."], ["..\\"], ["x\\..\\y"], ["%2e%2e%5cx"], ["..%5C"], ["%252e%252e%252f"], ["%25252e%25252e"], ["..;/x"], ["..;jsessionid=1"],
    ["%c0%ae%c0%ae/x"], ["..%c0%afx"], ["%u002e%u002e/x"], ["\uff0e\uff0e/x"], ["\u2025/x"], ["..%00"], [".. /x"],
  ])("refuses %j as a path parameter: exit 2, naming the path template and the field, nothing sent", async (id) => {
    const home = await homeWith(manifest());
    const before = seen.length;
    const result = await runJson(["run", "fake.get_item", "--params", JSON.stringify({ id })], { home });
    expect(result.code).toBe(2);
    expect(result.json.status).toBe("failed");
    expect(result.json.error.message).toBe(
      `cannot build the http call: request.path "/items/{{ input.id }}": input.id ${JSON.stringify(id)} is not allowed as a path segment: decoded as a server may decode it, it has a ".." segment, which climbs to another endpoint`,
    );
    expect(seen.length).toBe(before);
  });

  it.each([["a..b"], ["..."], ["v1.2..3"], ["..a"], ["%2e%2ex"], ["a/b"], [".hidden"], ["x;y"]])("still sends %j, which climbs nowhere", async (id) => {
    const home = await homeWith(manifest());
    const result = await runJson(["run", "fake.get_item", "--params", JSON.stringify({ id })], { home });
    expect(result.code).toBe(0);
    expect(seen.at(-1)!.url).toBe(`/items/${encodeURIComponent(id)}`);
  });

  it("scrubs a password given as input wherever a template copies it", async () => {
    const text = manifest().replace('json: { name: "{{ input.name }}"', 'json: { note: "{{ input.password }}", name: "{{ input.name }}"');
    expect(text).toContain("input.password");
    const home = await homeWith(text);
    const result = await runJson(["run", "fake.create_item", "--params", JSON.stringify({ name: "n", password: "hunter2-very-secret" }), "--dry-run"], { home });
    expect(result.code).toBe(0);
    expect(result.json.plan.body.note).toBe("[REDACTED]");
    expect(result.stdout).not.toContain("hunter2-very-secret");
  });
});
