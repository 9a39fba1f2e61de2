/**
 * Per-tool state: one Docker volume per tool (and per toolctl home), mounted read-write at /state and kept
 * across runs. Docker's local volumes have no size limit, so the quota is checked before each run against the
 * size the engine reports: a run that would start over it is refused with a way out.
 */
import type { Engine } from "./engine.js";
import { engineMessage, unavailableError } from "./engine.js";
import { LABEL, ownerLabels, SANDBOX_USER } from "./container.js";
import { EnvironmentError } from "../../errors.js";

/**
 * A new volume is owned by root, and containers run as nobody. Docker copies an image's directory (content and
 * owner) into an empty volume the first time it is mounted there, so a tiny image whose /state belongs to
 * nobody gives every new volume the right owner. It is built locally, from nothing: no registry is involved.
 */
export const STATE_INIT_IMAGE = "toolctl/state-init:1";

export function stateVolumeName(tool: string, homeId: string): string {
  return `toolctl-state-${tool}-${homeId}`;
}

async function stateInitTar(): Promise<Buffer> {
  // CommonJS: the bundle exposes it as the default export.
  const tar = await import("tar-stream");
  const { pack } = ("default" in tar ? tar.default : tar) as typeof tar;
  const [uid, gid] = SANDBOX_USER.split(":").map(Number) as [number, number];
  const archive = pack();
  archive.entry({ name: "state/", type: "directory", mode: 0o755, uid, gid });
  archive.entry({ name: "state/.toolctl-state", mode: 0o644, uid, gid }, "state of one toolctl tool, kept across its runs\n");
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function ensureInitImage(engine: Engine): Promise<void> {
  try {
    await engine.docker.getImage(STATE_INIT_IMAGE).inspect();
    return;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  }
  const [repo, tag] = STATE_INIT_IMAGE.split(":") as [string, string];
  const { Readable } = await import("node:stream");
  const stream = await engine.docker.importImage(Readable.from([await stateInitTar()]), { repo, tag });
  await new Promise<void>((resolve, reject) => engine.docker.modem.followProgress(stream, (error: Error | null) => (error ? reject(error) : resolve())));
}

/** Creates the tool's volume the first time, owned by the sandbox user. */
export async function ensureStateVolume(engine: Engine, name: string, labels: Record<string, string>): Promise<void> {
  try {
    try {
      await engine.docker.getVolume(name).inspect();
      return;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    }
    await ensureInitImage(engine);
    await engine.docker.createVolume({ Name: name, Labels: { [LABEL]: "1", ...labels } });
    // Created, never started: mounting the empty volume is what copies /state (and its owner) in.
    const init = await engine.docker.createContainer({
      Image: STATE_INIT_IMAGE,
      Cmd: ["none"],
      // Labelled like a run's container: if toolctl is killed before it is removed, the next sweep removes it.
      Labels: ownerLabels(),
      NetworkDisabled: true,
      HostConfig: { NetworkMode: "none", Mounts: [{ Type: "volume", Source: name, Target: "/state" }] },
    });
    await init.remove({ force: true });
  } catch (error) {
    throw unavailableError(error, engine) ?? new EnvironmentError(`cannot prepare the state volume ${name}: ${engineMessage(error)}`, {}, error);
  }
}

/** Bytes used in the volume, as the engine measures them; undefined when it does not exist or cannot say. */
export async function volumeUsage(engine: Engine, name: string): Promise<number | undefined> {
  const df = (await engine.docker.df()) as { Volumes?: Array<{ Name: string; UsageData?: { Size: number } }> };
  const size = df.Volumes?.find((volume) => volume.Name === name)?.UsageData?.Size;
  return size === undefined || size < 0 ? undefined : size;
}

/** Removes the volume; false when there was none. */
export async function removeStateVolume(engine: Engine, name: string): Promise<boolean> {
  try {
    await engine.docker.getVolume(name).remove({ force: true });
    return true;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return false;
    throw unavailableError(error, engine) ?? new EnvironmentError(`cannot remove the state volume ${name}: ${engineMessage(error)}`, {}, error);
  }
}

/** How often the size of /state is checked while a container runs. */
const WATCH_INTERVAL_MS = 500;

export interface VolumeWatch {
  stop(): void;
  /** The size that went over the quota, once it did. */
  exceeded(): number | undefined;
}

/**
 * Where `du` is looked for inside the container: the image's own directories, on its read-only root. Never the
 * container's PATH, which the manifest sets and could start at /state, where the tool could put a `du` of its own;
 * nor its LD_PRELOAD or LD_LIBRARY_PATH, for the same reason.
 */
const MEASURE_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LD_PRELOAD=", "LD_LIBRARY_PATH="];

/**
 * Enforces the quota while the container runs (local volumes have no size limit of their own): twice a second
 * the size of /state is measured inside the container (`du`, as the sandbox user), or, in an image without `du`,
 * as the engine reports it; past the quota, `onExceeded` kills the container. Once `du` cannot measure all of
 * /state (a directory the sandbox user cannot read, made by the tool) the engine measures it from then on, since a
 * partial count would let the rest grow unseen. A run can therefore overshoot by what it writes between two
 * checks, and no further.
 */
export function watchVolume(
  engine: Engine,
  container: { id: string; exec(options: object): Promise<unknown> },
  volume: string,
  limitBytes: number,
  onExceeded: () => void,
): VolumeWatch {
  let stopped = false;
  let over: number | undefined;
  let withDu = true;
  let timer: NodeJS.Timeout | undefined;
  /** /state's size as `du` counts it; undefined when it could not count all of it. */
  const measureInside = async (): Promise<number | undefined> => {
    const exec = (await container.exec({
      Cmd: ["du", "-sk", "/state"],
      Env: MEASURE_ENV,
      AttachStdout: true,
      AttachStderr: true,
      User: SANDBOX_USER,
    })) as {
      start(options: object): Promise<NodeJS.ReadableStream>;
      inspect(): Promise<{ ExitCode: number | null }>;
    };
    const stream = await exec.start({ hijack: true, stdin: false });
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    await new Promise((resolve) => {
      stream.on("end", resolve);
      stream.on("close", resolve);
      stream.on("error", resolve);
    });
    const { ExitCode } = await exec.inspect();
    // The stream is multiplexed (8-byte frame headers); the number is all that matters in it.
    const match = /(\d+)\s+\/state/.exec(Buffer.concat(chunks).toString("latin1"));
    return ExitCode === 0 && match ? Number(match[1]) * 1024 : undefined;
  };
  const check = async () => {
    if (stopped) return;
    let used: number | undefined;
    if (withDu) {
      // "executable file not found" comes back as an error from exec, or as exit code 126 or 127.
      used = await measureInside().catch(() => undefined);
      // No `du`, or one that could not count everything: the engine measures it, now and from then on.
      if (used === undefined) withDu = false;
    }
    if (!withDu) used = await volumeUsage(engine, volume).catch(() => undefined);
    if (stopped) return;
    if (used !== undefined && used > limitBytes) {
      over = used;
      stopped = true;
      onExceeded();
      return;
    }
    timer = setTimeout(check, withDu ? WATCH_INTERVAL_MS : WATCH_INTERVAL_MS * 4);
  };
  timer = setTimeout(check, WATCH_INTERVAL_MS);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
    exceeded: () => over,
  };
}
