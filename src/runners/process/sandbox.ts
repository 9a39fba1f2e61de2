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
import { accessSync, constants, existsSync, lstatSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { EnvironmentError, PolicyError } from "../../errors.js";
import { existingKeyMaterial, isWithinPath as within, keyMaterialAt, realOrResolved as real, userHomes } from "../key-material.js";

export type ConfinementSetting = "auto" | "required" | "optional" | "off";

const DOCKER_SOCKETS = ["/var/run/docker.sock", "/run/docker.sock"];

/**
 * Where daemons keep their unix sockets. A socket can be connected to through a read-only mount, and a network
 * namespace does not isolate path-based sockets: containerd's, Docker's, the system bus, a database's would let a
 * tool act as root (start a privileged container) whatever else hides. Each is replaced by an empty tmpfs.
 */
const DAEMON_DIRS = [
  "/run",
  "/var/run",
  "/var/lib/docker",
  "/var/lib/containerd",
  "/var/lib/kubelet",
  "/var/lib/lxd",
  "/var/lib/incus",
  "/var/snap/docker",
  "/var/snap/lxd",
  "/var/snap/microk8s",
];

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
  /** toolctl's own working directory: the `.env` it reads secrets from. */
  toolctlCwd?: string;
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

/** What a tool never sees, whatever its manifest asks. */
interface Hidden {
  home: string;
  /** toolctl's own environment: where the user's homes, and so their key material, are. */
  env: NodeJS.ProcessEnv;
  /** The key material that exists now (by real path): what is mounted over. */
  keys: string[];
  /** The daemons' runtime directories (by real path). */
  daemonDirs: string[];
  /** The container engines' sockets (by real path). */
  sockets: string[];
}

/**
 * A path the manifest asks to see again: never the toolctl home or the user's key material, the daemons'
 * sockets, nor anything containing them. A path inside the user's home is fine (a project directory), and so is
 * one inside /tmp (the whole shared /tmp holds other users' agent and X11 sockets).
 *
 * Key material is refused by path, whether or not it exists yet: a mount point cannot be put where nothing is
 * without making it on the host, so a key-material location missing under a writable path could be made by the
 * tool (~/.ssh/authorized_keys), and one missing under a readable path shown as soon as it is made. Only an
 * interpreter's installation (read-only, and found rather than asked for) is checked against what exists, as
 * before: `~/.cargo` holds the programs `cargo install` puts there beside where crates.io's token would be.
 */
function checkExposed(file: string, what: string, hidden: Hidden): string {
  const resolved = real(file);
  const refuse = (exposes: string) => new PolicyError("policy_refused", `process.${what}: ${file} would expose ${exposes} to the tool; nothing ran`);
  if (within(hidden.home, resolved) || within(resolved, hidden.home)) throw refuse(`the toolctl home (${hidden.home})`);
  const key = what === "command" ? hidden.keys.find((key) => within(key, resolved) || within(resolved, key)) : keyMaterialAt(file, hidden.env);
  if (key !== undefined) throw refuse(`key material (${key})`);
  for (const dir of hidden.daemonDirs) {
    if (within(dir, resolved) || within(resolved, dir))
      throw refuse(`${dir}, where daemons keep their sockets (a container engine's drives the machine as root)`);
  }
  if (within(real("/tmp"), resolved)) throw refuse("the shared /tmp (other users' agent and X11 sockets)");
  for (const socket of hidden.sockets) if (within(socket, resolved)) throw refuse(`the container engine's socket (${socket})`);
  if (!existsSync(resolved)) throw new PolicyError("policy_refused", `process.${what}: ${file} does not exist; create it or fix the manifest; nothing ran`);
  return resolved;
}

/** The daemons' runtime directories on this machine, by real path (/var/run is usually a link to /run), outermost only. */
function daemonDirs(): string[] {
  const dirs = [...new Set(DAEMON_DIRS.filter((dir) => existsSync(dir)).map(real))];
  return dirs.filter((dir) => !dirs.some((other) => other !== dir && within(dir, other)));
}

/**
 * The files that links in /etc lead to under the daemons' directories (resolv.conf under systemd-resolved,
 * resolvconf or NetworkManager): brought back read-only, one regular file each, never a socket or a directory.
 */
function etcFilesIn(dirs: string[]): string[] {
  const files = new Set<string>();
  let names: string[] = [];
  try {
    names = readdirSync("/etc");
  } catch {
    return [];
  }
  for (const name of names) {
    const link = path.join("/etc", name);
    try {
      if (!lstatSync(link).isSymbolicLink()) continue;
      const target = real(link);
      if (dirs.some((dir) => within(target, dir)) && statSync(target).isFile()) files.add(target);
    } catch {
      // A dangling link: nothing to bring back.
    }
  }
  return [...files];
}

/** The engine sockets on this machine: the default ones and those DOCKER_HOST, CONTAINER_HOST (Podman) and CONTAINERD_ADDRESS name. */
function engineSockets(env: NodeJS.ProcessEnv): string[] {
  const named = [env.DOCKER_HOST, env.CONTAINER_HOST, env.CONTAINERD_ADDRESS]
    .map((value) => value?.trim())
    .map((value) => (value?.startsWith("unix:///") ? value.slice("unix://".length) : value))
    .filter((value): value is string => value !== undefined && path.isAbsolute(value));
  return [...new Set([...DOCKER_SOCKETS, ...named].filter((file) => existsSync(file)).map(real))];
}

/** The daemon directory or engine socket `dir` is (or holds), if any: what no tool may be handed a mount of. */
export function daemonSocketsAt(dir: string, env: NodeJS.ProcessEnv): string | undefined {
  const resolved = real(dir);
  return daemonDirs().find((daemon) => within(daemon, resolved) || within(resolved, daemon)) ?? engineSockets(env).find((socket) => within(socket, resolved));
}

/** The `.env` files toolctl and a project keep secrets in that lie in `dir` (by real path): toolctl's working directory's, the tool's working directory's and its own. */
export function dotenvFilesIn(dir: string, dirs: string[]): string[] {
  const files = new Set<string>();
  for (const candidate of dirs.map((each) => path.join(real(each), ".env"))) {
    if (existsSync(candidate) && statSync(candidate).isFile() && within(real(candidate), real(dir))) files.add(real(candidate));
  }
  return [...files];
}

/** The client certificates DOCKER_CERT_PATH names: whoever holds them drives the engine (~/.docker is key material already). */
function dockerCertDir(env: NodeJS.ProcessEnv): string[] {
  const dir = env.DOCKER_CERT_PATH?.trim();
  return dir && path.isAbsolute(dir) && existsSync(dir) && statSync(dir).isDirectory() ? [real(dir)] : [];
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The bwrap command line that runs `argv` confined. Later mounts cover earlier ones, so the order matters. */
export function bubblewrapArgv(spec: SandboxSpec): string[] {
  const home = real(spec.toolctlHome);
  const homes = userHomes(spec.env);
  const keys = existingKeyMaterial(spec.env);
  const daemons = daemonDirs();
  const sockets = engineSockets(spec.env);
  const hidden: Hidden = { home, env: spec.env, keys, daemonDirs: daemons, sockets };
  // /tmp is private: the shared one holds X11 and other users' agent sockets (ssh-agent, gpg-agent).
  const args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"];
  for (const dir of homes) args.push("--tmpfs", dir);
  // Seen again: the program itself (when it lives in a hidden directory), its directory and working directory.
  const program = findOnPath(spec.argv[0]!, spec.programPath);
  const exposed: Array<[string, "ro" | "rw"]> = [];
  if (program && path.isAbsolute(program)) {
    // An interpreter installed in the user's home (nvm, pyenv): its whole installation, read-only.
    const prefix = path.dirname(path.dirname(real(program)));
    if (homes.some((userHome) => within(prefix, userHome) && prefix !== userHome)) exposed.push([checkExposed(prefix, "command", hidden), "ro"]);
  }
  // A working directory of / or /tmp is not brought back whole (the shared /tmp, the homes): the program starts
  // in the sandbox's own.
  for (const dir of [real(spec.toolDir), real(spec.cwd)]) if (!within(real("/tmp"), dir)) exposed.push([dir, "ro"]);
  for (const file of spec.readable) exposed.push([checkExposed(file, "readable", hidden), "ro"]);
  for (const file of spec.writable) exposed.push([checkExposed(file, "writable", hidden), "rw"]);
  for (const [dir, mode] of exposed) args.push(mode === "rw" ? "--bind" : "--ro-bind", dir, dir);
  // Hidden again last, whatever was exposed above them: a manifest kept in the user's home exposes its
  // directory, never the toolctl home or the keys inside it; a tool's directory never brings back a socket.
  // What lies in a hidden home and nothing exposed reaches is gone already: mounting over it again would only make
  // a mount point that names it in the empty home (`ls ~` showing `.toolctl`, `.npmrc`).
  const reached = (dir: string) => !homes.some((userHome) => within(dir, userHome)) || exposed.some(([shown]) => within(dir, shown) || within(shown, dir));
  const emptied = [home, ...keys, ...dockerCertDir(spec.env), ...runtimeDirs(spec.env), ...daemons].filter(reached);
  const outermost = [...new Set(emptied)].filter((dir) => !emptied.some((other) => other !== dir && within(dir, other)));
  // A directory becomes an empty tmpfs; a file (.netrc, .npmrc, …) reads as /dev/null: a tmpfs cannot be mounted
  // on a file, and a tool's directory in the user's home brings such files back into view.
  for (const dir of outermost) args.push(...(isFile(dir) ? ["--ro-bind", "/dev/null", dir] : ["--tmpfs", dir]));
  // What /etc links to under /run (resolv.conf), read-only; one gone since (a rename) is not a reason to fail the run.
  for (const file of etcFilesIn(daemons)) args.push("--ro-bind-try", file, file);
  // An engine socket elsewhere (DOCKER_HOST in a directory a tool sees) reads as /dev/null.
  for (const socket of sockets) if (!outermost.some((dir) => within(socket, dir))) args.push("--ro-bind", "/dev/null", socket);
  // The .env files secrets are kept in (toolctl reads its working directory's; a project keeps one beside its
  // manifests) read as empty: a tool gets the secrets it declares, never the file that holds them all.
  const dirs = [spec.toolctlCwd, spec.cwd, spec.toolDir].filter((dir): dir is string => dir !== undefined).map(real);
  for (const file of new Set(dirs.map((dir) => path.join(dir, ".env")))) {
    if (existsSync(file) && statSync(file).isFile()) args.push("--ro-bind", "/dev/null", real(file));
  }
  args.push("--chdir", real(spec.cwd), "--unshare-all", ...(spec.network ? ["--share-net"] : []), "--die-with-parent", "--new-session", "--cap-drop", "ALL");
  return args;
}
