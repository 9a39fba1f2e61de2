// Timing helpers shared by the benchmarks: median wall time of a spawned command over repeated runs.
import { spawnSync } from "node:child_process";

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

/** Interleaves the floor and the subject so that machine load affects both alike. */
export function compare(label, floorArgv, subjectArgv, options = {}) {
  const rounds = options.rounds ?? 5;
  const floor = [];
  const subject = [];
  for (let i = 0; i < rounds; i++) {
    floor.push(timeCommand(floorArgv, { ...options, runs: options.runs ?? 6, warmup: i === 0 ? 3 : 1 }).median);
    subject.push(timeCommand(subjectArgv, { ...options, runs: options.runs ?? 6, warmup: i === 0 ? 3 : 1 }).median);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const f = median(floor);
  const s = median(subject);
  const ratio = s / f;
  return { label, floorMs: +f.toFixed(1), subjectMs: +s.toFixed(1), ratio: +ratio.toFixed(2), target: options.target, ok: options.target ? ratio <= options.target : undefined };
}

export function report(results) {
  for (const r of results) {
    const verdict = r.target === undefined ? "" : r.ok ? `  ✓ (target ≤ ${r.target}×)` : `  ✗ (target ≤ ${r.target}×)`;
    console.log(`${r.label.padEnd(48)} ${String(r.subjectMs).padStart(7)} ms vs floor ${String(r.floorMs).padStart(7)} ms  = ${r.ratio.toFixed(2)}×${verdict}`);
  }
}
