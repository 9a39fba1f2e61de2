// `toolctl mcp --http` through the MCP SDK's own client, against the server spawned as users start it
// (`node bin/toolctl mcp --http 127.0.0.1:0`, token from TOOLCTL_MCP_TOKEN). Every figure is a ratio to a floor
// measured in the same run, in interleaved rounds so that load on a shared machine moves both alike:
//   - `tools/list` with 1,000 exposed actions  vs  `toolctl.catalog()` through the built API in-process (the data
//     the list is made of, without MCP, HTTP or JSON in between);
//   - `tools/call` of echo.say on the running server  vs  `toolctl run echo.say` spawned (target: ≥ 10× faster);
//   - 16 clients at once making paid calls against a daily limit: reservations (succeeded paid calls) per second,
//     target ≥ 300/s, against the same paid runs made 16 at once through the API in this process (the pipeline
//     without MCP and HTTP), and against the 16 clients calling echo.say (a read: no cost, no reservation). The limit
//     is reached in the last round, and the spend must end exactly at it (no overspend). The CPU time per call of
//     the server (from /proc, on Linux) and of this process's clients says which side a shortfall comes from.
// Usage: npm run build && node bench/mcp.mjs   (ROUNDS to change). Writes bench/results/latest.json.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { saveResults, writeEchoTools } from "./lib.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = path.join(root, "bin", "toolctl");
const node = process.execPath;
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const ACTIONS = 1000;
const CLIENTS = 16;
const PAID_PER_CLIENT = 25;
const COST_USD = 0.01;
// Every round but the last fits; the last one reaches the limit with a quarter of its calls to spare.
const PER_ROUND = CLIENTS * PAID_PER_CLIENT;
const LIMIT_USD = +((ROUNDS * PER_ROUND - PER_ROUND / 4) * COST_USD).toFixed(2);
const TARGET_CALL_SPEEDUP = 10;
const TARGET_RESERVATIONS = 300;
const TOKEN = "bench-token-0123456789abcdef";

const work = mkdtempSync(path.join(os.tmpdir(), "toolctl-bench-mcp-"));
const home = path.join(work, "home");
const env = {
  ...process.env,
  TOOLCTL_HOME: home,
  NO_COLOR: "1",
  TOOLCTL_MCP_TOKEN: TOKEN,
  TOOLCTL_LIMITS_DAILY_USD: String(LIMIT_USD),
  TOOLCTL_APPROVALS_PAID_ACTIONS: "false",
};
delete env.CI;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const now = () => Number(process.hrtime.bigint()) / 1e6;

async function timedMs(count, fn) {
  const start = now();
  for (let i = 0; i < count; i++) await fn(i);
  return (now() - start) / count;
}

function spawnedMs(argv, count) {
  const samples = [];
  for (let i = 0; i < count; i++) {
    const start = now();
    const result = spawnSync(argv[0], argv.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] });
    samples.push(now() - start);
    if (result.status !== 0) throw new Error(`${argv.join(" ")} exited ${result.status}: ${result.stderr}`);
  }
  return median(samples);
}

async function connect(url, name) {
  const client = new Client({ name, version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
  return client;
}

/** CPU time of the server process so far (Linux: /proc), NaN elsewhere. */
function serverCpuTime() {
  try {
    const fields = readFileSync(`/proc/${server.pid}/stat`, "utf8").split(") ")[1].split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}
/** USER_HZ, the unit of /proc/PID/stat times: 100 on every Linux that Node supports. */
const CLOCK_TICKS = 100;

let server;
let toolctl;
let floorApi;
let openToolctl;
const clients = [];
try {
  // 998 generated tools of one read each, echo.say and pay.charge: 1,000 actions offered (pay with --allow pay).
  const manifests = path.join(work, "manifests");
  writeEchoTools(manifests, ACTIONS - 2, "MCP");
  writeFileSync(
    path.join(manifests, "pay.yaml"),
    `apiVersion: toolctl/v1
name: pay
description: Pretend payments (echo) at a fixed price
runtime: echo
actions:
  charge:
    description: Charge a cent
    kind: create
    cost: { fixed: ${COST_USD} }
    rollback: irreversible
    inputSchema: { type: object, properties: { note: { type: string } } }
`,
  );
  ({ openToolctl } = await import(pathToFileURL(path.join(root, "dist", "api", "index.js")).href));
  toolctl = await openToolctl({ home, cwd: work, env });
  const imported = await toolctl.importManifests([manifests, path.join(root, "manifests", "examples", "echo.yaml")]);
  if (imported.failed.length > 0) throw new Error(`import failed: ${JSON.stringify(imported.failed)}`);

  server = spawn(node, [bin, "mcp", "--http", "127.0.0.1:0", "--allow", "pay"], { env, stdio: ["ignore", "ignore", "pipe"] });
  const url = await new Promise((resolve, reject) => {
    let stderr = "";
    server.stderr.on("data", (chunk) => {
      stderr += chunk;
      const match = /serving MCP \(Streamable HTTP\) at (\S+)\n/.exec(stderr);
      if (match) resolve(match[1]);
    });
    server.once("exit", (code) => reject(new Error(`toolctl mcp exited ${code}: ${stderr}`)));
  });

  // --- tools/list vs catalog() ----------------------------------------------------------------------------------
  const lister = await connect(url, "bench-list");
  clients.push(lister);
  const list = async () => {
    const { tools } = await lister.listTools();
    if (tools.length !== ACTIONS + 2) throw new Error(`tools/list: ${tools.length} tools, expected ${ACTIONS} actions, preview and resume`);
  };
  const catalog = async () => {
    const entries = await toolctl.catalog();
    if (entries.length !== ACTIONS) throw new Error(`catalog: ${entries.length} entries`);
  };
  await timedMs(5, list);
  await timedMs(5, catalog);
  const listRounds = [];
  for (let round = 0; round < ROUNDS; round++) {
    const floor = await timedMs(5, catalog);
    const subject = await timedMs(5, list);
    listRounds.push({ floor, subject, ratio: subject / floor });
  }

  // --- tools/call of echo.say vs toolctl run spawned -------------------------------------------------------------
  const caller = await connect(url, "bench-call");
  clients.push(caller);
  const echo = async (i) => {
    const result = await caller.callTool({ name: "echo__say", arguments: { message: `hi ${i}` } });
    if (result.isError || result.structuredContent?.message !== `hi ${i}`) throw new Error(`echo__say: ${JSON.stringify(result)}`);
  };
  const runArgv = [node, bin, "run", "echo.say", "--param", "message=hi"];
  await timedMs(50, echo);
  spawnedMs(runArgv, 2);
  const callRounds = [];
  for (let round = 0; round < ROUNDS; round++) {
    const floor = spawnedMs(runArgv, 3);
    const subject = await timedMs(50, echo);
    callRounds.push({ floor, subject, speedup: floor / subject });
  }

  // --- 16 concurrent clients: paid calls against the daily limit, vs reads and vs the same runs in-process ---------
  // The in-process floor runs on a home of its own (same manifests, no limit in reach), so its spend is not counted.
  floorApi = await openToolctl({ home: path.join(work, "floor-home"), cwd: work, env: { ...env, TOOLCTL_LIMITS_DAILY_USD: "1000000" } });
  const floorImport = await floorApi.importManifests([path.join(manifests, "pay.yaml")]);
  if (floorImport.failed.length > 0) throw new Error(`import failed: ${JSON.stringify(floorImport.failed)}`);
  const crowd = await Promise.all(Array.from({ length: CLIENTS }, (_, c) => connect(url, `bench-payer-${c}`)));
  clients.push(...crowd);
  /** Every client makes its calls one after another, all clients at once: outcomes, wall time, CPU of both sides. */
  const burst = async (name, args) => {
    const cpu = process.cpuUsage();
    const serverCpu = serverCpuTime();
    const start = now();
    const outcomes = (
      await Promise.all(
        crowd.map(async (client, c) => {
          const mine = [];
          for (let i = 0; i < PAID_PER_CLIENT; i++) mine.push(await client.callTool({ name, arguments: args(c, i) }));
          return mine;
        }),
      )
    ).flat();
    const ms = now() - start;
    const used = process.cpuUsage(cpu);
    return { ms, outcomes, clientCpuMs: (used.user + used.system) / 1000 / PER_ROUND, serverCpuMs: (serverCpuTime() - serverCpu) / PER_ROUND };
  };
  /** The same paid runs through the API in this process, 16 at once, with the origin an MCP call records. */
  const inProcess = async (round) => {
    const origin = { via: "mcp", client: { name: "bench", version: "1.0.0" }, session: "in-process" };
    const start = now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        for (let i = 0; i < PAID_PER_CLIENT; i++) {
          const result = await floorApi.run("pay.charge", { note: `${round}/${c}/${i}` }, { origin, wait: true, waitSeconds: 0 });
          if (result.status !== "succeeded") throw new Error(`pay.charge in-process: ${JSON.stringify(result.error)}`);
        }
      }),
    );
    return now() - start;
  };
  for (const client of crowd) await client.callTool({ name: "echo__say", arguments: { message: "warm" } });
  await inProcess(-1);
  const paidRounds = [];
  let succeeded = 0;
  let refused = 0;
  let spentUsd = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const reads = await burst("echo__say", (c, i) => ({ message: `${c}/${i}` }));
    if (reads.outcomes.some((r) => r.isError)) throw new Error(`echo__say failed: ${JSON.stringify(reads.outcomes.find((r) => r.isError))}`);
    const floorMs = await inProcess(round);
    const paid = await burst("pay__charge", (c, i) => ({ note: `${round}/${c}/${i}` }));
    const ok = paid.outcomes.filter((r) => !r.isError);
    const no = paid.outcomes.filter((r) => r.isError);
    for (const r of no) {
      const text = r.content.map((c) => c.text ?? "").join("\n");
      if (!/over the daily limit/.test(text)) throw new Error(`pay__charge failed other than on the limit: ${text}`);
    }
    succeeded += ok.length;
    refused += no.length;
    spentUsd += ok.reduce((sum, r) => sum + r._meta["toolctl/execution"].costUsd, 0);
    // The last round reaches the limit: its refusals are quicker than runs, so only full rounds are rated.
    if (no.length === 0) {
      paidRounds.push({
        perSecond: (ok.length * 1000) / paid.ms,
        readsPerSecond: (PER_ROUND * 1000) / reads.ms,
        inProcessPerSecond: (PER_ROUND * 1000) / floorMs,
        readRatio: paid.ms / reads.ms,
        inProcessRatio: paid.ms / floorMs,
        clientCpuMs: paid.clientCpuMs,
        serverCpuMs: paid.serverCpuMs,
      });
    }
  }
  const { spend } = await toolctl.budget();
  const expected = Math.round(LIMIT_USD / COST_USD);
  const overspendUsd = +(spend.committedUsd + spend.reservedUsd - LIMIT_USD).toFixed(6);
  const noOverspend = succeeded === expected && overspendUsd <= 0 && +spentUsd.toFixed(6) <= LIMIT_USD;

  const listMs = median(listRounds.map((r) => r.subject));
  const catalogMs = median(listRounds.map((r) => r.floor));
  const listRatio = median(listRounds.map((r) => r.ratio));
  const callMs = median(callRounds.map((r) => r.subject));
  const runMs = median(callRounds.map((r) => r.floor));
  const speedup = median(callRounds.map((r) => r.speedup));
  const perSecond = Math.round(median(paidRounds.map((r) => r.perSecond)));
  const readsPerSecond = Math.round(median(paidRounds.map((r) => r.readsPerSecond)));
  const inProcessPerSecond = Math.round(median(paidRounds.map((r) => r.inProcessPerSecond)));
  const readRatio = median(paidRounds.map((r) => r.readRatio));
  const inProcessRatio = median(paidRounds.map((r) => r.inProcessRatio));
  const clientCpuMs = median(paidRounds.map((r) => r.clientCpuMs));
  const serverCpuMs = median(paidRounds.map((r) => r.serverCpuMs));
  const callOk = speedup >= TARGET_CALL_SPEEDUP;
  const paidOk = perSecond >= TARGET_RESERVATIONS && noOverspend;

  console.log(`node ${process.version}, ${os.cpus().length} cores; medians of ${ROUNDS} rounds; ${ACTIONS.toLocaleString("en")} actions offered`);
  console.log(
    `tools/list (${ACTIONS.toLocaleString("en")} actions) over HTTP        ${listMs.toFixed(2)} ms vs catalog() in-process ${catalogMs.toFixed(2)} ms  = ${listRatio.toFixed(2)}×`,
  );
  console.log(
    `tools/call echo.say over HTTP                 ${callMs.toFixed(2)} ms vs toolctl run spawned ${runMs.toFixed(1)} ms  = ${speedup.toFixed(1)}× faster  ${callOk ? "✓" : "✗"} (target ≥ ${TARGET_CALL_SPEEDUP}×)`,
  );
  console.log(
    `${CLIENTS} clients, paid calls (reservations)       ${perSecond}/s  ${perSecond >= TARGET_RESERVATIONS ? "✓" : "✗"} (target ≥ ${TARGET_RESERVATIONS}/s)`,
  );
  console.log(`  floor: the same paid runs in-process (API)  ${inProcessPerSecond}/s  over MCP = ${inProcessRatio.toFixed(2)}× the in-process time`);
  console.log(`  floor: echo.say reads over MCP              ${readsPerSecond}/s  paid = ${readRatio.toFixed(2)}× the read's time`);
  if (Number.isFinite(serverCpuMs))
    console.log(
      `  CPU per paid call: server ${serverCpuMs.toFixed(2)} ms, the ${CLIENTS} SDK clients ${clientCpuMs.toFixed(2)} ms (${os.cpus().length} cores)`,
    );
  console.log(
    `  daily limit $${LIMIT_USD.toFixed(2)}: ${succeeded} paid calls succeeded (expected ${expected}), ${refused} refused at the limit; spent $${spentUsd.toFixed(2)}, ledger $${(spend.committedUsd + spend.reservedUsd).toFixed(2)}  ${noOverspend ? "✓ no overspend" : "✗ OVERSPEND"}`,
  );
  saveResults("mcp", {
    rounds: ROUNDS,
    actions: ACTIONS,
    toolsList: { ms: +listMs.toFixed(3), catalogMs: +catalogMs.toFixed(3), ratio: +listRatio.toFixed(2) },
    toolsCall: { ms: +callMs.toFixed(3), spawnedRunMs: +runMs.toFixed(1), speedup: +speedup.toFixed(1), target: TARGET_CALL_SPEEDUP, ok: callOk },
    paid: {
      clients: CLIENTS,
      perSecond,
      inProcessPerSecond,
      inProcessRatio: +inProcessRatio.toFixed(2),
      readsPerSecond,
      readRatio: +readRatio.toFixed(2),
      serverCpuMs: Number.isFinite(serverCpuMs) ? +serverCpuMs.toFixed(3) : null,
      clientCpuMs: +clientCpuMs.toFixed(3),
      limitUsd: LIMIT_USD,
      succeeded,
      refused,
      spentUsd: +spentUsd.toFixed(6),
      overspendUsd: Math.max(0, overspendUsd),
      target: TARGET_RESERVATIONS,
      ok: paidOk,
    },
  });
  if (!callOk || !paidOk) process.exitCode = 1;
} finally {
  await Promise.allSettled(clients.map((client) => client.close()));
  await toolctl?.close();
  await floorApi?.close();
  if (server && server.exitCode === null) {
    server.kill("SIGTERM");
    await new Promise((resolve) => server.once("exit", resolve));
  }
  rmSync(work, { recursive: true, force: true });
}
