/**
 * Where toolctl's keys live: the OS keyring when one runs (here a real Secret Service: gnome-keyring on a
 * private D-Bus session), else files in the home, or the environment. A key outside the home is out of reach of
 * anything that can only read files.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { baseEnv, binPath, examplesDir, runCli, runJson, tempDir, writeFiles } from "./helpers.js";

const hasKeyring = ["gnome-keyring-daemon", "dbus-run-session", "dbus-send"].every((tool) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0);
// CI installs gnome-keyring and dbus: there a missing keyring fails the tests instead of skipping them.
const withKeyring = hasKeyring || process.env.CI ? it : it.skip;

interface Step {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs toolctl commands inside one D-Bus session with an unlocked gnome-keyring, as a desktop login has.
 * The keyring's own files live in `userHome`, so a second session with the same home finds the same keys.
 */
function inKeyringSession(
  userHome: string,
  home: string,
  commands: Array<string[] | { args: string[]; stdin: string }>,
  extraEnv: Record<string, string> = {},
): Step[] {
  const script = [
    "echo -n unlock | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1",
    ...commands.map((command, i) => {
      const { args, stdin } = Array.isArray(command) ? { args: command, stdin: "/dev/null" } : command;
      return `${JSON.stringify(process.execPath)} ${JSON.stringify(binPath)} ${args.map((a) => JSON.stringify(a)).join(" ")} >"$OUT/${i}.out" 2>"$OUT/${i}.err" <${JSON.stringify(stdin)}; echo $? >"$OUT/${i}.code"`;
    }),
  ].join("\n");
  const out = tempDir("toolctl-session-out-");
  const result = spawnSync("dbus-run-session", ["--", "bash", "-c", script], {
    env: baseEnv({ HOME: userHome, TOOLCTL_HOME: home, OUT: out, ...extraEnv }),
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(result.status, result.stderr).toBe(0);
  return commands.map((_, i) => ({
    code: Number(readFileSync(path.join(out, `${i}.code`), "utf8")),
    stdout: readFileSync(path.join(out, `${i}.out`), "utf8"),
    stderr: readFileSync(path.join(out, `${i}.err`), "utf8"),
  }));
}

const SHOW_SECRET = `apiVersion: toolctl/v1
name: show
description: Proves the secret resolves
runtime: process
actions:
  go:
    description: Length of the secret it was given
    kind: read
    command: [node, -e, "console.log(JSON.stringify({ length: process.env.DEMO.length }))"]
    env: { DEMO: "{{ secrets.DEMO_TOKEN }}" }
`;

describe("keys in the OS keyring", () => {
  withKeyring("keeps the master and audit keys in the keyring, not in the home, and uses them across sessions", async () => {
    const userHome = tempDir("toolctl-desktop-home-");
    const home = tempDir("toolctl-keyring-home-");
    const manifests = writeFiles({ "show.yaml": SHOW_SECRET });
    writeFileSync(path.join(manifests, "token.txt"), "tok_0123456789abcdef");
    const first = inKeyringSession(userHome, home, [
      { args: ["secret", "set", "DEMO_TOKEN"], stdin: path.join(manifests, "token.txt") },
      ["import", manifests, path.join(examplesDir, "echo.yaml")],
      ["run", "show.go", "--json"],
    ]);
    for (const step of first) expect(step.code, step.stderr).toBe(0);
    expect(JSON.parse(first[2]!.stdout).output).toEqual({ length: 20 });
    expect(existsSync(path.join(home, "master.key"))).toBe(false);
    expect(existsSync(path.join(home, "audit.key"))).toBe(false);
    expect(JSON.parse(readFileSync(path.join(home, "keys.json"), "utf8"))).toEqual({ master: "keyring", audit: "keyring" });

    // A new login session (a new daemon over the same keyring files) finds both keys again.
    const second = inKeyringSession(userHome, home, [
      ["run", "show.go", "--json"],
      ["audit", "verify", "--json"],
    ]);
    expect(second[0]!.code, second[0]!.stderr).toBe(0);
    expect(JSON.parse(second[1]!.stdout)).toMatchObject({ ok: true });

    // Without the keyring, toolctl stops: it never makes a new key that would orphan the old secrets and log.
    const away = await runJson(["run", "echo.say", "-p", "message=hi"], { home, env: { HOME: userHome } });
    expect(away.code).toBe(6);
    expect(away.json.error.message).toMatch(/the audit key of .* is kept in the OS keyring .* but the keyring cannot be reached here \(no D-Bus session/);
    expect(existsSync(path.join(home, "audit.key"))).toBe(false);
  });

  withKeyring("TOOLCTL_KEY_STORE=file keeps them in the home even where a keyring runs", async () => {
    const home = tempDir("toolctl-keyring-home-");
    const [step] = inKeyringSession(tempDir("toolctl-desktop-home-"), home, [["import", path.join(examplesDir, "echo.yaml")]], { TOOLCTL_KEY_STORE: "file" });
    expect(step!.code, step!.stderr).toBe(0);
    expect(existsSync(path.join(home, "audit.key"))).toBe(true);
    expect(existsSync(path.join(home, "keys.json"))).toBe(false);
  });
});

describe("choosing where keys go", () => {
  it("uses files in the home when no keyring runs, and refuses TOOLCTL_KEY_STORE=keyring there (exit 6)", async () => {
    const home = tempDir("toolctl-keys-");
    expect((await runCli(["import", path.join(examplesDir, "echo.yaml")], { home })).code).toBe(0);
    expect(existsSync(path.join(home, "audit.key"))).toBe(true);
    const other = tempDir("toolctl-keys-");
    const forced = await runJson(["import", path.join(examplesDir, "echo.yaml")], { home: other, env: { TOOLCTL_KEY_STORE: "keyring" } });
    expect(forced.code).toBe(6);
    expect(forced.json.error.message).toMatch(/TOOLCTL_KEY_STORE=keyring, but no OS keyring is available: no D-Bus session/);
    // Nothing half-written: no key, no event.
    expect(existsSync(path.join(other, "audit.key"))).toBe(false);
    const bad = await runJson(["import", path.join(examplesDir, "echo.yaml")], { home: other, env: { TOOLCTL_KEY_STORE: "vault" } });
    expect(bad.code).toBe(2);
    expect(bad.json.error.message).toBe('TOOLCTL_KEY_STORE: expected auto, keyring or file, got "vault"');
  });

  it("a key file that is not valid JSON is exit 6 naming the file, and none of its text is printed (it holds the key)", async () => {
    const home = tempDir("toolctl-keys-");
    const key = "n0/osL2ckg7VaQ1xZ8mW3pR5tY6uI9oP0aSdFgHjKlZx=";
    // A quote the JSON parser stops at, right before the key: its message would show the text around it.
    writeFileSync(path.join(home, "master.key"), `{"current":"a","keys":{"a":'${key}'}}\n`, { mode: 0o600 });
    const ring = await runJson(["secret", "set", "X"], { home, input: "value\n" });
    expect(ring.code).toBe(6);
    expect(ring.json.error.message).toBe(`${path.join(home, "master.key")} is not a valid key ring: it is not valid JSON`);
    writeFileSync(path.join(home, "audit.key"), `{"id":"a1",'key':"${key}"}\n`, { mode: 0o600 });
    const audit = await runJson(["import", path.join(examplesDir, "echo.yaml")], { home });
    expect(audit.code).toBe(6);
    expect(audit.json.error.message).toBe(`${path.join(home, "audit.key")} is not a valid audit key: it is not valid JSON`);
    for (const text of [ring.stdout, ring.stderr, audit.stdout, audit.stderr]) expect(text).not.toContain(key.slice(0, 8));
  });
});
