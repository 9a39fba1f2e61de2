// Team mode against the SQLite default, each as a ratio measured in the same run:
//  1. Spend reservations per second from 16 concurrent in-process callers through the API (`toolctl.run` of a paid
//     echo action, `yes`): each run is one write transaction that re-reads the tool, reserves against the daily
//     limit, records the intent and its audit event, then one that records the outcome and settles the spend. On
//     PostgreSQL every write takes the database's advisory write lock; on SQLite, BEGIN IMMEDIATE.
//  2. `toolctl list` start-up (100 tools) with TOOLCTL_DATABASE_URL set vs the home's SQLite registry, and each
//     against bare `node -e 0`.
// PostgreSQL is a throwaway cluster of Debian's server (scripts/postgres.mjs), or the server TOOLCTL_TEST_DATABASE_URL
// names. Usage: npm run build && node bench/team.mjs   (ROUNDS, RUNS to change). Writes bench/results/latest.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import pg from "pg";
import { compare, report, saveResults, writeEchoTools } from "./lib.mjs";
import { startCluster } from "../scripts/postgres.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const RUNS = Number(process.env.RUNS ?? 400);
const CALLERS = 16;
const work = mkdtempSync(path.join(os.tmpdir(), "toolctl-bench-team-"));
const { openToolctl } = await import(pathToFileURL(path.join(root, "dist", "api", "index.js")).href);

const cluster = process.env.TOOLCTL_TEST_DATABASE_URL ? undefined : await startCluster();
const server = process.env.TOOLCTL_TEST_DATABASE_URL ?? cluster.url;

async function newDatabase(name) {
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(server);
  url.pathname = `/${name}`;
  return url.toString();
}

const SHOP = `apiVersion: toolctl/v1
name: shop
description: Pretend purchases
runtime: echo
actions:
  buy:
    description: Spend the amount given
    kind: create
    cost: { fromInput: amount }
    inputSchema: { type: object, required: [amount], properties: { amount: { type: number } } }
`;

const baseEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: "C.UTF-8", NO_COLOR: "1", TOOLCTL_AUDIT_KEY: Buffer.alloc(32, 7).toString("base64") };

/** A home with the shop imported and a daily limit no run reaches; `database` makes it a team machine. */
async function shopApi(name, database) {
  const home = path.join(work, name);
  const env = { ...baseEnv, TOOLCTL_HOME: home, ...(database ? { TOOLCTL_DATABASE_URL: database } : {}) };
  mkdirSync(home, { recursive: true });
  writeFileSync(path.join(home, "config.yaml"), "limits:\n  dailyUsd: 100000000\n  perActionUsd: 100\n");
  const toolctl = await openToolctl({ home, env, cwd: work });
  writeFileSync(path.join(work, "shop.yaml"), SHOP);
  await toolctl.importManifests([path.join(work, "shop.yaml")]);
  return toolctl;
}

/** Runs per second with CALLERS runs in flight at once, RUNS in all. */
async function throughput(toolctl) {
  let next = 0;
  let failed = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (next++ < RUNS) {
        const result = await toolctl.run("shop.buy", { amount: 0.01 }, { yes: true });
        if (result.status !== "succeeded") failed++;
      }
    }),
  );
  if (failed) throw new Error(`${failed} runs did not succeed`);
  return RUNS / (Number(process.hrtime.bigint() - start) / 1e9);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  const team = await newDatabase("bench_team");
  const sqlite = await shopApi("solo");
  const postgres = await shopApi("machine", team);
  // Warm both (validators compiled, connections open) before timing.
  await throughput(sqlite);
  await throughput(postgres);
  const pgRates = [];
  const sqliteRates = [];
  const ratios = [];
  for (let round = 0; round < ROUNDS; round++) {
    const s = await throughput(sqlite);
    const p = await throughput(postgres);
    sqliteRates.push(s);
    pgRates.push(p);
    ratios.push(p / s);
  }
  const spend = (await postgres.budget()).spend;
  await sqlite.close();
  await postgres.close();
  const reservations = {
    callers: CALLERS,
    runsPerRound: RUNS,
    rounds: ROUNDS,
    sqlitePerSecond: Math.round(median(sqliteRates)),
    postgresPerSecond: Math.round(median(pgRates)),
    postgresRange: [Math.round(Math.min(...pgRates)), Math.round(Math.max(...pgRates))],
    ratio: +median(ratios).toFixed(2),
    committedUsd: spend.committedUsd,
  };
  console.log(
    `reservations/s, ${CALLERS} callers through the API: PostgreSQL ${reservations.postgresPerSecond}/s (${reservations.postgresRange.join("–")}), SQLite ${reservations.sqlitePerSecond}/s = ${reservations.ratio.toFixed(2)}× SQLite`,
  );

  // Start-up: `toolctl list` of 100 tools on each backend.
  const listDb = await newDatabase("bench_list");
  const tools = path.join(work, "tools");
  writeEchoTools(tools, 100, "team");
  const soloHome = path.join(work, "list-solo");
  const teamHome = path.join(work, "list-team");
  const soloEnv = { ...baseEnv, TOOLCTL_HOME: soloHome };
  const teamEnv = { ...baseEnv, TOOLCTL_HOME: teamHome, TOOLCTL_DATABASE_URL: listDb };
  for (const env of [soloEnv, teamEnv]) {
    const toolctl = await openToolctl({ home: env.TOOLCTL_HOME, env, cwd: work });
    await toolctl.importManifests([tools]);
    await toolctl.close();
  }
  const bin = path.join(root, "bin", "toolctl");
  const startup = compare("list (100 tools): PostgreSQL vs SQLite", [process.execPath, bin, "list"], [process.execPath, bin, "list"], {
    envFloor: soloEnv,
    env: teamEnv,
    rounds: ROUNDS * 2,
    alsoAgainst: [{ label: "list (100 tools) on PostgreSQL vs node -e 0", argv: [process.execPath, "-e", "0"], env: teamEnv }],
  });
  const bare = compare("list (100 tools) on SQLite vs node -e 0", [process.execPath, "-e", "0"], [process.execPath, bin, "list"], {
    env: soloEnv,
    rounds: ROUNDS * 2,
  });
  report([...startup, bare]);
  saveResults("team", { reservations, startup: [...startup, bare] });
} finally {
  cluster?.stop({ remove: true });
  rmSync(work, { recursive: true, force: true });
}
