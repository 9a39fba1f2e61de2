/**
 * Spending limits under concurrency: many processes racing reservations against one small daily limit, and a
 * process killed in the middle of a run. The ledger must never overspend and never show "database is locked".
 * The racing and the killed run are processes of the built binary; everything else runs in-process.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import type { Toolctl } from "../src/api/index.js";
import { baseEnv, binPath, openApi, repoRoot, runJson, tempDir, writeFiles } from "./helpers.js";

const manifest = `apiVersion: toolctl/v1
name: shop
description: Buys things (echo and a slow process)
runtime: process
actions:
  buy:
    description: Spend the amount given
    kind: create
    cost: { fromInput: amount }
    inputSchema: { type: object, required: [amount], properties: { amount: { type: number } } }
    command: [node, -e, "process.stdout.write('{}')"]
  slow_buy:
    description: Spend, slowly
    kind: create
    cost: { fromInput: amount }
    inputSchema: { type: object, required: [amount], properties: { amount: { type: number } } }
    command: [node, -e, "setTimeout(() => process.stdout.write('{}'), 20000)"]
    timeoutSeconds: 60
`;

/** A home with the shop imported and these limits, opened in-process. */
async function shopHome(dailyUsd: number): Promise<Toolctl> {
  const home = tempDir("toolctl-ledger-");
  writeFiles({ "config.yaml": `limits:\n  dailyUsd: ${dailyUsd}\n  perActionUsd: 100\n` }, home);
  const toolctl = await openApi({ home });
  expect((await toolctl.importManifests([writeFiles({ "shop.yaml": manifest })])).failed).toEqual([]);
  return toolctl;
}

/** The day's spend as `toolctl budget` shows it, with what is left under the daily limit. */
async function budgetOf(toolctl: Toolctl) {
  const { spend, entries, limits } = await toolctl.budget();
  return { ...spend, dailyLimitUsd: limits.dailyUsd, headroomUsd: Math.max(0, limits.dailyUsd - spend.committedUsd - spend.reservedUsd), entries };
}

function committed(home: string): { committed: number; reserved: number; rows: number } {
  const db = new Database(path.join(home, "registry.db"), { readonly: true });
  try {
    return db
      .prepare(
        `SELECT coalesce(sum(CASE WHEN state = 'committed' THEN amount_usd END), 0) AS committed,
      coalesce(sum(CASE WHEN state = 'reserved' THEN amount_usd END), 0) AS reserved, count(*) AS rows FROM ledger`,
      )
      .get() as never;
  } finally {
    db.close();
  }
}

describe("spend ledger", () => {
  it("8 processes racing against a $20 daily limit never overspend, and none sees a locked database", { timeout: 120_000 }, async () => {
    const { home } = await shopHome(20);
    const attempts = 8 * 4;
    // $3 each: at most six fit under $20, the rest must be refused with exit 3.
    const results = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const mine = [];
        for (let i = 0; i < 4; i++) mine.push(await runJson(["run", "shop.buy", "-p", "amount=3", "--yes"], { home }));
        return mine;
      }),
    ).then((all) => all.flat());
    expect(results).toHaveLength(attempts);
    for (const r of results) {
      expect(r.stderr).not.toMatch(/locked|busy/i);
      expect([0, 3]).toContain(r.code);
    }
    const succeeded = results.filter((r) => r.code === 0).length;
    expect(succeeded).toBe(6);
    for (const r of results.filter((r) => r.code === 3)) expect(r.json.error.message).toMatch(/over the daily limit of \$20\.00/);
    const ledger = committed(home);
    expect(ledger.committed).toBe(18);
    expect(ledger.reserved).toBe(0);
    const budget = await runJson(["budget"], { home });
    expect(budget.json).toMatchObject({ committedUsd: 18, reservedUsd: 0, headroomUsd: 2, dailyLimitUsd: 20 });
  });

  it("a process killed mid-run keeps its reservation counted: the budget stays consistent", { timeout: 60_000 }, async () => {
    const toolctl = await shopHome(10);
    const { home } = toolctl;
    const child = spawn(process.execPath, [binPath, "run", "shop.slow_buy", "-p", "amount=6", "--yes"], {
      env: { ...baseEnv(), TOOLCTL_HOME: home },
      stdio: "ignore",
      cwd: repoRoot,
    });
    for (let i = 0; i < 200 && committed(home).rows === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    child.kill("SIGKILL");
    await new Promise((resolve) => child.on("close", resolve));
    expect(committed(home)).toMatchObject({ reserved: 6, committed: 0 });
    // The money may have been spent: another $6 would pass $10 and is refused; $4 still fits.
    const refused = await toolctl.run("shop.buy", { amount: 6 }, { yes: true });
    expect(refused.exitCode).toBe(3);
    expect((await toolctl.run("shop.buy", { amount: 4 }, { yes: true })).exitCode).toBe(0);
    const budget = await budgetOf(toolctl);
    expect(budget).toMatchObject({ committedUsd: 4, reservedUsd: 6, headroomUsd: 0 });
    // Its run was settled as unknown by the first reader (budget): the reservation stays.
    const abandoned = budget.entries.find((e) => e.amountUsd === 6);
    expect(abandoned).toMatchObject({ state: "reserved", executionStatus: "unknown" });
    expect((await toolctl.verifyAudit()).ok).toBe(true);
  });

  it("releases the reservation of a failed run and keeps an unknown one", async () => {
    const toolctl = await shopHome(100);
    const dir = writeFiles({
      "flaky.yaml": `apiVersion: toolctl/v1
name: flaky
description: Fails or dies
runtime: process
actions:
  fail:
    description: Exits 1
    kind: create
    cost: { fixed: 5 }
    command: [node, -e, "process.exit(1)"]
  die:
    description: Killed by a signal
    kind: create
    cost: { fixed: 7 }
    command: [node, -e, "process.kill(process.pid, 'SIGKILL')"]
`,
    });
    expect((await toolctl.importManifests([dir])).failed).toEqual([]);
    expect((await toolctl.run("flaky.fail", {}, { yes: true })).exitCode).toBe(1);
    expect((await toolctl.run("flaky.die", {}, { yes: true })).exitCode).toBe(5);
    expect(await budgetOf(toolctl)).toMatchObject({ committedUsd: 0, reservedUsd: 7 });
  });

  it("refuses an action over the per-action limit before asking anyone, even with --yes", async () => {
    const toolctl = await shopHome(1000);
    const result = await toolctl.run("shop.buy", { amount: 150 }, { yes: true });
    expect(result.exitCode).toBe(3);
    expect(result.error?.message).toMatch(/over the per-action limit of \$100\.00/);
    const dry = await toolctl.run("shop.buy", { amount: 150 }, { dryRun: true });
    expect(dry.exitCode).toBe(0);
    expect(dry.status).toBe("dry_run");
    expect(dry.warnings.join()).toMatch(/a real run would be refused/);
  });

  it("counts every run against the same (UTC) day, whatever the process's time zone", async () => {
    const toolctl = await shopHome(10);
    const zone = process.env.TZ;
    try {
      process.env.TZ = "UTC";
      expect((await toolctl.run("shop.buy", { amount: 8 }, { yes: true })).exitCode).toBe(0);
      // Between them, UTC+14 and UTC-11 are on another calendar day than UTC at every hour.
      for (const TZ of ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Tokyo"]) {
        process.env.TZ = TZ;
        const refused = await toolctl.run("shop.buy", { amount: 8 }, { yes: true });
        expect(refused.exitCode, TZ).toBe(3);
      }
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });
});
