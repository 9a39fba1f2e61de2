/**
 * Confining a process tool with bubblewrap (Linux): the program sees the file system read-only, a private /tmp,
 * no network, its own PID namespace (so neither toolctl's /proc nor its environment), and none of what would let
 * it act as the user behind toolctl's back: the toolctl home (registry, keys, audit log), the user's home (SSH,
 * cloud and GPG keys, keyrings), the per-user runtime directory (the D-Bus session bus and its Secret Service) and
 * the Docker socket are hidden. What the manifest lists is made visible again, read-only or writable.
 *
 * A LOW-risk tool that needs no approval could otherwise read master.key and registry.db and mint the TOTP code
 * that approves a CRITICAL payment.
 */
import { accessSync, constants, existsSync, statSync } from "node:fs";
import path from "node:path";
import { EnvironmentError, PolicyError } from "../../errors.js";
import { isWithinPath as within, keyMaterialPaths, realOrResolved as real, userHomes } from "../key-material.js";

export type ConfinementSetting = "auto" | "required" | "optional" | "off";

const DOCKER_SOCKETS = ["/var/run/docker.sock", "/run/docker.sock"];

export function findOnPath(name: string, pathVariable: string | undefined): string | undefined {
  if (name.includes("/")) return name;
  for (const dir of (pathVariable ?? "").split(":")) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

export interface ConfinementChoice {
  /** The bwrap binary, when the program is confined. */
  bwrap?: string;
  /** Why it is not, when it is not (said in the result's warnings and by doctor). */
  unconfined?: string;
}

/** What `auto` means here: required on Linux, optional elsewhere (no supported sandbox there yet). */
export function effectiveSetting(setting: ConfinementSetting): Exclude<ConfinementSetting, "auto"> {
  return setting === "auto" ? (process.platform === "linux" ? "required" : "optional") : setting;
}

/**
 * Decides how a process tool runs: confined when bubblewrap is there; otherwise refused (`required`) or run
 * unconfined with a warning (`optional`, `off`). The search PATH is toolctl's own, not the tool's.
 */
export function chooseConfinement(setting: ConfinementSetting, pathVariable: string | undefined): ConfinementChoice {
  const effective = effectiveSetting(setting);
  if (effective === "off") return { unconfined: "process.confinement is off" };
  const bwrap = process.platform === "linux" ? findOnPath("bwrap", pathVariable) : undefined;
  if (bwrap) return { bwrap };
  const why = process.platform === "linux" ? "bubblewrap (bwrap) is not installed" : `no supported confinement on ${process.platform}`;
  if (effective === "required") {
    throw new EnvironmentError(
      `process tools run confined, and ${why}: install it (Debian/Ubuntu: apt install bubblewrap), or let process tools run unconfined with process.confinement: optional in config.yaml (they could then read toolctl's keys); nothing ran`,
    );
  }
  return { unconfined: why };
}

export interface SandboxSpec {
  bwrap: string;
  argv: string[];
  cwd: string;
  /** The manifest's directory: the program and its files, read-only. */
  toolDir: string;
  toolctlHome: string;
  network: boolean;
  readable: string[];
  writable: string[];
  /** toolctl's own environment: where the user's homes are. */
  env: NodeJS.ProcessEnv;
  /** The PATH the program is started with, to find where the command lives. */
  programPath: string | undefined;
}

/** The per-user runtime directory (/run/user/UID): the D-Bus session bus, and through it the Secret Service. */
function runtimeDirs(env: NodeJS.ProcessEnv): string[] {
  const dirs = new Set<string>();
  if (env.XDG_RUNTIME_DIR) dirs.add(env.XDG_RUNTIME_DIR);
  if (typeof process.getuid === "function") dirs.add(`/run/user/${process.getuid()}`);
  return [...dirs].filter((dir) => existsSync(dir)).map(real);
}

/**
 * A path the manifest asks to see again: never the toolctl home or the user's key material, nor anything
 * containing them. A path inside the user's home is fine (a project directory).
 */
function checkExposed(file: string, what: string, hidden: { home: string; keys: string[] }): string {
  const resolved = real(file);
  if (within(hidden.home, resolved) || within(resolved, hidden.home)) {
    throw new PolicyError("policy_refused", `process.${what}: ${file} would expose the toolctl home (${hidden.home}) to the tool; nothing ran`);
  }
  for (const key of hidden.keys) {
    if (within(key, resolved) || within(resolved, key))
      throw new PolicyError("policy_refused", `process.${what}: ${file} would expose key material (${key}) to the tool; nothing ran`);
  }
  if (!existsSync(resolved)) throw new PolicyError("policy_refused", `process.${what}: ${file} does not exist; create it or fix the manifest; nothing ran`);
  return resolved;
}

/** The engine sockets on this machine: the default ones and the one DOCKER_HOST names. */
function dockerSockets(env: NodeJS.ProcessEnv): string[] {
  const host = env.DOCKER_HOST?.trim();
  const named = host?.startsWith("unix:///") ? [host.slice("unix://".length)] : [];
  return [...DOCKER_SOCKETS, ...named].filter((file) => existsSync(file));
}

/** The client certificates DOCKER_CERT_PATH names: whoever holds them drives the engine (~/.docker is key material already). */
function dockerCertDir(env: NodeJS.ProcessEnv): string[] {
  const dir = env.DOCKER_CERT_PATH?.trim();
  return dir && path.isAbsolute(dir) && existsSync(dir) && statSync(dir).isDirectory() ? [real(dir)] : [];
}

/** The bwrap command line that runs `argv` confined. Later mounts cover earlier ones, so the order matters. */
export function bubblewrapArgv(spec: SandboxSpec): string[] {
  const home = real(spec.toolctlHome);
  const homes = userHomes(spec.env);
  const keys = keyMaterialPaths(spec.env);
  const hidden = { home, keys };
  const args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"];
  for (const dir of [...homes, ...runtimeDirs(spec.env)]) args.push("--tmpfs", dir);
  // /var/run is usually a link to /run: each socket once, by its real path (bwrap does not follow links there).
  for (const socket of new Set(dockerSockets(spec.env).map(real))) args.push("--ro-bind", "/dev/null", socket);
  // Seen again: the program itself (when it lives in a hidden directory), its directory and working directory.
  const program = findOnPath(spec.argv[0]!, spec.programPath);
  const exposed: Array<[string, "ro" | "rw"]> = [];
  if (program && path.isAbsolute(program)) {
    // An interpreter installed in the user's home (nvm, pyenv): its whole installation, read-only.
    const prefix = path.dirname(path.dirname(real(program)));
    if (homes.some((userHome) => within(prefix, userHome) && prefix !== userHome)) exposed.push([checkExposed(prefix, "command", hidden), "ro"]);
  }
  exposed.push([real(spec.toolDir), "ro"], [real(spec.cwd), "ro"]);
  for (const file of spec.readable) exposed.push([checkExposed(file, "readable", hidden), "ro"]);
  for (const file of spec.writable) exposed.push([checkExposed(file, "writable", hidden), "rw"]);
  for (const [dir, mode] of exposed) args.push(mode === "rw" ? "--bind" : "--ro-bind", dir, dir);
  // Hidden again last, whatever was exposed above them: a manifest kept in the user's home exposes its
  // directory, never the toolctl home or the keys inside it.
  for (const dir of [home, ...keys, ...dockerCertDir(spec.env), ...runtimeDirs(spec.env)]) args.push("--tmpfs", dir);
  // The .env files secrets are kept in (toolctl reads the working directory's; a project keeps one beside its
  // manifests) read as empty: a tool gets the secrets it declares, never the file that holds them all.
  for (const file of new Set([real(spec.cwd), real(spec.toolDir)].map((dir) => path.join(dir, ".env")))) {
    if (existsSync(file) && statSync(file).isFile()) args.push("--ro-bind", "/dev/null", real(file));
  }
  args.push("--chdir", real(spec.cwd), "--unshare-all", ...(spec.network ? ["--share-net"] : []), "--die-with-parent", "--new-session", "--cap-drop", "ALL");
  return args;
}
