/**
 * Safe retries, the circuit breaker, rate limits, rollback and `tool test`, through the built binary against a
 * loopback server whose answers are scripted per path: a queue of statuses, then 200.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runCli, runJson, tempDir, writeFiles } from "./helpers.js";

interface Seen {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  at: number;
}

let seen: Seen[] = [];
/** Per path, the statuses to answer before 200 (with optional headers). */
let script = new Map<string, Array<{ status: number; headers?: Record<string, string> }>>();
let server: http.Server;
let base = "";

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const path = new URL(req.url!, "http://x").pathname;
      seen.push({ method: req.method!, path, headers: req.headers, at: Date.now() });
      const next = script.get(path)?.shift();
      const status = next?.status ?? 200;
      res.writeHead(status, { "content-type": "application/json", ...next?.headers });
      res.end(JSON.stringify(status === 200 ? (path === "/bad-shape" ? { nope: true } : { ok: true, path }) : { error: { message: `scripted ${status}` } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

beforeEach(() => {
  seen = [];
  script = new Map();
});

function tool(name: string, http: string, actions: string, extra = ""): string {
  return `apiVersion: toolctl/v1
name: ${name}
description: resilience probe
runtime: http
baseUrl: ${base}
http: { allowPlainHttp: true, allowPrivateNetworks: ["127.0.0.0/8"], ${http} }
${extra}
actions:
${actions}
`;
}

const READ = `  read: { description: a read, kind: read, request: { method: GET, path: /read } }`;
const POST = `  post: { description: an unkeyed create, kind: create, request: { method: POST, path: /post, json: {} } }`;
const KEYED = `  keyed: { description: a keyed create, kind: create, request: { method: POST, path: /keyed, json: {} }, idempotencyKey: { header: Idempotency-Key } }`;

async function home(manifest: string): Promise<string> {
  const dir = writeFiles({ "tool.yaml": manifest });
  const h = tempDir("toolctl-resilience-");
  const imported = await runCli(["import", dir], { home: h });
  expect(imported.code, imported.stderr).toBe(0);
  return h;
}

describe("safe retries", () => {
  it("retries a read through 503s with backoff, and says how many attempts it took", async () => {
    const h = await home(tool("r1", "retry: { attempts: 3, initialDelayMs: 50 }", READ));
    script.set("/read", [{ status: 503 }, { status: 503 }]);
    const result = await runJson(["run", "r1.read"], { home: h });
    expect(result.code, result.stderr).toBe(0);
    expect(seen.map((s) => s.path)).toEqual(["/read", "/read", "/read"]);
    const shown = await runJson(["executions", "show", result.json.executionId], { home: h });
    expect(shown.json.plan.result).toMatchObject({ status: 200, attempts: 3 });
  });

  it("honours Retry-After on a 429, and gives up at once when it asks for longer than maxDelayMs", async () => {
    const h = await home(tool("r2", "retry: { attempts: 3, initialDelayMs: 10, maxDelayMs: 5000 }", READ));
    script.set("/read", [{ status: 429, headers: { "retry-after": "1" } }]);
    const waited = await runJson(["run", "r2.read"], { home: h });
    expect(waited.code).toBe(0);
    expect(seen).toHaveLength(2);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(950);

    seen = [];
    script.set("/read", [{ status: 429, headers: { "retry-after": "120" } }]);
    const refused = await runJson(["run", "r2.read"], { home: h });
    expect(refused.code).toBe(1);
    expect(refused.json.error).toMatchObject({ category: "rate_limit", message: expect.stringContaining("HTTP 429") });
    expect(seen).toHaveLength(1);
  });

  it("never retries an unkeyed POST: a 503 leaves it unknown (exit 5) after one request", async () => {
    const h = await home(tool("r3", "retry: { attempts: 5, initialDelayMs: 10 }", POST));
    script.set("/post", [{ status: 503 }, { status: 503 }]);
    const result = await runJson(["run", "r3.post", "--yes"], { home: h });
    expect(result.code).toBe(5);
    expect(result.json.status).toBe("unknown");
    expect(seen).toHaveLength(1);
  });

  it("retries a keyed POST with the same idempotency key on every attempt", async () => {
    const h = await home(tool("r4", "retry: { attempts: 3, initialDelayMs: 10 }", KEYED));
    script.set("/keyed", [{ status: 500 }]);
    const result = await runJson(["run", "r4.keyed", "--yes"], { home: h });
    expect(result.code, result.stderr).toBe(0);
    expect(seen).toHaveLength(2);
    expect(seen[0]!.headers["idempotency-key"]).toBe(result.json.executionId);
    expect(seen[1]!.headers["idempotency-key"]).toBe(seen[0]!.headers["idempotency-key"]);
  });

  it("says in the dry run whether and how it would retry", async () => {
    const h = await home(tool("r5", "retry: { attempts: 4 }", [READ, POST].join("\n")));
    expect((await runJson(["run", "r5.read", "--dry-run"], { home: h })).json.plan.retries).toMatch(/up to 3 on network errors, 429 and 5xx/);
    expect((await runJson(["run", "r5.post", "--dry-run"], { home: h })).json.plan.retries).toMatch(/none \(not idempotent and no idempotency key\)/);
    expect(seen).toHaveLength(0);
  });
});

describe("the circuit breaker", () => {
  it("opens after repeated failures across processes, refuses without sending, then half-opens and closes", async () => {
    const h = await home(tool("cb", "retry: { attempts: 1 }, circuitBreaker: { failures: 2, halfOpenAfterSeconds: 1 }", READ));
    script.set("/read", [{ status: 500 }, { status: 500 }]);
    expect((await runJson(["run", "cb.read"], { home: h })).code).toBe(1);
    expect((await runJson(["run", "cb.read"], { home: h })).code).toBe(1);
    const open = await runJson(["run", "cb.read"], { home: h });
    expect(open.code).toBe(3);
    expect(open.json.error.message).toMatch(/circuit open for tool cb: its last 2 calls failed; nothing was sent/);
    expect(seen).toHaveLength(2);

    await new Promise((resolve) => setTimeout(resolve, 1100));
    const probe = await runJson(["run", "cb.read"], { home: h });
    expect(probe.code, probe.stderr).toBe(0);
    expect(seen).toHaveLength(3);
    const audit = await runCli(["audit", "--json"], { home: h });
    const types = audit.stdout.trim().split("\n").map((line) => JSON.parse(line).type as string);
    expect(types).toEqual(expect.arrayContaining(["tool.circuit_opened", "tool.circuit_closed"]));
    expect(types.indexOf("tool.circuit_opened")).toBeLessThan(types.indexOf("tool.circuit_closed"));
  });
});

describe("rate limits", () => {
  it("holds a per-minute limit across concurrent processes: the rest are refused without sending", async () => {
    const h = await home(tool("rl", "requestsPerMinute: 3", READ));
    const results = await Promise.all(Array.from({ length: 5 }, () => runJson(["run", "rl.read"], { home: h })));
    const codes = results.map((r) => r.code).sort();
    expect(codes).toEqual([0, 0, 0, 3, 3]);
    expect(seen).toHaveLength(3);
    const refused = results.find((r) => r.code === 3)!;
    expect(refused.json.error).toMatchObject({ code: "policy_refused", category: "rate_limit", message: expect.stringMatching(/rate limit: tool rl allows 3 requests per minute/) });
  });

  it("takes the limit from config.yaml over the manifest", async () => {
    const h = await home(tool("rc", "requestsPerMinute: 100", READ));
    writeFiles({ "config.yaml": "rateLimits:\n  rc: 1\n" }, h);
    expect((await runJson(["run", "rc.read"], { home: h })).code).toBe(0);
    expect((await runJson(["run", "rc.read"], { home: h })).code).toBe(3);
    expect(seen).toHaveLength(1);
  });
});

describe("rollback", () => {
  const actions = [
    `  create: { description: create a thing, kind: create, inputSchema: { type: object, required: [ref], properties: { ref: { type: string } } },`,
    `    request: { method: POST, path: /bad-shape, json: { ref: "{{ input.ref }}" } }, outputSchema: { type: object, required: [id] },`,
    `    rollback: { action: remove, input: { ref: "{{ input.ref }}" } } }`,
    `  remove: { description: remove it, kind: delete, inputSchema: { type: object, properties: { ref: { type: string } } }, idempotent: true,`,
    `    request: { method: DELETE, path: "/things/{{ input.ref }}" } }`,
    `  make: { description: create, kind: create, request: { method: POST, path: /make, json: {} }, rollback: { action: remove, input: { ref: "{{ output.path }}" } } }`,
    `  burn: { description: irreversible, kind: create, request: { method: POST, path: /burn, json: {} }, rollback: irreversible }`,
  ].join("\n");

  it("rolls back automatically an action that acted but whose output failed validation (exit 1, rolled_back)", async () => {
    const h = await home(tool("rb", "", actions));
    const result = await runJson(["run", "rb.create", "-p", "ref=abc", "--yes"], { home: h });
    expect(result.code).toBe(1);
    expect(result.json).toMatchObject({ status: "rolled_back", rollback: { status: "succeeded" } });
    expect(result.json.error.message).toMatch(/rolled back automatically \(rb\.remove/);
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual(["POST /bad-shape", "DELETE /things/abc"]);
    const undo = await runJson(["executions", "show", result.json.rollback.executionId], { home: h });
    expect(undo.json).toMatchObject({ action: "remove", status: "succeeded", rollbackOf: result.json.executionId });
    expect((await runJson(["executions", "show", result.json.executionId], { home: h })).json.status).toBe("rolled_back");
  });

  it("toolctl rollback ID runs the compensation from the output, once; irreversible and declared-none are refused", async () => {
    const h = await home(tool("rb2", "", actions));
    const made = await runJson(["run", "rb2.make", "--yes"], { home: h });
    expect(made.code).toBe(0);
    const dry = await runJson(["rollback", made.json.executionId, "--dry-run"], { home: h });
    expect(dry.json.plan).toMatchObject({ method: "DELETE", url: `${base}/things/%2Fmake` });
    const undone = await runJson(["rollback", made.json.executionId.slice(0, 14), "--yes"], { home: h });
    expect(undone.code, undone.stderr).toBe(0);
    expect(undone.json).toMatchObject({ rollbackOf: made.json.executionId, action: "remove", status: "succeeded" });
    const again = await runJson(["rollback", made.json.executionId], { home: h });
    expect(again.code).toBe(3);
    expect(again.json.error.message).toMatch(/already rolled back by/);

    const burnt = await runJson(["run", "rb2.burn", "--yes"], { home: h });
    expect(burnt.json.undo).toMatch(/irreversible/);
    const refused = await runJson(["rollback", burnt.json.executionId], { home: h });
    expect(refused.code).toBe(3);
    expect(refused.json.error.message).toMatch(/rb2\.burn is irreversible/);
    const none = await runJson(["rollback", undone.json.executionId], { home: h });
    expect(none.code).toBe(2);
    expect(none.json.error.message).toMatch(/declares no rollback/);
    expect((await runJson(["rollback", "ex_nope"], { home: h })).code).toBe(2);
  });
});

describe("toolctl tool test", () => {
  it("reports healthy with the latency, failing with the error, and refuses a tool without a test", async () => {
    const h = await home(tool("tt", "retry: { attempts: 1 }", READ, "test: { action: read }"));
    const healthy = await runJson(["tool", "test", "tt"], { home: h });
    expect(healthy.code).toBe(0);
    expect(healthy.json).toMatchObject({ tool: "tt", status: "healthy", latencyMs: expect.any(Number) });
    script.set("/read", [{ status: 401 }]);
    const failing = await runJson(["tool", "test", "tt"], { home: h });
    expect(failing.code).toBe(1);
    expect(failing.json).toMatchObject({ status: "failing", error: expect.stringContaining("HTTP 401") });
    const human = await runCli(["tool", "test", "tt"], { home: h });
    expect(human.stdout).toMatch(/^tt: healthy in \d+ ms \(tt\.read, ex_/);

    const none = await home(tool("tn", "", READ));
    expect((await runJson(["tool", "test", "tn"], { home: none })).json.error.message).toMatch(/declares no test/);
    const bad = writeFiles({ "t.yaml": tool("tb", "", POST, "test: { action: post }") });
    const refused = await runJson(["import", bad], { home: tempDir() });
    expect(refused.json.failed[0].problems.join("\n")).toMatch(/test\.action: 'post' is a create action; a test must be a harmless read/);
  });
});
