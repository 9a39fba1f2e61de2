// History queries at scale: the queries behind `audit` filters, `executions` and `stats`, run in-process on a
// home with 1,000,000 audit events and 500,000 executions, against the same query on a home with a handful (the
// floor). The target is under 50 ms for each query at that size; start-up is measured by bench/run.mjs.
// Usage: npm run build && node bench/history.mjs   (builds the big home in a minute or two; AUDIT_EVENTS to change)
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { build } from "esbuild";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { saveResults } from "./lib.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = path.join(root, "bin", "toolctl");
const node = process.execPath;
const Database = createRequire(import.meta.url)("better-sqlite3");
const work = mkdtempSync(path.join(os.tmpdir(), "toolctl-bench-history-"));
const EVENTS = Number(process.env.AUDIT_EVENTS ?? 1_000_000);
const EXECUTIONS = Math.floor(EVENTS / 2);
const DAYS = 60;

function makeHome(name) {
  const home = path.join(work, name);
  const result = spawnSync(node, [bin, "import", path.join(root, "manifests", "examples", "echo.yaml")], {
    env: { ...process.env, TOOLCTL_HOME: home },
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(result.stderr);
  return home;
}

/** Rows written straight into the database, shaped like toolctl's own: the queries, not the writing, are measured. */
function fill(home, events, executions) {
  const db = new Database(path.join(home, "registry.db"));
  const last = db.prepare("SELECT max(seq) FROM audit_events").pluck().get();
  const start = Date.now() - DAYS * 86_400_000;
  const types = [
    "execution.started",
    "execution.succeeded",
    "execution.failed",
    "execution.dry_run",
    "approval.requested",
    "approval.approved",
    "tool.updated",
  ];
  const insertEvent = db.prepare(
    "INSERT INTO audit_events (seq, ts, type, actor, tool, action, execution_id, status, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, 'act', ?, 'ok', '{}', 'x', 'x')",
  );
  const insertExecution = db.prepare(
    "INSERT INTO executions (id, tool, action, actor, status, input, cost_usd, created_at) VALUES (?, ?, 'act', ?, ?, '{}', ?, ?)",
  );
  db.transaction(() => {
    for (let i = 1; i <= events; i++) {
      const ts = new Date(start + Math.floor((i / events) * DAYS * 86_400_000)).toISOString();
      // 50 tools, one of them rare (a tool used 2% of the time has 20,000 events at a million).
      const tool = i % 50 === 0 ? "rare" : `tool${i % 49}`;
      insertEvent.run(last + i, ts, types[i % types.length], i % 97 === 0 ? "agent" : "user", tool, i % 2 ? `ex_${i}` : null);
    }
    for (let i = 1; i <= executions; i++) {
      const ts = new Date(start + Math.floor((i / executions) * DAYS * 86_400_000)).toISOString();
      insertExecution.run(
        `ex_${String(i).padStart(8, "0")}`,
        i % 50 === 0 ? "rare" : `tool${i % 49}`,
        i % 97 === 0 ? "agent" : "user",
        i % 13 === 0 ? "failed" : "succeeded",
        i % 3 === 0 ? 0.25 : null,
        ts,
      );
    }
  })();
  db.close();
}

try {
  const small = makeHome("small");
  const big = makeHome("big");
  const built = Date.now();
  fill(big, EVENTS, EXECUTIONS);
  console.log(
    `node ${process.version}, ${os.cpus().length} cores; ${EVENTS.toLocaleString("en")} events and ${EXECUTIONS.toLocaleString("en")} executions written in ${Date.now() - built} ms`,
  );
  // toolctl's own query functions, bundled from the sources as the CLI bundles them.
  // Written under node_modules so that better-sqlite3 and its addon resolve from it as they do from dist/.
  const entry = path.join(root, "node_modules", ".cache", "toolctl-bench", "queries.mjs");
  await build({
    stdin: {
      contents: `export { openRegistry } from "./src/store/sqlite/db.ts"; export { queryAudit } from "./src/store/sqlite/audit.ts";
      export { listExecutions } from "./src/store/sqlite/executions.ts"; export { executionStats } from "./src/store/sqlite/stats.ts";`,
      resolveDir: root,
      loader: "ts",
    },
    bundle: true,
    format: "esm",
    platform: "node",
    outfile: entry,
    logLevel: "error",
    external: ["better-sqlite3"],
    banner: { js: "import { createRequire as bannerRequire } from 'node:module'; const require = bannerRequire(import.meta.url);" },
  });
  const { openRegistry, queryAudit, listExecutions, executionStats } = await import(entry);
  const day = (daysAgo) => new Date(Date.now() - daysAgo * 86_400_000).toISOString();
  const page = { limit: 20, offset: 0 };
  const queries = [
    ["audit --tool rare", (r) => queryAudit(r, { tool: "rare", limit: 50 })],
    ["audit --since (last month)", (r) => queryAudit(r, { since: day(30), limit: 50 })],
    ["audit --since/--until (an old month)", (r) => queryAudit(r, { since: day(DAYS - 1), until: day(30), limit: 50 })],
    ["audit --type approval.approved", (r) => queryAudit(r, { type: "approval.approved", limit: 50 })],
    ["audit --until (old)", (r) => queryAudit(r, { until: day(DAYS - 2), limit: 50 })],
    ["audit --actor agent", (r) => queryAudit(r, { actor: "agent", limit: 50 })],
    ["executions", (r) => listExecutions(r, page)],
    ["executions --tool rare", (r) => listExecutions(r, { ...page, tool: "rare" })],
    ["executions --since (a week, mid-day)", (r) => listExecutions(r, { ...page, since: day(7) })],
    ["stats", (r) => executionStats(r, { period: "day", by: "tool" })],
    ["stats --by action --period week", (r) => executionStats(r, { period: "week", by: "action" })],
    ["stats --since (a week, mid-day)", (r) => executionStats(r, { period: "day", by: "tool", since: day(7) })],
  ];
  const time = (registry, fn) => {
    const samples = [];
    for (let i = 0; i < 12; i++) {
      const start = process.hrtime.bigint();
      fn(registry);
      samples.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    return samples.sort((a, b) => a - b)[6];
  };
  const registries = { small: openRegistry(small, process.env), big: openRegistry(big, process.env) };
  const results = queries.map(([label, fn]) => {
    const floorMs = time(registries.small, fn);
    const subjectMs = time(registries.big, fn);
    return {
      label,
      floorMs: +floorMs.toFixed(2),
      subjectMs: +subjectMs.toFixed(2),
      ratio: +(subjectMs / floorMs).toFixed(1),
      target: "< 50 ms",
      ok: subjectMs < 50,
    };
  });
  registries.small.close();
  registries.big.close();
  for (const r of results) {
    console.log(
      `${r.label.padEnd(44)} ${String(r.subjectMs).padStart(8)} ms at ${EVENTS.toLocaleString("en")} events vs ${String(r.floorMs).padStart(6)} ms on a new home (${r.ratio}×) ${r.ok ? "✓" : "✗"} (target < 50 ms)`,
    );
  }
  saveResults("history", { events: EVENTS, executions: EXECUTIONS, results });
  if (results.some((r) => !r.ok)) process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
