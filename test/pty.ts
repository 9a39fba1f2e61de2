/**
 * A real pseudo-terminal running the built binary (node-pty), for the prompts: what a person would see, with
 * escape sequences removed, and keys typed into it. A session that outlives its limit is killed.
 *
 * node-pty closes its side 200 ms after the process exits and drops what it has not read by then: on a loaded
 * machine the last few KB of a long output can be missing, so assert on what came before the end.
 */
import * as pty from "node-pty";
import { baseEnv, binPath, repoRoot } from "./helpers.js";

// CSI and OSC sequences: what is left is the text a person sees.
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[()][A-Za-z0-9]|\u001b[=>78cDEHM]/g;

export interface Terminal {
  write(text: string): void;
  /** Everything shown so far, without escape sequences. */
  text(): string;
  /** Everything written to the terminal so far, escape sequences included (line ends as the terminal got them). */
  raw(): string;
  /** Waits for the pattern's `occurrence`th match, up to `limitMs` of wall time (20 s). */
  waitFor(pattern: RegExp, occurrence?: number, limitMs?: number): Promise<string>;
  exited: Promise<{ exitCode: number; signal?: number; killed: boolean }>;
}

export interface TerminalOptions {
  env?: Record<string, string>;
  cols?: number;
  rows?: number;
  sessionMs?: number;
}

export function spawnTerminal(args: string[], home: string, options: TerminalOptions = {}): Terminal {
  const env = baseEnv({ TOOLCTL_HOME: home, TERM: "xterm-256color", ...options.env }) as Record<string, string>;
  const term = pty.spawn(process.execPath, [binPath, ...args], {
    name: "xterm-256color",
    cols: options.cols ?? 100,
    rows: options.rows ?? 30,
    cwd: repoRoot,
    env,
  });
  let raw = "";
  let killed = false;
  term.onData((data) => (raw += data));
  const exited = new Promise<{ exitCode: number; signal?: number; killed: boolean }>((resolve) =>
    term.onExit(({ exitCode, signal }) => resolve({ exitCode, signal, killed })),
  );
  const timer = setTimeout(() => ((killed = true), term.kill("SIGKILL")), options.sessionMs ?? 40_000);
  void exited.then(() => clearTimeout(timer));
  const text = () => raw.replace(ANSI, "").replace(/\r/g, "");
  return {
    write: (data) => term.write(data),
    text,
    raw: () => raw,
    async waitFor(pattern, occurrence = 1, limitMs = 20_000) {
      const global = new RegExp(pattern.source, `${pattern.flags.replace("g", "")}g`);
      for (const until = Date.now() + limitMs; Date.now() < until;) {
        const matches = [...text().matchAll(global)];
        if (matches.length >= occurrence) return matches[occurrence - 1]![0];
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error(`timed out waiting for ${pattern} (#${occurrence}); terminal shows:\n${text()}`);
    },
    exited,
  };
}
