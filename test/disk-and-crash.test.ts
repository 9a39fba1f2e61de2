/**
 * A full disk and a process killed at an exact point, through the built binary: whatever stops a write, the home
 * stays usable once the cause is gone, `audit verify` never calls what toolctl left tampering, and an error is one
 * line, exit 6, with nothing half-written left behind.
 *
 * A full disk is a small tmpfs of its own, filled up; mounting one (and acting as another user) takes root, which
 * CI runs as: there these tests never skip. A kill at an exact point is strace's fault injection: SIGKILL at the
 * Nth call of a system call (.ci/run installs strace).
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ToolctlError } from "../src/errors.js";
import { holderForNewKey } from "../src/secrets/key-store.js";
import { baseEnv, binPath, examplesDir, repoRoot, runCli, runJson, tempDir, type CliResult } from "./helpers.js";

const inCI = Boolean(process.env.CI);
const isRoot = process.getuid?.() === 0;
const hasStrace = spawnSync("strace", ["-V"], { stdio: "ignore" }).status === 0;
const rootOnly = describe.skipIf(!isRoot && !inCI);
const straceOnly = describe.skipIf(!hasStrace && !inCI);

/** The same for every spawned run: no compile cache, whose files would add system calls of their own. */
const ENV = { TOOLCTL_COMPILE_CACHE: "0" };
const ECHO = path.join(examplesDir, "echo.yaml");
const CALCULATOR = path.join(examplesDir, "calculator.yaml");

const mounts: string[] = [];
afterAll(() => {
  for (const dir of mounts.splice(0)) {
    spawnSync("umount", [dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A tmpfs of `size` (as mount takes it: `300k`, `2m`), mounted on a directory of its own. */
function tmpfs(size: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "toolctl-disk-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
  mounts.push(dir);
  return dir;
}

function unmount(dir: string): void {
  execFileSync("umount", [dir]);
  mounts.splice(mounts.indexOf(dir), 1);
  rmSync(dir, { recursive: true, force: true });
}

/** Fills the file system holding `dir` until `leave` bytes are left (0: full); returns how to free it again. */
function fill(dir: string, leave = 0): () => void {
  const stats = statfsSync(dir);
  const free = stats.bavail * stats.bsize;
  const filler = path.join(dir, `filler-${leave}`);
  writeFileSync(filler, Buffer.alloc(Math.max(0, free - leave)));
  return () => rmSync(filler, { force: true });
}

function run(args: string[], home: string, extra: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, { home, env: { ...ENV, ...extra } });
}

/** An error as a person sees it: exit 6, one line on stderr, no stack trace. */
function expectOneLine(result: CliResult, message: RegExp): void {
  expect(result.code, result.stderr).toBe(6);
  const lines = result.stderr.trim().split("\n");
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(message);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

/** `audit verify --json`: its exit code and answer. */
async function verify(home: string, extra: Record<string, string> = {}) {
  const result = await runJson(["audit", "verify"], { home, env: { ...ENV, ...extra } });
  return { code: result.code, ok: result.json.ok as boolean, problems: (result.json.problems ?? []) as string[], notes: (result.json.notes ?? []) as string[] };
}

/** The system calls strace knows a rename and a link by, on every architecture. */
const RENAME = "rename,renameat,renameat2";

/**
 * Runs the CLI under strace, killed (SIGKILL) at the `when`th call of `calls` on its main thread (without -f, strace
 * follows no other thread): the one that runs SQLite and writes the home's files.
 */
function killedAt(calls: string, when: number, args: string[], home: string, extra: Record<string, string> = {}): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn("strace", ["-o", "/dev/null", "-e", `inject=${calls}:signal=SIGKILL:when=${when}`, process.execPath, binPath, ...args], {
      env: baseEnv({ TOOLCTL_HOME: home, ...ENV, ...extra }),
      cwd: repoRoot,
      stdio: "ignore",
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve(signal ? 128 + os.constants.signals[signal] : code));
  });
}

/** The system calls of a run's main thread, in order, by name (`pwrite64`, `rename`, `link`, ...). */
function traced(calls: string, args: string[], home: string): string[] {
  const log = path.join(tempDir("toolctl-trace-"), "trace");
  const result = spawnSync("strace", ["-o", log, "-e", `trace=${calls}`, process.execPath, binPath, ...args], {
    env: baseEnv({ TOOLCTL_HOME: home, ...ENV }),
    cwd: repoRoot,
    stdio: "ignore",
  });
  expect(result.status).toBe(0);
  return readFileSync(log, "utf8")
    .split("\n")
    .map((line) => /^(\w+)\(/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
}

function leftovers(home: string): string[] {
  return readdirSync(home).filter((name) => /\.tmp$|\.new(-wal|-shm)?$|\.lock(\.break)?$/.test(name));
}

straceOnly("a home's first audited write, killed at an exact point", () => {
  it.each([
    ["the key made by toolctl", {}],
    ["the key given in TOOLCTL_AUDIT_KEY", { TOOLCTL_AUDIT_KEY: Buffer.alloc(32, 5).toString("base64") }],
  ])("killed before its head file is renamed into place (%s): verified intact, and the next write goes through", async (_name, env) => {
    for (const when of [1, 2]) {
      const home = path.join(tempDir("toolctl-kill-"), "home");
      expect(await killedAt(RENAME, when, ["import", ECHO], home, env)).toBe(137);
      // The first rename puts the head in place (a head file is there before the first event is committed); the
      // second is the export after COMMIT. Neither kill leaves a log that looks cut.
      const checked = await verify(home, env);
      expect(checked.problems).toEqual([]);
      expect(checked).toMatchObject({ code: 0, ok: true });
      if (when === 1) expect(checked.notes.join("\n")).toMatch(/left in audit\.head\.tmp .* so it was put in place/);
      expect(existsSync(path.join(home, "audit.head"))).toBe(true);
      const next = await run(["import", CALCULATOR], home, env);
      expect(next.code, next.stderr).toBe(0);
      expect(await verify(home, env)).toMatchObject({ code: 0, ok: true, problems: [] });
    }
  });

  it("killed after making the audit key but before COMMIT: no 'events deleted', and the next write goes through", async () => {
    const homes = [0, 1].map(() => path.join(tempDir("toolctl-kill-"), "home"));
    for (const home of homes) expect((await run(["list"], home)).code).toBe(0);
    // Where COMMIT starts writing the WAL: the first pwrite after the key file is linked into place, counted on a
    // run of the same command on a home made the same way.
    const calls = traced(`pwrite64,link,linkat`, ["import", ECHO], homes[0]!);
    const linked = calls.findIndex((name) => name.startsWith("link"));
    expect(linked).toBeGreaterThanOrEqual(0);
    const when = calls.slice(0, linked).filter((name) => name === "pwrite64").length + 1;
    expect(await killedAt("pwrite64", when, ["import", ECHO], homes[1]!)).toBe(137);
    expect(existsSync(path.join(homes[1]!, "audit.key"))).toBe(true);
    const checked = await verify(homes[1]!);
    expect(checked.problems).toEqual([]);
    expect(checked).toMatchObject({ code: 0, ok: true });
    const next = await run(["import", CALCULATOR], homes[1]!);
    expect(next.code, next.stderr).toBe(0);
    expect(await verify(homes[1]!)).toMatchObject({ code: 0, ok: true, problems: [] });
  });
});

rootOnly("a full disk", () => {
  it("at a home's first audited write, at any point: exit 0 or 6 in one line, never 'tampered', and fine once there is room", async () => {
    // A registry made beforehand, copied in: the first audited write is what meets the full disk.
    const template = path.join(tempDir("toolctl-template-"), "home");
    expect((await run(["list"], template)).code).toBe(0);
    // Every few KB from nearly nothing to enough: the full disk meets the head file, the key, the WAL, COMMIT and
    // the export after it. Four file systems at once, each taking every fourth size.
    const sizes = Array.from({ length: 16 }, (_, i) => 12 + i * 8);
    const lanes = [0, 1, 2, 3].map((lane) => sizes.filter((_, i) => i % 4 === lane));
    const seen = new Set<number>();
    await Promise.all(
      lanes.map(async (lane) => {
        const disk = tmpfs("2m");
        for (const kb of lane) {
          const home = path.join(disk, `home-${kb}`);
          mkdirSync(home, { mode: 0o700 });
          copyFileSync(path.join(template, "registry.db"), path.join(home, "registry.db"));
          const free = fill(disk, kb * 1024);
          const first = await run(["import", ECHO], home);
          seen.add(first.code ?? -1);
          if (first.code !== 0)
            expectOneLine(
              first,
              /^error: (no space left on the disk holding .*|cannot create .*: no space left on the disk holding .*)(nothing was changed|nothing was written)/,
            );
          expect(leftovers(home), `${kb} KB free`).toEqual([]);
          // Still full: verification may not open the registry (exit 6), but never finds it tampered (exit 1).
          const full = await runJson(["audit", "verify"], { home, env: ENV });
          expect(full.code, `${kb} KB free: ${full.stdout}${full.stderr}`).not.toBe(1);
          free();
          const next = await run(["import", CALCULATOR], home);
          expect(next.code, `${kb} KB free, then room: ${next.stderr}`).toBe(0);
          const checked = await verify(home);
          expect(checked.problems, `${kb} KB free`).toEqual([]);
          expect(checked.ok).toBe(true);
          rmSync(home, { recursive: true, force: true });
        }
        unmount(disk);
      }),
    );
    // Both outcomes were met: the sizes reach from a write refused to one that went through.
    expect([...seen].sort()).toEqual([0, 6]);
  }, 180_000);

  it("while a registry is created: exit 6 in one line, no registry.db left, and a new one once there is room", async () => {
    for (const size of ["200k", "300k"]) {
      const disk = tmpfs(size);
      const home = path.join(disk, "home");
      const refused = await run(["import", ECHO], home);
      expectOneLine(refused, /^error: no space left on the disk holding .*; nothing was changed: free some space and run it again$/);
      expect(readdirSync(home).filter((name) => name.startsWith("registry.db"))).toEqual([]);
      execFileSync("mount", ["-o", "remount,size=4m", disk]);
      const next = await run(["import", ECHO], home);
      expect(next.code, next.stderr).toBe(0);
      expect(await verify(home)).toMatchObject({ code: 0, ok: true, problems: [] });
      unmount(disk);
    }
  });

  it("the audit key's file: exit 6 naming the full disk, and no temp file left", async () => {
    const disk = tmpfs("64k");
    const home = path.join(disk, "home");
    mkdirSync(home, { mode: 0o700 });
    fill(disk);
    let thrown: unknown;
    try {
      holderForNewKey(home, "audit", { TOOLCTL_KEY_STORE: "file" }).create('{"id":"a1","key":"x"}\n');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ToolctlError);
    expect((thrown as ToolctlError).exitCode).toBe(6);
    expect((thrown as ToolctlError).message).toBe(
      `cannot create ${path.join(home, "audit.key")}: no space left on the disk holding ${home}; nothing was written: free some space and run it again`,
    );
    expect(readdirSync(home)).toEqual([]);
    unmount(disk);
  });

  it("config set: exit 6 in one line, no lock files left, and no wait for a holder that is not there", async () => {
    const disk = tmpfs("64k");
    const home = path.join(disk, "home");
    mkdirSync(home, { mode: 0o700 });
    const free = fill(disk);
    for (let attempt = 0; attempt < 2; attempt++) {
      const started = Date.now();
      const result = await run(["config", "set", "limits.dailyUsd", "100"], home);
      expectOneLine(result, /^error: cannot write .*config\.yaml: ENOSPC; it is unchanged$/);
      expect(Date.now() - started).toBeLessThan(4000);
      expect(readdirSync(home)).toEqual([]);
    }
    free();
    expect((await run(["config", "set", "limits.dailyUsd", "100"], home)).code).toBe(0);
    expect(readdirSync(home).filter((name) => name.includes("lock"))).toEqual([]);
    unmount(disk);
  });

  it("toolctl new --out: exit 6 in one line, no file left, and the same command works once there is room", async () => {
    const disk = tmpfs("64k");
    const out = path.join(disk, "foo.yaml");
    const free = fill(disk);
    const refused = await runCli(["new", "http", "foo", "--out", out], { env: ENV });
    expectOneLine(refused, /^error: cannot write .*foo\.yaml: no space left on the disk holding .*; nothing was written: free some space and run it again$/);
    expect(readdirSync(disk).filter((name) => !name.startsWith("filler"))).toEqual([]);
    free();
    const made = await runCli(["new", "http", "foo", "--out", out], { env: ENV });
    expect(made.code, made.stderr).toBe(0);
    expect(readFileSync(out, "utf8")).toContain("runtime: http");
    unmount(disk);
  });
});

describe("a registry left by a process killed while creating it", () => {
  it("is removed by the next run that creates the registry, unless its process still runs", async () => {
    const home = path.join(tempDir("toolctl-leftover-"), "home");
    mkdirSync(home, { mode: 0o700 });
    const gone = spawnSync(process.execPath, ["-e", ""]).pid!;
    for (const suffix of ["", "-wal", "-shm"]) writeFileSync(path.join(home, `registry.db.${gone}.new${suffix}`), "half");
    // This test's own process runs: what it builds is left alone.
    writeFileSync(path.join(home, `registry.db.${process.pid}.new`), "building");
    expect((await run(["list"], home)).code).toBe(0);
    expect(readdirSync(home).sort()).toEqual([`registry.db`, `registry.db.${process.pid}.new`]);
  });
});

rootOnly("a registry it may not write", () => {
  it("names the WAL file that is read-only, not the database made writable again", async () => {
    const parent = tempDir("toolctl-readonly-");
    chmodSync(parent, 0o755);
    const home = path.join(parent, "home");
    expect((await run(["import", ECHO], home)).code).toBe(0);
    for (const name of readdirSync(home)) chownSync(path.join(home, name), 65534, 65534);
    chownSync(home, 65534, 65534);
    chmodSync(path.join(home, "registry.db"), 0o444);
    const nobody = { home, env: ENV, uid: 65534, gid: 65534 };
    // A read leaves the shared-memory file with the database's mode (0444); the database is then made writable.
    expect((await runCli(["list"], nobody)).code).toBe(0);
    chmodSync(path.join(home, "registry.db"), 0o600);
    const refused = await runCli(["import", CALCULATOR], nobody);
    expectOneLine(
      refused,
      /^error: registry .*registry\.db is read-only: .*registry\.db-shm may not be written by this user \(mode 0444\); check its permissions/,
    );
    chmodSync(path.join(home, "registry.db-shm"), 0o600);
    const next = await runCli(["import", CALCULATOR], nobody);
    expect(next.code, next.stderr).toBe(0);
  });

  it("on a file system mounted read-only, says so", async () => {
    const home = path.join(tempDir("toolctl-rofs-"), "home");
    expect((await run(["import", ECHO], home)).code).toBe(0);
    const mounted = mkdtempSync(path.join(os.tmpdir(), "toolctl-rofs-mount-"));
    execFileSync("mount", ["--bind", home, mounted]);
    mounts.push(mounted);
    execFileSync("mount", ["-o", "remount,bind,ro", mounted]);
    for (const args of [["list"], ["import", CALCULATOR]]) {
      expectOneLine(await run(args, mounted), /^error: cannot open registry .*: the file system holding .* is mounted read-only; use a home on a writable one/);
    }
    unmount(mounted);
  });
});
