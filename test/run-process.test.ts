/**
 * The process runtime end to end: real child processes started by the built binary.
 */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { baseEnv, binPath, homeWithExamples, repoRoot, runCli, runJson, tempDir, writeFiles } from "./helpers.js";

const fixture = path.join(repoRoot, "test", "fixtures", "proc.mjs");

function manifest(kind = "read", output = "json"): string {
  return `apiVersion: toolctl/v1
name: proc
description: Test program
runtime: process
process:
  env: [PATH, KEEP_ME, PASS_TOKEN]
  timeoutSeconds: 1
  # The checkout may be anywhere (under /tmp too, which a confined tool does not see): the fixture is granted.
  readable: [${JSON.stringify(path.dirname(fixture))}]
actions:
  go:
    description: Run the fixture
    kind: ${kind}
    output: ${output}
    inputSchema: { type: object, properties: { mode: { type: string }, exit: { type: integer } } }
    command: [node, ${JSON.stringify(fixture)}, "--mode={{ input.mode }}"]
    env: { PROC_KEY: "{{ secrets.PROC_KEY }}", STATIC: "yes" }
`;
}

async function homeWith(text: string): Promise<string> {
  const home = tempDir("toolctl-proc-");
  const result = await runCli(["import", writeFiles({ "proc.yaml": text })], { home });
  expect(result.code, result.stderr).toBe(0);
  return home;
}

const env = { PROC_KEY: "proc-secret-9f8e7d", KEEP_ME: "kept", DROP_ME: "dropped" };

describe("process runner", () => {
  it("runs the calculator example: JSON in on stdin, JSON out", async () => {
    const home = await homeWithExamples();
    const result = await runJson(["run", "calculator.calculate", "-p", "operation=multiply", "-p", "a=6", "-p", "b=7"], { home });
    expect(result.code).toBe(0);
    expect(result.json.output).toEqual({ result: 42 });
  });

  it("reports a non-zero exit with the last stderr line, exit 1", async () => {
    const home = await homeWithExamples();
    const result = await runJson(["run", "calculator.calculate", "-p", "operation=divide", "-p", "a=1", "-p", "b=0"], { home });
    expect(result.code).toBe(1);
    expect(result.json.error.message).toBe("process exited with code 1: division by zero");
  });

  it("passes only allow-listed environment variables, plus the action's own, with argv from templates", async () => {
    const home = await homeWith(manifest());
    const result = await runJson(["run", "proc.go", "-p", "mode=env"], { home, env });
    expect(result.code).toBe(0);
    const childEnv = result.json.output.env as Record<string, string>;
    // PWD is the sandbox's: bubblewrap sets it to the working directory.
    expect(
      Object.keys(childEnv)
        .filter((name) => name !== "PWD")
        .sort(),
    ).toEqual(["KEEP_ME", "PATH", "PROC_KEY", "STATIC"]);
    expect(childEnv.KEEP_ME).toBe("kept");
    expect(childEnv.PROC_KEY).toBe("[REDACTED]");
    expect(result.json.output.argv).toEqual(["--mode=env"]);
  });

  it("fails clearly when the program prints garbage instead of JSON", async () => {
    const home = await homeWith(manifest());
    const result = await runJson(["run", "proc.go", "-p", "mode=garbage"], { home, env });
    expect(result.code).toBe(1);
    expect(result.json.error.message).toBe('process printed invalid JSON on stdout: "this is not json {"');
    expect(result.json.error.category).toBe("validation");
  });

  it("keeps text output as text when the action says so", async () => {
    const home = await homeWith(manifest("read", "text"));
    const result = await runJson(["run", "proc.go", "-p", "mode=text"], { home, env });
    expect(result.code).toBe(0);
    expect(result.json.output).toBe("hello as text");
  });

  it("says so when the program's output is not UTF-8, rather than replacing bytes silently", async () => {
    const home = await homeWith(manifest("read", "text"));
    const result = await runJson(["run", "proc.go", "-p", "mode=latin1"], { home, env });
    expect(result.code).toBe(0);
    expect(result.json.output).toBe("caf\uFFFD");
    expect(result.json.warnings).toEqual(["process wrote stdout that is not valid UTF-8: the bytes that are not read as U+FFFD (\uFFFD)"]);
    const utf8 = await runJson(["run", "proc.go", "-p", "mode=text"], { home, env });
    expect(utf8.json.warnings).toEqual([]);
  });

  it("kills a process past its timeout: a read fails (exit 1), a write is unknown (exit 5)", async () => {
    const read = await runJson(["run", "proc.go", "-p", "mode=sleep"], { home: await homeWith(manifest("read")), env });
    expect(read.code).toBe(1);
    expect(read.json.error.category).toBe("timeout");
    const write = await runJson(["run", "proc.go", "-p", "mode=sleep"], { home: await homeWith(manifest("create")), env });
    expect(write.code).toBe(5);
    expect(write.json.status).toBe("unknown");
  });

  it("shows argv and environment names, never values, in a dry run", async () => {
    const home = await homeWith(manifest());
    const result = await runJson(["run", "proc.go", "-p", "mode=env", "--dry-run"], { home, env });
    expect(result.code).toBe(0);
    expect(result.json.request).toMatchObject({ runtime: "process", argv: ["node", fixture, "--mode=env"], env: ["KEEP_ME", "PATH", "PROC_KEY", "STATIC"] });
    expect(result.stdout).not.toContain("proc-secret-9f8e7d");
  });

  it("scrubs a secret the program prints on stdout or stderr, on success and failure", async () => {
    const home = await homeWith(manifest());
    for (const exit of [0, 2]) {
      const result = await runJson(["run", "proc.go", "--params", JSON.stringify({ mode: "leak", exit })], { home, env });
      expect(result.code).toBe(exit === 0 ? 0 : 1);
      expect(result.stdout + result.stderr).not.toContain("proc-secret-9f8e7d");
    }
    const history = await runCli(["executions", "--json"], { home });
    expect(history.stdout).not.toContain("proc-secret-9f8e7d");
  });

  it("a create killed by a signal is unknown (exit 5), since it may have done its work", async () => {
    const home = await homeWith(manifest("create"));
    const result = await runJson(["run", "proc.go", "-p", "mode=suicide"], { home, env });
    expect(result.code).toBe(5);
    expect(result.json.status).toBe("unknown");
    expect(result.json.error.message).toMatch(/killed by SIGKILL/);
  });

  it("scrubs the value of a secret-looking variable passed through to the program", async () => {
    const home = await homeWith(manifest());
    const result = await runJson(["run", "proc.go", "-p", "mode=print-pass"], { home, env: { ...env, PASS_TOKEN: "sk_live_passthrough_abcdef" } });
    expect(result.code).toBe(0);
    expect(result.json.output).toEqual({ pass: "[REDACTED]", path: "set" });
  });

  it("refuses input that would become an option of the program, unless the manifest puts -- first", async () => {
    const text = manifest().replace('"--mode={{ input.mode }}"', '"{{ input.mode }}"');
    const home = await homeWith(text);
    const refused = await runJson(["run", "proc.go", "-p", "mode=--upload-pack=evil"], { home, env });
    expect(refused.code).toBe(2);
    expect(refused.json.error.message).toMatch(/starts with '-' and would be read as an option/);
    const guarded = await homeWith(text.replace('"{{ input.mode }}"', '"--", "{{ input.mode }}"'));
    const allowed = await runJson(["run", "proc.go", "-p", "mode=--upload-pack=evil"], { home: guarded, env });
    expect(allowed.code).toBe(0);
    expect(allowed.json.output.got).toEqual({ mode: "--upload-pack=evil" });
  });

  it("on a second Ctrl-C exits 130 at once, with the execution recorded as unknown", async () => {
    const { spawn } = await import("node:child_process");
    // A timeout well past the test's interrupts, so the program is still running when they arrive.
    const home = await homeWith(manifest("create").replace("timeoutSeconds: 1", "timeoutSeconds: 30"));
    const child = spawn(process.execPath, [binPath, "run", "proc.go", "-p", "mode=sleep"], {
      env: { ...baseEnv(env), TOOLCTL_HOME: home },
      stdio: ["ignore", "pipe", "pipe"],
    });
    // A second interrupt that lands while the process is already exiting kills it by SIGINT: the shell reports
    // that as 130 too, so it counts as 130 here.
    const closed = new Promise<number | null>((resolve) => child.on("close", (code, signal) => resolve(code ?? (signal === "SIGINT" ? 130 : null))));
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    // Wait until the action is running (its intent is in the audit log), then interrupt twice.
    for (let i = 0; i < 100; i++) {
      const audit = await runCli(["audit", "--type", "execution.started", "--json"], { home });
      if (audit.stdout.trim() && JSON.parse(audit.stdout).items.length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill("SIGINT");
    await new Promise((resolve) => setTimeout(resolve, 20));
    child.kill("SIGINT");
    const code = await closed;
    const shown = await runJson(["executions"], { home });
    const why = JSON.stringify({ code, stderr, execution: shown.json.items[0] });
    expect([130, 5], why).toContain(code);
    expect(shown.json.items[0].status, why).toBe("unknown");
    expect(stderr).toMatch(/interrupt received/);
  });
});

describe("process runner: SIGTERM with --json", () => {
  it("exits 143, and the JSON it prints says 143 too", async () => {
    const { spawn } = await import("node:child_process");
    const home = await homeWith(manifest().replace("timeoutSeconds: 1", "timeoutSeconds: 30"));
    const child = spawn(process.execPath, [binPath, "run", "proc.go", "-p", "mode=sleep", "--json"], {
      env: { ...baseEnv(env), TOOLCTL_HOME: home },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    const closed = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    for (let i = 0; i < 100; i++) {
      const audit = await runCli(["audit", "--type", "execution.started", "--json"], { home });
      if (audit.stdout.trim() && JSON.parse(audit.stdout).items.length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill("SIGTERM");
    expect(await closed).toBe(143);
    const printed = JSON.parse(stdout) as { exitCode: number; error?: { exitCode: number } };
    expect(printed.exitCode).toBe(143);
    expect(printed.error?.exitCode).toBe(143);
  });
});

describe("process runner: a secret the program prints encoded", () => {
  // 90 characters once encoded in UTF-8 or more: GNU base64 wraps it over two lines. Non-ASCII, a quote, &<> and a
  // character outside the BMP make JSON encoders escape it in every way they do.
  const secret = `pä55wörd-XYZ"q&<>😀~?${"k".repeat(70)}`;
  // Python's json.dumps (ensure_ascii: lower-case \u, surrogate pairs) and Go's encoding/json (\u0026 \u003c \u003e).
  const asJson = String.raw`const s = process.env.PROC_KEY; process.stdout.write(JSON.stringify(s).replace(/[^\x20-\x7e]|[&<>]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")))`;
  const text = `apiVersion: toolctl/v1
name: enc
description: Prints its secret encoded
runtime: process
process: { env: [PATH] }
actions:
  base64: { description: GNU base64 wrapped at 76 columns, kind: read, output: text, stdin: none, command: [sh, -c, 'printf %s "$PROC_KEY" | base64'], env: { PROC_KEY: "{{ secrets.PROC_KEY }}" } }
  base64url: { description: basenc --base64url, kind: read, output: text, stdin: none, command: [sh, -c, 'printf %s "$PROC_KEY" | basenc --base64url -w 0; echo; printf %s "$PROC_KEY" | basenc --base64url -w 0 | tr -d ='], env: { PROC_KEY: "{{ secrets.PROC_KEY }}" } }
  json: { description: JSON with \\u escapes, kind: read, output: text, stdin: none, command: [node, -e, ${JSON.stringify(asJson)}], env: { PROC_KEY: "{{ secrets.PROC_KEY }}" } }
`;

  it.each([
    ["base64", "[REDACTED]"],
    ["base64url", "[REDACTED]\n[REDACTED]"],
    ["json", '"[REDACTED]"'],
  ])("%s: the output, executions show and the audit log hold no form of it", async (action, expected) => {
    const home = await homeWith(text);
    const result = await runJson(["run", `enc.${action}`], { home, env: { PROC_KEY: secret } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.json.output).toBe(expected);
    const show = await runCli(["executions", "show", result.json.executionId, "--json"], { home });
    const audit = await runCli(["audit", "--json", "--limit", "100"], { home });
    const fragments = [
      secret.slice(0, 12),
      Buffer.from(secret).toString("base64").slice(8, 40),
      Buffer.from(secret).toString("base64url").slice(8, 40),
      "p\\u00e455w",
    ];
    for (const fragment of fragments) expect(result.stdout + show.stdout + audit.stdout).not.toContain(fragment);
  });
});
