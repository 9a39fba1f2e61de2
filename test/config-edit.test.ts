/**
 * `toolctl config get|set|unset`: the text edit of config.yaml in-process (every other line, comment and column
 * kept), the atomic write, and the commands end to end through the built binary, with every bad input.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { editYaml } from "../src/config/yaml-edit.js";
import { writeFileAtomic } from "../src/util/atomic-file.js";
import { runCli, runJson, tempDir } from "./helpers.js";

// The example of docs/commands.md, as a user would keep it: aligned trailing comments, a blank line, a header.
const EXAMPLE = `# ~/.toolctl/config.yaml
approvals:
  paidActions: true          # ask before MEDIUM and HIGH actions
  timeoutSeconds: 300        # no answer within this time is a no

limits:
  perActionUsd: 200          # one action estimated above this is refused
  dailyUsd: 500              # refused once today's spend would pass this
rateLimits:                  # requests per minute per tool
  stripe: 60
mcp:                         # toolctl mcp
  allow: []                  # create, update and delete actions agents may call
  elicit: false
`;

function replaceLine(text: string, from: string, to: string): string {
  expect(text).toContain(from);
  return text.replace(from, to);
}

describe("editYaml: one change, every other byte kept", () => {
  it("replaces a scalar in place, keeping its trailing comment in its column", () => {
    const out = editYaml(EXAMPLE, { path: ["limits", "dailyUsd"], value: 50 });
    expect(out).toBe(replaceLine(EXAMPLE, "  dailyUsd: 500              #", "  dailyUsd: 50               #"));
    // Longer than the gap: the comment moves right, one space after the value.
    const long = editYaml(EXAMPLE, { path: ["limits", "dailyUsd"], value: 123456789012345678 });
    expect(long).toContain("  dailyUsd: 123456789012345680 # refused once");
    expect(editYaml(EXAMPLE, { path: ["approvals", "paidActions"], value: false })).toBe(
      replaceLine(EXAMPLE, "  paidActions: true          #", "  paidActions: false         #"),
    );
  });

  it("adds a key at the end of its section, a new section at the end of the file", () => {
    expect(editYaml(EXAMPLE, { path: ["approvals", "twoFactorAboveUsd"], value: 1000 })).toBe(
      replaceLine(EXAMPLE, "no answer within this time is a no\n", "no answer within this time is a no\n  twoFactorAboveUsd: 1000\n"),
    );
    expect(editYaml(EXAMPLE, { path: ["rateLimits", "github"], value: 30 })).toBe(replaceLine(EXAMPLE, "  stripe: 60\n", "  stripe: 60\n  github: 30\n"));
    expect(editYaml(EXAMPLE, { path: ["rollback", "auto"], value: false })).toBe(`${EXAMPLE}rollback:\n  auto: false\n`);
    // A file without a final line break, an empty file, and one holding only a comment.
    expect(editYaml("sandboxApis: true", { path: ["audit", "dryRuns"], value: false })).toBe("sandboxApis: true\naudit:\n  dryRuns: false\n");
    expect(editYaml("", { path: ["limits", "dailyUsd"], value: 5 })).toBe("limits:\n  dailyUsd: 5\n");
    expect(editYaml("# mine\n", { path: ["sandboxApis"], value: true })).toBe("# mine\nsandboxApis: true\n");
  });

  it("keeps a file's CRLF line breaks on every line it adds, changes or leaves; a file of mixed breaks adds LF", () => {
    const crlf = EXAMPLE.replace(/\n/g, "\r\n");
    const asLf = (text: string) => text.replace(/\r\n/g, "\n");
    for (const edit of [
      { path: ["limits", "dailyUsd"], value: 50 },
      { path: ["approvals", "twoFactorAboveUsd"], value: 1000 },
      { path: ["rollback", "auto"], value: false },
      { path: ["mcp", "allow"], value: ["stripe.refund", "github.create_issue"] },
      { path: ["rateLimits", "stripe"], remove: true as const },
      { path: ["limits"], remove: true as const },
    ]) {
      const out = editYaml(crlf, edit);
      expect(out.replace(/\r\n/g, ""), JSON.stringify(edit)).not.toContain("\n");
      expect(asLf(out), JSON.stringify(edit)).toBe(editYaml(EXAMPLE, edit));
    }
    expect(editYaml("sandboxApis: true\r\n", { path: ["audit", "dryRuns"], value: false })).toBe("sandboxApis: true\r\naudit:\r\n  dryRuns: false\r\n");
    // Mixed: the lines there keep their breaks, as before; new ones are LF.
    expect(editYaml("a: 1\r\nb: 2\n", { path: ["sandboxApis"], value: true })).toBe("a: 1\r\nb: 2\nsandboxApis: true\n");
  });

  it("indents new keys as the file does (four spaces here)", () => {
    const four = "limits:\n    dailyUsd: 5\n";
    expect(editYaml(four, { path: ["limits", "perActionUsd"], value: 2 })).toBe("limits:\n    dailyUsd: 5\n    perActionUsd: 2\n");
    expect(editYaml(four, { path: ["docker", "pull"], value: false })).toBe(`${four}docker:\n    pull: false\n`);
  });

  it("removes a key's line, and a section it leaves empty (an empty `limits:` would be null)", () => {
    expect(editYaml(EXAMPLE, { path: ["approvals", "paidActions"], remove: true })).toBe(
      replaceLine(EXAMPLE, "  paidActions: true          # ask before MEDIUM and HIGH actions\n", ""),
    );
    expect(editYaml(EXAMPLE, { path: ["rateLimits", "stripe"], remove: true })).toBe(
      replaceLine(EXAMPLE, "rateLimits:                  # requests per minute per tool\n  stripe: 60\n", ""),
    );
    expect(editYaml(EXAMPLE, { path: ["limits"], remove: true })).toBe(
      replaceLine(
        EXAMPLE,
        "limits:\n  perActionUsd: 200          # one action estimated above this is refused\n  dailyUsd: 500              # refused once today's spend would pass this\n",
        "",
      ),
    );
    // Not there: nothing changes.
    expect(editYaml(EXAMPLE, { path: ["docker", "pull"], remove: true })).toBe(EXAMPLE);
  });

  it("sets lists: a flow list in place, a block list item by item", () => {
    expect(editYaml(EXAMPLE, { path: ["mcp", "allow"], value: ["stripe", "pay.charge"] })).toBe(
      replaceLine(EXAMPLE, "  allow: []                  #", "  allow: [stripe, pay.charge] #"),
    );
    const block = "mcp:\n  # who may write\n  allow:\n    - a   # first\n    - b\n  elicit: true\n";
    expect(editYaml(block, { path: ["mcp", "allow"], value: ["c", "d.e"] })).toBe("mcp:\n  # who may write\n  allow:\n    - c\n    - d.e\n  elicit: true\n");
    // The empty list cannot be written as block items: `allow: []`, the items' lines gone, every other line kept.
    expect(editYaml(block, { path: ["mcp", "allow"], value: [] })).toBe("mcp:\n  # who may write\n  allow: []\n  elicit: true\n");
    const commented = "mcp:\n  allow:    # who may write\n    - a\n    # why b\n    - b\n";
    expect(editYaml(commented, { path: ["mcp", "allow"], value: [] })).toBe("mcp:\n  allow: [] # who may write\n    # why b\n");
  });

  it("edits inside a flow mapping in place; quotes strings that need it", () => {
    const flow = "limits: {dailyUsd: 5, perActionUsd: 2}   # flow\n";
    expect(editYaml(flow, { path: ["limits", "dailyUsd"], value: 7 })).toBe("limits: {dailyUsd: 7, perActionUsd: 2}   # flow\n");
    expect(editYaml("a: 1\n", { path: ["b"], value: "yes: no" })).toBe('a: 1\nb: "yes: no"\n');
  });

  it("adds and removes keys inside a flow mapping in place, every other byte kept", () => {
    const odd =
      "approvals:   # section comment\n  timeoutSeconds:    300   # odd spacing\nlimits: {perActionUsd: 200, dailyUsd: 500}\nrateLimits:\n    stripe: 60\n";
    expect(editYaml(odd, { path: ["limits", "dailyUsd"], remove: true })).toBe(odd.replace("{perActionUsd: 200, dailyUsd: 500}", "{perActionUsd: 200}"));
    expect(editYaml(odd, { path: ["limits", "perActionUsd"], remove: true })).toBe(odd.replace("{perActionUsd: 200, dailyUsd: 500}", "{dailyUsd: 500}"));
    const one = odd.replace("{perActionUsd: 200, dailyUsd: 500}", "{dailyUsd: 500}");
    expect(editYaml(one, { path: ["limits", "perActionUsd"], value: 9 })).toBe(
      odd.replace("{perActionUsd: 200, dailyUsd: 500}", "{dailyUsd: 500, perActionUsd: 9}"),
    );
    // The last key of a flow mapping: the section goes, as for a block one.
    expect(editYaml(one, { path: ["limits", "dailyUsd"], remove: true })).toBe(odd.replace("limits: {perActionUsd: 200, dailyUsd: 500}\n", ""));
    const empty = odd.replace("{perActionUsd: 200, dailyUsd: 500}", "{}   # none yet");
    expect(editYaml(empty, { path: ["limits", "dailyUsd"], value: 5 })).toBe(odd.replace("{perActionUsd: 200, dailyUsd: 500}", "{dailyUsd: 5}   # none yet"));
    const lines = "limits: {\n  perActionUsd: 200,   # one\n  dailyUsd: 500\n}\n";
    expect(editYaml(lines, { path: ["limits", "dailyUsd"], remove: true })).toBe("limits: {\n  perActionUsd: 200   # one\n}\n");
  });

  it("a block list keeps the lines and comments of the items that stay; comment lines are never removed", () => {
    const list = "mcp:\n  allow:\n    - stripe     # first item\n    # between items\n    - pay.charge # second item\n  elicit: true\n";
    expect(editYaml(list, { path: ["mcp", "allow"], value: ["stripe", "pay.refund"] })).toBe(
      "mcp:\n  allow:\n    - stripe     # first item\n    # between items\n    - pay.refund\n  elicit: true\n",
    );
    expect(editYaml(list, { path: ["mcp", "allow"], value: ["pay.charge", "stripe"] })).toBe(
      "mcp:\n  allow:\n    # between items\n    - pay.charge # second item\n    - stripe     # first item\n  elicit: true\n",
    );
    expect(editYaml(list, { path: ["mcp", "allow"], value: ["new", "pay.charge"] })).toBe(
      "mcp:\n  allow:\n    - new\n    # between items\n    - pay.charge # second item\n  elicit: true\n",
    );
    const limits = "rateLimits:\n  # the stripe limit, agreed with finance\n  stripe: 60\nsandboxApis: true\n";
    expect(editYaml(limits, { path: ["rateLimits", "stripe"], remove: true })).toBe("  # the stripe limit, agreed with finance\nsandboxApis: true\n");
  });

  it("refuses text that is not YAML, naming line and column", () => {
    expect(() => editYaml("limits: [\n", { path: ["sandboxApis"], value: true })).toThrow(/^2:1: /);
  });
});

describe("writeFileAtomic", () => {
  it("replaces the file through a temporary one, keeps its mode, and follows a symbolic link", () => {
    const dir = tempDir();
    const real = path.join(dir, "real.yaml");
    writeFileSync(real, "old\n", { mode: 0o640 });
    chmodSync(real, 0o640);
    symlinkSync(real, path.join(dir, "config.yaml"));
    writeFileAtomic(path.join(dir, "config.yaml"), "new\n");
    expect(readFileSync(real, "utf8")).toBe("new\n");
    expect(statSync(real).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir).sort()).toEqual(["config.yaml", "real.yaml"]);
  });

  it("on error leaves the original as it was and no temporary file behind", () => {
    const dir = tempDir();
    // The rename cannot replace a directory that holds something.
    const target = path.join(dir, "config.yaml");
    mkdirSync(target);
    writeFileSync(path.join(target, "inside"), "x");
    expect(() => writeFileAtomic(target, "new\n")).toThrow();
    expect(readdirSync(dir)).toEqual(["config.yaml"]);
    expect(readdirSync(target)).toEqual(["inside"]);
  });
});

/** A home holding the example config.yaml. */
function exampleHome(text = EXAMPLE): string {
  const home = tempDir("toolctl-config-");
  writeFileSync(path.join(home, "config.yaml"), text);
  return home;
}

function configText(home: string): string {
  return readFileSync(path.join(home, "config.yaml"), "utf8");
}

describe("toolctl config set|unset|get", () => {
  it("set writes the value in place (comments kept), get and `config` read it back, unset removes it", async () => {
    const home = exampleHome();
    const set = await runCli(["config", "set", "limits.dailyUsd", "50"], { home });
    expect(set.code).toBe(0);
    expect(set.stdout).toBe(`set limits.dailyUsd = 50 in ${path.join(home, "config.yaml")}\n`);
    expect(configText(home)).toBe(replaceLine(EXAMPLE, "  dailyUsd: 500              #", "  dailyUsd: 50               #"));

    const get = await runCli(["config", "get", "limits.dailyUsd"], { home });
    expect(get).toMatchObject({ code: 0, stdout: "50\n", stderr: "" });
    const all = await runJson(["config"], { home });
    expect(all.json.settings.find((s: { key: string }) => s.key === "limits.dailyUsd")).toMatchObject({ value: 50, source: "config.yaml" });

    const unset = await runJson(["config", "unset", "limits.dailyUsd"], { home });
    expect(unset.code).toBe(0);
    expect(unset.json).toMatchObject({ key: "limits.dailyUsd", changed: true, value: 500, source: "default", file: path.join(home, "config.yaml") });
    expect(configText(home)).toBe(replaceLine(EXAMPLE, "  dailyUsd: 500              # refused once today's spend would pass this\n", ""));
    // Again: nothing to remove, nothing written.
    const again = await runJson(["config", "unset", "limits.dailyUsd"], { home });
    expect(again.json).toMatchObject({ changed: false, value: 500 });
  });

  it("`config` lists mcp.allow and rateLimits with the settings, with their source, in text and JSON", async () => {
    const home = tempDir("toolctl-config-listed-");
    const listed = async () =>
      ((await runJson(["config"], { home })).json.settings as Array<{ key: string }>).filter((s) => ["mcp.allow", "rateLimits"].includes(s.key));
    expect(await listed()).toMatchObject([
      { key: "mcp.allow", value: [], source: "default" },
      { key: "rateLimits", value: {}, source: "default" },
    ]);
    // A config.yaml that sets neither leaves both at their defaults, and says so.
    expect((await runCli(["config", "set", "limits.dailyUsd", "300"], { home })).code).toBe(0);
    expect(await listed()).toMatchObject([
      { key: "mcp.allow", value: [], source: "default" },
      { key: "rateLimits", value: {}, source: "default" },
    ]);
    expect((await runCli(["config", "set", "mcp.allow", "stripe,pay.charge"], { home })).code).toBe(0);
    expect((await runCli(["config", "set", "rateLimits.stripe", "60"], { home })).code).toBe(0);
    expect(await listed()).toMatchObject([
      { key: "mcp.allow", value: ["stripe", "pay.charge"], source: "config.yaml" },
      { key: "rateLimits", value: { stripe: 60 }, source: "config.yaml" },
    ]);
    const text = (await runCli(["config"], { home })).stdout;
    expect(text).toMatch(/^mcp\.allow +stripe,pay\.charge +config\.yaml /m);
    expect(text).toMatch(/^rateLimits +stripe: 60 +config\.yaml /m);
  });

  it("lists and maps: mcp.allow from a comma-separated list, rateLimits.TOOL per tool", async () => {
    const home = exampleHome();
    const allow = await runJson(["config", "set", "mcp.allow", "stripe,pay.charge"], { home });
    expect(allow.json).toMatchObject({
      key: "mcp.allow",
      value: ["stripe", "pay.charge"],
      written: ["stripe", "pay.charge"],
      source: "config.yaml",
      changed: true,
    });
    const rate = await runJson(["config", "set", "rateLimits.github", "30"], { home });
    expect(rate.json).toMatchObject({ key: "rateLimits.github", value: 30, changed: true });
    expect(configText(home)).toBe(
      EXAMPLE.replace("  allow: []                  #", "  allow: [stripe, pay.charge] #").replace("  stripe: 60\n", "  stripe: 60\n  github: 30\n"),
    );
    expect((await runCli(["config", "get", "mcp.allow"], { home })).stdout).toBe("stripe,pay.charge\n");
    expect((await runCli(["config", "get", "rateLimits"], { home })).stdout).toBe("stripe: 60\ngithub: 30\n");
    const map = await runJson(["config", "get", "rateLimits"], { home });
    expect(map.json).toEqual({ key: "rateLimits", value: { stripe: 60, github: 30 }, sources: { stripe: "config.yaml", github: "config.yaml" } });
    // A tool without a limit: nothing on stdout, why on stderr, null in JSON.
    const none = await runCli(["config", "get", "rateLimits.vercel"], { home });
    expect(none).toMatchObject({ code: 0, stdout: "" });
    expect(none.stderr).toMatch(/rateLimits\.vercel is not set/);
    expect((await runJson(["config", "get", "rateLimits.vercel"], { home })).json).toMatchObject({ value: null, source: "default" });

    await runCli(["config", "unset", "rateLimits.stripe"], { home });
    await runCli(["config", "set", "mcp.allow", ""], { home });
    const after = await runJson(["config"], { home });
    expect(after.code).toBe(0);
    // The comment had to move one column right for the longer list; it stays in that column.
    expect(configText(home)).toContain("  allow: []                   # create");
    expect(configText(home)).toContain("rateLimits:                  # requests per minute per tool\n  github: 30\n");
  });

  it("get prints the effective value with its source; the environment wins and set says so", async () => {
    const home = exampleHome();
    const env = { TOOLCTL_LIMITS_DAILY_USD: "75" };
    const get = await runJson(["config", "get", "limits.dailyUsd"], { home, env });
    expect(get.json).toEqual({ key: "limits.dailyUsd", value: 75, source: "env TOOLCTL_LIMITS_DAILY_USD", env: "TOOLCTL_LIMITS_DAILY_USD" });
    const set = await runCli(["config", "set", "limits.dailyUsd", "60"], { home, env });
    expect(set.code).toBe(0);
    expect(set.stderr).toBe("warning: TOOLCTL_LIMITS_DAILY_USD is set in the environment and overrides config.yaml for limits.dailyUsd\n");
    expect(configText(home)).toContain("  dailyUsd: 60 ");
    const group = await runJson(["config", "get", "approvals"], { home });
    expect(group.json).toEqual({
      key: "approvals",
      value: { paidActions: true, twoFactorAboveUsd: 100, timeoutSeconds: 300 },
      sources: { paidActions: "config.yaml", twoFactorAboveUsd: "default", timeoutSeconds: "config.yaml" },
    });
  });

  it("in a project, set and unset report what get does, and say when toolctl.yaml overrides the file", async () => {
    const user = tempDir("toolctl-user-");
    const root = tempDir("toolctl-project-");
    writeFileSync(path.join(root, "toolctl.yaml"), "limits: {dailyUsd: 10}\n");
    const at = { cwd: root, env: { HOME: user } };
    const file = path.join(user, ".toolctl", "config.yaml");
    const project = path.join(root, "toolctl.yaml");

    const set = await runJson(["config", "set", "limits.dailyUsd", "100"], at);
    expect(set.code, set.stderr).toBe(0);
    const get = await runJson(["config", "get", "limits.dailyUsd"], at);
    expect(get.json).toMatchObject({ value: 10, source: "toolctl.yaml" });
    expect(set.json).toMatchObject({
      key: "limits.dailyUsd",
      value: 10,
      source: "toolctl.yaml",
      written: 100,
      overriddenBy: "toolctl.yaml",
      file,
      changed: true,
    });
    expect(readFileSync(file, "utf8")).toBe("limits:\n  dailyUsd: 100\n");
    const human = await runCli(["config", "set", "limits.dailyUsd", "200"], at);
    expect(human.code).toBe(0);
    expect(human.stderr).toBe(`warning: ${project} overrides config.yaml for limits.dailyUsd in this project: 10 applies\n`);
    expect(human.stdout).toBe(`set limits.dailyUsd = 200 in ${file} (in effect: 10, toolctl.yaml)\n`);

    // Lower than the project's: the file's value is in effect, nothing to warn about.
    const lower = await runJson(["config", "set", "limits.dailyUsd", "5"], at);
    expect(lower.json).toMatchObject({ value: 5, source: "config.yaml" });
    expect(lower.json.overriddenBy).toBeUndefined();
    expect(lower.stderr).toBe("");

    const unset = await runCli(["config", "unset", "limits.dailyUsd"], at);
    expect(unset.code).toBe(0);
    expect(unset.stdout).toBe(`unset limits.dailyUsd in ${file} (in effect: 10, toolctl.yaml)\n`);
    const unsetJson = await runJson(["config", "unset", "limits.perActionUsd"], at);
    expect(unsetJson.json).toMatchObject({ key: "limits.perActionUsd", value: 200, source: "default", changed: false });
    // The environment still wins over both.
    const env = await runJson(["config", "set", "limits.dailyUsd", "100"], { ...at, env: { ...at.env, TOOLCTL_LIMITS_DAILY_USD: "7" } });
    expect(env.json).toMatchObject({ value: 7, source: "env TOOLCTL_LIMITS_DAILY_USD", overriddenBy: "TOOLCTL_LIMITS_DAILY_USD" });
  });

  it("in a project with a bad toolctl.yaml, set is refused before anything is written", async () => {
    const user = tempDir("toolctl-user-");
    const root = tempDir("toolctl-project-");
    writeFileSync(path.join(root, "toolctl.yaml"), "limits: {daily: 10}\n");
    const set = await runJson(["config", "set", "limits.dailyUsd", "100"], { cwd: root, env: { HOME: user } });
    expect(set.code).toBe(2);
    expect(set.json.error.code).toBe("project_invalid");
    expect(readdirSync(user)).not.toContain(".toolctl");
  });

  it("concurrent sets each keep their change: the edit is made under a lock beside config.yaml", async () => {
    const home = exampleHome();
    const tools = Array.from({ length: 8 }, (_, i) => `tool${i + 1}`);
    const results = await Promise.all(tools.map((tool, i) => runCli(["config", "set", `rateLimits.${tool}`, String(i + 1)], { home })));
    for (const result of results) expect(result, result.stderr).toMatchObject({ code: 0, stderr: "" });
    const map = await runJson(["config", "get", "rateLimits"], { home });
    expect(map.json.value).toEqual({ stripe: 60, ...Object.fromEntries(tools.map((tool, i) => [tool, i + 1])) });
    // Every other line as it was.
    expect(configText(home).replace(/^  tool\d: \d\n/gm, "")).toBe(EXAMPLE);
    expect(readdirSync(home).filter((name) => name.includes("lock"))).toEqual([]);
  });

  it("a lock left by a process that is gone is taken over; one held by a live process is waited for, then exit 6", async () => {
    const home = exampleHome();
    const lock = path.join(home, ".config.yaml.lock");
    const gone = spawnSync(process.execPath, ["-e", ""]).pid;
    writeFileSync(lock, JSON.stringify({ pid: gone, start: null }));
    const taken = await runCli(["config", "set", "limits.dailyUsd", "50"], { home });
    expect(taken).toMatchObject({ code: 0, stderr: "" });
    expect(existsSync(lock)).toBe(false);

    // Held by this test's process, which is running: waited for, then refused with nothing written.
    writeFileSync(lock, JSON.stringify({ pid: process.pid, start: null }));
    const before = configText(home);
    const started = Date.now();
    const busy = await runJson(["config", "set", "limits.dailyUsd", "60"], { home });
    expect(Date.now() - started).toBeGreaterThan(4_000);
    expect(busy.code).toBe(6);
    expect(busy.json.error).toMatchObject({
      code: "environment_unavailable",
      message: `${path.join(home, "config.yaml")} is being changed by another toolctl (process ${process.pid}); try again, or remove ${lock} if none is running. It is unchanged`,
    });
    expect(configText(home)).toBe(before);
    expect(existsSync(lock)).toBe(true);

    // Released while waiting: the change goes through.
    setTimeout(() => rmSync(lock), 500);
    const waited = await runCli(["config", "set", "limits.dailyUsd", "70"], { home });
    expect(waited).toMatchObject({ code: 0, stderr: "" });
    expect(configText(home)).toContain("  dailyUsd: 70 ");
  });

  it("flow mappings and block lists are edited in place: only the edited entry's text changes", async () => {
    const odd =
      "approvals:   # section comment\n  timeoutSeconds:    300   # odd spacing\nlimits: {perActionUsd: 200, dailyUsd: 500}\nrateLimits:\n    stripe: 60\n";
    const home = exampleHome(odd);
    expect((await runCli(["config", "unset", "limits.dailyUsd"], { home })).code).toBe(0);
    expect(configText(home)).toBe(odd.replace(", dailyUsd: 500}", "}"));
    expect((await runCli(["config", "set", "limits.dailyUsd", "9"], { home })).code).toBe(0);
    expect(configText(home)).toBe(odd.replace("dailyUsd: 500", "dailyUsd: 9"));

    const list = "mcp:\n  allow:\n    - stripe     # first item\n    # between items\n    - pay.charge # second item\n";
    const listHome = exampleHome(list);
    expect((await runCli(["config", "set", "mcp.allow", "stripe,pay.refund"], { home: listHome })).code).toBe(0);
    expect(configText(listHome)).toBe("mcp:\n  allow:\n    - stripe     # first item\n    # between items\n    - pay.refund\n");
  });

  it("what set and unset print is on one line: a group with its source, the empty list as []", async () => {
    const home = exampleHome();
    const unset = await runCli(["config", "unset", "limits"], { home });
    expect(unset.stdout).toBe(`unset limits in ${path.join(home, "config.yaml")} (in effect: perActionUsd: 200, dailyUsd: 500, default)\n`);
    const empty = await runCli(["config", "set", "mcp.allow", ""], { home });
    expect(empty.stdout).toBe(`mcp.allow is already [] in ${path.join(home, "config.yaml")}; nothing changed\n`);
    await runCli(["config", "set", "mcp.allow", "stripe"], { home });
    expect((await runCli(["config", "set", "mcp.allow", ""], { home })).stdout).toBe(`set mcp.allow = [] in ${path.join(home, "config.yaml")}\n`);
  });

  it("creates config.yaml (and the home) when there is none", async () => {
    const home = path.join(tempDir(), "new-home");
    const set = await runCli(["config", "set", "process.confinement", "optional"], { home });
    expect(set.code).toBe(0);
    expect(configText(home)).toBe("process:\n  confinement: optional\n");
    expect(statSync(path.join(home, "config.yaml")).mode & 0o777).toBe(0o600);
  });

  // Each: the command line, the one error line, and the exit code. Nothing is written.
  const bad: Array<[string[], string]> = [
    [["set", "limits.daily", "5"], "unknown setting 'limits.daily' (did you mean 'limits.dailyUsd'?); every setting: toolctl config"],
    [["set", "dailyUsd", "5"], "unknown setting 'dailyUsd' (did you mean 'limits.dailyUsd'?); every setting: toolctl config"],
    [["get", "aprovals.timeoutSeconds"], "unknown setting 'aprovals.timeoutSeconds' (did you mean 'approvals.timeoutSeconds'?); every setting: toolctl config"],
    [["unset", "nothing.like.it"], "unknown setting 'nothing.like.it'; every setting: toolctl config"],
    [["set", "limits.dailyUsd", "abc"], 'limits.dailyUsd: expected an amount in USD, 0 or more, got "abc"'],
    [["set", "limits.dailyUsd", ""], 'limits.dailyUsd: expected an amount in USD, 0 or more, got ""'],
    // Plain decimal digits only: Number() would read these as 16, 1000 and 5.
    [["set", "limits.dailyUsd", "0x10"], 'limits.dailyUsd: expected an amount in USD, 0 or more, got "0x10"'],
    [["set", "limits.dailyUsd", "1e3"], 'limits.dailyUsd: expected an amount in USD, 0 or more, got "1e3"'],
    [["set", "limits.dailyUsd", " 5"], 'limits.dailyUsd: expected an amount in USD, 0 or more, got " 5"'],
    [["set", "approvals.timeoutSeconds", "1e2"], 'approvals.timeoutSeconds: expected a whole number of seconds, from 1 to 86400, got "1e2"'],
    [["set", "rateLimits.stripe", "0x3c"], 'rateLimits.stripe: expected a whole number of requests per minute, 1 or more, got "0x3c"'],
    [["set", "approvals.timeoutSeconds", "0"], 'approvals.timeoutSeconds: expected a whole number of seconds, from 1 to 86400, got "0"'],
    [["set", "approvals.timeoutSeconds", "1.5"], 'approvals.timeoutSeconds: expected a whole number of seconds, from 1 to 86400, got "1.5"'],
    [["set", "sandboxApis", "maybe"], 'sandboxApis: expected true or false, got "maybe"'],
    [["set", "process.confinement", "autto"], `process.confinement: unknown value "autto" (did you mean 'auto'?); one of: auto, required, optional, off`],
    [["set", "mcp.allow", "stripe,Bad Name"], 'mcp.allow: expected a comma-separated list of TOOL or TOOL.ACTION, got "Bad Name"'],
    [["set", "rateLimits.Stripe", "5"], 'rateLimits.Stripe: expected a tool name (a lower-case letter, then lower-case letters, digits, - or _), got "Stripe"'],
    [["set", "rateLimits.stripe", "0"], 'rateLimits.stripe: expected a whole number of requests per minute, 1 or more, got "0"'],
    [["set", "rateLimits.stripe", "ten"], 'rateLimits.stripe: expected a whole number of requests per minute, 1 or more, got "ten"'],
    [["set", "rateLimits", "60"], "rateLimits holds one limit per tool: toolctl config set rateLimits.TOOL N (requests per minute)"],
    [["set", "limits", "5"], "limits is a group of settings: set one of limits.perActionUsd, limits.dailyUsd"],
  ];

  it.each(bad)("config %j: exit 2, one line, nothing written", async (args, message) => {
    const home = exampleHome();
    const human = await runCli(["config", ...args], { home });
    expect(human.code).toBe(2);
    expect(human.stderr).toBe(`error: ${message}\n`);
    expect(human.stdout).toBe("");
    const json = await runJson(["config", ...args], { home });
    expect(json.code).toBe(2);
    expect(json.json.error).toMatchObject({ exitCode: 2, message });
    expect(configText(home)).toBe(EXAMPLE);
    expect(readdirSync(home)).not.toContainEqual(expect.stringMatching(/\.tmp$/));
  });

  it("a typo of a subcommand is exit 2 with the closest one", async () => {
    const home = exampleHome();
    const typo = await runCli(["config", "sett", "limits.dailyUsd", "5"], { home });
    expect(typo).toMatchObject({ code: 2, stdout: "", stderr: "error: unknown config command 'sett' (did you mean 'set'?); one of: get, set, unset\n" });
    const json = await runJson(["config", "gte", "limits.dailyUsd"], { home });
    expect(json.json.error).toMatchObject({ exitCode: 2, message: "unknown config command 'gte' (did you mean 'get'?); one of: get, set, unset" });
    expect(configText(home)).toBe(EXAMPLE);
  });

  it.each([
    ["set", "mcp.allow", "stripe", "pay.charge"],
    ["unset", "limits.dailyUsd", "limits.perActionUsd"],
    ["get", "limits.dailyUsd", "extra"],
  ])("extra arguments are refused (exit 2), nothing written: config %s", async (...args) => {
    const home = exampleHome();
    const human = await runCli(["config", ...args], { home });
    expect(human.code).toBe(2);
    expect(human.stdout).toBe("");
    expect(human.stderr).toMatch(/^error: too many arguments for '(get|set|unset)'/);
    const json = await runJson(["config", ...args], { home });
    expect(json.json.error).toMatchObject({ exitCode: 2, message: expect.stringMatching(/^too many arguments for/) });
    expect(configText(home)).toBe(EXAMPLE);
  });

  it("missing arguments are usage errors (exit 2)", async () => {
    const home = exampleHome();
    expect((await runCli(["config", "set", "limits.dailyUsd"], { home })).code).toBe(2);
    expect((await runJson(["config", "get"], { home })).json.error).toMatchObject({ exitCode: 2, message: "missing required argument 'key'" });
  });

  it("a config.yaml with a syntax error or a bad key is named, and left as it is; unset mends an unknown key", async () => {
    const broken = exampleHome("limits:\n  dailyUsd: [5\n");
    const syntax = await runJson(["config", "set", "limits.dailyUsd", "5"], { home: broken });
    expect(syntax.code).toBe(2);
    expect(syntax.json.error.message).toMatch(new RegExp(`^${path.join(broken, "config.yaml").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+: `));
    expect(configText(broken)).toBe("limits:\n  dailyUsd: [5\n");

    const typo = exampleHome("limits:\n  daily: 5   # a typo\n  perActionUsd: 9\n");
    const refused = await runCli(["config", "set", "limits.perActionUsd", "10"], { home: typo });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(
      `error: ${path.join(typo, "config.yaml")}: limits.daily: unknown field 'daily'; fix that first (toolctl config unset KEY, or edit the file)\n`,
    );
    expect(configText(typo)).toBe("limits:\n  daily: 5   # a typo\n  perActionUsd: 9\n");
    const mended = await runCli(["config", "unset", "limits.daily"], { home: typo });
    expect(mended.code).toBe(0);
    expect(configText(typo)).toBe("limits:\n  perActionUsd: 9\n");
    expect((await runCli(["config", "get", "limits.perActionUsd"], { home: typo })).stdout).toBe("9\n");
  });

  it.each([
    ["limits: 5\n", ["set", "limits.dailyUsd", "3"], "limits: expected object, received number"],
    ["limits: 5\n", ["unset", "limits.dailyUsd"], "limits: expected object, received number"],
    ["limits: [1, 2]\n", ["set", "limits.dailyUsd", "3"], "limits: expected object, received array"],
    ["limits:\n", ["set", "limits.dailyUsd", "3"], "limits: expected object, received null"],
    ["- a\n- b\n", ["set", "limits.dailyUsd", "3"], "(root): expected object, received array"],
    ["just words\n", ["set", "rateLimits.stripe", "3"], "(root): expected object, received string"],
  ])("a config.yaml of the wrong shape (%j), config %j: exit 2, one line naming the file, left as it is", async (text, args, problem) => {
    const home = exampleHome(text);
    const file = path.join(home, "config.yaml");
    const human = await runCli(["config", ...args], { home });
    expect(human).toMatchObject({ code: 2, stdout: "" });
    expect(human.stderr).toBe(
      `error: ${file}: ${problem}; fix that first (${problem.startsWith("(root)") ? "" : "toolctl config unset KEY, or "}edit the file)\n`,
    );
    const json = await runJson(["config", ...args], { home });
    expect(json.json.error).toMatchObject({
      code: "config_invalid",
      exitCode: 2,
      message: `${file}: ${problem}; fix that first (${problem.startsWith("(root)") ? "" : "toolctl config unset KEY, or "}edit the file)`,
    });
    expect(configText(home)).toBe(text);
    expect(readdirSync(home).filter((name) => name !== ".config-cache.json")).toEqual(["config.yaml"]);
  });

  it("unset mends a config.yaml with several unknown keys one at a time, whichever comes first; set still waits for all", async () => {
    const text = "limits:\n  daily: 5\n  dailyUsd: 7\nfoo: bar   # a stray key\n";
    const home = exampleHome(text);
    expect((await runCli(["config", "set", "limits.dailyUsd", "8"], { home })).code).toBe(2);
    expect(configText(home)).toBe(text);
    const first = await runCli(["config", "unset", "foo"], { home });
    expect(first.code, first.stderr).toBe(0);
    expect(configText(home)).toBe("limits:\n  daily: 5\n  dailyUsd: 7\n");
    const second = await runCli(["config", "unset", "limits.daily"], { home });
    expect(second.code, second.stderr).toBe(0);
    expect(configText(home)).toBe("limits:\n  dailyUsd: 7\n");
    expect((await runCli(["config", "set", "limits.dailyUsd", "8"], { home })).code).toBe(0);
  });

  it("unset of the group of the wrong shape mends the file", async () => {
    const home = exampleHome("limits: 5\nsandboxApis: true\n");
    expect((await runCli(["config", "unset", "limits"], { home })).code).toBe(0);
    expect(configText(home)).toBe("sandboxApis: true\n");
  });

  it.runIf(process.getuid?.() === 0)("a home it cannot write: exit 6, config.yaml unchanged, nothing left behind", async () => {
    const home = exampleHome();
    chmodSync(home, 0o755);
    chmodSync(path.join(home, "config.yaml"), 0o644);
    const result = await runJson(["config", "set", "limits.dailyUsd", "5"], { home, uid: 65534, gid: 65534 });
    expect(result.code).toBe(6);
    expect(result.json.error.message).toBe(`cannot write ${path.join(home, "config.yaml")}: EACCES; it is unchanged`);
    expect(configText(home)).toBe(EXAMPLE);
    expect(readdirSync(home)).toEqual(["config.yaml"]);
  });
});
