/**
 * `db migrate-to` and `db export` with runs in flight: a run left `running` in a SQLite home by a killed toolctl
 * process is settled as `unknown` on the team database by the next reader (its reservation kept, as SQLite does),
 * a run whose process still runs makes migrate-to refuse (exit 2, nothing copied), and a backup made by db export
 * settles the runs it holds as `running` once their process is gone. A home another toolctl process writes to during
 * the copy, or whose copy does not verify, leaves the database empty. Real homes, real killed processes of the
 * built binary, a real PostgreSQL.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { ExitCode, ToolctlError } from "../src/api/index.js";
import { copySqliteToPostgres, migrateToPostgres } from "../src/store/transfer.js";
import { baseEnv, binPath, examplesDir, rejection, repoRoot, runCli, runJson, SLOW_SHOP, tempDir, writeFiles } from "./helpers.js";
import { havePostgres, newDatabase } from "./pg.js";

const suite = havePostgres() ? describe : describe.skip;
const AUDIT_KEY = randomBytes(32).toString("base64");

type Where = { home: string; env: Record<string, string> };

/** A SQLite home of its own with the shop imported and a $10 daily limit. */
async function soloHome(): Promise<Where> {
  const home = tempDir("toolctl-solo-");
  writeFiles({ "config.yaml": "limits:\n  dailyUsd: 10\n  perActionUsd: 100\n" }, home);
  const where = { home, env: { TOOLCTL_AUDIT_KEY: AUDIT_KEY } };
  const imported = await runCli(["import", writeFiles({ "shop.yaml": SLOW_SHOP })], where);
  expect(imported.code, imported.stderr).toBe(0);
  return where;
}

/** Another machine of the team: a home of its own pointed at the database. */
function teamMachine(url: string): Where {
  const home = tempDir("toolctl-machine-");
  writeFiles({ "config.yaml": "limits:\n  dailyUsd: 10\n  perActionUsd: 100\n" }, home);
  return { home, env: { TOOLCTL_AUDIT_KEY: AUDIT_KEY, TOOLCTL_DATABASE_URL: url } };
}

function sqlite<T>(home: string, text: string, ...params: unknown[]): T[] {
  const db = new Database(path.join(home, "registry.db"));
  try {
    const statement = db.prepare(text);
    return (statement.reader ? statement.all(...params) : (statement.run(...params), [])) as T[];
  } finally {
    db.close();
  }
}

async function postgres<T = Record<string, unknown>>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Starts a slow paid run of the built binary and waits until `running` names its execution. */
async function startRun(where: Where, running: () => Promise<string | undefined>): Promise<{ child: ChildProcess; id: string }> {
  const child = spawn(process.execPath, [binPath, "run", "shop.slow_buy", "-p", "amount=6", "--yes"], {
    env: { ...baseEnv(), TOOLCTL_HOME: where.home, ...where.env },
    stdio: "ignore",
    cwd: repoRoot,
  });
  for (let waited = 0; waited < 20_000; waited += 50) {
    const id = await running();
    if (id) return { child, id };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill("SIGKILL");
  throw new Error("the run never started");
}

const runningInHome = (home: string) => async () => sqlite<{ id: string }>(home, "SELECT id FROM executions WHERE status = 'running'")[0]?.id;

async function kill(child: ChildProcess): Promise<void> {
  const closed = new Promise((resolve) => child.on("close", resolve));
  child.kill("SIGKILL");
  await closed;
}

suite("db migrate-to and db export with runs in flight", () => {
  it(
    "a run a killed process left running in the home is settled unknown on the database by the next reader, its reservation kept",
    { timeout: 120_000 },
    async () => {
      const solo = await soloHome();
      const { child, id } = await startRun(solo, runningInHome(solo.home));
      const pid = child.pid!;
      await kill(child);

      const url = await newDatabase("inflight");
      const moved = await runJson(["db", "migrate-to", url], solo);
      expect(moved.code, moved.stderr).toBe(0);

      const team = teamMachine(url);
      const list = await runJson(["executions"], team);
      expect(list.code, list.stderr).toBe(0);
      expect(list.json.items[0]).toMatchObject({ id, status: "unknown", error: { code: "unknown_outcome" } });
      expect(list.json.items[0].error.message).toContain(
        `toolctl process ${pid} never recorded the outcome here: the run was copied while running by db migrate-to`,
      );
      const budget = await runJson(["budget"], team);
      expect(budget.json).toMatchObject({ committedUsd: 0, reservedUsd: 6 });
      expect(budget.json.entries).toEqual([expect.objectContaining({ executionId: id, state: "reserved", executionStatus: "unknown" })]);
      const events = await postgres(url, "SELECT type FROM audit_events WHERE execution_id = $1 AND type = 'execution.unknown'", [id]);
      expect(events).toHaveLength(1);
      expect((await runJson(["audit", "verify"], team)).json).toMatchObject({ ok: true });
    },
  );

  it(
    "a run whose process still runs makes migrate-to refuse (exit 2, nothing copied), naming it; once it ends the copy goes ahead",
    { timeout: 120_000 },
    async () => {
      const solo = await soloHome();
      const { child, id } = await startRun(solo, runningInHome(solo.home));
      const url = await newDatabase("inflight");
      try {
        const refused = await runJson(["db", "migrate-to", url], solo);
        expect(refused.code, refused.stderr).toBe(ExitCode.usage);
        expect(refused.json.error.message).toMatch(
          new RegExp(`^execution ${id} \\(shop\\.slow_buy\\) is still running \\(process ${child.pid}\\).*wait for it, or stop it`),
        );
        const [tables] = await postgres<{ n: number }>(url, "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'executions'");
        if (tables!.n > 0) expect(await postgres(url, "SELECT id FROM executions")).toEqual([]);
      } finally {
        await kill(child);
      }
      const moved = await runJson(["db", "migrate-to", url], solo);
      expect(moved.code, moved.stderr).toBe(0);
    },
  );

  it("a plan run whose process still runs makes migrate-to refuse too", { timeout: 60_000 }, async () => {
    const solo = await soloHome();
    const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    try {
      const start = readFileSync(`/proc/${sleeper.pid}/stat`, "utf8").split(") ")[1]!.split(" ")[19]!;
      const now = new Date().toISOString();
      sqlite(
        solo.home,
        "INSERT INTO plan_runs (id, plan_id, name, status, plan, actor, pid, pid_start, created_at, updated_at) VALUES ('pr_live', 'plan_1', 'p', 'running', '{}', 'me', ?, ?, ?, ?)",
        sleeper.pid,
        start,
        now,
        now,
      );
      const url = await newDatabase("inflight");
      const refused = await runJson(["db", "migrate-to", url], solo);
      expect(refused.code, refused.stderr).toBe(ExitCode.usage);
      expect(refused.json.error.message).toMatch(new RegExp(`^plan run pr_live is still running \\(process ${sleeper.pid}\\).*wait for it, or stop it`));
    } finally {
      await kill(sleeper);
    }
  });

  it(
    "a run recorded in the home while migrate-to copies it (between the executions and the audit log): refused, nothing copied; then copied whole",
    { timeout: 120_000 },
    async () => {
      const solo = await soloHome();
      expect((await runCli(["import", examplesDir], solo)).code).toBe(0);
      for (const message of ["one", "two"]) expect((await runCli(["run", "echo.say", "-p", `message=${message}`], solo)).code).toBe(0);
      const url = await newDatabase("inflight");
      const env = { ...baseEnv(), TOOLCTL_HOME: solo.home, ...solo.env };
      // The copy's own hook, after it has copied the executions and before it reads the audit log: another toolctl
      // process (the built binary) records a whole run in the home then.
      let during: string | undefined;
      const error = await rejection(
        migrateToPostgres(solo.home, env, url, (table) => {
          if (table !== "executions" || during) return;
          const ran = spawnSync(process.execPath, [binPath, "run", "echo.say", "-p", "message=during", "--json"], { env, cwd: repoRoot, encoding: "utf8" });
          expect(ran.status, ran.stderr).toBe(0);
          during = JSON.parse(ran.stdout).executionId as string;
        }),
      );
      expect(during).toBeDefined();
      expect(error.exitCode).toBe(ExitCode.usage);
      expect(error.message).toMatch(/^another toolctl process wrote to .*registry\.db during the copy: nothing was copied; run it again/);
      for (const table of ["tools", "executions", "audit_events", "audit_checkpoint", "settings"]) {
        const rows = await postgres(url, `SELECT * FROM ${table}${table === "settings" ? " WHERE key = 'audit_key_id'" : ""}`);
        expect(rows, table).toEqual([]);
      }

      // The home quiet again: the copy goes ahead, the run made during the first attempt included, and verifies.
      const moved = await runJson(["db", "migrate-to", url], solo);
      expect(moved.code, moved.stderr).toBe(0);
      expect(moved.json).toMatchObject({ rows: { executions: 3 }, verification: { ok: true, executions: 3 } });
      expect(await postgres(url, "SELECT id FROM executions WHERE id = $1", [during])).toHaveLength(1);
    },
  );

  it(
    "toolctl processes running in the home all through migrate-to: it refuses with nothing copied, or copies what verifies; never a committed copy that does not",
    { timeout: 180_000 },
    async () => {
      const solo = await soloHome();
      expect((await runCli(["import", examplesDir], solo)).code).toBe(0);
      const env = { ...baseEnv(), TOOLCTL_HOME: solo.home, ...solo.env };
      // Enough rows for the copy to take a while: echo runs recorded through the registry's own code, in one process.
      const seed = spawnSync(
        process.execPath,
        [
          "-e",
          `const { openToolctl } = require(${JSON.stringify(path.join(repoRoot, "dist", "api", "index.js"))});
           (async () => {
             const t = await openToolctl({ home: process.env.TOOLCTL_HOME, env: process.env, cwd: process.cwd() });
             for (let i = 0; i < 1500; i++) await t.run("echo.say", { message: "seed " + i });
             await t.close();
           })().catch((error) => { console.error(error); process.exit(1); });`,
        ],
        { env, cwd: repoRoot, encoding: "utf8", timeout: 120_000 },
      );
      expect(seed.status, seed.stderr).toBe(0);
      const url = await newDatabase("inflight");
      // Two writers running echo runs in a loop through the built binary until told to stop.
      const writers = [0, 1].map(() =>
        spawn("sh", ["-c", `while [ ! -e stop ]; do "${process.execPath}" "${binPath}" run echo.say -p message=loop >/dev/null 2>&1; done`], {
          env,
          cwd: solo.home,
          stdio: "ignore",
        }),
      );
      let moved: Awaited<ReturnType<typeof runJson>>;
      try {
        await new Promise((resolve) => setTimeout(resolve, 500));
        moved = await runJson(["db", "migrate-to", url], { ...solo, timeoutMs: 120_000 });
      } finally {
        writeFiles({ stop: "" }, solo.home);
        await Promise.all(writers.map((writer) => new Promise((resolve) => (writer.exitCode !== null ? resolve(null) : writer.on("close", resolve)))));
      }
      if (moved.code === 0) {
        expect(moved.json.verification).toMatchObject({ ok: true });
        expect((await runJson(["audit", "verify"], teamMachine(url))).json).toMatchObject({ ok: true });
      } else {
        expect(moved.code, moved.stderr).toBe(ExitCode.usage);
        expect(moved.json.error.message).toMatch(/during the copy: nothing was copied|is still running/);
        // Nothing copied: refused before the schema was made (a run still running), or with its tables empty.
        for (const table of ["audit_events", "executions"]) {
          const [{ present }] = await postgres<{ present: boolean }>(url, "SELECT to_regclass($1) IS NOT NULL AS present", [table]);
          if (present) expect(await postgres(url, `SELECT count(*)::int AS n FROM ${table}`), table).toEqual([{ n: 0 }]);
        }
      }
    },
  );

  it("a copy that does not verify is rolled back: an execution the audit log names deleted from the home; the database stays empty", async () => {
    const solo = await soloHome();
    expect((await runCli(["import", examplesDir], solo)).code).toBe(0);
    const ran = await runJson(["run", "echo.say", "-p", "message=gone"], solo);
    expect(ran.code, ran.stderr).toBe(0);
    sqlite(solo.home, "DELETE FROM executions WHERE id = ?", ran.json.executionId);
    const url = await newDatabase("inflight");
    // The copy alone, without migrate-to's check of the home first: the copy's own check refuses it.
    const error = await rejection(copySqliteToPostgres(solo.home, { ...baseEnv(), TOOLCTL_HOME: solo.home, ...solo.env }, url));
    expect(error).toBeInstanceOf(ToolctlError);
    expect(error.exitCode).toBe(ExitCode.environment);
    expect(error.message).toMatch(
      new RegExp(`^the copy does not verify at .*: execution ${ran.json.executionId} is named in the audit log .*; nothing was copied`),
    );
    expect(await postgres(url, "SELECT count(*)::int AS n FROM audit_events")).toEqual([{ n: 0 }]);
    expect(await postgres(url, "SELECT count(*)::int AS n FROM tools")).toEqual([{ n: 0 }]);
  });

  it("db export: a run the database holds as running is settled unknown in the backup once its process is gone", { timeout: 120_000 }, async () => {
    const url = await newDatabase("inflight");
    const team = teamMachine(url);
    expect((await runCli(["import", writeFiles({ "shop.yaml": SLOW_SHOP })], team)).code).toBe(0);
    const { child, id } = await startRun(team, async () => (await postgres<{ id: string }>(url, "SELECT id FROM executions WHERE status = 'running'"))[0]?.id);
    await kill(child);
    const backup = path.join(tempDir("toolctl-backup-"), "home");
    const exported = await runJson(["db", "export", backup], team);
    expect(exported.code, exported.stderr).toBe(0);
    const restored = await runJson(["executions"], { home: backup, env: { TOOLCTL_AUDIT_KEY: AUDIT_KEY } });
    expect(restored.json.items[0]).toMatchObject({ id, status: "unknown" });
    expect((await runJson(["audit", "verify"], { home: backup, env: { TOOLCTL_AUDIT_KEY: AUDIT_KEY } })).json).toMatchObject({ ok: true });
  });
});
