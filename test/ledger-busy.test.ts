/**
 * Spend reservations on a full day, from several processes at once: four processes reserving in tight loops
 * through the registry's own code, on a day that already holds 100,000 ledger rows. A reservation must cost the
 * same whatever the day holds, so none waits out the busy timeout ("database is locked"), none overspends, and
 * the per-day totals always equal the sums of the rows.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import Database from "better-sqlite3";
import { beforeAll, describe, expect, it } from "vitest";
import { openRegistry } from "../src/store/sqlite/db.js";
import { spendDay } from "../src/store/sqlite/ledger.js";
import { bundleScript } from "./bundle.js";
import { repoRoot, tempDir } from "./helpers.js";

let worker: string;
beforeAll(async () => {
  worker = await bundleScript(path.join(repoRoot, "test", "fixtures", "ledger-worker.ts"));
});

function runWorker(args: string[]): Promise<{ name: string; reserved: number; committed: number; refused: number; errors: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [worker, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(`worker exited ${code}: ${stderr}`))));
  });
}

/** A home whose day already holds `rows` settled reservations (released: they take no budget, only room). */
function fullDay(rows: number): string {
  const home = tempDir("toolctl-ledger-day-");
  openRegistry(home).close();
  const db = new Database(path.join(home, "registry.db"));
  const insert = db.prepare(
    "INSERT INTO ledger (execution_id, tool, action, amount_usd, state, day, created_at, updated_at) VALUES (?, 'shop', 'buy', 1.25, 'released', ?, ?, ?)",
  );
  const now = new Date().toISOString();
  const day = spendDay();
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run(`ex_seed_${i}`, day, now, now);
  })();
  db.close();
  return home;
}

describe("spend reservations on a full day", () => {
  it("4 processes × 300 reservations after 100,000 rows: no locked database, no overspend, totals equal to the rows", { timeout: 120_000 }, async () => {
    const home = fullDay(100_000);
    const limit = 500;
    const results = await Promise.all(["a", "b", "c", "d"].map((name) => runWorker([home, "300", "1", String(limit), name])));
    for (const result of results) expect(result.errors, result.name).toEqual([]);
    const committed = results.reduce((sum, r) => sum + r.committed, 0);
    expect(committed).toBeLessThanOrEqual(limit);

    const db = new Database(path.join(home, "registry.db"), { readonly: true });
    try {
      const rows = db
        .prepare(
          `SELECT coalesce(sum(CASE WHEN state = 'committed' THEN amount_usd END), 0) AS committed,
        coalesce(sum(CASE WHEN state = 'reserved' THEN amount_usd END), 0) AS reserved, count(*) AS count FROM ledger WHERE day = ?`,
        )
        .get(spendDay()) as { committed: number; reserved: number; count: number };
      expect(rows).toEqual({ committed, reserved: 0, count: 100_000 + results.reduce((sum, r) => sum + r.reserved, 0) });
      const budget = (await import("../src/store/sqlite/ledger.js")).daySpend({ db } as never, spendDay());
      expect(budget).toEqual({ day: spendDay(), committedUsd: committed, reservedUsd: 0 });
    } finally {
      db.close();
    }
  });

  it("keeps the day totals equal to the rows through inserts, settlements, moves between days, edits and deletes", () => {
    const home = tempDir("toolctl-ledger-totals-");
    const registry = openRegistry(home);
    const { db } = registry;
    try {
      const insert = db.prepare(
        "INSERT INTO ledger (execution_id, tool, action, amount_usd, state, day, created_at, updated_at) VALUES (?, 't', 'a', ?, ?, ?, 'x', 'x')",
      );
      insert.run("e1", 0.1, "reserved", "2026-11-21");
      insert.run("e2", 0.2, "reserved", "2026-11-21");
      insert.run("e3", 0.0079, "committed", "2026-11-21");
      insert.run("e4", 3, "released", "2026-11-22");
      db.prepare("UPDATE ledger SET state = 'committed' WHERE execution_id = 'e1'").run();
      db.prepare("UPDATE ledger SET day = '2026-11-22', amount_usd = 0.3 WHERE execution_id = 'e2'").run();
      db.prepare("UPDATE ledger SET state = 'reserved' WHERE execution_id = 'e4'").run();
      db.prepare("DELETE FROM ledger WHERE execution_id = 'e3'").run();
      const totals = db.prepare("SELECT day, committed_micros, reserved_micros FROM ledger_days ORDER BY day").all();
      const sums = db
        .prepare(
          `SELECT day, coalesce(sum(CASE WHEN state = 'committed' THEN CAST(round(amount_usd * 1000000) AS INTEGER) END), 0) AS committed_micros,
        coalesce(sum(CASE WHEN state = 'reserved' THEN CAST(round(amount_usd * 1000000) AS INTEGER) END), 0) AS reserved_micros FROM ledger GROUP BY day ORDER BY day`,
        )
        .all();
      expect(totals).toEqual(sums);
      expect(totals).toEqual([
        { day: "2026-11-21", committed_micros: 100_000, reserved_micros: 0 },
        { day: "2026-11-22", committed_micros: 0, reserved_micros: 3_300_000 },
      ]);
    } finally {
      registry.close();
    }
  });
});
