// OpenAPI benchmarks, each a ratio to a floor measured in the same run:
//   - `toolctl import --openapi` of the biggest corpus specs and of a generated Stripe-sized spec (≈450
//     operations, several MB, heavy $ref use): wall time and peak memory against Node merely parsing the same
//     file (JSON.parse, or the yaml package for YAML); target at most 5x;
//   - `toolctl show` of one action of a 1,000-action tool against `node -e 0`; target at most 1.6x.
// Usage: node bench/openapi.mjs (after npm run build). The corpus specs are read from ../shared when present.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { generateStripeLikeSpec } from "./gen-openapi.mjs";
import { compare, hasValgrind, instructions, report, saveResults } from "./lib.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = path.join(root, "bin", "toolctl");
const hook = path.join(root, "bench", "rss-hook.cjs");
const node = process.execPath;
const corpus = path.resolve(root, "../shared/corpus/openapi");
const work = mkdtempSync(path.join(os.tmpdir(), "toolctl-bench-openapi-"));
const baseEnv = { ...process.env, NO_COLOR: "1" };
delete baseEnv.CI;

/** Wall time (ms) and peak RSS (KB) of one spawned node command, preloaded with the RSS hook. */
function measure(args, env) {
  const start = process.hrtime.bigint();
  const result = spawnSync(node, ["-r", hook, ...args], { env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`node ${args.join(" ")} exited ${result.status}: ${result.stderr.slice(0, 400)}`);
  const rss = Number(/__maxrss_kb=(\d+)/.exec(result.stderr)?.[1]);
  return { ms, rss };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Import of one spec against parsing it, interleaved over a few rounds; each import gets a fresh home. */
function importRatio(label, file, rounds = 5) {
  const parser = path.join(work, "parse.mjs");
  writeFileSync(
    parser,
    `import { readFileSync } from "node:fs";
const text = readFileSync(process.argv[2], "utf8");
const data = /\\.ya?ml$/i.test(process.argv[2]) ? (await import(${JSON.stringify(path.join(root, "node_modules/yaml/dist/index.js"))})).parse(text) : JSON.parse(text);
if (!data) process.exit(1);`,
  );
  const times = [];
  const memories = [];
  let floorMs = [];
  let subjectMs = [];
  let last;
  for (let i = 0; i < rounds; i++) {
    const floor = measure([parser, file], baseEnv);
    const home = path.join(work, `home-${label.replace(/\W+/g, "-")}-${i}`);
    const subject = measure([bin, "import", "--openapi", file, "--name", "bench", "--base-url", "https://api.example.com", "--json"], {
      ...baseEnv,
      TOOLCTL_HOME: home,
    });
    rmSync(home, { recursive: true, force: true });
    times.push(subject.ms / floor.ms);
    memories.push(subject.rss / floor.rss);
    floorMs.push(floor.ms);
    subjectMs.push(subject.ms);
    last = { floor, subject };
  }
  const ratio = median(times);
  const memoryRatio = median(memories);
  return {
    label: `import ${label}`,
    floorMs: +median(floorMs).toFixed(1),
    subjectMs: +median(subjectMs).toFixed(1),
    ratio: +ratio.toFixed(2),
    target: 5,
    ok: ratio <= 5 && memoryRatio <= 5,
    memoryRatio: +memoryRatio.toFixed(2),
    floorRssMb: +(last.floor.rss / 1024).toFixed(1),
    subjectRssMb: +(last.subject.rss / 1024).toFixed(1),
    sizeKb: Math.round(readFileSync(file).length / 1024),
  };
}

try {
  const specs = [];
  const stripe = path.join(work, "stripe-like.json");
  writeFileSync(stripe, JSON.stringify(generateStripeLikeSpec(), null, 2));
  specs.push(["generated Stripe-sized spec", stripe]);
  if (existsSync(path.join(corpus, "index.json"))) {
    const index = JSON.parse(readFileSync(path.join(corpus, "index.json"), "utf8"));
    const biggest = index
      .filter((entry) => entry.ops > 0)
      .sort((a, b) => b.size - a.size)
      .slice(0, 3);
    for (const entry of biggest) specs.push([`corpus ${entry.file}`, path.join(corpus, entry.file)]);
  } else {
    console.log("(../shared/corpus/openapi not found: corpus specs skipped)");
  }
  const results = specs.map(([label, file]) => importRatio(label, file));

  // A 1,000-action tool: the generator at about 200 resources.
  const big = path.join(work, "thousand.json");
  const spec = generateStripeLikeSpec({ resources: 200 });
  writeFileSync(big, JSON.stringify(spec));
  const env = { ...baseEnv, TOOLCTL_HOME: path.join(work, "home-show") };
  const imported = spawnSync(node, [bin, "import", "--openapi", big, "--name", "big", "--base-url", "https://api.example.com", "--json"], {
    env,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (imported.status !== 0) throw new Error(imported.stderr);
  const actions = JSON.parse(imported.stdout).openapi.imported;
  const action = actions[Math.floor(actions.length / 2)].action;
  results.push(
    compare(`show one action of a ${actions.length}-action tool  vs  node -e 0`, [node, "-e", "0"], [node, bin, "show", `big.${action}`], {
      env,
      target: 1.6,
      rounds: 10,
      runs: 5,
    }),
    compare(`list --search in a ${actions.length}-action tool  vs  node -e 0`, [node, "-e", "0"], [node, bin, "list", "--search", action.slice(0, 12)], {
      env,
      rounds: 10,
      runs: 5,
    }),
  );
  // Wall time on a shared VM jitters by ±15 ms; instruction counts are a repeatable second opinion.
  if (hasValgrind()) {
    const floor = instructions([node, "-e", "0"], env);
    const shown = results.length - 2;
    [
      [node, bin, "show", `big.${action}`],
      [node, bin, "list", "--search", action.slice(0, 12)],
    ].forEach((argv, i) => {
      const subject = instructions(argv, env);
      if (floor && subject) results[shown + i].instructionRatio = +(subject / floor).toFixed(2);
    });
  }
  console.log(`node ${process.version}, ${os.cpus().length} cores`);
  for (const r of results.filter((r) => r.memoryRatio !== undefined)) {
    console.log(
      `${r.label.padEnd(70)} ${r.sizeKb} KB: ${r.subjectMs} ms vs parse ${r.floorMs} ms = ${r.ratio}x; peak memory ${r.subjectRssMb} MB vs ${r.floorRssMb} MB = ${r.memoryRatio}x ${r.ok ? "✓" : "✗"} (target ≤ 5x)`,
    );
  }
  report(results.filter((r) => r.memoryRatio === undefined));
  saveResults("openapi", { results });
  if (results.some((r) => r.ok === false)) process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
