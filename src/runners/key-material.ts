/**
 * Where the user keeps keys that no tool may read, whatever its manifest says: SSH, GPG, cloud and cluster
 * credentials, keyrings and password stores, under each of the user's home directories.
 *
 * The homes are `$HOME` and the account's own home from the password database: they differ in CI jobs, under
 * `sudo -E` and in services, and the keys are in the account's. The locations are protected by path, whether or
 * not they exist yet: a tool that may write where `~/.ssh` would be could otherwise make `~/.ssh/authorized_keys`.
 */
import { existsSync, lstatSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
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

/**
 * Where `file` leads: every symbolic link followed, those that dangle included, and the missing rest joined on.
 * `..` after a link goes up from where the link leads, as the kernel does.
 */
export function followLinks(file: string): { resolved: string; links: string[] } {
  const links = new Set<string>();
  // Not path.resolve(): it would take `link/..` away before the link is followed.
  const pending = (path.isAbsolute(file) ? file : `${process.cwd()}/${file}`).split("/").filter(Boolean);
  let current = "/";
  let hops = 0;
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (name === ".") continue;
    if (name === "..") {
      current = path.dirname(current);
      continue;
    }
    const next = path.join(current, name);
    let target: string | undefined;
    try {
      target = lstatSync(next).isSymbolicLink() ? readlinkSync(next) : undefined;
    } catch {
      // Missing (or unreadable) from here on: the rest is taken as written.
      return { resolved: path.join(next, ...pending), links: [...links] };
    }
    // A loop (ELOOP to the kernel) stops at the link, which is then the place protected.
    if (target !== undefined && hops++ < 40) {
      links.add(next);
      pending.unshift(...target.split("/").filter(Boolean));
      if (path.isAbsolute(target)) current = "/";
      continue;
    }
    current = next;
  }
  return { resolved: current, links: [...links] };
}

/** The real path of `file`; where it does not exist (yet), where it would be, links followed as far as they go. */
export function realOrResolved(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return followLinks(file).resolved;
  }
}

export const isWithinPath = (child: string, parent: string) => child === parent || child.startsWith(parent.endsWith("/") ? parent : `${parent}/`);

/** The account's home from the password database (not `$HOME`), when there is one. */
function accountHome(): string | undefined {
  try {
    return os.userInfo().homedir || undefined;
  } catch {
    // A uid with no entry (a container started with --user 12345).
    return undefined;
  }
}

/**
 * Run as root through sudo: the home of the user who ran it (`SUDO_USER`), from /etc/passwd. Plain `sudo` sets HOME
 * to root's, and that user's keys are the ones at hand. Only ever adds a home to hide: a wrong SUDO_USER hides more.
 */
function sudoHome(env: NodeJS.ProcessEnv): string | undefined {
  const user = env.SUDO_USER;
  if (!user || user === "root" || process.getuid?.() !== 0) return undefined;
  try {
    const entry = readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .find((line) => line.startsWith(`${user}:`));
    return entry?.split(":")[5] || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every home of the user, as `$HOME` and the system (the password database) name them, and under sudo the invoking
 * user's, whether or not it exists.
 */
function homeNames(env: NodeJS.ProcessEnv): string[] {
  const names = [env.HOME, os.homedir(), accountHome(), sudoHome(env)].filter((home): home is string => typeof home === "string" && home !== "");
  return [...new Set(names.map((home) => path.resolve(home)))].filter((home) => home !== "/");
}

/** Those of `files` that exist, each once, by real path. */
const existingReal = (files: string[]): string[] => [...new Set(files.filter((file) => existsSync(file)).map(realOrResolved))];

/** The user's home directories that exist, by real path: `$HOME` and the account's own home. */
export function userHomes(env: NodeJS.ProcessEnv): string[] {
  return existingReal(homeNames(env));
}

interface Location {
  /** Where the keys are or would be: under the home as named and as its real path, and where links lead. */
  paths: string[];
  /** The links followed on the way below the home: whoever may replace one decides where the keys go. */
  links: string[];
}

function locations(env: NodeJS.ProcessEnv): Location[] {
  return homeNames(env).flatMap((home) => {
    const real = realOrResolved(home);
    return KEY_MATERIAL.map((name) => {
      const { resolved, links } = followLinks(path.join(real, name));
      return { paths: [...new Set([path.join(home, name), path.join(real, name), resolved])], links };
    });
  });
}

/** Every key-material location, whether or not it exists: under each home as named and by its real path, and where links lead (a dangling `~/.ssh` link included). */
export function keyMaterialPaths(env: NodeJS.ProcessEnv): string[] {
  return [...new Set(locations(env).flatMap((location) => location.paths))];
}

/** The key-material locations that exist now, by real path: what a sandbox can mount over. */
export function existingKeyMaterial(env: NodeJS.ProcessEnv): string[] {
  return existingReal(keyMaterialPaths(env));
}

/** The key-material location `file` is or lies in, if any, whether or not it exists yet (by `file`'s name and where it leads). */
export function keyMaterialHolding(file: string, env: NodeJS.ProcessEnv): string | undefined {
  const forms = [...new Set([path.resolve(file), realOrResolved(file)])];
  return keyMaterialPaths(env).find((key) => forms.some((form) => isWithinPath(form, key)));
}

/**
 * A key-material location (or a link on the way to one) that `dir` is or holds, if any, whether or not it exists
 * yet: what a tool given `dir` could read, or make, or redirect.
 */
function keyMaterialWithin(dir: string, env: NodeJS.ProcessEnv): string | undefined {
  const resolved = realOrResolved(dir);
  return locations(env)
    .flatMap((location) => [...location.paths, ...location.links])
    .find((key) => isWithinPath(key, resolved));
}

/** The key-material location `file` lies in, or holds, if any, whether or not it exists yet. */
export function keyMaterialAt(file: string, env: NodeJS.ProcessEnv): string | undefined {
  return keyMaterialHolding(file, env) ?? keyMaterialWithin(file, env);
}
