/**
 * Team mode end to end: several "machines" (toolctl homes of their own, each with its own keys and secrets)
 * sharing one PostgreSQL database through the built binary and the public API. The daily limit holds across them
 * with processes killed mid-run, every approval is used once, the audit log stays one chain that verifies from
 * each machine, the database going away fails runs cleanly, and a registry moves between the backends.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { ExitCode } from "../src/api/index.js";
import { baseEnv, examplesDir, openApi, repoRoot, runCli, runJson, tempDir, writeFiles } from "./helpers.js";
import { havePostgres, newDatabase, postgresUrl } from "./pg.js";

const enabled = havePostgres();
const suite = enabled ? describe : describe.skip;

/** The team's audit key: every machine signs the one chain with it. */
const AUDIT_KEY = randomBytes(32).toString("base64");
const PASSWORD = enabled ? decodeURIComponent(new URL(postgresUrl).password) : "";

const SHOP = `apiVersion: toolctl/v1
name: shop
description: Pretend purchases that cost what the input says
runtime: echo
actions:
  buy:
    description: Spend the amount given
    kind: create
    cost: { fromInput: amount }
    inputSchema:
      type: object
      required: [amount, ref]
      additionalProperties: false
      properties: { amount: { type: number }, ref: { type: string } }
`;

/** A machine of the team: its own home, with these limits, pointed at the team database. */
function machine(url: string, dailyUsd = 500, extra: Record<string, string | undefined> = {}) {
  const home = tempDir("toolctl-machine-");
  writeFiles({ "config.yaml": `limits:\n  dailyUsd: ${dailyUsd}\n  perActionUsd: 100\n` }, home);
  const env = { TOOLCTL_DATABASE_URL: url, TOOLCTL_AUDIT_KEY: AUDIT_KEY, ...extra };
  return { home, env };
}

async function sql<R = Record<string, unknown>>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as R[];
  } finally {
    await client.end();
  }
}

const shopDir = () => writeFiles({ "shop.yaml": SHOP });

/** The audit head files a machine's home holds, one per team database it wrote to or verified. */
const headFiles = (home: string) => readdirSync(home).filter((name) => /^audit-[0-9a-f]{12}\.head$/.test(name));

suite("team mode: the CLI on a shared PostgreSQL database", () => {
  it("a tool imported on one machine runs on another; both see the run, doctor names the backend, and the password is never printed", async () => {
    const url = await newDatabase("team");
    const a = machine(url);
    const b = machine(url);
    const imported = await runCli(["import", shopDir()], a);
    expect(imported.code, imported.stderr).toBe(0);
    const listed = await runJson(["list"], b);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.stringify(listed.json)).toContain('"shop"');
    const ran = await runJson(["run", "shop.buy", "-p", "amount=2", "-p", "ref=first", "--yes"], b);
    expect(ran.code, ran.stderr).toBe(0);
    const history = await runJson(["executions"], a);
    expect(JSON.stringify(history.json)).toContain(ran.json.executionId);
    const budget = await runJson(["budget"], a);
    expect(budget.json).toMatchObject({ committedUsd: 2 });

    const doctor = await runJson(["doctor"], a);
    const backend = doctor.json.checks.find((check: { name: string }) => check.name === "backend");
    expect(backend).toMatchObject({ level: "ok", details: { backend: "postgres", schema: { version: 2, latest: 2 }, tls: false } });
    expect(backend.message).toMatch(/^PostgreSQL \d+/);
    const registry = doctor.json.checks.find((check: { name: string }) => check.name === "registry");
    expect(registry.message).toContain(`postgres://postgres@127.0.0.1:${new URL(url).port}`);
    for (const output of [imported, listed, ran, history, doctor]) expect(output.stdout + output.stderr).not.toContain(`:${PASSWORD}@`);

    for (const m of [a, b]) expect((await runJson(["audit", "verify"], m)).json).toMatchObject({ ok: true });
  });

  it("a failure whose message holds a NUL byte (a program's stderr) is recorded as failed, the byte written as \\0", async () => {
    const url = await newDatabase();
    const { home, env } = machine(url);
    const toolctl = await openApi({ home, env });
    const tool = `apiVersion: toolctl/v1
name: nul
description: Fails with a NUL byte on stderr
runtime: process
actions:
  fail:
    description: Fail
    kind: read
    command: [/bin/sh, -c, 'printf "bad\\000tail\\n" >&2; exit 4']
    stdin: none
`;
    expect((await toolctl.importManifests([writeFiles({ "nul.yaml": tool })])).failed).toEqual([]);
    const result = await toolctl.run("nul.fail", {});
    expect(result).toMatchObject({ status: "failed", exitCode: 1 });
    expect(result.error?.message).toContain("bad\\0tail");
    expect(await toolctl.execution(result.executionId)).toMatchObject({ status: "failed", error: { message: result.error?.message } });
  });

  it("--database wins over TOOLCTL_DATABASE_URL, and a home without a database keeps its own registry", async () => {
    const url = await newDatabase("team");
    const a = machine(url);
    expect((await runCli(["import", shopDir()], a)).code).toBe(0);
    const solo = tempDir("toolctl-solo-");
    const flagged = await runJson(["--database", url, "list"], { home: solo, env: { TOOLCTL_AUDIT_KEY: AUDIT_KEY } });
    expect(JSON.stringify(flagged.json)).toContain('"shop"');
    const own = await runJson(["list"], { home: solo });
    expect(JSON.stringify(own.json)).not.toContain('"shop"');
    expect(existsSync(path.join(solo, "registry.db"))).toBe(true);
  });

  it("a machine's home that is not there yet is made on first use (mode 0700), and holds its audit key and its copy of the head", async () => {
    const url = await newDatabase("team");
    const home = path.join(tempDir("toolctl-parent-"), "home");
    const imported = await runCli(["import", shopDir()], { home, env: { TOOLCTL_DATABASE_URL: url } });
    expect(imported, imported.stderr).toMatchObject({ code: 0, stderr: "" });
    expect(statSync(home).mode & 0o777).toBe(0o700);
    expect(readdirSync(home)).toContain("audit.key");
    expect(headFiles(home)).toHaveLength(1);
    expect((await runJson(["audit", "verify"], { home, env: { TOOLCTL_DATABASE_URL: url } })).json).toMatchObject({ ok: true });

    // With the audit key in the environment no key file is written, and the head is still exported to the home.
    const keyed = machine(await newDatabase("team"));
    const other = path.join(tempDir("toolctl-parent-"), "home");
    const second = await runCli(["import", shopDir()], { home: other, env: keyed.env });
    expect(second, second.stderr).toMatchObject({ code: 0, stderr: "" });
    expect(headFiles(other)).toHaveLength(1);

    // A home that cannot be one is refused before the database is touched, as with a home's own registry.
    const file = path.join(tempDir("toolctl-parent-"), "file");
    writeFileSync(file, "");
    const refused = await runJson(["list"], { home: file, env: keyed.env });
    expect(refused.code).toBe(ExitCode.environment);
    expect(refused.json.error.message).toBe(`cannot use home ${file}: it is a file, not a directory; set TOOLCTL_HOME or --home to a directory`);
  });

  it("doctor only looks at the audit key: on a new database it makes none and claims none; a machine without one is told the team's", async () => {
    // A new database's empty log is then not taken for one whose events were deleted.
    const firstUrl = await newDatabase("team");
    const first = path.join(tempDir("toolctl-parent-"), "home");
    const doctor = await runJson(["doctor"], { home: first, env: { TOOLCTL_DATABASE_URL: firstUrl } });
    const failed = doctor.json.checks.filter((check: { level: string }) => check.level === "fail");
    expect(failed, JSON.stringify(failed)).toEqual([]);
    expect(readdirSync(first)).not.toContain("audit.key");
    expect(await sql(firstUrl, "SELECT value FROM settings WHERE key = 'audit_key_id'")).toEqual([]);
    // As the set-up steps have it: the team's key in TOOLCTL_AUDIT_KEY, then doctor, on a new database.
    const keyed = machine(await newDatabase("team"));
    const setUp = await runJson(["doctor"], { home: path.join(tempDir("toolctl-parent-"), "home"), env: keyed.env });
    const setUpFailed = setUp.json.checks.filter((check: { level: string }) => check.level === "fail");
    expect(setUpFailed, JSON.stringify(setUpFailed)).toEqual([]);
    // A machine with no key yet, on a database whose team has one, is told which key to set before it writes.
    const url = await newDatabase("team");
    expect((await runCli(["import", shopDir()], { home: tempDir("toolctl-machine-"), env: { TOOLCTL_DATABASE_URL: url } })).code).toBe(0);
    const stranger = path.join(tempDir("toolctl-parent-"), "home");
    const told = await runJson(["doctor"], { home: stranger, env: { TOOLCTL_DATABASE_URL: url } });
    const backend = told.json.checks.find((check: { name: string }) => check.name === "backend");
    expect(backend.level).toBe("fail");
    expect(backend.message).toMatch(/this machine has no audit key yet, and the team's is 'a[0-9a-z]+' .*: set TOOLCTL_AUDIT_KEY to the team's audit key/);
    expect(readdirSync(stranger)).not.toContain("audit.key");
  });

  it("a machine joining a team verifies the log before it has written: its missing head is a note, and is exported then", async () => {
    const url = await newDatabase("team");
    expect((await runCli(["import", shopDir()], machine(url))).code).toBe(0);
    const joining = machine(url);
    const first = await runJson(["audit", "verify"], joining);
    expect(first.code, first.stdout).toBe(0);
    expect(first.json).toMatchObject({ ok: true, problems: [] });
    expect(first.json.notes).toEqual([expect.stringMatching(/^this machine had no exported head for this database \(audit-[0-9a-f]{12}\.head\)/)]);
    expect(headFiles(joining.home)).toHaveLength(1);
    const again = await runJson(["audit", "verify"], joining);
    expect(again.json).toMatchObject({ ok: true, problems: [], notes: [] });
    // Once another machine has written, this one's head is behind: for the reason a team has, not a crash's.
    expect((await runJson(["run", "shop.buy", "-p", "amount=1", "-p", "ref=other", "--yes"], machine(url))).code).toBe(0);
    const behind = await runJson(["audit", "verify"], joining);
    expect(behind.json).toMatchObject({ ok: true, problems: [] });
    expect(behind.json.notes).toEqual([expect.stringMatching(/^the exported head was behind by \d+ events \(other machines wrote since this one last did/)]);
  });

  it("a machine holding another audit key is refused before it writes (exit 6), naming the fix", async () => {
    const url = await newDatabase("team");
    const a = machine(url);
    expect((await runCli(["import", shopDir()], a)).code).toBe(0);
    const stranger = machine(url, 500, { TOOLCTL_AUDIT_KEY: randomBytes(32).toString("base64") });
    const refused = await runJson(["run", "shop.buy", "-p", "amount=1", "-p", "ref=x", "--yes"], stranger);
    expect(refused.code).toBe(ExitCode.environment);
    expect(refused.json.error.message).toMatch(/is not the team's .* set TOOLCTL_AUDIT_KEY/);
    const rows = await sql<{ n: number }>(url, "SELECT count(*)::int AS n FROM executions");
    expect(rows[0]!.n).toBe(0);
  });

  it("an execution deleted from the database is reported by audit verify, by the event that names it", async () => {
    const url = await newDatabase("team");
    const a = machine(url);
    expect((await runCli(["import", shopDir()], a)).code).toBe(0);
    const ran = await runJson(["run", "shop.buy", "-p", "amount=1", "-p", "ref=x", "--yes"], a);
    expect(ran.code).toBe(0);
    await sql(url, "DELETE FROM executions WHERE id = $1", [ran.json.executionId]);
    const verified = await runJson(["audit", "verify"], a);
    expect(verified.code).toBe(1);
    expect(verified.json.problems).toEqual([
      expect.stringMatching(
        new RegExp(`^execution ${ran.json.executionId} is named in the audit log \\(event \\d+\\) but is not in the executions table: it was deleted$`),
      ),
    ]);
  });

  it("a log cut off at its end takes no new event from any machine: the cut cannot be hidden by writing past it", async () => {
    const url = await newDatabase("team");
    const a = machine(url);
    expect((await runCli(["import", shopDir()], a)).code).toBe(0);
    expect((await runCli(["run", "shop.buy", "-p", "amount=1", "-p", "ref=x", "--yes"], a)).code).toBe(0);
    await sql(url, "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update");
    await sql(url, "DELETE FROM audit_events WHERE seq > 1");
    await sql(url, "ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update");
    // A second machine, with no head of its own yet: the signed checkpoint alone tells.
    const b = machine(url);
    const refused = await runJson(["run", "shop.buy", "-p", "amount=1", "-p", "ref=y", "--yes", "--dry-run"], b);
    expect(refused.code).toBe(ExitCode.environment);
    expect(refused.json.error.message).toMatch(/cannot append to the audit log of .*: events 2-\d+ were cut off the end of the log .*nothing was written/);
    expect((await sql<{ n: number }>(url, "SELECT count(*)::int AS n FROM audit_events"))[0]!.n).toBe(1);
    const verified = await runJson(["audit", "verify"], a);
    expect(verified.code).toBe(1);
  });

  it("an unreachable database is exit 6 with its location and without its password; a bad URL is a usage error naming its source", async () => {
    const home = tempDir("toolctl-machine-");
    const unreachable = "postgres://team:hunter2-secret@127.0.0.1:1/toolctl";
    const down = await runJson(["list"], { home, env: { TOOLCTL_DATABASE_URL: unreachable } });
    expect(down.code).toBe(ExitCode.environment);
    expect(down.json.error.message).toContain("postgres://team@127.0.0.1:1/toolctl");
    expect(down.stdout + down.stderr).not.toContain("hunter2-secret");

    const flag = await runJson(["--database", "mysql://root:pw@db/x", "list"], { home });
    expect(flag.code).toBe(ExitCode.usage);
    expect(flag.json.error.message).toMatch(/^--database: expected a postgres:\/\/ or postgresql:\/\/ URL/);
    expect(flag.stdout).not.toContain(":pw@");

    const fromEnv = await runJson(["list"], { home, env: { TOOLCTL_DATABASE_URL: "not a url" } });
    expect(fromEnv.code).toBe(ExitCode.usage);
    expect(fromEnv.json.error.message).toMatch(/^TOOLCTL_DATABASE_URL: expected a postgres/);
    expect(existsSync(path.join(home, "registry.db"))).toBe(false);

    // The URL without its password, as the docs advise, and none in PGPASSWORD or ~/.pgpass: said so, exit 6.
    const bare = new URL(await newDatabase("team"));
    bare.password = "";
    const nopass = await runJson(["list"], { home, env: { TOOLCTL_DATABASE_URL: bare.href, PGPASSWORD: undefined, HOME: home } });
    expect(nopass.code).toBe(ExitCode.environment);
    expect(nopass.json.error.message).toMatch(/asks for a password and none was given: set PGPASSWORD, add it to ~\/\.pgpass, or put it in the URL$/);
  });

  it("a password in ~/.pgpass is used without a warning from the driver, and PGPASSFILE is honoured", async () => {
    const home = tempDir("toolctl-machine-");
    const url = new URL(await newDatabase("team"));
    const password = decodeURIComponent(url.password);
    url.password = "";
    const line = `${url.hostname}:${url.port}:${url.pathname.slice(1)}:${decodeURIComponent(url.username)}:${password.replace(/\\/g, "\\\\").replace(/:/g, "\\:")}\n`;
    writeFileSync(path.join(home, ".pgpass"), line, { mode: 0o600 });
    const listed = await runCli(["list"], { home, env: { TOOLCTL_DATABASE_URL: url.href, PGPASSWORD: undefined, HOME: home } });
    expect(listed.code).toBe(0);
    expect(listed.stderr).toBe("");
    const elsewhere = path.join(tempDir("toolctl-pgpass-"), "passfile");
    writeFileSync(elsewhere, line, { mode: 0o600 });
    const viaEnv = await runCli(["list"], {
      home: tempDir("toolctl-machine-"),
      env: { TOOLCTL_DATABASE_URL: url.href, PGPASSWORD: undefined, PGPASSFILE: elsewhere },
    });
    expect(viaEnv.code).toBe(0);
    expect(viaEnv.stderr).toBe("");
  });

  it("doctor names each privilege a narrower role lacks, and accepts an append-only audit log", async () => {
    const url = await newDatabase("team");
    expect((await runCli(["list"], machine(url))).code).toBe(0);
    const role = `machine_${randomBytes(4).toString("hex")}`;
    await sql(url, `CREATE ROLE ${role} LOGIN PASSWORD 'narrow-secret'`);
    await sql(url, `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
    await sql(url, `REVOKE UPDATE, DELETE ON audit_events FROM ${role}`);
    const narrow = new URL(url);
    narrow.username = role;
    narrow.password = "narrow-secret";
    const fine = await runJson(["doctor"], machine(narrow.toString()));
    expect(fine.json.checks.find((check: { name: string }) => check.name === "backend")).toMatchObject({ level: "ok" });

    await sql(url, `REVOKE DELETE ON approvals FROM ${role}`);
    const lacking = await runJson(["doctor"], machine(narrow.toString()));
    expect(lacking.code).toBe(ExitCode.environment);
    const backend = lacking.json.checks.find((check: { name: string }) => check.name === "backend");
    expect(backend.level).toBe("fail");
    expect(backend.message).toContain(`role ${role} lacks DELETE on table approvals`);
    expect(backend.message).not.toContain("audit_events");
    expect(lacking.stdout + lacking.stderr).not.toContain("narrow-secret");
  });

  it("a database with a newer schema is refused with exit 6", async () => {
    const url = await newDatabase("team");
    const a = machine(url);
    expect((await runCli(["list"], a)).code).toBe(0);
    await sql(url, "UPDATE toolctl_schema SET version = 99");
    const refused = await runJson(["list"], a);
    expect(refused.code).toBe(ExitCode.environment);
    expect(refused.json.error.message).toMatch(/schema version 99 is newer than this toolctl understands .* upgrade toolctl/);
  });

  it("machines starting at once on a new database migrate it once", async () => {
    const url = await newDatabase("team");
    const results = await Promise.all(Array.from({ length: 6 }, () => runJson(["list"], machine(url))));
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    expect(await sql(url, "SELECT version FROM toolctl_schema")).toEqual([{ version: 2 }]);
  });
});

interface WorkerLine {
  ready?: boolean;
  ref?: string;
  id?: string;
  status?: string;
  exit?: number;
  code?: string;
  thrown?: string;
}

/** Runs one worker process of a machine; with `killAfter`, SIGKILLs it once it has reported that many runs. */
function worker(m: { home: string; env: Record<string, string | undefined> }, runs: number, tag: string, killAfter?: number): Promise<WorkerLine[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, "test", "fixtures", "team-worker.mjs"), m.home, String(runs), "1", tag], {
      env: baseEnv({ TOOLCTL_HOME: m.home, ...m.env }),
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const lines: WorkerLine[] = [];
    let buffer = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = JSON.parse(buffer.slice(0, newline)) as WorkerLine;
        buffer = buffer.slice(newline + 1);
        if (!line.ready) lines.push(line);
        if (killAfter !== undefined && lines.length >= killAfter) child.kill("SIGKILL");
      }
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (signal !== "SIGKILL" && code !== 0) reject(new Error(`worker ${tag} exited ${code}: ${stderr}`));
      else resolve(lines);
    });
  });
}

suite("team mode: three machines racing paid runs", () => {
  it(
    "16 lanes × 200 paid runs over 3 machines, 10 % of the processes SIGKILLed: 0 overspend, no lost audit record, audit verify passes from each",
    { timeout: 600_000 },
    async () => {
      const url = await newDatabase("race");
      const DAILY = 2500;
      const machines = [machine(url, DAILY), machine(url, DAILY), machine(url, DAILY)];
      expect((await runCli(["import", shopDir()], machines[0]!)).code).toBe(0);
      const LANES = 16;
      const PER_LANE = 200;
      const BATCH = 40;
      const lanes = Array.from({ length: LANES }, async (_, lane) => {
        const m = machines[lane % machines.length]!;
        const seen: WorkerLine[] = [];
        for (let batch = 0; batch < PER_LANE / BATCH; batch++) {
          const n = lane * (PER_LANE / BATCH) + batch;
          // One process in ten is killed at a point that differs between them.
          const killAfter = n % 10 === 3 ? 1 + ((n * 7) % (BATCH - 2)) : undefined;
          seen.push(...(await worker(m, BATCH, `l${lane}b${batch}`, killAfter)));
        }
        return seen;
      });
      const lines = (await Promise.all(lanes)).flat();
      expect(lines.filter((line) => line.thrown)).toEqual([]);
      const reported = lines.filter((line) => line.id);
      // Over the limit is refused (exit 3); everything else that returned succeeded.
      for (const line of reported) expect([0, 3]).toContain(line.exit);
      expect(reported.filter((line) => line.exit === 3).every((line) => line.code === "over_daily_limit" || line.code === "policy_refused")).toBe(true);

      // Each machine's first reader settles the runs its killed processes left behind.
      for (const m of machines) expect((await runCli(["executions", "--limit", "1"], m)).code).toBe(0);
      const statuses = await sql<{ status: string; n: number }>(url, "SELECT status, count(*)::int AS n FROM executions GROUP BY status ORDER BY status");
      const count = (status: string) => statuses.find((row) => row.status === status)?.n ?? 0;
      expect(count("running") + count("requested")).toBe(0);
      const [ledger] = await sql<{ committed: number; reserved: number }>(
        url,
        "SELECT coalesce(sum(amount_usd) FILTER (WHERE state = 'committed'), 0)::float AS committed, coalesce(sum(amount_usd) FILTER (WHERE state = 'reserved'), 0)::float AS reserved FROM ledger",
      );
      // Never over the limit, and every dollar accounted for: spent, or held by a run whose outcome is unknown.
      expect(ledger!.committed + ledger!.reserved).toBeLessThanOrEqual(DAILY);
      expect(ledger!.committed + ledger!.reserved).toBe(DAILY);
      expect(ledger!.committed).toBe(count("succeeded"));
      expect(ledger!.reserved).toBe(count("unknown"));

      // Every run a process reported is on record as it reported it.
      const rows = await sql<{ id: string; status: string }>(url, "SELECT id, status FROM executions");
      const byId = new Map(rows.map((row) => [row.id, row.status]));
      for (const line of reported) expect(byId.get(line.id!)).toBe(line.status);
      // No lost audit record: each run's intent, and each settled run's outcome, are in the chain.
      const missing = await sql<{ id: string }>(
        url,
        `SELECT e.id FROM executions e WHERE e.status <> 'declined' AND (
           NOT EXISTS (SELECT 1 FROM audit_events a WHERE a.execution_id = e.id AND a.type = 'execution.started')
           OR NOT EXISTS (SELECT 1 FROM audit_events a WHERE a.execution_id = e.id AND a.type = 'execution.' || e.status))`,
      );
      expect(missing).toEqual([]);
      for (const m of machines) {
        const verify = await runJson(["audit", "verify"], m);
        expect(verify.json, JSON.stringify(verify.json.problems)).toMatchObject({ ok: true });
      }
    },
  );

  it("an approval filed on one machine and decided on a second is used once, whichever machine races for it", async () => {
    const url = await newDatabase("approvals");
    const machines = [machine(url), machine(url), machine(url)];
    const apis = await Promise.all(machines.map((m) => openApi({ home: m.home, env: m.env })));
    expect((await apis[0]!.importManifests([examplesDir])).failed).toEqual([]);
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const filed = await apis[0]!.run("piggybank.pay", { amount: 5, to: `friend-${i}` }, { wait: true, waitSeconds: 0 });
      expect(filed.error?.code).toBe("approval_pending");
      ids.push(filed.approval!.requestId!);
    }
    for (const id of ids) await apis[1]!.approve(id);
    for (const [i, id] of ids.entries()) {
      const results = await Promise.all(apis.map((api) => api.run("piggybank.pay", { amount: 5, to: `friend-${i}` }, { approvalId: id })));
      expect(results.filter((result) => result.status === "succeeded")).toHaveLength(1);
      for (const result of results.filter((r) => r.status !== "succeeded")) expect(result.error?.message).toMatch(/is used|already used/);
    }
    expect((await apis[2]!.executions({ status: "succeeded" })).total).toBe(ids.length);
    for (const api of apis) expect((await api.verifyAudit()).ok).toBe(true);
  });
});

suite("team mode: the database goes away", () => {
  // A cluster of this file's own: stopping it must not disturb the other test files' databases.
  let cluster: { url: string; dir: string; stop(o?: { remove?: boolean }): void; restart(): void } | undefined;
  afterAll(() => cluster?.stop({ remove: true }));

  it(
    "before a run nothing runs (exit 6); restarted mid-run the outcome is recorded; gone mid-run the run is unknown and settled so",
    { timeout: 180_000 },
    async () => {
      // @ts-expect-error: a plain ES module script, shared with `npm run pg`.
      const { startCluster } = (await import("../scripts/postgres.mjs")) as typeof import("../scripts/postgres.mjs");
      cluster = await startCluster(undefined, { durable: true });
      const marks = tempDir("toolctl-marks-");
      const slow = `apiVersion: toolctl/v1
name: slow
description: Leaves a mark, then takes its time
runtime: process
process:
  writable: [${marks}]
actions:
  work:
    description: Mark the file named, wait 4 s, answer
    kind: create
    inputSchema: { type: object, required: [mark], properties: { mark: { type: string } } }
    command: [node, -e, "require('fs').writeFileSync(process.argv[1], 'ran'); setTimeout(() => process.stdout.write('{}'), 4000)", "{{ input.mark }}"]
    timeoutSeconds: 60
`;
      const m = machine(cluster.url);
      expect((await runCli(["import", writeFiles({ "slow.yaml": slow })], m)).code).toBe(0);
      const mark = (name: string) => path.join(marks, name);
      const start = (name: string) => runJson(["run", "slow.work", "-p", `mark=${mark(name)}`, "--yes"], { ...m, timeoutMs: 60_000 });
      const whenMarked = async (name: string) => {
        for (let i = 0; i < 400 && !existsSync(mark(name)); i++) await new Promise((resolve) => setTimeout(resolve, 25));
        expect(existsSync(mark(name))).toBe(true);
      };

      // Restarted while the action runs: the outcome is written once the server is back.
      const restarted = start("restarted");
      await whenMarked("restarted");
      cluster.restart();
      const survived = await restarted;
      expect(survived.code, survived.stderr).toBe(0);
      expect(survived.json.status).toBe("succeeded");

      // Gone while the action runs: it did happen, so it is unknown (exit 5), never "nothing ran".
      const stranded = start("stranded");
      await whenMarked("stranded");
      cluster.stop();
      const lost = await stranded;
      expect(lost.code).toBe(ExitCode.unknownOutcome);
      expect(lost.json.error.message).toMatch(/ran, but its outcome could not be recorded/);

      // Gone before the run: exit 6 and the action never starts.
      const refused = await start("never");
      expect(refused.code).toBe(ExitCode.environment);
      expect(existsSync(mark("never"))).toBe(false);

      // Back again (on a new port): the stranded run is settled as unknown by this machine, and nothing is lost.
      rmSync(path.join(cluster.dir, "data", "postmaster.pid"), { force: true });
      cluster = await startCluster(cluster.dir, { durable: true });
      const back = { ...m, env: { ...m.env, TOOLCTL_DATABASE_URL: cluster.url } };
      const history = await runJson(["executions"], back);
      expect(history.code, history.stdout + history.stderr).toBe(0);
      const byId = new Map(history.json.items.map((e: { id: string; status: string }) => [e.id, e.status]));
      expect(byId.get(survived.json.executionId)).toBe("succeeded");
      expect(byId.get(lost.json.executionId)).toBe("unknown");
      expect((await runJson(["audit", "verify"], back)).json).toMatchObject({ ok: true });
    },
  );
});

suite("team mode: moving a registry between backends", () => {
  it("db migrate-to copies a home into an empty database and verifies it there; db export copies it back and verifies", { timeout: 120_000 }, async () => {
    const env = { TOOLCTL_AUDIT_KEY: AUDIT_KEY };
    const home = tempDir("toolctl-solo-");
    expect((await runCli(["import", examplesDir, shopDir()], { home, env })).code).toBe(0);
    for (const ref of ["a", "b", "c"]) expect((await runCli(["run", "shop.buy", "-p", "amount=3", "-p", `ref=${ref}`, "--yes"], { home, env })).code).toBe(0);
    expect((await runCli(["run", "echo.say", "-p", "message=hi"], { home, env })).code).toBe(0);
    const before = await runJson(["executions"], { home, env });

    const url = await newDatabase("moved");
    const moved = await runJson(["db", "migrate-to", url], { home, env });
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.json).toMatchObject({ verification: { ok: true, executions: 4 }, rows: { executions: 4, tools: 6 } });
    expect(moved.stdout + moved.stderr).not.toContain(`:${PASSWORD}@`);

    const team = { home: tempDir("toolctl-machine-"), env: { ...env, TOOLCTL_DATABASE_URL: url } };
    const after = await runJson(["executions"], team);
    expect(after.json.items.map((e: { id: string }) => e.id)).toEqual(before.json.items.map((e: { id: string }) => e.id));
    expect((await runJson(["budget"], team)).json).toMatchObject({ committedUsd: 9 });
    expect((await runJson(["run", "shop.buy", "-p", "amount=1", "-p", "ref=d", "--yes"], team)).code).toBe(0);
    expect((await runJson(["audit", "verify"], team)).json).toMatchObject({ ok: true });

    const again = await runJson(["db", "migrate-to", url], { home, env });
    expect(again.code).toBe(ExitCode.usage);
    expect(again.json.error.message).toMatch(/is not empty .* copies into an empty database only/);

    const backup = path.join(tempDir("toolctl-backup-"), "home");
    const exported = await runJson(["db", "export", backup], team);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.json).toMatchObject({ verification: { ok: true, executions: 5 } });
    const restored = await runJson(["executions", "--limit", "10"], { home: backup, env });
    expect(restored.json.page.total).toBe(5);
    expect((await runJson(["audit", "verify"], { home: backup, env })).json).toMatchObject({ ok: true });

    const occupied = await runJson(["db", "export", backup], team);
    expect(occupied.code).toBe(ExitCode.usage);
    expect(occupied.json.error.message).toMatch(/registry\.db already exists/);
  });

  it(
    "db export that fails part way (a table its role may not read) exits 6 naming the database, leaves nothing behind, and can be run again into DIR",
    { timeout: 120_000 },
    async () => {
      const url = await newDatabase("export");
      const team = machine(url);
      expect((await runCli(["import", shopDir()], team)).code).toBe(0);
      expect((await runCli(["run", "shop.buy", "-p", "amount=1", "-p", "ref=kept", "--yes"], team)).code).toBe(0);
      // A role that may read every table but plan_steps.
      const role = `reader_${randomBytes(4).toString("hex")}`;
      const secret = `pw${randomBytes(8).toString("hex")}`;
      await sql(url, `CREATE ROLE ${role} LOGIN PASSWORD '${secret}'`);
      await sql(url, `GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`);
      await sql(url, `REVOKE SELECT ON plan_steps FROM ${role}`);
      const limited = new URL(url);
      limited.username = role;
      limited.password = secret;
      const reader = { ...team, env: { ...team.env, TOOLCTL_DATABASE_URL: limited.toString() } };

      const parent = tempDir("toolctl-backup-");
      const fresh = path.join(parent, "new", "home");
      const made = path.join(parent, "made");
      mkdirSync(made);
      for (const dir of [fresh, made]) {
        const failed = await runJson(["db", "export", dir], reader);
        expect(failed.code, failed.stderr).toBe(ExitCode.environment);
        expect(failed.json.error.message).toMatch(
          new RegExp(`^database postgres://${role}@[^ ]+: permission denied \\(permission denied for table plan_steps\\)`),
        );
        expect(failed.json.error.message).toContain(`nothing was written to ${dir}`);
        expect(failed.stdout + failed.stderr).not.toContain(secret);
        expect(failed.stderr).not.toMatch(/^\s+at /m);
      }
      // A directory the export made is gone; one that was there is left as it was, empty.
      expect(existsSync(path.join(parent, "new"))).toBe(false);
      expect(readdirSync(made)).toEqual([]);

      await sql(url, `GRANT SELECT ON plan_steps TO ${role}`);
      for (const dir of [fresh, made]) {
        const exported = await runJson(["db", "export", dir], reader);
        expect(exported.code, exported.stderr).toBe(0);
        expect(exported.json).toMatchObject({ rows: { executions: 1 }, verification: { ok: true, executions: 1 } });
        expect((await runJson(["audit", "verify"], { home: dir, env: { TOOLCTL_AUDIT_KEY: AUDIT_KEY } })).json).toMatchObject({
          ok: true,
          events: expect.any(Number),
        });
        expect(readdirSync(dir).sort()).toEqual(["audit.head", "registry.db"]);
      }
    },
  );

  it("db export into a path that is a file, or under one, is a usage error naming DIR (exit 2)", async () => {
    const url = await newDatabase("export");
    const team = machine(url);
    const file = path.join(writeFiles({ afile: "not a directory\n" }), "afile");
    for (const dir of [file, path.join(file, "sub")]) {
      const refused = await runJson(["db", "export", dir], team);
      expect(refused.code, refused.stderr).toBe(ExitCode.usage);
      expect(refused.json.error.message).toMatch(/^db export: /);
      expect(refused.json.error.message).toContain(dir);
      expect(refused.json.error.message).toContain(`${file} is a file, not a directory`);
      expect(refused.json.error.message).not.toContain("\n");
      expect(refused.stderr).not.toMatch(/^\s+at /m);
    }
  });

  it("bad input: a URL that is not postgres, or an export with no database named, is a usage error", async () => {
    const home = tempDir("toolctl-solo-");
    const notPostgres = await runJson(["db", "migrate-to", "sqlite:///tmp/x.db"], { home });
    expect(notPostgres.code).toBe(ExitCode.usage);
    expect(notPostgres.json.error.message).toMatch(/^db migrate-to: expected a postgres:\/\/ or postgresql:\/\/ URL/);
    const noDatabase = await runJson(["db", "export", path.join(home, "out")], { home });
    expect(noDatabase.code).toBe(ExitCode.usage);
    expect(noDatabase.json.error.message).toMatch(/no team database is named/);
    expect(existsSync(path.join(home, "out"))).toBe(false);
  });
});
