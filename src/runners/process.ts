/**
 * The `process` runtime: a local program started through execa with an argv template and no shell.
 * Only allow-listed environment variables pass through; input goes as JSON on stdin; output is JSON or text.
 */
import path from "node:path";
import type { ProcessSettings } from "../domain/manifest.js";
import { renderText, renderValue } from "../template/render.js";
import type { Prepared, RunContext, RunResult, Runner } from "./types.js";

const DEFAULT_SETTINGS: ProcessSettings = { env: ["PATH", "HOME", "LANG", "TZ"], timeoutSeconds: 30 };
const MAX_OUTPUT_BYTES = 10 * 1024 * 1024;

function lastLine(text: string): string {
  const lines = text.trim().split("\n");
  return (lines[lines.length - 1] ?? "").slice(0, 300);
}

export const processRunner: Runner = {
  prepare(context: RunContext): Prepared {
    const { tool, action, input, secrets } = context;
    const settings = tool.definition.process ?? DEFAULT_SETTINGS;
    const toolDir = tool.sourcePath ? path.dirname(tool.sourcePath) : process.cwd();
    const scope = { input, secrets, tool: { name: tool.name, dir: toolDir } };
    const spec = action.definition;
    const argv = spec.command!.map((part, index) => renderText(part, scope, `command[${index}]`));
    const env: Record<string, string> = {};
    for (const name of settings.env) {
      const value = context.env[name];
      if (value !== undefined) env[name] = value;
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
        hooks.onStarted();
        const result = await execa(argv[0]!, argv.slice(1), {
          cwd, env, extendEnv: false, input: stdin, stdin: stdin === undefined ? "ignore" : "pipe",
          timeout: timeoutSeconds * 1000, cancelSignal: hooks.signal, forceKillAfterDelay: 2000,
          reject: false, shell: false, maxBuffer: MAX_OUTPUT_BYTES, stripFinalNewline: false, windowsHide: true,
        });
        const details = {
          exitCode: result.exitCode ?? null, signal: result.signal ?? null, durationMs: Date.now() - started,
          stderr: String(result.stderr ?? "").slice(-2000) || undefined,
        };
        const ambiguous = !(spec.idempotent ?? spec.kind === "read");
        if (result.timedOut) {
          return {
            outcome: ambiguous ? "unknown" : "failed", errorCategory: "timeout", details,
            error: `process timed out after ${timeoutSeconds}s and was killed${ambiguous ? "; it may have done part of its work" : ""}`,
          };
        }
        if (result.isCanceled) {
          return { outcome: ambiguous ? "unknown" : "failed", errorCategory: "unknown", details, error: "process was interrupted" };
        }
        if (result.failed && result.exitCode === undefined) {
          const reason = (result as { code?: string }).code === "ENOENT" ? `command not found: ${argv[0]}` : result.shortMessage;
          return { outcome: "failed", errorCategory: "unknown", details, error: reason };
        }
        if (result.exitCode !== 0) {
          const tail = lastLine(String(result.stderr ?? "")) || lastLine(String(result.stdout ?? ""));
          return {
            outcome: "failed", errorCategory: "unknown", details,
            error: `process exited with code ${result.exitCode}${tail ? `: ${tail}` : ""}`,
          };
        }
        const stdout = String(result.stdout ?? "");
        if (spec.output === "text") return { outcome: "succeeded", output: stdout.replace(/\n$/, ""), details };
        try {
          return { outcome: "succeeded", output: JSON.parse(stdout), details };
        } catch {
          const sample = stdout.trim().slice(0, 80) || "(nothing)";
          return {
            outcome: "failed", errorCategory: "validation", details,
            error: `process printed invalid JSON on stdout: ${JSON.stringify(sample)}`,
          };
        }
      },
    };
  },
};
