/**
 * Project registries through the built binary: `toolctl init`, the nearest toolctl.yaml found from a nested
 * directory, `toolctl sync` (added, updated, unchanged, --prune), the order --home, TOOLCTL_HOME, project,
 * default, a bad toolctl.yaml, the project's limits over the user's, and `toolctl config` saying which home and why.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { examplesDir, repoRoot, runCli, runJson, tempDir, writeFiles, type CliOptions } from "./helpers.js";

const echo = readFileSync(path.join(examplesDir, "echo.yaml"), "utf8");
const calculator = readFileSync(path.join(examplesDir, "calculator.yaml"), "utf8");

/** A project directory and a user home of its own (HOME), so ~/.toolctl is this test's. */
function newProject(files: Record<string, string> = {}): { root: string; user: string; at: (dir?: string) => CliOptions } {
  const user = tempDir("toolctl-user-");
  const root = writeFiles(files, tempDir("toolctl-project-"));
  return { root, user, at: (dir = "") => ({ cwd: path.join(root, dir), env: { HOME: user } }) };
}

const TOOLS_YAML = "version: 1\nmanifests:\n  - tools/\n";

describe("toolctl init", () => {
  it("writes a commented toolctl.yaml that validates, and ignores .toolctl/ in .gitignore", async () => {
    const { root, at } = newProject({ ".gitignore": "node_modules/" });
    const init = await runCli(["init"], at());
    expect(init.code, init.stderr).toBe(0);
    const text = readFileSync(path.join(root, "toolctl.yaml"), "utf8");
    expect(text).toMatch(/^# toolctl project/);
    expect(text).toContain("# limits:");
    expect(readFileSync(path.join(root, ".gitignore"), "utf8")).toBe("node_modules/\n# toolctl's project registry and keys\n.toolctl/\n");
    expect(init.stdout).toContain("added .toolctl/ to .gitignore");
    // What to do next is a note: on stderr, and gone with --quiet; stdout says what was written.
    expect(init.stdout).not.toContain("toolctl sync");
    expect(init.stderr).toContain("then run: toolctl sync");
    const quiet = await runCli(["init", "--force", "-q"], at());
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe("");
    expect(quiet.stdout).toMatch(/^wrote \S+toolctl\.yaml\n/);
    // The file as written is valid: a command run in the project reads it.
    const config = await runJson(["config"], at());
    expect(config.code, config.stderr).toBe(0);
    expect(config.json.home.source).toBe("project");

    // Never replaced without --force; with it, replaced, and .gitignore not changed twice.
    writeFileSync(path.join(root, "toolctl.yaml"), TOOLS_YAML);
    const again = await runJson(["init"], at());
    expect(again.code).toBe(2);
    expect(again.json.error.message).toBe(`${path.join(root, "toolctl.yaml")} already exists; --force replaces it`);
    expect(readFileSync(path.join(root, "toolctl.yaml"), "utf8")).toBe(TOOLS_YAML);
    const forced = await runJson(["init", "--force"], at());
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.json.gitignore).toBe("present");
    expect(readFileSync(path.join(root, "toolctl.yaml"), "utf8")).toBe(text);
    expect(readFileSync(path.join(root, ".gitignore"), "utf8").match(/\.toolctl\//g)).toHaveLength(1);
  });

  it("a .gitignore it cannot write or read: one line, exit 6, and nothing written, so init can simply run again", async () => {
    const { root, user, at } = newProject({ ".gitignore": "node_modules/\n" });
    const file = path.join(root, "toolctl.yaml");
    const gitignore = path.join(root, ".gitignore");
    // Root writes any file: the permission case is run as nobody, in a directory nobody may write.
    const as = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    chmodSync(root, 0o777);
    chmodSync(user, 0o777);
    chmodSync(gitignore, 0o444);
    const text = await runCli(["init"], { ...at(), ...as });
    expect(text.code).toBe(6);
    expect(text.stderr.trim().split("\n")).toEqual([`error: cannot write ${gitignore}: EACCES; nothing was written`]);
    expect(existsSync(file)).toBe(false);
    const json = await runJson(["init"], { ...at(), ...as });
    expect(json.json.error).toMatchObject({ code: "environment_unavailable", exitCode: 6 });

    // --force over an existing toolctl.yaml leaves it as it was.
    writeFileSync(file, TOOLS_YAML, { mode: 0o666 });
    chmodSync(file, 0o666);
    const forced = await runCli(["init", "--force"], { ...at(), ...as });
    expect(forced.code).toBe(6);
    expect(readFileSync(file, "utf8")).toBe(TOOLS_YAML);
    rmSync(file);

    chmodSync(gitignore, 0o000);
    const unreadable = await runCli(["init"], { ...at(), ...as });
    expect(unreadable.code).toBe(6);
    expect(unreadable.stderr.trim().split("\n")).toEqual([`error: cannot read ${gitignore}: EACCES; nothing was written`]);
    expect(existsSync(file)).toBe(false);

    chmodSync(gitignore, 0o666);
    const init = await runCli(["init"], { ...at(), ...as });
    expect(init.code, init.stderr).toBe(0);
    expect(readFileSync(gitignore, "utf8")).toBe("node_modules/\n# toolctl's project registry and keys\n.toolctl/\n");
  });

  it("inside another project: says which one it was, and that commands here now use the new one", async () => {
    const { root, at } = newProject({ "toolctl.yaml": TOOLS_YAML, "sub/.keep": "" });
    const init = await runJson(["init"], at("sub"));
    expect(init.code, init.stderr).toBe(0);
    expect(init.json.enclosing).toBe(path.join(root, "toolctl.yaml"));
    const text = await runCli(["init", "--force"], at("sub"));
    expect(text.code, text.stderr).toBe(0);
    expect(text.stderr).toContain(
      `${path.join(root, "sub")} is inside the project of ${path.join(root, "toolctl.yaml")}: commands run here or below now use this project instead`,
    );
    expect((await runJson(["config"], at("sub"))).json.home.path).toBe(path.join(root, "sub", ".toolctl"));
  });

  it("says so when there is no .gitignore, and creates none", async () => {
    const { root, at } = newProject();
    const init = await runCli(["init"], at());
    expect(init.code, init.stderr).toBe(0);
    expect(init.stderr).toContain(`no .gitignore in ${root}: keep .toolctl/ out of version control`);
    expect(existsSync(path.join(root, ".gitignore"))).toBe(false);
  });
  it("never writes through a toolctl.yaml that is a symbolic link, forced or not, dangling or not: exit 2, one line", async () => {
    const { root, user, at } = newProject();
    const file = path.join(root, "toolctl.yaml");
    const target = path.join(user, ".bashrc");
    writeFileSync(target, "export PS1='$ '\n");
    symlinkSync(target, file);
    for (const args of [["init"], ["init", "--force"]]) {
      const result = await runCli(args, at());
      expect(result.code).toBe(2);
      expect(result.stderr.trim().split("\n")).toEqual([
        `error: ${file} is a symbolic link: toolctl init never writes through one (it could point at any file); remove it, then run toolctl init`,
      ]);
      expect(readFileSync(target, "utf8")).toBe("export PS1='$ '\n");
      expect(lstatSync(file).isSymbolicLink()).toBe(true);
    }
    // A dangling link: the file it names is not created.
    rmSync(file);
    const dangling = path.join(user, "made-by-init");
    symlinkSync(dangling, file);
    const json = await runJson(["init", "--force"], at());
    expect(json.json.error).toMatchObject({ code: "usage", exitCode: 2 });
    expect(existsSync(dangling)).toBe(false);
    // No temporary file left behind either.
    expect(readdirSync(root).sort()).toEqual(["toolctl.yaml"]);
  });

  it("--force replaces toolctl.yaml by renaming a new file over it, keeping its mode", async () => {
    const { root, at } = newProject({ "toolctl.yaml": TOOLS_YAML });
    const file = path.join(root, "toolctl.yaml");
    chmodSync(file, 0o640);
    const forced = await runCli(["init", "--force"], at());
    expect(forced.code, forced.stderr).toBe(0);
    expect(readFileSync(file, "utf8")).toMatch(/^# toolctl project/);
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(readdirSync(root)).toEqual(["toolctl.yaml"]);
  });

  it("never edits a .gitignore that is a symbolic link: warns to add .toolctl/ yourself, and writes toolctl.yaml", async () => {
    const { root, user, at } = newProject();
    const target = path.join(user, ".profile");
    writeFileSync(target, "PATH=$HOME/bin:$PATH\n");
    symlinkSync(target, path.join(root, ".gitignore"));
    const init = await runCli(["init"], at());
    expect(init.code, init.stderr).toBe(0);
    expect(init.stderr).toContain(
      `${path.join(root, ".gitignore")} is a symbolic link: toolctl init does not edit it; add .toolctl/ to your .gitignore yourself`,
    );
    expect(readFileSync(target, "utf8")).toBe("PATH=$HOME/bin:$PATH\n");
    expect(readFileSync(path.join(root, "toolctl.yaml"), "utf8")).toMatch(/^# toolctl project/);
    const json = await runJson(["init", "--force"], at());
    expect(json.code, json.stderr).toBe(0);
    expect(json.json.gitignore).toBe("symlink");
    expect(readFileSync(target, "utf8")).toBe("PATH=$HOME/bin:$PATH\n");
  });

  it("reads .gitignore as git does: a later !.toolctl/ un-ignores it, so .toolctl/ is added again", async () => {
    const cases: Array<[string, "added" | "present"]> = [
      ["node_modules/\n.toolctl/\n!.toolctl/\n", "added"],
      ["/.toolctl\n!/.toolctl/\n", "added"],
      [".toolctl/\n# comment\n!.toolctl/keys\n", "present"],
      ["!.toolctl/\n.toolctl/\n", "present"],
      [".*\n!.gitignore\n", "present"],
      ["**/.toolctl/\n", "present"],
      ["src/.toolctl/\n", "added"],
      ["\\!.toolctl/\n", "added"],
    ];
    for (const [gitignore, expected] of cases) {
      const { root, at } = newProject({ ".gitignore": gitignore });
      const init = await runJson(["init"], at());
      expect(init.code, init.stderr).toBe(0);
      expect([gitignore, init.json.gitignore]).toEqual([gitignore, expected]);
      const text = readFileSync(path.join(root, ".gitignore"), "utf8");
      expect(text).toBe(expected === "added" ? `${gitignore}# toolctl's project registry and keys\n.toolctl/\n` : gitignore);
    }
  });
});

describe("toolctl sync", () => {
  it("imports from a nested directory into the project's registry: added, then unchanged, then updated", async () => {
    const { root, user, at } = newProject({ "toolctl.yaml": TOOLS_YAML, "tools/echo.yaml": echo, "tools/calculator.yaml": calculator });
    mkdirSync(path.join(root, "src/deep"), { recursive: true });

    const first = await runJson(["sync"], at("src/deep"));
    expect(first.code, first.stderr).toBe(0);
    expect(first.json.home).toBe(path.join(root, ".toolctl"));
    expect(first.json.tools.map((t: { tool: string; change: string }) => [t.tool, t.change])).toEqual([
      ["calculator", "added"],
      ["echo", "added"],
    ]);
    expect(first.json.summary).toEqual({ added: 2, updated: 0, unchanged: 0, removed: 0 });
    expect(existsSync(path.join(root, ".toolctl", "registry.db"))).toBe(true);
    expect(existsSync(path.join(user, ".toolctl"))).toBe(false);

    const second = await runCli(["sync"], at("src"));
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/^unchanged {2}calculator {2}\[active\] {2}tools\/calculator\.yaml$/m);
    expect(second.stdout).toContain(`0 added, 0 updated, 2 unchanged in ${path.join(root, ".toolctl")}`);

    writeFileSync(
      path.join(root, "tools/echo.yaml"),
      echo.replace("description: Echoes its input back, for trying toolctl out", "description: Echoes, changed"),
    );
    const third = await runJson(["sync"], at());
    expect(third.json.tools.find((t: { tool: string }) => t.tool === "echo").change).toBe("updated");
    expect(third.json.summary).toEqual({ added: 0, updated: 1, unchanged: 1, removed: 0 });

    // Every command in the tree uses the project's registry.
    const list = await runJson(["list"], at("src/deep"));
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.stringify(list.json)).toContain("calculator");
  });

  it("a listed directory holding a nested project's toolctl.yaml imports its manifests and skips that file", async () => {
    const { at } = newProject({ "toolctl.yaml": TOOLS_YAML, "tools/echo.yaml": echo, "tools/toolctl.yaml": "version: 1\nmanifests: []\n" });
    const synced = await runJson(["sync"], at());
    expect(synced.code, synced.stderr).toBe(0);
    expect(synced.json.tools.map((t: { tool: string }) => t.tool)).toEqual(["echo"]);
    const imported = await runJson(["import", "tools/"], at());
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.json.failed).toEqual([]);
  });

  it("--prune removes only tools a sync imported that toolctl.yaml no longer lists, never one imported by hand", async () => {
    const { root, at } = newProject({
      "toolctl.yaml": "manifests:\n  - tools/echo.yaml\n  - tools/calculator.yaml\n",
      "tools/echo.yaml": echo,
      "tools/calculator.yaml": calculator,
      "elsewhere/weather.yaml": readFileSync(path.join(examplesDir, "weather.yaml"), "utf8"),
    });
    expect((await runCli(["sync"], at())).code).toBe(0);
    const byHand = await runCli(["import", "elsewhere/weather.yaml"], at());
    expect(byHand.code, byHand.stderr).toBe(0);

    writeFileSync(path.join(root, "toolctl.yaml"), "manifests:\n  - tools/echo.yaml\n");
    const without = await runJson(["sync"], at());
    expect(without.code, without.stderr).toBe(0);
    expect(without.json.unlisted).toEqual(["calculator"]);
    expect(without.json.removed).toEqual([]);
    const told = await runCli(["sync"], at());
    expect(told.stderr).toContain("no longer in toolctl.yaml: calculator; toolctl sync --prune removes them");
    const names = async () => ((await runJson(["list"], at())).json.items as Array<{ name: string }>).map((t) => t.name).sort();
    expect(await names()).toEqual(["calculator", "echo", "weather"]);

    const pruned = await runCli(["sync", "--prune"], at());
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stdout).toMatch(/^removed {2}calculator {2}no longer in toolctl\.yaml$/m);
    expect(await names()).toEqual(["echo", "weather"]);
    // Nothing more to prune; the hand-imported tool is never the sync's.
    const again = await runJson(["sync", "--prune"], at());
    expect(again.json.removed).toEqual([]);
    expect(await names()).toEqual(["echo", "weather"]);
  });

  it("--dry-run says what a sync would add, update and prune, and changes nothing: no tool, no record, no audit event", async () => {
    const { root, at } = newProject({
      "toolctl.yaml": "manifests:\n  - tools/echo.yaml\n  - tools/calculator.yaml\nspecs:\n  - openapi: petstore.yaml\n    name: pets\n",
      "tools/echo.yaml": echo,
      "tools/calculator.yaml": calculator,
      "petstore.yaml": readFileSync(path.join(repoRoot, "test", "fixtures", "openapi", "petstore.yaml"), "utf8"),
    });
    const home = path.join(root, ".toolctl");
    const names = async () => ((await runJson(["list"], at())).json.items as Array<{ name: string }>).map((t) => t.name).sort();
    const events = async () => ((await runJson(["audit"], at())).json.items as unknown[]).length;

    const first = await runCli(["sync", "--dry-run"], at("tools"));
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^would add {2}echo {2}\[active\] {2}tools\/echo\.yaml$/m);
    expect(first.stdout).toMatch(/^would add {2}pets {2}\[pending\] {2}petstore\.yaml$/m);
    expect(first.stdout).toContain(`dry run: 3 to add, 0 to update, 0 unchanged in ${home}; nothing was changed`);
    expect(first.stderr).not.toContain("toolctl tool approve");
    expect(await names()).toEqual([]);
    expect(await events()).toBe(0);
    expect(existsSync(path.join(home, "synced.json"))).toBe(false);

    expect((await runCli(["sync"], at())).code).toBe(0);
    const record = readFileSync(path.join(home, "synced.json"), "utf8");
    const audited = await events();
    writeFileSync(path.join(root, "tools", "echo.yaml"), echo.replace(/^description: .*$/m, "description: Echoes, changed"));
    writeFileSync(path.join(root, "toolctl.yaml"), "manifests:\n  - tools/echo.yaml\nspecs:\n  - openapi: petstore.yaml\n    name: pets\n");
    const second = await runJson(["sync", "-n", "--prune"], at());
    expect(second.code, second.stderr).toBe(0);
    expect(second.json).toMatchObject({
      dryRun: true,
      tools: [
        { tool: "echo", change: "updated", status: "active" },
        { tool: "pets", change: "unchanged", status: "pending" },
      ],
      removed: ["calculator"],
      unlisted: [],
      summary: { added: 0, updated: 1, unchanged: 1, removed: 1 },
    });
    const human = await runCli(["sync", "-n", "--prune"], at());
    expect(human.stdout).toMatch(/^would update {2}echo /m);
    expect(human.stdout).toMatch(/^would remove {2}calculator {2}no longer in toolctl\.yaml$/m);
    // Nothing changed: the tools, their definitions, what the syncs own and the audit log are as the sync left them.
    expect(await names()).toEqual(["calculator", "echo", "pets"]);
    expect((await runJson(["show", "echo"], at())).json.description).not.toBe("Echoes, changed");
    expect(readFileSync(path.join(home, "synced.json"), "utf8")).toBe(record);
    expect(await events()).toBe(audited);

    const real = await runJson(["sync", "--prune"], at());
    expect(real.json).toMatchObject({ removed: ["calculator"], summary: { added: 0, updated: 1, unchanged: 1, removed: 1 } });
    expect(real.json.dryRun).toBeUndefined();
  });

  it("a listed manifest that fails to import is not 'no longer in toolctl.yaml': its tool stays the sync's, and is pruned once unlisted", async () => {
    const { root, at } = newProject({ "toolctl.yaml": TOOLS_YAML, "tools/echo.yaml": echo, "tools/calculator.yaml": calculator });
    expect((await runCli(["sync"], at())).code).toBe(0);
    for (const broken of [`${calculator}bogus: 1\n`, "name: [calculator\n"]) {
      writeFileSync(path.join(root, "tools", "calculator.yaml"), broken);
      const human = await runCli(["sync"], at());
      expect(human.code).toBe(2);
      expect(human.stderr).not.toContain("no longer in toolctl.yaml");
      expect(human.stderr).toContain("calculator.yaml");
      const json = await runJson(["sync", "--prune"], at());
      expect(json.code).toBe(2);
      expect(json.json).toMatchObject({ unlisted: [], removed: [] });
      expect((await runCli(["sync", "--prune"], at())).stderr).not.toContain("not pruned");
    }
    rmSync(path.join(root, "tools", "calculator.yaml"));
    const pruned = await runJson(["sync", "--prune"], at());
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.json.removed).toEqual(["calculator"]);
  });

  it("a failed manifest is named by its tool when its YAML says one, and the tools no longer listed are still reported", async () => {
    const { root, at } = newProject({ "toolctl.yaml": TOOLS_YAML, "tools/echo.yaml": echo, "tools/calculator.yaml": calculator });
    expect((await runCli(["sync"], at())).code).toBe(0);
    rmSync(path.join(root, "tools", "echo.yaml"));
    writeFileSync(path.join(root, "tools", "calculator.yaml"), `${calculator}bogus: 1\n`);
    const synced = await runJson(["sync"], at());
    expect(synced.code).toBe(2);
    expect(synced.json.failed.map((f: { tool?: string }) => f.tool)).toEqual(["calculator"]);
    expect(synced.json.unlisted).toEqual(["echo"]);
    const imported = await runJson(["import", "tools/calculator.yaml"], at());
    expect(imported.json.failed).toMatchObject([{ tool: "calculator" }]);
  });

  it("a synced.json that cannot be read is exit 6 naming it, before anything is imported, and is left as it is", async () => {
    const { root, at } = newProject({ "toolctl.yaml": TOOLS_YAML, "tools/echo.yaml": echo, "tools/calculator.yaml": calculator });
    expect((await runCli(["sync"], at())).code).toBe(0);
    const record = path.join(root, ".toolctl", "synced.json");
    writeFileSync(record, "{bad");
    rmSync(path.join(root, "tools", "echo.yaml"));
    const events = async () => (await runJson(["audit"], at())).json.total as number;
    const before = await events();
    for (const args of [["sync"], ["sync", "--prune"], ["sync", "--dry-run"]]) {
      const refused = await runJson(args, at());
      expect(refused.code, args.join(" ")).toBe(6);
      expect(refused.json.error.message).toBe(
        `${record} is not valid JSON: it records which tools syncs imported, and without it every tool would count as imported by hand (never pruned); fix it, or remove it to start that record again; nothing was synced`,
      );
    }
    expect(readFileSync(record, "utf8")).toBe("{bad");
    expect(await events()).toBe(before);
    rmSync(record);
    const fresh = await runJson(["sync"], at());
    expect(fresh.code, fresh.stderr).toBe(0);
  });

  it("a tool imported by hand stays yours when a sync finds it unchanged or updates it; one a sync added is the sync's", async () => {
    const weather = readFileSync(path.join(examplesDir, "weather.yaml"), "utf8");
    const { root, at } = newProject({ "toolctl.yaml": "version: 1\nmanifests: []\n", "weather.yaml": weather, "echo.yaml": echo });
    const names = async () => ((await runJson(["list"], at())).json.items as Array<{ name: string }>).map((t) => t.name).sort();
    const sync = async (manifests: string, ...flags: string[]) => {
      writeFileSync(path.join(root, "toolctl.yaml"), `version: 1\nmanifests: [${manifests}]\n`);
      const result = await runJson(["sync", ...flags], at());
      expect(result.code, result.stderr).toBe(0);
      return result.json;
    };
    expect((await runCli(["import", "weather.yaml", "echo.yaml"], at())).code).toBe(0);

    // Unchanged: listed, never taken over.
    expect((await sync("weather.yaml")).tools.map((t: { change: string }) => t.change)).toEqual(["unchanged"]);
    // Updated by a sync: the content is the file's now, but the tool was yours first.
    writeFileSync(path.join(root, "echo.yaml"), echo.replace("description: Echoes its input back, for trying toolctl out", "description: Echoes, changed"));
    expect((await sync("weather.yaml, echo.yaml")).tools.map((t: { change: string }) => t.change)).toEqual(["unchanged", "updated"]);
    const pruned = await sync("", "--prune");
    expect(pruned.removed).toEqual([]);
    expect(pruned.unlisted).toEqual([]);
    expect(await names()).toEqual(["echo", "weather"]);

    // Added by a sync: the sync's, also while it is unchanged later, and pruned once unlisted.
    expect((await runCli(["tool", "remove", "echo"], at())).code).toBe(0);
    expect((await sync("echo.yaml")).tools.map((t: { change: string }) => t.change)).toEqual(["added"]);
    expect((await sync("echo.yaml, weather.yaml")).tools.map((t: { change: string }) => t.change)).toEqual(["unchanged", "unchanged"]);
    const again = await sync("", "--prune");
    expect(again.removed).toEqual(["echo"]);
    expect(await names()).toEqual(["weather"]);
  });

  it("two projects syncing into one home (--home, TOOLCTL_HOME) each prune only their own tools", async () => {
    const home = tempDir("toolctl-shared-home-");
    const a = newProject({ "toolctl.yaml": "manifests: [echo.yaml]\n", "echo.yaml": echo });
    const b = newProject({ "toolctl.yaml": "manifests: [calculator.yaml]\n", "calculator.yaml": calculator });
    const inA = { ...a.at(), env: { ...a.at().env, TOOLCTL_HOME: home } };
    const inB = { ...b.at(), env: { ...b.at().env, TOOLCTL_HOME: home } };
    const names = async () => ((await runJson(["list"], inA)).json.items as Array<{ name: string }>).map((t) => t.name).sort();
    expect((await runJson(["sync"], inA)).json.summary.added).toBe(1);
    expect((await runJson(["sync"], inB)).json.summary.added).toBe(1);

    // Each project's sync sees the other's tool as someone else's: not unlisted, never pruned.
    for (const at of [inA, inB, inA]) {
      const pruned = await runJson(["sync", "--prune"], at);
      expect(pruned.code, pruned.stderr).toBe(0);
      expect([pruned.json.removed, pruned.json.unlisted]).toEqual([[], []]);
    }
    expect(await names()).toEqual(["calculator", "echo"]);

    // A project still prunes what it dropped, and only that.
    writeFileSync(path.join(a.root, "toolctl.yaml"), "manifests: []\n");
    const dropped = await runJson(["sync", "--prune"], inA);
    expect(dropped.json.removed).toEqual(["echo"]);
    expect(await names()).toEqual(["calculator"]);
    expect((await runJson(["sync", "--prune"], inB)).json.removed).toEqual([]);
    expect(await names()).toEqual(["calculator"]);

    // A home synced before projects could share one names a single project's file and tools: still that project's.
    const state = path.join(home, "synced.json");
    const [bFile] = Object.keys(JSON.parse(readFileSync(state, "utf8")).projects as Record<string, string[]>);
    writeFileSync(state, JSON.stringify({ file: bFile, tools: ["calculator"] }));
    writeFileSync(path.join(b.root, "toolctl.yaml"), "manifests: []\n");
    expect((await runJson(["sync", "--prune"], inB)).json.removed).toEqual(["calculator"]);
    expect(await names()).toEqual([]);
  });

  it("a sync into a home another sync is changing waits for it, so neither project's record is lost", async () => {
    const home = tempDir("toolctl-shared-home-");
    const a = newProject({ "toolctl.yaml": "manifests: [echo.yaml]\n", "echo.yaml": echo });
    const b = newProject({ "toolctl.yaml": "manifests: [calculator.yaml]\n", "calculator.yaml": calculator });
    const inB = { ...b.at(), env: { ...b.at().env, TOOLCTL_HOME: home } };
    const state = path.join(home, "synced.json");
    const lock = path.join(home, ".synced.json.lock");
    // Held by this test's process, a running one, as project A's sync would hold it.
    writeFileSync(lock, JSON.stringify({ pid: process.pid, start: null }));
    const syncing = runJson(["sync"], inB);
    const early = await Promise.race([syncing.then(() => "finished"), new Promise((resolve) => setTimeout(() => resolve("waiting"), 2_500))]);
    expect(early, "B's sync went ahead while the lock was held").toBe("waiting");
    // A's sync records what it owns and lets go: B's then reads that record and adds its own to it.
    const aFile = path.join(a.root, "toolctl.yaml");
    writeFileSync(state, JSON.stringify({ projects: { [aFile]: ["echo"] } }));
    rmSync(lock);
    const synced = await syncing;
    expect(synced.code, synced.stderr).toBe(0);
    expect(synced.json.summary.added).toBe(1);
    expect(JSON.parse(readFileSync(state, "utf8"))).toEqual({ projects: { [aFile]: ["echo"], [path.join(b.root, "toolctl.yaml")]: ["calculator"] } });
    expect(existsSync(lock)).toBe(false);
  });

  it("a project moved with its .toolctl/ still owns what its syncs added, in the current and the earlier synced.json", async () => {
    for (const earlier of [false, true]) {
      const { root, user } = newProject({ "toolctl.yaml": "manifests: [echo.yaml]\n", "echo.yaml": echo });
      const atDir = (dir: string): CliOptions => ({ cwd: dir, env: { HOME: user } });
      expect((await runJson(["sync"], atDir(root))).json.summary.added).toBe(1);
      if (earlier) {
        // The form written before projects could share a home: the project's absolute file and its tools.
        writeFileSync(path.join(root, ".toolctl", "synced.json"), JSON.stringify({ file: path.join(root, "toolctl.yaml"), tools: ["echo"] }));
      }
      const moved = `${root}-moved`;
      renameSync(root, moved);
      writeFileSync(path.join(moved, "toolctl.yaml"), "manifests: []\n");
      const pruned = await runJson(["sync", "--prune"], atDir(moved));
      expect(pruned.code, pruned.stderr).toBe(0);
      expect(pruned.json.removed, earlier ? "earlier synced.json" : "current synced.json").toEqual(["echo"]);
      expect(JSON.parse(readFileSync(path.join(moved, ".toolctl", "synced.json"), "utf8"))).toEqual({ projects: {} });
    }
  });

  it("a tool name declared twice, by manifests or specs, is refused before anything is imported", async () => {
    const pet = readFileSync(path.join(repoRoot, "test/fixtures/openapi/petstore.yaml"), "utf8");
    const { root, at } = newProject({ "echo.yaml": echo, "pet.yaml": pet, "tools/echo.yaml": echo, "tools/calculator.yaml": calculator });
    const file = path.join(root, "toolctl.yaml");
    const refused = async (yaml: string, expected: string) => {
      writeFileSync(file, yaml);
      const text = await runCli(["sync"], at());
      expect(text.code, text.stderr).toBe(2);
      expect(text.stderr.trim().split("\n")).toEqual([`error: ${expected}`]);
      expect(text.stdout).toBe("");
      const json = await runJson(["sync"], at());
      expect(json.json.error).toMatchObject({ code: "project_invalid", exitCode: 2 });
      if (existsSync(path.join(root, ".toolctl"))) expect((await runJson(["list"], at())).json.items).toEqual([]);
    };
    await refused(
      "manifests: [echo.yaml]\nspecs:\n  - { openapi: pet.yaml, name: echo }\n",
      `${file}:3:32: specs.0.name: tool name 'echo' is also declared in echo.yaml (manifests.0)`,
    );
    await refused("manifests: [tools/, echo.yaml]\n", `${file}:1:21: manifests.1: tool name 'echo' is also declared in tools/echo.yaml (manifests.0)`);
    expect(existsSync(path.join(root, ".toolctl"))).toBe(false);
    // The name a spec's title gives, too: found once the specs are converted, before anything is imported.
    await refused(
      "specs:\n  - openapi: pet.yaml\n  - openapi: pet.yaml\n",
      `${file}:3:14: specs.1.openapi: tool name 'petstore-request-test' is also declared in pet.yaml (specs.0)`,
    );
  });

  it("outside a project: exit 2 naming toolctl init", async () => {
    const dir = tempDir();
    const result = await runJson(["sync"], { cwd: dir, env: { HOME: tempDir() } });
    expect(result.code).toBe(2);
    expect(result.json.error.message).toBe(`no toolctl.yaml in ${dir} or any directory above it; create one with: toolctl init`);
  });
});

describe("which home", () => {
  it("--home, then TOOLCTL_HOME, win over the project; config says which home is used and why", async () => {
    const { root, user, at } = newProject({ "toolctl.yaml": TOOLS_YAML, "tools/echo.yaml": echo, "sub/.keep": "" });

    const inProject = await runJson(["config"], at("sub"));
    expect(inProject.json.home).toEqual({
      path: path.join(root, ".toolctl"),
      source: "project",
      why: `the nearest toolctl.yaml: ${path.join(root, "toolctl.yaml")}`,
      project: { root, file: path.join(root, "toolctl.yaml") },
    });
    expect(inProject.json.registry).toEqual({ kind: "sqlite", file: path.join(root, ".toolctl", "registry.db") });
    // The user's settings file stays theirs.
    expect(inProject.json.file).toBe(path.join(user, ".toolctl", "config.yaml"));
    const text = await runCli(["config"], at("sub"));
    expect(text.stdout).toContain(`home: ${path.join(root, ".toolctl")} (the nearest toolctl.yaml: ${path.join(root, "toolctl.yaml")})`);
    expect(text.stdout).toContain(`registry: ${path.join(root, ".toolctl", "registry.db")}`);

    const envHome = tempDir("toolctl-home-");
    const fromEnv = await runJson(["config"], { ...at("sub"), env: { HOME: user, TOOLCTL_HOME: envHome } });
    expect(fromEnv.json.home).toEqual({ path: envHome, source: "env", why: "TOOLCTL_HOME" });
    expect(fromEnv.json.file).toBe(path.join(envHome, "config.yaml"));

    const flagHome = tempDir("toolctl-home-");
    const fromFlag = await runJson(["config", "--home", flagHome], { ...at("sub"), env: { HOME: user, TOOLCTL_HOME: envHome } });
    expect(fromFlag.json.home).toEqual({ path: flagHome, source: "flag", why: "--home" });

    // sync under TOOLCTL_HOME reads the project's file and imports into that home, not the project's.
    const synced = await runJson(["sync"], { ...at("sub"), env: { HOME: user, TOOLCTL_HOME: envHome } });
    expect(synced.code, synced.stderr).toBe(0);
    expect(synced.json.home).toBe(envHome);
    expect(existsSync(path.join(envHome, "registry.db"))).toBe(true);
    expect(existsSync(path.join(root, ".toolctl"))).toBe(false);

    const outside = await runJson(["config"], { cwd: tempDir(), env: { HOME: user } });
    expect(outside.json.home).toEqual({ path: path.join(user, ".toolctl"), source: "default", why: "the default: no --home, TOOLCTL_HOME or toolctl.yaml" });
  });

  it("a database URL names the registry; the home stays the project's", async () => {
    const { root, at } = newProject({ "toolctl.yaml": TOOLS_YAML });
    const result = await runJson(["config"], { ...at(), env: { HOME: at().env!.HOME, TOOLCTL_DATABASE_URL: "postgres://team:s3cret@db.example.com/toolctl" } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.json.home.path).toBe(path.join(root, ".toolctl"));
    expect(result.json.registry).toEqual({ kind: "postgres", location: "postgres://team@db.example.com/toolctl", source: "TOOLCTL_DATABASE_URL" });
    expect(result.stdout).not.toContain("s3cret");
  });
});

describe("a bad toolctl.yaml", () => {
  it("does not stop the two commands that need no project: completion prints its script, doctor reports the file among its checks", async () => {
    const { root, at } = newProject({ "toolctl.yaml": "manifests: []\nlimits:\n  dailyUSD: 5\n", "sub/.keep": "" });
    const file = path.join(root, "toolctl.yaml");
    const completion = await runCli(["completion", "bash"], at("sub"));
    expect(completion.code).toBe(0);
    expect(completion.stdout).toContain("complete ");
    const doctor = await runJson(["doctor"], at("sub"));
    expect(doctor.code).toBe(6);
    const checks = doctor.json.checks as Array<{ name: string; level: string; message: string }>;
    expect(checks.find((check) => check.name === "config")).toMatchObject({ level: "fail", message: expect.stringContaining(`${file}:3:3: limits.dailyUSD`) });
    expect(checks.map((check) => check.name)).toContain("registry");
  });

  it("is one line naming the file and field, exit 2, for any command, and nothing is written", async () => {
    const { root, at } = newProject({ "toolctl.yaml": "manifests: []\nlimits:\n  dailyUSD: 5\n", "sub/.keep": "" });
    const file = path.join(root, "toolctl.yaml");
    for (const args of [["sync"], ["list"], ["config"]]) {
      const text = await runCli(args, at("sub"));
      expect(text.code).toBe(2);
      expect(text.stderr.trim().split("\n")).toEqual([`error: ${file}:3:3: limits.dailyUSD: unknown field 'dailyUSD' (did you mean 'dailyUsd'?)`]);
    }
    const json = await runJson(["sync"], at());
    expect(json.json.error).toMatchObject({ code: "project_invalid", exitCode: 2 });
    expect(existsSync(path.join(root, ".toolctl"))).toBe(false);

    writeFileSync(file, "limits:\n  dailyUsd: -1\n");
    const negative = await runCli(["list"], at());
    expect(negative.code).toBe(2);
    expect(negative.stderr).toContain(`${file}:2:13: limits.dailyUsd:`);

    writeFileSync(file, "manifests:\n  - ../outside.yaml\n");
    const escaping = await runCli(["sync"], at());
    expect(escaping.code).toBe(2);
    expect(escaping.stderr).toContain(`${file}:2:5: manifests.0: a path inside the project (relative, without '..')`);

    // A listed file that does not exist: refused before anything is imported.
    writeFiles({ "toolctl.yaml": "manifests:\n  - tools/echo.yaml\n  - tools/missing.yaml\n", "tools/echo.yaml": echo }, root);
    const missing = await runJson(["sync"], at());
    expect(missing.code).toBe(2);
    expect(missing.json.error.code).toBe("project_invalid");
    expect(missing.json.error.message).toBe(`${file}:3:5: manifests.1: tools/missing.yaml does not exist (paths are from ${root})`);
    expect(existsSync(path.join(root, ".toolctl"))).toBe(false);

    // A URL that is not https://, a setting in the wrong place, a version given as text: each said plainly.
    const said = async (yaml: string, expected: string) => {
      writeFileSync(file, yaml);
      const result = await runCli(["sync"], at());
      expect(result.code).toBe(2);
      expect(result.stderr.trim().split("\n")).toEqual([`error: ${file}:${expected}`]);
    };
    await said('specs:\n  - openapi: "http://example.com/x.yaml"\n', "2:14: specs.0.openapi: only https:// URLs are fetched");
    await said("manifests: [https://example.com/x.yaml]\n", "1:13: manifests.0: a path inside the project (manifests are not fetched from URLs)");
    await said(
      "settings:\n  limits:\n    dailyUsd: 5\n",
      "2:3: settings.limits: unknown field 'limits' (limits go at the top level of toolctl.yaml, beside settings)",
    );
    await said('version: "1"\n', "1:10: version: must be the number 1 (version: 1)");
    expect(existsSync(path.join(root, ".toolctl"))).toBe(false);

    // init --force replaces a broken file.
    expect((await runCli(["init", "--force"], at())).code).toBe(0);
    expect((await runCli(["config"], at())).code).toBe(0);
  });
});

describe("a spec's entry in toolctl.yaml that selects nothing, or is not a file", () => {
  it("is project_invalid naming toolctl.yaml's line and field, exit 2, and nothing is imported", async () => {
    const petstore = readFileSync(path.join(repoRoot, "test", "fixtures", "openapi", "petstore.yaml"), "utf8");
    for (const [entry, field, message] of [
      ["openapi: api", "specs.0.openapi", "api is a directory, not a spec"],
      ["openapi: pet.yaml\n    operations: [nope]", "specs.0.operations", "no operation 'nope'"],
      ["openapi: pet.yaml\n    tags: [nothing]", "specs.0.tags", "no operation matches tag nothing"],
      ["openapi: pet.yaml\n    pathPrefix: /nowhere", "specs.0.pathPrefix", "no operation matches path prefix /nowhere"],
    ]) {
      const { root, at } = newProject({
        "toolctl.yaml": `version: 1\nmanifests: [tools/echo.yaml]\nspecs:\n  - ${entry}\n`,
        "tools/echo.yaml": echo,
        "pet.yaml": petstore,
        "api/readme.txt": "not a spec\n",
      });
      const result = await runJson(["sync"], at());
      expect(result.code, entry).toBe(2);
      expect(result.json.error.code, entry).toBe("project_invalid");
      expect(result.json.error.message, entry).toMatch(
        new RegExp(`^${path.join(root, "toolctl.yaml")}:\\d+:\\d+: ${field.replace(/\./g, "\\.")}: .*${message}`),
      );
      expect(((await runJson(["list"], at())).json.items as unknown[]).length, entry).toBe(0);
    }
  });
});

describe("listed paths really inside the project", () => {
  it("what a listed spec refers to stays inside the project too: a $ref out of it, through a link or into .toolctl/ is refused", async () => {
    const part = (description: string) => `Pet:\n  type: object\n  description: ${description}\n  properties:\n    name: { type: string }\n`;
    const outside = writeFiles({ "secret.yaml": part("OUTSIDE-MARKER") });
    const op = (id: string, ref: string) =>
      `  /${id}:\n    post:\n      operationId: ${id}\n      requestBody:\n        content:\n          application/json:\n            schema: { $ref: "${ref}" }\n      responses: { "200": { description: ok } }\n`;
    const { root, at } = newProject({ "toolctl.yaml": "specs:\n  - openapi: specs/api.yaml\n", "specs/parts.yaml": part("inside parts") });
    const spec = [
      'openapi: 3.0.3\ninfo: { title: Pets, version: "1" }\nservers: [{ url: "https://api.example.com" }]\npaths:\n',
      op("inside", "parts.yaml#/Pet"),
      op("upward", `${path.relative(path.join(root, "specs"), path.join(outside, "secret.yaml"))}#/Pet`),
      op("absolute", `${outside}/secret.yaml#/Pet`),
      op("linked", "link.yaml#/Pet"),
      op("home", "../.toolctl/stash.yaml#/Pet"),
    ].join("");
    writeFileSync(path.join(root, "specs", "api.yaml"), spec);
    symlinkSync(path.join(outside, "secret.yaml"), path.join(root, "specs", "link.yaml"));
    // The project's home as toolctl makes it (one it did not make is refused: project-trust.test.ts).
    expect((await runJson(["list"], at())).code).toBe(0);
    writeFiles({ "stash.yaml": part("HOME-MARKER") }, path.join(root, ".toolctl"));

    const synced = await runJson(["sync"], at());
    expect(synced.code, synced.stderr).toBe(0);
    const [tool] = synced.json.tools as Array<{ tool: string; skipped: Array<{ operationId: string; reason: string }> }>;
    expect(tool!.skipped.map((skip) => skip.operationId).sort()).toEqual(["absolute", "home", "linked", "upward"]);
    for (const skip of tool!.skipped) expect(skip.reason).toMatch(/refused: .* is outside the project/);
    const exported = await runCli(["tool", "export", "pets"], at());
    expect(exported.stdout).toContain("inside parts");
    expect(exported.stdout).not.toMatch(/OUTSIDE-MARKER|HOME-MARKER/);
    // People are told on stderr, as by import --openapi.
    const text = await runCli(["sync"], at());
    expect(text.stderr).toMatch(/^ {2}pets: skipped POST \/absolute \(absolute\): .* is outside the project/m);

    // Reached through a link to the project, a file that is not there is said to be missing, not outside.
    writeFileSync(path.join(root, "specs", "api.yaml"), spec + op("missing", "nothere.yaml#/Pet"));
    const viaLink = `${root}-link`;
    symlinkSync(root, viaLink);
    const linked = await runJson(["sync"], { ...at(), cwd: path.join(viaLink, "specs") });
    expect(linked.code, linked.stderr).toBe(0);
    const missing = (linked.json.tools[0].skipped as Array<{ operationId: string; reason: string }>).find((skip) => skip.operationId === "missing");
    expect(missing?.reason).toMatch(/nothere\.yaml does not exist/);

    // Under strict, the spec is refused (exit 3, as import --openapi --strict refuses a reference) and nothing is imported.
    writeFileSync(path.join(root, "toolctl.yaml"), "specs:\n  - openapi: specs/api.yaml\n    name: strictpets\n    strict: true\n");
    const strict = await runJson(["sync"], at());
    expect(strict.code).toBe(3);
    expect(JSON.stringify(strict.json)).toContain("outside the project");
    expect(((await runJson(["list"], at())).json.items as Array<{ name: string }>).map((t) => t.name)).toEqual(["pets"]);
  });

  it("a symbolic link out of the project is refused, before anything is read or imported; one inside it is followed", async () => {
    const outside = writeFiles({ "calculator.yaml": calculator, "secret.yaml": "apiToken: hunter2\nprivateNote: x\n" });
    const { root, at } = newProject({ "tools/echo.yaml": echo, "shared/calculator.yaml": calculator, "toolctl.yaml": "" });
    const file = path.join(root, "toolctl.yaml");
    symlinkSync(outside, path.join(root, "ext"));
    symlinkSync(path.join(outside, "secret.yaml"), path.join(root, "leak.yaml"));
    symlinkSync(path.join(outside, "secret.yaml"), path.join(root, "spec.yaml"));
    const refused = async (yaml: string, expected: string) => {
      writeFileSync(file, yaml);
      const text = await runCli(["sync"], at());
      expect(text.code, text.stderr).toBe(2);
      expect(text.stderr.trim().split("\n")).toEqual([`error: ${expected}`]);
      expect(text.stdout + text.stderr).not.toMatch(/apiToken|privateNote/);
      const json = await runJson(["sync"], at());
      expect(json.json.error).toMatchObject({ code: "project_invalid", exitCode: 2 });
      expect(existsSync(path.join(root, ".toolctl"))).toBe(false);
    };
    await refused("manifests:\n  - tools/\n  - ext\n", `${file}:3:5: manifests.1: ext leads outside the project, to ${outside}, through a symbolic link`);
    await refused(
      "manifests:\n  - leak.yaml\n",
      `${file}:2:5: manifests.0: leak.yaml leads outside the project, to ${path.join(outside, "secret.yaml")}, through a symbolic link`,
    );
    await refused(
      "specs:\n  - openapi: spec.yaml\n",
      `${file}:2:14: specs.0.openapi: spec.yaml leads outside the project, to ${path.join(outside, "secret.yaml")}, through a symbolic link`,
    );
    // A link in a listed directory.
    symlinkSync(path.join(outside, "secret.yaml"), path.join(root, "tools/zz-out.yaml"));
    await refused(
      "manifests: [tools]\n",
      `${file}:1:13: manifests.0: tools/zz-out.yaml leads outside the project, to ${path.join(outside, "secret.yaml")}, through a symbolic link`,
    );
    rmSync(path.join(root, "tools/zz-out.yaml"));
    // toolctl.yaml itself, and the project's home, are not manifests.
    await refused(
      "manifests: [.]\n",
      `${file}:1:13: manifests.0: . is the project's root, where toolctl.yaml is not a manifest; list the manifests, or a directory of them`,
    );
    await refused("manifests: [toolctl.yaml]\n", `${file}:1:13: manifests.0: toolctl.yaml is toolctl.yaml itself, not a manifest`);

    // A link inside a listed directory to a manifest inside the project: followed, shown by the name it is listed by.
    symlinkSync(path.join("..", "shared", "calculator.yaml"), path.join(root, "tools/calc.yaml"));
    writeFileSync(file, "manifests: [tools/]\n");
    const synced = await runJson(["sync"], at());
    expect(synced.code, synced.stderr).toBe(0);
    expect(synced.json.tools.map((t: { tool: string; source: string }) => [t.tool, t.source])).toEqual([
      ["calculator", "tools/calc.yaml"],
      ["echo", "tools/echo.yaml"],
    ]);

    writeFileSync(path.join(root, ".toolctl", "x.yaml"), echo);
    writeFileSync(file, "manifests: [.toolctl]\n");
    const home = await runCli(["sync"], at());
    expect(home.code).toBe(2);
    expect(home.stderr.trim()).toBe(`error: ${file}:1:13: manifests.0: .toolctl is in the project's home (.toolctl/, its registry and keys), not a manifest`);
  });
});

describe("the project's limits and settings", () => {
  it("tighten the user's, never loosen them; the environment still wins", async () => {
    const { at, user } = newProject({
      "toolctl.yaml": [
        "limits:",
        "  perActionUsd: 20", // lower than the user's: applies
        "  dailyUsd: 5000", // higher: the user's 300 stays
        "settings:",
        "  approvals:",
        "    paidActions: false", // would loosen: stays true
        "    timeoutSeconds: 120", // neither: the project's
        "  process:",
        "    confinement: 'off'", // would loosen: stays auto
        "",
      ].join("\n"),
    });
    writeFiles({ ".toolctl/config.yaml": "limits:\n  dailyUsd: 300\n" }, user);
    const result = await runJson(["config"], at());
    expect(result.code, result.stderr).toBe(0);
    const setting = (key: string) => (result.json.settings as Array<{ key: string; value: unknown; source: string }>).find((s) => s.key === key);
    expect(setting("limits.perActionUsd")).toMatchObject({ value: 20, source: "toolctl.yaml" });
    expect(setting("limits.dailyUsd")).toMatchObject({ value: 300, source: "config.yaml" });
    expect(setting("approvals.paidActions")).toMatchObject({ value: true, source: "default" });
    expect(setting("approvals.timeoutSeconds")).toMatchObject({ value: 120, source: "toolctl.yaml" });
    expect(setting("process.confinement")).toMatchObject({ value: "auto", source: "default" });
    const note = "toolctl.yaml asks for limits.dailyUsd 5000, looser than 300 from config.yaml: 300 applies";
    expect(result.json.notes).toEqual([
      note,
      "toolctl.yaml asks for approvals.paidActions false, looser than true from default: true applies",
      "toolctl.yaml asks for process.confinement off, looser than auto from default: auto applies",
    ]);
    expect((await runCli(["config"], at())).stderr).toContain(note);

    const fromEnv = await runJson(["config"], { ...at(), env: { HOME: user, TOOLCTL_LIMITS_PER_ACTION_USD: "50" } });
    expect((fromEnv.json.settings as Array<{ key: string; value: unknown; source: string }>).find((s) => s.key === "limits.perActionUsd")).toMatchObject({
      value: 50,
      source: "env TOOLCTL_LIMITS_PER_ACTION_USD",
    });
  });

  it("are the ones doctor checks: the user's config.yaml with toolctl.yaml over it, not the project registry's directory", async () => {
    const { root, at, user } = newProject({ "toolctl.yaml": "manifests: []\nsettings:\n  process:\n    confinement: required\n" });
    const checks = async () => {
      const doctor = await runJson(["doctor"], at());
      expect([0, 6], doctor.stderr).toContain(doctor.code);
      return new Map((doctor.json.checks as Array<{ name: string; message: string }>).map((check) => [check.name, check.message]));
    };
    const userConfig = path.join(user, ".toolctl", "config.yaml");
    const projectFile = path.join(root, "toolctl.yaml");
    let found = await checks();
    expect(found.get("config")).toBe(`built-in defaults (no ${userConfig}), with ${projectFile} over them`);
    // With bubblewrap able to build a sandbox the check names the setting; without, it says what is missing.
    const confinement = found.get("confinement")!;
    if (confinement.includes("run confined")) expect(confinement).toContain("(process.confinement: required)");

    writeFiles({ ".toolctl/config.yaml": "limits:\n  dailyUsd: 300\n" }, user);
    found = await checks();
    expect(found.get("config")).toBe(`${userConfig} is valid, with ${projectFile} over it`);

    // A broken user config.yaml is doctor's finding, not a crash.
    writeFiles({ ".toolctl/config.yaml": "limits:\n  dailyUsd: -5\n" }, user);
    found = await checks();
    expect(found.get("config")).toContain(userConfig);
    expect(found.get("config")).toContain("limits.dailyUsd");

    // A config.yaml in the project's own .toolctl/ is read by nothing: said, rather than silently ignored.
    writeFiles({ ".toolctl/config.yaml": "limits:\n  dailyUsd: 300\n" }, user);
    writeFiles({ ".toolctl/config.yaml": "limits:\n  dailyUsd: 1\n" }, root);
    const doctor = await runJson(["doctor"], at());
    const ignored = (doctor.json.checks as Array<{ name: string; level: string; message: string }>).find((check) => check.name === "ignored config");
    expect(ignored).toEqual({
      name: "ignored config",
      level: "warn",
      message: `${path.join(root, ".toolctl", "config.yaml")} is not read in a project: settings come from ${userConfig} with ${projectFile} over it; move these settings to one of them`,
    });
  });
});

describe("what a project's tools cannot read", () => {
  it("the files runtime refuses the project's .toolctl/ and the user's ~/.toolctl", async () => {
    const { root, user, at } = newProject({
      "toolctl.yaml": "manifests: [reader.yaml]\n",
      "notes.txt": "hello",
      "reader.yaml": [
        "apiVersion: toolctl/v1",
        "name: reader",
        "version: 1.0.0",
        "description: Reads files in the project and the user's home",
        "runtime: files",
        "files:",
        `  roots: [".", ${JSON.stringify(tempDir())}]`,
        "actions:",
        "  read:",
        "    description: Read a file",
        "    kind: read",
        "    operation: read",
        "    inputSchema: { type: object, required: [path], properties: { path: { type: string } } }",
        "",
      ].join("\n"),
    });
    writeFiles({ ".toolctl/config.yaml": "limits:\n  dailyUsd: 300\n" }, user);
    // The user's home as a root of the tool: rewrite the second root now that it exists.
    const manifest = readFileSync(path.join(root, "reader.yaml"), "utf8").replace(/roots: \[".", "[^"]+"\]/, `roots: [".", ${JSON.stringify(user)}]`);
    writeFileSync(path.join(root, "reader.yaml"), manifest);
    const sync = await runCli(["sync"], at());
    expect(sync.code, sync.stderr).toBe(0);
    if (/\[pending\]/.test(sync.stdout)) expect((await runCli(["tool", "approve", "reader", "--yes"], at())).code).toBe(0);

    const ok = await runJson(["run", "reader.read", "--param", "path=notes.txt"], at());
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.stringify(ok.json)).toContain("hello");
    for (const file of [path.join(root, ".toolctl", "audit.key"), path.join(user, ".toolctl", "config.yaml")]) {
      const refused = await runJson(["run", "reader.read", "--param", `path=${file}`], at());
      expect(refused.code, refused.stderr).toBe(3);
      expect(refused.json.error.message).toMatch(/^Path is outside project directory/);
    }
  });
});
