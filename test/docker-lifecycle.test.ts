/**
 * A Docker tool's lifecycle end to end, against a real engine: its /state volume (kept across runs, owned by the
 * sandbox user, under a quota, cleared on request), permissions beyond the defaults (pending → approve → active,
 * re-import asking for more or less), revoke, the audit trail of every change, `doctor`, and the interactive
 * approval through a real pseudo-terminal.
 *
 * One home for the file, one tool (and one manifest file) per test, so volumes never collide. Gated like the
 * corpus tests: skipped without an engine, except under CI.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, runJson, tempDir, writeFiles, type CliResult } from "./helpers.js";
import {
  BUSYBOX_IMAGE,
  containersWith,
  docker,
  engineEnv,
  engineUp,
  ensureImages,
  homeIdOf,
  importInto,
  inCI,
  parseAuditLines,
  removeHomeVolumes,
  skipDocker,
  stateVolumeOf,
  volumeNames,
  shellTool,
} from "./fixtures/docker/engine.js";
import { spawnTerminal } from "./pty.js";

/**
 * The test images ship a /state owned by the sandbox user, which Docker would copy into a new volume by itself.
 * This one has none, so only toolctl's own preparation of the volume can make /state writable for 65534.
 */
const NO_STATE_IMAGE = "toolctl-test/busybox-nostate:1";
/** No `du` in it: the quota is then watched through the engine's own measure of the volume. */
const NO_DU_IMAGE = "toolctl-test/busybox-nodu:1";

const MANIFESTS: Record<string, string> = {
  "lc-state.yaml": shellTool("lc-state", "{ storageMb: 5, timeoutSeconds: 20 }", NO_STATE_IMAGE),
  "lc-remove.yaml": shellTool("lc-remove", "{ storageMb: 5, timeoutSeconds: 20 }"),
  "lc-quota.yaml": shellTool("lc-quota", "{ storageMb: 1, timeoutSeconds: 20 }"),
  "lc-quota-nodu.yaml": shellTool("lc-quota-nodu", "{ storageMb: 1, timeoutSeconds: 30 }", NO_DU_IMAGE),
  "lc-net.yaml": shellTool("lc-net", "{ network: true, storageMb: 0, timeoutSeconds: 20 }"),
  "lc-mem.yaml": shellTool("lc-mem", "{ memoryMb: 1024, storageMb: 0, timeoutSeconds: 20 }"),
  "lc-big.yaml": shellTool("lc-big", "{ storageMb: 500, timeoutSeconds: 20 }"),
  "lc-rev.yaml": shellTool("lc-rev", "{ storageMb: 5, timeoutSeconds: 20 }"),
  "lc-audit.yaml": shellTool("lc-audit", "{ storageMb: 5, timeoutSeconds: 20 }"),
  "lc-pty-yes.yaml": shellTool("lc-pty-yes", "{ memoryMb: 1024, storageMb: 0 }"),
  "lc-pty-no.yaml": shellTool("lc-pty-no", "{ memoryMb: 1024, storageMb: 0 }"),
  "lc-ask.yaml": `apiVersion: toolctl/v1
name: lc-ask
description: asks before it runs
runtime: docker
image: ${BUSYBOX_IMAGE}
permissions: { storageMb: 0 }
actions:
  say:
    description: say a word in a container
    kind: create
    approval: always
    rollback: irreversible
    inputSchema: { type: object, required: [word], properties: { word: { type: string } } }
    command: [echo, "{{ input.word }}"]
`,
};

let home = "";
let dir = "";
const homes: string[] = [];

function cli(args: string[], env: Record<string, string | undefined> = {}, h = home): Promise<CliResult> {
  return runCli(args, { home: h, env: { ...engineEnv(), ...env } });
}

function json(args: string[], env: Record<string, string | undefined> = {}, h = home) {
  return runJson(args, { home: h, env: { ...engineEnv(), ...env } });
}

function sh(tool: string, script: string, env: Record<string, string | undefined> = {}) {
  return json(["run", `${tool}.sh`, "--params", JSON.stringify({ script })], env);
}

function why(result: CliResult): string {
  return `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
}

async function toolRecord(name: string): Promise<{ status: string; grants: any }> {
  const listed = await json(["list"]);
  const tool = (listed.json.items as Array<{ name: string; status: string; grants: any }>).find((t) => t.name === name);
  if (!tool) throw new Error(`${name} is not registered: ${listed.stdout}`);
  return tool;
}

/** Rewrites a tool's manifest file and imports it again; returns what import said about it. */
async function reimport(name: string, permissions: string): Promise<{ status: string; change: string }> {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, shellTool(name, permissions));
  const imported = await json(["import", file]);
  expect(imported.code, why(imported)).toBe(0);
  return imported.json.imported[0];
}

async function auditOf(tool: string) {
  const audit = await cli(["audit", "--tool", tool, "--json"]);
  expect(audit.code, why(audit)).toBe(0);
  return parseAuditLines(audit.stdout);
}

describe("docker engine", () => {
  it.runIf(inCI)("is reachable in CI", () => {
    expect(engineUp, "docker info failed: CI must run the Docker lifecycle tests against a real engine").toBe(true);
  });
});

describe.skipIf(skipDocker)("docker tool lifecycle", () => {
  beforeAll(async () => {
    await ensureImages();
    // Derived from the busybox image with /state deleted (a whiteout layer); kept between runs, rebuilt when missing.
    if ((await docker(["image", "inspect", NO_STATE_IMAGE], true)).code !== 0) {
      const name = `toolctl-nostate-${process.pid}`;
      await docker(["run", "--name", name, "--user", "0", "--network", "none", BUSYBOX_IMAGE, "rm", "-rf", "/state"]);
      await docker(["commit", "--change", 'CMD ["sh"]', "--change", "USER 65534", name, NO_STATE_IMAGE]);
      await docker(["rm", "-f", name]);
    }
    if ((await docker(["image", "inspect", NO_DU_IMAGE], true)).code !== 0) {
      const name = `toolctl-nodu-${process.pid}`;
      await docker(["run", "--name", name, "--user", "0", "--network", "none", BUSYBOX_IMAGE, "rm", "-f", "/bin/du"]);
      await docker(["commit", "--change", 'CMD ["sh"]', "--change", "USER 65534", name, NO_DU_IMAGE]);
      await docker(["rm", "-f", name]);
    }
    home = tempDir("toolctl-docker-lc-");
    homes.push(home);
    dir = writeFiles(MANIFESTS);
    await importInto(home, [dir]);
  }, 240_000);

  afterAll(async () => {
    await removeHomeVolumes(homes);
  });

  // ---------------------------------------------------------------------------------------------------------------
  // /state

  it("keeps /state across runs in the volume toolctl-state-<tool>-<homeid>, owned by the sandbox user", async () => {
    const bump = "c=$(cat /state/counter 2>/dev/null || echo 0); echo $((c+1)) > /state/counter; cat /state/counter";
    const first = await sh("lc-state", bump);
    expect(first.code, why(first)).toBe(0);
    expect(first.json.output).toBe("1");
    expect((await docker(["run", "--rm", "--network", "none", NO_STATE_IMAGE, "sh", "-c", "ls -d /state 2>&1; true"])).stdout).toMatch(/No such file/);
    const second = await sh("lc-state", `${bump}; stat -c '%u:%g %a' /state /state/counter`);
    expect(second.code, why(second)).toBe(0);
    expect(second.json.output).toBe("2\n65534:65534 755\n65534:65534 644");

    const volume = stateVolumeOf("lc-state", home);
    expect(volume).toMatch(/^toolctl-state-lc-state-[0-9a-f]{10}$/);
    expect(second.json.request.mounts).toEqual([{ type: "volume", source: volume, target: "/state", quotaMb: 5 }]);
    expect(await volumeNames()).toContain(volume);
    const [info] = JSON.parse((await docker(["volume", "inspect", volume])).stdout) as Array<{ Labels: Record<string, string> }>;
    expect(info!.Labels).toMatchObject({ "io.toolctl.tool": "lc-state", "io.toolctl.home": homeIdOf(home) });
    // Looked at from a container toolctl did not make: the data and its owner are in the volume itself.
    const seen = await docker([
      "run",
      "--rm",
      "--network",
      "none",
      "--user",
      "65534:65534",
      "-v",
      `${volume}:/s:ro`,
      BUSYBOX_IMAGE,
      "sh",
      "-c",
      "stat -c '%u:%g' /s; cat /s/counter",
    ]);
    expect(seen.stdout.trim()).toBe("65534:65534\n2");
  });

  it("enforces the storage quota: over it the next run is refused (exit 3) until clear-state removes the volume", async () => {
    const volume = stateVolumeOf("lc-quota", home);
    // 3 MB at once, then it lingers: the watch catches it over its 1 MB while it runs, and stops it.
    const fill = await sh("lc-quota", "dd if=/dev/urandom of=/state/blob bs=1M count=3 2>/dev/null; sleep 10; echo never");
    expect(fill.code, why(fill)).toBe(1);
    expect(fill.json.error.message).toMatch(
      /^\/state grew past its 1 MB quota \(3\.\d MB when measured\): the container was killed and removed; clear it with: toolctl tool clear-state lc-quota/,
    );
    expect(fill.json.error.category).toBe("resource_limit");
    expect(fill.json.durationMs).toBeLessThan(8000);

    const refused = await sh("lc-quota", "echo should not run");
    expect(refused.code, why(refused)).toBe(3);
    expect(refused.json.status).toBe("declined");
    expect(refused.json.error.message).toMatch(/^volume quota exceeded: lc-quota's \/state holds 3\.\d MB of its 1 MB/);
    expect(refused.json.error.message).toContain("toolctl tool clear-state lc-quota");
    expect(refused.json.output ?? null).toBeNull();
    expect(await containersWith(`io.toolctl.execution=${refused.json.executionId}`)).toEqual([]);

    const cleared = await json(["tool", "clear-state", "lc-quota"]);
    expect(cleared.code, why(cleared)).toBe(0);
    expect(cleared.json).toEqual({ tool: "lc-quota", volume, removed: true });
    expect(await volumeNames()).not.toContain(volume);

    const again = await sh("lc-quota", "ls /state; echo ran");
    expect(again.code, why(again)).toBe(0);
    expect(again.json.output).toBe("ran");
    expect(await volumeNames()).toContain(volume);
  });

  it("stops a run that keeps writing past its quota while it runs, not only the run after it", async () => {
    const volume = stateVolumeOf("lc-quota", home);
    // 200 MB, a megabyte every 50 ms: without a watch it would all land in a 1 MB quota.
    const flood = await sh(
      "lc-quota",
      "i=0; while [ $i -lt 200 ]; do dd if=/dev/zero of=/state/f$i bs=1M count=1 2>/dev/null; i=$((i+1)); sleep 0.05; done; echo finished",
    );
    expect(flood.code, why(flood)).toBe(1);
    expect(flood.json.error.message).toMatch(/^\/state grew past its 1 MB quota/);
    expect(flood.json.output ?? null).toBeNull();
    const used = await docker(["run", "--rm", "--network", "none", "-v", `${volume}:/s:ro`, BUSYBOX_IMAGE, "du", "-sk", "/s"]);
    expect(Number(used.stdout.trim().split(/\s+/)[0])).toBeLessThan(30 * 1024);
    expect((await json(["tool", "clear-state", "lc-quota"])).code).toBe(0);

    // An image without du: the engine measures the volume instead, less often, and the run is stopped all the same.
    const slow = await sh(
      "lc-quota-nodu",
      "i=0; while [ $i -lt 200 ]; do dd if=/dev/zero of=/state/f$i bs=1M count=1 2>/dev/null; i=$((i+1)); sleep 0.1; done; echo finished",
    );
    expect(slow.code, why(slow)).toBe(1);
    expect(slow.json.error.message).toMatch(/^\/state grew past its 1 MB quota/);
    expect((await json(["tool", "clear-state", "lc-quota-nodu"])).code).toBe(0);
  });

  it("tool remove: a new tool registered later under the same name does not inherit the old one's /state", async () => {
    const wrote = await sh("lc-remove", "echo private-to-the-old-tool > /state/data; cat /state/data");
    expect(wrote.code, why(wrote)).toBe(0);
    const removed = await cli(["tool", "remove", "lc-remove"]);
    expect(removed.code, why(removed)).toBe(0);
    // Another tool, from another manifest, that happens to take the same name.
    const other = writeFiles({
      "other.yaml": shellTool("lc-remove", "{ storageMb: 5, timeoutSeconds: 20 }").replace("lifecycle probe lc-remove", "an unrelated tool"),
    });
    await importInto(home, [other]);
    const read = await sh("lc-remove", "cat /state/data 2>&1; true");
    expect(read.code, why(read)).toBe(0);
    const volume = stateVolumeOf("lc-remove", home);
    expect(read.json.output, `the removed tool's volume ${volume} was kept and handed to the new tool`).not.toContain("private-to-the-old-tool");
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Permissions beyond the defaults

  it("a tool asking for network is pending: runs refused, approve needs a human or --yes, then it runs with a network", async () => {
    expect((await toolRecord("lc-net")).status).toBe("pending");
    const refused = await sh("lc-net", "true");
    expect(refused.code, why(refused)).toBe(3);
    expect(refused.json.status).toBe("declined");
    expect(refused.json.error.code).toBe("tool_pending");
    expect(refused.json.error.message).toContain("toolctl tool approve lc-net");
    expect(refused.json.error.message).toMatch(/network/);

    const noHuman = await cli(["tool", "approve", "lc-net"]);
    expect(noHuman.code, why(noHuman)).toBe(4);
    expect(noHuman.stderr).toMatch(/needs a human.*--yes/);
    expect((await toolRecord("lc-net")).status).toBe("pending");

    const approved = await cli(["tool", "approve", "lc-net", "--yes"]);
    expect(approved.code, why(approved)).toBe(0);
    expect(approved.stderr).toMatch(/Tool lc-net .*\(docker\), image toolctl-test\/busybox:1 asks for:/);
    expect(approved.stderr).toMatch(/network\s+outbound network \(bridge\)\s+\(now: none\)/);
    expect(approved.stdout).toContain("lc-net: active");
    const record = await toolRecord("lc-net");
    expect(record.status).toBe("active");
    expect(record.grants.permissions).toMatchObject({ network: true });

    const dry = await json(["run", "lc-net.sh", "--params", JSON.stringify({ script: "true" }), "--dry-run"]);
    expect(dry.json.request.network).not.toBe("none");
    expect(dry.json.request.network).toMatch(/bridge/);
    const ran = await sh("lc-net", "ip route; ip -o link | cut -d: -f2");
    expect(ran.code, why(ran)).toBe(0);
    expect(ran.json.output).toMatch(/^default via /m);
    expect(ran.json.output).toMatch(/eth0/);
  });

  it("memoryMb 1024 and storageMb 500 are pending too; approve --yes --json lists what is asked; re-import for more goes back to pending, for less stays active", async () => {
    for (const name of ["lc-mem", "lc-big"]) {
      expect((await toolRecord(name)).status).toBe("pending");
      const refused = await sh(name, "true");
      expect(refused.code, why(refused)).toBe(3);
      expect(refused.json.error.code).toBe("tool_pending");
      expect(refused.json.error.message).toContain(`toolctl tool approve ${name}`);
    }
    const mem = await json(["tool", "approve", "lc-mem", "--yes"]);
    expect(mem.code, why(mem)).toBe(0);
    expect(mem.json).toMatchObject({ tool: "lc-mem", status: "active", previous: "pending" });
    expect(mem.json.asked).toContainEqual({ name: "memoryMb", asked: "1024 MB", allowed: "512 MB", needsGrant: true });
    expect(mem.json.asked).toContainEqual({ name: "network", asked: "none", allowed: "none", needsGrant: false });
    const big = await json(["tool", "approve", "lc-big", "--yes"]);
    expect(big.json.asked).toContainEqual({ name: "storageMb", asked: "500 MB", allowed: "100 MB", needsGrant: true });

    const ran = await sh("lc-mem", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max");
    expect(ran.code, why(ran)).toBe(0);
    expect(ran.json.output).toBe(String(1024 * 1024 * 1024));

    // Asking for less than granted: still active. Asking for more: pending again, and refused.
    expect(await reimport("lc-mem", "{ memoryMb: 768, storageMb: 0, timeoutSeconds: 20 }")).toMatchObject({ change: "updated", status: "active" });
    expect((await sh("lc-mem", "true")).code).toBe(0);
    expect(await reimport("lc-mem", "{ memoryMb: 2048, storageMb: 0, timeoutSeconds: 20 }")).toMatchObject({ change: "updated", status: "pending" });
    const refused = await sh("lc-mem", "true");
    expect(refused.code, why(refused)).toBe(3);
    expect(refused.json.error.message).toMatch(/memoryMb 2048 MB/);
    // Asked against what was granted (1024 MB: asking for less did not shrink the grant), not the defaults.
    const again = await json(["tool", "approve", "lc-mem", "--yes"]);
    expect(again.json.asked).toContainEqual({ name: "memoryMb", asked: "2048 MB", allowed: "1024 MB", needsGrant: true });
    expect((await toolRecord("lc-mem")).status).toBe("active");
    // The re-import that sent it back is on record, with the status it left.
    const updates = (await auditOf("lc-mem")).filter((e) => e.type === "tool.updated");
    expect(updates.map((e) => [e.status, e.data.statusFrom ?? null])).toEqual([
      ["active", null],
      ["pending", "active"],
    ]);
  });

  it("revoke removes the grants and the state volume: runs refused, history kept, enable refused, approve restores", async () => {
    const volume = stateVolumeOf("lc-rev", home);
    const first = await sh("lc-rev", "echo kept > /state/data; cat /state/data");
    expect(first.code, why(first)).toBe(0);
    expect(await volumeNames()).toContain(volume);

    const revoked = await json(["tool", "revoke", "lc-rev"]);
    expect(revoked.code, why(revoked)).toBe(0);
    expect(revoked.json).toEqual({ tool: "lc-rev", status: "revoked", previous: "active", stateVolume: volume, stateRemoved: true });
    expect(await volumeNames()).not.toContain(volume);
    expect(await toolRecord("lc-rev")).toMatchObject({ status: "revoked", grants: null });

    const refused = await sh("lc-rev", "echo should not run");
    expect(refused.code, why(refused)).toBe(3);
    expect(refused.json.status).toBe("declined");
    expect(refused.json.error.message).toMatch(/lc-rev is revoked.*toolctl tool approve lc-rev/);
    expect(await volumeNames()).not.toContain(volume);

    const history = await json(["executions", "--tool", "lc-rev"]);
    expect(history.json.items.map((e: { id: string; status: string }) => [e.id, e.status])).toEqual([
      [refused.json.executionId, "declined"],
      [first.json.executionId, "succeeded"],
    ]);

    const enable = await json(["tool", "enable", "lc-rev"]);
    expect(enable.code, why(enable)).toBe(3);
    expect(enable.json.error.message).toMatch(/revoked.*toolctl tool approve lc-rev/);
    expect((await toolRecord("lc-rev")).status).toBe("revoked");

    const approved = await json(["tool", "approve", "lc-rev", "--yes"]);
    expect(approved.code, why(approved)).toBe(0);
    expect(approved.json).toMatchObject({ status: "active", previous: "revoked" });
    const back = await sh("lc-rev", "ls /state/data 2>&1; echo ran");
    expect(back.code, why(back)).toBe(0);
    // A fresh volume: the old state went with the revoke.
    expect(back.json.output).toMatch(/No such file or directory\nran$/);
  });

  it("audits every lifecycle change with its actor, and the chain verifies", async () => {
    const steps: Array<[string[], Record<string, string>]> = [
      [["tool", "disable", "lc-audit"], {}],
      [["tool", "enable", "lc-audit"], {}],
      [["run", "lc-audit.sh", "--params", JSON.stringify({ script: "echo x > /state/x" })], {}],
      [["tool", "clear-state", "lc-audit"], { CI: "true" }],
      [["tool", "revoke", "lc-audit"], { TOOLCTL_ACTOR: "agent" }],
      [["tool", "approve", "lc-audit", "--yes"], {}],
    ];
    for (const [args, env] of steps) {
      const result = await cli(args, env);
      expect(result.code, `${args.join(" ")}: ${why(result)}`).toBe(0);
    }
    const volume = stateVolumeOf("lc-audit", home);
    const events = (await auditOf("lc-audit")).filter((e) => e.type.startsWith("tool."));
    expect(events.map((e) => [e.type, e.actor, e.status])).toEqual([
      ["tool.added", "user", "active"],
      ["tool.status", "user", "disabled"],
      ["tool.status", "user", "active"],
      ["tool.state_cleared", "ci", null],
      ["tool.revoked", "agent", "revoked"],
      ["tool.approved", "user", "active"],
    ]);
    expect(events[1]!.data).toMatchObject({ from: "active", to: "disabled" });
    expect(events[3]!.data).toMatchObject({ volume, removed: true });
    expect(events[4]!.data).toMatchObject({ from: "active", stateVolume: volume, stateRemoved: false });
    expect(events[5]!.data).toMatchObject({ from: "revoked", grants: { permissions: expect.objectContaining({ storageMb: 5 }) } });

    const verified = await json(["audit", "verify"]);
    expect(verified.code, why(verified)).toBe(0);
    expect(verified.json.ok).toBe(true);
    expect(verified.json.problems ?? []).toEqual([]);
  });

  // ---------------------------------------------------------------------------------------------------------------
  // doctor

  it("doctor reports the engine version and warns about runc older than 1.1.12; without an engine it fails with exit 6", async () => {
    const version = (await docker(["version", "--format", "{{.Server.Version}}"])).stdout.trim();
    const components = (await docker(["version", "--format", "{{range .Server.Components}}{{.Name}}={{.Version}}\n{{end}}"])).stdout;
    const runc = /^runc=(.+)$/im.exec(components)?.[1]?.trim();

    const doctor = await json(["doctor"]);
    expect(doctor.code, why(doctor)).toBe(0);
    const checks = doctor.json.checks as Array<{ name: string; level: string; message: string; details?: Record<string, unknown> }>;
    const engine = checks.find((c) => c.name === "docker")!;
    expect(engine.level).toBe("ok");
    expect(engine.details).toMatchObject({ engine: version });
    expect(engine.message).toContain(`engine ${version}`);
    const runcCheck = checks.find((c) => c.name === "runc")!;
    expect(runcCheck, JSON.stringify(checks)).toBeDefined();
    const [major = 0, minor = 0, patch = 0] = (runc ?? "0").split(/[+~-]/)[0]!.split(".").map(Number);
    const old = major * 1e6 + minor * 1e3 + patch < 1 * 1e6 + 1 * 1e3 + 12;
    if (runc === undefined || old) {
      expect(runcCheck.level).toBe("warn");
      expect(runcCheck.message).toContain("1.1.12");
      if (runc) expect(runcCheck.message).toContain(runc);
    } else {
      expect(runcCheck.level).toBe("ok");
    }
    expect(checks.find((c) => c.name === `image ${BUSYBOX_IMAGE}`)?.level).toBe("ok");

    const nowhere = await json(["doctor"], { DOCKER_HOST: "unix:///nonexistent.sock" });
    expect(nowhere.code, why(nowhere)).toBe(6);
    expect(nowhere.json.ok).toBe(false);
    const down = (nowhere.json.checks as Array<{ name: string; level: string; message: string }>).find((c) => c.name === "docker")!;
    expect(down.level).toBe("fail");
    expect(down.message).toMatch(/Docker daemon not available/);

    // With no Docker tool registered, a missing engine is only a warning.
    const plain = tempDir("toolctl-docker-doctor-");
    const echo = writeFiles({
      "echo.yaml": "apiVersion: toolctl/v1\nname: plain-echo\ndescription: echo\nruntime: echo\nactions:\n  say:\n    description: say\n    kind: read\n",
    });
    await importInto(plain, [echo]);
    const relaxed = await json(["doctor"], { DOCKER_HOST: "unix:///nonexistent.sock" }, plain);
    expect(relaxed.code, why(relaxed)).toBe(0);
    expect((relaxed.json.checks as Array<{ name: string; level: string }>).find((c) => c.name === "docker")?.level).toBe("warn");
  });

  it("doctor: a Docker tool's missing image fails (exit 6) when pulling is off, and is only a warning when it may be pulled", async () => {
    const absent = "toolctl-test/absent-for-doctor:1";
    expect((await docker(["image", "inspect", absent], true)).code).not.toBe(0);
    const lonely = tempDir("toolctl-docker-doctor-");
    await importInto(lonely, [writeFiles({ "absent.yaml": shellTool("lc-absent", "{ storageMb: 0 }", absent) })]);

    const off = await json(["doctor"], { TOOLCTL_DOCKER_PULL: "false" }, lonely);
    expect(off.code, why(off)).toBe(6);
    expect(off.json.ok).toBe(false);
    const missing = (off.json.checks as Array<{ name: string; level: string; message: string }>).find((c) => c.name === `image ${absent}`)!;
    expect(missing.level).toBe("fail");
    expect(missing.message).toMatch(/docker\.pull is off/);

    const on = await json(["doctor"], { TOOLCTL_DOCKER_PULL: "true" }, lonely);
    expect(on.code, why(on)).toBe(0);
    expect((on.json.checks as Array<{ name: string; level: string }>).find((c) => c.name === `image ${absent}`)?.level).toBe("warn");
  });

  // ---------------------------------------------------------------------------------------------------------------
  // The interactive approval

  it("tool approve through a real terminal: 'yes' grants, 'no' leaves it pending with exit 3", async () => {
    const question = /Grant these permissions to lc-pty-yes\? \[yes\/no\]/;
    const yes = spawnTerminal(["tool", "approve", "lc-pty-yes"], home, { env: engineEnv() as Record<string, string>, sessionMs: 20_000 });
    await yes.waitFor(question);
    expect(yes.text()).toMatch(/memoryMb\s+1024 MB\s+\(now: 512 MB\)/);
    yes.write("yes\r");
    const yesExit = await yes.exited;
    expect(yesExit.killed, yes.text()).toBe(false);
    expect(yesExit.exitCode, yes.text()).toBe(0);
    expect(yes.text()).toContain("lc-pty-yes: active");
    expect(await toolRecord("lc-pty-yes")).toMatchObject({ status: "active", grants: { permissions: expect.objectContaining({ memoryMb: 1024 }) } });

    const no = spawnTerminal(["tool", "approve", "lc-pty-no"], home, { env: engineEnv() as Record<string, string>, sessionMs: 20_000 });
    await no.waitFor(/Grant these permissions to lc-pty-no\? \[yes\/no\]/);
    no.write("no\r");
    const noExit = await no.exited;
    expect(noExit.killed, no.text()).toBe(false);
    expect(noExit.exitCode, no.text()).toBe(3);
    expect(no.text()).toMatch(/not approved \(no\); lc-pty-no stays pending/);
    expect(await toolRecord("lc-pty-no")).toMatchObject({ status: "pending", grants: null });
    const declined = (await auditOf("lc-pty-no")).filter((e) => e.type === "tool.approval_declined");
    expect(declined.map((e) => [e.actor, e.data.answer])).toEqual([["user", "no"]]);
    const refused = await sh("lc-pty-no", "true");
    expect(refused.code, why(refused)).toBe(3);
  });

  it("the approval prompt of a Docker action names the image and the command, and the undo; 'no' starts no container", async () => {
    const since = Date.now();
    const term = spawnTerminal(["run", "lc-ask.say", "-p", "word=hello"], home, { env: engineEnv() as Record<string, string>, sessionMs: 20_000 });
    await term.waitFor(/Approve this action\? \[yes\/no\]/);
    expect(term.text()).toContain(`Target: image ${BUSYBOX_IMAGE}, command ["echo","hello"]`);
    expect(term.text()).toMatch(/Undo: irreversible: this cannot be undone/);
    term.write("no\r");
    const exit = await term.exited;
    expect(exit.exitCode, term.text()).toBe(3);
    const created = await docker([
      "events",
      "--since",
      String(Math.floor(since / 1000)),
      "--until",
      String(Math.ceil(Date.now() / 1000)),
      "--filter",
      "type=container",
      "--filter",
      "event=create",
      "--filter",
      "label=io.toolctl.tool=lc-ask",
      "--format",
      "{{.ID}}",
    ]);
    expect(created.stdout.trim()).toBe("");
  });
});
