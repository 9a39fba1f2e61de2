/**
 * History at scale: the running execution counts always agree with the rows they summarise, and the audit
 * export streams a log larger than the memory it is given. (Query speed at a million events is measured in
 * bench/history.mjs, not here.)
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { statSync } from "node:fs";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { openRegistry, writeTransaction } from "../src/store/sqlite/db.js";
import { countExecutions, splitByDay } from "../src/store/sqlite/execution-counts.js";
import { insertExecution, updateExecution, type ExecutionStatus } from "../src/store/sqlite/executions.js";
import { executionStats } from "../src/store/sqlite/stats.js";
import { baseEnv, binPath, examplesDir, openApi, runCli, runJson, tempDir } from "./helpers.js";

const env = { TOOLCTL_AUDIT_KEY: Buffer.alloc(32, 3).toString("base64") };

/** A deterministic pseudo-random sequence, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

describe("running execution counts", () => {
  it("splits a time range into whole days and partial edges that together cover it exactly once", () => {
    expect(splitByDay(undefined, undefined)).toEqual({ days: { from: undefined, to: undefined }, edges: [] });
    expect(splitByDay("2026-11-21T00:00:00.000Z", "2026-11-23T23:59:59.999Z")).toEqual({ days: { from: "2026-11-21", to: "2026-11-23" }, edges: [] });
    expect(splitByDay("2026-11-21T09:30:00.000Z", "2026-11-21T09:45:00.000Z")).toEqual({
      edges: [{ from: "2026-11-21T09:30:00.000Z", to: "2026-11-21T09:45:00.000Z" }],
    });
    expect(splitByDay("2026-11-21T09:30:00.000Z", "2026-11-24T12:10:00.000Z")).toEqual({
      days: { from: "2026-11-22", to: "2026-11-23" },
      edges: [
        { from: "2026-11-21T09:30:00.000Z", to: "2026-11-21T23:59:59.999Z" },
        { from: "2026-11-24T00:00:00.000Z", to: "2026-11-24T12:10:00.000Z" },
      ],
    });
    expect(splitByDay("2026-11-21T09:30:00.000Z", "2026-11-22T10:10:00.000Z").days).toBeUndefined();
  });

  it("agree with counting the rows one by one, for every filter and range, through inserts and status changes", () => {
    const home = tempDir("toolctl-counts-");
    const registry = openRegistry(home, env);
    const next = random(42);
    const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!;
    const statuses: ExecutionStatus[] = ["succeeded", "failed", "unknown", "dry_run", "declined", "running"];
    const start = Date.parse("2026-11-20T00:00:00.000Z");
    try {
      writeTransaction(registry, () => {
        for (let i = 0; i < 600; i++) {
          const id = `ex_${String(i).padStart(4, "0")}`;
          const createdAt = new Date(start + Math.floor(next() * 3 * 86_400_000)).toISOString();
          insertExecution(registry, {
            id,
            tool: pick(["stripe", "echo", "twilio"]),
            action: pick(["a", "b"]),
            actor: pick(["user", "ci", "agent"]),
            status: "running",
            input: {},
            createdAt,
          });
          // Settled like real runs are: status and cost written afterwards, sometimes twice (a rollback).
          updateExecution(registry, id, { status: pick(statuses), costUsd: next() < 0.5 ? Math.round(next() * 10_000) / 100 : null });
          if (next() < 0.1) updateExecution(registry, id, { status: "rolled_back" });
        }
      });
      const db = registry.db;
      for (let trial = 0; trial < 200; trial++) {
        const a = start + Math.floor(next() * 3 * 86_400_000);
        const b = a + Math.floor(next() * 2 * 86_400_000);
        const filter = {
          tool: next() < 0.4 ? pick(["stripe", "echo"]) : undefined,
          status: next() < 0.3 ? pick(statuses) : undefined,
          actor: next() < 0.3 ? pick(["user", "ci"]) : undefined,
          since: next() < 0.7 ? new Date(next() < 0.3 ? a - (a % 86_400_000) : a).toISOString() : undefined,
          until: next() < 0.7 ? new Date(b).toISOString() : undefined,
        };
        const where = Object.entries({ tool: filter.tool, status: filter.status, actor: filter.actor })
          .filter(([, v]) => v !== undefined)
          .map(([k]) => `${k} = @${k}`);
        if (filter.since) where.push("created_at >= @since");
        if (filter.until) where.push("created_at <= @until");
        const params = Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined));
        const expected = db
          .prepare(`SELECT count(*) FROM executions ${where.length ? `WHERE ${where.join(" AND ")}` : ""}`)
          .pluck()
          .get(params);
        expect(countExecutions(registry, filter), JSON.stringify(filter)).toBe(expected);

        const stats = executionStats(registry, {
          period: pick(["hour", "day", "week", "month"] as const),
          by: "status",
          since: filter.since,
          until: filter.until,
          tool: filter.tool,
        });
        const byStatus = db
          .prepare(
            `SELECT status, count(*) AS n, total(CASE WHEN status IN ('succeeded', 'unknown') THEN cost_usd END) AS spend FROM executions
          WHERE 1 ${filter.tool ? "AND tool = @tool" : ""} ${filter.since ? "AND created_at >= @since" : ""} ${filter.until ? "AND created_at <= @until" : ""} GROUP BY status`,
          )
          .all(params) as Array<{ status: string; n: number; spend: number }>;
        expect(stats.totals.count).toBe(byStatus.reduce((sum, row) => sum + row.n, 0));
        expect(stats.totals.succeeded).toBe(byStatus.find((row) => row.status === "succeeded")?.n ?? 0);
        expect(stats.totals.spendUsd).toBeCloseTo(
          byStatus.reduce((sum, row) => sum + row.spend, 0),
          6,
        );
      }
    } finally {
      registry.close();
    }
  });
});

describe("audit export", () => {
  it("streams a log bigger than the heap it is allowed (constant memory)", async () => {
    const home = tempDir("toolctl-export-");
    expect((await runCli(["import", path.join(examplesDir, "echo.yaml")], { home })).code).toBe(0);
    // 60,000 events of 2 KB each: about 130 MB of JSON lines, written straight into the database.
    const conn = new Database(path.join(home, "registry.db"));
    const last = conn.prepare("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").get() as { seq: number; hash: string };
    const insert = conn.prepare("INSERT INTO audit_events (seq, ts, type, actor, data, prev_hash, hash) VALUES (?, ?, 'bench.filler', 'user', ?, ?, ?)");
    const filler = JSON.stringify({ text: "x".repeat(2000) });
    conn.transaction(() => {
      for (let i = 1; i <= 60_000; i++) insert.run(last.seq + i, new Date().toISOString(), filler, last.hash, last.hash);
    })();
    conn.close();
    const out = path.join(tempDir(), "audit.jsonl");
    // A 64 MB heap: building the whole export as one string, as toolctl once did, cannot fit.
    const result = spawnSync(process.execPath, ["--max-old-space-size=64", binPath, "audit", "export", "-o", out], {
      env: baseEnv({ TOOLCTL_HOME: home }),
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(result.stderr).toBe(`${60_000 + last.seq} events written to ${out}\n`);
    expect(result.status).toBe(0);
    expect(statSync(out).size).toBeGreaterThan(120_000_000);
  }, 180_000);
});

describe("executions --status", () => {
  it("filters on every status an execution can end in, rolled_back included, and offers no status nothing writes", async () => {
    const toolctl = await openApi();
    await toolctl.importManifests([path.join(examplesDir, "echo.yaml")]);
    const kept = await toolctl.run("echo.say", { message: "kept" }, { yes: true });
    const undone = await toolctl.run("echo.say", { message: "undone" }, { yes: true });
    await toolctl.store.executions.rolledBack(undone.executionId!, {
      type: "execution.rolled_back",
      actor: "user",
      tool: "echo",
      action: "say",
      executionId: undone.executionId!,
    });
    await toolctl.close();

    const rolledBack = await runJson(["executions", "--status", "rolled_back"], { home: toolctl.home });
    expect(rolledBack.code, rolledBack.stderr).toBe(0);
    expect(rolledBack.json.items.map((e: { id: string }) => e.id)).toEqual([undone.executionId]);
    const succeeded = await runJson(["executions", "--status", "succeeded"], { home: toolctl.home });
    expect(succeeded.json.items.map((e: { id: string }) => e.id)).toEqual([kept.executionId]);

    const help = await runCli(["executions", "--help"]);
    const offered = /--status <status>[^(]*\(choices: ([^)]*)\)/
      .exec(help.stdout.replace(/\s+/g, " "))![1]!
      .split(", ")
      .map((choice) => JSON.parse(choice));
    expect(offered).toEqual(["running", "succeeded", "failed", "unknown", "declined", "dry_run", "rolled_back"]);
  });
});
