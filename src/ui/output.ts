/**
 * The one view, chosen first. In `--json` mode stdout carries nothing but JSON, errors included; otherwise
 * data goes to stdout and messages to stderr. Colour only on a terminal and never under NO_COLOR.
 * `--quiet` leaves only errors on stderr; `--verbose` adds what happens step by step. Tables fit the terminal's
 * width, and long views go through the pager (./pager.ts) when stdout is a terminal.
 */
import type { Progress } from "../engine/execute.js";
import { ToolctlError } from "../errors.js";
import { revealHidden } from "../util/hidden.js";
import { isTerminal, stdioStream, writeText, type StdioFd } from "./stdio.js";
import { displayWidth, isPlainText, padEnd, truncate, truncatePlain } from "./width.js";

export { displayWidth, padEnd, truncate };

export interface Output {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  color: Colors;
  /** The terminal's width when stdout is one: tables are fitted to it. Undefined in a pipe or a file. */
  width: number | undefined;
  /** Prints data: `value` as JSON in JSON mode, else the human rendering. */
  data(value: unknown, human: () => string): void;
  /** Like `data`, through the pager when stdout is a terminal and one is configured (for long views). */
  page(value: unknown, human: () => string): Promise<void>;
  /** A message for people, on stderr; silent in JSON mode and with --quiet. */
  info(message: string): void;
  warn(message: string): void;
  /** With --verbose only: a line about what is happening, on stderr (in JSON mode too: stdout stays JSON). */
  debug(message: string): void;
  error(error: unknown): void;
}

export interface OutputOptions {
  json: boolean;
  quiet?: boolean;
  verbose?: boolean;
  /** The pager command (see pager.ts `pagerCommand`), or undefined for none. */
  pager?: string;
  env?: NodeJS.ProcessEnv;
  /** The styles to print with (see `loadColors`); plain text when not given. */
  colors?: Colors;
}

/** The styles the views use: chalk's when the output is coloured, else the text as it is. */
export interface Colors {
  /** 0 for plain text, as chalk counts it. */
  level: number;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
}

const same = (text: string) => text;
export const PLAIN: Colors = { level: 0, bold: same, dim: same, red: same, green: same, yellow: same };

/**
 * chalk when both stdout and stderr show colour (a terminal, no NO_COLOR), else plain text. chalk is loaded only
 * then: a command whose output goes to a pipe or a file (scripts, CI) never pays for it.
 */
export async function loadColors(env: NodeJS.ProcessEnv): Promise<Colors> {
  if (!(colorEnabled(2, env) && colorEnabled(1, env))) return PLAIN;
  const { Chalk } = await import("chalk");
  return new Chalk({ level: 1 });
}

export const DEFAULT_PAGER = "less -FRX";

/**
 * The pager for long views, or undefined for none: none under `--no-pager` (`enabled` false); else
 * `TOOLCTL_PAGER`, else `PAGER`, else `less -FRX` (quit at once when it fits on one screen, keep colours, leave
 * the text on the screen). Empty or `cat` means none.
 */
export function pagerCommand(enabled: boolean, env: NodeJS.ProcessEnv): string | undefined {
  if (!enabled) return undefined;
  const command = (env.TOOLCTL_PAGER ?? env.PAGER ?? DEFAULT_PAGER).trim();
  return command === "" || command === "cat" ? undefined : command;
}

/** Whether text on stdout (1) or stderr (2) is coloured. NO_COLOR counts only when present and not empty (no-color.org). */
export function colorEnabled(fd: StdioFd, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && env.FORCE_COLOR !== "0") return true;
  return isTerminal(fd) && env.TERM !== "dumb";
}

export function errorToJson(error: unknown): Record<string, unknown> {
  if (error instanceof ToolctlError) {
    return { error: { code: error.code, exitCode: error.exitCode, message: error.message, ...error.details } };
  }
  return { error: { code: "internal", exitCode: 1, message: (error as Error)?.message ?? String(error) } };
}

export function createOutput(options: OutputOptions): Output {
  const { json } = options;
  const env = options.env ?? process.env;
  const quiet = options.quiet === true;
  const verbose = options.verbose === true;
  const color = options.colors ?? PLAIN;
  const write = (fd: StdioFd, text: string) => writeText(fd, text.endsWith("\n") ? text : `${text}\n`);
  // What people read shows the characters that would reorder it (JSON keeps the data as it is).
  const show = (fd: StdioFd, text: string) => write(fd, revealHidden(text));
  const width = isTerminal(1) && stdioStream(1).columns > 0 ? stdioStream(1).columns : undefined;
  const output: Output = {
    json,
    quiet,
    verbose,
    color,
    width,
    data(value, human) {
      if (json) write(1, JSON.stringify(value, null, 2));
      else {
        const text = human();
        if (text) show(1, text);
      }
    },
    async page(value, human) {
      if (json || options.pager === undefined || !isTerminal(1)) return output.data(value, human);
      const text = human();
      if (!text) return;
      const { page } = await import("./pager.js");
      const shown = revealHidden(text);
      const failure = await page(options.pager, shown.endsWith("\n") ? shown : `${shown}\n`, env);
      if (failure) {
        output.warn(failure);
        write(1, shown);
      }
    },
    info(message) {
      if (!json && !quiet) show(2, message);
    },
    warn(message) {
      if (!json && !quiet) show(2, color.yellow(`warning: ${message}`));
    },
    debug(message) {
      if (verbose) write(2, color.dim(message));
    },
    error(error) {
      if (json) {
        // One line: also readable by consumers of JSON-lines output (`audit --json`).
        write(1, JSON.stringify(errorToJson(error)));
        return;
      }
      const message = error instanceof Error ? error.message : String(error);
      const problems = error instanceof ToolctlError ? (error.details.problems ?? []) : [];
      // One problem the message already says (perhaps with the value after it) is not said twice.
      const lines = problems.length > 1 || (problems.length === 1 && !message.includes(problems[0]!)) ? problems : [];
      show(2, [color.red(`error: ${message}`), ...lines.map((p) => `  ${p}`)].join("\n"));
    },
  };
  return output;
}

export interface TableFit {
  /** The width to fit in (the terminal's); undefined: no limit, as in a pipe. */
  width: number | undefined;
  /** The columns that give way first (descriptions, errors), cut with an ellipsis down to a few characters. */
  flex?: number[];
}

/** Columns a flexible column keeps at the least before whole lines are cut instead. */
const MIN_FLEX = 12;

/**
 * A plain-text table: columns padded to their widest cell, in terminal columns (a CJK character takes two).
 * Fitted to `fit.width` when given: the flexible
 * columns are cut first, then, if the fixed ones alone are too wide, each line at the edge. A row is never
 * wrapped onto a second line.
 */
export function table(headers: string[], rows: string[][], style: (header: string) => string = (h) => h, fit?: TableFit): string {
  // Text that is all printable ASCII (nearly always) is measured by its length, checked once for the whole table:
  // `list` of a thousand tools measures five thousand cells.
  const plain = isPlainText(headers.join("") + rows.map((row) => row.join("")).join(""));
  const measure = plain ? (text: string) => text.length : displayWidth;
  const cut = plain ? truncatePlain : truncate;
  const pad = plain ? (text: string, width: number) => text.padEnd(width) : padEnd;
  const widths = headers.map((header, i) => Math.max(measure(header), ...rows.map((row) => measure(row[i] ?? ""))));
  const last = headers.length - 1;
  const total = () => widths.reduce((sum, w, i) => sum + (i === last ? w : w + 2), 0);
  const limit = fit?.width;
  if (limit !== undefined) {
    const flex = (fit?.flex ?? []).filter((i) => i >= 0 && i <= last);
    // The widest flexible column gives one character at a time, so they end up about even.
    while (total() > limit) {
      const widest = flex.filter((i) => widths[i]! > Math.max(MIN_FLEX, measure(headers[i]!))).sort((a, b) => widths[b]! - widths[a]!)[0];
      if (widest === undefined) break;
      widths[widest]!--;
    }
  }
  const line = (cells: string[]) => {
    const text = cells
      .map((cell, i) => {
        const shown = cut(cell, widths[i]!);
        return i === cells.length - 1 ? shown : pad(shown, widths[i]!);
      })
      .join("  ")
      .trimEnd();
    return limit !== undefined ? cut(text, limit) : text;
  };
  return [style(line(headers)), ...rows.map(line)].join("\n");
}

/** Whether a spinner may draw: stderr is a terminal that reports its width, and neither JSON, quiet nor verbose. */
function canSpin(output: Pick<Output, "json" | "quiet" | "verbose">, env: NodeJS.ProcessEnv): boolean {
  // A pseudo-terminal that reports no width (some CI wrappers) makes spinners redraw endlessly: skip them there.
  // Verbose lines would be drawn over by it: the stages they print are the progress then.
  return !output.json && !output.quiet && !output.verbose && isTerminal(2) && env.TERM !== "dumb" && stdioStream(2).columns > 0;
}

/** A spinner on stderr, only on a terminal and never in JSON mode; ora is loaded only then. */
export async function createProgress(output: Pick<Output, "json" | "quiet" | "verbose">, env: NodeJS.ProcessEnv = process.env): Promise<Progress | undefined> {
  if (!canSpin(output, env)) return undefined;
  const { default: ora } = await import("ora");
  const spinner = ora({ stream: process.stderr, discardStdin: false, color: colorEnabled(2, env) ? "cyan" : false });
  return {
    start: (label) => void spinner.start(`running ${label}…`),
    stop: () => void spinner.stop(),
    status: (text) => void (spinner.isSpinning ? (spinner.text = text) : spinner.start(text)),
  };
}

/**
 * Runs `work` with a spinner saying `text` on stderr if it takes longer than `afterMs` (so quick work shows
 * nothing), only where a spinner may draw.
 */
export async function withSlowSpinner<T>(
  output: Pick<Output, "json" | "quiet" | "verbose">,
  env: NodeJS.ProcessEnv,
  text: string,
  work: () => Promise<T>,
  afterMs = 1000,
): Promise<T> {
  if (!canSpin(output, env)) return work();
  let stop: (() => void) | undefined;
  let done = false;
  const timer = setTimeout(() => {
    void import("ora").then(({ default: ora }) => {
      if (done) return;
      const spinner = ora({ stream: process.stderr, discardStdin: false, color: colorEnabled(2, env) ? "cyan" : false }).start(text);
      stop = () => spinner.stop();
    });
  }, afterMs);
  try {
    return await work();
  } finally {
    done = true;
    clearTimeout(timer);
    stop?.();
  }
}
