/**
 * Shell completion through real shells and the built binary. bash: the script from `toolctl completion bash` is
 * sourced in `bash -c`, its function called with COMP_WORDS/COMP_CWORD set as bash sets them (a word split at `=`
 * included), and COMPREPLY printed. fish: `complete -C` asks the sourced script for a command line. zsh: the
 * script's syntax and its registration. Interactive bash and zsh on a pseudo-terminal, with TAB typed. The
 * candidates come from a home with the bundled examples, an imported OpenAPI spec, an execution and a pending
 * approval.
 */
import { spawn } from "node:child_process";
import { existsSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import * as pty from "node-pty";
import { beforeAll, describe, expect, it } from "vitest";
import { fixturesDir } from "./fixtures/openapi/support.js";
import { baseEnv, binPath, examplesDir, openApi, repoRoot, runCli, tempDir } from "./helpers.js";

let home = "";
let binDir = "";
let scripts: Record<"bash" | "zsh" | "fish", string>;
let executionId = "";
let approvalId = "";

beforeAll(async () => {
  home = tempDir("toolctl-completion-home-");
  const toolctl = await openApi({ home });
  expect((await toolctl.importManifests([examplesDir])).failed).toEqual([]);
  await toolctl.importSpec(path.join(fixturesDir, "petstore.yaml"), { name: "pets", baseUrl: "http://127.0.0.1:9/v3", allowPlainHttp: true });
  executionId = (await toolctl.run("echo.say", { message: "hi" })).executionId!;
  // piggybank.pay always needs approval: filed, and left pending.
  const filed = await toolctl.run("piggybank.pay", { amount: 5, to: "ada" }, { wait: true, waitSeconds: 0.2 });
  approvalId = filed.approval!.requestId!;
  expect(approvalId).toMatch(/^ap_/);
  await toolctl.close();

  // `toolctl` on the PATH, as installed.
  binDir = tempDir("toolctl-completion-bin-");
  symlinkSync(binPath, path.join(binDir, "toolctl"));
  const dir = tempDir("toolctl-completion-scripts-");
  scripts = { bash: "", zsh: "", fish: "" };
  for (const shell of ["bash", "zsh", "fish"] as const) {
    const result = await runCli(["completion", shell]);
    expect(result.code, result.stderr).toBe(0);
    scripts[shell] = path.join(dir, `toolctl.${shell}`);
    writeFileSync(scripts[shell], result.stdout);
  }
}, 120_000);

const env = (extra: Record<string, string> = {}) => baseEnv({ TOOLCTL_HOME: home, PATH: `${binDir}:${process.env.PATH}`, ...extra });

function run(command: string, args: string[], extra: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: env(extra), cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * COMPREPLY for a command line given as bash splits it into COMP_WORDS (`=` is a word of its own): the cursor is
 * at the end of the last word.
 */
async function bash(words: string[], extra: Record<string, string> = {}): Promise<string[]> {
  const script = `source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=\${#COMP_LINE}
_toolctl_complete
(( \${#COMPREPLY[@]} )) && printf '%s\\0' "\${COMPREPLY[@]}"; true`;
  const result = await run("bash", ["--norc", "--noprofile", "-c", script, "bash", scripts.bash, ...words], extra);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.split("\0").slice(0, -1);
}

const TOOLS = ["calculator", "calculator-docker", "echo", "pets", "piggybank", "weather"];

describe("bash", () => {
  it("registers its function for toolctl", async () => {
    const result = await run("bash", ["--norc", "--noprofile", "-c", 'source "$1" && complete -p toolctl && bash -n "$1"', "bash", scripts.bash]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe("complete -F _toolctl_complete toolctl");
  });

  it("completes commands and subcommands", async () => {
    const help = await runCli(["--help"]);
    const section = help.stdout.slice(help.stdout.indexOf("\nCommands:\n"));
    const commands = [...section.matchAll(/^ {2}([a-z0-9][\w-]*)\b/gm)].map((m) => m[1]!).filter((c) => c !== "toolctl");
    expect(commands).toContain("completion");
    expect(await bash(["toolctl", ""])).toEqual(commands);
    expect(await bash(["toolctl", "ru"])).toEqual(["run"]);
    expect(await bash(["toolctl", "r"])).toEqual(["rollback", "run"].sort((a, b) => commands.indexOf(a) - commands.indexOf(b)));
    expect(await bash(["toolctl", "tool", "ex"])).toEqual(["export"]);
    expect(await bash(["toolctl", "plan-runs", ""])).toEqual(["list", "show", "resume", "rollback"]);
    expect(await bash(["toolctl", "--json", "tool", "cl"])).toEqual(["clear-state"]);
    expect(await bash(["toolctl", "nosuch", ""])).toEqual([]);
  });

  it("completes flags: the command's, the global ones, and each only once unless it repeats", async () => {
    expect(await bash(["toolctl", "run", "--dr"])).toEqual(["--dry-run"]);
    expect(await bash(["toolctl", "run", "--d"])).toEqual(["--dry-run", "--database"]);
    const all = await bash(["toolctl", "run", "echo.say", "-"]);
    expect(all).toEqual(expect.arrayContaining(["-p", "--param", "--params", "--params-file", "-n", "--dry-run", "--sandbox", "--help", "--home", "--json"]));
    expect(all).not.toContain("--version");
    expect(await bash(["toolctl", "run", "echo.say", "--dry-run", "--dr"])).toEqual([]);
    expect(await bash(["toolctl", "run", "echo.say", "-p", "message=x", "--par"])).toEqual(["--param", "--params", "--params-file"]);
    expect(await bash(["toolctl", "--h"])).toEqual(["--home", "--help"]);
    expect(await bash(["toolctl", "new", "http", "x", "--"])).toEqual([
      "--out",
      "--from-curl",
      "--help",
      "--home",
      "--database",
      "--json",
      "--quiet",
      "--verbose",
      "--no-pager",
    ]);
  });

  it("completes the fixed choices of flags and arguments", async () => {
    expect(await bash(["toolctl", "run", "echo.say", "--sandbox", ""])).toEqual(["docker", "none"]);
    expect(await bash(["toolctl", "run", "echo.say", "--sandbox", "=", "n"])).toEqual(["none"]);
    // Bash replaces only what follows the `=` (COMP_WORDBREAKS): the answers start after it.
    expect(await bash(["toolctl", "run", "echo.say", "--sandbox", "="])).toEqual(["docker", "none"]);
    expect(await bash(["toolctl", "stats", "--by", ""])).toEqual(["tool", "action", "status"]);
    expect(await bash(["toolctl", "stats", "--period", "w"])).toEqual(["week"]);
    expect(await bash(["toolctl", "list", "--runtime", "d"])).toEqual(["docker", "database"]);
    expect(await bash(["toolctl", "list", "--status", ""])).toEqual(["pending", "active", "disabled", "revoked"]);
    expect(await bash(["toolctl", "executions", "--status", "f"])).toEqual(["failed"]);
    expect(await bash(["toolctl", "audit", "--actor", ""])).toEqual(["user", "ci", "agent"]);
    expect(await bash(["toolctl", "completion", ""])).toEqual(["bash", "zsh", "fish"]);
    expect(await bash(["toolctl", "new", ""])).toEqual(["http", "process", "docker"]);
  });

  it("completes tool names, and tool.action names from the registry", async () => {
    expect(await bash(["toolctl", "show", ""])).toEqual(TOOLS);
    expect(await bash(["toolctl", "tool", "export", "w"])).toEqual(["weather"]);
    expect(await bash(["toolctl", "tool", "approve", "p"])).toEqual(["pets", "piggybank"]);
    expect(await bash(["toolctl", "stats", "--tool", "ec"])).toEqual(["echo"]);
    expect(await bash(["toolctl", "run", "calc"])).toEqual(["calculator.", "calculator-docker."]);
    expect(await bash(["toolctl", "run", "weather."])).toEqual(["weather.current"]);
    expect(await bash(["toolctl", "run", "pets.get"])).toEqual(["pets.getOrders", "pets.getPetById", "pets.getUserByName"]);
    expect(await bash(["toolctl", "show", "calculator.c"])).toEqual(["calculator.calculate"]);
    expect(await bash(["toolctl", "executions", "--tool", "echo", "--action", ""])).toEqual(["say"]);
    expect(await bash(["toolctl", "mcp", "--tools", "echo,we"])).toEqual(["echo,weather"]);
    expect(await bash(["toolctl", "run", "nosuch."])).toEqual([]);
  });

  it("completes --param names from the action's input schema, and an enum's values", async () => {
    expect(await bash(["toolctl", "run", "calculator.calculate", "-p", ""])).toEqual(["operation=", "a=", "b="]);
    expect(await bash(["toolctl", "run", "calculator.calculate", "--param", "op"])).toEqual(["operation="]);
    expect(await bash(["toolctl", "run", "calculator.calculate", "-p", "operation=add", "-p", ""])).toEqual(["a=", "b="]);
    // After `=`, bash hands over "operation", "=", "su": the answer replaces the last word only.
    expect(await bash(["toolctl", "run", "calculator.calculate", "-p", "operation", "=", "su"])).toEqual(["subtract"]);
    expect(await bash(["toolctl", "run", "calculator.calculate", "-p", "operation", "="])).toEqual(["add", "subtract", "multiply", "divide"]);
    expect(await bash(["toolctl", "run", "calculator.calculate", "--param", "operation", "="])).toEqual(["add", "subtract", "multiply", "divide"]);
    // --param=NAME=VALUE: the part after the last `=` is what bash replaces.
    expect(await bash(["toolctl", "run", "calculator.calculate", "--param", "="])).toEqual(["operation=", "a=", "b="]);
    expect(await bash(["toolctl", "run", "calculator.calculate", "--param", "=", "operation", "=", "mu"])).toEqual(["multiply"]);
    expect(await bash(["toolctl", "run", "weather.current", "-p", ""])).toEqual(["latitude=", "longitude="]);
    // An imported spec's fields, through its shared definitions.
    expect(await bash(["toolctl", "run", "pets.addPet", "-p", ""])).toEqual(["body."]);
    expect(await bash(["toolctl", "run", "pets.addPet", "-p", "body.s"])).toEqual(["body.status="]);
    expect(await bash(["toolctl", "run", "pets.addPet", "-p", "body.status", "=", "p"])).toEqual(["pending"]);
    expect(await bash(["toolctl", "run", "pets.addPet", "-p", "body.category."])).toEqual([
      "body.category.id=",
      "body.category.name=",
      "body.category.parent.",
    ]);
  });

  it("completes recent execution ids and pending approval ids", async () => {
    expect(await bash(["toolctl", "executions", "show", ""])).toContain(executionId);
    expect(await bash(["toolctl", "rollback", executionId.slice(0, 5)])).toContain(executionId);
    expect(await bash(["toolctl", "audit", "--execution", ""])).toContain(executionId);
    expect(await bash(["toolctl", "audit", "--execution", "="])).toContain(executionId);
    expect(await bash(["toolctl", "approve", ""])).toEqual([approvalId]);
    expect(await bash(["toolctl", "deny", "ap"])).toEqual([approvalId]);
    // An execution that never started (the one waiting for its approval) is described by when it was made.
    const described = (await runCli(["__complete", "executions", "show", ""], { home })).stdout.split("\n").slice(1, -1);
    expect(described.length).toBeGreaterThanOrEqual(2);
    for (const line of described) expect(line).toMatch(/^ex_\S+\t\S+\.\S+ \S+ \d{4}-\d{2}-\d{2}T/);
  });

  it("completes help and its topics", async () => {
    expect(await bash(["toolctl", "he"])).toEqual(["help"]);
    expect(await bash(["toolctl", "help", "env"])).toEqual(["environment"]);
    expect(await bash(["toolctl", "help", "ru"])).toEqual(["run"]);
  });

  it("does not offer a tool already in an --tools list", async () => {
    expect(await bash(["toolctl", "mcp", "--tools", "echo,"])).not.toContain("echo,echo");
    expect(await bash(["toolctl", "mcp", "--tools", "echo,"])).toContain("echo,weather");
  });

  it("completes file names where a file is expected", async () => {
    expect(await bash(["toolctl", "import", "manifests/exa"])).toEqual(["manifests/examples"]);
    expect(await bash(["toolctl", "plan", "manifests/examples/launch/launch-site.p"])).toEqual(["manifests/examples/launch/launch-site.plan.yaml"]);
    expect(await bash(["toolctl", "--home", "manifests/ex"])).toEqual(["manifests/examples"]);
  });

  it("reads the registry of --home, and creates no home where there is none", async () => {
    const other = tempDir("toolctl-completion-other-");
    const toolctl = await openApi({ home: other });
    await toolctl.importManifests([path.join(examplesDir, "weather.yaml")]);
    await toolctl.close();
    expect(await bash(["toolctl", "--home", other, "show", ""])).toEqual(["weather"]);
    const missing = path.join(tempDir("toolctl-completion-none-"), "home");
    expect(await bash(["toolctl", "--home", missing, "show", ""])).toEqual([]);
    expect(await bash(["toolctl", "show", ""], { TOOLCTL_HOME: missing })).toEqual([]);
    expect(existsSync(missing)).toBe(false);
  });
});

describe("bash, with quoted words", () => {
  it("reads quoted and escaped words as the shell passes them, and completes the text inside an open quote", async () => {
    expect(await bash(["toolctl", "run", "'echo.s"])).toEqual(["echo.say"]);
    expect(await bash(["toolctl", "run", '"calc'])).toEqual(["calculator.", "calculator-docker."]);
    expect(await bash(["toolctl", "run", "'calculator.calculate'", "-p", ""])).toEqual(["operation=", "a=", "b="]);
    expect(await bash(["toolctl", "run", "calculator.calculate", "-p", "'operation=add'", "-p", ""])).toEqual(["a=", "b="]);
    expect(await bash(["toolctl", "run", "calculator.calculate", "-p", "'operation=su"])).toEqual(["operation=subtract"]);
    expect(await bash(["toolctl", "run", "calculator.calculate", "-p", "operation", "=", "'su"])).toEqual(["subtract"]);
    expect(await bash(["toolctl", "run", "calculator.calculate", "-p", "operation", "=", "\\su"])).toEqual(["subtract"]);
    expect(await bash(["toolctl", "run", "calculator\\.calculate", "-p", "op"])).toEqual(["operation="]);
  });

  it("reads --home quoted or with a ~", async () => {
    const other = tempDir("toolctl-completion-quoted-");
    const toolctl = await openApi({ home: path.join(other, "h") });
    await toolctl.importManifests([path.join(examplesDir, "weather.yaml")]);
    await toolctl.close();
    expect(await bash(["toolctl", "--home", `'${other}/h'`, "show", ""])).toEqual(["weather"]);
    expect(await bash(["toolctl", "--home", `"${other}"/h`, "run", "we"])).toEqual(["weather."]);
    expect(await bash(["toolctl", "--home", "~/h", "show", ""], { HOME: other })).toEqual(["weather"]);
    expect(await bash(["toolctl", "--home", "~", "show", ""], { HOME: path.join(other, "h") })).toEqual(["weather"]);
  });
});

describe("toolctl __complete", () => {
  it("unquotes the words (quotes, backslashes) and expands a leading ~, as the shell would have", async () => {
    const complete = async (...words: string[]) =>
      (await runCli(["__complete", ...words], { home })).stdout
        .split("\n")
        .slice(1, -1)
        .map((l) => l.split("\t")[0]);
    expect(await complete("run", "'echo.s")).toEqual(["echo.say"]);
    expect(await complete("run", "'echo.say'", "-p", "")).toEqual(["message=", "loud="]);
    expect(await complete("run", "'echo.say'", "-p", "'message=hi there'", "-p", "")).toEqual(["loud="]);
    expect(await complete("run", "calculator.calculate", "-p", "'operation=add'", "-p", "")).toEqual(["a=", "b="]);
    expect(await complete("run", "calculator.calculate", "-p", '"a=1"', "-p", "'b=2'", "-p", "")).toEqual(["operation="]);
    expect(await complete("run", "calc\\ulator.calculate", "-p", '"op')).toEqual(["operation="]);
    const shown = await runCli(["__complete", "--home", "~/.", "show", ""], { env: { HOME: home, TOOLCTL_HOME: undefined } });
    expect(shown.stdout).toContain("\nweather\t");
  });

  it("answers a directive line, then value<TAB>description lines", async () => {
    const tools = await runCli(["__complete", "run", "we"], { home });
    expect(tools.code).toBe(0);
    expect(tools.stdout).toBe(":nospace\nweather.\tCurrent weather for a place, from Open-Meteo (http, active)\n");
    const files = await runCli(["__complete", "import", ""], { home });
    expect(files.stdout).toBe(":files\n");
    const commands = await runCli(["__complete", "st"], { home });
    expect(commands.stdout).toBe(":\nstats\tcounts, failures and spend by period, grouped by tool, action or status\n");
    const params = await runCli(["__complete", "run", "calculator.calculate", "-p", "a"], { home });
    expect(params.stdout).toBe(":nospace\na=\tnumber, required\n");
  });

  it("prints nothing but an empty directive for a broken home, and exits 0", async () => {
    const broken = tempDir("toolctl-completion-broken-");
    writeFileSync(path.join(broken, "registry.db"), "");
    const result = await runCli(["__complete", "show", ""], { home: broken });
    expect(result).toMatchObject({ code: 0, stdout: ":\n", stderr: "" });
  });
});

describe("toolctl completion", () => {
  it("refuses an unknown shell (exit 2, one line)", async () => {
    const result = await runCli(["completion", "powershell"]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr.trim().split("\n")[0]).toBe(
      "error: command-argument value 'powershell' is invalid for argument 'shell'. Allowed choices are bash, zsh, fish.",
    );
    expect((await runCli(["completion"])).code).toBe(2);
  });
});

const hasShell = (name: string) => ["/usr/bin", "/bin", "/usr/local/bin"].some((dir) => existsSync(path.join(dir, name)));
// In CI the shells must be there (.ci/run installs them); elsewhere a missing one skips its tests.
const zsh = hasShell("zsh") || process.env.CI ? describe : describe.skip;
const fish = hasShell("fish") || process.env.CI ? describe : describe.skip;

zsh("zsh", () => {
  it("has valid syntax and registers _toolctl for toolctl", async () => {
    expect(await run("zsh", ["-n", scripts.zsh])).toMatchObject({ code: 0, stderr: "" });
    const registered = await run("zsh", ["-f", "-c", `autoload -U compinit && compinit -u -D && source "${scripts.zsh}" && print -r -- $_comps[toolctl]`]);
    expect(registered.stderr).toBe("");
    expect(registered.stdout.trim()).toBe("_toolctl");
  });
});

fish("fish", () => {
  it("has valid syntax, and completes through the script (complete -C)", async () => {
    expect(await run("fish", ["--no-execute", scripts.fish])).toMatchObject({ code: 0, stderr: "" });
    const ask = async (line: string) => {
      const result = await run("fish", ["--no-config", "-c", `source "${scripts.fish}"; complete -C '${line}'`]);
      expect(result.code, result.stderr).toBe(0);
      return result.stdout.split("\n").filter(Boolean);
    };
    expect(await ask("toolctl ru")).toEqual(["run\trun one action: validate, show cost and risk, execute, record"]);
    expect(await ask("toolctl run weather.")).toEqual(["weather.current\tread: Current temperature and wind speed at a latitude and longitude"]);
    expect(await ask("toolctl run calculator.calculate -p op")).toEqual(["operation=\tstring, required"]);
    expect(await ask("toolctl stats --by ")).toEqual(["action", "status", "tool"]);
    // Quoted words, and a ~ for --home.
    expect(await ask('toolctl run "calculator.calculate" -p "operation=add" -p ')).toEqual(["a=\tnumber, required", "b=\tnumber, required"]);
    expect(await ask('toolctl run "echo.s')).toEqual(["echo.say\tread: Return the message unchanged"]);
    expect(await ask("toolctl tool export pi")).toEqual(["piggybank\tPretend payments for trying approvals, limits and the budget (echo, active)"]);
  });
});

/**
 * An interactive shell on a pseudo-terminal, started with `args`. Its `toolctl` answers `__complete` as the real one
 * and otherwise prints the arguments it was given, so the line TAB built is read back exactly when Enter runs it.
 */
function interactive(command: string, args: string[], extra: Record<string, string>) {
  const fakeDir = tempDir("toolctl-completion-fake-");
  writeFileSync(
    path.join(fakeDir, "toolctl"),
    `#!/bin/sh\nif [ "$1" = "__complete" ]; then exec "${binPath}" "$@"; fi\nprintf 'ARGV:'; printf ' [%s]' "$@"; printf '\\n'\n`,
    { mode: 0o755 },
  );
  const term = pty.spawn(command, args, {
    name: "xterm",
    cols: 200,
    rows: 20,
    cwd: repoRoot,
    env: env({ TERM: "xterm", PATH: `${fakeDir}:${process.env.PATH}`, ...extra }) as Record<string, string>,
  });
  let screen = "";
  let changed = Date.now();
  term.onData((data) => ((screen += data), (changed = Date.now())));
  const plain = () => screen.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b[()][A-Za-z0-9]|\u001b[=>]|\u0007|[\b]/g, "").replace(/\r/g, "");
  const waitUntil = async (done: () => boolean, what: string) => {
    for (let waited = 0; waited < 20_000; waited += 50) {
      if (done()) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`timed out waiting for ${what}; the terminal shows:\n${plain()}`);
  };
  return {
    waitFor: (text: string) => waitUntil(() => plain().includes(text), JSON.stringify(text)),
    /** Types keys, then waits until the shell has answered them (the screen changed, then stayed still for 400 ms). */
    async type(keys: string) {
      const before = screen.length;
      term.write(keys);
      await waitUntil(() => screen.length > before && Date.now() - changed > 400, `an answer to ${JSON.stringify(keys)}`);
    },
    kill: () => term.kill(),
  };
}

/** The same keys in both shells: a tool, its only action, a --param name (no space after `=`), and an enum value after `=`. */
async function typeCompletions(shell: ReturnType<typeof interactive>, prompt: string) {
  try {
    await shell.waitFor(prompt);
    for (const keys of ["toolctl run weath\t", "\t", "-p lat\t", "1 -p op\t"]) await shell.type(keys);
    await shell.type("\n");
    await shell.waitFor("ARGV: [run] [weather.current] [-p] [latitude=1] [-p] [op]");
    // Where bash splits the word at `=`: the value after it.
    for (const keys of ["toolctl run calculator.calculate -p operation=mul\t", "-p a=1 -p "]) await shell.type(keys);
    await shell.type("\n");
    await shell.waitFor("ARGV: [run] [calculator.calculate] [-p] [operation=multiply] [-p] [a=1] [-p]");
    // A quoted word: the text inside the quote is completed, and the shell closes the quote.
    for (const keys of ["toolctl run 'echo.s\t", "-p mess\t", "hi"]) await shell.type(keys);
    await shell.type("\n");
    await shell.waitFor("ARGV: [run] [echo.say] [-p] [message=hi]");
  } finally {
    shell.kill();
  }
}

describe("an interactive shell, as TAB is typed", () => {
  it("bash", async () => {
    const rc = path.join(tempDir("toolctl-completion-rc-"), "bashrc");
    writeFileSync(rc, `PS1='$ '\nbind 'set bell-style none'\nsource "${scripts.bash}"\n`);
    await typeCompletions(interactive("bash", ["--noprofile", "--rcfile", rc, "-i"], {}), "$ ");
  }, 60_000);

  (hasShell("zsh") || process.env.CI ? it : it.skip)(
    "zsh",
    async () => {
      const dotdir = tempDir("toolctl-completion-zdot-");
      writeFileSync(path.join(dotdir, ".zshrc"), `PS1='%% '\nautoload -U compinit && compinit -u -D\nsource "${scripts.zsh}"\n`);
      await typeCompletions(interactive("zsh", ["-i"], { ZDOTDIR: dotdir }), "% ");
    },
    60_000,
  );
});
