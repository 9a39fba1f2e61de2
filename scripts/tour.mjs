// `npm start`: toolctl's main job on embedded defaults. A fresh home, the bundled example manifests
// imported, actions dry-run and then run (a pretend $5 payment approved with --yes), the budget, and the
// audit trail shown. Nothing leaves this machine.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const home = mkdtempSync(path.join(os.tmpdir(), "toolctl-tour-"));
const env = { ...process.env, TOOLCTL_HOME: home };
// Process tools run confined by bubblewrap on Linux. Without it, the tour says so and lets the calculator (a local
// program you can read in manifests/examples/calculator) run unconfined, in its own throwaway home only.
const hasBwrap = process.platform !== "linux" || spawnSync("bwrap", ["--version"], { stdio: "ignore" }).status === 0;
if (!hasBwrap && !env.TOOLCTL_PROCESS_CONFINEMENT) {
  env.TOOLCTL_PROCESS_CONFINEMENT = "optional";
  console.log(
    "note: bubblewrap (bwrap) is not installed, so this tour runs the calculator unconfined; install it (apt install bubblewrap) to see process tools run confined.",
  );
}

const steps = [
  ["import", "manifests/examples"],
  ["list"],
  ["show", "calculator.calculate"],
  ["run", "calculator.calculate", "--param", "operation=multiply", "--param", "a=6", "--param", "b=7", "--dry-run"],
  ["run", "calculator.calculate", "--param", "operation=multiply", "--param", "a=6", "--param", "b=7"],
  ["run", "weather.current", "--param", "latitude=48.85", "--param", "longitude=2.35", "--dry-run"],
  ["run", "echo.say", "--param", "message=hello from toolctl"],
  ["run", "piggybank.pay", "--param", "amount=5", "--param", "to=alice", "--dry-run"],
  ["run", "piggybank.pay", "--param", "amount=5", "--param", "to=alice", "--yes"],
  ["budget"],
  ["executions"],
  ["audit"],
  ["audit", "verify"],
];

console.log(`toolctl tour — home: ${home}\n`);
for (const args of steps) {
  console.log(`\n$ toolctl ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(" ")}`);
  const result = spawnSync(process.execPath, [path.join(root, "bin", "toolctl"), ...args], { env, cwd: root, stdio: "inherit" });
  if (result.status !== 0) {
    console.error(`\nstep failed with exit code ${result.status}`);
    process.exit(result.status ?? 1);
  }
}
console.log(`\nDone. Keep exploring with: TOOLCTL_HOME=${home} node bin/toolctl --help`);
