/**
 * Spending limits under concurrency: many processes racing reservations against one small daily limit, and a
 * process killed in the middle of a run. The ledger must never overspend and never show "database is locked".
 */
import { spawn } from "node:child_process";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { baseEnv, binPath, repoRoot, runCli, runJson, tempDir, writeFiles } from "./helpers.js";

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

async function shopHome(dailyUsd: number): Promise<string> {
  const home = tempDir("toolctl-ledger-");
  writeFiles({ "config.yaml": `limits:\n  dailyUsd: ${dailyUsd}\n  perActionUsd: 100\n` }, home);
  expect((await runCli(["import", writeFiles({ "shop.yaml": manifest })], { home })).code).toBe(0);
  return home;
}

function committed(home: string): { committed: number; reserved: number; rows: number } {
  const db = new Database(path.join(home, "registry.db"), { readonly: true });
  try {
    return db.prepare(`SELECT coalesce(sum(CASE WHEN state = 'committed' THEN amount_usd END), 0) AS committed,
      coalesce(sum(CASE WHEN state = 'reserved' THEN amount_usd END), 0) AS reserved, count(*) AS rows FROM ledger`).get() as never;
  } finally {
    db.close();
  }
}

describe("spend ledger", () => {
  it("8 processes racing against a $20 daily limit never overspend, and none sees a locked database", { timeout: 120_000 }, async () => {
    const home = await shopHome(20);
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
    const home = await shopHome(10);
    const child = spawn(process.execPath, [binPath, "run", "shop.slow_buy", "-p", "amount=6", "--yes"], {
      env: { ...baseEnv(), TOOLCTL_HOME: home }, stdio: "ignore", cwd: repoRoot,
    });
    for (let i = 0; i < 200 && committed(home).rows === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    child.kill("SIGKILL");
    await new Promise((resolve) => child.on("close", resolve));
    expect(committed(home)).toMatchObject({ reserved: 6, committed: 0 });
    // The money may have been spent: another $6 would pass $10 and is refused; $4 still fits.
    const refused = await runJson(["run", "shop.buy", "-p", "amount=6", "--yes"], { home });
    expect(refused.code).toBe(3);
    expect((await runJson(["run", "shop.buy", "-p", "amount=4", "--yes"], { home })).code).toBe(0);
    const budget = await runJson(["budget"], { home });
    expect(budget.json).toMatchObject({ committedUsd: 4, reservedUsd: 6, headroomUsd: 0 });
    // Its run was settled as unknown by the first reader (budget): the reservation stays.
    const abandoned = budget.json.entries.find((e: { amountUsd: number }) => e.amountUsd === 6);
    expect(abandoned).toMatchObject({ state: "reserved", executionStatus: "unknown" });
    expect((await runJson(["audit", "verify"], { home })).json.ok).toBe(true);
  });

  it("releases the reservation of a failed run and keeps an unknown one", async () => {
    const home = await shopHome(100);
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
    await runCli(["import", dir], { home });
    expect((await runJson(["run", "flaky.fail", "--yes"], { home })).code).toBe(1);
    expect((await runJson(["run", "flaky.die", "--yes"], { home })).code).toBe(5);
    const budget = await runJson(["budget"], { home });
    expect(budget.json).toMatchObject({ committedUsd: 0, reservedUsd: 7 });
  });

  it("refuses an action over the per-action limit before asking anyone, even with --yes", async () => {
    const home = await shopHome(1000);
    const result = await runJson(["run", "shop.buy", "-p", "amount=150", "--yes"], { home });
    expect(result.code).toBe(3);
    expect(result.json.error.message).toMatch(/over the per-action limit of \$100\.00/);
    const dry = await runJson(["run", "shop.buy", "-p", "amount=150", "--dry-run"], { home });
    expect(dry.code).toBe(0);
    expect(dry.json.warnings.join()).toMatch(/a real run would be refused/);
  });

  it("counts every process against the same (UTC) day, whatever its time zone", async () => {
    const home = await shopHome(10);
    expect((await runJson(["run", "shop.buy", "-p", "amount=8", "--yes"], { home, env: { TZ: "UTC" } })).code).toBe(0);
    for (const TZ of ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Tokyo"]) {
      const refused = await runJson(["run", "shop.buy", "-p", "amount=8", "--yes"], { home, env: { TZ } });
      expect(refused.code, TZ).toBe(3);
    }
  });
});
