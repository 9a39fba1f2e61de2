/**
 * The Docker engine behind dockerode: where it is (DOCKER_HOST, read as the docker CLI reads it), whether it
 * answers, and what its failures mean to a user. dockerode is loaded only when a Docker tool actually runs (or
 * `doctor` asks about the engine).
 *
 * DOCKER_HOST may name a local socket (unix://), a TCP endpoint (tcp://, verified TLS with DOCKER_TLS_VERIFY or
 * DOCKER_CERT_PATH; plain TCP only to loopback unless TOOLCTL_DOCKER_PLAIN_TCP allows it) or an engine reached
 * over SSH (ssh://, whose host key must be in known_hosts). Engines reached over tcp or ssh are remote: their file
 * system is not this machine's, so nothing local can be bind-mounted there.
 */
import { createHash, createHmac } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import os from "node:os";
import path from "node:path";
import type Dockerode from "dockerode";
import { EnvironmentError, PolicyError, UsageError } from "../../errors.js";

export type EngineAddress =
  | { kind: "unix"; endpoint: string; socketPath: string; fromEnv: boolean }
  | { kind: "tcp"; endpoint: string; host: string; port: number; tls?: { dir: string; files: Record<"ca" | "cert" | "key", string> }; fromEnv: true }
  | { kind: "ssh"; endpoint: string; host: string; port: number; username: string; fromEnv: true };

export interface Engine {
  docker: Dockerode;
  /** Where the engine is, as a user would write it: unix:///var/run/docker.sock, tcp://host:2376, ssh://user@host:22. */
  endpoint: string;
  /** The local socket, when the engine is reached through one (resource sampling needs a local engine). */
  socketPath?: string;
  /** tcp or ssh: the engine's file system is not this machine's (a loopback port may be a tunnel). */
  remote?: boolean;
  /** Named by DOCKER_HOST rather than the default socket. */
  fromEnv?: boolean;
  /** How it is reached, for doctor: unix socket, TCP with TLS, plain TCP, SSH. */
  transport?: string;
  /** Set when the SSH host key was refused: why, in one line. */
  hostKeyRefusal?: string;
}

const DEFAULT_SOCKET = "/var/run/docker.sock";
const SCHEMES = "unix:///PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]";

function badHost(host: string, why: string): UsageError {
  return new UsageError(`DOCKER_HOST=${host}: ${why}`, { variable: "DOCKER_HOST" }, "config_invalid");
}

/** localhost, 127.0.0.0/8 and ::1: plain TCP there never leaves this machine. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "");
  if (bare === "localhost") return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  if (isIP(bare) === 6) return bare === "::1" || bare === "0:0:0:0:0:0:0:1";
  return false;
}

function homeDir(env: NodeJS.ProcessEnv): string {
  return env.HOME || os.homedir();
}

/**
 * Reads DOCKER_HOST (and DOCKER_TLS_VERIFY, DOCKER_CERT_PATH) without connecting: a malformed value or an
 * unsupported scheme is a config error (exit 2), plain TCP to another host is refused (exit 3).
 */
export function engineAddress(env: NodeJS.ProcessEnv): EngineAddress {
  const raw = env.DOCKER_HOST?.trim();
  if (!raw) return { kind: "unix", endpoint: `unix://${DEFAULT_SOCKET}`, socketPath: DEFAULT_SOCKET, fromEnv: false };
  // As the docker CLI: a bare HOST:PORT is tcp.
  const value = raw.includes("://") ? raw : `tcp://${raw}`;
  const scheme = value.slice(0, value.indexOf("://")).toLowerCase();
  if (scheme === "unix") {
    const socketPath = value.slice("unix://".length);
    if (!path.isAbsolute(socketPath)) throw badHost(raw, `a unix socket needs an absolute path (unix:///var/run/docker.sock)`);
    return { kind: "unix", endpoint: `unix://${socketPath}`, socketPath, fromEnv: true };
  }
  if (scheme !== "tcp" && scheme !== "ssh") throw badHost(raw, `unsupported scheme "${scheme}": use ${SCHEMES}`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badHost(raw, `not a valid address: use ${SCHEMES}`);
  }
  if (!url.hostname) throw badHost(raw, `no host: use ${SCHEMES}`);
  if (url.search || url.hash || (url.pathname && url.pathname !== "/")) throw badHost(raw, `a path, query or fragment after the host is not supported`);
  if (scheme === "ssh") {
    if (url.password) throw badHost(raw, "a password in the address is not supported: use an SSH key (ssh-agent or ~/.ssh/id_ed25519)");
    const username = decodeURIComponent(url.username) || os.userInfo().username;
    const port = Number(url.port || 22);
    const host = url.hostname;
    return { kind: "ssh", endpoint: `ssh://${username}@${host}${port === 22 ? "" : `:${port}`}`, host, port, username, fromEnv: true };
  }
  if (url.username || url.password) throw badHost(raw, "a user name in a tcp:// address is not supported");
  const certDir = env.DOCKER_CERT_PATH?.trim();
  const tls = Boolean(env.DOCKER_TLS_VERIFY?.trim()) || Boolean(certDir);
  const port = Number(url.port || (tls ? 2376 : 2375));
  const host = url.hostname;
  const endpoint = `tcp://${host}:${port}`;
  if (!tls) {
    if (!isLoopback(host) && !["1", "true", "yes"].includes((env.TOOLCTL_DOCKER_PLAIN_TCP ?? "").trim().toLowerCase())) {
      throw new PolicyError(
        "policy_refused",
        `DOCKER_HOST=${raw} is plain TCP to another host: anyone on the way can run containers as root there; set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH (or use ssh://), or allow it with TOOLCTL_DOCKER_PLAIN_TCP=1`,
        { variable: "DOCKER_HOST" },
      );
    }
    return { kind: "tcp", endpoint, host, port, fromEnv: true };
  }
  const dir = certDir || path.join(homeDir(env), ".docker");
  const files = { ca: path.join(dir, "ca.pem"), cert: path.join(dir, "cert.pem"), key: path.join(dir, "key.pem") };
  const missing = Object.values(files).filter((file) => !existsSync(file));
  if (missing.length > 0) {
    throw badHost(
      raw,
      `TLS needs ${missing.map((file) => path.basename(file)).join(", ")} in ${dir} (${certDir ? "DOCKER_CERT_PATH" : "the default, ~/.docker; set DOCKER_CERT_PATH"}), and ${missing.length === 1 ? "it is" : "they are"} missing`,
    );
  }
  return { kind: "tcp", endpoint, host, port, tls: { dir, files }, fromEnv: true };
}

/** The files OpenSSH reads known host keys from. */
export function knownHostsFiles(env: NodeJS.ProcessEnv): string[] {
  return [path.join(homeDir(env), ".ssh", "known_hosts"), "/etc/ssh/ssh_known_hosts"];
}

function patternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith("|1|")) {
    const [, , salt, hash] = pattern.split("|");
    if (!salt || !hash) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  const regex = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
    "i",
  );
  return regex.test(name);
}

/** Whether a known_hosts line's host patterns name this host (a negated pattern that matches rules it out). */
function hostsMatch(patterns: string, name: string): boolean {
  let matched = false;
  for (const pattern of patterns.split(",")) {
    if (pattern.startsWith("!")) {
      if (patternMatches(pattern.slice(1), name)) return false;
    } else if (patternMatches(pattern, name)) matched = true;
  }
  return matched;
}

export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

/**
 * Checks the key an SSH server presented against known_hosts, as OpenSSH does with StrictHostKeyChecking: a key
 * listed for the host is accepted; an unknown host, a different key or a revoked one is refused, with why.
 */
export function checkHostKey(key: Buffer, host: string, port: number, env: NodeJS.ProcessEnv): { ok: true } | { ok: false; why: string } {
  const name = port === 22 ? host : `[${host}]:${port}`;
  const files = knownHostsFiles(env);
  let listed = false;
  let accepted = false;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n")) {
      const fields = line.trim().split(/\s+/);
      if (!fields[0] || fields[0].startsWith("#")) continue;
      const marker = fields[0].startsWith("@") ? fields.shift() : undefined;
      const [patterns, , blob] = fields;
      if (!patterns || !blob || !hostsMatch(patterns, name)) continue;
      const same = Buffer.from(blob, "base64").equals(key);
      if (marker === "@revoked") {
        if (same) return { ok: false, why: `the SSH host key of ${name} (${fingerprint(key)}) is marked revoked in ${file}` };
        continue;
      }
      if (marker) continue;
      listed = true;
      if (same) accepted = true;
    }
  }
  if (accepted) return { ok: true };
  const add = `check its fingerprint (${fingerprint(key)}) and add it with: ssh-keyscan ${port === 22 ? "" : `-p ${port} `}${host} >> ~/.ssh/known_hosts (or ssh to it once)`;
  return listed
    ? {
        ok: false,
        why: `the SSH host key of ${name} (${fingerprint(key)}) is NOT the one in known_hosts: it may have been replaced, or someone is in the middle; if the change is expected, remove the old key (ssh-keygen -R '${name}')`,
      }
    : { ok: false, why: `the SSH host key of ${name} is not in ${files[0]} or ${files[1]}: ${add}` };
}

/** True when a private key file needs a passphrase (OpenSSH or PEM format). */
function encryptedKey(text: string): boolean {
  if (text.includes("ENCRYPTED")) return true;
  const body = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END/.exec(text)?.[1];
  if (!body) return false;
  const raw = Buffer.from(body.replace(/\s+/g, ""), "base64");
  const magic = "openssh-key-v1\0";
  if (raw.subarray(0, magic.length).toString("latin1") !== magic) return false;
  const length = raw.readUInt32BE(magic.length);
  return raw.subarray(magic.length + 4, magic.length + 4 + length).toString("latin1") !== "none";
}

/** The first default identity OpenSSH would offer that needs no passphrase. */
function defaultIdentity(env: NodeJS.ProcessEnv): Buffer | undefined {
  for (const name of ["id_ed25519", "id_ecdsa", "id_rsa"]) {
    try {
      const text = readFileSync(path.join(homeDir(env), ".ssh", name), "utf8");
      if (!encryptedKey(text)) return Buffer.from(text);
    } catch {
      // Not there.
    }
  }
  return undefined;
}

let quieted = false;

/**
 * docker-modem builds an "ssh:HOST:PORT…" address for each request over ssh and parses it with url.parse, which
 * makes Node print a DEP0170 deprecation warning on stderr; the address is not used for the connection. That one
 * warning is dropped, every other one goes through.
 */
function quietSshUrlWarning(): void {
  if (quieted) return;
  quieted = true;
  const emit = process.emitWarning.bind(process);
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const options = rest[0];
    const code = typeof options === "object" && options !== null ? (options as { code?: string }).code : rest[1];
    const text = typeof warning === "string" ? warning : warning.message;
    if (code === "DEP0170" && text.startsWith("The URL ssh:")) return;
    (emit as (...args: unknown[]) => void)(warning, ...rest);
  }) as typeof process.emitWarning;
}

/** Connects dockerode to the engine DOCKER_HOST names (nothing is sent yet). */
export async function connectEngine(env: NodeJS.ProcessEnv): Promise<Engine> {
  const address = engineAddress(env);
  const { default: Docker } = await import("dockerode");
  const make = (options: Dockerode.DockerOptions): Dockerode => {
    try {
      return new Docker(options);
    } catch (error) {
      throw badHost(address.endpoint, `cannot use it: ${(error as Error).message}`);
    }
  };
  if (address.kind === "unix") {
    const { socketPath, endpoint, fromEnv } = address;
    return { docker: make({ socketPath }), endpoint, socketPath, remote: false, fromEnv, transport: "unix socket" };
  }
  if (address.kind === "tcp") {
    const { host, port, tls, endpoint } = address;
    if (!tls) return { docker: make({ host, port, protocol: "http" }), endpoint, remote: true, fromEnv: true, transport: "plain TCP" };
    const read = (file: string) => {
      try {
        return readFileSync(file);
      } catch (error) {
        throw badHost(endpoint, `cannot read ${file}: ${(error as Error).message}`);
      }
    };
    const docker = make({ host, port, protocol: "https", ca: read(tls.files.ca), cert: read(tls.files.cert), key: read(tls.files.key) });
    return { docker, endpoint, remote: true, fromEnv: true, transport: `TCP with TLS (certificates from ${tls.dir})` };
  }
  const { host, port, username, endpoint } = address;
  quietSshUrlWarning();
  const engine: Engine = { docker: undefined as unknown as Dockerode, endpoint, remote: true, fromEnv: true, transport: "SSH (docker system dial-stdio)" };
  const privateKey = defaultIdentity(env);
  engine.docker = make({
    protocol: "ssh",
    host,
    port,
    username,
    sshOptions: {
      agent: env.SSH_AUTH_SOCK || undefined,
      privateKey,
      readyTimeout: 15_000,
      hostVerifier: (key: Buffer) => {
        const verdict = checkHostKey(key, host, port, env);
        if (!verdict.ok) engine.hostKeyRefusal = verdict.why;
        return verdict.ok;
      },
    },
  });
  return engine;
}

interface EngineFailure {
  code?: string;
  level?: string;
  statusCode?: number;
  json?: { message?: string };
  reason?: string;
  message?: string;
}

/** The engine's own message for a failed API call, without dockerode's "(HTTP code 404) no such container -" prefix. */
export function engineMessage(error: unknown): string {
  const failure = error as EngineFailure;
  const said = failure.json?.message ?? failure.message ?? String(error);
  return said.replace(/^\(HTTP code \d+\)\s*[^-]*-\s*/, "").trim();
}

type EngineWhere = Pick<Engine, "endpoint" | "socketPath" | "remote" | "fromEnv" | "hostKeyRefusal">;

/** "unix:///x.sock (DOCKER_HOST)": which engine, and that the environment chose it. */
function where(engine: EngineWhere): string {
  return engine.fromEnv ? `${engine.endpoint} (DOCKER_HOST)` : engine.endpoint;
}

const UNREACHABLE = new Set(["ECONNREFUSED", "ENOENT", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "EPIPE"]);
const TLS_FAILURE = /^(ERR_TLS_|ERR_SSL_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_|CERT_|ERR_OSSL_)/;

/** Failures that mean "no engine to talk to": nothing ran, exit 6, and how to fix it. */
export function unavailableError(error: unknown, engine: EngineWhere): EnvironmentError | undefined {
  const failure = (error ?? {}) as EngineFailure;
  const code = failure.code;
  const details = { endpoint: engine.endpoint };
  if (engine.hostKeyRefusal) {
    return new EnvironmentError(`Docker engine at ${where(engine)} refused: ${engine.hostKeyRefusal}`, details, error);
  }
  if (code === "EACCES" || code === "EPERM") {
    const socket = engine.socketPath ?? engine.endpoint;
    return new EnvironmentError(
      `Permission denied: ${socket}: this user may not use the Docker engine; add it to the docker group (sudo usermod -aG docker $USER, then log in again) or set DOCKER_HOST`,
      details,
      error,
    );
  }
  if (failure.level === "client-authentication") {
    return new EnvironmentError(
      `Docker engine at ${where(engine)}: SSH login refused (${failure.message}): offer a key the server accepts through ssh-agent (SSH_AUTH_SOCK) or an unencrypted ~/.ssh/id_ed25519, id_ecdsa or id_rsa`,
      details,
      error,
    );
  }
  if (failure.level === "client-timeout" || failure.level === "handshake" || failure.level === "protocol") {
    return new EnvironmentError(`Docker engine at ${where(engine)}: SSH connection failed (${failure.message})`, details, error);
  }
  if (code && TLS_FAILURE.test(code)) {
    return new EnvironmentError(
      `Docker engine at ${where(engine)}: TLS failed (${code}: ${failure.message}): check ca.pem, cert.pem and key.pem in DOCKER_CERT_PATH against the engine's certificate`,
      details,
      error,
    );
  }
  if (code && UNREACHABLE.has(code)) {
    const fix = engine.remote
      ? `check the address, that the engine answers there (docker -H ${engine.endpoint} info) and, over ssh, that the docker CLI is installed on that host`
      : "start it (sudo systemctl start docker, or dockerd) and check with: docker info; or set DOCKER_HOST";
    return new EnvironmentError(`Docker daemon not available at ${engine.endpoint} (${engine.fromEnv ? "DOCKER_HOST, " : ""}${code}): ${fix}`, details, error);
  }
  return undefined;
}

/** Pings the engine, mapping "not there" and "not allowed" to their own errors. */
export async function pingEngine(engine: Engine): Promise<void> {
  try {
    await engine.docker.ping();
  } catch (error) {
    throw (
      unavailableError(error, engine) ??
      new EnvironmentError(`Docker engine at ${where(engine)} does not answer: ${engineMessage(error)}`, { endpoint: engine.endpoint }, error)
    );
  }
}

export interface EngineVersions {
  engine: string;
  apiVersion: string;
  os: string;
  runc?: string;
  containerd?: string;
}

export async function engineVersions(engine: Engine): Promise<EngineVersions> {
  const version = (await engine.docker.version()) as Dockerode.DockerVersion & { Components?: Array<{ Name: string; Version: string }> };
  const component = (name: string) => version.Components?.find((c) => c.Name.toLowerCase() === name)?.Version;
  return {
    engine: version.Version,
    apiVersion: version.ApiVersion,
    os: `${version.Os}/${version.Arch}`,
    runc: component("runc"),
    containerd: component("containerd"),
  };
}

/** runc before 1.1.12 has the "Leaky Vessels" container escape (CVE-2024-21626). */
export const MINIMUM_RUNC = "1.1.12";

/** Compares dotted versions numerically, ignoring suffixes such as "+ds1" or "-rc.1". */
export function versionAtLeast(version: string, minimum: string): boolean {
  const parts = (v: string) =>
    v
      .replace(/^v/, "")
      .split(/[+~-]/)[0]!
      .split(".")
      .map((p) => Number.parseInt(p, 10) || 0);
  const a = parts(version);
  const b = parts(minimum);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}
