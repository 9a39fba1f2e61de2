/**
 * Stats: real runs through the library API in-process (successes, validation failures, dry runs, approval
 * refusals), then counts, failures and spend by tool, action and status; and rows written with fixed timestamps to
 * pin down the UTC buckets (hour, day, Monday-based week, month) and the spend rule (succeeded and unknown only).
 * `toolctl stats` itself (its table, its time flags, its messages and refusals) runs as the built binary.
 */
import path from "node:path";
import Database from "better-sqlite3";
import { beforeAll, describe, expect, it } from "vitest";
import type { StatsQuery, Toolctl } from "../src/api/index.js";
import { examplesDir, openApi, runCli, runJson, tempDir, writeFiles } from "./helpers.js";

const PAID = `apiVersion: toolctl/v1
name: paid
description: Paid actions (echo runtime)
runtime: echo
actions:
  charge:
    description: Costs two dollars
    kind: create
    cost: { fixed: 2 }
    inputSchema: { type: object, required: [note], properties: { note: { type: string } } }
  tip:
    description: Costs fifty cents
    kind: create
    cost: { fixed: 0.5 }
  sms:
    description: Priced per SMS segment
    kind: create
    cost: { perUnit: 0.0079, units: { smsSegments: message } }
    inputSchema: { type: object, required: [message], properties: { message: { type: string } } }
`;

const ZERO = { count: 0, succeeded: 0, failed: 0, unknown: 0, dryRuns: 0, spendUsd: 0 };

interface Row {
  bucket: string;
  group: string;
  count: number;
  succeeded: number;
  failed: number;
  unknown: number;
  dryRuns: number;
  spendUsd: number;
}
interface StatsJson {
  period: string;
  by: string;
  rows: Row[];
  totals: Omit<Row, "bucket" | "group">;
}

/** Stats as `toolctl stats` asks for them: per day and by tool unless the query says otherwise. */
async function stats(toolctl: Toolctl, query: Partial<StatsQuery> = {}): Promise<StatsJson> {
  return (await toolctl.stats({ period: "day", by: "tool", ...query })) as StatsJson;
}

/** The same through the CLI, for its own flags. */
async function statsCli(home: string, ...args: string[]): Promise<StatsJson> {
  const result = await runJson<StatsJson>(["stats", ...args], { home });
  expect(result.code, result.stderr).toBe(0);
  return result.json;
}

/** Rows without their bucket, keyed by group: the real runs all happen "now", in whatever bucket that is. */
function byGroup(json: StatsJson): Record<string, Omit<Row, "bucket" | "group">> {
  const out: Record<string, Omit<Row, "bucket" | "group">> = {};
  for (const { bucket: _bucket, group, ...counts } of json.rows) out[group] = counts;
  return out;
}

function expectTotalsAreSums(json: StatsJson): void {
  for (const key of ["count", "succeeded", "failed", "unknown", "dryRuns"] as const) {
    expect(json.totals[key]).toBe(json.rows.reduce((sum, row) => sum + row[key], 0));
  }
  expect(json.totals.spendUsd).toBeCloseTo(
    json.rows.reduce((sum, row) => sum + row.spendUsd, 0),
    9,
  );
}

describe("toolctl stats over real runs", () => {
  let toolctl: Toolctl;
  let home: string;

  beforeAll(async () => {
    toolctl = await openApi({ home: tempDir("toolctl-stats-") });
    home = toolctl.home;
    const report = await toolctl.importManifests([examplesDir, writeFiles({ "paid.yaml": PAID })]);
    expect(report.failed).toEqual([]);
    const runs: Array<[string, Record<string, unknown>, { yes?: boolean; dryRun?: boolean }, number]> = [
      ["echo.say", { message: "hi" }, {}, 0],
      ["echo.say", { message: "again" }, {}, 0],
      ["echo.say", {}, {}, 2], // input invalid: recorded as failed (validation), nothing ran
      ["echo.say", { message: "preview" }, { dryRun: true }, 0],
      ["paid.charge", { note: "a" }, { yes: true }, 0],
      ["paid.charge", { note: "b" }, { yes: true }, 0],
      ["paid.charge", { note: "c" }, {}, 4], // $2 needs approval nobody can give here: recorded as declined
      ["paid.charge", { note: "d" }, { dryRun: true }, 0],
      ["paid.charge", {}, { yes: true }, 2],
      ["paid.tip", {}, {}, 0],
      ["paid.sms", { message: "hello" }, {}, 0],
    ];
    for (const [target, input, options, code] of runs) {
      const result = await toolctl.run(target, input, options);
      expect(result.exitCode, `${target} ${JSON.stringify(input)}: ${result.error?.message}`).toBe(code);
    }
  });

  it("groups by tool by default, per day", async () => {
    const json = await stats(toolctl);
    expect(json).toMatchObject({ period: "day", by: "tool" });
    expect(Object.keys(json).sort()).toEqual(["by", "period", "rows", "totals"]);
    for (const row of json.rows) expect(row.bucket).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(byGroup(json)).toEqual({
      echo: { count: 4, succeeded: 2, failed: 1, unknown: 0, dryRuns: 1, spendUsd: 0 },
      // Spend: two charges, a tip and one SMS segment; not the dry run, the refused run or the invalid one.
      paid: { count: 7, succeeded: 4, failed: 1, unknown: 0, dryRuns: 1, spendUsd: 4.5079 },
    });
    expect(json.totals).toEqual({ count: 11, succeeded: 6, failed: 2, unknown: 0, dryRuns: 2, spendUsd: 4.5079 });
    expectTotalsAreSums(json);
  });

  it("groups by action as tool.action", async () => {
    expect(byGroup(await stats(toolctl, { by: "action" }))).toEqual({
      "echo.say": { count: 4, succeeded: 2, failed: 1, unknown: 0, dryRuns: 1, spendUsd: 0 },
      "paid.charge": { count: 5, succeeded: 2, failed: 1, unknown: 0, dryRuns: 1, spendUsd: 4 },
      "paid.sms": { count: 1, succeeded: 1, failed: 0, unknown: 0, dryRuns: 0, spendUsd: 0.0079 },
      "paid.tip": { count: 1, succeeded: 1, failed: 0, unknown: 0, dryRuns: 0, spendUsd: 0.5 },
    });
  });

  it("groups by status, runs that needed approval included (declined: nothing is left pending)", async () => {
    const groups = byGroup(await stats(toolctl, { by: "status", period: "month" }));
    expect(Object.keys(groups).sort()).toEqual(["declined", "dry_run", "failed", "succeeded"]);
    expect(groups.succeeded).toEqual({ count: 6, succeeded: 6, failed: 0, unknown: 0, dryRuns: 0, spendUsd: 4.5079 });
    expect(groups.declined).toEqual({ ...ZERO, count: 1 });
    expect(groups.failed).toEqual({ ...ZERO, count: 2, failed: 2 });
    expect(groups.dry_run).toEqual({ ...ZERO, count: 2, dryRuns: 2 });
  });

  it("filters by tool", async () => {
    const json = await stats(toolctl, { tool: "echo", by: "action" });
    expect(json.rows.map((r) => r.group)).toEqual(["echo.say"]);
    expect(json.totals).toEqual({ count: 4, succeeded: 2, failed: 1, unknown: 0, dryRuns: 1, spendUsd: 0 });
  });

  it("prints a table with a totals line for people, sub-cent spend kept", async () => {
    const result = await runCli(["stats", "--by", "action"], { home });
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain("\x1b[");
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^DAY \(UTC\)\s+ACTION\s+RUNS\s+OK\s+FAILED\s+UNKNOWN\s+DRY RUNS\s+SPEND$/);
    expect(lines.find((l) => l.includes("paid.sms"))).toMatch(/\s1\s+1\s+0\s+0\s+0\s+\$0\.0079$/);
    expect(lines.find((l) => l.includes("paid.charge"))).toMatch(/\s5\s+2\s+1\s+0\s+1\s+\$4\.00$/);
    expect(lines.at(-2)).toMatch(/^-+$/);
    expect(lines.at(-1)).toMatch(/^total\s+11\s+6\s+2\s+0\s+2\s+\$4\.5079$/);
  });

  it("records the per-unit SMS estimate the engine used", async () => {
    const dry = await toolctl.preview("paid.sms", { message: "é".repeat(161) });
    expect(dry.status).toBe("dry_run");
    expect(dry.cost).toEqual({ usd: 0.0158, units: 2, basis: "input.message: 2 SMS segments (GSM-7) × $0.0079" });
  });
});

describe("toolctl stats buckets and spend rule", () => {
  let toolctl: Toolctl;
  let home: string;

  beforeAll(async () => {
    toolctl = await openApi({ home: tempDir("toolctl-stats-") });
    home = toolctl.home;
    expect((await toolctl.importManifests([writeFiles({ "paid.yaml": PAID })])).failed).toEqual([]);
    const db = new Database(path.join(home, "registry.db"));
    const insert = db.prepare("INSERT INTO executions (id, tool, action, actor, status, cost_usd, created_at) VALUES (?, 'paid', ?, 'ci', ?, ?, ?)");
    for (const row of [
      ["ex_1", "charge", "unknown", 3, "2026-01-05T10:15:00.000Z"], // Monday: the outcome may have spent the money
      ["ex_2", "charge", "rolled_back", 2, "2026-01-05T10:45:00.000Z"], // undone: not spend
      ["ex_3", "charge", "succeeded", 2, "2026-01-11T23:59:59.999Z"], // Sunday: still the week of Monday 5th
      ["ex_4", "charge", "failed", 2, "2026-01-12T00:00:00.000Z"], // Monday: a new week
      ["ex_5", "tip", "declined", 0.5, "2026-02-01T00:00:00.000Z"], // a Sunday: the week of Monday 26 January
      ["ex_6", "tip", "succeeded", null, "2026-02-01T08:00:00.000Z"], // no cost recorded: counts, spends nothing
    ] as const)
      insert.run(...row);
    db.close();
  });

  it("buckets by hour", async () => {
    const json = await stats(toolctl, { period: "hour", by: "status" });
    expect(json.rows.map((r) => [r.bucket, r.group, r.count, r.spendUsd])).toEqual([
      ["2026-01-05T10:00", "rolled_back", 1, 0],
      ["2026-01-05T10:00", "unknown", 1, 3],
      ["2026-01-11T23:00", "succeeded", 1, 2],
      ["2026-01-12T00:00", "failed", 1, 0],
      ["2026-02-01T00:00", "declined", 1, 0],
      ["2026-02-01T08:00", "succeeded", 1, 0],
    ]);
    expect(json.totals).toEqual({ count: 6, succeeded: 2, failed: 1, unknown: 1, dryRuns: 0, spendUsd: 5 });
  });

  it("buckets by day", async () => {
    const json = await stats(toolctl, { by: "action" });
    expect(json.rows.map((r) => [r.bucket, r.group, r.count])).toEqual([
      ["2026-01-05", "paid.charge", 2],
      ["2026-01-11", "paid.charge", 1],
      ["2026-01-12", "paid.charge", 1],
      ["2026-02-01", "paid.tip", 2],
    ]);
  });

  it("buckets by ISO week, labelled by its Monday", async () => {
    const json = await stats(toolctl, { period: "week" });
    expect(json.rows).toEqual([
      { bucket: "2026-01-05", group: "paid", count: 3, succeeded: 1, failed: 0, unknown: 1, dryRuns: 0, spendUsd: 5 },
      { bucket: "2026-01-12", group: "paid", count: 1, succeeded: 0, failed: 1, unknown: 0, dryRuns: 0, spendUsd: 0 },
      { bucket: "2026-01-26", group: "paid", count: 2, succeeded: 1, failed: 0, unknown: 0, dryRuns: 0, spendUsd: 0 },
    ]);
    expectTotalsAreSums(json);
  });

  it("buckets by month", async () => {
    const json = await stats(toolctl, { period: "month", by: "action" });
    expect(json.rows.map((r) => [r.bucket, r.group, r.count, r.spendUsd])).toEqual([
      ["2026-01", "paid.charge", 4, 5],
      ["2026-02", "paid.tip", 2, 0],
    ]);
  });

  it("limits to since and until, both inclusive", async () => {
    const json = await stats(toolctl, { since: "2026-01-06T00:00:00.000Z", until: "2026-01-11T23:59:59.999Z" });
    expect(json.rows.map((r) => [r.bucket, r.count])).toEqual([["2026-01-11", 1]]);
    const timed = await stats(toolctl, { since: "2026-01-05T10:30:00.000Z", until: "2026-01-12T00:00:00.000Z", period: "month" });
    expect(timed.totals).toMatchObject({ count: 3, spendUsd: 2 });
  });

  it("the CLI: --since and --until; a bare --until date covers its whole day", async () => {
    const json = await statsCli(home, "--since", "2026-01-06", "--until", "2026-01-11");
    expect(json.rows.map((r) => [r.bucket, r.count])).toEqual([["2026-01-11", 1]]);
    const timed = await statsCli(home, "--since", "2026-01-05T10:30:00Z", "--until", "2026-01-12T00:00:00Z", "--period", "month");
    expect(timed.totals).toMatchObject({ count: 3, spendUsd: 2 });
  });

  it("the CLI reads a time without a UTC offset as UTC, whatever the machine's time zone (stats and executions)", async () => {
    const range = ["--since", "2026-01-05T10:30:00", "--until", "2026-01-12T00:00:00"];
    for (const TZ of ["UTC", "America/New_York", "Asia/Tokyo"]) {
      const json = await runJson<StatsJson>(["stats", ...range, "--period", "month"], { home, env: { TZ } });
      expect(json.json.totals, TZ).toMatchObject({ count: 3, spendUsd: 2 });
      const listed = await runJson<{ items: Array<{ id: string }> }>(["executions", ...range], { home, env: { TZ } });
      expect(
        listed.json.items.map((e) => e.id),
        TZ,
      ).toEqual(["ex_4", "ex_3", "ex_2"]);
    }
  });

  it("gives empty rows and zero totals when nothing matches", async () => {
    expect(await stats(toolctl, { tool: "nope", by: "status" })).toEqual({ period: "day", by: "status", rows: [], totals: ZERO });
    expect(await stats(await openApi(), {})).toEqual({ period: "day", by: "tool", rows: [], totals: ZERO });
  });

  it("the CLI says when nothing matches, and when there is nothing yet", async () => {
    expect((await runCli(["stats", "--tool", "nope"], { home })).stdout.trim()).toBe("no executions match these filters");
    expect(await statsCli(home, "--tool", "nope", "--by", "status")).toEqual({ period: "day", by: "status", rows: [], totals: ZERO });
    const fresh = tempDir("toolctl-stats-");
    expect((await runCli(["stats"], { home: fresh })).stdout.trim()).toBe("no executions yet");
  });

  it("refuses bad flags with exit 2 and a one-line error", async () => {
    for (const args of [
      ["--period", "year"],
      ["--by", "actor"],
      ["--since", "yesterday"],
      ["--until", "2026-13-45"],
      ["--since", "2026-02-30"],
      ["--until", "2027-02-29"],
    ]) {
      const result = await runJson(["stats", ...args], { home });
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.json.error.code).toBe("usage");
      expect(result.json.error.message).not.toMatch(/\n/);
    }
  });

  it("refuses a day that does not exist rather than rolling it over, in stats, executions and audit alike", async () => {
    for (const command of ["stats", "executions", "audit"]) {
      for (const [flag, value] of [
        ["--since", "2026-02-30"],
        ["--until", "2027-02-29"],
        ["--since", "2026-04-31T09:30:00Z"],
      ]) {
        const result = await runCli([command, flag!, value!], { home });
        expect(result.code, `${command} ${flag} ${value}`).toBe(2);
        expect(result.stdout).toBe("");
        expect(result.stderr).toBe(`error: ${flag}: "${value}" is not a real calendar day\n`);
      }
    }
  });
});
