/**
 * The runners' edges, with real programs and a real engine: a process run ends when its program exits, whatever its
 * leftover children hold open; a confined program is asked to stop (SIGTERM) before it is killed; a container killed
 * by a signal may have done its work; the /state quota holds while a container runs, even when the sandbox user's
 * `du` cannot see all of it; and a Docker run refused before it starts leaves nothing behind in the engine.
 *
 * Runs go through the library API in-process (openApi); the one SIGTERM to toolctl goes to the built binary.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Toolctl } from "../src/api/index.js";
import { openOutputs, outputHolders, startTimeOf } from "../src/runners/process/processes.js";
import { baseEnv, binPath, openApi, repoRoot, tempDir, writeFiles } from "./helpers.js";
import {
  BUSYBOX_IMAGE,
  engineEnv,
  engineEvents,
  engineNow,
  engineUp,
  ensureImages,
  inCI,
  removeHomeVolumes,
  shellTool,
  skipDocker,
  stateVolumeOf,
  volumeNames,
} from "./fixtures/docker/engine.js";

const hasBwrap = spawnSync("bwrap", ["--version"]).status === 0;
// In CI a missing bubblewrap is a failure, not a skip (.ci/run installs it).
const needsBwrap = hasBwrap || process.env.CI ? it : it.skip;

/** A marker no other process has in its command line: `sleep MARKER` is then ours. */
function marker(): string {
  return `${100 + Math.floor(Math.random() * 800)}.${process.pid}${Date.now() % 100000}`;
}

/** The pids whose command line is exactly `sleep MARKER`. */
function sleeping(mark: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8") === `sleep\0${mark}\0`) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** Left over by a failing test: each killed by its own pid. */
const markers: string[] = [];
afterAll(() => {
  for (const mark of markers) {
    for (const pid of sleeping(mark)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone.
      }
    }
  }
});

async function until(condition: () => boolean, limitMs = 10_000): Promise<void> {
  for (let waited = 0; waited < limitMs && !condition(); waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(condition(), `not within ${limitMs} ms`).toBe(true);
}

// ---------------------------------------------------------------------------------------------------------------------
// Process tools: the run ends when the program does

const LEAVER = `apiVersion: toolctl/v1
name: leaver
description: leaves children behind
runtime: process
process: { env: [PATH], timeoutSeconds: 5 }
actions:
  background:
    description: a child in the background, holding stdout
    kind: read
    stdin: none
    output: text
    inputSchema: { type: object, required: [marker], properties: { marker: { type: string } } }
    command: [sh, -c, "echo started; (sleep {{ input.marker }} &); echo done"]
  escape:
    description: a child in a session of its own, holding stdout, and the program ends at once
    kind: read
    stdin: none
    output: text
    inputSchema: { type: object, required: [marker], properties: { marker: { type: string } } }
    command: [sh, -c, "(setsid sleep {{ input.marker }} &); echo done"]
  escape_later:
    description: a child in a session of its own, holding stdout, and the program ends a moment later
    kind: read
    stdin: none
    output: text
    inputSchema: { type: object, required: [marker], properties: { marker: { type: string } } }
    command: [sh, -c, "(setsid sleep {{ input.marker }} &); sleep 0.2; echo done"]
  stuck:
    description: a child in a session of its own, and the program itself runs past its timeout
    kind: read
    stdin: none
    output: text
    timeoutSeconds: 1
    inputSchema: { type: object, required: [marker], properties: { marker: { type: string } } }
    command: [sh, -c, "setsid sleep {{ input.marker }} & sleep 30"]
  tidy:
    description: a child in the background (its output elsewhere) that takes half a second to clean up on SIGTERM
    kind: read
    stdin: none
    output: text
    timeoutSeconds: 1
    command: [sh, -c, 'sh -c "trap ''sleep 0.5; echo cleaned > out/cleaned; exit 0'' TERM; while :; do sleep 0.1; done" >/dev/null 2>&1 & sleep 30']
`;

describe("unconfined process tools: the run ends when the program exits", () => {
  let toolctl: Toolctl;
  let dir = "";
  beforeAll(async () => {
    toolctl = await openApi({ env: { TOOLCTL_PROCESS_CONFINEMENT: "off" } });
    dir = writeFiles({ "leaver.yaml": LEAVER, "out/.keep": "" });
    expect((await toolctl.importManifests([dir])).failed).toEqual([]);
  });

  it("a background child holding stdout neither keeps the run open nor outlives it; the output is the program's", async () => {
    const mark = marker();
    markers.push(mark);
    const started = Date.now();
    const result = await toolctl.run("leaver.background", { marker: mark });
    expect(result.status, JSON.stringify(result.error)).toBe("succeeded");
    expect(result.output).toBe("started\ndone");
    expect(Date.now() - started).toBeLessThan(3000);
    expect(sleeping(mark)).toEqual([]);
  });

  it("a child that left the group (setsid) and holds stdout does not keep the run open either", async () => {
    const mark = marker();
    markers.push(mark);
    const started = Date.now();
    const result = await toolctl.run("leaver.escape", { marker: mark });
    expect(result.status, JSON.stringify(result.error)).toBe("succeeded");
    expect(result.output).toBe("done");
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("such a child is found by the output it holds, and killed, once the program has run a moment", async () => {
    const mark = marker();
    markers.push(mark);
    const started = Date.now();
    const result = await toolctl.run("leaver.escape_later", { marker: mark });
    expect(result.status, JSON.stringify(result.error)).toBe("succeeded");
    expect(result.output).toBe("done");
    expect(Date.now() - started).toBeLessThan(3000);
    expect(sleeping(mark)).toEqual([]);
  });

  it("on a timeout, a child that left the group but holds stdout is killed with the rest, as the message says", async () => {
    const mark = marker();
    markers.push(mark);
    const started = Date.now();
    const result = await toolctl.run("leaver.stuck", { marker: mark });
    expect(result.status).toBe("failed");
    expect(result.error).toMatchObject({ category: "timeout", exitCode: 1 });
    expect(result.error!.message).toMatch(/timed out after 1s and was killed, with every process it started/);
    // 1 s, then SIGTERM to the group, which ends it: far from the 30 s of the sleep, or 3 s more to give up on stdout.
    expect(Date.now() - started).toBeLessThan(2900);
    expect(sleeping(mark)).toEqual([]);
  });

  it("on a timeout, the rest of the group keeps its grace after the program exits: SIGTERM, and SIGKILL only later", async () => {
    const result = await toolctl.run("leaver.tidy");
    expect(result.error).toMatchObject({ category: "timeout", exitCode: 1 });
    expect(readFileSync(path.join(dir, "out", "cleaned"), "utf8")).toBe("cleaned\n");
  });
});

// ---------------------------------------------------------------------------------------------------------------------
// Confined process tools: SIGTERM first

/** Records the SIGTERM it gets in out/term, then exits 7; says it is ready in out/ready. */
const GRACEFUL = `apiVersion: toolctl/v1
name: graceful
description: cleans up on SIGTERM
runtime: process
process: { env: [PATH], writable: [out], timeoutSeconds: 1 }
actions:
  wait:
    description: waits, and cleans up when asked to stop
    kind: read
    stdin: none
    output: text
    command: [sh, -c, "trap 'echo got TERM > out/term; exit 7' TERM; echo ready > out/ready; sleep 30 & wait"]
  long:
    description: the same, with a timeout past the test's signals
    kind: read
    stdin: none
    output: text
    timeoutSeconds: 60
    command: [sh, -c, "trap 'echo got TERM > out/term; exit 7' TERM; echo ready > out/ready; sleep 30 & wait"]
`;

describe("a confined program gets SIGTERM before SIGKILL", () => {
  async function gracefulHome(): Promise<{ toolctl: Toolctl; dir: string }> {
    const dir = writeFiles({ "graceful.yaml": GRACEFUL, "out/.keep": "" });
    const toolctl = await openApi({ env: { TOOLCTL_PROCESS_CONFINEMENT: "required" } });
    expect((await toolctl.importManifests([dir])).failed).toEqual([]);
    return { toolctl, dir };
  }

  needsBwrap("on timeout: its TERM trap runs (and writes in its writable directory) before the sandbox is torn down", async () => {
    const { toolctl, dir } = await gracefulHome();
    const started = Date.now();
    const result = await toolctl.run("graceful.wait");
    expect(result.status).toBe("failed");
    expect(result.error).toMatchObject({ category: "timeout", exitCode: 1 });
    expect(result.request).toMatchObject({ confinement: { by: "bubblewrap" } });
    expect(readFileSync(path.join(dir, "out", "term"), "utf8")).toBe("got TERM\n");
    // It stopped when asked: no two seconds' wait for SIGKILL.
    expect(Date.now() - started).toBeLessThan(2900);
  });

  needsBwrap("on Ctrl-C (the run's signal aborts): its TERM trap runs", async () => {
    const { toolctl, dir } = await gracefulHome();
    const controller = new AbortController();
    const pending = toolctl.run("graceful.long", {}, { signal: controller.signal });
    await until(() => existsSync(path.join(dir, "out", "ready")));
    controller.abort();
    const result = await pending;
    expect(result.status).toBe("failed");
    expect(result.error!.message).toMatch(/interrupted/);
    expect(readFileSync(path.join(dir, "out", "term"), "utf8")).toBe("got TERM\n");
  });

  needsBwrap(
    "on SIGTERM to toolctl: its TERM trap runs, and toolctl exits 143",
    async () => {
      const dir = writeFiles({ "graceful.yaml": GRACEFUL, "out/.keep": "" });
      const home = tempDir("toolctl-graceful-");
      const importer = await openApi({ home });
      expect((await importer.importManifests([dir])).failed).toEqual([]);
      const child = spawn(process.execPath, [binPath, "run", "graceful.long", "--json"], {
        env: baseEnv({ TOOLCTL_HOME: home, TOOLCTL_PROCESS_CONFINEMENT: "required" }),
        cwd: repoRoot,
        stdio: "ignore",
      });
      const closed = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
      await until(() => existsSync(path.join(dir, "out", "ready")));
      child.kill("SIGTERM");
      expect(await closed).toBe(143);
      expect(readFileSync(path.join(dir, "out", "term"), "utf8")).toBe("got TERM\n");
    },
    20_000,
  );
});

// ---------------------------------------------------------------------------------------------------------------------
// Docker

/** A busybox tool whose actions kill their own shell with a signal: `read` and `create` (which costs `amount`). */
const SIGNALLED = `apiVersion: toolctl/v1
name: hd-signal
description: killed by a signal
runtime: docker
image: ${BUSYBOX_IMAGE}
permissions: { storageMb: 0, timeoutSeconds: 20 }
actions:
  read:
    description: a read killed by a signal
    kind: read
    stdin: none
    output: text
    inputSchema: { type: object, required: [signal], properties: { signal: { type: string } } }
    command: [sh, -c, "echo partial; kill -{{ input.signal }} $$"]
  create:
    description: a create killed by a signal
    kind: create
    stdin: none
    output: text
    cost: { fromInput: amount }
    inputSchema: { type: object, required: [signal, amount], properties: { signal: { type: string }, amount: { type: number } } }
    command: [sh, -c, "echo partial; kill -{{ input.signal }} $$"]
`;

/** A busybox tool whose PATH starts at /state, where it can put a `du` of its own. */
const SHADOW = `apiVersion: toolctl/v1
name: hd-shadow
description: puts its own du first on PATH
runtime: docker
image: ${BUSYBOX_IMAGE}
permissions: { storageMb: 5, timeoutSeconds: 20 }
actions:
  sh:
    description: run a shell script
    kind: read
    stdin: none
    output: text
    env: { PATH: "/state:/bin" }
    inputSchema: { type: object, required: [script], properties: { script: { type: string } } }
    command: [sh, -c, "{{ input.script }}"]
`;

describe("docker engine", () => {
  it.runIf(inCI)("is reachable in CI", () => {
    expect(engineUp, "docker info failed: CI must run the Docker tests against a real engine").toBe(true);
  });
});

describe.skipIf(skipDocker)("docker runs", () => {
  let toolctl: Toolctl;
  const homes: string[] = [];
  beforeAll(async () => {
    await ensureImages();
    const home = tempDir("toolctl-hardening-");
    homes.push(home);
    writeFiles({ "config.yaml": "limits:\n  dailyUsd: 10\n  perActionUsd: 100\n" }, home);
    toolctl = await openApi({ home, env: engineEnv() });
    const dir = writeFiles({
      "signal.yaml": SIGNALLED,
      "shadow.yaml": SHADOW,
      "quota.yaml": shellTool("hd-quota", "{ storageMb: 5, timeoutSeconds: 20 }"),
      "fresh.yaml": shellTool("hd-fresh", "{ storageMb: 5, timeoutSeconds: 20 }"),
      "missing.yaml": shellTool("hd-missing", "{ storageMb: 5, timeoutSeconds: 20 }", "toolctl-test/missing-image:1"),
    });
    expect((await toolctl.importManifests([dir])).failed).toEqual([]);
  }, 240_000);

  afterAll(async () => {
    await removeHomeVolumes(homes);
  });

  it("a create killed by a signal (SIGSEGV, SIGTERM) is unknown (exit 5), its spend still reserved; a read fails (exit 1)", async () => {
    for (const [signal, name] of [
      ["SEGV", "SIGSEGV"],
      ["TERM", "SIGTERM"],
    ] as const) {
      const create = await toolctl.run("hd-signal.create", { signal, amount: 2 }, { yes: true });
      expect(create.status, JSON.stringify(create.error)).toBe("unknown");
      expect(create.error).toMatchObject({ exitCode: 5, code: "unknown_outcome" });
      expect(create.error!.message).toMatch(new RegExp(`killed by ${name}.*check before running it again`));
      const read = await toolctl.run("hd-signal.read", { signal });
      expect(read.status, JSON.stringify(read.error)).toBe("failed");
      expect(read.error).toMatchObject({ exitCode: 1 });
      expect(read.error!.message).toMatch(new RegExp(`killed by ${name}`));
    }
    expect((await toolctl.budget()).spend).toMatchObject({ committedUsd: 0, reservedUsd: 4 });
  });

  it("holds the /state quota while the container runs, even in a directory the sandbox user cannot read", async () => {
    const script = "mkdir /state/d; chmod 300 /state/d; dd if=/dev/zero of=/state/d/f bs=1M count=200 2>/dev/null; sleep 3; echo finished";
    const result = await toolctl.run("hd-quota.sh", { script });
    expect(result.status, JSON.stringify(result.error)).toBe("failed");
    expect(result.error).toMatchObject({ category: "resource_limit", exitCode: 1 });
    expect(result.error!.message).toMatch(/^\/state grew past its 5 MB quota/);
    expect(result.output ?? null).toBeNull();
  }, 60_000);

  it("holds the /state quota when the tool puts a `du` of its own first on its PATH", async () => {
    const script = [
      "printf '#!/bin/sh\\necho \"0\t/state\"\\n' > /state/du",
      "chmod 755 /state/du",
      "dd if=/dev/zero of=/state/f bs=1M count=50 2>/dev/null",
      "sleep 3",
      "echo finished",
    ].join("; ");
    const result = await toolctl.run("hd-shadow.sh", { script });
    expect(result.status, JSON.stringify(result.error)).toBe("failed");
    expect(result.error!.message).toMatch(/^\/state grew past its 5 MB quota \(5\d\.\d MB when measured\)/);
  }, 60_000);

  it("a run refused before it starts (its image missing, pulling off) makes no state volume", async () => {
    const refusing = await openApi({ home: homes[0], env: { ...engineEnv(), TOOLCTL_DOCKER_PULL: "false" } });
    const result = await refusing.run("hd-missing.sh", { script: "true" });
    expect(result.status).toBe("failed");
    expect(result.error).toMatchObject({ exitCode: 6, category: "environment" });
    expect(result.error!.message).toMatch(/^image toolctl-test\/missing-image:1 is not present and pulling is off/);
    expect(await volumeNames()).not.toContain(stateVolumeOf("hd-missing", homes[0]!));
  });

  it("the container that prepares a new state volume carries this process's labels, so a later sweep finds it", async () => {
    const since = engineNow();
    const result = await toolctl.run("hd-fresh.sh", { script: "echo ok" });
    expect(result.status, JSON.stringify(result.error)).toBe("succeeded");
    const created = await engineEvents(since, ["type=container", "event=create"]);
    // Other toolctl processes on this engine may be preparing volumes of their own meanwhile: ours carries our pid.
    const init = created.filter((event) => event.Actor.Attributes.image === "toolctl/state-init:1");
    expect(init.length, JSON.stringify(created)).toBeGreaterThanOrEqual(1);
    const ours = init.filter((event) => event.Actor.Attributes["io.toolctl.pid"] === String(process.pid));
    expect(ours, JSON.stringify(init)).toHaveLength(1);
    expect(ours[0]!.Actor.Attributes).toMatchObject({ "io.toolctl": "1", "io.toolctl.host": hostname() });
  });
});

describe("the holders of a run's output", () => {
  it("are only processes that started no earlier than the program: one running before it (a daemon it handed its stdout to) is not the run's", async () => {
    // A process started first, holding an output of ours: as a daemon would once handed a program's stdout.
    const earlier = spawn("sleep", ["30"], { stdio: ["ignore", "pipe", "ignore"] });
    try {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const outputs = openOutputs(earlier.pid!);
      expect(outputs).toHaveLength(1);
      const started = startTimeOf(earlier.pid)!;
      expect(outputHolders(outputs, started)).toEqual([earlier.pid]);
      // A program that started after it: the earlier process is left alone.
      await new Promise((resolve) => setTimeout(resolve, 50));
      const later = spawnSync("sh", ["-c", "cat /proc/self/stat"], { encoding: "utf8" }).stdout;
      const laterStart = Number(later.slice(later.lastIndexOf(")") + 2).split(" ")[19]);
      expect(laterStart).toBeGreaterThan(started);
      expect(outputHolders(outputs, laterStart)).toEqual([]);
      expect(outputHolders(outputs, undefined)).toEqual([]);
    } finally {
      earlier.kill("SIGKILL");
    }
  });
});
