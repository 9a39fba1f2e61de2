/**
 * Safe retries, the circuit breaker, rate limits and rollback through the library API, in-process, against
 * loopback servers whose answers are scripted per path: a queue of statuses, then 200. Each test has its own
 * server and home, so the tests run concurrently: the long waits (a pause before a trial call, a lease, a held
 * lock) overlap. The built binary is spawned where another process is the point (a holder killed or stopped, a
 * run that waits on a lock) and for what the CLI prints (`tool test`, a warning on stderr).
 */
import http from "node:http";
import path from "node:path";
import Database from "better-sqlite3";
import type { AddressInfo } from "node:net";
import { afterAll, describe, it } from "vitest";
import { spawn } from "node:child_process";
import { ToolctlError, type Toolctl } from "../src/api/index.js";
import { baseEnv, binPath, openApi, runCli, runJson, writeFiles } from "./helpers.js";

interface Seen {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  at: number;
}

type Answer = { status: number; headers?: Record<string, string>; delayMs?: number };

/** A loopback provider of one test: what it was sent, and what it answers. */
interface Provider {
  base: string;
  seen: Seen[];
  /** Per path, the statuses to answer before 200 (with optional headers, and an optional delay before answering). */
  script: Map<string, Answer[]>;
  /** Told of every request as it arrives, before it is answered. */
  arrived: (path: string) => void;
}

const servers: http.Server[] = [];
afterAll(async () => {
  for (const server of servers) server.closeAllConnections();
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
});

async function provider(): Promise<Provider> {
  const p: Provider = { base: "", seen: [], script: new Map(), arrived: () => {} };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const path = new URL(req.url!, "http://x").pathname;
      p.seen.push({ method: req.method!, path, headers: req.headers, at: Date.now() });
      p.arrived(path);
      // A redirect loop, and an answer over the client's 10 MB cap: neither goes away when asked again.
      if (path === "/loop") return void res.writeHead(302, { location: "/loop" }).end();
      if (path === "/huge") return void res.writeHead(200, { "content-type": "application/json" }).end(Buffer.alloc(10 * 1024 * 1024 + 1, " "));
      const next = p.script.get(path)?.shift();
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
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  p.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return p;
}

function tool(p: Provider, name: string, http: string, actions: string, extra = ""): string {
  return `apiVersion: toolctl/v1
name: ${name}
description: resilience probe
runtime: http
baseUrl: ${p.base}
http: { allowPlainHttp: true, allowPrivateNetworks: ["127.0.0.0/8"], ${http} }
${extra}
actions:
${actions}
`;
}

const READ = `  read: { description: a read, kind: read, request: { method: GET, path: /read } }`;
const POST = `  post: { description: an unkeyed create, kind: create, request: { method: POST, path: /post, json: {} } }`;
const KEYED = `  keyed: { description: a keyed create, kind: create, request: { method: POST, path: /keyed, json: {} }, idempotencyKey: { header: Idempotency-Key } }`;

/** The API on a new home with the manifest imported. */
async function api(manifest: string): Promise<Toolctl> {
  const toolctl = await openApi();
  const report = await toolctl.importManifests([writeFiles({ "tool.yaml": manifest })]);
  if (report.failed.length > 0 || report.imported.length !== 1) throw new Error(`import failed: ${JSON.stringify(report.failed)}`);
  return toolctl;
}

/** More instances of the API on the same home: separate connections to the registry, as separate processes have. */
const more = (toolctl: Toolctl, count: number) => Promise.all(Array.from({ length: count }, () => openApi({ home: toolctl.home })));

async function executionOf(toolctl: Toolctl, id: string) {
  const found = await toolctl.execution(id);
  if (found === undefined || Array.isArray(found)) throw new Error(`expected one execution ${id}, got ${JSON.stringify(found)}`);
  return found;
}

const auditTypes = async (toolctl: Toolctl) => (await toolctl.audit()).map((event) => event.type);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.concurrent("safe retries", () => {
  it("retries a read through 503s with backoff, and says how many attempts it took", async ({ expect }) => {
    const p = await provider();
    const toolctl = await api(tool(p, "r1", "retry: { attempts: 3, initialDelayMs: 50 }", READ));
    p.script.set("/read", [{ status: 503 }, { status: 503 }]);
    const result = await toolctl.run("r1.read");
    expect(result.exitCode, JSON.stringify(result.error)).toBe(0);
    expect(p.seen.map((s) => s.path)).toEqual(["/read", "/read", "/read"]);
    const execution = await executionOf(toolctl, result.executionId);
    expect(execution.request).toMatchObject({ method: "GET", url: `${p.base}/read`, result: { status: 200, attempts: 3 } });
    expect(execution).not.toHaveProperty("plan");
    const [started] = await toolctl.audit({ type: "execution.started", executionId: result.executionId });
    expect(started!.data.request).toMatchObject({ method: "GET", url: `${p.base}/read` });
    expect(started!.data).not.toHaveProperty("plan");
  });

  it("honours Retry-After on a 429, and gives up at once when it asks for longer than maxDelayMs", async ({ expect }) => {
    const p = await provider();
    const toolctl = await api(tool(p, "r2", "retry: { attempts: 3, initialDelayMs: 10, maxDelayMs: 5000 }", READ));
    p.script.set("/read", [{ status: 429, headers: { "retry-after": "1" } }]);
    const waited = await toolctl.run("r2.read");
    expect(waited.exitCode).toBe(0);
    expect(p.seen).toHaveLength(2);
    expect(p.seen[1]!.at - p.seen[0]!.at).toBeGreaterThanOrEqual(950);

    p.seen = [];
    p.script.set("/read", [{ status: 429, headers: { "retry-after": "120" } }]);
    const refused = await toolctl.run("r2.read");
    expect(refused.exitCode).toBe(1);
    expect(refused.error).toMatchObject({ category: "rate_limit", exitCode: 1, message: expect.stringContaining("HTTP 429") });
    expect(p.seen).toHaveLength(1);
  });

  it("never retries an unkeyed POST: a 503 leaves it unknown (exit 5) after one request", async ({ expect }) => {
    const p = await provider();
    const toolctl = await api(tool(p, "r3", "retry: { attempts: 5, initialDelayMs: 10 }", POST));
    p.script.set("/post", [{ status: 503 }, { status: 503 }]);
    const result = await toolctl.run("r3.post", {}, { yes: true });
    expect(result.exitCode).toBe(5);
    expect(result.status).toBe("unknown");
    expect(p.seen).toHaveLength(1);
  });

  it("retries a keyed POST with the same idempotency key on every attempt", async ({ expect }) => {
    const p = await provider();
    const toolctl = await api(tool(p, "r4", "retry: { attempts: 3, initialDelayMs: 10 }", KEYED));
    p.script.set("/keyed", [{ status: 500 }]);
    const result = await toolctl.run("r4.keyed", {}, { yes: true });
    expect(result.exitCode, JSON.stringify(result.error)).toBe(0);
    expect(p.seen).toHaveLength(2);
    expect(p.seen[0]!.headers["idempotency-key"]).toBe(result.executionId);
    expect(p.seen[1]!.headers["idempotency-key"]).toBe(p.seen[0]!.headers["idempotency-key"]);
  });

  it("never retries what asking again cannot change: a redirect loop, an answer over the size cap", async ({ expect }) => {
    const p = await provider();
    const actions = [
      `  loop: { description: redirects to itself, kind: read, request: { method: GET, path: /loop } }`,
      `  huge: { description: answers over 10 MB, kind: read, request: { method: GET, path: /huge } }`,
    ].join("\n");
    const toolctl = await api(tool(p, "r9", "retry: { attempts: 3, initialDelayMs: 10 }", actions));
    const loop = await toolctl.run("r9.loop");
    expect(loop.exitCode).toBe(1);
    expect(loop.error).toMatchObject({ category: "network", message: expect.stringContaining("too many redirects") });
    // The request and its 5 redirects, once.
    expect(p.seen.map((s) => s.path)).toEqual(Array(6).fill("/loop"));
    p.seen = [];
    const huge = await toolctl.run("r9.huge");
    expect(huge.exitCode).toBe(1);
    expect(huge.error!.message).toContain("response body exceeds 10485760 bytes");
    expect(p.seen.map((s) => s.path)).toEqual(["/huge"]);
  });

  it("says in the dry run whether and how it would retry", async ({ expect }) => {
    const p = await provider();
    const toolctl = await api(tool(p, "r5", "retry: { attempts: 4 }", [READ, POST].join("\n")));
    expect((await toolctl.run("r5.read", {}, { dryRun: true })).request!.retries).toMatch(/up to 3 on network errors, 429 and 5xx/);
    expect((await toolctl.run("r5.post", {}, { dryRun: true })).request!.retries).toMatch(/none \(not idempotent and no idempotency key\)/);
    expect((await toolctl.preview("r5.read")).request!.retries).toMatch(/up to 3 on network errors, 429 and 5xx/);
    expect(p.seen).toHaveLength(0);
  });
});

describe.concurrent("the circuit breaker", () => {
  it("opens after repeated failures across connections, refuses without sending, then half-opens and closes", async ({ expect }) => {
    const p = await provider();
    const first = await api(tool(p, "cb", "retry: { attempts: 1 }, circuitBreaker: { failures: 2, halfOpenAfterSeconds: 1 }", READ));
    const [second, third] = await more(first, 2);
    p.script.set("/read", [{ status: 500 }, { status: 500 }]);
    expect((await first.run("cb.read")).exitCode).toBe(1);
    expect((await second!.run("cb.read")).exitCode).toBe(1);
    const open = await third!.run("cb.read");
    expect(open.exitCode).toBe(3);
    expect(open.status).toBe("declined");
    expect(open.error!.message).toMatch(/circuit open for tool cb: its last 2 calls failed; nothing was sent/);
    expect(p.seen).toHaveLength(2);

    await sleep(1100);
    const probe = await first.run("cb.read");
    expect(probe.exitCode, JSON.stringify(probe.error)).toBe(0);
    expect(p.seen).toHaveLength(3);
    const types = await auditTypes(first);
    expect(types).toEqual(expect.arrayContaining(["tool.circuit_opened", "tool.circuit_closed"]));
    expect(types.indexOf("tool.circuit_opened")).toBeLessThan(types.indexOf("tool.circuit_closed"));
  });
});

describe.concurrent("the circuit breaker under concurrent runs", () => {
  it("counts every one of 8 concurrent failures, then lets exactly one trial call through after the pause", async ({ expect }) => {
    const p = await provider();
    const toolctl = await api(tool(p, "cbc", "retry: { attempts: 1 }, circuitBreaker: { failures: 8, halfOpenAfterSeconds: 1 }", READ));
    // Eight instances of the API, each with its own connection to the registry, as eight processes would have.
    const eight = await more(toolctl, 8);
    // Slow failures, so that the eight runs are all in flight together.
    p.script.set(
      "/read",
      Array.from({ length: 8 }, () => ({ status: 500, delayMs: 500 })),
    );
    const failed = await Promise.all(eight.map((one) => one.run("cbc.read")));
    expect(failed.map((r) => r.exitCode)).toEqual(Array(8).fill(1));
    expect(p.seen).toHaveLength(8);

    const open = await toolctl.run("cbc.read");
    expect(open.exitCode).toBe(3);
    expect(open.error!.message).toMatch(/circuit open for tool cbc: its last 8 calls failed; nothing was sent/);
    expect(p.seen).toHaveLength(8);
    expect((await auditTypes(toolctl)).filter((t) => t === "tool.circuit_opened")).toHaveLength(1);

    // After the pause, eight runs at once: one trial call (which fails, slowly); the others are refused unsent.
    await sleep(1100);
    p.script.set("/read", [{ status: 500, delayMs: 500 }]);
    const racing = await Promise.all(eight.map((one) => one.run("cbc.read")));
    expect(p.seen).toHaveLength(9);
    expect(racing.map((r) => r.exitCode).sort()).toEqual([1, 3, 3, 3, 3, 3, 3, 3]);
    for (const refused of racing.filter((r) => r.exitCode === 3)) {
      expect(refused.error!.message).toMatch(/^circuit open for tool cbc: its last 8 calls failed; nothing was sent/);
      expect(refused.status).toBe("declined");
    }

    // The failed trial opened it again; after another pause a successful trial closes it.
    await sleep(1100);
    const probe = await toolctl.run("cbc.read");
    expect(probe.exitCode, JSON.stringify(probe.error)).toBe(0);
    expect((await toolctl.run("cbc.read")).exitCode).toBe(0);
    expect(p.seen).toHaveLength(11);
    const types = await auditTypes(toolctl);
    expect(types.filter((t) => t === "tool.circuit_opened")).toHaveLength(2);
    expect(types.lastIndexOf("tool.circuit_closed")).toBeGreaterThan(types.lastIndexOf("tool.circuit_opened"));
  });

  it("a trial whose process was killed does not hold the circuit: the next run makes the trial at once", async ({ expect }) => {
    const p = await provider();
    const toolctl = await api(tool(p, "cbk", "retry: { attempts: 1 }, timeoutSeconds: 30, circuitBreaker: { failures: 1, halfOpenAfterSeconds: 0.5 }", READ));
    p.script.set("/read", [{ status: 500 }, { status: 200, delayMs: 60_000 }]);
    expect((await toolctl.run("cbk.read")).exitCode).toBe(1);
    await sleep(600);
    // The trial is taken by another toolctl process, killed while its call is in flight.
    const child = spawn(process.execPath, [binPath, "run", "cbk.read"], { env: baseEnv({ TOOLCTL_HOME: toolctl.home }), stdio: "ignore" });
    await new Promise<void>((resolve) => (p.arrived = () => resolve()));
    await new Promise((resolve) => (child.on("close", resolve), child.kill("SIGKILL")));
    const next = await toolctl.run("cbk.read");
    expect(next.exitCode, JSON.stringify(next.error)).toBe(0);
    expect(p.seen).toHaveLength(3);
  });

  it("a trial lease expires: a stuck holder cannot keep the circuit shut for ever", async ({ expect }) => {
    const p = await provider();
    const toolctl = await api(tool(p, "cbs", "retry: { attempts: 1 }, timeoutSeconds: 0.5, circuitBreaker: { failures: 1, halfOpenAfterSeconds: 0.5 }", READ));
    p.script.set("/read", [{ status: 500 }, { status: 200, delayMs: 60_000 }]);
    expect((await toolctl.run("cbs.read")).exitCode).toBe(1);
    await sleep(600);
    const child = spawn(process.execPath, [binPath, "run", "cbs.read"], { env: baseEnv({ TOOLCTL_HOME: toolctl.home }), stdio: "ignore" });
    await new Promise<void>((resolve) => (p.arrived = () => resolve()));
    // Stopped, not dead: its lease (the call's own time budget plus a margin) is what frees the trial.
    child.kill("SIGSTOP");
    try {
      const refused = await toolctl.run("cbs.read");
      expect(refused.exitCode).toBe(3);
      expect(refused.error!.message).toMatch(/circuit open for tool cbs: .*another toolctl process is making the one trial call/);
      expect(p.seen).toHaveLength(2);
      // The lease is the call's budget (0.5 s) and a margin of 5 s: the refusal says until when.
      const until = Date.parse(/it has until (\S+)\)/.exec(refused.error!.message)![1]!);
      expect(until - Date.now()).toBeGreaterThan(4000);
      await sleep(until - Date.now() + 200);
      const next = await toolctl.run("cbs.read");
      expect(next.exitCode, JSON.stringify(next.error)).toBe(0);
      expect(p.seen).toHaveLength(3);
    } finally {
      child.kill("SIGKILL");
    }
  });
});

describe.concurrent("bookkeeping around a call never changes its outcome", () => {
  const registryOf = (h: string) => new Database(path.join(h, "registry.db"));
  /** A real failure of one table's writes: the database refuses them (as a read-only or broken store would). */
  function jam(h: string, tables: string[], verbs = ["INSERT", "UPDATE"]): void {
    const db = registryOf(h);
    try {
      for (const table of tables) {
        if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table)) continue;
        for (const verb of verbs)
          db.exec(`CREATE TRIGGER jam_${table}_${verb} BEFORE ${verb} ON ${table} BEGIN SELECT RAISE(ABORT, 'attempt to write a readonly database'); END;`);
      }
    } finally {
      db.close();
    }
  }

  // The run under the lock is another process: SQLite waits for a lock synchronously, so in this process the wait
  // would stop the holder (and the loopback server) from ever going on.
  it(
    "records a success as succeeded when a long-held lock of another connection outlasts the busy timeout after the response",
    { timeout: 90_000 },
    async ({ expect }) => {
      const p = await provider();
      const toolctl = await api(tool(p, "bkl", "retry: { attempts: 1 }, circuitBreaker: { failures: 5 }", READ));
      p.script.set("/read", [{ status: 500 }]);
      expect((await toolctl.run("bkl.read")).exitCode).toBe(1);
      // As the second request arrives, another connection takes the write lock and holds it past the 15 s busy
      // timeout: the call succeeds, and the circuit's count (one failure, to reset) must wait for the lock.
      const holder = registryOf(toolctl.home);
      let released: Promise<void> = Promise.resolve();
      p.arrived = () => {
        holder.exec("BEGIN IMMEDIATE");
        released = new Promise((resolve) => setTimeout(() => (holder.exec("COMMIT"), resolve()), 17_000));
      };
      try {
        const result = await runJson(["run", "bkl.read"], { home: toolctl.home, timeoutMs: 60_000 });
        await released;
        expect(result.code, result.stderr).toBe(0);
        expect(result.json.status).toBe("succeeded");
        expect((await executionOf(toolctl, result.json.executionId)).status).toBe("succeeded");
        // Once the lock was free, the success was counted too: the failure before it is forgotten.
        expect(holder.prepare("SELECT failures FROM circuits WHERE tool = 'bkl'").pluck().get()).toBe(0);
      } finally {
        holder.close();
      }
      expect(p.seen).toHaveLength(2);
    },
  );

  it("a circuit count that cannot be written is a warning (in the result and on stderr), never a changed outcome", async ({ expect }) => {
    const p = await provider();
    const toolctl = await api(tool(p, "bkw", "retry: { attempts: 1 }, circuitBreaker: { failures: 5 }", READ));
    p.script.set("/read", [{ status: 500 }]);
    expect((await toolctl.run("bkw.read")).exitCode).toBe(1);
    jam(toolctl.home, ["circuits", "breakers"]);
    const result = await toolctl.run("bkw.read");
    expect(result.exitCode, JSON.stringify(result.error)).toBe(0);
    expect(result.status).toBe("succeeded");
    expect(result.warnings).toEqual([
      expect.stringMatching(/^the circuit breaker of tool bkw could not count this call: .*readonly database.* \(the outcome is recorded as it was\)$/),
    ]);
    expect((await executionOf(toolctl, result.executionId)).status).toBe("succeeded");
    // The CLI prints the warning for people.
    const human = await runCli(["run", "bkw.read"], { home: toolctl.home });
    expect(human.code).toBe(0);
    expect(human.stderr).toMatch(/warning: the circuit breaker of tool bkw could not count this call/);
    expect((await toolctl.executions({ status: "succeeded" })).total).toBe(2);
  });

  it("a retry refused by the rate limit is not sent, and the answer already received stands (not 'nothing was sent')", async ({ expect }) => {
    const p = await provider();
    const toolctl = await api(tool(p, "bkr", "requestsPerMinute: 1, retry: { attempts: 3, initialDelayMs: 10 }", READ));
    p.script.set("/read", [{ status: 503 }]);
    const result = await toolctl.run("bkr.read");
    expect(p.seen).toHaveLength(1);
    expect(result.exitCode).toBe(1);
    expect(result).toMatchObject({ status: "failed", error: { category: "server_error", exitCode: 1, message: expect.stringContaining("HTTP 503") } });
    expect(result.warnings).toEqual([expect.stringMatching(/^attempt 2 was not sent: rate limit: tool bkr allows 1 requests per minute/)]);
  });

  it("a rate slot the registry cannot write stops the call before it is sent: failed, exit 6, not unknown", async ({ expect }) => {
    const p = await provider();
    const toolctl = await api(tool(p, "bks", "requestsPerMinute: 10", POST));
    jam(toolctl.home, ["rate_slots"], ["INSERT"]);
    const result = await toolctl.run("bks.post", {}, { yes: true });
    expect(p.seen).toHaveLength(0);
    expect(result.exitCode).toBe(6);
    expect(result).toMatchObject({
      status: "failed",
      error: { exitCode: 6, message: expect.stringMatching(/^POST 127\.0\.0\.1:\d+: nothing was sent: registry .*readonly database/) },
    });
  });
});

describe.concurrent("rate limits", () => {
  it("holds a per-minute limit across concurrent connections: the rest are refused without sending", async ({ expect }) => {
    const p = await provider();
    const toolctl = await api(tool(p, "rl", "requestsPerMinute: 3", READ));
    const five = await more(toolctl, 5);
    const results = await Promise.all(five.map((one) => one.run("rl.read")));
    expect(results.map((r) => r.exitCode).sort()).toEqual([0, 0, 0, 3, 3]);
    expect(p.seen).toHaveLength(3);
    const refused = results.find((r) => r.exitCode === 3)!;
    expect(refused.status).toBe("declined");
    expect(refused.error).toMatchObject({
      code: "policy_refused",
      category: "rate_limit",
      message: expect.stringMatching(/rate limit: tool rl allows 3 requests per minute/),
    });
  });

  it("takes the limit from config.yaml over the manifest", async ({ expect }) => {
    const p = await provider();
    const imported = await api(tool(p, "rc", "requestsPerMinute: 100", READ));
    writeFiles({ "config.yaml": "rateLimits:\n  rc: 1\n" }, imported.home);
    // config.yaml is read when the API is opened.
    const toolctl = await openApi({ home: imported.home });
    expect((await toolctl.run("rc.read")).exitCode).toBe(0);
    expect((await toolctl.run("rc.read")).exitCode).toBe(3);
    expect(p.seen).toHaveLength(1);
  });
});

describe.concurrent("rollback", () => {
  const actions = [
    `  create: { description: create a thing, kind: create, inputSchema: { type: object, required: [ref], properties: { ref: { type: string } } },`,
    `    request: { method: POST, path: /bad-shape, json: { ref: "{{ input.ref }}" } }, outputSchema: { type: object, required: [id] },`,
    `    rollback: { action: remove, input: { ref: "{{ input.ref }}" } } }`,
    `  remove: { description: remove it, kind: delete, inputSchema: { type: object, properties: { ref: { type: string } } }, idempotent: true,`,
    `    request: { method: DELETE, path: "/things/{{ input.ref }}" } }`,
    `  make: { description: create, kind: create, request: { method: POST, path: /make, json: {} }, rollback: { action: remove, input: { ref: "{{ output.path }}" } } }`,
    `  burn: { description: irreversible, kind: create, request: { method: POST, path: /burn, json: {} }, rollback: irreversible }`,
  ].join("\n");

  it("rolls back automatically an action that acted but whose output failed validation (exit 1, rolled_back)", async ({ expect }) => {
    const p = await provider();
    const toolctl = await api(tool(p, "rb", "", actions));
    const result = await toolctl.run("rb.create", { ref: "abc" }, { yes: true });
    expect(result.exitCode).toBe(1);
    expect(result).toMatchObject({ status: "rolled_back", rollback: { status: "succeeded" } });
    expect(result.error!.message).toMatch(/rolled back automatically \(rb\.remove/);
    expect(p.seen.map((s) => `${s.method} ${s.path}`)).toEqual(["POST /bad-shape", "DELETE /things/abc"]);
    const undo = await executionOf(toolctl, result.rollback!.executionId);
    expect(undo).toMatchObject({ action: "remove", status: "succeeded", rollbackOf: result.executionId });
    expect((await executionOf(toolctl, result.executionId)).status).toBe("rolled_back");
  });

  it("rollback(ID) runs the compensation from the output, once; irreversible and declared-none are refused", async ({ expect }) => {
    const p = await provider();
    const toolctl = await api(tool(p, "rb2", "", actions));
    const made = await toolctl.run("rb2.make", {}, { yes: true });
    expect(made.exitCode).toBe(0);
    const dry = await toolctl.rollback(made.executionId, { dryRun: true });
    expect(dry.status).toBe("dry_run");
    expect(dry.request).toMatchObject({ method: "DELETE", url: `${p.base}/things/%2Fmake` });
    const undone = await toolctl.rollback(made.executionId.slice(0, 14), { yes: true });
    expect(undone.exitCode, JSON.stringify(undone.error)).toBe(0);
    expect(undone).toMatchObject({ rollbackOf: made.executionId, action: "remove", status: "succeeded" });
    const again = await toolctl.rollback(made.executionId).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(again).toBeInstanceOf(ToolctlError);
    expect(again).toMatchObject({ exitCode: 3, message: expect.stringMatching(/already rolled back by/) });

    const burnt = await toolctl.run("rb2.burn", {}, { yes: true });
    expect(burnt.undo).toMatch(/irreversible/);
    await expect(toolctl.rollback(burnt.executionId)).rejects.toMatchObject({ exitCode: 3, message: expect.stringMatching(/rb2\.burn is irreversible/) });
    await expect(toolctl.rollback(undone.executionId)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/declares no rollback/) });
    await expect(toolctl.rollback("ex_nope")).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/no execution 'ex_nope'/) });
    expect(p.seen.map((s) => `${s.method} ${s.path}`)).toEqual(["POST /make", "DELETE /things/%2Fmake", "POST /burn"]);
  });
});

// `tool test` is a command of the CLI: its report and its exit code are made there.
describe.concurrent("toolctl tool test", () => {
  it("reports healthy with the latency, failing with the error, and refuses a tool without a test", async ({ expect }) => {
    const p = await provider();
    const h = (await api(tool(p, "tt", "retry: { attempts: 1 }", READ, "test: { action: read }"))).home;
    const healthy = await runJson(["tool", "test", "tt"], { home: h });
    expect(healthy.code).toBe(0);
    expect(healthy.json).toMatchObject({ tool: "tt", status: "healthy", latencyMs: expect.any(Number) });
    p.script.set("/read", [{ status: 401 }]);
    const failing = await runJson(["tool", "test", "tt"], { home: h });
    expect(failing.code).toBe(1);
    expect(failing.json).toMatchObject({ status: "failing", error: { code: "action_failed", exitCode: 1, message: expect.stringContaining("HTTP 401") } });
    const human = await runCli(["tool", "test", "tt"], { home: h });
    expect(human.stdout).toMatch(/^tt: healthy in \d+ ms \(tt\.read, ex_/);

    const none = (await api(tool(p, "tn", "", READ))).home;
    expect((await runJson(["tool", "test", "tn"], { home: none })).json.error.message).toMatch(/declares no test/);
  });

  it("refuses at import a test that is not a harmless read", async ({ expect }) => {
    const p = await provider();
    const toolctl = await openApi();
    const refused = await toolctl.importManifests([writeFiles({ "t.yaml": tool(p, "tb", "", POST, "test: { action: post }") })]);
    expect(refused.imported).toEqual([]);
    expect(refused.failed[0]!.problems.join("\n")).toMatch(/test\.action: 'post' is a create action; a test must be a harmless read/);
  });
});
