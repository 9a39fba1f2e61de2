/**
 * A toolctl process killed while its action runs leaves its execution `running`. Every reader (executions,
 * executions show, stats, budget, plan-runs) settles such a run as `unknown`, with the reason, once, in an
 * audited write; its spend reservation stays reserved, since the money may have been spent. The process is
 * known by its pid and its start time, so a recycled pid does not keep a dead run alive.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { baseEnv, binPath, repoRoot, runCli, runJson, tempDir, writeFiles } from "./helpers.js";

const manifest = `apiVersion: toolctl/v1
name: shop
description: Spends slowly
runtime: process
actions:
  slow_buy:
    description: Spend, slowly
    kind: create
    cost: { fromInput: amount }
    inputSchema: { type: object, required: [amount], properties: { amount: { type: number } } }
    command: [node, -e, "const parent = process.ppid; setInterval(() => process.ppid !== parent && process.exit(1), 100); setTimeout(() => process.stdout.write('{}'), 30000)"]
    timeoutSeconds: 60
`;

async function shopHome(): Promise<string> {
  const home = tempDir("toolctl-abandoned-");
  writeFiles({ "config.yaml": "limits:\n  dailyUsd: 10\n  perActionUsd: 100\n" }, home);
  expect((await runCli(["import", writeFiles({ "shop.yaml": manifest })], { home })).code).toBe(0);
  return home;
}

function query<T>(home: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(path.join(home, "registry.db"), { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

/** Starts a slow paid run and waits until its execution is on record as running. */
async function startRun(home: string): Promise<{ child: ChildProcess; id: string }> {
  const child = spawn(process.execPath, [binPath, "run", "shop.slow_buy", "-p", "amount=6", "--yes"], {
    env: { ...baseEnv(), TOOLCTL_HOME: home }, stdio: "ignore", cwd: repoRoot,
  });
  for (let waited = 0; waited < 20_000; waited += 50) {
    const [row] = query<{ id: string }>(home, "SELECT id FROM executions WHERE status = 'running'");
    if (row) return { child, id: row.id };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill("SIGKILL");
  throw new Error("the run never started");
}

async function kill(child: ChildProcess): Promise<void> {
  const closed = new Promise((resolve) => child.on("close", resolve));
  child.kill("SIGKILL");
  await closed;
}

const settledEvents = (home: string, id: string) =>
  query<{ type: string; data: string }>(home, "SELECT type, data FROM audit_events WHERE execution_id = ? AND type = 'execution.unknown'", id);

describe("runs whose toolctl process is gone", () => {
  const readers: Array<[string, (id: string) => string[]]> = [
    ["executions", () => ["executions"]],
    ["executions show", (id) => ["executions", "show", id]],
    ["stats", () => ["stats"]],
    ["budget", () => ["budget"]],
    ["plan-runs list", () => ["plan-runs", "list"]],
  ];
  for (const [name, args] of readers) {
    it(`${name} settles a killed run as unknown, with the reason, and keeps its reservation`, { timeout: 60_000 }, async () => {
      const home = await shopHome();
      const { child, id } = await startRun(home);
      const pid = child.pid!;
      await kill(child);
      const read = await runJson(args(id), { home });
      expect(read.code, read.stderr).toBe(0);
      const [row] = query<{ status: string; error: string }>(home, "SELECT status, error FROM executions WHERE id = ?", id);
      expect(row).toEqual({ status: "unknown", error: `toolctl process ${pid} is gone: it was killed or crashed while the action ran; the action may have happened: check before retrying` });
      expect(settledEvents(home, id)).toHaveLength(1);
      const budget = await runJson(["budget"], { home });
      expect(budget.json).toMatchObject({ committedUsd: 0, reservedUsd: 6, headroomUsd: 4 });
      expect(budget.json.entries).toEqual([expect.objectContaining({ executionId: id, state: "reserved", executionStatus: "unknown" })]);
      expect((await runJson(["audit", "verify"], { home })).json.ok).toBe(true);
    });
  }

  it("shows what the readers report: unknown in executions and stats, with the reason in show", { timeout: 60_000 }, async () => {
    const home = await shopHome();
    const { child, id } = await startRun(home);
    await kill(child);
    const list = await runJson(["executions"], { home });
    expect(list.json.items[0]).toMatchObject({ id, status: "unknown", error: expect.stringMatching(/^toolctl process \d+ is gone: it was killed or crashed while the action ran/) });
    const stats = await runJson(["stats"], { home });
    expect(stats.json.totals).toMatchObject({ count: 1, unknown: 1, spendUsd: 6 });
    const shown = await runCli(["executions", "show", id], { home });
    expect(shown.stdout).toMatch(/shop\.slow_buy {2}unknown/);
    expect(shown.stdout).toMatch(/error: toolctl process \d+ is gone/);
  });

  it("leaves a run alone while its process lives", { timeout: 60_000 }, async () => {
    const home = await shopHome();
    const { child, id } = await startRun(home);
    try {
      expect((await runJson(["executions", "show", id], { home })).json.status).toBe("running");
      expect((await runJson(["budget"], { home })).json.entries[0]).toMatchObject({ executionStatus: "running" });
      expect(settledEvents(home, id)).toHaveLength(0);
    } finally {
      await kill(child);
    }
  });

  it("concurrent readers settle it once: one audit event, an intact chain", { timeout: 60_000 }, async () => {
    const home = await shopHome();
    const { child, id } = await startRun(home);
    await kill(child);
    const reads = await Promise.all([["executions"], ["stats"], ["budget"], ["plan-runs", "list"], ["executions", "show", id], ["executions"]].map((args) => runJson(args, { home })));
    for (const read of reads) {
      expect(read.code, read.stderr).toBe(0);
      expect(read.stderr).not.toMatch(/locked|busy/i);
    }
    expect(settledEvents(home, id)).toHaveLength(1);
    expect((await runJson(["audit", "verify"], { home })).json.ok).toBe(true);
  });

  it("a recycled pid does not keep a dead run alive: the process start time must match too", { timeout: 60_000 }, async () => {
    const home = await shopHome();
    const { child, id } = await startRun(home);
    await kill(child);
    // Another, live process now holds a pid the dead run could have had; its start time differs.
    const other = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      const db = new Database(path.join(home, "registry.db"));
      db.prepare("UPDATE executions SET pid = ? WHERE id = ?").run(other.pid, id);
      db.close();
      const shown = await runJson(["executions", "show", id], { home });
      expect(shown.json).toMatchObject({ status: "unknown", error: expect.stringContaining(`toolctl process ${other.pid} is gone`) });
    } finally {
      other.kill("SIGKILL");
    }
  });
});
