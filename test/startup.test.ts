/**
 * What a command loads at start-up, read from the built binary's own process: the build's CommonJS chunks never
 * bring in Node's ESM loader, and chalk is loaded only for coloured output. Times are for bench/run.mjs; these
 * are the causes, checked so that a change to the build cannot undo them unnoticed.
 */
import { spawnSync } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { baseEnv, binPath, examplesDir, repoRoot, runCli, tempDir } from "./helpers.js";
import { isoTime } from "../src/util/iso-time.js";

/** Runs the built toolctl with a preload that records, at exit, the built-in modules and the files it loaded. */
function loaded(
  args: string[],
  home: string,
  env: Record<string, string> = {},
  stdin: "pipe" | number = "pipe",
  [stdout, stderr]: Array<"pipe" | number> = ["pipe", "pipe"],
): { builtins: string[]; files: string[]; status: number | null; stdout: string; stderr: string } {
  const dir = tempDir("toolctl-startup-");
  const record = path.join(dir, "loaded.json");
  const preload = path.join(dir, "record.cjs");
  writeFileSync(
    preload,
    `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(record)}, JSON.stringify({ builtins: process.moduleLoadList, files: Object.keys(require.cache) })));\n`,
  );
  const result = spawnSync(process.execPath, ["-r", preload, binPath, ...args], {
    env: baseEnv({ TOOLCTL_HOME: home, ...env }),
    encoding: "utf8",
    stdio: [stdin, stdout, stderr],
  });
  return {
    ...(JSON.parse(readFileSync(record, "utf8")) as { builtins: string[]; files: string[] }),
    status: result.status,
    stdout: result.stdout ?? "",
    stderr: result.stderr ?? "",
  };
}

/** Whether one of the loaded files is chalk's (its style table is built by `assembleStyles`). */
const loadsChalk = (files: string[]) => files.some((file) => file.endsWith(".js") && readFileSync(file, "utf8").includes("assembleStyles"));

describe("start-up", () => {
  it("every built file is strict CommonJS, as the ESM it was made from was strict", () => {
    const dist = path.join(repoRoot, "dist");
    const files = readdirSync(dist, { recursive: true, encoding: "utf8" }).filter((file) => file.endsWith(".js"));
    expect(files.length).toBeGreaterThan(50);
    expect(files.filter((file) => !readFileSync(path.join(dist, file), "utf8").startsWith('"use strict";'))).toEqual([]);
    expect(JSON.parse(readFileSync(path.join(dist, "package.json"), "utf8"))).toEqual({ type: "commonjs" });
  });

  it("a command runs as CommonJS without Node's ESM loader, and loads chalk only when its output is coloured", async () => {
    const home = tempDir("toolctl-startup-home-");
    expect((await runCli(["import", path.join(examplesDir, "echo.yaml")], { home })).code).toBe(0);

    const piped = loaded(["list"], home);
    expect(piped.status).toBe(0);
    expect(piped.files.some((file) => file.includes(`${path.sep}dist${path.sep}chunks${path.sep}`))).toBe(true);
    expect(piped.builtins).not.toContain("NativeModule internal/modules/esm/module_job");
    expect(piped.builtins).not.toContain("NativeModule internal/fs/promises");
    expect(loadsChalk(piped.files)).toBe(false);

    const coloured = loaded(["list"], home, { FORCE_COLOR: "1" });
    expect(coloured.status).toBe(0);
    expect(loadsChalk(coloured.files)).toBe(true);
  });

  it("a command printing to a pipe or a file never builds the stdout and stderr streams (net and the stream stack)", async () => {
    const home = tempDir("toolctl-startup-home-");
    expect((await runCli(["import", path.join(examplesDir, "echo.yaml")], { home })).code).toBe(0);
    const streams = ["NativeModule net", "NativeModule stream", "NativeModule internal/fs/sync_write_stream", "NativeModule tty"];
    const dir = tempDir("toolctl-startup-");

    // To pipes: a table, a view, JSON, an error on stderr with its exit code, and a TAB's answer.
    for (const args of [["list"], ["show", "echo"], ["list", "--json"], ["show", "nosuch"], ["__complete", "run", "ec"]]) {
      const result = loaded(args, home);
      expect(result.status, args.join(" ")).toBe(args[1] === "nosuch" ? 2 : 0);
      expect(
        result.builtins.filter((name) => streams.includes(name)),
        args.join(" "),
      ).toEqual([]);
      expect(result.stdout + result.stderr).toMatch(args[1] === "nosuch" ? /^error: .*nosuch/ : /echo/);
    }

    // To files, whole: stdout and stderr written with the descriptors, as a pipe's reader would have seen them.
    const out = path.join(dir, "out.txt");
    const err = path.join(dir, "err.txt");
    const [outFd, errFd] = [openSync(out, "w"), openSync(err, "w")];
    const toFiles = loaded(["list"], home, {}, "pipe", [outFd, errFd]);
    closeSync(outFd);
    closeSync(errFd);
    expect(toFiles.status).toBe(0);
    expect(toFiles.builtins.filter((name) => streams.includes(name))).toEqual([]);
    expect(readFileSync(out, "utf8")).toBe((await runCli(["list"], { home })).stdout);
    expect(readFileSync(err, "utf8")).toBe("");

    // To /dev/null, a character device that is no terminal: tty is not even asked.
    const [nullOut, nullErr] = [openSync("/dev/null", "w"), openSync("/dev/null", "w")];
    const toNull = loaded(["list"], home, {}, "pipe", [nullOut, nullErr]);
    closeSync(nullOut);
    closeSync(nullErr);
    expect(toNull.status).toBe(0);
    expect(toNull.builtins.filter((name) => streams.includes(name))).toEqual([]);
  });

  it("a run that asks nobody never builds the stdin stream (for a file, that loads fs/promises and readline)", async () => {
    const home = tempDir("toolctl-startup-home-");
    expect((await runCli(["import", path.join(examplesDir, "echo.yaml")], { home })).code).toBe(0);
    // stdin from a file, as with `< input.txt` or cron's /dev/null: the stream Node would build for it is a file stream.
    const input = path.join(tempDir("toolctl-startup-"), "stdin.txt");
    writeFileSync(input, "");
    const fd = openSync(input, "r");
    const run = loaded(["run", "echo.say", "--param", "message=hi"], home, {}, fd);
    closeSync(fd);
    expect(run.status).toBe(0);
    expect(run.builtins).not.toContain("NativeModule internal/fs/promises");
    expect(run.builtins).not.toContain("NativeModule internal/readline/interface");
  });
});

describe("isoTime", () => {
  it("gives toISOString's text for every date it formats itself, and leaves the rest (and invalid dates) to it", () => {
    const samples = [0, 1, 9, 10, 99, 100, 999, Date.UTC(2026, 11, 31, 23, 59, 59, 999), Date.UTC(2024, 1, 29), Date.UTC(9999, 11, 31, 23, 59, 59, 999)];
    for (let i = 0; i < 2000; i++) samples.push(Math.floor(Math.random() * Date.UTC(9999, 11, 31)));
    for (const year of [-1, 0, 5, 999, 10000, 275760]) samples.push(new Date(Date.UTC(2000, 5, 15, 1, 2, 3, 4)).setUTCFullYear(year));
    for (const ms of samples) expect(isoTime(new Date(ms))).toBe(new Date(ms).toISOString());
    expect(() => isoTime(new Date(Number.NaN))).toThrow(RangeError);
    expect(isoTime()).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });
});
