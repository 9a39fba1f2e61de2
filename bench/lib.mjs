// Timing helpers shared by the benchmarks: median wall time of a spawned command over repeated runs.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Merges one benchmark's figures into bench/results/latest.json under `section`, keeping the others'. */
export function saveResults(section, data) {
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "results", "latest.json");
  mkdirSync(path.dirname(file), { recursive: true });
  let latest = {};
  try {
    latest = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    // The first benchmark of this checkout.
  }
  writeFileSync(file, JSON.stringify({ ...latest, [section]: { date: new Date().toISOString(), node: process.version, ...data } }, null, 2));
}

export function timeCommand(argv, { runs = 25, warmup = 3, env = process.env, cwd } = {}) {
  const samples = [];
  for (let i = 0; i < warmup + runs; i++) {
    const start = process.hrtime.bigint();
    const result = spawnSync(argv[0], argv.slice(1), { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (result.status !== 0) throw new Error(`${argv.join(" ")} exited ${result.status}: ${result.stderr}`);
    if (i >= warmup) samples.push(ms);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)], min: samples[0], runs };
}

/**
 * Interleaves the floor and the subject so that machine load affects both alike. Each round times a few runs of
 * each back to back; the figure is the median of the per-round ratios, which drift in load cannot skew the way
 * it skews two separately taken medians. `alsoAgainst: [{ label, argv, target }]` adds more floors, timed in
 * the same rounds, each reported as a row of its own against the same subject timings.
 */
export function compare(label, floorArgv, subjectArgv, options = {}) {
  const rounds = options.rounds ?? 15;
  const runs = options.runs ?? 6;
  const floors = [{ label, argv: floorArgv, target: options.target, env: options.envFloor }, ...(options.alsoAgainst ?? [])];
  const floor = floors.map(() => []);
  const subject = [];
  for (let i = 0; i < rounds; i++) {
    const warmup = i === 0 ? 3 : 1;
    // `envFloor`: the floor runs in another environment (the same command on a smaller home, say).
    floors.forEach((f, k) => floor[k].push(timeCommand(f.argv, { ...options, env: f.env ?? options.env, runs, warmup }).median));
    subject.push(timeCommand(subjectArgv, { ...options, runs, warmup }).median);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const rows = floors.map((f, k) => {
    const ratio = median(subject.map((s, i) => s / floor[k][i]));
    return {
      label: f.label,
      floorMs: +median(floor[k]).toFixed(1),
      subjectMs: +median(subject).toFixed(1),
      ratio: +ratio.toFixed(2),
      target: f.target,
      ok: f.target ? ratio <= f.target : undefined,
    };
  });
  return options.alsoAgainst ? rows : rows[0];
}

export function report(results) {
  for (const r of results) {
    const verdict = r.target === undefined ? "" : r.ok ? `  ✓ (target ≤ ${r.target}×)` : `  ✗ (target ≤ ${r.target}×)`;
    const counted = r.instructionRatio === undefined ? "" : `  (instructions: ${r.instructionRatio.toFixed(2)}×)`;
    console.log(
      `${r.label.padEnd(52)} ${String(r.subjectMs).padStart(7)} ms vs floor ${String(r.floorMs).padStart(7)} ms  = ${r.ratio.toFixed(2)}×${verdict}${counted}`,
    );
  }
}

/** Instructions executed (valgrind callgrind): repeatable whatever else the machine is doing. */
export function instructions(argv, env) {
  const result = spawnSync("valgrind", ["--tool=callgrind", "--callgrind-out-file=/dev/null", ...argv], { env, encoding: "utf8" });
  const match = /Collected : (\d+)/.exec(result.stderr ?? "");
  return match ? Number(match[1]) : undefined;
}

export function hasValgrind() {
  return spawnSync("valgrind", ["--version"]).status === 0;
}

/** Writes `count` generated manifests into `dir` (created), each an echo tool `toolN` with one read action `ping`. */
export function writeEchoTools(dir, count, purpose) {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    writeFileSync(
      path.join(dir, `tool${String(i).padStart(4, "0")}.yaml`),
      `apiVersion: toolctl/v1
name: tool${i}
description: Generated tool number ${i} for the ${purpose} benchmark
runtime: echo
tags: [bench]
actions:
  ping: { description: Ping, kind: read, inputSchema: { type: object, properties: { n: { type: integer } } } }
`,
    );
  }
}
