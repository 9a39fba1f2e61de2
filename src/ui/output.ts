/**
 * The one view, chosen first. In `--json` mode stdout carries nothing but JSON, errors included; otherwise
 * data goes to stdout and messages to stderr. Colour only on a terminal and never under NO_COLOR.
 */
import { Chalk, type ChalkInstance } from "chalk";
import type { Progress } from "../engine/execute.js";
import { ToolctlError } from "../errors.js";

export interface Output {
  json: boolean;
  color: ChalkInstance;
  /** Prints data: `value` as JSON in JSON mode, else the human rendering. */
  data(value: unknown, human: () => string): void;
  /** A message for people, on stderr; silent in JSON mode. */
  info(message: string): void;
  warn(message: string): void;
  error(error: unknown): void;
}

/** NO_COLOR counts only when present and not empty (no-color.org). */
export function colorEnabled(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && env.FORCE_COLOR !== "0") return true;
  return stream.isTTY === true && env.TERM !== "dumb";
}

export function errorToJson(error: unknown): Record<string, unknown> {
  if (error instanceof ToolctlError) {
    return { error: { code: error.code, exitCode: error.exitCode, message: error.message, ...error.details } };
  }
  return { error: { code: "internal", exitCode: 1, message: (error as Error)?.message ?? String(error) } };
}

export function createOutput(json: boolean, env: NodeJS.ProcessEnv = process.env): Output {
  const color = new Chalk({ level: colorEnabled(process.stderr, env) && colorEnabled(process.stdout, env) ? 1 : 0 });
  const write = (stream: NodeJS.WriteStream, text: string) => stream.write(text.endsWith("\n") ? text : `${text}\n`);
  return {
    json,
    color,
    data(value, human) {
      if (json) write(process.stdout, JSON.stringify(value, null, 2));
      else {
        const text = human();
        if (text) write(process.stdout, text);
      }
    },
    info(message) {
      if (!json) write(process.stderr, message);
    },
    warn(message) {
      if (!json) write(process.stderr, color.yellow(`warning: ${message}`));
    },
    error(error) {
      if (json) {
        // One line: also readable by consumers of JSON-lines output (`audit --json`).
        write(process.stdout, JSON.stringify(errorToJson(error)));
        return;
      }
      const message = error instanceof Error ? error.message : String(error);
      const problems = error instanceof ToolctlError ? (error.details.problems ?? []) : [];
      const lines = problems.length > 1 || (problems.length === 1 && problems[0] !== message) ? problems : [];
      write(process.stderr, [color.red(`error: ${message}`), ...lines.map((p) => `  ${p}`)].join("\n"));
    },
  };
}

/** A plain-text table: columns padded to their widest cell. */
export function table(headers: string[], rows: string[][], style: (header: string) => string = (h) => h): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [style(line(headers)), ...rows.map(line)].join("\n");
}

export function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

/** A spinner on stderr, only on a terminal and never in JSON mode; ora is loaded only then. */
export async function createProgress(json: boolean, env: NodeJS.ProcessEnv = process.env): Promise<Progress | undefined> {
  // A pseudo-terminal that reports no width (some CI wrappers) makes spinners redraw endlessly: skip them there.
  if (json || process.stderr.isTTY !== true || env.TERM === "dumb" || !(process.stderr.columns > 0)) return undefined;
  const { default: ora } = await import("ora");
  const spinner = ora({ stream: process.stderr, discardStdin: false, color: colorEnabled(process.stderr, env) ? "cyan" : false });
  return {
    start: (label) => void spinner.start(`running ${label}…`),
    stop: () => void spinner.stop(),
    status: (text) => void (spinner.isSpinning ? (spinner.text = text) : spinner.start(text)),
  };
}
