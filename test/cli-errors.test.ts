/**
 * Bad input through the built binary: unknown targets, bad parameters, bad flags, a disabled tool, an
 * unusable home or registry. Each case checks the one-line error, the documented exit code, that nothing
 * was half-written, and that `--json` keeps stdout a single JSON document.
 * Never a real network request: the weather tool is only ever dry-run.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { beforeAll, describe, expect, it } from "vitest";
import { baseEnv, binPath, examplesDir, runCli, runJson, tempDir, writeFiles, type CliOptions, type CliResult } from "./helpers.js";

// ---------------------------------------------------------------------------------------------------------
// helpers

/** A home with the examples imported, made once and copied per test (an import costs ~0.5 s). */
let examplesHome: string;
beforeAll(async () => {
  examplesHome = tempDir("toolctl-home-template-");
  const result = await runCli(["import", examplesDir], { home: examplesHome });
  if (result.code !== 0) throw new Error(`import failed: ${result.stderr}`);
});

function freshHome(): string {
  const home = tempDir("toolctl-home-");
  cpSync(examplesHome, home, { recursive: true });
  return home;
}

/** Runs the same arguments in the human view and in the JSON view, each against its own copy of `home`. */
async function both(args: string[], options: CliOptions & { home: string }) {
  const jsonHome = tempDir("toolctl-home-");
  cpSync(options.home, jsonHome, { recursive: true });
  const [human, json] = await Promise.all([runCli(args, options), runJson(args, { ...options, home: jsonHome })]);
  return { human, json, jsonHome };
}

/** The human view of a failure: exit code, nothing on stdout, and an `error: ...` first line on stderr. */
function expectHumanError(result: CliResult, exitCode: number, pattern: RegExp | string): string {
  expect(result.code, `stderr: ${result.stderr}`).toBe(exitCode);
  expect(result.stdout).toBe("");
  const first = result.stderr.split("\n")[0]!;
  expect(first.startsWith("error: "), result.stderr).toBe(true);
  if (typeof pattern === "string") expect(first).toContain(pattern);
  else expect(first).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/); // never a stack trace
  return first;
}

/**
 * The JSON view of a failure. stdout is one JSON document (runJson already parsed it) with an `error`
 * object carrying the code. The exit code is checked against the process, wherever the document puts it;
 * the strict shape `{error:{code, exitCode}}` is checked separately below, so that this one root cause
 * fails in one place.
 */
function expectJsonError(result: CliResult & { json: any }, exitCode: number, code: string): any {
  expect(result.code, `stdout: ${result.stdout}\nstderr: ${result.stderr}`).toBe(exitCode);
  expect(result.stdout).not.toContain("\x1b[");
  expect(result.json.error, result.stdout).toBeTypeOf("object");
  expect(result.json.error.code).toBe(code);
  expect(result.json.error.exitCode ?? result.json.exitCode).toBe(exitCode);
  expect(result.json.error.message).toBeTypeOf("string");
  expect(result.json.error.message).not.toMatch(/[\r\n]/);
  return result.json.error;
}

function db(home: string): Database.Database {
  return new Database(path.join(home, "registry.db"), { readonly: true, fileMustExist: true });
}

function count(home: string, sql: string, ...params: unknown[]): number {
  const handle = db(home);
  try {
    return handle
      .prepare(sql)
      .pluck()
      .get(...params) as number;
  } finally {
    handle.close();
  }
}

interface ExecutionItem {
  id: string;
  tool: string;
  action: string;
  status: string;
  error: { code: string; exitCode: number; category: string; message: string; problems?: string[] } | null;
  input: unknown;
}

async function executions(home: string): Promise<{ total: number; items: ExecutionItem[] }> {
  const result = await runJson<{ items: ExecutionItem[]; page: { total: number } }>(["executions", "--limit", "100"], { home });
  expect(result.code).toBe(0);
  return { total: result.json.page.total, items: result.json.items };
}

const TYPES_MANIFEST = `apiVersion: toolctl/v1
name: types
description: Echoes typed input back
runtime: echo
actions:
  check:
    description: Echo the input, typed by the schema
    kind: read
    inputSchema:
      type: object
      additionalProperties: false
      properties:
        n: { type: number }
        i: { type: integer }
        s: { type: string }
        b: { type: boolean }
        list: { type: array, items: { type: number } }
        user:
          type: object
          properties:
            name: { type: string }
            age: { type: integer }
`;

let typesHome: string;
beforeAll(async () => {
  typesHome = tempDir("toolctl-home-types-");
  const dir = writeFiles({ "types.yaml": TYPES_MANIFEST });
  const result = await runCli(["import", dir], { home: typesHome });
  if (result.code !== 0) throw new Error(`import failed: ${result.stderr}`);
});

function freshTypesHome(): string {
  const home = tempDir("toolctl-home-");
  cpSync(typesHome, home, { recursive: true });
  return home;
}

// ---------------------------------------------------------------------------------------------------------
// unknown targets

describe("run: unknown tools and actions", () => {
  it("an unknown tool: exit 2, names it, points at toolctl list, records no execution", async () => {
    const home = freshHome();
    const { human, json } = await both(["run", "nosuchtool.say", "--param", "message=hi"], { home });
    expectHumanError(human, 2, "error: unknown tool 'nosuchtool'; see: toolctl list");
    expect(human.stderr.trim().split("\n")).toHaveLength(1);
    const error = expectJsonError(json, 2, "not_found");
    expect(error.message).toBe("unknown tool 'nosuchtool'; see: toolctl list");
    expect((await executions(home)).total).toBe(0);
    expect(count(home, "SELECT count(*) FROM executions")).toBe(0);
  });

  it("suggests the tool or action for a one-letter typo", async () => {
    const home = freshHome();
    const [tool, action] = await Promise.all([
      runCli(["run", "eco.say", "--param", "message=hi"], { home }),
      runCli(["run", "echo.sai", "--param", "message=hi"], { home }),
    ]);
    expectHumanError(tool, 2, "unknown tool 'eco' (did you mean 'echo'?)");
    expectHumanError(action, 2, "tool echo has no action 'sai' (did you mean 'say'?); see: toolctl show echo");
  });

  it("suggests the tool or action for swapped letters (ecoh.say, echo.sya)", async () => {
    const home = freshHome();
    const [tool, action, show, disable] = await Promise.all([
      runCli(["run", "ecoh.say", "--param", "message=hi"], { home }),
      runCli(["run", "echo.sya", "--param", "message=hi"], { home }),
      runCli(["show", "ecoh"], { home }),
      runCli(["tool", "disable", "ecoh"], { home }),
    ]);
    expectHumanError(tool, 2, "(did you mean 'echo'?)");
    expectHumanError(action, 2, "(did you mean 'say'?)");
    expectHumanError(show, 2, "(did you mean 'echo'?)");
    expectHumanError(disable, 2, "(did you mean 'echo'?)");
  });

  it("suggests nothing when nothing is close", async () => {
    const home = freshHome();
    const result = await runCli(["run", "echo.shout", "--param", "message=hi"], { home });
    expectHumanError(result, 2, "tool echo has no action 'shout'; see: toolctl show echo");
    expect(result.stderr).not.toContain("did you mean");
  });

  it("refuses a target that is not tool.action", async () => {
    const home = freshHome();
    const results = await Promise.all(["echo", ".say", "echo.", ""].map((target) => both(["run", target], { home })));
    for (const [i, target] of ["echo", ".say", "echo.", ""].entries()) {
      const { human, json } = results[i]!;
      expectHumanError(human, 2, `'${target}' is not tool.action (for example: echo.say)`);
      expectJsonError(json, 2, "usage");
    }
    expect((await executions(home)).total).toBe(0);
  });

  it("a missing target is a usage error", async () => {
    const { human, json } = await both(["run"], { home: freshHome() });
    expectHumanError(human, 2, "missing required argument 'tool.action'");
    expectJsonError(json, 2, "usage");
  });
});

// ---------------------------------------------------------------------------------------------------------
// input validation

describe("run: parameters that fail the input schema", () => {
  it("lists every problem with its JSON path, exits 2 and records a failed execution (validation)", async () => {
    const home = freshHome();
    const args = ["run", "calculator.calculate", "--param", "a=x", "--param", "c=1", "--param", "operation=pow"];
    const { human, json, jsonHome } = await both(args, { home });
    expectHumanError(human, 2, "error: invalid input for calculator.calculate: 4 problems");
    const problemLines = human.stderr.split("\n").filter((line) => line.startsWith("  "));
    expect(problemLines.map((l) => l.trim()).sort()).toEqual([
      "input.a: must be number",
      "input.b: is required",
      "input.c: is not allowed",
      expect.stringMatching(/^input\.operation: .*add/),
    ]);
    expect(human.stderr).toMatch(/execution ex_\w+ failed \(validation\)/);

    const error = expectJsonError(json, 2, "input_invalid");
    expect(error.problems).toHaveLength(4);
    expect(error.problems).toContain("input.a: must be number");
    expect(error.category).toBe("validation");

    for (const h of [home, jsonHome]) {
      const list = await executions(h);
      expect(list.total).toBe(1);
      expect(list.items[0]).toMatchObject({ tool: "calculator", action: "calculate", status: "failed" });
      expect(list.items[0]!.error).toEqual({ ...error, message: expect.stringContaining("invalid input for calculator.calculate") });
    }
  });

  it("one problem is reported on one line", async () => {
    const result = await runCli(["run", "echo.say", "--param", "message="], { home: freshHome() });
    const first = expectHumanError(result, 2, /^error: invalid input for echo\.say: input\.message: \S/);
    expect(result.stderr.split("\n").filter((l) => l.startsWith("  "))).toEqual([]);
    expect(first).not.toContain("problems");
  });

  it("validates before a dry run: weather with bad coordinates never gets as far as a request", async () => {
    const home = freshHome();
    const result = await runJson(["run", "weather.current", "--param", "latitude=100", "--param", "longitude=east", "--dry-run"], { home });
    const error = expectJsonError(result, 2, "input_invalid");
    expect(error.problems).toEqual(expect.arrayContaining([expect.stringMatching(/^input\.latitude: .*90/), "input.longitude: must be number"]));
    expect(result.json.request).toBeUndefined();
    expect(result.json).not.toHaveProperty("plan");
    const list = await executions(home);
    expect(list.items.map((e) => e.status)).toEqual(["failed"]);
  });
});

describe("run: malformed parameter flags", () => {
  it("--param without '=' names the flag, exits 2 and records a failed execution (validation)", async () => {
    const home = freshHome();
    const { human, json } = await both(["run", "echo.say", "--param", "message"], { home });
    expectHumanError(human, 2, `error: --param "message": expected key=value, such as --param amount=50`);
    expectJsonError(json, 2, "usage");
    const list = await executions(home);
    expect(list.items).toEqual([expect.objectContaining({ status: "failed", error: expect.objectContaining({ category: "validation" }) })]);
  });

  it("--param with an empty key or an empty path segment is refused", async () => {
    const home = freshTypesHome();
    const results = await Promise.all(["=x", "user.=x", ".name=x", "__proto__.x=1"].map((p) => runCli(["run", "types.check", "--param", p], { home })));
    for (const [i, p] of ["=x", "user.=x", ".name=x", "__proto__.x=1"].entries()) {
      expectHumanError(results[i]!, 2, `--param ${JSON.stringify(p)}: expected key=value`);
    }
  });

  it("--params that is not JSON, or not an object", async () => {
    const home = freshHome();
    const cases: Array<[string, RegExp]> = [
      ["nope", /^error: --params: invalid JSON: /],
      ['{"message": "hi",}', /^error: --params: invalid JSON: /],
      ["[1, 2]", /^error: --params: expected a JSON object$/],
      ['"hi"', /^error: --params: expected a JSON object$/],
      ["null", /^error: --params: expected a JSON object$/],
    ];
    const results = await Promise.all(cases.map(([value]) => both(["run", "echo.say", "--params", value], { home: freshHome() })));
    cases.forEach(([, pattern], i) => {
      expectHumanError(results[i]!.human, 2, pattern);
      expectJsonError(results[i]!.json, 2, "usage");
    });
    expect((await executions(home)).total).toBe(0);
  });

  it("--params-file naming a missing file: exit 2, names the file, nothing recorded", async () => {
    const home = freshHome();
    const missing = path.join(tempDir(), "nope.json");
    const { human, json, jsonHome } = await both(["run", "echo.say", "--params-file", missing], { home });
    expectHumanError(human, 2, `error: --params-file ${missing}: cannot read`);
    expect(human.stderr).toMatch(/ENOENT|no such file/);
    expectJsonError(json, 2, "usage");
    expect((await executions(home)).total).toBe(0);
    expect((await executions(jsonHome)).total).toBe(0);
  });

  it("--params-file with invalid JSON names the file", async () => {
    const dir = writeFiles({ "params.json": '{"message": "hi"' });
    const result = await runCli(["run", "echo.say", "--params-file", path.join(dir, "params.json")], { home: freshHome() });
    expectHumanError(result, 2, `error: --params-file ${path.join(dir, "params.json")}: invalid JSON`);
  });

  it("--params-file - reads the input from stdin", async () => {
    const home = freshHome();
    const [json, human] = await Promise.all([
      runJson(["run", "echo.say", "--params-file", "-"], { home, input: '{"message": "from stdin"}' }),
      runCli(["run", "echo.say", "--params-file", "-"], { home, input: '{"message": "from stdin", "loud": true}' }),
    ]);
    expect(json.code).toBe(0);
    expect(json.json).toMatchObject({ status: "succeeded", output: { message: "from stdin" } });
    expect(human.code).toBe(0);
    expect(JSON.parse(human.stdout)).toEqual({ message: "from stdin", loud: true });
    const bad = await runCli(["run", "echo.say", "--params-file", "-"], { home, input: "not json" });
    expectHumanError(bad, 2, "error: --params-file (stdin): invalid JSON");
  });

  it("a missing option value is a usage error", async () => {
    const { human, json } = await both(["run", "echo.say", "--params-file"], { home: freshHome() });
    expectHumanError(human, 2, "option '--params-file <file>' argument missing");
    expectJsonError(json, 2, "usage");
  });
});

describe("run: --param values are typed by the input schema", () => {
  it("numbers, integers, strings, booleans, arrays and dotted keys", async () => {
    const home = freshTypesHome();
    const result = await runJson(
      [
        "run",
        "types.check",
        "--param",
        "n=5",
        "--param",
        "s=5",
        "--param",
        "i=7",
        "--param",
        "b=true",
        "--param",
        "list=[1,2]",
        "--param",
        "user.name=ann",
        "--param",
        "user.age=30",
      ],
      { home },
    );
    expect(result.code, result.stdout).toBe(0);
    expect(result.json.output).toStrictEqual({ n: 5, s: "5", i: 7, b: true, list: [1, 2], user: { name: "ann", age: 30 } });
  });

  it("a whole number past 2^53 is refused (exit 2, naming the flag), never sent rounded to another number", async () => {
    const home = freshTypesHome();
    for (const [param, shown] of [
      ["i=9007199254740993", "--param i: 9007199254740993 is larger than a number can hold exactly (9007199254740991); it would be sent as 9007199254740992"],
      ["n=-12345678901234567891", "--param n: -12345678901234567891 is larger than a number can hold exactly"],
    ]) {
      const result = await runJson(["run", "types.check", "--param", param], { home });
      expect(result.code, param).toBe(2);
      expect(result.json.error.message, param).toContain(shown);
      expect(result.json.status).toBe("failed");
    }
    // The same in JSON a person wrote: --params, --params-file (outside strings only).
    const file = path.join(tempDir(), "in.json");
    writeFileSync(file, '{"i": 12345678901234567891, "s": "12345678901234567891"}');
    for (const [args, where] of [
      [["--params", '{"i": 9007199254740993}'], "--params: 9007199254740993 is larger than a number can hold exactly"],
      [["--params-file", file], `--params-file ${file}: 12345678901234567891 is larger than a number can hold exactly`],
    ] as const) {
      const result = await runJson(["run", "types.check", ...args], { home });
      expect(result.code).toBe(2);
      expect(result.json.error.message).toContain(where);
    }
    const exact = await runJson(["run", "types.check", "--param", "i=9007199254740991", "--param", "n=1e21"], { home });
    expect(exact.code, exact.stdout).toBe(0);
    expect(exact.json.output).toStrictEqual({ i: 9007199254740991, n: 1e21 });
  });

  it("a value keeps everything after the first '=', and false is a boolean too", async () => {
    const result = await runJson(["run", "types.check", "--param", "s=a=b", "--param", "b=false"], { home: freshTypesHome() });
    expect(result.code).toBe(0);
    expect(result.json.output).toStrictEqual({ s: "a=b", b: false });
  });

  it("a value that fits no declared type stays text and fails validation with its path", async () => {
    const result = await runJson(["run", "types.check", "--param", "n=abc", "--param", "i=1.5", "--param", "b=yes", "--param", "user.age=old"], {
      home: freshTypesHome(),
    });
    const error = expectJsonError(result, 2, "input_invalid");
    expect([...error.problems].sort()).toEqual([
      "input.b: must be boolean",
      "input.i: must be integer",
      "input.n: must be number",
      "input.user.age: must be integer",
    ]);
    expect(result.json.input).toMatchObject({ n: "abc", b: "yes", user: { age: "old" } });
  });

  it("--params-file, then --params, then --param: the later source wins", async () => {
    const result = await runJson(["run", "types.check", "--params-file", "-", "--params", '{"n": 2, "i": 3}', "--param", "i=4"], {
      home: freshTypesHome(),
      input: '{"s": "file", "n": 1}',
    });
    expect(result.code).toBe(0);
    expect(result.json.output).toStrictEqual({ s: "file", n: 2, i: 4 });
  });

  it("the calculator (a real process) gets numbers from --param", async () => {
    const result = await runJson(["run", "calculator.calculate", "--param", "operation=add", "--param", "a=5", "--param", "b=3"], { home: freshHome() });
    expect(result.code, result.stdout).toBe(0);
    expect(result.json).toMatchObject({ status: "succeeded", input: { operation: "add", a: 5, b: 3 }, output: { result: 8 } });
  });
});

// ---------------------------------------------------------------------------------------------------------
// flags and commands

describe("unknown options and commands", () => {
  it("--bogus: exit 2; in --json mode stdout is still one JSON error", async () => {
    const home = freshHome();
    const { human, json } = await both(["run", "echo.say", "--param", "message=hi", "--bogus"], { home });
    expect(human.code).toBe(2);
    expect(human.stdout).toBe("");
    expect(human.stderr.split("\n")[0]).toBe("error: unknown option '--bogus'");
    expect(json.json).toEqual({ error: { code: "usage", exitCode: 2, message: "unknown option '--bogus'" } });
    expect(json.code).toBe(2);
    // Nothing ran.
    expect((await executions(home)).total).toBe(0);
  });

  it("an unknown option before the command and an unknown command", async () => {
    const home = freshHome();
    const [before, command] = await Promise.all([both(["--bogus", "list"], { home }), both(["frobnicate"], { home })]);
    expectHumanError(before.human, 2, "unknown option '--bogus'");
    expectJsonError(before.json, 2, "usage");
    expectHumanError(command.human, 2, "unknown command 'frobnicate'");
    expectJsonError(command.json, 2, "usage");
  });

  it("a typo of a command or an option is one line with the suggestion, in --json too", async () => {
    const home = freshHome();
    const [command, option] = await Promise.all([both(["lsit"], { home }), both(["list", "--stauts", "x"], { home })]);
    expect(command.human.stderr.split("\n")[0]).toBe("error: unknown command 'lsit' (did you mean 'list'?)");
    expect(command.json.json.error.message).toBe("unknown command 'lsit' (did you mean 'list'?)");
    expect(option.human.stderr.split("\n")[0]).toBe("error: unknown option '--stauts' (did you mean '--status'?)");
    expect(option.json.json.error.message).toBe("unknown option '--stauts' (did you mean '--status'?)");
    for (const { human } of [command, option]) {
      expect(human.code).toBe(2);
      // The usage hint may follow; the suggestion is not a line of its own.
      expect(human.stderr).not.toContain("Did you mean");
    }
  });

  it("an empty --home or --database (an unset variable) is a usage error, not the default registry", async () => {
    const home = freshHome();
    for (const [flag, message] of [
      ["--home=", "--home: expected a directory, got an empty value"],
      ["--database=", "--database: expected a postgres:// URL, got an empty value"],
    ] as const) {
      const result = await both([flag, "list"], { home });
      expectHumanError(result.human, 2, message);
      expectJsonError(result.json, 2, "usage");
    }
  });

  it("a bad option value (--limit 0, --status bogus, --since garbage)", async () => {
    const home = freshHome();
    const cases: Array<[string[], string]> = [
      [["executions", "--limit", "0"], '--limit must be a positive integer, got "0"'],
      [["executions", "--status", "bogus"], "argument 'bogus' is invalid"],
      [["audit", "--since", "garbage"], "--since: expected an ISO date or time"],
      [["budget", "--day", "foo"], '--day: expected a UTC date such as 2026-11-21, got "foo"'],
      [["budget", "--day", "2026-02-30"], '--day: expected a UTC date such as 2026-11-21, got "2026-02-30"'],
      [["budget", "--day", "2026-11-21T10:00:00Z"], '--day: expected a UTC date such as 2026-11-21, got "2026-11-21T10:00:00Z"'],
    ];
    const results = await Promise.all(cases.map(([args]) => both(args, { home })));
    cases.forEach(([, message], i) => {
      expectHumanError(results[i]!.human, 2, message);
      expectJsonError(results[i]!.json, 2, "usage");
    });
  });

  it("list --runtime or --status with an unknown value: exit 2, names the flag, suggests the closest value", async () => {
    const home = freshHome();
    const cases: Array<[string[], RegExp]> = [
      [
        ["list", "--runtime", "htpp"],
        /^error: --runtime: unknown runtime 'htpp' \(did you mean 'http'\?\); one of: http, process, docker, echo, files, database, email, vercel$/,
      ],
      [["list", "--runtime", "kubernetes"], /^error: --runtime: unknown runtime 'kubernetes'; one of: http, process/],
      [["list", "--status", "activ"], /^error: --status: unknown status 'activ' \(did you mean 'active'\?\); one of: pending, active, disabled, revoked$/],
    ];
    const results = await Promise.all(cases.map(([args]) => both(args, { home })));
    cases.forEach(([, message], i) => {
      expectHumanError(results[i]!.human, 2, message);
      expect(results[i]!.human.stderr.trim().split("\n")).toHaveLength(1);
      expectJsonError(results[i]!.json, 2, "usage");
    });
    // A known value still filters.
    const docker = await runJson(["list", "--runtime", "docker"], { home });
    expect(docker.code).toBe(0);
    expect(docker.json.items.map((t: { name: string }) => t.name)).toEqual(["calculator-docker"]);
  });

  it("list --help names every runtime a manifest may declare", async () => {
    const { runtimes } = await import("../src/domain/manifest.js");
    const help = await runCli(["list", "--help"]);
    expect(help.code).toBe(0);
    // The help wraps: the flag's text runs up to the next flag.
    const text = /--runtime <runtime>([\s\S]*?)--status/.exec(help.stdout)![1]!;
    for (const runtime of runtimes) expect(text, text).toMatch(new RegExp(`\\b${runtime}\\b`));
  });

  it("an empty registry's hint names a path that exists wherever toolctl runs, not a path inside the source tree", async () => {
    const home = tempDir("toolctl-home-");
    const cwd = tempDir("toolctl-cwd-");
    const empty = await runCli(["list"], { home, cwd });
    expect(empty.code).toBe(0);
    const hint = /import some with: toolctl import (.+)$/m.exec(empty.stdout);
    expect(hint, empty.stdout).not.toBeNull();
    const target = hint![1]!.trim();
    expect(path.isAbsolute(target), target).toBe(true);
    // Run from anywhere, the suggested command works as printed.
    const imported = await runCli(["import", target], { home, cwd });
    expect(imported.code, imported.stderr).toBe(0);
    expect((await runJson(["list"], { home, cwd })).json.items.length).toBeGreaterThan(0);
  });

  it("a command group without its subcommand (toolctl tool) is a usage error, not success", async () => {
    const { human, json } = await both(["tool"], { home: freshHome() });
    expect(human.code).toBe(2);
    expect(json.code).toBe(2);
    expect(json.json.error).toMatchObject({ code: "usage", exitCode: 2 });
  });

  it("help names a command, or a subcommand of a group; an unknown one is a usage error with a suggestion", async () => {
    const [configSet, tool, typo, nested, deep, json] = await Promise.all([
      runCli(["help", "config", "set"]),
      runCli(["help", "tool"]),
      runCli(["help", "lsit"]),
      runCli(["help", "config", "sett"]),
      runCli(["help", "run", "extra"]),
      runCli(["help", "nonexist", "--json"]),
    ]);
    expect(configSet.code).toBe(0);
    expect(configSet.stdout).toContain("Usage: toolctl config set");
    expect(tool.code).toBe(0);
    expect(tool.stdout).toContain("Usage: toolctl tool");
    expect(typo.code).toBe(2);
    expect(typo.stdout).toBe("");
    expect(typo.stderr.trim()).toBe("error: unknown command 'lsit' (did you mean 'list'?)");
    expect(nested.code).toBe(2);
    expect(nested.stderr.trim()).toBe("error: unknown command 'config sett' (did you mean 'set'?)");
    // `run` has no subcommands: a further word is not a topic.
    expect(deep.code).toBe(2);
    expect(deep.stderr.trim()).toBe("error: 'toolctl run' has no subcommand 'extra'");
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: "usage", exitCode: 2 });
  });

  it("--help and --version still exit 0", async () => {
    const [help, version, runHelp] = await Promise.all([runCli(["--help"]), runCli(["--version"]), runCli(["run", "--help"])]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: toolctl");
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(runHelp.code).toBe(0);
    expect(runHelp.stdout).toContain("--params-file");
    // With --json, stdout is JSON, as for every other command.
    for (const args of [
      ["--version", "--json"],
      ["--json", "-V"],
    ]) {
      const asJson = await runCli(args);
      expect(asJson.code).toBe(0);
      expect(JSON.parse(asJson.stdout)).toEqual({ version: version.stdout.trim() });
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// the JSON error document

describe("TOOLCTL_ACTOR", () => {
  it("a value that is not user, ci or agent is refused (exit 2), never read as the user: a typo must not give an agent the user's rights", async () => {
    const home = freshHome();
    for (const actor of ["Agent", "agents", "root"]) {
      const { human, json } = await both(["run", "echo.say", "--param", "message=hi"], { home, env: { TOOLCTL_ACTOR: actor } });
      expectHumanError(human, 2, `TOOLCTL_ACTOR: expected user, ci or agent, got ${JSON.stringify(actor)}`);
      expectJsonError(json, 2, "usage");
    }
    expect((await executions(home)).total).toBe(0);
    // Unset or empty: the default (user, or ci under CI).
    const empty = await runJson<{ status: string }>(["run", "echo.say", "--param", "message=hi"], { home, env: { TOOLCTL_ACTOR: "" } });
    expect(empty.code, empty.stderr).toBe(0);
  });
});

describe("--json: every failure is a single {error:{code, exitCode, message}} document", () => {
  // One case per path through the code, so that a failure here names the command that breaks the shape.
  const cases: Array<{ name: string; args: string[]; exitCode: number; code: string; setup?: (home: string) => Promise<void> }> = [
    { name: "unknown tool", args: ["run", "nosuch.say"], exitCode: 2, code: "not_found" },
    { name: "malformed target", args: ["run", "echo"], exitCode: 2, code: "usage" },
    { name: "unknown option", args: ["list", "--bogus"], exitCode: 2, code: "usage" },
    { name: "input failing the schema", args: ["run", "echo.say", "--param", "message="], exitCode: 2, code: "input_invalid" },
    { name: "--param without '='", args: ["run", "echo.say", "--param", "message"], exitCode: 2, code: "usage" },
    {
      name: "a disabled tool",
      args: ["run", "echo.say", "--param", "message=hi"],
      exitCode: 3,
      code: "tool_disabled",
      setup: async (home) => void expect((await runCli(["tool", "disable", "echo"], { home })).code).toBe(0),
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const home = freshHome();
      await c.setup?.(home);
      const result = await runJson(c.args, { home });
      expect(result.code).toBe(c.exitCode);
      expect(result.json.error, result.stdout).toMatchObject({ code: c.code, exitCode: c.exitCode, message: expect.any(String) });
    });
  }
});

// ---------------------------------------------------------------------------------------------------------
// tool lifecycle

describe("a disabled, re-enabled and removed tool", () => {
  it("refuses to run when disabled (exit 3), runs again when enabled, and keeps its history when removed", async () => {
    const home = freshHome();
    expect((await runCli(["tool", "disable", "echo"], { home })).stdout.trim()).toBe("echo: disabled");

    const { human, json } = await both(["run", "echo.say", "--param", "message=hi"], { home });
    expectHumanError(human, 3, "error: tool echo is disabled; run: toolctl tool enable echo");
    const error = expectJsonError(json, 3, "tool_disabled");
    expect(error.message).toBe("tool echo is disabled; run: toolctl tool enable echo");
    // Refused before anything ran, even a dry run; the refusal is on record.
    const dry = await runCli(["run", "echo.say", "--param", "message=hi", "--dry-run"], { home });
    expectHumanError(dry, 3, "is disabled");
    let list = await executions(home);
    expect(list.items.map((e) => e.status)).toEqual(["declined", "declined"]);
    expect(list.items[0]!.error).toMatchObject({ code: "tool_disabled", exitCode: 3, category: "authorization" });

    const again = await runJson(["tool", "disable", "echo"], { home });
    expect(again.json).toMatchObject({ status: "disabled", changed: false });

    expect((await runCli(["tool", "enable", "echo"], { home })).code).toBe(0);
    const ok = await runJson(["run", "echo.say", "--param", "message=hi"], { home });
    expect(ok.code).toBe(0);
    expect(ok.json.output).toEqual({ message: "hi" });

    const removed = await runJson(["tool", "remove", "echo"], { home });
    expect(removed.code).toBe(0);
    expect(removed.json).toMatchObject({ tool: "echo", status: "removed" });
    const gone = await runCli(["run", "echo.say", "--param", "message=hi"], { home });
    expectHumanError(gone, 2, "unknown tool 'echo'");
    const listed = await runJson<{ items: Array<{ name: string }> }>(["list"], { home });
    expect(listed.json.items.map((t) => t.name)).toEqual(["calculator", "calculator-docker", "piggybank", "weather"]);
    expect(count(home, "SELECT count(*) FROM actions WHERE tool = 'echo'")).toBe(0);

    list = await executions(home);
    expect(list.items.filter((e) => e.tool === "echo").map((e) => e.status)).toEqual(["succeeded", "declined", "declined"]);
    const filtered = await runJson(["executions", "--tool", "echo"], { home });
    expect(filtered.json.page.total).toBe(3);
  });

  it("lifecycle commands on an unknown tool exit 2 and change nothing", async () => {
    const home = freshHome();
    const results = await Promise.all(["enable", "disable", "remove"].map((verb) => both(["tool", verb, "nosuch"], { home })));
    for (const { human, json } of results) {
      expectHumanError(human, 2, "error: unknown tool 'nosuch'; see: toolctl list");
      expectJsonError(json, 2, "not_found");
    }
    expect(count(home, "SELECT count(*) FROM audit_events WHERE tool = 'nosuch'")).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------------------
// an unusable home or registry

describe("an unusable home or registry: exit 6", () => {
  it("a home under a regular file (ENOTDIR) names the path", async () => {
    const dir = writeFiles({ file: "I am a file" });
    const home = path.join(dir, "file", "home");
    const [flag, env, json] = await Promise.all([runCli(["--home", home, "list"]), runCli(["list"], { home }), runJson(["list", "--home", home])]);
    for (const result of [flag, env]) {
      expectHumanError(result, 6, `error: cannot create home ${home}: ENOTDIR`);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
    }
    const error = expectJsonError(json, 6, "registry_unavailable");
    expect(error.message).toContain(home);
    expect(readFileSync(path.join(dir, "file"), "utf8")).toBe("I am a file");
  });

  it("a home that is a regular file names the path and says so (not EEXIST, which reads as 'it already exists')", async () => {
    const dir = writeFiles({ file: "I am a file" });
    const result = await runCli(["list"], { home: path.join(dir, "file") });
    expectHumanError(result, 6, `error: cannot use home ${path.join(dir, "file")}: it is a file, not a directory`);
    expect(result.stderr).not.toContain("EEXIST");
  });

  it("a bad setting in the environment is one line: the problem is not said again under the message", async () => {
    const result = await runCli(["budget"], { env: { TOOLCTL_LIMITS_DAILY_USD: "abc" } });
    expectHumanError(result, 2, 'error: TOOLCTL_LIMITS_DAILY_USD: expected an amount in USD, 0 or more, got "abc"');
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("a home where no directory can be made (under /proc) is exit 6 at once, not a loop", async () => {
    // Node's recursive mkdir retries for ever when mkdir says ENOENT under an existing parent, as /proc does.
    const result = await runCli(["list"], { home: "/proc/1/toolctl-home" });
    expectHumanError(result, 6, "error: cannot create home /proc/1/toolctl-home: ENOENT");
    const config = await runCli(["config", "set", "limits.dailyUsd", "5"], { home: "/proc/1/toolctl-home" });
    expect(config.code).toBe(6);
    expect(config.stderr).toMatch(/ENOENT/);
    // A compile cache there is not used, and the command runs.
    const cached = await runCli(["list"], { env: { TOOLCTL_COMPILE_CACHE: "/proc/1/toolctl-cache" } });
    expect(cached.code, cached.stderr).toBe(0);
  });

  it("a corrupt registry file: exit 6 saying corrupt, for reads and writes alike, and the file is left as it was", async () => {
    const home = tempDir();
    const garbage = Buffer.alloc(8192);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) % 251;
    const file = path.join(home, "registry.db");
    writeFileSync(file, garbage);
    const results = await Promise.all([
      runCli(["list"], { home }),
      runCli(["run", "echo.say", "--param", "message=hi"], { home }),
      runCli(["tool", "disable", "echo"], { home }),
      runCli(["executions"], { home }),
      runCli(["audit"], { home }),
    ]);
    for (const result of results) {
      expectHumanError(result, 6, `error: registry ${file} is corrupt or not a toolctl registry`);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
    }
    const json = await runJson(["run", "echo.say", "--param", "message=hi"], { home });
    expectJsonError(json, 6, "registry_unavailable");
    expect(json.json.error.message).toContain("corrupt");
    expect(readFileSync(file).equals(garbage)).toBe(true);
    expect(readdirSync(home)).toEqual(["registry.db"]);
  });

  it("an empty (zero-byte) registry file is refused, not silently made a new registry (exit 6, file untouched)", async () => {
    const home = tempDir();
    writeFileSync(path.join(home, "registry.db"), "");
    const result = await runJson(["list"], { home });
    expect(result.code).toBe(6);
    expect(result.json.error.message).toMatch(
      /^registry .*registry\.db is empty \(0 bytes\): its history, spend ledger and audit log are gone; restore it from a backup, or move it aside/,
    );
    expect(statSync(path.join(home, "registry.db")).size).toBe(0);
    // A home that has none yet gets one, whole.
    const fresh = tempDir();
    expect((await runJson(["list"], { home: fresh })).code).toBe(0);
    expect(statSync(path.join(fresh, "registry.db")).size).toBeGreaterThan(0);
  });

  // A small file system of its own (tmpfs) that can be filled up; mounting needs root, as CI runs.
  it.runIf(process.getuid?.() === 0 || process.env.CI)(
    "a full disk is said in one line (exit 6), nothing is half-written, and the audit log stays intact",
    async () => {
      const mount = tempDir("toolctl-full-");
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mount]);
      try {
        const home = path.join(mount, "home");
        expect((await runCli(["import", examplesDir], { home })).code).toBe(0);
        try {
          execFileSync("dd", ["if=/dev/zero", `of=${path.join(mount, "filler")}`, "bs=4k"], { stdio: "ignore" });
        } catch {
          // dd stops with an error once the file system is full: that is the point.
        }
        const result = await runJson(["run", "echo.say", "-p", "message=hi"], { home });
        expect(result.code).toBe(6);
        expect(result.json.error.message).toBe(
          `no space left on the disk holding ${home} (registry ${path.join(home, "registry.db")}); nothing was changed: free some space and run it again`,
        );
        const human = await runCli(["run", "echo.say", "-p", "message=hi"], { home });
        expect(human.code).toBe(6);
        expect(human.stderr.trim().split("\n")).toHaveLength(1);
        rmSync(path.join(mount, "filler"));
        expect((await runJson(["executions"], { home })).json.page.total).toBe(0);
        expect((await runJson(["audit", "verify"], { home })).json).toMatchObject({ ok: true, problems: [] });
      } finally {
        execFileSync("umount", [mount]);
      }
    },
  );

  it("a config.yaml that cannot be read (a directory, no permission) is one line, exit 6, and never rewritten", async () => {
    const home = tempDir();
    mkdirSync(path.join(home, "config.yaml"));
    const result = await runJson(["config"], { home });
    expect(result.code).toBe(6);
    expect(result.json.error.message).toBe(`cannot read ${path.join(home, "config.yaml")}: it is a directory; fix or remove it`);
    const human = await runCli(["run", "echo.say", "-p", "message=hi"], { home });
    expect(human.code).toBe(6);
    expect(human.stderr.trim().split("\n")).toHaveLength(1);
    expect(statSync(path.join(home, "config.yaml")).isDirectory()).toBe(true);
    if (process.getuid?.() === 0) {
      // Root reads any file: the permission case is run as nobody, on a home nobody may use.
      const shared = tempDir();
      chmodSync(shared, 0o777);
      writeFileSync(path.join(shared, "config.yaml"), "limits: { dailyUsd: 5 }\n", { mode: 0o000 });
      const denied = await runJson(["config"], { home: shared, uid: 65534, gid: 65534 });
      expect(denied.code).toBe(6);
      expect(denied.json.error.message).toBe(`cannot read ${path.join(shared, "config.yaml")}: permission denied (EACCES); fix or remove it`);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// colour

describe("colour", () => {
  const ESC = "\x1b[";
  const commands: string[][] = [
    ["run", "nosuch.say"],
    ["run", "echo.say", "--param", "message=hi"],
    ["run", "echo.say", "--param", "message="],
    ["run", "weather.current", "--param", "latitude=48.85", "--param", "longitude=2.35", "--dry-run"],
    ["list"],
    ["executions"],
    ["run", "echo.say", "--bogus"],
  ];

  it("FORCE_COLOR=1 does colour errors (so the checks below mean something)", async () => {
    const result = await runCli(["run", "nosuch.say"], { home: freshHome(), env: { FORCE_COLOR: "1" } });
    expect(result.stderr).toContain(ESC);
  });

  it("NO_COLOR=1 yields no escape codes on stdout or stderr, with FORCE_COLOR unset or set", async () => {
    const home = freshHome();
    const runs = await Promise.all([
      ...commands.map((args) => runCli(args, { home, env: { NO_COLOR: "1", FORCE_COLOR: undefined } })),
      ...commands.map((args) => runCli(args, { home, env: { NO_COLOR: "1", FORCE_COLOR: "1" } })),
    ]);
    for (const result of runs) {
      expect(result.stdout).not.toContain(ESC);
      expect(result.stderr).not.toContain(ESC);
    }
  });

  it("--json output never contains escape codes, even with FORCE_COLOR=1", async () => {
    const home = freshHome();
    const runs = await Promise.all(commands.map((args) => runJson(args, { home, env: { FORCE_COLOR: "1" } })));
    for (const result of runs) expect(result.stdout).not.toContain(ESC);
  });
});

// ---------------------------------------------------------------------------------------------------------
// nothing half-written

describe("nothing half-written", () => {
  it("failed runs leave no running or requested executions and keep the audit chain intact", async () => {
    const home = freshHome();
    await Promise.all([
      runCli(["run", "echo.say", "--param", "message"], { home }),
      runCli(["run", "echo.say", "--params", "[]"], { home }),
      runCli(["run", "calculator.calculate", "--param", "a=x"], { home }),
      runCli(["run", "nosuch.say"], { home }),
      runCli(["run", "echo.nosuch"], { home }),
    ]);
    const list = await executions(home);
    expect(list.total).toBe(3);
    for (const item of list.items) expect(item).toMatchObject({ status: "failed", error: { category: "validation" } });
    expect(count(home, "SELECT count(*) FROM executions WHERE status IN ('running', 'requested', 'approved')")).toBe(0);
    const verify = await runJson(["audit", "verify"], { home });
    expect(verify.code).toBe(0);
    expect(verify.json.ok).toBe(true);
    expect(existsSync(path.join(home, "registry.db"))).toBe(true);
  });
});

describe("pipes", () => {
  // More output than a pipe buffers (64 KiB), so the writer really meets a full or closed pipe.
  let home: string;
  beforeAll(async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 1200; i++) {
      files[`t${i}.yaml`] =
        `apiVersion: toolctl/v1\nname: tool${i}\ndescription: ${"padding ".repeat(6)}${i}\nruntime: echo\nactions:\n  ping: { description: Ping, kind: read }\n`;
    }
    home = tempDir();
    expect((await runCli(["import", writeFiles(files)], { home, timeoutMs: 60_000 })).code).toBe(0);
  }, 90_000);

  it("stops quietly when the reader closes the pipe early (toolctl list | head -1)", async () => {
    const result = spawnSync("bash", ["-c", `"${process.execPath}" "${binPath}" list | head -1; exit \${PIPESTATUS[0]}`], {
      env: { ...baseEnv(), TOOLCTL_HOME: home },
      encoding: "utf8",
    });
    expect(result.stdout).toMatch(/^NAME\s+RUNTIME/);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("keeps the exit code when the reader of its output has gone: a failure stays a failure", async () => {
    const { spawn } = await import("node:child_process");
    const cases: Array<[string[], "stdout" | "stderr", number]> = [
      [["show", "nosuch"], "stderr", 2],
      [["show", "nosuch", "--json"], "stdout", 2],
      [["import", path.join(tempDir(), "missing.yaml")], "stderr", 2],
      [["list"], "stdout", 0],
    ];
    for (const [args, closed, expected] of cases) {
      const child = spawn(process.execPath, [binPath, ...args], { env: { ...baseEnv(), TOOLCTL_HOME: home }, stdio: ["ignore", "pipe", "pipe"] });
      // The reader goes before toolctl writes anything: its first write meets a closed pipe (EPIPE).
      child[closed].destroy();
      let other = "";
      child[closed === "stdout" ? "stderr" : "stdout"].on("data", (chunk) => (other += chunk));
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
      expect(code, `${args.join(" ")} with ${closed} closed`).toBe(expected);
      expect(other, args.join(" ")).not.toMatch(/EPIPE|at .*\.js/);
    }
  });

  it("writes all of its output to a pipe another writer made non-blocking, and a slow reader gets every line", async () => {
    // A Node process sharing the pipe builds its stdout stream, which makes the pipe non-blocking for every writer
    // until it exits; toolctl's direct write then meets a full pipe (EAGAIN) and hands the rest to its stream.
    const dir = tempDir();
    const [ready, out] = [path.join(dir, "ready"), path.join(dir, "out.txt")];
    const holder = `process.stdout.write(""); require("node:fs").writeFileSync(process.argv[1], ""); setTimeout(() => {}, 2500)`;
    const script = [
      `{ "${process.execPath}" -e '${holder}' "${ready}" &`,
      `while [ ! -e "${ready}" ]; do sleep 0.05; done;`,
      `"${process.execPath}" "${binPath}" list; echo "exit $?" >&2; wait; } | (sleep 1; cat) > "${out}"`,
    ].join(" ");
    const result = spawnSync("bash", ["-c", script], { env: { ...baseEnv(), TOOLCTL_HOME: home }, encoding: "utf8", timeout: 30_000 });
    expect(result.stderr).toBe("exit 0\n");
    const lines = readFileSync(out, "utf8").split("\n");
    expect(lines).toHaveLength(1202);
    expect(lines[0]).toMatch(/^NAME\s+RUNTIME/);
    expect(lines.filter((line) => /^tool\d+ /.test(line))).toHaveLength(1200);
  });
});

describe("extra arguments", () => {
  // Commander copies a command's settings to the subcommands made after it: a group that takes extra words for
  // its own purpose must not pass that on. These two say why they take them; every other command refuses them.
  it("every command but `config` (a subcommand's typo) and `secret set` (a value typed as an argument) refuses them", async () => {
    const { buildProgram } = await import("../src/cli/program.js");
    const taking: string[] = [];
    const walk = (command: import("commander").Command, prefix: string): void => {
      for (const sub of command.commands) {
        const name = `${prefix} ${sub.name()}`.trim();
        if ((sub as unknown as { _allowExcessArguments: boolean })._allowExcessArguments) taking.push(name);
        walk(sub, name);
      }
    };
    walk(buildProgram(), "");
    expect(taking).toEqual(["config", "secret set"]);
  });

  it.each([
    ["tool", "enable", "a", "b"],
    ["sync", "extra"],
  ])("%s %s …: exit 2, too many arguments", async (...args) => {
    const result = await runJson(args, { home: tempDir("toolctl-home-") });
    expect(result.code).toBe(2);
    expect(result.json.error.message).toMatch(/^too many arguments for/);
  });
});
