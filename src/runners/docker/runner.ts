/**
 * The `docker` runtime, and `process` tools run with `--sandbox docker`: the action's argv (a template, no
 * shell) runs in a fresh hardened container of the tool's image; input is JSON on stdin, output JSON or text
 * on stdout. Preflight (before anyone approves) checks the engine, the image and the state quota.
 */
import { createHash } from "node:crypto";
import path from "node:path";
import { effectivePermissions } from "../../domain/permissions.js";
import { EnvironmentError, PolicyError, UsageError } from "../../errors.js";
import { isAlive } from "../../util/process.js";
import { isWithinPath, keyMaterialAt, realOrResolved } from "../key-material.js";
import { decodeOutput, exitedWith, programOutput, renderArgv, renderEnv, unclearEnding } from "../process/invocation.js";
import { signalOfExitCode } from "../process/processes.js";
import { daemonSocketsAt, dotenvFilesIn } from "../process/sandbox.js";
import type { Prepared, PreflightHooks, RunContext, RunResult, Runner } from "../types.js";
import { ContainerStartError, describeContainer, runContainer, sweepOrphans, type ContainerPlan } from "./container.js";
import { connectEngine, engineAddress, engineMessage, unavailableError, type Engine, type EngineAddress } from "./engine.js";
import { ensureStateVolume, stateVolumeName, volumeUsage, watchVolume } from "./state.js";

const MB = 1024 * 1024;

/** A short, stable id of the toolctl home: two homes never share a tool's state. */
export function homeId(home: string): string {
  return createHash("sha256").update(path.resolve(home)).digest("hex").slice(0, 10);
}

function megabytes(bytes: number): string {
  return `${(bytes / MB).toFixed(1)} MB`;
}

/** Makes sure the image is there, pulling it (with progress) when allowed. */
async function ensureImage(engine: Engine, image: string, pull: boolean, hooks: PreflightHooks): Promise<void> {
  try {
    await engine.docker.getImage(image).inspect();
    return;
  } catch (error) {
    const unavailable = unavailableError(error, engine);
    if (unavailable) throw unavailable;
    if ((error as { statusCode?: number }).statusCode !== 404) throw new EnvironmentError(`cannot inspect image ${image}: ${engineMessage(error)}`, {}, error);
  }
  const build = "build it locally (the example images: npm run images) or load it with docker load";
  if (!pull) throw new EnvironmentError(`image ${image} is not present and pulling is off (docker.pull: false): ${build}`, { image });
  hooks.status?.(`pulling image ${image}…`);
  try {
    const stream = await engine.docker.pull(image);
    await new Promise<void>((resolve, reject) => {
      const layers = new Map<string, { current: number; total: number }>();
      engine.docker.modem.followProgress(
        stream,
        (error: Error | null) => (error ? reject(error) : resolve()),
        (event: { id?: string; progressDetail?: { current?: number; total?: number } }) => {
          if (event.id && event.progressDetail?.total) layers.set(event.id, { current: event.progressDetail.current ?? 0, total: event.progressDetail.total });
          const total = [...layers.values()].reduce((sum, layer) => sum + layer.total, 0);
          const current = [...layers.values()].reduce((sum, layer) => sum + layer.current, 0);
          if (total > 0) hooks.status?.(`pulling image ${image}: ${megabytes(current)} of ${megabytes(total)} (${Math.floor((100 * current) / total)}%)`);
        },
      );
    });
  } catch (error) {
    throw (
      unavailableError(error, engine) ??
      new EnvironmentError(`image ${image} is not present and could not be pulled (${engineMessage(error)}): ${build}`, { image }, error)
    );
  }
}

export const dockerRunner: Runner = {
  prepare(context: RunContext): Prepared {
    const { tool, action, input, secrets } = context;
    const definition = tool.definition;
    const spec = action.definition;
    const image = definition.image!;
    const permissions = effectivePermissions(definition.permissions);
    // A process tool's own files are mounted read-only at /tool; `{{ tool.dir }}` points there.
    const toolDir = tool.runtime === "process" && tool.sourcePath ? path.dirname(tool.sourcePath) : undefined;
    if (toolDir) {
      // Mounted whole: a directory that holds the toolctl home or the user's keys would hand them to the container.
      const dir = realOrResolved(toolDir);
      const keys = keyMaterialAt(dir, context.env);
      if (isWithinPath(realOrResolved(context.home), dir) || keys !== undefined) {
        throw new PolicyError(
          "policy_refused",
          `tool ${tool.name}'s directory ${toolDir} holds ${keys ?? "the toolctl home"}; it cannot be mounted into a container: move the manifest and its files to a directory of their own`,
        );
      }
      // A unix socket can be connected to through a read-only mount: a daemon's would be the container's.
      const sockets = daemonSocketsAt(dir, context.env);
      if (sockets !== undefined) {
        throw new PolicyError(
          "policy_refused",
          `tool ${tool.name}'s directory ${toolDir} holds ${sockets}, where a daemon's socket is; it cannot be mounted into a container: move the manifest and its files to a directory of their own`,
        );
      }
    }
    // The .env files beside the manifest (and toolctl's own, when it is there) read as empty at /tool, as in bubblewrap.
    const processCwd = toolDir && definition.process?.cwd ? path.resolve(toolDir, definition.process.cwd) : undefined;
    // It starts where it would start on the host, as the container sees it: its directory, or process.cwd inside it.
    let workdir: string | undefined;
    if (toolDir) {
      const within = path.relative(realOrResolved(toolDir), realOrResolved(processCwd ?? toolDir));
      if (within.startsWith("..") || path.isAbsolute(within)) {
        throw new UsageError(
          `tool ${tool.name}'s working directory ${processCwd} (process.cwd) lies outside its directory ${toolDir}, which is all a container sees (at /tool): run it with --sandbox none, or set process.cwd to a directory inside its own`,
        );
      }
      workdir = path.posix.join("/tool", within.split(path.sep).join("/"));
    }
    const hiddenFiles = toolDir
      ? dotenvFilesIn(toolDir, [toolDir, context.cwd, ...(processCwd ? [processCwd] : [])]).map((file) =>
          path.posix.join("/tool", path.relative(realOrResolved(toolDir), file).split(path.sep).join("/")),
        )
      : [];
    // Where the container would run; a DOCKER_HOST that cannot be used is reported by preflight.
    let address: EngineAddress | undefined;
    try {
      address = engineAddress(context.env);
    } catch (error) {
      // Plain TCP to another host is refused here, dry runs included; a malformed value is preflight's to report.
      if (error instanceof PolicyError) throw error;
      address = undefined;
    }
    if (toolDir && address && address.kind !== "unix") {
      // A bind mount names a path on the engine's machine: on a remote engine it would not be this directory.
      throw new PolicyError(
        "policy_refused",
        `tool ${tool.name}'s directory ${toolDir} cannot be mounted at /tool: the engine at DOCKER_HOST=${address.endpoint} is remote and cannot see this machine's files; run it with --sandbox none, or on a local engine (unset DOCKER_HOST, or a unix:// socket)`,
        { endpoint: address.endpoint },
      );
    }
    const scope = { input, secrets, tool: { name: tool.name, dir: toolDir ? "/tool" : "" } };
    const command = spec.command ? renderArgv(spec.command, scope) : undefined;
    const env: Record<string, string> = spec.env ? renderEnv(spec.env, scope) : {};
    const volume = permissions.storageMb > 0 ? stateVolumeName(tool.name, homeId(context.home)) : undefined;
    const plan: ContainerPlan = {
      image,
      command,
      env,
      permissions,
      stateVolume: volume,
      toolDir,
      hiddenFiles,
      workdir,
      labels: { "io.toolctl.tool": tool.name, "io.toolctl.action": action.name, "io.toolctl.execution": context.executionId },
      timeoutSeconds: spec.timeoutSeconds ?? definition.permissions?.timeoutSeconds ?? definition.process?.timeoutSeconds ?? permissions.timeoutSeconds,
    };
    const stdin = spec.stdin === "json" ? JSON.stringify(input) : undefined;
    let engine: Engine | undefined;

    return {
      description: {
        ...describeContainer(plan),
        stdin: stdin === undefined ? "none" : "input as JSON",
        output: spec.output,
        ...(address ? { engine: address.endpoint } : {}),
      },
      async preflight(hooks) {
        const connected = await connectEngine(context.env);
        engine = connected;
        // Independent checks go together: each call maps "no engine" and "not allowed" to its own error. They only
        // look: the state volume is made once they have passed, so a run refused here leaves nothing in the engine.
        const quota = async () => {
          if (!volume) return;
          // No volume yet is an empty one.
          const used = await volumeUsage(connected, volume).catch(() => undefined);
          if (used !== undefined && used > permissions.storageMb * MB) {
            throw new PolicyError(
              "policy_refused",
              `volume quota exceeded: ${tool.name}'s /state holds ${megabytes(used)} of its ${permissions.storageMb} MB; clear it with: toolctl tool clear-state ${tool.name}, or raise permissions.storageMb in its manifest, re-import and approve`,
            );
          }
        };
        const checks = await Promise.allSettled([ensureImage(connected, image, context.pullImages, hooks), quota(), sweepOrphans(connected, isAlive)]);
        // The engine's absence first, then the image, then the quota; a failed sweep only leaves orphans for later.
        const failures = checks.slice(0, 2).flatMap((check) => (check.status === "rejected" ? [check.reason as unknown] : []));
        const unavailable = failures.find((failure) => failure instanceof EnvironmentError && failure.details.endpoint !== undefined);
        if (unavailable ?? failures[0]) throw unavailable ?? failures[0];
        if (volume) await ensureStateVolume(connected, volume, { "io.toolctl.tool": tool.name, "io.toolctl.home": homeId(context.home) });
      },
      async run(hooks): Promise<RunResult> {
        engine ??= await connectEngine(context.env);
        const ambiguous = !(spec.idempotent ?? spec.kind === "read");
        let outcome;
        try {
          const connected = engine;
          const watchState = volume
            ? (container: { id: string; exec(options: object): Promise<unknown> }, kill: () => void) =>
                watchVolume(connected, container, volume, permissions.storageMb * MB, kill)
            : undefined;
          outcome = await runContainer(engine, plan, { signal: hooks.signal, stdin, watchState });
        } catch (error) {
          // Not created or not started: nothing ran.
          if (error instanceof ContainerStartError || error instanceof EnvironmentError) {
            const reason = error instanceof EnvironmentError ? error.message : `${error.message}${error.missingImage ? `; build or pull ${image}` : ""}`;
            return { outcome: "failed", errorCategory: "environment", error: context.redact(reason), details: { started: false }, nothingRan: true };
          }
          throw error;
        }
        const stderr = context.redact(outcome.stderr);
        const { resources } = outcome;
        const details = {
          container: outcome.containerId.slice(0, 12),
          exitCode: outcome.exitCode,
          durationMs: resources.durationMs,
          peakMemoryBytes: resources.peakMemoryBytes,
          cpuTimeMs: resources.cpuTimeMs,
          stderr: stderr.slice(-2000) || undefined,
        };
        const unclear = unclearEnding(ambiguous, details);
        const withResources = (result: RunResult): RunResult => ({ ...result, resources });
        if (outcome.timedOut) {
          return withResources({
            outcome: ambiguous ? "unknown" : "failed",
            errorCategory: "timeout",
            details,
            error: `timed out after ${plan.timeoutSeconds}s: the container was killed and removed${ambiguous ? "; it may have done part of its work" : ""}`,
          });
        }
        if (outcome.quotaExceededBytes !== undefined) {
          return withResources(
            unclear(
              `/state grew past its ${permissions.storageMb} MB quota (${megabytes(outcome.quotaExceededBytes)} when measured): the container was killed and removed; clear it with: toolctl tool clear-state ${tool.name}, or raise permissions.storageMb`,
              "resource_limit",
            ),
          );
        }
        if (outcome.interrupted) return withResources(unclear("interrupted: the container was killed and removed", "other"));
        if (outcome.oomKilled)
          return withResources(unclear(`the container was OOM-killed at its memory limit of ${permissions.memoryMb} MB`, "resource_limit"));
        if (outcome.outputTooLarge) return withResources(unclear("the container's output exceeded 10 MB and it was killed", "resource_limit"));
        // The program runs under docker-init, which reports its death by a signal as 128 + the signal's number.
        const signalled = signalOfExitCode(outcome.exitCode);
        if (signalled === "SIGKILL") return withResources(unclear("the container was killed (SIGKILL)", "other"));
        if (signalled !== undefined) return withResources(unclear(`the container's program was killed by ${signalled}`, "other"));
        const stdout = decodeOutput(outcome.stdout);
        if (outcome.exitCode !== 0) return withResources(exitedWith(outcome.exitCode ?? -1, stderr, stdout.text, context, details, "container"));
        return withResources(programOutput(stdout, spec.output, context, details, unclear, "container"));
      },
    };
  },
};
