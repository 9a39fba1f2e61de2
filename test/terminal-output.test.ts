/**
 * Output that fits the terminal, end to end through the built binary: tables cut to the terminal's width, the
 * pager for long views (through a real pseudo-terminal), --quiet and --verbose, `toolctl help environment`, and
 * the spinner of a slow OpenAPI import.
 */
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENVIRONMENT } from "../src/config/environment.js";
import { repoRoot, runCli, runJson, tempDir, writeFiles } from "./helpers.js";
import { spawnTerminal, type Terminal } from "./pty.js";
import { fixturesDir } from "./fixtures/openapi/support.js";

const LONG = "Reads and writes the things this tool is about, with a description long enough to need cutting on any terminal";

function echoTool(name: string, actions: number, description = LONG): string {
  const lines = [`apiVersion: toolctl/v1`, `name: ${name}`, `description: ${description}`, `runtime: echo`, `actions:`];
  for (let i = 1; i <= actions; i++) {
    lines.push(
      `  action_${String(i).padStart(3, "0")}:`,
      `    description: Action number ${i} of ${name}`,
      `    kind: read`,
      `    inputSchema: { type: object, properties: { message: { type: string } } }`,
    );
  }
  return `${lines.join("\n")}\n`;
}

let home = "";
beforeAll(async () => {
  home = tempDir("toolctl-term-");
  const dir = writeFiles({
    "big.yaml": echoTool("big", 300),
    "wide.yaml": echoTool("wide", 1),
    "short.yaml": echoTool("short", 1, "Short"),
  });
  const imported = await runCli(["import", dir], { home });
  expect(imported.code, imported.stderr).toBe(0);
  // Some history for audit and executions.
  for (const message of ["one", "two", "three"]) expect((await runCli(["run", "short.action_001", "-p", `message=${message}`], { home })).code).toBe(0);
}, 60_000);

/** A pager that records what it was given (and the LESS it saw) in `file`, then exits. */
function recordingPager(file: string): string {
  const script = path.join(tempDir(), "pager.sh");
  writeFileSync(script, `#!/bin/sh\nprintf '%s\\n' "LESS=$LESS" > '${file}.env'\ncat > '${file}'\n`);
  chmodSync(script, 0o755);
  return script;
}

/**
 * The exit code once the terminal has shown everything: node-pty may report the exit before the last output
 * arrives, so the text is read once it has stopped changing.
 */
async function finished(term: Terminal): Promise<number> {
  const { exitCode } = await term.exited;
  let last = -1;
  // Settled once nothing more arrived for a quarter of a second (a loaded machine delivers in bursts).
  for (let waited = 0; waited < 5_000 && term.text().length !== last; waited += 250) {
    last = term.text().length;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return exitCode;
}

const visible = (text: string) =>
  text
    .split("\n")
    .map((line) => line.trimEnd())
    .filter((line) => line !== "");

describe("tables fit the terminal", () => {
  it("on a terminal, each row is cut to its width (the description gives way), never wrapped", async () => {
    const term = spawnTerminal(["list"], home, { cols: 70, rows: 40 });
    expect(await finished(term)).toBe(0);
    const lines = visible(term.text());
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^NAME\s+RUNTIME\s+STATUS\s+ACTIONS\s+DESCRIPTION$/);
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(70);
    const wide = lines.find((line) => line.startsWith("wide "))!;
    expect(wide).toMatch(/ Reads and writes.*…$/);
    expect(wide.length).toBe(70);
    expect(lines.find((line) => line.startsWith("short "))).toMatch(/ Short$/);
  });

  it("in a pipe, rows are as before: the description cut at 60 characters, whatever the width", async () => {
    const result = await runCli(["list"], { home, env: { COLUMNS: "40" } });
    const wide = result.stdout.split("\n").find((line) => line.startsWith("wide "))!;
    expect(wide).toContain(`${LONG.slice(0, 59)}…`);
    expect(wide.length).toBeGreaterThan(70);
  });

  it("a table with no room to give is cut at the edge; the config table fits too", async () => {
    const narrow = spawnTerminal(["executions", "--no-pager"], home, { cols: 50, rows: 40 });
    expect(await finished(narrow)).toBe(0);
    const lines = visible(narrow.text());
    expect(lines.filter((line) => /^ex_\w+\s+\d{4}-/.test(line))).toHaveLength(3);
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(50);
    expect(lines[0]).toMatch(/…$/);

    const config = spawnTerminal(["config"], home, { cols: 90, rows: 60 });
    expect(await finished(config)).toBe(0);
    const rows = visible(config.text());
    expect(rows.filter((line) => /^(approvals|limits|rollback|sandboxApis|audit|docker|mcp|process|rateLimits)\b/.test(line))).toHaveLength(16);
    for (const line of rows) expect(line.length, line).toBeLessThanOrEqual(90);
  });
});

describe("the pager", () => {
  it("long output goes through less -FRX on a terminal: one screen, the rest on demand, q quits with exit 0", async () => {
    const term = spawnTerminal(["show", "big"], home, { cols: 100, rows: 24 });
    await term.waitFor(/action_001/);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(term.text()).not.toContain("action_300");
    term.write("G");
    await term.waitFor(/action_300/);
    term.write("q");
    const exit = await term.exited;
    expect(exit).toMatchObject({ exitCode: 0, killed: false });
    expect(term.text()).not.toMatch(/error|EPIPE/i);
  });

  it("quitting before the end is fine: the rest is dropped, exit 0", async () => {
    const term = spawnTerminal(["show", "big"], home, { cols: 100, rows: 24 });
    await term.waitFor(/action_001/);
    term.write("q");
    expect(await finished(term)).toBe(0);
    expect(term.text()).not.toMatch(/error|EPIPE/i);
  });

  it.each([
    ["--no-pager", ["--no-pager"], {}],
    ["TOOLCTL_PAGER empty", [], { TOOLCTL_PAGER: "" }],
    ["TOOLCTL_PAGER=cat", [], { TOOLCTL_PAGER: "cat" }],
    ["PAGER=cat", [], { PAGER: "cat" }],
  ])(
    "%s: no pager, all of it printed at once",
    async (_name, flags, env) => {
      const term = spawnTerminal(["show", "big", ...flags], home, { cols: 100, rows: 24, env: env as Record<string, string> });
      // No key is pressed: a pager would hold its first screen (24 rows, about ten actions) until one is. The
      // command ends by itself, having printed far past that screen. Not checked to its very last line: node-pty
      // drops what it has not read 200 ms after the process exits, which a loaded machine can miss by a few KB.
      expect(await finished(term)).toBe(0);
      await term.waitFor(/action_200/, 1, 20_000);
    },
    90_000,
  );

  it("TOOLCTL_PAGER wins over PAGER; LESS=FRX is set for it; audit and executions page too", async () => {
    const id = (await runJson(["executions"], { home })).json.items[0].id as string;
    for (const args of [["show", "big"], ["audit"], ["executions"], ["executions", "show", id]]) {
      const out = path.join(tempDir(), "paged.txt");
      // Without colour and wide enough for every table, so that the pager gets exactly what a pipe gets.
      const term = spawnTerminal(args, home, { cols: 250, env: { TOOLCTL_PAGER: recordingPager(out), PAGER: "false", NO_COLOR: "1" } });
      expect(await finished(term), `${args.join(" ")}: ${term.text()}`).toBe(0);
      const paged = readFileSync(out, "utf8");
      expect(readFileSync(`${out}.env`, "utf8")).toBe("LESS=FRX\n");
      // What the pager got is what the command prints without one.
      const plain = await runCli(args, { home });
      expect(paged).toBe(plain.stdout);
    }
    const viaPager = path.join(tempDir(), "paged.txt");
    const term = spawnTerminal(["audit"], home, { env: { PAGER: recordingPager(viaPager), LESS: "-S" } });
    expect(await finished(term)).toBe(0);
    expect(readFileSync(viaPager, "utf8")).toMatch(/execution\.succeeded/);
    expect(readFileSync(`${viaPager}.env`, "utf8")).toBe("LESS=-S\n");
  });

  it("never in a pipe, nor for --json", async () => {
    const out = path.join(tempDir(), "paged.txt");
    const piped = await runCli(["show", "big"], { home, env: { TOOLCTL_PAGER: recordingPager(out) } });
    expect(piped.code).toBe(0);
    expect(piped.stdout).toContain("action_300");
    const json = spawnTerminal(["show", "big", "--json"], home, { env: { TOOLCTL_PAGER: recordingPager(out) } });
    expect(await finished(json)).toBe(0);
    expect(json.text()).toContain('"name": "action_250"');
    expect(existsSync(out)).toBe(false);
  });

  it("a pager that cannot be started: a warning, and the output printed directly", async () => {
    const term = spawnTerminal(["show", "big"], home, { env: { TOOLCTL_PAGER: "/nonexistent/pager" } });
    expect(await finished(term)).toBe(0);
    expect(term.text()).toMatch(/warning: cannot start the pager '\/nonexistent\/pager' \(ENOENT\); printing directly/);
    // Printed in full; the pty may drop the very end on a loaded machine (test/pty.ts), so look before it.
    expect(term.text()).toContain("action_250");
  });
});

describe("--quiet and --verbose", () => {
  let server: http.Server;
  let port = 0;
  const TOKEN = "sk_test_verbose_0123456789";
  let httpHome = "";

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const ok = req.headers.authorization === `Bearer ${TOKEN}`;
      res.writeHead(ok ? 200 : 401, { "content-type": "application/json" }).end(JSON.stringify(ok ? { id: req.url, token: TOKEN } : { error: "no" }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
    httpHome = tempDir("toolctl-verbose-");
    const dir = writeFiles({
      "fake.yaml": `apiVersion: toolctl/v1
name: fake
description: A fake provider on loopback
runtime: http
baseUrl: http://127.0.0.1:${port}
http:
  allowPlainHttp: true
  allowPrivateNetworks: ["127.0.0.0/8"]
auth: { type: bearer, secret: FAKE_TOKEN }
actions:
  get_item:
    description: Read an item
    kind: read
    inputSchema: { type: object, required: [id], properties: { id: { type: string } } }
    request: { method: GET, path: "/items/{{ input.id }}" }
`,
    });
    expect((await runCli(["import", dir], { home: httpHome })).code).toBe(0);
    expect((await runCli(["tool", "approve", "fake", "--yes"], { home: httpHome })).code).toBe(0);
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("-q: data on stdout, nothing on stderr; errors still shown; warnings gone", async () => {
    const loud = await runCli(["run", "short.action_001", "-p", "message=hi"], { home });
    expect(loud.stderr).toMatch(/✓ short\.action_001 succeeded/);
    const quiet = await runCli(["run", "short.action_001", "-p", "message=hi", "-q"], { home });
    expect(quiet).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(quiet.stdout)).toEqual({ message: "hi" });
    expect(await runCli(["--quiet", "import", path.join(repoRoot, "manifests", "examples", "echo.yaml")], { home })).toMatchObject({ code: 0, stderr: "" });

    const failed = await runCli(["run", "short.nosuch", "-q"], { home });
    expect(failed.code).toBe(2);
    expect(failed.stderr.trim().split("\n")).toHaveLength(1);
    expect(failed.stderr).toMatch(/^error: /);

    const configHome = tempDir();
    const warned = await runCli(["config", "set", "sandboxApis", "true"], { home: configHome, env: { TOOLCTL_SANDBOX_APIS: "false" } });
    expect(warned.stderr).toMatch(/^warning: TOOLCTL_SANDBOX_APIS is set/);
    const hushed = await runCli(["config", "set", "sandboxApis", "false", "-q"], { home: configHome, env: { TOOLCTL_SANDBOX_APIS: "false" } });
    expect(hushed).toMatchObject({ code: 0, stderr: "" });
    expect(hushed.stdout).toMatch(/^set sandboxApis = false/);
  });

  it("-q with -v is a usage error", async () => {
    const both = await runJson(["run", "short.action_001", "-q", "-v"], { home });
    expect(both.code).toBe(2);
    expect(both.json.error).toMatchObject({ exitCode: 2, message: "--quiet and --verbose cannot be combined: choose one" });
  });

  it("-v: each stage with its time, then the request sent and the answer, the secret redacted", async () => {
    const env = { FAKE_TOKEN: TOKEN };
    const result = await runCli(["run", "fake.get_item", "-p", "id=7", "-v"], { home: httpHome, env });
    expect(result.code, result.stderr).toBe(0);
    const stages = [...result.stderr.matchAll(/^stage (\S+(?: \S+)?)\s+(\d+) ms$/gm)].map((m) => m[1]);
    expect(stages).toEqual(["resolve", "evaluate", "preflight", "approval", "record intent", "run", "record outcome"]);
    expect(result.stderr).toContain(`> GET http://127.0.0.1:${port}/items/7`);
    expect(result.stderr).toMatch(/^> authorization: \[REDACTED\]$/m);
    expect(result.stderr).toMatch(/^< HTTP 200, durationMs \d+$/m);
    expect(result.stderr).toContain('<   "id": "/items/7"');
    // The token the server echoes back is redacted like the one sent.
    expect(result.stderr).toContain('<   "token": "[REDACTED]"');
    expect(`${result.stdout}${result.stderr}`).not.toContain(TOKEN);
    expect(JSON.parse(result.stdout)).toEqual({ id: "/items/7", token: "[REDACTED]" });

    // With --json, stdout stays one JSON document; the trace is on stderr.
    const json = await runJson(["run", "fake.get_item", "-p", "id=8", "--verbose"], { home: httpHome, env });
    expect(json.json).toMatchObject({ status: "succeeded", output: { id: "/items/8" } });
    expect(json.stderr).toMatch(/^stage run\s+\d+ ms$/m);

    // A dry run: its stages, and what would be sent.
    const dry = await runCli(["run", "fake.get_item", "-p", "id=9", "-n", "-v"], { home: httpHome, env });
    expect([...dry.stderr.matchAll(/^stage (\S+(?: \S+)?)\s+\d+ ms$/gm)].map((m) => m[1])).toEqual(["resolve", "evaluate", "record"]);
    expect(dry.stderr).toMatch(/^\(nothing was sent\)$/m);
    expect(dry.stderr).not.toContain(TOKEN);
  });
});

describe("toolctl help environment", () => {
  const sources = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? sources(path.join(dir, entry.name)) : entry.name.endsWith(".ts") ? [path.join(dir, entry.name)] : [],
    );
  const src = sources(path.join(repoRoot, "src")).map((file) => readFileSync(file, "utf8"));
  const listed = ENVIRONMENT.map((variable) => variable.name);

  it("lists every TOOLCTL_ variable and every variable src/ reads, and none it does not", () => {
    const named = new Set(src.flatMap((text) => [...text.matchAll(/\bTOOLCTL_[A-Z0-9_]*[A-Z0-9]\b/g)].map((m) => m[0])));
    const read = new Set(src.flatMap((text) => [...text.matchAll(/\benv\??\.([A-Z][A-Z0-9_]+)\b/g)].map((m) => m[1]!)));
    expect([...named].filter((name) => !listed.includes(name))).toEqual([]);
    expect([...read].filter((name) => !listed.includes(name))).toEqual([]);
    expect(listed.filter((name) => !named.has(name) && !read.has(name))).toEqual([]);
    expect(new Set(listed).size).toBe(listed.length);
  });

  it("prints them, by group; --json gives the list", async () => {
    const human = await runCli(["help", "environment"]);
    expect(human.code).toBe(0);
    for (const name of listed) expect(human.stdout).toMatch(new RegExp(`^  ${name}\\s`, "m"));
    expect(human.stdout).toMatch(/^the terminal:$/m);
    const json = await runJson(["help", "environment"]);
    expect(json.json).toEqual({ variables: ENVIRONMENT });
    expect((await runCli(["--help"])).stdout).toContain("Environment variables: toolctl help environment");
  });

  it("the docs name the ones the CLI's output depends on", () => {
    const doc = readFileSync(path.join(repoRoot, "docs", "commands.md"), "utf8");
    for (const name of ["FORCE_COLOR", "NO_COLOR", "TOOLCTL_PAGER", "PAGER", "toolctl help environment"]) expect(doc.includes(name), name).toBe(true);
  });
});

describe("progress for a slow OpenAPI import", () => {
  let server: http.Server;
  let base = "";
  beforeAll(async () => {
    const spec = readFileSync(path.join(fixturesDir, "petstore.yaml"), "utf8");
    server = http.createServer((req, res) => {
      setTimeout(() => res.writeHead(200, { "content-type": "application/yaml" }).end(spec), req.url === "/slow.yaml" ? 1800 : 0);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const importing = (source: string, more: string[] = []) =>
    spawnTerminal(["import", "--openapi", source, "--name", "pets", "--allow-plain-http", "--allow-private-networks", ...more], tempDir(), { cols: 120 });

  it("a spinner on stderr after a second, only on a terminal", async () => {
    const slow = importing(`${base}/slow.yaml`);
    await slow.waitFor(/importing http:\/\/127\.0\.0\.1:\d+\/slow\.yaml/);
    expect(await finished(slow)).toBe(0);
    expect(slow.text()).toMatch(/added\s+pets/);

    // A local file imports in well under the second; a loaded machine can take longer, and then a spinner is right.
    // So the run that counts is one that finished, start-up included, within the second.
    let quick: { text: string; ms: number } | undefined;
    for (let attempt = 0; attempt < 6 && !quick; attempt++) {
      const started = Date.now();
      const fast = importing(path.join(fixturesDir, "petstore.yaml"));
      expect((await fast.exited).exitCode).toBe(0);
      const ms = Date.now() - started;
      await finished(fast);
      if (ms < 1000) quick = { text: fast.text(), ms };
    }
    expect(quick, "no local import finished within a second in six tries").toBeDefined();
    expect(quick!.text).toMatch(/added\s+pets/);
    expect(quick!.text).not.toMatch(/importing/);
    const quiet = importing(`${base}/slow.yaml`, ["-q"]);
    expect(await finished(quiet)).toBe(0);
    expect(quiet.text()).not.toMatch(/importing/);

    const piped = await runCli(["import", "--openapi", `${base}/slow.yaml`, "--name", "pets", "--allow-plain-http", "--allow-private-networks"], {
      home: tempDir(),
    });
    expect(piped.code).toBe(0);
    expect(piped.stderr).not.toMatch(/importing/);
  });
});

/**
 * Columns a line takes on a terminal, counted independently of src/: CJK ideographs, fullwidth forms and emoji
 * presentation take two, combining marks and joiners none.
 */
function columns(line: string): number {
  let width = 0;
  for (const char of line) {
    if (/[\p{Mn}\p{Me}\u200b-\u200d\ufe0f]/u.test(char)) continue;
    width += /[\p{Emoji_Presentation}\u1100-\u115f\u2e80-\u303e\u3041-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/u.test(char)
      ? 2
      : 1;
  }
  return width;
}

/** The column (in terminal columns) at which `needle` starts in `line`. */
const columnOf = (line: string, needle: string) => columns(line.slice(0, line.indexOf(needle)));

const CJK = "这是一个非常长的中文描述，用于测试终端宽度的表格截断功能是否正确处理全角字符";
const CJK_ERROR = "这是一个非常长的中文错误信息，用于测试终端宽度的表格截断功能是否正确处理全角字符以及更多的文字";
const ROCKETS = `xy${"🚀".repeat(30)}`;

describe("wide characters: CJK and emoji", () => {
  let wideHome = "";
  let applied: Awaited<ReturnType<typeof runCli>>;
  beforeAll(async () => {
    wideHome = tempDir("toolctl-wide-");
    const simple = (name: string, description: string, action = "say") =>
      `apiVersion: toolctl/v1\nname: ${name}\ndescription: ${description}\nruntime: echo\nactions:\n  ${action}: { description: x, kind: read, inputSchema: { type: object } }\n`;
    const dir = writeFiles({
      "cjk.yaml": simple("cjk", CJK),
      "rockets.yaml": simple("rockets", ROCKETS),
      "failing.yaml": `apiVersion: toolctl/v1
name: failing
description: Fails with a long message
runtime: process
actions:
  go:
    description: fails
    kind: read
    inputSchema: { type: object }
    command: ["sh", "-c", "echo ${CJK_ERROR} >&2; exit 1"]
`,
      "mixed.plan.yaml": `apiVersion: toolctl/v1
kind: Plan
name: mixed
steps:
  - id: one
    action: cjk.say
    input: {}
  - id: two
    action: piggybank.pay
    input: { amount: 1, to: ada }
  - id: three
    action: failing.go
    input: {}
`,
    });
    for (const file of ["cjk.yaml", "rockets.yaml", "failing.yaml"]) expect((await runCli(["import", path.join(dir, file)], { home: wideHome })).code).toBe(0);
    expect((await runCli(["import", path.join(repoRoot, "manifests", "examples", "piggybank.yaml")], { home: wideHome })).code).toBe(0);
    expect((await runCli(["tool", "approve", "failing", "--yes"], { home: wideHome })).code).toBe(0);
    expect((await runCli(["config", "set", "approvals.timeoutSeconds", "1"], { home: wideHome })).code).toBe(0);
    expect((await runCli(["run", "failing.go"], { home: wideHome })).code).toBe(1);
    // An approval request with CJK input, left to expire.
    expect((await runCli(["run", "piggybank.pay", "-p", "amount=1", "-p", `to=${CJK}`, "--wait"], { home: wideHome })).code).toBe(3);
    applied = await runCli(["apply", path.join(dir, "mixed.plan.yaml"), "--yes"], { home: wideHome });
    expect(applied.code).toBe(1);
  }, 90_000);

  const onTerminal = async (args: string[], cols: number) => {
    const term = spawnTerminal(args, wideHome, { cols, rows: 60, env: { NO_COLOR: "1" } });
    expect(await finished(term)).toBe(0);
    return visible(term.text());
  };

  it("tables are fitted in terminal columns, not UTF-16 code units", async () => {
    for (const cols of [80, 60]) {
      const lines = await onTerminal(["list"], cols);
      for (const line of lines) expect(columns(line), line).toBeLessThanOrEqual(cols);
      expect(lines.find((line) => line.startsWith("cjk "))).toMatch(/ 这是.*…$/);
    }
    const executions = await onTerminal(["executions", "--no-pager"], 120);
    for (const line of executions) expect(columns(line), line).toBeLessThanOrEqual(120);
    for (const line of executions.filter((line) => line.includes("failing.go"))) expect(line).toMatch(/ process exited with code 1: .*…$/);

    const approvals = await onTerminal(["approvals", "--all"], 140);
    for (const line of approvals) expect(columns(line), line).toBeLessThanOrEqual(140);
    // The columns after the CJK input still line up with their headers.
    const row = approvals.find((line) => line.includes("piggybank.pay"))!;
    expect(columnOf(row, "$1.00")).toBe(columnOf(approvals[0]!, "COST"));
    expect(columnOf(row, "MEDIUM")).toBe(columnOf(approvals[0]!, "RISK"));
  });

  it("in a pipe, the 60-character cut counts columns too, and later columns stay aligned", async () => {
    const approvals = (await runCli(["approvals", "--all"], { home: wideHome })).stdout.split("\n");
    const row = approvals.find((line) => line.includes("piggybank.pay"))!;
    expect(columnOf(row, "$1.00")).toBe(columnOf(approvals[0]!, "COST"));
    const list = (await runCli(["list"], { home: wideHome })).stdout.split("\n");
    const cjk = list.find((line) => line.startsWith("cjk "))!;
    expect(columns(cjk.slice(columnOf(list[0]!, "DESCRIPTION")))).toBeLessThanOrEqual(60);
  });

  it("audit is a table: a header, fitted on a terminal with the note cut, the note cut at 60 columns in a pipe", async () => {
    const lines = await onTerminal(["audit", "--no-pager"], 60);
    expect(lines[0]).toMatch(/^SEQ\s+TIME \(UTC\)\s+ACTOR\s+EVENT/);
    for (const line of lines) expect(columns(line), line).toBeLessThanOrEqual(60);
    expect(lines.filter((line) => /^\d+\s+\d{4}-/.test(line)).length).toBeGreaterThan(5);

    const piped = (await runCli(["audit"], { home: wideHome })).stdout.split("\n");
    expect(piped[0]).toMatch(/^SEQ\s+TIME \(UTC\)\s+ACTOR\s+EVENT\s+TARGET\s+EXECUTION\s+NOTE$/);
    const failed = piped.find((line) => line.includes("execution.failed"))!;
    const note = failed.slice(failed.indexOf("process exited"));
    expect(note).toMatch(/…$/);
    expect(columns(note)).toBeLessThanOrEqual(60);
    // Columns line up with their headers.
    expect(failed.indexOf("failing.go")).toBe(piped[0]!.indexOf("TARGET"));
    expect(failed.indexOf("ex_")).toBe(piped[0]!.indexOf("EXECUTION"));
  });

  it("plan-runs list is a table like the other lists: a header, fitted on a terminal, the error cut", async () => {
    const lines = await onTerminal(["plan-runs", "list"], 80);
    expect(lines[0]).toMatch(/^ID\s+PLAN\s+STATUS\s+STARTED \(UTC\)\s+ERROR$/);
    expect(lines[1]).toMatch(/^pr_\w+\s+mixed\s+failed\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+step three \(failing.*…$/);
    for (const line of lines) expect(columns(line), line).toBeLessThanOrEqual(80);
    const piped = (await runCli(["plan-runs", "list"], { home: wideHome })).stdout.split("\n");
    const error = piped[1]!.slice(piped[0]!.indexOf("ERROR"));
    expect(error).toMatch(/^step three \(failing\.go\): .*…$/);
    expect(columns(error)).toBe(60);
  });

  it("show, apply and plan-runs show line up their columns, however long an action's name", async () => {
    const dir = writeFiles({
      "guild.yaml": `apiVersion: toolctl/v1
name: guild
description: Long action names
runtime: echo
actions:
  add_guild_member_role_for_a_while: { description: Adds a role, kind: update, inputSchema: { type: object } }
  get: { description: Reads, kind: read, inputSchema: { type: object } }
`,
    });
    expect((await runCli(["import", path.join(dir, "guild.yaml")], { home: wideHome })).code).toBe(0);
    const shown = (await runCli(["show", "guild"], { home: wideHome })).stdout.split("\n");
    const long = shown.find((line) => line.includes("add_guild_member_role_for_a_while"))!;
    const short = shown.find((line) => line.startsWith("  get "))!;
    expect(long.indexOf("update")).toBe(short.indexOf("read"));
    expect(long.indexOf("Adds a role")).toBe(short.indexOf("Reads"));
    // The cost line under each action starts where its kind does.
    expect(shown[shown.indexOf(short) + 1]!.indexOf("cost:")).toBe(short.indexOf("read"));

    const steps = (text: string) => text.split("\n").filter((line) => /^ {2}(one|two|three) /.test(line));
    const statusColumns = (lines: string[]) => lines.map((line) => line.search(/ (succeeded|left in place|failed) /));
    const summary = steps(applied.stdout);
    expect(summary).toHaveLength(3);
    expect(new Set(statusColumns(summary)).size).toBe(1);
    const id = (await runJson(["plan-runs", "list"], { home: wideHome })).json.items[0].id as string;
    const run = steps((await runCli(["plan-runs", "show", id], { home: wideHome })).stdout);
    expect(run).toHaveLength(3);
    expect(new Set(statusColumns(run)).size).toBe(1);
  });

  it("the paged lists' footer is a note on stderr: not a data line in a pipe, gone with -q and --json", async () => {
    for (const [args, footer] of [
      [["executions", "--limit", "2"], /^page 1 of \d+ · rows 1-2 of \d+ · older: --offset 2$/m],
      [["audit", "--limit", "2"], /^rows \d+-\d+ of \d+ · older: --offset 2$/m],
      [["plan-runs", "list"], /^rows 1-1 of 1$/m],
    ] as const) {
      const piped = await runCli([...args], { home: wideHome });
      expect(piped.code).toBe(0);
      expect(piped.stdout).not.toMatch(/rows \d/);
      expect(piped.stderr).toMatch(footer);
      const rows = piped.stdout.trimEnd().split("\n");
      expect(rows).toHaveLength(1 + (args[0] === "plan-runs" ? 1 : 2));
      const quiet = await runCli([...args, "-q"], { home: wideHome });
      expect(quiet).toMatchObject({ code: 0, stderr: "", stdout: piped.stdout });
      expect((await runCli([...args, "--json"], { home: wideHome })).stderr).toBe("");
    }
    // On a terminal it shows under the table.
    const lines = await onTerminal(["executions", "--limit", "2", "--no-pager"], 200);
    expect(lines[lines.length - 1]).toMatch(/^page 1 of \d+ · rows 1-2 of \d+ · older: --offset 2$/);
  });

  it("a cut never splits a character: no half emoji, no U+FFFD", async () => {
    const piped = await runCli(["list"], { home: wideHome });
    expect(piped.stdout).not.toContain("\uFFFD");
    // 62 columns: cut to 59 and the ellipsis, which leaves 28 whole rockets.
    expect(piped.stdout).toContain(`xy${"🚀".repeat(28)}…`);
    for (const cols of [50, 51]) {
      const term = spawnTerminal(["list"], wideHome, { cols, rows: 40, env: { NO_COLOR: "1" } });
      expect(await finished(term)).toBe(0);
      expect(term.text()).not.toContain("\uFFFD");
      const lines = visible(term.text());
      for (const line of lines) expect(columns(line), line).toBeLessThanOrEqual(cols);
      expect(lines.find((line) => line.startsWith("rockets "))).toMatch(/xy(?:🚀)+…$/u);
    }
  });
});
