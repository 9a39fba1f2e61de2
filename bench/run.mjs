// Start-up and run benchmarks. Every figure is a ratio to a floor measured in the same run:
//   - `toolctl --version`, `toolctl list` (1,000 tools registered) and `toolctl show` of one of them against bare
//     `node -e 0`;
//   - `toolctl run` of an HTTP action on a loopback server against a bare node script doing the same GET with
//     `node:http` (the honest floor: toolctl's client uses `node:http` too), against the same script as CommonJS
//     (no ESM loader, as toolctl's build; on Node 22 and later the ESM one also loads undici), and against one
//     doing it with `fetch` (the floor of earlier figures, which also pays for loading undici), timed in the same
//     rounds.
// Usage: npm run bench   (builds first). Prints a table and writes bench/results/latest.json.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { compare, hasValgrind, instructions, report, saveResults, writeEchoTools } from "./lib.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = path.join(root, "bin", "toolctl");
const node = process.execPath;
const work = mkdtempSync(path.join(os.tmpdir(), "toolctl-bench-"));
const home = path.join(work, "home");
// The compile cache in a directory of this run's own: warmed by each comparison's warm-up runs, as a user's is by
// the first run of a command. The `cache off` rows show what a first run (or TOOLCTL_COMPILE_CACHE=0) costs.
const env = { ...process.env, TOOLCTL_HOME: home, NO_COLOR: "1", TOOLCTL_COMPILE_CACHE: path.join(work, "compile-cache") };
delete env.CI;
const coldEnv = { ...env, TOOLCTL_COMPILE_CACHE: "0" };

function toolctl(args) {
  const result = spawnSync(node, [bin, ...args], { env, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`toolctl ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

// A loopback server in a child process, so its work does not share this process's event loop.
const serverScript = path.join(work, "server.mjs");
writeFileSync(
  serverScript,
  `import http from "node:http";
const server = http.createServer((req, res) => { res.writeHead(200, { "content-type": "application/json" }); res.end(JSON.stringify({ ok: true, path: req.url })); });
server.listen(0, "127.0.0.1", () => process.stdout.write(String(server.address().port) + "\\n"));`,
);
const server = spawn(node, [serverScript], { stdio: ["ignore", "pipe", "inherit"] });
const port = await new Promise((resolve) => server.stdout.once("data", (d) => resolve(Number(String(d).trim()))));

try {
  // 1,000 tools: written as manifests and imported in one command.
  const manifests = path.join(work, "manifests");
  writeEchoTools(manifests, 1000, "list");
  const started = Date.now();
  toolctl(["import", manifests]);
  const importMs = Date.now() - started;
  writeFileSync(
    path.join(work, "fetch.yaml"),
    `apiVersion: toolctl/v1
name: bench
description: Loopback HTTP for the run benchmark
runtime: http
baseUrl: http://127.0.0.1:${port}
http: { allowPlainHttp: true, allowPrivateNetworks: ["127.0.0.0/8"] }
actions:
  get:
    description: GET /bench
    kind: read
    request: { method: GET, path: /bench }
`,
  );
  toolctl(["import", path.join(work, "fetch.yaml")]);
  const fetchScript = path.join(work, "fetch.mjs");
  writeFileSync(fetchScript, `const r = await fetch("http://127.0.0.1:${port}/bench"); process.stdout.write(JSON.stringify(await r.json()) + "\\n");`);
  const get = `get("http://127.0.0.1:${port}/bench", (res) => {
  let body = "";
  res.setEncoding("utf8");
  res.on("data", (chunk) => (body += chunk));
  res.on("end", () => process.stdout.write(JSON.stringify(JSON.parse(body)) + "\\n"));
});`;
  const httpScript = path.join(work, "http-get.mjs");
  writeFileSync(httpScript, `import { get } from "node:http";\n${get}`);
  // The same GET as a CommonJS script: no ESM loader (toolctl's build has none either), and on Node 22 and later
  // no undici, which building `node:http`'s ESM namespace loads there for its WebSocket exports (40–50 ms).
  const httpScriptCjs = path.join(work, "http-get.cjs");
  writeFileSync(httpScriptCjs, `const { get } = require("node:http");\n${get}`);

  const results = [
    compare("toolctl --version  vs  node -e 0", [node, "-e", "0"], [node, bin, "--version"], { env, target: 1.6 }),
    compare("toolctl list (1,000 tools)  vs  node -e 0", [node, "-e", "0"], [node, bin, "list"], { env, target: 1.55 }),
    compare("toolctl show tool500  vs  node -e 0", [node, "-e", "0"], [node, bin, "show", "tool500"], { env, target: 1.55 }),
    // Target: 1.35× (the minimal script opening SQLite, one transaction and the GET measures 1.25×).
    ...compare("toolctl run bench.get  vs  bare node:http GET script", [node, httpScript], [node, bin, "run", "bench.get"], {
      env,
      target: 1.35,
      alsoAgainst: [
        { label: "toolctl run bench.get  vs  bare fetch script", argv: [node, fetchScript], target: 1.5 },
        { label: "toolctl run bench.get  vs  node:http script, CommonJS", argv: [node, httpScriptCjs] },
      ],
    }),
    compare("toolctl list, compile cache off  vs  node -e 0", [node, "-e", "0"], [node, bin, "list"], { env: coldEnv }),
    compare("toolctl run bench.get, compile cache off  vs  node:http", [node, httpScript], [node, bin, "run", "bench.get"], { env: coldEnv }),
  ];
  // Wall time on a shared VM jitters by ±15 ms; instruction counts are a repeatable second opinion.
  if (hasValgrind()) {
    const run = [node, bin, "run", "bench.get"];
    const pairs = [
      [
        [node, "-e", "0"],
        [node, bin, "--version"],
      ],
      [
        [node, "-e", "0"],
        [node, bin, "list"],
      ],
      [
        [node, "-e", "0"],
        [node, bin, "show", "tool500"],
      ],
      [[node, httpScript], run],
      [[node, fetchScript], run],
      [[node, httpScriptCjs], run],
      [[node, "-e", "0"], [node, bin, "list"], coldEnv],
      [[node, httpScript], run, coldEnv],
    ];
    const counted = new Map();
    const count = (argv, countEnv = env) => {
      const key = `${argv.join(" ")}\0${countEnv.TOOLCTL_COMPILE_CACHE}`;
      if (!counted.has(key)) counted.set(key, instructions(argv, countEnv));
      return counted.get(key);
    };
    pairs.forEach(([floorArgv, subjectArgv, subjectEnv], i) => {
      const floor = count(floorArgv);
      const subject = count(subjectArgv, subjectEnv);
      if (floor && subject) results[i].instructionRatio = +(subject / floor).toFixed(2);
    });
  }
  console.log(`node ${process.version}, ${os.cpus().length} cores; 1,000 manifests imported in ${importMs} ms`);
  report(results);
  saveResults("startup", { importMs, results });
  if (results.some((r) => r.ok === false)) process.exitCode = 1;
} finally {
  server.kill();
  rmSync(work, { recursive: true, force: true });
}
