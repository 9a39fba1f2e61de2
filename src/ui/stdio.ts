/**
 * stdout and stderr without Node's stream objects where they are not needed. Reading `process.stdout` (even its
 * `isTTY`) builds a stream: for a pipe that loads net and the whole stream stack, for a file the stream stack,
 * 4–7 ms of a command's start here (docs/benchmarks.md). A command that only prints to a pipe or a file (`list`,
 * `show`, `--json`) writes its text with `fs.writeSync` instead, and asks whether a descriptor is a terminal
 * without loading tty unless it is a character device.
 *
 * Once something has built a stream for a descriptor (a spinner, a prompt, the pager, a handler that writes to
 * `process.stdout`), text goes through that stream from then on, so nothing written is ever reordered. The CLI
 * calls `watchStdio` first thing; without it (toolctl as a library) every write goes through the streams.
 */
import { fstatSync, statSync, writeSync } from "node:fs";
import { nodeTty } from "../util/builtins.js";

export type StdioFd = 1 | 2;

const NAMES = { 1: "stdout", 2: "stderr" } as const;
/** Descriptors whose stream exists (or may: everything counts as built until `watchStdio` says otherwise). */
const built = new Set<StdioFd>([1, 2]);
const terminals = new Map<number, boolean>();

/**
 * From now on, stdout and stderr are written directly until their streams are first read, and `onStream` is
 * called with each stream when it is built (the CLI's handler for a reader that went away).
 */
export function watchStdio(onStream: (stream: NodeJS.WriteStream) => void): void {
  for (const fd of [1, 2] as const) {
    const name = NAMES[fd];
    const descriptor = Object.getOwnPropertyDescriptor(process, name);
    if (!descriptor?.get || !descriptor.configurable) continue;
    const build = descriptor.get;
    built.delete(fd);
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: descriptor.enumerable,
      get() {
        const stream = build.call(process) as NodeJS.WriteStream;
        if (!built.has(fd)) {
          built.add(fd);
          onStream(stream);
        }
        return stream;
      },
    });
  }
}

/** /dev/null's device number, or undefined where it cannot be had (then every character device is asked of tty). */
function nullDevice(): number | undefined {
  try {
    return statSync("/dev/null").rdev;
  } catch {
    return undefined;
  }
}

/**
 * Whether `fd` is a terminal. tty (and with it net and the stream stack) is loaded only for a character device
 * other than /dev/null (cron's and scripts' `> /dev/null`).
 */
export function isTerminal(fd: number): boolean {
  let known = terminals.get(fd);
  if (known === undefined) {
    let maybe = false;
    try {
      const stat = fstatSync(fd);
      maybe = stat.isCharacterDevice() && stat.rdev !== nullDevice();
    } catch {
      // Closed: not a terminal.
    }
    known = maybe && nodeTty().isatty(fd);
    terminals.set(fd, known);
  }
  return known;
}

/** The stream of `fd` (built now if it was not). */
export function stdioStream(fd: StdioFd): NodeJS.WriteStream {
  return fd === 1 ? process.stdout : process.stderr;
}

/** Descriptors whose reader went away: what is written to them is dropped. */
const gone = new Set<StdioFd>();

/**
 * Writes `text` to stdout (1) or stderr (2): through the descriptor while no stream is built for it and it is not
 * a terminal, else through the stream. Text for a reader that went away (EPIPE: `toolctl list | head`) is
 * dropped quietly and the command goes on to its end, so its exit code is the one it would have had (an error
 * printed to a closed pipe still exits 2). A descriptor that would block (EAGAIN: made non-blocking by another
 * process sharing it) hands the rest to the stream, which waits for it.
 */
export function writeText(fd: StdioFd, text: string): void {
  if (gone.has(fd)) return;
  if (built.has(fd) || isTerminal(fd)) {
    stdioStream(fd).write(text);
    return;
  }
  const bytes = Buffer.from(text);
  let offset = 0;
  try {
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EPIPE") return void gone.add(fd);
    if (code !== "EAGAIN") throw error;
    stdioStream(fd).write(bytes.subarray(offset));
  }
}
