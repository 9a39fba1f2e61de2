/**
 * The `process` runtime: a local program started through execa with an argv template and no shell.
 * Only allow-listed environment variables pass through; input goes as JSON on stdin; output is JSON or text.
 */
import path from "node:path";
import type { ProcessSettings } from "../domain/manifest.js";
import { isSecretKey } from "../secrets/redact.js";
import { renderValue } from "../template/render.js";
import { exitedWith, programOutput, renderArgv, unclearEnding } from "./program.js";
import type { Prepared, RunContext, RunResult, Runner } from "./types.js";

const DEFAULT_SETTINGS: ProcessSettings = { env: ["PATH", "LANG", "TZ"], timeoutSeconds: 30 };
const MAX_OUTPUT_BYTES = 10 * 1024 * 1024;

export const processRunner: Runner = {
  prepare(context: RunContext): Prepared {
    const { tool, action, input, secrets } = context;
    const settings = tool.definition.process ?? DEFAULT_SETTINGS;
    const toolDir = tool.sourcePath ? path.dirname(tool.sourcePath) : process.cwd();
    const scope = { input, secrets, tool: { name: tool.name, dir: toolDir } };
    const spec = action.definition;
    const argv = renderArgv(spec.command!, scope);
    const env: Record<string, string> = {};
    for (const name of settings.env) {
      const value = context.env[name];
      if (value === undefined) continue;
      env[name] = value;
      if (isSecretKey(name)) context.addSecret(value);
    }
    const extra = (spec.env ? renderValue(spec.env, scope) : {}) as Record<string, unknown>;
    for (const [name, value] of Object.entries(extra)) if (value !== undefined) env[name] = String(value);
    const cwd = settings.cwd ? path.resolve(toolDir, settings.cwd) : toolDir;
    const timeoutSeconds = spec.timeoutSeconds ?? settings.timeoutSeconds;
    const stdin = spec.stdin === "json" ? JSON.stringify(input) : undefined;

    return {
      description: {
        runtime: "process",
        argv,
        cwd,
        env: Object.keys(env).sort(),
        stdin: spec.stdin === "json" ? "input as JSON" : "none",
        output: spec.output,
        timeoutSeconds,
      },
      async run(hooks): Promise<RunResult> {
        // execa is loaded only when a process actually runs: it is heavy, and most commands never need it.
        const { execa } = await import("execa");
        const started = Date.now();
        const result = await execa(argv[0]!, argv.slice(1), {
          cwd, env, extendEnv: false, input: stdin, stdin: stdin === undefined ? "ignore" : "pipe",
          timeout: timeoutSeconds * 1000, cancelSignal: hooks.signal, forceKillAfterDelay: 2000,
          reject: false, shell: false, maxBuffer: MAX_OUTPUT_BYTES, stripFinalNewline: false, windowsHide: true,
        });
        const stderr = context.redact(String(result.stderr ?? ""));
        const stdout = String(result.stdout ?? "");
        const details = { exitCode: result.exitCode ?? null, signal: result.signal ?? null, durationMs: Date.now() - started, stderr: stderr.slice(-2000) || undefined };
        const ambiguous = !(spec.idempotent ?? spec.kind === "read");
        const unclear = unclearEnding(ambiguous, details);
        if (result.timedOut) {
          return {
            outcome: ambiguous ? "unknown" : "failed", errorCategory: "timeout", details,
            error: `process timed out after ${timeoutSeconds}s and was killed${ambiguous ? "; it may have done part of its work" : ""}`,
          };
        }
        if (result.isCanceled) return unclear("process was interrupted", "other");
        if (result.failed && result.exitCode === undefined && result.signal === undefined) {
          // Never started: nothing can have happened.
          const reason = (result as { code?: string }).code === "ENOENT" ? `command not found: ${argv[0]}` : context.redact(result.shortMessage ?? "process could not be started");
          return { outcome: "failed", errorCategory: "other", details, error: reason };
        }
        if (result.signal !== undefined || result.isMaxBuffer) {
          return unclear(result.isMaxBuffer ? `process output exceeded ${MAX_OUTPUT_BYTES} bytes and it was killed` : `process was killed by ${result.signal}`, "other");
        }
        if (result.exitCode !== 0) return exitedWith(result.exitCode ?? -1, stderr, stdout, context, details, "process");
        return programOutput(stdout, spec.output, context, details, unclear, "process");
      },
    };
  },
};
