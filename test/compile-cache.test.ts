/**
 * The CLI's V8 code cache (src/cli/compile-cache.ts), through the built files: the binary's own cache directory
 * on disk, and the module itself in a child process over a small tree of CommonJS files, where V8 reports what
 * it accepted. Its speed is bench/run.mjs's business; these are the rules it must keep.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { commandOf, compileCacheBase, UNUSED_DAYS } from "../src/cli/compile-cache.js";
import { baseEnv, binPath, repoRoot, tempDir } from "./helpers.js";

const compileCacheModule = path.join(repoRoot, "dist", "cli", "compile-cache.js");

function toolctl(args: string[], env: Record<string, string | undefined>) {
  const result = spawnSync(process.execPath, [binPath, ...args], { env: baseEnv(env), encoding: "utf8" });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The one command's directory under a cache base: <base>/v8-<version>-<arch>/<installation>/<command>. */
function commandDir(base: string, command = "list"): string {
  const [versioned] = readdirSync(base);
  const [installation] = readdirSync(path.join(base, versioned));
  expect(readdirSync(path.join(base, versioned, installation))).toEqual([command]);
  return path.join(base, versioned, installation, command);
}

const entries = (dir: string) => readdirSync(dir).sort();
const identity = (file: string) => {
  const { ino, mtimeMs } = statSync(file);
  return `${ino}:${mtimeMs}`;
};

describe("the CLI's compile cache", () => {
  it("writes one private entry per file a command compiled, and uses them unchanged on the next run", () => {
    const base = path.join(tempDir("toolctl-cc-"), "cache");
    const env = { TOOLCTL_HOME: tempDir("toolctl-cc-home-"), TOOLCTL_COMPILE_CACHE: base };
    const first = toolctl(["list", "--json"], env);
    expect(first.code).toBe(0);
    expect(first.stderr).toBe("");
    const dir = commandDir(base);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const names = entries(dir);
    expect(names.length).toBeGreaterThan(10);
    expect(names.some((name) => name.startsWith("cli+main.js@"))).toBe(true);
    expect(names.some((name) => /^chunks\+program-[A-Z0-9]+\.js@/.test(name))).toBe(true);
    for (const name of names) {
      // Named after a file of this build, its size and its modification time.
      const [relative, key] = name.split("@");
      const source = statSync(path.join(repoRoot, "dist", ...relative.split("+")));
      expect(key).toBe(`${source.size}-${Math.trunc(source.mtimeMs)}`);
      expect(statSync(path.join(dir, name)).mode & 0o777).toBe(0o600);
    }
    const before = new Map(names.map((name) => [name, identity(path.join(dir, name))]));

    const second = toolctl(["list", "--json"], env);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    // Accepted entries are left alone; a rejected one would have been written again.
    expect(new Map(entries(dir).map((name) => [name, identity(path.join(dir, name))]))).toEqual(before);

    // Another command keeps its own: the functions it runs differ.
    expect(toolctl(["--json", "config", "get", "limits.dailyUsd"], env).code).toBe(0);
    expect(readdirSync(path.dirname(dir)).sort()).toEqual(["config", "list"]);
    expect(entries(path.join(path.dirname(dir), "config")).some((name) => name.startsWith("chunks+program-"))).toBe(true);
    expect(new Map(entries(dir).map((name) => [name, identity(path.join(dir, name))]))).toEqual(before);
  });

  it("names a command's part of the cache after its first word that is not a flag", () => {
    expect(commandOf(["run", "echo.say", "--param", "message=hi"])).toBe("run");
    expect(commandOf(["--json", "list"])).toBe("list");
    expect(commandOf(["--version"])).toBe("other");
    expect(commandOf(["../evil", "list"])).toBe("other");
    expect(commandOf([])).toBe("other");
    expect(compileCacheBase({ TOOLCTL_COMPILE_CACHE: "off" })).toBeUndefined();
    expect(compileCacheBase({ TOOLCTL_COMPILE_CACHE: "0" })).toBeUndefined();
    expect(compileCacheBase({ TOOLCTL_COMPILE_CACHE: "/tmp/cc" })).toBe("/tmp/cc");
    expect(compileCacheBase({ XDG_CACHE_HOME: "/x/cache" })).toBe(path.join("/x/cache", "toolctl", "compile-cache"));
    // A relative XDG_CACHE_HOME is invalid by the XDG spec: ignored.
    expect(compileCacheBase({ XDG_CACHE_HOME: "cache" })).toBe(path.join(homedir(), ".cache", "toolctl", "compile-cache"));
  });

  it("replaces an entry V8 rejects, and removes entries of files that are gone and leftovers of killed writers", () => {
    const base = path.join(tempDir("toolctl-cc-"), "cache");
    const env = { TOOLCTL_HOME: tempDir("toolctl-cc-home-"), TOOLCTL_COMPILE_CACHE: base };
    const reference = toolctl(["list", "--json"], env);
    expect(reference.code).toBe(0);
    const dir = commandDir(base);
    const program = entries(dir).find((name) => name.startsWith("chunks+program-"))!;
    const size = statSync(path.join(dir, program)).size;
    writeFileSync(path.join(dir, program), Buffer.alloc(size, 0x5a));
    writeFileSync(path.join(dir, "chunks+chunk-GONE1234.js@100-1700000000000"), "old");
    writeFileSync(path.join(dir, "cli+main.js@1-1"), "old");
    const killed = path.join(dir, "chunks+chunk-X.js@1-1.4242.tmp");
    writeFileSync(killed, "half");
    utimesSync(killed, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
    const fresh = path.join(dir, "chunks+chunk-Y.js@1-1.4343.tmp");
    writeFileSync(fresh, "being written");

    const after = toolctl(["list", "--json"], env);
    expect(after.code).toBe(0);
    expect(after.stderr).toBe("");
    expect(after.stdout).toBe(reference.stdout);
    expect(readFileSync(path.join(dir, program)).equals(Buffer.alloc(size, 0x5a))).toBe(false);
    const left = entries(dir);
    expect(left).not.toContain("chunks+chunk-GONE1234.js@100-1700000000000");
    expect(left).not.toContain("cli+main.js@1-1");
    expect(left).not.toContain(path.basename(killed));
    // Another process may be about to rename this one into place.
    expect(left).toContain(path.basename(fresh));
  });

  it("removes what was not written to for 30 days (other commands, installations, Node versions), and only what it made", () => {
    const base = path.join(tempDir("toolctl-cc-"), "cache");
    const env = { TOOLCTL_HOME: tempDir("toolctl-cc-home-"), TOOLCTL_COMPILE_CACHE: base };
    expect(toolctl(["list"], env).code).toBe(0);
    const listDir = commandDir(base);
    const installation = path.dirname(listDir);
    const old = new Date(Date.now() - (UNUSED_DAYS + 1) * 86_400_000);
    const plant = (dir: string, files: string[], when: Date) => {
      mkdirSync(dir, { recursive: true });
      for (const file of files) writeFileSync(path.join(dir, file), "x");
      utimesSync(dir, when, when);
      return dir;
    };
    const oldCommand = plant(path.join(installation, "doctor"), ["chunks+program-X.js@1-1"], old);
    const recentCommand = plant(path.join(installation, "audit"), ["chunks+program-X.js@1-1"], new Date());
    const oldVersion = plant(path.join(base, "v8-0.0.0-old-x64", "abc123", "list"), ["cli+main.js@1-1"], old);
    const notOurs = plant(path.join(base, "v8-0.0.0-old-x64", "abc123", "notes"), ["notes.txt"], old);
    const unrelated = plant(path.join(base, "photos", "abc123", "list"), ["a@b"], old);
    // As if list had not been run for a month.
    utimesSync(listDir, old, old);

    // A run that writes (a new command's first) prunes.
    expect(toolctl(["show", "nothing-here"], env).code).not.toBe(0);
    expect(existsSync(oldCommand)).toBe(false);
    expect(existsSync(recentCommand)).toBe(true);
    expect(existsSync(path.dirname(oldVersion))).toBe(true);
    expect(existsSync(oldVersion)).toBe(false);
    expect(existsSync(notOurs)).toBe(true);
    expect(existsSync(unrelated)).toBe(true);
    // The old list directory was not written to in 30 days either, so it went too; its next run makes it again.
    expect(existsSync(listDir)).toBe(false);
    expect(toolctl(["list"], env).code).toBe(0);
    expect(entries(listDir).length).toBeGreaterThan(10);

    // An emptied installation and Node version go with their last command.
    const lone = plant(path.join(base, "v8-0.0.0-gone-x64", "zz9", "run"), ["cli+main.js@1-1"], old);
    expect(toolctl(["config", "get", "limits.dailyUsd"], env).code).toBe(0);
    expect(existsSync(path.join(base, "v8-0.0.0-gone-x64"))).toBe(false);
    expect(existsSync(lone)).toBe(false);
  });

  it("is off with TOOLCTL_COMPILE_CACHE=0, lives under XDG_CACHE_HOME by default, and is never used from a directory others can write to", () => {
    const home = tempDir("toolctl-cc-home-");
    const xdg = tempDir("toolctl-cc-xdg-");
    const off = toolctl(["list"], { TOOLCTL_HOME: home, TOOLCTL_COMPILE_CACHE: "0", XDG_CACHE_HOME: xdg });
    expect(off.code).toBe(0);
    expect(readdirSync(xdg)).toEqual([]);

    expect(toolctl(["list"], { TOOLCTL_HOME: home, XDG_CACHE_HOME: xdg }).code).toBe(0);
    const dir = commandDir(path.join(xdg, "toolctl", "compile-cache"));
    expect(entries(dir).length).toBeGreaterThan(10);

    // Without XDG_CACHE_HOME: ~/.cache.
    const userHome = tempDir("toolctl-cc-user-");
    expect(toolctl(["list"], { TOOLCTL_HOME: home, HOME: userHome, XDG_CACHE_HOME: undefined }).code).toBe(0);
    expect(existsSync(path.join(userHome, ".cache", "toolctl", "compile-cache"))).toBe(true);

    // Writable by others: not read, not written.
    for (const name of entries(dir)) writeFileSync(path.join(dir, name), "planted");
    chmodSync(dir, 0o777);
    const shared = toolctl(["list"], { TOOLCTL_HOME: home, XDG_CACHE_HOME: xdg });
    expect(shared.code).toBe(0);
    expect(shared.stderr).toBe("");
    for (const name of entries(dir)) expect(readFileSync(path.join(dir, name), "utf8")).toBe("planted");

    // Another user's home, as `sudo toolctl` with HOME kept sees it: nothing of root's is made in it (giving a
    // directory away takes root, which CI is).
    if (process.getuid?.() === 0) {
      const theirs = tempDir("toolctl-cc-theirs-");
      chownSync(theirs, 65534, 65534);
      const asRoot = toolctl(["list"], { TOOLCTL_HOME: home, HOME: theirs, XDG_CACHE_HOME: undefined });
      expect(asRoot.code).toBe(0);
      expect(readdirSync(theirs)).toEqual([]);
    }

    // A file where the directory should be: no cache, no complaint.
    const blocked = path.join(tempDir("toolctl-cc-"), "file");
    writeFileSync(blocked, "");
    const noCache = toolctl(["list"], { TOOLCTL_HOME: home, TOOLCTL_COMPILE_CACHE: blocked });
    expect(noCache.code).toBe(0);
    expect(noCache.stderr).toBe("");
  });

  it("compiles a file through V8's cache with CommonJS's semantics kept, and leaves files outside its root to Node", () => {
    const work = tempDir("toolctl-cc-unit-");
    const root = path.join(work, "root");
    mkdirSync(path.join(root, "lib"), { recursive: true });
    writeFileSync(
      path.join(root, "a.js"),
      [
        '"use strict";',
        'const b = require("./lib/b.js");',
        "module.exports = {",
        "  b: b.twice(21),",
        "  strict: (function () { return this === undefined; })(),",
        "  self: this === module.exports,",
        "  file: __filename,",
        "  dir: __dirname,",
        '  resolved: require.resolve("./lib/b.js"),',
        "  outside: require(process.env.OUTSIDE).value,",
        "  stack: () => new Error('where').stack,",
        "};",
      ].join("\n"),
    );
    writeFileSync(path.join(root, "lib", "b.js"), "exports.twice = (n) => n * 2;\n");
    const outside = path.join(work, "outside.js");
    writeFileSync(outside, "exports.value = 'outside';\n");
    const script = path.join(work, "main.cjs");
    writeFileSync(
      script,
      `const { enableCompileCache } = require(${JSON.stringify(compileCacheModule)});
const stats = enableCompileCache(${JSON.stringify(root)}, ${JSON.stringify(path.join(work, "cache"))});
const a = require(${JSON.stringify(path.join(root, "a.js"))});
const { stack, ...rest } = a;
process.stdout.write(JSON.stringify({ ...rest, at: stack().split("\\n")[1], stats: { hits: stats.hits, misses: stats.misses, rejected: stats.rejected } }));`,
    );
    const run = () => {
      const result = spawnSync(process.execPath, [script], { env: baseEnv({ OUTSIDE: outside }), encoding: "utf8" });
      expect(result.stderr).toBe("");
      return JSON.parse(result.stdout) as Record<string, unknown>;
    };
    const expected = {
      b: 42,
      strict: true,
      self: true,
      file: path.join(root, "a.js"),
      dir: root,
      resolved: path.join(root, "lib", "b.js"),
      outside: "outside",
    };
    const first = run();
    expect(first).toMatchObject({ ...expected, stats: { hits: 0, misses: 2, rejected: 0 } });
    expect(first.at).toContain(`${path.join(root, "a.js")}:11:`);
    const dir = commandDir(path.join(work, "cache"), "other");
    expect(entries(dir).map((name) => name.split("@")[0])).toEqual(["a.js", "lib+b.js"]);

    const second = run();
    expect(second).toMatchObject({ ...expected, stats: { hits: 2, misses: 0, rejected: 0 } });
    expect(second.at).toBe(first.at);

    // Same length, different code: the entry's name (size and modification time) no longer matches.
    writeFileSync(path.join(root, "lib", "b.js"), "exports.twice = (n) => n + n;\n");
    utimesSync(path.join(root, "lib", "b.js"), new Date(), new Date(Date.now() + 5_000));
    expect(run()).toMatchObject({ b: 42, stats: { hits: 1, misses: 1, rejected: 0 } });
    expect(entries(dir)).toHaveLength(2);
  });

  it("loads a file's text exactly: UTF-8 beyond ASCII, and a file larger than its read buffer", () => {
    const work = tempDir("toolctl-cc-text-");
    const root = path.join(work, "root");
    mkdirSync(root, { recursive: true });
    // Both through a relative require, which the cache reads itself (the shared buffer starts at 256 KiB).
    writeFileSync(path.join(root, "entry.js"), 'exports.text = require("./text.js");\nexports.big = require("./big.js");\n');
    writeFileSync(path.join(root, "text.js"), "// Größe → ok\nexports.arrows = '← newer · older →';\nexports.emoji = '\u{1F600}'.length + '😀'.length;\n");
    const filler = "x".repeat(1000);
    const lines = Array.from({ length: 700 }, (_, i) => `exports.k${i} = "${filler}";`);
    writeFileSync(path.join(root, "big.js"), `${lines.join("\n")}\nexports.last = "end";\n`);
    const script = path.join(work, "main.cjs");
    writeFileSync(
      script,
      `const { enableCompileCache } = require(${JSON.stringify(compileCacheModule)});
const stats = enableCompileCache(${JSON.stringify(root)}, ${JSON.stringify(path.join(work, "cache"))});
const { text, big } = require(${JSON.stringify(path.join(root, "entry.js"))});
process.stdout.write(JSON.stringify({ text, keys: Object.keys(big).length, k699: big.k699.length, last: big.last, hits: stats.hits }));`,
    );
    for (const hits of [0, 3]) {
      const result = spawnSync(process.execPath, [script], { env: baseEnv(), encoding: "utf8" });
      expect(result.stderr).toBe("");
      expect(JSON.parse(result.stdout)).toEqual({ text: { arrows: "← newer · older →", emoji: 4 }, keys: 701, k699: 1000, last: "end", hits });
    }
  });

  it("loads its root's files that require each other by relative path once each, cycles and failures as Node does", () => {
    const work = tempDir("toolctl-cc-graph-");
    const root = path.join(work, "root");
    mkdirSync(path.join(root, "chunks"), { recursive: true });
    // a and b require each other (b sees a's exports as they are when the cycle closes); c is required from two
    // places and by absolute path from outside; broken throws the first time it runs, then works.
    writeFileSync(path.join(root, "entry.js"), 'exports.a = require("./chunks/a.js");\nexports.c = require("./chunks/c.js");\n');
    writeFileSync(
      path.join(root, "chunks", "a.js"),
      'exports.early = 1;\nconst b = require("./b.js");\nexports.seenByB = b.sawEarly;\nexports.c = require("./c.js");\n',
    );
    writeFileSync(path.join(root, "chunks", "b.js"), 'const a = require("./a.js");\nexports.sawEarly = a.early === 1 && a.seenByB === undefined;\n');
    writeFileSync(path.join(root, "chunks", "c.js"), "globalThis.cRuns = (globalThis.cRuns ?? 0) + 1;\nexports.id = {};\n");
    writeFileSync(
      path.join(root, "chunks", "broken.js"),
      'globalThis.brokenRuns = (globalThis.brokenRuns ?? 0) + 1;\nif (globalThis.brokenRuns === 1) throw new Error("first");\nexports.ok = true;\n',
    );
    writeFileSync(
      path.join(root, "chunks", "tries.js"),
      'let first;\ntry { require("./broken.js"); } catch (error) { first = error.message; }\nexports.first = first;\nexports.second = require("./broken.js").ok;\n',
    );
    const script = path.join(work, "main.cjs");
    writeFileSync(
      script,
      `const { enableCompileCache } = require(${JSON.stringify(compileCacheModule)});
enableCompileCache(${JSON.stringify(root)}, ${JSON.stringify(path.join(work, "cache"))});
const entry = require(${JSON.stringify(path.join(root, "entry.js"))});
const c = require(${JSON.stringify(path.join(root, "chunks", "c.js"))});
const tries = require(${JSON.stringify(path.join(root, "chunks", "tries.js"))});
const cached = require.cache[${JSON.stringify(path.join(root, "chunks", "a.js"))}];
process.stdout.write(JSON.stringify({
  seenByB: entry.a.seenByB,
  oneC: entry.c === entry.a.c && entry.c === c && globalThis.cRuns === 1,
  tries,
  aCached: cached?.exports === entry.a && cached.loaded === true && cached.filename.endsWith("a.js"),
}));`,
    );
    for (let round = 0; round < 2; round++) {
      const result = spawnSync(process.execPath, [script], { env: baseEnv(), encoding: "utf8" });
      expect(result.stderr).toBe("");
      expect(JSON.parse(result.stdout)).toEqual({ seenByB: true, oneC: true, tries: { first: "first", second: true }, aCached: true });
    }

    // A file that is missing is reported by Node's loader, as without the cache.
    writeFileSync(path.join(root, "entry.js"), 'require("./chunks/gone.js");\n');
    const missing = spawnSync(process.execPath, [script], { env: baseEnv(), encoding: "utf8" });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("Cannot find module './chunks/gone.js'");
    expect(missing.stderr).toContain("code: 'MODULE_NOT_FOUND'");
  });
});
