/**
 * Per-tool state: one Docker volume per tool (and per toolctl home), mounted read-write at /state and kept
 * across runs. Docker's local volumes have no size limit, so the quota is checked before each run against the
 * size the engine reports: a run that would start over it is refused with a way out.
 */
import type { Engine } from "./engine.js";
import { engineMessage, unavailableError } from "./engine.js";
import { LABEL, SANDBOX_USER } from "./container.js";
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
 * Enforces the quota while the container runs (local volumes have no size limit of their own): twice a second
 * the size of /state is measured inside the container (`du`, as the sandbox user), or, in an image without `du`,
 * as the engine reports it; past the quota, `onExceeded` kills the container. A run can therefore overshoot by
 * what it writes between two checks, and no further.
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
  const measureInside = async (): Promise<number | undefined> => {
    const exec = (await container.exec({ Cmd: ["du", "-sk", "/state"], AttachStdout: true, AttachStderr: true, User: SANDBOX_USER })) as {
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
    if (ExitCode !== 0 || !match) {
      if (ExitCode === 126 || ExitCode === 127 || ExitCode === null) withDu = false;
      return undefined;
    }
    return Number(match[1]) * 1024;
  };
  const check = async () => {
    if (stopped) return;
    let used: number | undefined;
    try {
      used = withDu ? await measureInside() : await volumeUsage(engine, volume);
    } catch {
      // "executable file not found" comes back as an error from exec: measure through the engine from now on.
      if (withDu) withDu = false;
    }
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
