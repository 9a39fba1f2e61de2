/**
 * The Docker engine behind dockerode: where it is, whether it answers, and what its failures mean to a user.
 * dockerode is loaded only when a Docker tool actually runs (or `doctor` asks about the engine).
 */
import type Dockerode from "dockerode";
import { EnvironmentError } from "../../errors.js";

export interface Engine {
  docker: Dockerode;
  /** Where the engine is, as a user would write it: unix:///var/run/docker.sock or tcp://host:2376. */
  endpoint: string;
  /** The local socket, when the engine is reached through one (resource sampling needs a local engine). */
  socketPath?: string;
}

const DEFAULT_SOCKET = "/var/run/docker.sock";

export async function connectEngine(env: NodeJS.ProcessEnv): Promise<Engine> {
  const { default: Docker } = await import("dockerode");
  const host = env.DOCKER_HOST?.trim();
  if (!host || host.startsWith("unix://")) {
    const socketPath = host ? host.slice("unix://".length) : DEFAULT_SOCKET;
    return { docker: new Docker({ socketPath }), endpoint: `unix://${socketPath}`, socketPath };
  }
  const url = new URL(host.replace(/^tcp:/, env.DOCKER_TLS_VERIFY ? "https:" : "http:"));
  const certPath = env.DOCKER_CERT_PATH;
  let tls: Pick<Dockerode.DockerOptions, "ca" | "cert" | "key"> = {};
  if (env.DOCKER_TLS_VERIFY && certPath) {
    const { readFileSync } = await import("node:fs");
    const read = (file: string) => readFileSync(`${certPath}/${file}`);
    tls = { ca: read("ca.pem"), cert: read("cert.pem"), key: read("key.pem") };
  }
  const protocol = url.protocol === "https:" ? "https" : "http";
  const docker = new Docker({ host: url.hostname, port: Number(url.port || (protocol === "https" ? 2376 : 2375)), protocol, ...tls });
  return { docker, endpoint: host };
}

interface EngineFailure {
  code?: string;
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

/** Failures that mean "no engine to talk to": nothing ran, exit 6, and how to fix it. */
export function unavailableError(error: unknown, engine: Pick<Engine, "endpoint" | "socketPath">): EnvironmentError | undefined {
  const code = (error as EngineFailure).code;
  if (code === "EACCES" || code === "EPERM") {
    const socket = engine.socketPath ?? engine.endpoint;
    return new EnvironmentError(
      `Permission denied: ${socket}: this user may not use the Docker engine; add it to the docker group (sudo usermod -aG docker $USER, then log in again) or set DOCKER_HOST`,
      { endpoint: engine.endpoint },
      error,
    );
  }
  if (code === "ECONNREFUSED" || code === "ENOENT" || code === "ECONNRESET" || code === "EHOSTUNREACH" || code === "ETIMEDOUT" || code === "ENOTFOUND") {
    return new EnvironmentError(
      `Docker daemon not available at ${engine.endpoint} (${code}): start it (sudo systemctl start docker, or dockerd) and check with: docker info; or set DOCKER_HOST`,
      { endpoint: engine.endpoint },
      error,
    );
  }
  return undefined;
}

/** Pings the engine, mapping "not there" and "not allowed" to their own errors. */
export async function pingEngine(engine: Engine): Promise<void> {
  try {
    await engine.docker.ping();
  } catch (error) {
    throw unavailableError(error, engine) ?? new EnvironmentError(`Docker engine at ${engine.endpoint} does not answer: ${engineMessage(error)}`, {}, error);
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
