// Spend reservations as the day fills: the cost of one reservation (BEGIN IMMEDIATE, the daily-limit check, the
// insert, COMMIT) on an empty day and after 100,000 ledger rows of the same day, each as a ratio to a floor
// measured in the same run: a write transaction inserting one row into a scratch table of the same database.
// The audit intent that shares the run's transaction is left out: this measures the ledger's part.
// Usage: node bench/ledger.mjs   (reads src/ through esbuild; no build needed). Writes bench/results/latest.json.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { saveResults } from "./lib.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const work = mkdtempSync(path.join(os.tmpdir(), "toolctl-bench-ledger-"));
const ROWS = 100_000;
const ROUNDS = 15;
const PER_ROUND = 200;

/** The registry's own modules, bundled for plain node (better-sqlite3's addon is found from the repository). */
async function loadRegistry() {
  const outfile = path.join(work, "registry.mjs");
  await build({
    stdin: { contents: 'export * from "./src/store/sqlite/db.ts"; export * from "./src/store/sqlite/ledger.ts";', resolveDir: root, loader: "ts" },
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external: ["*.node"],
    logLevel: "warning",
    define: { "import.meta.url": JSON.stringify(pathToFileURL(path.join(root, "src", "bench.js")).href) },
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
  return import(pathToFileURL(outfile).href);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function timePerOp(count, fn) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) fn(i);
  return Number(process.hrtime.bigint() - start) / 1e3 / count;
}

try {
  const { openRegistry, writeTransaction, reserveSpend, settleSpend, spendDay } = await loadRegistry();
  const registry = openRegistry(path.join(work, "home"));
  registry.db.exec("CREATE TABLE bench_floor (id INTEGER PRIMARY KEY, v TEXT)");
  const floorInsert = registry.db.prepare("INSERT INTO bench_floor (v) VALUES (?)");
  const day = spendDay();
  let n = 0;
  const floor = () => writeTransaction(registry, () => floorInsert.run("x"));
  const reserve = () => {
    const executionId = `ex_bench_${n++}`;
    const result = writeTransaction(registry, () =>
      reserveSpend(registry, { executionId, tool: "shop", action: "buy", amountUsd: 0.01, day, dailyLimitUsd: 1e9 }),
    );
    if (!result.ok) throw new Error("reservation refused");
    return executionId;
  };
  // Reservations are settled outside the timed part, as a run settles its own after the action.
  const measure = () => {
    const ratios = [];
    const floors = [];
    const subjects = [];
    for (let round = 0; round < ROUNDS; round++) {
      const f = timePerOp(PER_ROUND, floor);
      const ids = [];
      const s = timePerOp(PER_ROUND, () => ids.push(reserve()));
      writeTransaction(registry, () => ids.forEach((id, i) => settleSpend(registry, id, i % 2 ? "committed" : "released")));
      floors.push(f);
      subjects.push(s);
      ratios.push(s / f);
    }
    return { floorUs: +median(floors).toFixed(1), reservationUs: +median(subjects).toFixed(1), ratio: +median(ratios).toFixed(2) };
  };

  timePerOp(200, floor); // warm-up: page cache, prepared statements
  const start = measure();
  const rowsAtStart = n;
  // Fill the day to 100,000 rows through the same reservation and settlement code, in batches.
  while (n < ROWS) {
    writeTransaction(registry, () => {
      for (let i = 0; i < 1000 && n < ROWS; i++) {
        const executionId = `ex_fill_${n++}`;
        reserveSpend(registry, { executionId, tool: "shop", action: "buy", amountUsd: 0.01, day, dailyLimitUsd: 1e9 });
        settleSpend(registry, executionId, i % 2 ? "committed" : "released");
      }
    });
  }
  const full = measure();
  // What the check cost before the running totals: summing the day's rows, as every reservation did.
  const sumDay = registry.db.prepare(
    "SELECT coalesce(sum(CASE WHEN state = 'committed' THEN amount_usd END), 0), coalesce(sum(CASE WHEN state = 'reserved' THEN amount_usd END), 0) FROM ledger WHERE day = ?",
  );
  const summingUs = +median(Array.from({ length: 9 }, () => timePerOp(5, () => sumDay.get(day)))).toFixed(1);
  const rows = registry.db.prepare("SELECT count(*) FROM ledger WHERE day = ?").pluck().get(day);
  registry.close();

  const growth = +(full.ratio / start.ratio).toFixed(2);
  console.log(`node ${process.version}, ${os.cpus().length} cores; medians of ${ROUNDS} rounds × ${PER_ROUND} reservations`);
  const line = (label, m) =>
    `${label.padEnd(44)} ${String(m.reservationUs).padStart(7)} µs (${Math.round(1e6 / m.reservationUs)}/s) vs floor ${String(m.floorUs).padStart(6)} µs = ${m.ratio.toFixed(2)}×`;
  console.log(line(`reservation, a fresh day (rows 0–${rowsAtStart.toLocaleString("en")})`, start));
  console.log(line(`reservation, after ${(rows - rowsAtStart).toLocaleString("en")} more rows`, full));
  console.log(`growth from the empty day to the full one: ${growth.toFixed(2)}×  ${growth <= 1.25 ? "✓" : "✗"} (target ≤ 1.25×)`);
  console.log(`for reference, summing the day's ${rows.toLocaleString("en")} rows (the check before running totals): ${summingUs} µs`);
  saveResults("ledger", { rows, start, full, growth, summingUs });
  if (growth > 1.25) process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
