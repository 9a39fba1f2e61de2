// In-process runs through the library API: the built API (dist/api/index.js) opened on a temporary home with the
// echo example imported, timing `toolctl.run("echo.say", …, { yes: true })` back to back on one thread. Target: at
// least 500 runs/s. Each round also times the same number of bare `node:http` GETs from this process to a loopback
// server in a child process (the cheapest real action a run could wrap); the ratio says how many bare GETs one run
// costs, measured in the same rounds. CPU time per run (process.cpuUsage, every thread of the process) is printed
// too: on a shared machine it moves less than wall time.
// Usage: npm run build && node bench/api.mjs   (RUNS per round, ROUNDS to change). Writes bench/results/latest.json.
import { spawn } from "node:child_process";
import { get } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { saveResults } from "./lib.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ROUNDS = Number(process.env.ROUNDS ?? 9);
const RUNS = Number(process.env.RUNS ?? 200);
const WARMUP = 100;
const TARGET_PER_SECOND = 500;

const work = mkdtempSync(path.join(os.tmpdir(), "toolctl-bench-api-"));
const env = { ...process.env, NO_COLOR: "1" };
delete env.CI;
delete env.TOOLCTL_HOME;

const server = spawn(
  process.execPath,
  [
    "-e",
    `const server = require("node:http").createServer((req, res) => {
  res.writeHead(200, { "content-type": "application/json" }); res.end(JSON.stringify({ ok: true, path: req.url }));
});
server.keepAliveTimeout = 0;
server.listen(0, "127.0.0.1", () => process.stdout.write(server.address().port + "\\n"));`,
  ],
  { stdio: ["ignore", "pipe", "inherit"] },
);
const port = await new Promise((resolve) => server.stdout.once("data", (d) => resolve(Number(String(d).trim()))));

/** One GET with `node:http` and the body parsed: the floor, one request per connection as a run would make. */
function bareGet(i) {
  return new Promise((resolve, reject) => {
    get(`http://127.0.0.1:${port}/bench?${i}`, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve(JSON.parse(body)));
    }).on("error", reject);
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timed(count, fn) {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) await fn(i);
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6 / count;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuMs: (used.user + used.system) / 1000 / count };
}

let toolctl;
try {
  const { openToolctl } = await import(pathToFileURL(path.join(root, "dist", "api", "index.js")).href);
  toolctl = await openToolctl({ home: path.join(work, "home"), cwd: work, env });
  const report = await toolctl.importManifests([path.join(root, "manifests", "examples", "echo.yaml")]);
  if (report.failed.length > 0) throw new Error(`import failed: ${JSON.stringify(report.failed)}`);
  const run = async (i) => {
    const message = `hello ${i}`;
    const result = await toolctl.run("echo.say", { message }, { yes: true });
    if (result.status !== "succeeded" || result.output?.message !== message) throw new Error(`echo.say: ${JSON.stringify(result)}`);
  };
  // Warm-up: JIT, the validator compiled on first run, the page cache, the statements and the keep-alive-free client.
  await timed(WARMUP, run);
  await timed(WARMUP, bareGet);

  const runs = [];
  const floors = [];
  const ratios = [];
  for (let round = 0; round < ROUNDS; round++) {
    const floor = await timed(RUNS, bareGet);
    const subject = await timed(RUNS, run);
    floors.push(floor);
    runs.push(subject);
    ratios.push(subject.wallMs / floor.wallMs);
  }
  const runMs = median(runs.map((r) => r.wallMs));
  const runCpuMs = median(runs.map((r) => r.cpuMs));
  const floorMs = median(floors.map((r) => r.wallMs));
  const perSecond = Math.round(median(runs.map((r) => 1000 / r.wallMs)));
  const perCpuSecond = Math.round(1000 / runCpuMs);
  const ratio = +median(ratios).toFixed(2);
  const ok = perSecond >= TARGET_PER_SECOND;
  const executions = await toolctl.countExecutions();

  console.log(
    `node ${process.version}, ${os.cpus().length} cores; medians of ${ROUNDS} rounds × ${RUNS} runs (${executions.toLocaleString("en")} executions on record at the end)`,
  );
  console.log(`in-process run of echo.say     ${runMs.toFixed(2)} ms (${perSecond}/s)  ${ok ? "✓" : "✗"} (target ≥ ${TARGET_PER_SECOND}/s)`);
  console.log(`  floor: a bare node:http GET  ${floorMs.toFixed(2)} ms (${Math.round(1000 / floorMs)}/s)  run = ${ratio.toFixed(2)}× the floor`);
  console.log(`  CPU time per run             ${runCpuMs.toFixed(2)} ms (${perCpuSecond} runs per CPU-second)`);
  saveResults("api", {
    rounds: ROUNDS,
    runsPerRound: RUNS,
    runMs: +runMs.toFixed(3),
    runCpuMs: +runCpuMs.toFixed(3),
    perSecond,
    perCpuSecond,
    floorMs: +floorMs.toFixed(3),
    ratio,
    target: TARGET_PER_SECOND,
    ok,
  });
  if (!ok) process.exitCode = 1;
} finally {
  await toolctl?.close();
  server.kill();
  rmSync(work, { recursive: true, force: true });
}
