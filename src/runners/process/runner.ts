/**
 * The `process` runtime: a local program started with an argv template and no shell, confined with bubblewrap
 * (sandbox.ts). Only allow-listed environment variables pass through; input goes as JSON on stdin; output
 * is JSON or text. The program runs in a process group of its own, and the whole group is stopped on timeout,
 * Ctrl-C and SIGTERM (SIGTERM first, SIGKILL after a grace). The run ends when the program exits: children that
 * outlive it, in its group or holding its output, are killed then and cannot keep the run (or its stdout) open.
 */
import type { ChildProcess } from "node:child_process";
import path from "node:path";
import type { Readable } from "node:stream";
import type { ProcessSettings } from "../../domain/manifest.js";
import { isSecretKey } from "../../secrets/redact.js";
import { bubblewrapArgv, chooseConfinement } from "./sandbox.js";
import { groupMembers, openOutputs, outputHolders, sandboxedProcesses, signalEach, signalOfExitCode, startTimeOf } from "./processes.js";
import { decodeOutput, exitedWith, programOutput, renderArgv, renderEnv, unclearEnding } from "./invocation.js";
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

/** Whether every one of these streams has closed, waiting at most `ms` for them. */
function closedWithin(streams: Array<Readable | null | undefined>, ms: number): Promise<boolean> {
  const open = streams.filter((stream): stream is Readable => stream !== null && stream !== undefined && !stream.closed);
  if (open.length === 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void Promise.all(open.map((stream) => new Promise((closed) => stream.once("close", closed)))).then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
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
    if (spec.env) Object.assign(env, renderEnv(spec.env, scope));
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
        // The other ends of its stdout and stderr, as it got them: whoever still holds them once it has exited is a
        // process it left behind, wherever that went (a new session included). They are read from the program while
        // it runs (at once, and again shortly after, in case it was still starting), or from what is left in its group.
        const outputs = new Set<string>();
        const learnOutputs = (pids: number[]) => {
          if (outputs.size === 0) for (const pid of pids) for (const output of openOutputs(pid)) outputs.add(output);
        };
        learnOutputs(child.pid === undefined ? [] : [child.pid]);
        // What started before the program is never its: only later processes are looked at as holders of its output.
        const programStarted = startTimeOf(child.pid);
        const learner = setTimeout(() => learnOutputs(child.pid === undefined ? [] : [child.pid]), 20);
        let stopped: "timeout" | "interrupted" | undefined;
        let killTimer: NodeJS.Timeout | undefined;
        let graceOver: Promise<void> = Promise.resolve();
        // Confined, the program runs in a session of its own in bubblewrap's PID namespace, and bubblewrap passes no
        // signal on (signalled, it dies, and its init takes the namespace down with SIGKILL): each process inside is
        // asked to stop by its host pid, and bubblewrap's group is killed after the grace.
        const signalProgram = (signal: NodeJS.Signals) => {
          const inside = bwrapArgs !== undefined && child.pid !== undefined ? sandboxedProcesses(child.pid) : [];
          if (inside.length > 0) signalEach(inside, signal);
          if (signal === "SIGKILL" || inside.length === 0) signalGroup(child, signal);
        };
        const stop = (why: "timeout" | "interrupted") => {
          if (stopped) return;
          stopped = why;
          learnOutputs(child.pid === undefined ? [] : [child.pid]);
          signalProgram("SIGTERM");
          graceOver = new Promise((resolve) => {
            killTimer = setTimeout(() => {
              signalProgram("SIGKILL");
              resolve();
            }, KILL_GRACE_MS);
          });
        };
        // The run ends when the program exits, not when the last process holding its output lets go: what it left
        // in its group is killed then, and so is whatever else still holds its stdout or stderr; what it wrote is kept.
        let settled: Promise<void> | undefined;
        child.once("exit", () => {
          settled = (async () => {
            clearTimeout(learner);
            learnOutputs(groupMembers(child.pid!));
            if (stopped) {
              // Stopped, the rest of its group got its SIGTERM with it, and keeps the same grace before SIGKILL.
              let over = false;
              void graceOver.then(() => (over = true));
              while (!over && groupMembers(child.pid!).length > 0) await new Promise((resolve) => setTimeout(resolve, 50));
            }
            signalGroup(child, "SIGKILL");
            // Looked for again each round: one that was starting (its /proc unreadable mid-exec) or forking is caught next time.
            for (let round = 0; round < 5 && !(await closedWithin([child.stdout, child.stderr], 100)); round++) {
              signalEach(outputHolders([...outputs], programStarted), "SIGKILL");
            }
            if (!(await closedWithin([child.stdout, child.stderr], 500))) {
              child.stdout?.destroy();
              child.stderr?.destroy();
            }
          })();
        });
        const timer = setTimeout(() => stop("timeout"), timeoutSeconds * 1000);
        const onAbort = () => stop("interrupted");
        if (hooks.signal.aborted) onAbort();
        else hooks.signal.addEventListener("abort", onAbort, { once: true });
        const result = await child;
        await settled;
        clearTimeout(learner);
        clearTimeout(timer);
        clearTimeout(killTimer);
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
        const signalled = result.signal ?? (bwrapArgs ? signalOfExitCode(result.exitCode) : undefined);
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
