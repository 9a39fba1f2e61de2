/**
 * `db migrate-to` and `db export` with runs in flight: a run left `running` in a SQLite home by a killed toolctl
 * process is settled as `unknown` on the team database by the next reader (its reservation kept, as SQLite does),
 * a run whose process still runs makes migrate-to refuse (exit 2, nothing copied), and a backup made by db export
 * settles the runs it holds as `running` once their process is gone. Real homes, real killed processes of the
 * built binary, a real PostgreSQL.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { ExitCode } from "../src/api/index.js";
import { baseEnv, binPath, repoRoot, runCli, runJson, SLOW_SHOP, tempDir, writeFiles } from "./helpers.js";
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
