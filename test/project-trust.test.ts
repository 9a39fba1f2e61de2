/**
 * A project's `.toolctl/` is used only when toolctl made it there: one that came with a repository (committed, or
 * copied with it), one without the record toolctl writes, a symbolic link (to the user's own ~/.toolctl) and a
 * file are refused (exit 6) before anything is read or written there; `toolctl doctor` says why; moving it aside
 * lets `toolctl sync` make a fresh one; a project its owner moved keeps its registry.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { examplesDir, openApi, rejection, runCli, runJson, tempDir, writeFiles, type CliOptions } from "./helpers.js";

const echo = readFileSync(path.join(examplesDir, "echo.yaml"), "utf8");

function newProject(): { root: string; user: string; at: (root?: string) => CliOptions } {
  const user = tempDir("toolctl-user-");
  const root = writeFiles({ "toolctl.yaml": "manifests: [echo.yaml]\n", "echo.yaml": echo }, tempDir("toolctl-project-"));
  return { root, user, at: (dir = root) => ({ cwd: dir, env: { HOME: user } }) };
}

/** A project synced by its author, then copied as a clone of a repository that committed `.toolctl/` would be. */
async function cloned(): Promise<{ root: string; user: string; at: (root?: string) => CliOptions; clone: string }> {
  const project = newProject();
  const synced = await runJson(["sync"], project.at());
  expect(synced.code, synced.stderr).toBe(0);
  const clone = path.join(tempDir("toolctl-clone-"), "shop");
  cpSync(project.root, clone, { recursive: true });
  return { ...project, clone };
}

describe("a project's .toolctl/ that toolctl did not make there", () => {
  it("a fresh project's home is made with its record, and used", async () => {
    const { root, at } = newProject();
    const synced = await runJson(["sync"], at());
    expect(synced.code, synced.stderr).toBe(0);
    const origin = JSON.parse(readFileSync(path.join(root, ".toolctl", "origin.json"), "utf8"));
    expect(Object.keys(origin).sort()).toEqual(["birth", "ino", "root"]);
    expect((await runJson(["list"], at())).json.items.map((t: { name: string }) => t.name)).toEqual(["echo"]);
    const doctor = await runJson(["doctor"], at());
    expect(doctor.json.checks.map((c: { name: string }) => c.name)).not.toContain("project home");
    expect(readdirSync(root).filter((name) => name.startsWith(".toolctl"))).toEqual([".toolctl"]);
  });

  it("one copied or cloned with the repository is refused (exit 6) by every command, its keys unused; moved aside, sync makes a fresh one", async () => {
    const { clone, at } = await cloned();
    const home = path.join(clone, ".toolctl");
    const before = readFileSync(path.join(home, "registry.db"));
    for (const args of [["list"], ["sync"], ["secret", "set", "TOKEN"], ["run", "echo.say", "--dry-run"]]) {
      const refused = await runCli(args, { ...at(clone), input: "sealed-with-whose-key\n" });
      expect(refused.code, `${args.join(" ")}: ${refused.stderr}`).toBe(6);
      expect(refused.stderr.trim().split("\n")).toHaveLength(1);
      expect(refused.stderr).toContain(`the project's home ${home} was made elsewhere`);
      expect(refused.stderr).toContain(`mv ${home} ${home}.untrusted`);
    }
    const json = await runJson(["list"], at(clone));
    expect(json.json.error).toMatchObject({ code: "registry_unavailable", exitCode: 6 });
    expect(readFileSync(path.join(home, "registry.db")).equals(before)).toBe(true);
    expect(existsSync(path.join(home, ".synced.json.lock"))).toBe(false);

    const doctor = await runJson(["doctor"], at(clone));
    expect(doctor.code).toBe(6);
    expect(doctor.json.checks.find((c: { name: string }) => c.name === "project home")).toMatchObject({ level: "fail" });
    expect(doctor.json.checks.find((c: { name: string }) => c.name === "project home").message).toContain("was made elsewhere");

    renameSync(home, `${home}.untrusted`);
    const fresh = await runJson(["sync"], at(clone));
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.json.summary.added).toBe(1);
    expect(existsSync(path.join(home, "origin.json"))).toBe(true);
  });

  it("a record that names this project's root, as a committed one could, is still refused: the directory is not the one made", async () => {
    const { clone, at } = await cloned();
    const file = path.join(clone, ".toolctl", "origin.json");
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, "utf8")), root: clone }));
    const refused = await runCli(["list"], at(clone));
    expect(refused.code, refused.stderr).toBe(6);
    expect(refused.stderr).toContain("was made elsewhere");
  });

  it("one without a record (committed, or made by an earlier toolctl) is refused, in the CLI and the API", async () => {
    const { clone, at, user } = await cloned();
    rmSync(path.join(clone, ".toolctl", "origin.json"));
    const refused = await runCli(["list"], at(clone));
    expect(refused.code, refused.stderr).toBe(6);
    expect(refused.stderr).toContain(`was not made here by toolctl (it has no origin.json`);
    // However the home is named: here as the API's `home`.
    const error = await rejection(openApi({ cwd: clone, home: path.join(clone, ".toolctl"), env: { HOME: user } }).then((t) => t.listTools()));
    expect(error.code).toBe("registry_unavailable");
    expect(error.message).toContain("was not made here by toolctl");
  });

  it("a .toolctl that is a symbolic link (to the user's own ~/.toolctl) or a file is refused, and nothing is written through it", async () => {
    const { root, user, at } = newProject();
    const personal = path.join(user, ".toolctl");
    mkdirSync(personal, { mode: 0o700 });
    symlinkSync(personal, path.join(root, ".toolctl"));
    for (const args of [["sync"], ["list"]]) {
      const refused = await runCli(args, at());
      expect(refused.code, refused.stderr).toBe(6);
      expect(refused.stderr.trim()).toBe(
        `error: the project's home ${path.join(root, ".toolctl")} is a symbolic link, which toolctl does not follow (it may lead to another registry): move it aside (mv ${path.join(root, ".toolctl")} ${path.join(root, ".toolctl")}.untrusted) or remove it, then run toolctl sync to make a fresh one`,
      );
    }
    expect(readdirSync(personal)).toEqual([]);
    const doctor = await runJson(["doctor"], at());
    expect(doctor.json.checks.find((c: { name: string }) => c.name === "project home").message).toContain("is a symbolic link");
    expect(readdirSync(personal)).toEqual([]);

    rmSync(path.join(root, ".toolctl"));
    writeFileSync(path.join(root, ".toolctl"), "");
    const file = await runCli(["list"], at());
    expect(file.code, file.stderr).toBe(6);
    expect(file.stderr).toContain(`the project's home ${path.join(root, ".toolctl")} is not a directory`);
  });

  it("a project its owner moved keeps its registry", async () => {
    const { root, at } = newProject();
    expect((await runJson(["sync"], at())).code).toBe(0);
    const moved = `${root}-moved`;
    renameSync(root, moved);
    const list = await runJson(["list"], at(moved));
    expect(list.code, list.stderr).toBe(0);
    expect(list.json.items.map((t: { name: string }) => t.name)).toEqual(["echo"]);
  });
});
