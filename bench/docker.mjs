// Docker benchmark: a trivial Docker action through `toolctl run` against a plain `docker run --rm` of the same
// image and command, timed back to back in the same run (target: at most 1.3x). Needs a running engine and the
// locally built images (npm run images). Usage: node bench/docker.mjs (after npm run build).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { compare, report, saveResults } from "./lib.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = path.join(root, "bin", "toolctl");
const node = process.execPath;
const image = "toolctl-test/busybox:1";

if (spawnSync("docker", ["image", "inspect", image], { stdio: "ignore" }).status !== 0) {
  console.error(`bench/docker.mjs: image ${image} is missing or the engine is down; run: npm run images`);
  process.exit(1);
}
const work = mkdtempSync(path.join(os.tmpdir(), "toolctl-bench-docker-"));
const env = { ...process.env, TOOLCTL_HOME: path.join(work, "home"), NO_COLOR: "1" };
delete env.CI;
try {
  writeFileSync(
    path.join(work, "trivial.yaml"),
    `apiVersion: toolctl/v1
name: trivial
description: The smallest Docker action
runtime: docker
image: ${image}
actions:
  noop: { description: Runs true, kind: read, command: ["true"], stdin: none, output: text }
`,
  );
  const imported = spawnSync(node, [bin, "import", path.join(work, "trivial.yaml")], { env, encoding: "utf8" });
  if (imported.status !== 0) throw new Error(imported.stderr);
  // The floor gets the same hardening flags toolctl applies, so both start the same kind of container.
  const floor = [
    "docker",
    "run",
    "--rm",
    "--network",
    "none",
    "--read-only",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--user",
    "65534:65534",
    "--pids-limit",
    "256",
    "--memory",
    "512m",
    "--cpus",
    "0.5",
    "--init",
    image,
    "true",
  ];
  const results = [compare("toolctl run (docker)  vs  docker run --rm", floor, [node, bin, "run", "trivial.noop"], { env, target: 1.3, rounds: 10, runs: 4 })];
  console.log(
    `node ${process.version}, ${os.cpus().length} cores, ${spawnSync("docker", ["version", "--format", "engine {{.Server.Version}}"], { encoding: "utf8" }).stdout.trim()}`,
  );
  report(results);
  saveResults("docker", { results });
  if (results.some((r) => r.ok === false)) process.exitCode = 1;
} finally {
  spawnSync(node, [bin, "tool", "revoke", "trivial"], { env, stdio: "ignore" });
  rmSync(work, { recursive: true, force: true });
}
