/**
 * Safe retries, the circuit breaker, rate limits, rollback and `tool test`, through the built binary against a
 * loopback server whose answers are scripted per path: a queue of statuses, then 200.
 */
import http from "node:http";
import path from "node:path";
import Database from "better-sqlite3";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { baseEnv, binPath, runCli, runJson, tempDir, writeFiles } from "./helpers.js";

interface Seen {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  at: number;
}

let seen: Seen[] = [];
/** Per path, the statuses to answer before 200 (with optional headers, and an optional delay before answering). */
let script = new Map<string, Array<{ status: number; headers?: Record<string, string>; delayMs?: number }>>();
/** Told of every request as it arrives, before it is answered. */
let arrived: (path: string) => void = () => {};
let server: http.Server;
let base = "";

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const path = new URL(req.url!, "http://x").pathname;
      seen.push({ method: req.method!, path, headers: req.headers, at: Date.now() });
      arrived(path);
      const next = script.get(path)?.shift();
      const status = next?.status ?? 200;
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(status, { "content-type": "application/json", ...next?.headers });
        res.end(JSON.stringify(status === 200 ? (path === "/bad-shape" ? { nope: true } : { ok: true, path }) : { error: { message: `scripted ${status}` } }));
      };
      if (next?.delayMs) setTimeout(answer, next.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

beforeEach(() => {
  seen = [];
  script = new Map();
  arrived = () => {};
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

describe("the circuit breaker under concurrent processes", () => {
  const auditTypes = async (h: string) => (await runCli(["audit", "--json"], { home: h })).stdout.trim().split("\n").map((line) => JSON.parse(line).type as string);
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it("counts every one of 8 concurrent failures, then lets exactly one trial call through after the pause", { timeout: 90_000 }, async () => {
    const h = await home(tool("cbc", "retry: { attempts: 1 }, circuitBreaker: { failures: 8, halfOpenAfterSeconds: 2 }", READ));
    // Slow failures, so that the eight runs are all in flight together.
    script.set("/read", Array.from({ length: 8 }, () => ({ status: 500, delayMs: 1500 })));
    const failed = await Promise.all(Array.from({ length: 8 }, () => runJson(["run", "cbc.read"], { home: h })));
    expect(failed.map((r) => r.code)).toEqual(Array(8).fill(1));
    expect(seen).toHaveLength(8);

    const open = await runJson(["run", "cbc.read"], { home: h });
    expect(open.code).toBe(3);
    expect(open.json.error.message).toMatch(/circuit open for tool cbc: its last 8 calls failed; nothing was sent/);
    expect(seen).toHaveLength(8);
    expect((await auditTypes(h)).filter((t) => t === "tool.circuit_opened")).toHaveLength(1);

    // After the pause, eight runs at once: one trial call (which fails, slowly); the others are refused unsent.
    await sleep(2100);
    script.set("/read", [{ status: 500, delayMs: 1500 }]);
    const racing = await Promise.all(Array.from({ length: 8 }, () => runJson(["run", "cbc.read"], { home: h })));
    expect(seen).toHaveLength(9);
    expect(racing.map((r) => r.code).sort()).toEqual([1, 3, 3, 3, 3, 3, 3, 3]);
    for (const refused of racing.filter((r) => r.code === 3)) {
      expect(refused.json.error.message).toMatch(/^circuit open for tool cbc: its last 8 calls failed; nothing was sent/);
      expect(refused.json.status).toBe("declined");
    }

    // The failed trial opened it again; after another pause a successful trial closes it.
    await sleep(2100);
    const probe = await runJson(["run", "cbc.read"], { home: h });
    expect(probe.code, probe.stderr).toBe(0);
    expect((await runJson(["run", "cbc.read"], { home: h })).code).toBe(0);
    expect(seen).toHaveLength(11);
    const types = await auditTypes(h);
    expect(types.filter((t) => t === "tool.circuit_opened")).toHaveLength(2);
    expect(types.lastIndexOf("tool.circuit_closed")).toBeGreaterThan(types.lastIndexOf("tool.circuit_opened"));
  });

  it("a trial whose process was killed does not hold the circuit: the next run makes the trial at once", { timeout: 60_000 }, async () => {
    const h = await home(tool("cbk", "retry: { attempts: 1 }, timeoutSeconds: 30, circuitBreaker: { failures: 1, halfOpenAfterSeconds: 1 }", READ));
    script.set("/read", [{ status: 500 }, { status: 200, delayMs: 60_000 }]);
    expect((await runJson(["run", "cbk.read"], { home: h })).code).toBe(1);
    await sleep(1100);
    const child = spawn(process.execPath, [binPath, "run", "cbk.read"], { env: baseEnv({ TOOLCTL_HOME: h }), stdio: "ignore" });
    await new Promise<void>((resolve) => (arrived = () => resolve()));
    await new Promise((resolve) => (child.on("close", resolve), child.kill("SIGKILL")));
    const next = await runJson(["run", "cbk.read"], { home: h });
    expect(next.code, next.stderr).toBe(0);
    expect(seen).toHaveLength(3);
  });

  it("a trial lease expires: a stuck holder cannot keep the circuit shut for ever", { timeout: 60_000 }, async () => {
    const h = await home(tool("cbs", "retry: { attempts: 1 }, timeoutSeconds: 1, circuitBreaker: { failures: 1, halfOpenAfterSeconds: 1 }", READ));
    script.set("/read", [{ status: 500 }, { status: 200, delayMs: 60_000 }]);
    expect((await runJson(["run", "cbs.read"], { home: h })).code).toBe(1);
    await sleep(1100);
    const child = spawn(process.execPath, [binPath, "run", "cbs.read"], { env: baseEnv({ TOOLCTL_HOME: h }), stdio: "ignore" });
    await new Promise<void>((resolve) => (arrived = () => resolve()));
    // Stopped, not dead: its lease (the call's own time budget plus a margin) is what frees the trial.
    child.kill("SIGSTOP");
    try {
      const refused = await runJson(["run", "cbs.read"], { home: h });
      expect(refused.code).toBe(3);
      expect(refused.json.error.message).toMatch(/circuit open for tool cbs: .*another toolctl process is making the one trial call/);
      expect(seen).toHaveLength(2);
      await sleep(6500);
      const next = await runJson(["run", "cbs.read"], { home: h });
      expect(next.code, next.stderr).toBe(0);
      expect(seen).toHaveLength(3);
    } finally {
      child.kill("SIGKILL");
    }
  });
});

describe("bookkeeping around a call never changes its outcome", () => {
  const registryOf = (h: string) => new Database(path.join(h, "registry.db"));
  /** A real failure of one table's writes: the database refuses them (as a read-only or broken store would). */
  function jam(h: string, tables: string[], verbs = ["INSERT", "UPDATE"]): void {
    const db = registryOf(h);
    try {
      for (const table of tables) {
        if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table)) continue;
        for (const verb of verbs) db.exec(`CREATE TRIGGER jam_${table}_${verb} BEFORE ${verb} ON ${table} BEGIN SELECT RAISE(ABORT, 'attempt to write a readonly database'); END;`);
      }
    } finally {
      db.close();
    }
  }

  it("records a success as succeeded when a long-held lock of another connection outlasts the busy timeout after the response", { timeout: 90_000 }, async () => {
    const h = await home(tool("bkl", "retry: { attempts: 1 }, circuitBreaker: { failures: 5 }", READ));
    script.set("/read", [{ status: 500 }]);
    expect((await runJson(["run", "bkl.read"], { home: h })).code).toBe(1);
    // As the second request arrives, another connection takes the write lock and holds it past the 15 s busy
    // timeout: the call succeeds, and the circuit's count (one failure, to reset) must wait for the lock.
    const holder = registryOf(h);
    let released: Promise<void> = Promise.resolve();
    arrived = () => {
      holder.exec("BEGIN IMMEDIATE");
      released = new Promise((resolve) => setTimeout(() => (holder.exec("COMMIT"), resolve()), 17_000));
    };
    try {
      const result = await runJson(["run", "bkl.read"], { home: h });
      await released;
      expect(result.code, result.stderr).toBe(0);
      expect(result.json.status).toBe("succeeded");
      expect((await runJson(["executions", "show", result.json.executionId], { home: h })).json.status).toBe("succeeded");
      // Once the lock was free, the success was counted too: the failure before it is forgotten.
      expect(holder.prepare("SELECT failures FROM circuits WHERE tool = 'bkl'").pluck().get()).toBe(0);
    } finally {
      holder.close();
    }
    expect(seen).toHaveLength(2);
  });

  it("a circuit count that cannot be written is a warning (JSON and stderr), never a changed outcome", { timeout: 60_000 }, async () => {
    const h = await home(tool("bkw", "retry: { attempts: 1 }, circuitBreaker: { failures: 5 }", READ));
    script.set("/read", [{ status: 500 }]);
    expect((await runJson(["run", "bkw.read"], { home: h })).code).toBe(1);
    jam(h, ["circuits", "breakers"]);
    const result = await runJson(["run", "bkw.read"], { home: h });
    expect(result.code, result.stderr).toBe(0);
    expect(result.json.status).toBe("succeeded");
    expect(result.json.warnings).toEqual([expect.stringMatching(/^the circuit breaker of tool bkw could not count this call: .*readonly database.* \(the outcome is recorded as it was\)$/)]);
    const human = await runCli(["run", "bkw.read"], { home: h });
    expect(human.code).toBe(0);
    expect(human.stderr).toMatch(/warning: the circuit breaker of tool bkw could not count this call/);
    expect((await runJson(["executions", "--status", "succeeded"], { home: h })).json.total).toBe(2);
  });

  it("a retry refused by the rate limit is not sent, and the answer already received stands (not 'nothing was sent')", { timeout: 60_000 }, async () => {
    const h = await home(tool("bkr", "requestsPerMinute: 1, retry: { attempts: 3, initialDelayMs: 10 }", READ));
    script.set("/read", [{ status: 503 }]);
    const result = await runJson(["run", "bkr.read"], { home: h });
    expect(seen).toHaveLength(1);
    expect(result.code).toBe(1);
    expect(result.json).toMatchObject({ status: "failed", error: { category: "server_error", message: expect.stringContaining("HTTP 503") } });
    expect(result.json.warnings).toEqual([expect.stringMatching(/^attempt 2 was not sent: rate limit: tool bkr allows 1 requests per minute/)]);
  });

  it("a rate slot the registry cannot write stops the call before it is sent: failed, exit 6, not unknown", { timeout: 60_000 }, async () => {
    const h = await home(tool("bks", "requestsPerMinute: 10", POST));
    jam(h, ["rate_slots"], ["INSERT"]);
    const result = await runJson(["run", "bks.post", "--yes"], { home: h });
    expect(seen).toHaveLength(0);
    expect(result.code).toBe(6);
    expect(result.json).toMatchObject({ status: "failed", error: { message: expect.stringMatching(/^POST 127\.0\.0\.1:\d+: nothing was sent: registry .*readonly database/) } });
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
