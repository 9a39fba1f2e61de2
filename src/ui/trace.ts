/**
 * `--verbose` for runs: each pipeline stage as it ends, with its time, then what went over the wire, curl -v
 * style (`>` sent, `<` received). Everything shown is what the engine returns, secrets already redacted.
 */
import type { Progress } from "../engine/execute.js";

export interface Trace {
  /** Handed to the engine: stages are printed as they end, status lines (an image pull) as they come. */
  progress: Progress;
  /** The request sent and the answer, once the run has returned. */
  wire(result: { request?: Record<string, unknown>; output?: unknown; status?: string }): void;
}

const pretty = (value: unknown): string => (typeof value === "string" ? value : JSON.stringify(value, null, 2));
const prefixed = (mark: string, text: string): string[] => text.split("\n").map((line) => `${mark} ${line}`.trimEnd());

function sentLines(request: Record<string, unknown>): string[] {
  const lines: string[] = [];
  if (request.runtime === "http") {
    lines.push(`> ${request.method} ${request.url}`);
    for (const [name, value] of Object.entries((request.headers ?? {}) as Record<string, string>)) lines.push(`> ${name}: ${value}`);
    const body = typeof request.encodedBody === "string" ? request.encodedBody : request.body;
    if (body !== undefined && body !== null) lines.push(">", ...prefixed(">", pretty(body)));
    return lines;
  }
  if (request.runtime === "process" || request.runtime === "docker") {
    if (request.image !== undefined) lines.push(`> image ${request.image}`);
    const argv = request.argv ?? request.command;
    lines.push(`> ${JSON.stringify(argv)}`);
    if (request.cwd !== undefined) lines.push(`> cwd ${request.cwd}`);
    lines.push(`> env ${((request.env ?? []) as string[]).join(", ") || "(none)"}`);
    if (request.stdin !== undefined) lines.push(...prefixed("> stdin", pretty(request.stdin)));
    return lines;
  }
  return prefixed(">", pretty(request));
}

function receivedLines(detail: Record<string, unknown> | undefined, output: unknown): string[] {
  const lines: string[] = [];
  if (detail) {
    const head =
      detail.status !== undefined
        ? `HTTP ${detail.status}`
        : detail.exitCode !== undefined
          ? `exit ${detail.exitCode}${detail.signal ? ` (${detail.signal})` : ""}`
          : "";
    const extra = Object.entries(detail)
      .filter(([key, value]) => !["status", "exitCode", "signal", "stderr"].includes(key) && value !== undefined && value !== null)
      .map(([key, value]) => `${key} ${typeof value === "object" ? JSON.stringify(value) : String(value)}`);
    if (head || extra.length) lines.push(`< ${[head, ...extra].filter(Boolean).join(", ")}`);
    if (typeof detail.stderr === "string" && detail.stderr !== "") lines.push(...prefixed("< stderr", detail.stderr.trimEnd()));
  }
  if (output !== undefined && output !== null) lines.push("<", ...prefixed("<", pretty(output)));
  return lines;
}

export function createTrace(debug: (line: string) => void, base?: Progress): Trace {
  let ran: Record<string, unknown> | undefined;
  let didRun = false;
  return {
    progress: {
      start: (label) => base?.start(label),
      stop: () => base?.stop(),
      status: (text) => debug(`  ${text}`),
      stage(name, ms, detail) {
        if (name === "run") ((didRun = true), (ran = detail));
        debug(`stage ${name.padEnd(14)} ${String(ms).padStart(6)} ms`);
      },
    },
    wire(result) {
      if (!result.request) return;
      debug([...sentLines(result.request), ...(didRun ? receivedLines(ran, result.output) : ["(nothing was sent)"])].join("\n"));
    },
  };
}
