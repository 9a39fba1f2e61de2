/**
 * A toolctl process killed while its action runs leaves its execution `running`. Every reader (executions,
 * executions show, stats, budget, plan-runs) settles such a run as `unknown`, with the reason, once, in an
 * audited write; its spend reservation stays reserved, since the money may have been spent. The process is
 * known by its pid and its start time, so a recycled pid does not keep a dead run alive.
 * The killed run is a process of the built binary; the readers are the library API's, in-process, except where
 * processes read at once and where the CLI's view of a settled run is checked.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import type { Toolctl } from "../src/api/index.js";
import { baseEnv, binPath, openApi, repoRoot, runCli, runJson, SLOW_SHOP, tempDir, writeFiles } from "./helpers.js";

/** A home with the shop imported and a $10 daily limit, opened in-process. */
async function shopHome(): Promise<Toolctl> {
  const home = tempDir("toolctl-abandoned-");
  writeFiles({ "config.yaml": "limits:\n  dailyUsd: 10\n  perActionUsd: 100\n" }, home);
  const toolctl = await openApi({ home });
  expect((await toolctl.importManifests([writeFiles({ "shop.yaml": SLOW_SHOP })])).failed).toEqual([]);
  return toolctl;
}

/** The day's spend as `toolctl budget` shows it, with what is left under the daily limit. */
async function budgetOf(toolctl: Toolctl) {
  const { spend, entries, limits } = await toolctl.budget();
  return { ...spend, headroomUsd: Math.max(0, limits.dailyUsd - spend.committedUsd - spend.reservedUsd), entries };
}

const STATS = { period: "day", by: "tool" } as const;

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
    env: { ...baseEnv(), TOOLCTL_HOME: home },
    stdio: "ignore",
    cwd: repoRoot,
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
  const readers: Array<[string, (toolctl: Toolctl, id: string) => Promise<unknown>]> = [
    ["executions", (toolctl) => toolctl.executions()],
    ["execution", (toolctl, id) => toolctl.execution(id)],
    ["stats", (toolctl) => toolctl.stats(STATS)],
    ["budget", (toolctl) => toolctl.budget()],
    ["planRuns", (toolctl) => toolctl.planRuns()],
  ];
  for (const [name, read] of readers) {
    it(`${name} settles a killed run as unknown, with the reason, and keeps its reservation`, { timeout: 60_000 }, async () => {
      const toolctl = await shopHome();
      const { home } = toolctl;
      const { child, id } = await startRun(home);
      const pid = child.pid!;
      await kill(child);
      await read(toolctl, id);
      const [row] = query<{ status: string; error: string }>(home, "SELECT status, error FROM executions WHERE id = ?", id);
      expect(row).toEqual({
        status: "unknown",
        error: `toolctl process ${pid} is gone: it was killed or crashed while the action ran; the action may have happened: check before retrying`,
      });
      expect(settledEvents(home, id)).toHaveLength(1);
      const budget = await budgetOf(toolctl);
      expect(budget).toMatchObject({ committedUsd: 0, reservedUsd: 6, headroomUsd: 4 });
      expect(budget.entries).toEqual([expect.objectContaining({ executionId: id, state: "reserved", executionStatus: "unknown" })]);
      expect(settledEvents(home, id)).toHaveLength(1);
      expect((await toolctl.verifyAudit()).ok).toBe(true);
    });
  }

  it("shows what the readers report: unknown in executions and stats, with the reason in show", { timeout: 60_000 }, async () => {
    const toolctl = await shopHome();
    const { home } = toolctl;
    const { child, id } = await startRun(home);
    await kill(child);
    const list = await toolctl.executions();
    expect(list.items[0]).toMatchObject({
      id,
      status: "unknown",
      error: {
        code: "unknown_outcome",
        exitCode: 5,
        category: "other",
        message: expect.stringMatching(/^toolctl process \d+ is gone: it was killed or crashed while the action ran/),
      },
    });
    const stats = await toolctl.stats(STATS);
    expect(stats.totals).toMatchObject({ count: 1, unknown: 1, spendUsd: 6 });
    const shown = await runCli(["executions", "show", id], { home });
    expect(shown.stdout).toMatch(/shop\.slow_buy {2}unknown/);
    expect(shown.stdout).toMatch(/error: toolctl process \d+ is gone/);
  });

  it("leaves a run alone while its process lives", { timeout: 60_000 }, async () => {
    const toolctl = await shopHome();
    const { home } = toolctl;
    const { child, id } = await startRun(home);
    try {
      expect(await toolctl.execution(id)).toMatchObject({ status: "running" });
      expect((await toolctl.budget()).entries[0]).toMatchObject({ executionStatus: "running" });
      expect((await toolctl.executions()).items[0]).toMatchObject({ id, status: "running" });
      expect(settledEvents(home, id)).toHaveLength(0);
    } finally {
      await kill(child);
    }
  });

  it("concurrent readers settle it once: one audit event, an intact chain", { timeout: 60_000 }, async () => {
    // Readers in processes of their own, racing to settle.
    const { home } = await shopHome();
    const { child, id } = await startRun(home);
    await kill(child);
    const reads = await Promise.all(
      [["executions"], ["stats"], ["budget"], ["plan-runs", "list"], ["executions", "show", id], ["executions"]].map((args) => runJson(args, { home })),
    );
    for (const read of reads) {
      expect(read.code, read.stderr).toBe(0);
      expect(read.stderr).not.toMatch(/locked|busy/i);
    }
    expect(settledEvents(home, id)).toHaveLength(1);
    expect((await runJson(["audit", "verify"], { home })).json.ok).toBe(true);
  });

  it("a recycled pid does not keep a dead run alive: the process start time must match too", { timeout: 60_000 }, async () => {
    const toolctl = await shopHome();
    const { child, id } = await startRun(toolctl.home);
    await kill(child);
    // Another, live process now holds a pid the dead run could have had; its start time differs.
    const other = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      const db = new Database(path.join(toolctl.home, "registry.db"));
      db.prepare("UPDATE executions SET pid = ? WHERE id = ?").run(other.pid, id);
      db.close();
      const shown = await toolctl.execution(id);
      expect(shown).toMatchObject({
        status: "unknown",
        error: expect.objectContaining({ message: expect.stringContaining(`toolctl process ${other.pid} is gone`) }),
      });
    } finally {
      other.kill("SIGKILL");
    }
  });
});
