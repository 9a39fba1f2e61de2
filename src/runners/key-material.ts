/**
 * Where the user keeps keys that no tool may read, whatever its manifest says: SSH, GPG, cloud and cluster
 * credentials, keyrings and password stores, under each of the user's home directories.
 */
import { existsSync, realpathSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const KEY_MATERIAL = [
  ".ssh",
  ".gnupg",
  ".aws",
  ".azure",
  ".kube",
  ".docker",
  ".password-store",
  ".config/gcloud",
  ".local/share/keyrings",
  ".netrc",
  ".pgpass",
  // Developer tools' tokens: git's credential store, package registries (npm, yarn, PyPI, RubyGems, crates.io,
  // Maven), the GitHub CLI, Terraform Cloud and Vault.
  ".git-credentials",
  ".config/git/credentials",
  ".npmrc",
  ".yarnrc.yml",
  ".pypirc",
  ".gem/credentials",
  ".cargo/credentials",
  ".cargo/credentials.toml",
  ".m2/settings.xml",
  ".config/gh",
  ".terraform.d/credentials.tfrc.json",
  ".vault-token",
  // The user's own toolctl home: in a project the home in use is the project's .toolctl/, but the user's config
  // (a database URL with its password) and their other registry and keys are still here.
  ".toolctl",
];

export function realOrResolved(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return path.resolve(file);
  }
}

export const isWithinPath = (child: string, parent: string) => child === parent || child.startsWith(parent.endsWith("/") ? parent : `${parent}/`);

/** The user's home directories, as the environment and the system name them. */
export function userHomes(env: NodeJS.ProcessEnv): string[] {
  const homes = new Set([os.homedir()]);
  if (env.HOME) homes.add(env.HOME);
  return [...homes].filter((home) => home !== "/" && existsSync(home)).map(realOrResolved);
}

/** Every key-material location that exists, by its real path. */
export function keyMaterialPaths(env: NodeJS.ProcessEnv): string[] {
  return userHomes(env)
    .flatMap((home) => KEY_MATERIAL.map((name) => path.join(home, name)))
    .filter((file) => existsSync(file))
    .map(realOrResolved);
}

/** The key-material location `file` lies in (or contains), if any. */
export function keyMaterialAt(file: string, env: NodeJS.ProcessEnv): string | undefined {
  const resolved = realOrResolved(file);
  return keyMaterialPaths(env).find((key) => isWithinPath(resolved, key) || isWithinPath(key, resolved));
}
