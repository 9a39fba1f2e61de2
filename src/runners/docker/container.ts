/**
 * One fresh, locked-down container per execution: created, attached, started, fed its input, waited for
 * (or killed at the timeout or on Ctrl-C), inspected and always removed. The hardening is not optional:
 * reliability.md §5.5 is the default, and only a grant adds network or raises the limits.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { PassThrough } from "node:stream";
import type Dockerode from "dockerode";
import type { Permissions } from "../../domain/permissions.js";
import { engineMessage, unavailableError, type Engine } from "./engine.js";

/** The unprivileged user every container runs as (nobody:nogroup). */
export const SANDBOX_USER = "65534:65534";
const MiB = 1024 * 1024;
const TMPFS = "rw,noexec,nosuid,nodev,size=64m";
export const MAX_OUTPUT_BYTES = 10 * MiB;
export const LABEL = "io.toolctl";

/**
 * The labels every container toolctl makes carries: this process and host, so that one left behind when toolctl is
 * killed is removed by the next Docker run here (`sweepOrphans`).
 */
export function ownerLabels(): Record<string, string> {
  return { [LABEL]: "1", [`${LABEL}.pid`]: String(process.pid), [`${LABEL}.host`]: hostname() };
}

export interface ContainerPlan {
  image: string;
  /** The argv; undefined keeps the image's own command. */
  command?: string[];
  env: Record<string, string>;
  permissions: Permissions;
  /** The tool's state volume, mounted read-write at /state. */
  stateVolume?: string;
  /** A host directory mounted read-only at /tool (a process tool's own files). */
  toolDir?: string;
  /** Files under /tool that read as empty (/dev/null mounted over them): the .env files secrets are kept in. */
  hiddenFiles?: string[];
  /** Where the command starts (a process tool's working directory, under /tool); undefined keeps the image's. */
  workdir?: string;
  labels: Record<string, string>;
  timeoutSeconds: number;
}

/** What a dry run shows: exactly the container that would be created. */
export function describeContainer(plan: ContainerPlan): Record<string, unknown> {
  const { permissions } = plan;
  return {
    runtime: "docker",
    image: plan.image,
    command: plan.command ?? "(the image's own command)",
    ...(plan.workdir ? { workdir: plan.workdir } : {}),
    user: SANDBOX_USER,
    network: permissions.network ? "bridge (outbound allowed)" : "none",
    readOnlyRoot: true,
    tmpfs: { "/tmp": TMPFS },
    capabilities: "all dropped",
    noNewPrivileges: true,
    limits: { memoryMb: permissions.memoryMb, swap: "none", cpus: permissions.cpus, pids: permissions.pids },
    mounts: [
      ...(plan.stateVolume ? [{ type: "volume", source: plan.stateVolume, target: "/state", quotaMb: permissions.storageMb }] : []),
      ...(plan.toolDir ? [{ type: "bind", source: plan.toolDir, target: "/tool", readOnly: true }] : []),
      ...(plan.hiddenFiles ?? []).map((target) => ({ type: "bind", source: "/dev/null", target, readOnly: true })),
    ],
    env: Object.keys(plan.env).sort(),
    timeoutSeconds: plan.timeoutSeconds,
  };
}

export function createOptions(plan: ContainerPlan, stdin: boolean): Dockerode.ContainerCreateOptions {
  const { permissions } = plan;
  const mounts: Dockerode.MountSettings[] = [];
  if (plan.stateVolume) mounts.push({ Type: "volume", Source: plan.stateVolume, Target: "/state", ReadOnly: false });
  if (plan.toolDir) mounts.push({ Type: "bind", Source: plan.toolDir, Target: "/tool", ReadOnly: true });
  // After /tool, so they cover its files.
  for (const target of plan.hiddenFiles ?? []) mounts.push({ Type: "bind", Source: "/dev/null", Target: target, ReadOnly: true });
  return {
    Image: plan.image,
    Cmd: plan.command,
    ...(plan.workdir ? { WorkingDir: plan.workdir } : {}),
    Env: Object.entries(plan.env).map(([key, value]) => `${key}=${value}`),
    User: SANDBOX_USER,
    AttachStdin: stdin,
    OpenStdin: stdin,
    StdinOnce: stdin,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    NetworkDisabled: !permissions.network,
    Labels: { ...plan.labels, ...ownerLabels() },
    HostConfig: {
      NetworkMode: permissions.network ? "bridge" : "none",
      ReadonlyRootfs: true,
      Tmpfs: { "/tmp": TMPFS },
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      Privileged: false,
      PidsLimit: permissions.pids,
      Memory: permissions.memoryMb * MiB,
      MemorySwap: permissions.memoryMb * MiB,
      NanoCpus: Math.round(permissions.cpus * 1e9),
      IpcMode: "private",
      Init: true,
      Mounts: mounts,
      // Output is read through the attach stream; nothing needs to be kept in the engine's logs.
      LogConfig: { Type: "none", Config: {} },
    },
  };
}

export interface ResourceUse {
  peakMemoryBytes: number | null;
  cpuTimeMs: number | null;
  durationMs: number;
}

export interface ContainerOutcome {
  exitCode: number | null;
  /** As bytes: the runner decodes it and says when it was not UTF-8. */
  stdout: Buffer;
  stderr: string;
  oomKilled: boolean;
  timedOut: boolean;
  interrupted: boolean;
  outputTooLarge: boolean;
  /** /state grew past its quota while the container ran, and it was killed: the size it had reached. */
  quotaExceededBytes?: number;
  containerId: string;
  resources: ResourceUse;
}

/**
 * Peak memory and CPU time, read from the container's cgroup while it runs (v1 and v2, cgroupfs and systemd
 * drivers). The cgroup disappears with the container, so the last reading stands; it needs a local engine.
 */
function sampleCgroup(id: string): { sample(): void; result(): Pick<ResourceUse, "peakMemoryBytes" | "cpuTimeMs"> } {
  const roots = [`docker/${id}`, `system.slice/docker-${id}.scope`];
  const candidates = {
    memory: roots.flatMap((r) => [`/sys/fs/cgroup/memory/${r}/memory.max_usage_in_bytes`, `/sys/fs/cgroup/${r}/memory.peak`]),
    cpu: roots.flatMap((r) => [`/sys/fs/cgroup/cpuacct/${r}/cpuacct.usage`, `/sys/fs/cgroup/cpu,cpuacct/${r}/cpuacct.usage`, `/sys/fs/cgroup/${r}/cpu.stat`]),
  };
  let memoryFile: string | undefined;
  let cpuFile: string | undefined;
  let peak: number | null = null;
  let cpu: number | null = null;
  const read = (file: string): string | undefined => {
    try {
      return readFileSync(file, "utf8");
    } catch {
      return undefined;
    }
  };
  return {
    sample() {
      memoryFile ??= candidates.memory.find((file) => read(file) !== undefined);
      cpuFile ??= candidates.cpu.find((file) => read(file) !== undefined);
      const memory = memoryFile ? read(memoryFile) : undefined;
      if (memory !== undefined) peak = Math.max(peak ?? 0, Number.parseInt(memory, 10) || 0);
      const cpuText = cpuFile ? read(cpuFile) : undefined;
      if (cpuText !== undefined) {
        const usec = /usage_usec (\d+)/.exec(cpuText);
        cpu = usec ? Number(usec[1]) / 1000 : Number(cpuText.trim()) / 1e6;
      }
    },
    result: () => ({ peakMemoryBytes: peak, cpuTimeMs: cpu === null ? null : Math.round(cpu) }),
  };
}

export interface RunHooks {
  signal: AbortSignal;
  stdin?: string;
  /** Watches /state while the container runs, and kills it past the quota (state.ts `watchVolume`). */
  watchState?: (container: Dockerode.Container, kill: () => void) => { stop(): void; exceeded(): number | undefined };
}

/** Thrown when the container could not be created or started: nothing ran. */
export class ContainerStartError extends Error {
  constructor(
    message: string,
    readonly missingImage: boolean,
    cause?: unknown,
  ) {
    super(message, { cause });
  }
}

export async function runContainer(engine: Engine, plan: ContainerPlan, hooks: RunHooks): Promise<ContainerOutcome> {
  const { docker } = engine;
  let container: Dockerode.Container;
  try {
    container = await docker.createContainer(createOptions(plan, hooks.stdin !== undefined));
  } catch (error) {
    const unavailable = unavailableError(error, engine);
    if (unavailable) throw unavailable;
    const status = (error as { statusCode?: number }).statusCode;
    throw new ContainerStartError(`cannot create the container: ${engineMessage(error)}`, status === 404, error);
  }
  const started = Date.now();
  const cgroup = engine.socketPath ? sampleCgroup(container.id) : undefined;
  let sampler: NodeJS.Timeout | undefined;
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  let interrupted = false;
  let watch: { stop(): void; exceeded(): number | undefined } | undefined;
  let kill: Promise<void> | undefined;
  const stop = () => {
    kill ??= container.kill({ signal: "SIGKILL" }).then(
      () => undefined,
      () => undefined,
    );
  };
  const onAbort = () => {
    interrupted = true;
    stop();
  };
  try {
    const stream = (await container.attach({
      stream: true,
      stdin: hooks.stdin !== undefined,
      stdout: true,
      stderr: true,
      hijack: hooks.stdin !== undefined,
    })) as NodeJS.ReadWriteStream;
    const stdout = collector();
    const stderr = collector();
    const out = new PassThrough();
    const err = new PassThrough();
    out.on("data", (chunk: Buffer) => stdout.push(chunk, stop));
    err.on("data", (chunk: Buffer) => stderr.push(chunk, stop));
    docker.modem.demuxStream(stream, out, err);
    const ended = new Promise<void>((resolve) => {
      stream.on("end", resolve);
      stream.on("close", resolve);
      stream.on("error", () => resolve());
    });
    try {
      await container.start();
    } catch (error) {
      const unavailable = unavailableError(error, engine);
      if (unavailable) throw unavailable;
      throw new ContainerStartError(`cannot start the container: ${engineMessage(error)}`, false, error);
    }
    if (hooks.signal.aborted) onAbort();
    hooks.signal.addEventListener("abort", onAbort, { once: true });
    timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, plan.timeoutSeconds * 1000);
    if (cgroup) {
      cgroup.sample();
      sampler = setInterval(() => cgroup.sample(), 50);
    }
    watch = hooks.watchState?.(container, stop);
    if (hooks.stdin !== undefined) stream.end(hooks.stdin);
    const waited = (await container.wait()) as { StatusCode?: number };
    clearInterval(sampler);
    watch?.stop();
    // The attach stream ends once the container's output is flushed; wait for it, briefly.
    await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    const inspected = await container.inspect().catch(() => undefined);
    const durationMs = Date.now() - started;
    return {
      exitCode: inspected?.State.ExitCode ?? waited.StatusCode ?? null,
      stdout: stdout.bytes(),
      stderr: stderr.text(),
      oomKilled: inspected?.State.OOMKilled === true,
      timedOut,
      interrupted,
      outputTooLarge: stdout.overflowed || stderr.overflowed,
      quotaExceededBytes: watch?.exceeded(),
      containerId: container.id,
      resources: { ...(cgroup?.result() ?? { peakMemoryBytes: null, cpuTimeMs: null }), durationMs },
    };
  } finally {
    clearTimeout(timer);
    clearInterval(sampler);
    watch?.stop();
    hooks.signal.removeEventListener("abort", onAbort);
    await kill;
    // Always removed, whatever happened: success, failure, timeout or Ctrl-C.
    await container.remove({ force: true, v: false }).catch(() => undefined);
  }
}

function collector() {
  const chunks: Buffer[] = [];
  let size = 0;
  let overflowed = false;
  return {
    push(chunk: Buffer, onOverflow: () => void) {
      if (overflowed) return;
      size += chunk.length;
      if (size > MAX_OUTPUT_BYTES) {
        overflowed = true;
        onOverflow();
        return;
      }
      chunks.push(chunk);
    },
    bytes: () => Buffer.concat(chunks),
    text: () => Buffer.concat(chunks).toString("utf8"),
    get overflowed() {
      return overflowed;
    },
  };
}

/**
 * Removes containers left by toolctl processes on this host that are gone (killed with SIGKILL, or exited on a
 * second Ctrl-C before the container was removed).
 */
export async function sweepOrphans(engine: Engine, isAlive: (pid: number) => boolean): Promise<number> {
  const containers = await engine.docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABEL}.host=${hostname()}`] }) });
  let removed = 0;
  for (const info of containers) {
    const pid = Number(info.Labels[`${LABEL}.pid`]);
    if (!Number.isInteger(pid) || pid === process.pid || isAlive(pid)) continue;
    await engine.docker
      .getContainer(info.Id)
      .remove({ force: true })
      .then(
        () => removed++,
        () => undefined,
      );
  }
  return removed;
}
