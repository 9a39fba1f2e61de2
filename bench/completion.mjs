// Shell completion benchmark: what one TAB costs with 1,000 tools registered, against bare `node -e 0` measured in
// the same rounds (interleaved, medians; see lib.mjs). Target: every answer in under 150 ms.
//   - a command name (`toolctl ru<TAB>`): the spec only, no registry;
//   - a tool name (`toolctl run tool5<TAB>`): the registry opened through the API, 1,000 names read;
//   - a tool's actions (`toolctl run tool500.<TAB>`) and an action's --param names (`-p <TAB>`);
//   - the whole TAB through bash: the script from `toolctl completion bash` sourced, its function called, against
//     bash starting `node -e 0` the same way.
// Usage: npm run build && node bench/completion.mjs
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { compare, hasValgrind, instructions, report, saveResults, writeEchoTools } from "./lib.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = path.join(root, "bin", "toolctl");
const node = process.execPath;
const work = mkdtempSync(path.join(os.tmpdir(), "toolctl-bench-completion-"));
const home = path.join(work, "home");
const env = { ...process.env, TOOLCTL_HOME: home, NO_COLOR: "1" };
delete env.CI;
const TARGET_MS = 150;

function toolctl(args) {
  const result = spawnSync(node, [bin, ...args], { env, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`toolctl ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

try {
  const manifests = path.join(work, "manifests");
  writeEchoTools(manifests, 1000, "completion");
  toolctl(["import", manifests]);
  const script = path.join(work, "toolctl.bash");
  writeFileSync(script, toolctl(["completion", "bash"]));
  // Each answer is checked once, so the benchmark times what it should.
  const answers = [
    [["ru"], /^:\nrun\t/],
    [["run", "tool5"], /^:nospace\ntool5\.\t/],
    [["run", "tool500."], /^:\ntool500\.ping\t/],
    [["run", "tool500.ping", "-p", ""], /^:nospace\nn=\tinteger/],
  ];
  for (const [words, expected] of answers) {
    const out = toolctl(["__complete", ...words]);
    if (!expected.test(out)) throw new Error(`toolctl __complete ${words.join(" ")} answered:\n${out}`);
  }
  const bashCall = (words, program) => [
    "bash",
    "--norc",
    "--noprofile",
    "-c",
    `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _toolctl_complete; [[ \${#COMPREPLY[@]} -gt 0 ]]`,
    "bash",
    script,
    program,
    ...words,
  ];
  // The floor through bash: the same function, asking a "toolctl" that is `node -e 0` (and so answers nothing).
  const floorProgram = path.join(work, "node-e-0");
  writeFileSync(floorProgram, `#!/bin/sh\nexec "${node}" -e 0\n`, { mode: 0o755 });
  const bashFloor = [
    "bash",
    "--norc",
    "--noprofile",
    "-c",
    `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _toolctl_complete; true`,
    "bash",
    script,
    floorProgram,
    "run",
    "tool5",
  ];

  const rows = [
    ["toolctl __complete ru  (a command)", ["ru"]],
    ["toolctl __complete run tool5  (1,000 tools)", ["run", "tool5"]],
    ["toolctl __complete run tool500.  (actions)", ["run", "tool500."]],
    ["toolctl __complete run tool500.ping -p  (--param)", ["run", "tool500.ping", "-p", ""]],
  ];
  const results = rows.map(([label, words]) => compare(`${label}  vs  node -e 0`, [node, "-e", "0"], [node, bin, "__complete", ...words], { env }));
  results.push(compare("TAB in bash: run tool5  vs  bash asking node -e 0", bashFloor, bashCall(["run", "tool5"], bin), { env }));
  for (const result of results) {
    result.target = undefined;
    result.limitMs = TARGET_MS;
    result.ok = result.subjectMs <= TARGET_MS;
  }
  if (hasValgrind()) {
    const floor = instructions([node, "-e", "0"], env);
    rows.forEach(([, words], i) => {
      const subject = instructions([node, bin, "__complete", ...words], env);
      if (floor && subject) results[i].instructionRatio = +(subject / floor).toFixed(2);
    });
  }
  console.log(`node ${process.version}, ${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(2)}; 1,000 tools registered`);
  report(results);
  for (const r of results) console.log(`  ${r.ok ? "✓" : "✗"} ${r.label.split("  vs  ")[0]}: ${r.subjectMs} ms (limit ${TARGET_MS} ms)`);
  saveResults("completion", { results });
  if (results.some((r) => !r.ok)) process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
