/**
 * The credential files of common developer tools are key material like ~/.ssh: no tool reads them, whatever
 * its manifest says. Through the files built-in, which needs no sandbox (process tools hide the same list).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { homeFilesManifest, runCli, runJson, tempDir, writeFiles } from "./helpers.js";

const CREDENTIALS = [
  ".git-credentials",
  ".config/git/credentials",
  ".npmrc",
  ".yarnrc.yml",
  ".config/gh/hosts.yml",
  ".cargo/credentials.toml",
  ".cargo/credentials",
  ".pypirc",
  ".gem/credentials",
  ".terraform.d/credentials.tfrc.json",
  ".vault-token",
  ".m2/settings.xml",
];

describe("key material: developer tools' credential files", () => {
  it("are refused to a tool whose root is the user's home (exit 3), while other files there are read", async () => {
    const userHome = tempDir("toolctl-user-home-");
    for (const file of CREDENTIALS) {
      mkdirSync(path.dirname(path.join(userHome, file)), { recursive: true });
      writeFileSync(path.join(userHome, file), "token = cred_0123456789");
    }
    writeFileSync(path.join(userHome, "todo.txt"), "buy milk");
    const dir = writeFiles({ "homefiles.yaml": homeFilesManifest(userHome) });
    const home = tempDir("toolctl-confined-");
    expect((await runCli(["import", dir], { home })).code).toBe(0);
    const env = { HOME: userHome };
    const fine = await runJson(["run", "homefiles.read", "-p", "path=todo.txt"], { home, env });
    expect(fine.code, fine.stderr).toBe(0);
    for (const file of CREDENTIALS) {
      const refused = await runJson(["run", "homefiles.read", "-p", `path=${file}`], { home, env });
      expect(refused.code, `${file}: ${refused.stdout}`).toBe(3);
      expect(refused.json.error.message).toMatch(/which holds key material/);
      expect(refused.stdout).not.toContain("cred_0123456789");
    }
  });
});
