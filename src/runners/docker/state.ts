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
    const init = await engine.docker.createContainer({ Image: STATE_INIT_IMAGE, Cmd: ["none"], NetworkDisabled: true, HostConfig: { NetworkMode: "none", Mounts: [{ Type: "volume", Source: name, Target: "/state" }] } });
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
