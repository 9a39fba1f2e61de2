/**
 * The docker runtime end to end, against a real engine: the built binary runs each action in a fresh container,
 * and the tests look at what happened from inside the container (probes), in toolctl's JSON and exit code, and in
 * the engine itself (docker ps / inspect / events / volume ls).
 *
 * One home for the whole file, with every fixture tool imported once; each test uses its own tool names, so
 * containers and volumes never collide. Gated like the corpus tests: skipped without an engine, except under CI.
 */
import { spawn } from "node:child_process";
import { chmodSync, chownSync, realpathSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { baseEnv, binPath, examplesDir, repoRoot, runCli, runJson, tempDir, writeFiles, type CliResult } from "./helpers.js";
import {
  BUSYBOX_IMAGE,
  CALC_IMAGE,
  MiB,
  SANDBOX_UID,
  containersWith,
  docker,
  engineEnv,
  engineEvents,
  engineNow,
  engineUp,
  ensureImages,
  importInto,
  inCI,
  parseAuditLines,
  removeHomeVolumes,
  skipDocker,
  sleep,
  stateVolumeOf,
  volumeNames,
  shellTool,
} from "./fixtures/docker/engine.js";

const HOG = "const kept = []; for (;;) kept.push(Buffer.alloc(8 * 1024 * 1024, 1));";

/** A process tool that can run in Docker, working in `cwd` (relative to its manifest); its one action, `where`, runs `command`. */
function whereTool(name: string, cwd: string, command: string): string {
  return `apiVersion: toolctl/v1
name: ${name}
description: a process tool working in ${cwd}
runtime: process
image: ${BUSYBOX_IMAGE}
process: { env: [PATH], cwd: ${cwd}, timeoutSeconds: 20 }
actions:
  where:
    description: says where it runs
    kind: read
    stdin: none
    output: text
    command: ${command}
`;
}

const MANIFESTS: Record<string, string> = {
  // pids 32 is below the default (256): no grant needed. No state volume, so nothing is mounted.
  "probe.yaml": shellTool("sbx-probe", "{ pids: 32, storageMb: 0, timeoutSeconds: 20 }"),
  "conc.yaml": shellTool("sbx-conc", "{ storageMb: 5, timeoutSeconds: 20 }"),
  "dry.yaml": shellTool("sbx-dry", "{ memoryMb: 96, cpus: 0.25, pids: 48, storageMb: 5, timeoutSeconds: 7 }"),
  "hog.yaml": `apiVersion: toolctl/v1
name: sbx-hog
description: allocates memory until it is killed
runtime: docker
image: ${CALC_IMAGE}
permissions: { memoryMb: 64, storageMb: 0, timeoutSeconds: 20 }
actions:
  read:
    description: a read that eats memory
    kind: read
    stdin: none
    output: text
    command: [node, -e, ${JSON.stringify(HOG)}]
  create:
    description: a create that eats memory
    kind: create
    stdin: none
    output: text
    command: [node, -e, ${JSON.stringify(HOG)}]
`,
  "sleep.yaml": `apiVersion: toolctl/v1
name: sbx-sleep
description: sleeps past its timeout
runtime: docker
image: ${BUSYBOX_IMAGE}
permissions: { storageMb: 0, timeoutSeconds: 2 }
actions:
  read:
    description: a read that sleeps
    kind: read
    stdin: none
    output: text
    command: [sleep, "30"]
  create:
    description: a create that sleeps
    kind: create
    stdin: none
    output: text
    command: [sleep, "30"]
  long:
    description: sleeps, with a timeout well past the test's Ctrl-C
    kind: read
    stdin: none
    output: text
    timeoutSeconds: 60
    command: [sleep, "60"]
`,
  "io.yaml": `apiVersion: toolctl/v1
name: sbx-io
description: input, output and exit codes
runtime: docker
image: ${BUSYBOX_IMAGE}
permissions: { storageMb: 0, timeoutSeconds: 20 }
actions:
  echo:
    description: cat echoes the JSON input back as JSON output
    kind: read
    inputSchema: { type: object }
    command: [cat]
  text:
    description: text output
    kind: read
    stdin: none
    output: text
    inputSchema: { type: object, required: [word], properties: { word: { type: string } } }
    command: [echo, "hello {{ input.word }}"]
  fail:
    description: writes to stderr and exits 3
    kind: read
    stdin: none
    output: text
    command: [sh, -c, "echo some output; echo first stderr line >&2; echo the last stderr line >&2; exit 3"]
  slow:
    description: busy for a while, then answers
    kind: read
    stdin: none
    command: [sh, -c, "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; sleep 0.3; echo '{\\"ok\\":true}'"]
`,
  // A process tool that names an image: it runs directly unless sandboxed, then in busybox with this directory at /tool.
  "proc.yaml": `apiVersion: toolctl/v1
name: sbx-proc
description: a process tool that can run in Docker
runtime: process
image: ${BUSYBOX_IMAGE}
process: { env: [PATH], timeoutSeconds: 20 }
actions:
  look:
    description: reads its own files, tries to write next to them
    kind: read
    stdin: none
    output: text
    command: [sh, -c, "cat {{ tool.dir }}/hello.txt; touch {{ tool.dir }}/new 2>&1; echo touch=$?"]
  where:
    description: says where it runs
    kind: read
    stdin: none
    output: text
    command: [pwd]
`,
  // Process tools with a working directory of their own: inside their directory (as /tool/work in the container), and outside it.
  "proc-cwd.yaml": whereTool("sbx-cwd", "work", '[sh, -c, "pwd; cat note.txt"]'),
  "work/note.txt": "a note in work\n",
  "proc-outside.yaml": whereTool("sbx-outside", "..", "[pwd]"),
  "hello.txt": "hello from the tool dir\n",
  "missing.yaml": shellTool("sbx-missing", "{ storageMb: 0 }", "toolctl-test/missing-image:1"),
  // 127.0.0.1 is a registry host for the engine: nothing listens there, so a pull fails at once.
  "unpullable.yaml": shellTool("sbx-unpullable", "{ storageMb: 0 }", "127.0.0.1/toolctl-test/missing-image:1"),
};

let home = "";
let toolsDir = "";
const homes: string[] = [];

function cli(args: string[], env: Record<string, string | undefined> = {}, timeoutMs?: number): Promise<CliResult> {
  return runCli(args, { home, env: { ...engineEnv(), ...env }, timeoutMs });
}

function json(args: string[], env: Record<string, string | undefined> = {}, timeoutMs?: number) {
  return runJson(args, { home, env: { ...engineEnv(), ...env }, timeoutMs });
}

/** Runs tool.sh with a script; the script's output (stdout, text) is in json.output. */
function sh(tool: string, script: string, env: Record<string, string | undefined> = {}) {
  return json(["run", `${tool}.sh`, "--params", JSON.stringify({ script })], env);
}

function why(result: CliResult): string {
  return `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
}

/** Polls until a running container carries this label, and returns its id. */
async function runningContainer(label: string, limitMs = 15_000): Promise<string> {
  for (let waited = 0; waited < limitMs; waited += 100) {
    const { stdout } = await docker(["ps", "-q", "--no-trunc", "--filter", `label=${label}`, "--filter", "status=running"]);
    const id = stdout.split("\n").find(Boolean);
    if (id) return id;
    await sleep(100);
  }
  throw new Error(`no running container with label ${label} within ${limitMs} ms`);
}

/** The engine saw exactly one container for this execution, created and then destroyed; none is left. */
async function createdAndRemoved(executionId: string, since: string): Promise<void> {
  const events = await engineEvents(since, [`label=io.toolctl.execution=${executionId}`, "type=container"]);
  const actions = events.map((e) => e.Action);
  expect(
    actions.filter((a) => a === "create"),
    `events: ${actions.join(", ")}`,
  ).toHaveLength(1);
  expect(
    actions.filter((a) => a === "destroy"),
    `events: ${actions.join(", ")}`,
  ).toHaveLength(1);
  expect(await containersWith(`io.toolctl.execution=${executionId}`)).toEqual([]);
}

describe("docker engine", () => {
  it.runIf(inCI)("is reachable in CI", () => {
    expect(engineUp, "docker info failed: CI must run the Docker sandbox tests against a real engine").toBe(true);
  });
});

describe.skipIf(skipDocker)("docker sandbox", () => {
  beforeAll(async () => {
    await ensureImages();
    home = tempDir("toolctl-docker-sbx-");
    homes.push(home);
    toolsDir = writeFiles(MANIFESTS);
    // The process tool's directory is bind-mounted at /tool, where the sandbox user must be able to read it.
    chmodSync(toolsDir, 0o755);
    await importInto(home, [toolsDir, examplesDir]);
  }, 240_000);

  afterAll(async () => {
    await removeHomeVolumes(homes);
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Probes from inside the container (reliability.md §5.5)

  it("runs as 65534 with no capabilities, no-new-privileges and seccomp filtering; docker inspect agrees", async () => {
    const probe = await sh(
      "sbx-probe",
      "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; echo uid=$(id -u) gid=$(id -g)",
    );
    expect(probe.code, why(probe)).toBe(0);
    const status = Object.fromEntries(
      (probe.json.output as string)
        .split("\n")
        .filter((l) => l.includes(":"))
        .map((l) => l.split(/:\s*/) as [string, string]),
    );
    expect(status).toMatchObject({
      CapInh: "0000000000000000",
      CapPrm: "0000000000000000",
      CapEff: "0000000000000000",
      CapBnd: "0000000000000000",
      CapAmb: "0000000000000000",
      NoNewPrivs: "1",
      Seccomp: "2",
    });
    expect(probe.json.output).toContain(`uid=${SANDBOX_UID} gid=${SANDBOX_UID}`);

    // The container's configuration, read from the engine while it runs.
    const pending = sh("sbx-probe", "sleep 2; echo done");
    const id = await runningContainer("io.toolctl.tool=sbx-probe");
    const [info] = JSON.parse((await docker(["inspect", id])).stdout) as Array<Record<string, any>>;
    const done = await pending;
    expect(done.code, why(done)).toBe(0);
    const host = info!.HostConfig;
    expect(info!.Config.User).toBe("65534:65534");
    expect(host.Privileged).toBe(false);
    expect(host.CapAdd ?? []).toEqual([]);
    expect(host.CapDrop).toEqual(["ALL"]);
    expect(host.SecurityOpt).toContain("no-new-privileges");
    expect(JSON.stringify(host.SecurityOpt)).not.toMatch(/seccomp|apparmor=unconfined/);
    expect(host.ReadonlyRootfs).toBe(true);
    expect(host.NetworkMode).toBe("none");
    expect(host.PidsLimit).toBe(32);
    expect(host.Memory).toBe(512 * MiB);
    expect(host.MemorySwap).toBe(512 * MiB);
    expect(host.NanoCpus).toBe(0.5e9);
    expect(host.PidMode).toBe("");
    expect(host.IpcMode).not.toBe("host");
    expect(host.Devices ?? []).toEqual([]);
    expect(host.Binds ?? []).toEqual([]);
    expect(host.Tmpfs).toEqual({ "/tmp": expect.stringContaining("noexec") });
    expect(JSON.stringify(info)).not.toContain("docker.sock");
    expect(info!.Config.Labels["io.toolctl.execution"]).toBe(done.json.executionId);
  });

  it("has a read-only root (EROFS), a writable but noexec /tmp, and mount and unshare fail", async () => {
    const probe = await sh(
      "sbx-probe",
      [
        "exec 2>&1",
        "touch /x; echo touch_root=$?",
        "echo kept > /tmp/probe && cat /tmp/probe; echo write_tmp=$?",
        "cp /bin/busybox /tmp/bb && /tmp/bb true; echo exec_tmp=$?",
        "grep ' / ' /proc/mounts",
        "mount -t tmpfs none /tmp; echo mount=$?",
        "unshare -U true; echo unshare_user=$?",
        "unshare -m true; echo unshare_mount=$?",
      ].join("\n"),
    );
    expect(probe.code, why(probe)).toBe(0);
    const out = probe.json.output as string;
    expect(out).toMatch(/touch: \/x: Read-only file system/);
    expect(out).toMatch(/touch_root=1/);
    expect(out).toMatch(/kept\nwrite_tmp=0/);
    expect(out).toMatch(/exec_tmp=(?!0)\d+/);
    expect(out).toMatch(/^\S+ \/ \S+ ro[,\s]/m);
    expect(out).toMatch(/mount=(?!0)\d+/);
    expect(out).toMatch(/unshare: unshare\(0x10000000\): Operation not permitted\nunshare_user=(?!0)\d+/);
    expect(out).toMatch(/unshare_mount=(?!0)\d+/);
  });

  it("has no network: no route, addresses on loopback only, and a connect to 1.1.1.1:443 is unreachable", async () => {
    const probe = await sh(
      "sbx-probe",
      "exec 2>&1; echo \"routes=[$(ip route)]\"; echo \"addresses=[$(ip -o addr | awk '{print $2}' | sort -u | tr '\\n' ' ')]\"; nc -w 2 1.1.1.1 443 </dev/null; echo nc=$?",
    );
    expect(probe.code, why(probe)).toBe(0);
    const out = probe.json.output as string;
    expect(out).toContain("routes=[]");
    // Only loopback has an address (a kernel may add idle tunnel devices to every namespace, never with an address).
    expect(out).toContain("addresses=[lo ]");
    expect(out).toMatch(/nc: can't connect to remote host \(1\.1\.1\.1\): Network is unreachable\nnc=1/);
  });

  it("caps a process flood at the pids limit (32): fewer than 32 of 200 background sleeps start", async () => {
    const started = Date.now();
    // The inner shell counts each fork that worked (in /tmp, without forking) and dies at the first that fails; the
    // outer one then counts the processes left without forking (glob, read and echo are built in).
    const probe = await sh(
      "sbx-probe",
      [
        "sh -c 'n=0; for i in $(seq 1 200); do sleep 20 & n=$((n+1)); echo $n > /tmp/started; done' 2>/dev/null; echo flood_exit=$?",
        "read n < /tmp/started; echo started=$n",
        "set -- /proc/[0-9]*; echo procs=$#",
        "read max < /sys/fs/cgroup/pids/pids.max 2>/dev/null || read max < /sys/fs/cgroup/pids.max; echo max=$max",
      ].join("\n"),
    );
    expect(probe.code, why(probe)).toBe(0);
    const out = probe.json.output as string;
    const count = (name: string) => Number(new RegExp(`${name}=(\\d+)`).exec(out)?.[1]);
    expect(count("started"), out).toBeGreaterThan(10);
    expect(count("started"), out).toBeLessThan(32);
    // docker-init, this shell and the sleeps: never more than the limit.
    expect(count("procs"), out).toBeLessThanOrEqual(32);
    expect(count("procs"), out).toBeGreaterThanOrEqual(count("started"));
    expect(out).toMatch(/flood_exit=(?!0)\d+/);
    expect(out).toContain("max=32");
    // The sleeps die with the container: the run does not wait 20 s for them.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(await containersWith(`io.toolctl.execution=${probe.json.executionId}`)).toEqual([]);
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Limits: memory, time

  it("kills a memory hog at its limit: resource_limit, OOM-killed at 64 MB; exit 1 for a read, 5 for a create", async () => {
    const read = await json(["run", "sbx-hog.read"]);
    expect(read.code, why(read)).toBe(1);
    expect(read.json.status).toBe("failed");
    expect(read.json.error).toMatchObject({ category: "resource_limit", exitCode: 1 });
    expect(read.json.error.message).toMatch(/OOM-killed/);
    expect(read.json.error.message).toMatch(/64 MB/);
    expect(read.json.resources.peakMemoryBytes).toBeGreaterThan(32 * MiB);
    expect(read.json.resources.peakMemoryBytes).toBeLessThanOrEqual(64 * MiB);

    const create = await json(["run", "sbx-hog.create"]);
    expect(create.code, why(create)).toBe(5);
    expect(create.json.status).toBe("unknown");
    expect(create.json.error).toMatchObject({ category: "resource_limit", exitCode: 5, code: "unknown_outcome" });
    expect(create.json.error.message).toMatch(/OOM-killed at its memory limit of 64 MB/);
    expect(create.json.error.message).toMatch(/check before running it again/);
  });

  it("kills a sleep past timeoutSeconds 2: a read fails (exit 1), a create is unknown (exit 5), both in well under 30 s", async () => {
    const [read, create] = await Promise.all(
      ["read", "create"].map(async (action) => {
        const started = Date.now();
        const result = await json(["run", `sbx-sleep.${action}`]);
        return { ...result, took: Date.now() - started };
      }),
    );
    expect(read!.code, why(read!)).toBe(1);
    expect(read!.json.status).toBe("failed");
    expect(read!.json.error).toMatchObject({ category: "timeout", exitCode: 1 });
    expect(read!.json.error.message).toMatch(/timed out after 2s/);
    expect(create!.code, why(create!)).toBe(5);
    expect(create!.json.status).toBe("unknown");
    expect(create!.json.error).toMatchObject({ category: "timeout", exitCode: 5 });
    for (const result of [read!, create!]) {
      expect(result.took).toBeGreaterThanOrEqual(2_000);
      expect(result.took).toBeLessThan(12_000);
    }
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Input, output, exit codes, resources

  it("feeds the input as JSON on stdin and reads JSON output back", async () => {
    const input = { a: 1, nested: { list: [1, 2, "three"], flag: true }, text: 'é ünïcode "quoted" \\ back' };
    const result = await json(["run", "sbx-io.echo", "--params", JSON.stringify(input)]);
    expect(result.code, why(result)).toBe(0);
    expect(result.json.output).toEqual(input);
    expect(result.json.request).toMatchObject({ stdin: "input as JSON", output: "json" });
  });

  it("keeps text output as text", async () => {
    const result = await json(["run", "sbx-io.text", "-p", "word=world"]);
    expect(result.code, why(result)).toBe(0);
    expect(result.json.output).toBe("hello world");
    expect(result.json.warnings).toEqual([]);
    // Output that is not UTF-8 ("café" in Latin-1) is said to be, not replaced silently.
    const latin1 = await sh("sbx-probe", "printf 'caf\\351\\n'");
    expect(latin1.code, why(latin1)).toBe(0);
    expect(latin1.json.output).toBe("caf\uFFFD");
    expect(latin1.json.warnings).toEqual(["container wrote stdout that is not valid UTF-8: the bytes that are not read as U+FFFD (\uFFFD)"]);
  });

  it("keeps a non-zero exit code and the stderr tail: failed, exit 1", async () => {
    const result = await json(["run", "sbx-io.fail"]);
    expect(result.code, why(result)).toBe(1);
    expect(result.json.status).toBe("failed");
    expect(result.json.error.message).toBe("container exited with code 3: the last stderr line");
    const shown = await json(["executions", "show", result.json.executionId]);
    expect(shown.json.status).toBe("failed");
    expect(shown.json.request.result).toMatchObject({ exitCode: 3, stderr: expect.stringContaining("first stderr line\nthe last stderr line") });
  });

  it("records the resources used on the execution: duration, peak memory, CPU time", async () => {
    const result = await json(["run", "sbx-io.slow"]);
    expect(result.code, why(result)).toBe(0);
    expect(result.json.output).toEqual({ ok: true });
    const shown = await json(["executions", "show", result.json.executionId]);
    expect(shown.code, why(shown)).toBe(0);
    const { resources } = shown.json;
    expect(resources.durationMs).toBeGreaterThanOrEqual(300);
    expect(typeof resources.peakMemoryBytes).toBe("number");
    expect(resources.peakMemoryBytes).toBeGreaterThan(0);
    expect(typeof resources.cpuTimeMs).toBe("number");
    expect(resources.cpuTimeMs).toBeGreaterThanOrEqual(0);
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Cleanup, concurrency

  it("leaves no container behind after success, failure, timeout, OOM and Ctrl-C (exit 130)", async () => {
    const since = engineNow();
    const runs = await Promise.all([
      json(["run", "sbx-io.text", "-p", "word=bye"]),
      json(["run", "sbx-io.fail"]),
      json(["run", "sbx-sleep.read"]),
      json(["run", "sbx-hog.read"]),
    ]);
    expect(runs.map((r) => r.json.status)).toEqual(["succeeded", "failed", "failed", "failed"]);
    expect(runs.map((r) => r.json.error?.category ?? null)).toEqual([null, "other", "timeout", "resource_limit"]);

    // Ctrl-C while the container runs.
    const child = spawn(process.execPath, [binPath, "run", "sbx-sleep.long", "--json"], {
      env: baseEnv({ ...engineEnv(), TOOLCTL_HOME: home }),
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
    const container = await runningContainer("io.toolctl.action=long");
    const [info] = JSON.parse((await docker(["inspect", container])).stdout) as Array<Record<string, any>>;
    const interruptedId = info!.Config.Labels["io.toolctl.execution"] as string;
    const sent = Date.now();
    child.kill("SIGINT");
    const code = await closed;
    expect(code, `stdout: ${stdout}\nstderr: ${stderr}`).toBe(130);
    expect(Date.now() - sent).toBeLessThan(10_000);
    const out = JSON.parse(stdout);
    expect(out.executionId).toBe(interruptedId);
    expect(out.error.message).toMatch(/interrupted: the container was killed and removed/);
    const shown = await json(["executions", "show", interruptedId]);
    expect(shown.json.status).toBe("failed");

    for (const id of [...runs.map((r) => r.json.executionId as string), interruptedId]) await createdAndRemoved(id, since);
  });

  it("SIGTERM to toolctl mid-run does not leave the container running past it (nor the execution 'running')", async () => {
    const child = spawn(process.execPath, [binPath, "run", "sbx-sleep.long", "--json"], {
      env: baseEnv({ ...engineEnv(), TOOLCTL_HOME: home }),
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const closed = new Promise<number | null>((resolve) => child.on("close", (code, signal) => resolve(code ?? (signal ? 128 + 15 : null))));
    const container = await runningContainer("io.toolctl.action=long");
    const [info] = JSON.parse((await docker(["inspect", container])).stdout) as Array<Record<string, any>>;
    const executionId = info!.Config.Labels["io.toolctl.execution"] as string;
    child.kill("SIGTERM");
    const code = await closed;
    try {
      let left = await containersWith(`io.toolctl.execution=${executionId}`);
      for (let waited = 0; left.length > 0 && waited < 5_000; waited += 250) {
        await sleep(250);
        left = await containersWith(`io.toolctl.execution=${executionId}`);
      }
      const state = left.length ? (await docker(["ps", "-a", "--filter", `id=${left[0]}`, "--format", "{{.Status}}"])).stdout.trim() : "";
      expect(left, `toolctl exited ${code} on SIGTERM; its container ${state ? `is still there (${state})` : "was removed"}`).toEqual([]);
      const shown = await json(["executions", "show", executionId]);
      expect(shown.json.status, "the execution was left as 'running' forever").not.toBe("running");
    } finally {
      // Never leave a 60 s sleep behind for the rest of the suite.
      const left = await containersWith(`io.toolctl.execution=${executionId}`);
      if (left.length) await docker(["rm", "-f", ...left], true);
    }
  });

  it("runs six actions concurrently on one home, sharing a state volume created on the fly", async () => {
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => sh("sbx-conc", `echo ${i} > /state/run-${i} && cat /state/run-${i}`)));
    for (const [i, result] of results.entries()) {
      expect(result.code, why(result)).toBe(0);
      expect(result.json.status).toBe("succeeded");
      expect(result.json.output).toBe(String(i));
    }
    expect(new Set(results.map((r) => r.json.executionId)).size).toBe(6);
    const listed = await sh("sbx-conc", "ls /state | grep run- | sort | tr '\\n' ' '");
    expect(listed.json.output.trim()).toBe("run-0 run-1 run-2 run-3 run-4 run-5");
    expect((await volumeNames()).filter((v) => v === stateVolumeOf("sbx-conc", home))).toHaveLength(1);
    expect(await containersWith("io.toolctl.tool=sbx-conc")).toEqual([]);
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Dry run, --sandbox

  it("shows the container in a dry run and creates nothing: no container, no volume", async () => {
    // sbx-dry never runs for real in this file: its volume does not exist, and a dry run must not create it.
    const volume = stateVolumeOf("sbx-dry", home);
    expect(await volumeNames()).not.toContain(volume);
    const before = engineNow();
    const dry = await json(["run", "sbx-dry.sh", "--params", JSON.stringify({ script: "echo hi" }), "--dry-run"]);
    expect(dry.code, why(dry)).toBe(0);
    expect(dry.json.status).toBe("dry_run");
    expect(dry.json.request).toEqual({
      runtime: "docker",
      image: BUSYBOX_IMAGE,
      command: ["sh", "-c", "echo hi"],
      user: "65534:65534",
      network: "none",
      readOnlyRoot: true,
      tmpfs: { "/tmp": expect.stringContaining("noexec") },
      capabilities: "all dropped",
      noNewPrivileges: true,
      limits: { memoryMb: 96, swap: "none", cpus: 0.25, pids: 48 },
      mounts: [{ type: "volume", source: volume, target: "/state", quotaMb: 5 }],
      env: [],
      timeoutSeconds: 7,
      stdin: "none",
      output: "text",
      engine: process.env.DOCKER_HOST ? expect.any(String) : "unix:///var/run/docker.sock",
    });
    const human = await cli(["run", "sbx-dry.sh", "--params", JSON.stringify({ script: "echo hi" }), "--dry-run"]);
    expect(human.code, why(human)).toBe(0);
    const shown = human.stdout + human.stderr;
    expect(shown).toContain(`image: ${BUSYBOX_IMAGE}`);
    expect(shown).toContain("user: 65534:65534, network: none");
    expect(shown).toContain("limits: 96 MB memory (no swap), 0.25 CPU, 48 processes");
    expect(shown).toContain(`mount: ${volume} at /state (quota 5 MB)`);

    // Nothing on the engine since the dry runs started: no container for the tool, no volume created.
    const events = await engineEvents(before);
    const touched = events.filter((e) => e.Actor.Attributes["io.toolctl.tool"] === "sbx-dry" || e.Actor.ID === volume || e.Actor.Attributes.name === volume);
    expect(touched, JSON.stringify(touched)).toEqual([]);
    expect(await volumeNames()).not.toContain(volume);
    expect(await containersWith("io.toolctl.tool=sbx-dry")).toEqual([]);

    // A dry run does not even need the engine.
    const offline = await json(["run", "sbx-dry.sh", "--params", JSON.stringify({ script: "echo hi" }), "--dry-run"], {
      DOCKER_HOST: "unix:///nonexistent.sock",
    });
    expect(offline.code, why(offline)).toBe(0);
    // The same container, only on the engine DOCKER_HOST names.
    expect({ ...offline.json.request, engine: undefined }).toEqual({ ...dry.json.request, engine: undefined });
    expect(offline.json.request.engine).toBe("unix:///nonexistent.sock");
  });

  it("--sandbox docker runs the process calculator in its image, with its directory read-only at /tool", async () => {
    const since = engineNow();
    const result = await json(["run", "calculator.calculate", "--sandbox", "docker", "-p", "operation=multiply", "-p", "a=6", "-p", "b=7"]);
    expect(result.code, why(result)).toBe(0);
    expect(result.json.output).toEqual({ result: 42 });
    expect(result.json.request).toMatchObject({
      runtime: "docker",
      image: CALC_IMAGE,
      command: ["node", "/tool/calculator/calc.mjs"],
      user: "65534:65534",
      network: "none",
    });
    expect(result.json.request.mounts).toContainEqual({ type: "bind", source: examplesDir, target: "/tool", readOnly: true });
    const events = await engineEvents(since, [`label=io.toolctl.execution=${result.json.executionId}`, "type=container", "event=create"]);
    expect(events.map((e) => e.from)).toEqual([CALC_IMAGE]);

    // /tool is the tool's directory, and the container cannot write to it.
    const look = await json(["run", "sbx-proc.look", "--sandbox", "docker"]);
    expect(look.code, why(look)).toBe(0);
    expect(look.json.request.mounts).toContainEqual({ type: "bind", source: toolsDir, target: "/tool", readOnly: true });
    expect(look.json.output).toMatch(/^hello from the tool dir\n/);
    expect(look.json.output).toMatch(/Read-only file system\ntouch=1$/);
  });

  it("--sandbox docker runs a process tool in its working directory under /tool; one outside its directory is a usage error", async () => {
    const plain = await json(["run", "sbx-proc.where", "--sandbox", "docker"]);
    expect(plain.code, why(plain)).toBe(0);
    expect(plain.json.output).toBe("/tool");
    expect(plain.json.request.workdir).toBe("/tool");
    const shown = await cli(["run", "sbx-cwd.where", "--sandbox", "docker", "--dry-run"]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('  command: ["sh","-c","pwd; cat note.txt"]\n  workdir: /tool/work\n');
    const work = await json(["run", "sbx-cwd.where", "--sandbox", "docker"]);
    expect(work.code, why(work)).toBe(0);
    expect(work.json.output).toBe("/tool/work\na note in work");
    // Run directly, the same tool runs in the same directory on the host.
    const direct = await json(["run", "sbx-cwd.where", "--sandbox", "none"]);
    expect(direct.code, why(direct)).toBe(0);
    expect(direct.json.output).toBe(`${realpathSync(path.join(toolsDir, "work"))}\na note in work`);

    const since = engineNow();
    for (const extra of [[], ["--dry-run"]]) {
      const outside = await json(["run", "sbx-outside.where", "--sandbox", "docker", ...extra]);
      expect(outside.code, why(outside)).toBe(2);
      expect(outside.json.error.message).toBe(
        `tool sbx-outside's working directory ${path.dirname(toolsDir)} (process.cwd) lies outside its directory ${toolsDir}, which is all a container sees (at /tool): run it with --sandbox none, or set process.cwd to a directory inside its own`,
      );
    }
    expect(await engineEvents(since, ["label=io.toolctl.tool=sbx-outside"])).toEqual([]);
  });

  it("--sandbox none on a docker tool and --sandbox docker on an echo tool are usage errors (exit 2)", async () => {
    const none = await json(["run", "calculator-docker.calculate", "--sandbox", "none", "-p", "operation=add", "-p", "a=1", "-p", "b=2"]);
    expect(none.code, why(none)).toBe(2);
    expect(none.json.error.message).toMatch(/--sandbox none: tool calculator-docker runs only in Docker/);
    const echo = await json(["run", "echo.say", "--sandbox", "docker", "-p", "message=hi"]);
    expect(echo.code, why(echo)).toBe(2);
    expect(echo.json.error.message).toMatch(/--sandbox docker: tool echo has runtime echo/);
  });

  it("TOOLCTL_DOCKER_SANDBOX_PROCESSES=true makes Docker the default for a process tool with an image; --sandbox none overrides", async () => {
    const args = ["run", "calculator.calculate", "-p", "operation=add", "-p", "a=1", "-p", "b=2"];
    const plain = await json(args);
    expect(plain.json.request.runtime).toBe("process");
    const sandboxed = await json(args, { TOOLCTL_DOCKER_SANDBOX_PROCESSES: "true" });
    expect(sandboxed.code, why(sandboxed)).toBe(0);
    expect(sandboxed.json.request).toMatchObject({ runtime: "docker", image: CALC_IMAGE });
    expect(sandboxed.json.output).toEqual({ result: 3 });
    const direct = await json([...args, "--sandbox", "none"], { TOOLCTL_DOCKER_SANDBOX_PROCESSES: "true" });
    expect(direct.code, why(direct)).toBe(0);
    expect(direct.json.request.runtime).toBe("process");
  });

  // ---------------------------------------------------------------------------------------------------------------
  // The engine, the image, the registry: exit 6 and nothing run

  /** The run ended before anything ran: exit 6, no execution.started event, no container for it. */
  async function nothingRan(result: CliResult & { json: any }, since: string): Promise<void> {
    expect(result.code, why(result)).toBe(6);
    expect(result.json.status).toBe("failed");
    expect(result.json.error).toMatchObject({ exitCode: 6, category: "environment" });
    const audit = await cli(["audit", "--execution", result.json.executionId, "--json"]);
    const types = parseAuditLines(audit.stdout).map((e) => e.type);
    expect(types).not.toContain("execution.started");
    expect(await engineEvents(since, [`label=io.toolctl.execution=${result.json.executionId}`])).toEqual([]);
  }

  it("engine unreachable (DOCKER_HOST=unix:///nonexistent.sock): 'Docker daemon not available', exit 6", async () => {
    const since = engineNow();
    const result = await json(["run", "sbx-io.text", "-p", "word=x"], { DOCKER_HOST: "unix:///nonexistent.sock" });
    expect(result.json.error.message).toMatch(/^Docker daemon not available at unix:\/\/\/nonexistent\.sock/);
    await nothingRan(result, since);
  });

  it("engine socket this user may not open: 'Permission denied', exit 6", async (context) => {
    const dir = tempDir("toolctl-docker-sock-");
    chmodSync(dir, 0o755);
    const socket = path.join(dir, "docker.sock");
    const server = net.createServer((connection) => connection.destroy());
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    chmodSync(socket, 0o000);
    try {
      const asRoot = process.getuid?.() === 0;
      // Root passes permission checks on sockets: run toolctl as the unprivileged nobody instead, in a home it owns.
      const userHome = tempDir("toolctl-docker-nobody-");
      let ids: { uid: number; gid: number } | undefined;
      if (asRoot) {
        ids = { uid: 65534, gid: 65534 };
        chownSync(userHome, ids.uid, ids.gid);
      }
      const env = baseEnv({ TOOLCTL_HOME: userHome, HOME: userHome, DOCKER_HOST: `unix://${socket}` });
      const spawnAs = (args: string[]) =>
        new Promise<{ code: number | null; stdout: string; stderr: string; error?: Error }>((resolve) => {
          const child = spawn(process.execPath, [binPath, ...args], { env, cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"], ...ids });
          let stdout = "";
          let stderr = "";
          child.stdout.on("data", (chunk) => (stdout += chunk));
          child.stderr.on("data", (chunk) => (stderr += chunk));
          child.on("error", (error) => resolve({ code: null, stdout, stderr, error }));
          child.on("close", (code) => resolve({ code, stdout, stderr }));
        });
      const imported = await spawnAs(["import", path.join(toolsDir, "io.yaml")]);
      if (asRoot && (imported.error || imported.code !== 0)) {
        context.skip(
          `cannot run toolctl as uid 65534 here (${imported.error?.message ?? imported.stderr.trim()}): root bypasses socket permissions, so there is nothing to test`,
        );
      }
      expect(imported.code, imported.stderr).toBe(0);
      const result = await spawnAs(["run", "sbx-io.text", "-p", "word=x", "--json"]);
      const out = JSON.parse(result.stdout);
      expect(result.code, result.stdout + result.stderr).toBe(6);
      expect(out.error.message).toMatch(new RegExp(`^Permission denied: ${socket.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
      expect(out.error.message).toMatch(/docker group/);
      expect(out.status).toBe("failed");
    } finally {
      server.close();
    }
  });

  it("an image that is not present, with pulling off: 'is not present', exit 6", async () => {
    const since = engineNow();
    const result = await json(["run", "sbx-missing.sh", "--params", JSON.stringify({ script: "true" })], { TOOLCTL_DOCKER_PULL: "false" });
    expect(result.json.error.message).toMatch(/^image toolctl-test\/missing-image:1 is not present and pulling is off/);
    await nothingRan(result, since);
  });

  it("an image that is not present and cannot be pulled (no registry reachable): 'could not be pulled', exit 6", async () => {
    const since = engineNow();
    const result = await json(["run", "sbx-unpullable.sh", "--params", JSON.stringify({ script: "true" })], {}, 60_000);
    expect(result.json.error.message).toMatch(/^image 127\.0\.0\.1\/toolctl-test\/missing-image:1 is not present and could not be pulled/);
    await nothingRan(result, since);
  });
});
