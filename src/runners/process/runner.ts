/**
 * The `process` runtime: a local program started with an argv template and no shell, confined with bubblewrap
 * (sandbox.ts). Only allow-listed environment variables pass through; input goes as JSON on stdin; output
 * is JSON or text. The program runs in a process group of its own, and the whole group is killed on timeout,
 * Ctrl-C and SIGTERM: children that outlive their parent cannot keep the run (or its stdout) open.
 */
import type { ChildProcess } from "node:child_process";
import { constants as osConstants } from "node:os";
import path from "node:path";
import type { ProcessSettings } from "../../domain/manifest.js";
import { isSecretKey } from "../../secrets/redact.js";
import { renderValue } from "../../domain/template.js";
import { bubblewrapArgv, chooseConfinement } from "./sandbox.js";
import { decodeOutput, exitedWith, programOutput, renderArgv, unclearEnding } from "./invocation.js";
import type { Prepared, RunContext, RunResult, Runner } from "../types.js";
import { envValue } from "../../util/env.js";

const DEFAULT_SETTINGS: ProcessSettings = { env: ["PATH", "LANG", "TZ"], timeoutSeconds: 30, network: false, readable: [], writable: [] };
const MAX_OUTPUT_BYTES = 10 * 1024 * 1024;
/** Between SIGTERM to the group and SIGKILL: time for a well-behaved program to clean up. */
const KILL_GRACE_MS = 2000;

/** Signals the program's whole process group (it leads one: spawned detached); a group already gone is fine. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone.
  }
}

function signalName(signal: number): string {
  return Object.entries(osConstants.signals).find(([, n]) => n === signal)?.[0] ?? `signal ${signal}`;
}

export const processRunner: Runner = {
  prepare(context: RunContext): Prepared {
    const { tool, action, input, secrets } = context;
    const settings = { ...DEFAULT_SETTINGS, ...tool.definition.process };
    const toolDir = tool.sourcePath ? path.dirname(tool.sourcePath) : process.cwd();
    const scope = { input, secrets, tool: { name: tool.name, dir: toolDir } };
    const spec = action.definition;
    const argv = renderArgv(spec.command!, scope);
    const env: Record<string, string> = {};
    for (const name of settings.env) {
      const value = envValue(context.env, name);
      if (value === undefined) continue;
      env[name] = value;
      if (isSecretKey(name)) context.addSecret(value);
    }
    const extra = (spec.env ? renderValue(spec.env, scope) : {}) as Record<string, unknown>;
    for (const [name, value] of Object.entries(extra)) if (value !== undefined) env[name] = String(value);
    const cwd = settings.cwd ? path.resolve(toolDir, settings.cwd) : toolDir;
    const timeoutSeconds = spec.timeoutSeconds ?? settings.timeoutSeconds;
    const stdin = spec.stdin === "json" ? JSON.stringify(input) : undefined;
    const readable = settings.readable.map((file) => path.resolve(toolDir, file));
    const writable = settings.writable.map((file) => path.resolve(toolDir, file));
    // Decided while preparing, so a dry run says how it would run, and a missing sandbox is known before approval.
    const confinement = chooseConfinement(context.processConfinement, context.env.PATH);
    const bwrapArgs = confinement.bwrap
      ? bubblewrapArgv({
          bwrap: confinement.bwrap,
          argv,
          cwd,
          toolDir,
          toolctlHome: context.home,
          toolctlCwd: context.cwd,
          network: settings.network,
          readable,
          writable,
          env: context.env,
          programPath: env.PATH,
        })
      : undefined;
    const warnings = confinement.unconfined
      ? [`${tool.name} runs unconfined (${confinement.unconfined}): it can read everything you can, toolctl's keys included`]
      : [];

    return {
      description: {
        runtime: "process",
        argv,
        cwd,
        env: Object.keys(env).sort(),
        stdin: spec.stdin === "json" ? "input as JSON" : "none",
        output: spec.output,
        timeoutSeconds,
        confinement: confinement.bwrap
          ? {
              by: "bubblewrap",
              network: settings.network,
              readable,
              writable,
              hidden: "the toolctl home, your home directory, key material, the session bus, /run and the daemons' sockets, the .env files",
            }
          : { by: "none", why: confinement.unconfined },
      },
      warnings,
      async run(hooks): Promise<RunResult> {
        // execa is loaded only when a process actually runs: it is heavy, and most commands never need it.
        const { execa } = await import("execa");
        const started = Date.now();
        // bubblewrap reports on fd 3 how the program ended ("exit-code"): without that line, and not stopped by us,
        // the sandbox could not be built or the program not started, so nothing ran.
        const [file, args] = bwrapArgs ? [confinement.bwrap!, [...bwrapArgs, "--json-status-fd", "3", "--", ...argv]] : [argv[0]!, argv.slice(1)];
        const child = execa(file, args, {
          cwd,
          env,
          extendEnv: false,
          input: stdin,
          stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe", bwrapArgs ? "pipe" : "ignore"],
          detached: true,
          reject: false,
          shell: false,
          maxBuffer: MAX_OUTPUT_BYTES,
          // Bytes, decoded here: whether stdout was UTF-8 is worth saying (./invocation.ts).
          encoding: "buffer",
          stripFinalNewline: false,
          windowsHide: true,
        });
        let stopped: "timeout" | "interrupted" | undefined;
        let killTimer: NodeJS.Timeout | undefined;
        let forceTimer: NodeJS.Timeout | undefined;
        const stop = (why: "timeout" | "interrupted") => {
          if (stopped) return;
          stopped = why;
          signalGroup(child, "SIGTERM");
          killTimer = setTimeout(() => {
            signalGroup(child, "SIGKILL");
            // A descendant that left the group (setsid) may still hold stdout: stop reading so the run can end.
            forceTimer = setTimeout(() => {
              child.stdout?.destroy();
              child.stderr?.destroy();
            }, 1000);
          }, KILL_GRACE_MS);
        };
        const timer = setTimeout(() => stop("timeout"), timeoutSeconds * 1000);
        const onAbort = () => stop("interrupted");
        if (hooks.signal.aborted) onAbort();
        else hooks.signal.addEventListener("abort", onAbort, { once: true });
        const result = await child;
        clearTimeout(timer);
        clearTimeout(killTimer);
        clearTimeout(forceTimer);
        hooks.signal.removeEventListener("abort", onAbort);
        // Whatever the program left behind in its group goes with it.
        signalGroup(child, "SIGKILL");

        const stderr = context.redact(decodeOutput(result.stderr).text);
        const stdout = decodeOutput(result.stdout);
        const details = {
          exitCode: result.exitCode ?? null,
          signal: result.signal ?? null,
          durationMs: Date.now() - started,
          stderr: stderr.slice(-2000) || undefined,
          confined: bwrapArgs !== undefined,
        };
        const ambiguous = !(spec.idempotent ?? spec.kind === "read");
        const unclear = unclearEnding(ambiguous, details);
        if (stopped === "timeout") {
          return {
            outcome: ambiguous ? "unknown" : "failed",
            errorCategory: "timeout",
            details,
            error: `process timed out after ${timeoutSeconds}s and was killed, with every process it started${ambiguous ? "; it may have done part of its work" : ""}`,
          };
        }
        if (stopped === "interrupted") return unclear("process was interrupted", "other");
        if (result.failed && result.exitCode === undefined && result.signal === undefined) {
          // Never started: nothing can have happened.
          const reason =
            (result as { code?: string }).code === "ENOENT"
              ? `command not found: ${file}`
              : context.redact(result.shortMessage ?? "process could not be started");
          return { outcome: "failed", errorCategory: "other", details, error: reason };
        }
        const sandboxFailed =
          bwrapArgs !== undefined &&
          result.exitCode !== 0 &&
          result.signal === undefined &&
          !/"exit-code"/.test(decodeOutput(result.stdio[3] as Uint8Array | undefined).text);
        if (sandboxFailed && /^bwrap: execvp /m.test(stderr)) {
          return { outcome: "failed", errorCategory: "other", details, error: `command not found: ${argv[0]}` };
        }
        if (sandboxFailed) {
          // bubblewrap refused to build the sandbox (no user namespaces, a path it cannot mount): the program never started.
          return {
            outcome: "failed",
            errorCategory: "environment",
            details,
            nothingRan: true,
            error: `the sandbox could not be set up: ${stderr.trim().split("\n").pop()}; nothing ran (check bubblewrap with toolctl doctor)`,
          };
        }
        // Inside the sandbox the program is bubblewrap's child, which reports a signal as 128 + its number.
        const signalled =
          result.signal ??
          (bwrapArgs && result.exitCode !== undefined && result.exitCode > 128 && result.exitCode < 160 ? signalName(result.exitCode - 128) : undefined);
        if (signalled !== undefined || result.isMaxBuffer) {
          return unclear(
            result.isMaxBuffer ? `process output exceeded ${MAX_OUTPUT_BYTES} bytes and it was killed` : `process was killed by ${signalled}`,
            "other",
          );
        }
        if (result.exitCode !== 0) return exitedWith(result.exitCode ?? -1, stderr, stdout.text, context, details, "process");
        return programOutput(stdout, spec.output, context, details, unclear, "process");
      },
    };
  },
};
