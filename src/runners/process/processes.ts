/**
 * The processes a run started, found through /proc (Linux): those inside a bubblewrap sandbox, by their host pids,
 * and those still holding the run's stdout or stderr after the program itself has exited. And what an exit code above
 * 128 says about the signal that ended a program, for the process and docker runtimes alike.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { constants as osConstants } from "node:os";

/** A signal's name (SIGTERM), or `signal N` for a number that has none. */
export function signalName(signal: number): string {
  return Object.entries(osConstants.signals).find(([, n]) => n === signal)?.[0] ?? `signal ${signal}`;
}

/**
 * The signal an exit code stands for, when an init process reported its child's death by a signal as 128 + its
 * number (bubblewrap's, docker-init): 129 to 159.
 */
export function signalOfExitCode(code: number | null | undefined): string | undefined {
  return code !== null && code !== undefined && code > 128 && code < 160 ? signalName(code - 128) : undefined;
}

function pids(): number[] {
  try {
    return readdirSync("/proc")
      .filter((entry) => /^\d+$/.test(entry))
      .map(Number);
  } catch {
    return [];
  }
}

interface ProcessEntry {
  ppid: number;
  pgrp: number;
  /** R, S, D, Z (a zombie, dead and waiting to be reaped), ... */
  state: string;
}

/** Each process's parent, group and state, read from /proc/PID/stat (the command's name, in parentheses, may hold anything). */
function processTable(): Map<number, ProcessEntry> {
  const table = new Map<number, ProcessEntry>();
  for (const pid of pids()) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const [state = "", ppid, pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number.isInteger(Number(ppid)) && Number.isInteger(Number(pgrp))) table.set(pid, { ppid: Number(ppid), pgrp: Number(pgrp), state });
    } catch {
      // Gone meanwhile.
    }
  }
  return table;
}

/**
 * The live members of a process group. A zombie is not one: dead, it only waits to be reaped, which an orphan's new
 * parent may take its time to do, though the kernel still counts it in the group. Without /proc, whether the
 * kernel counts any member at all (the group id then stands for them).
 */
export function groupMembers(pgid: number): number[] {
  if (!existsSync("/proc/self/stat")) {
    try {
      process.kill(-pgid, 0);
      return [pgid];
    } catch {
      return [];
    }
  }
  return [...processTable()].filter(([, entry]) => entry.pgrp === pgid && entry.state !== "Z").map(([pid]) => pid);
}

/**
 * The processes running inside a bubblewrap sandbox, by their host pids: every descendant of the namespace's init
 * (bubblewrap's own child, which is left out: it only waits for the program and takes the namespace down with it).
 */
export function sandboxedProcesses(bwrapPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, { ppid }] of processTable()) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const found: number[] = [];
  const queue = (children.get(bwrapPid) ?? []).flatMap((init) => children.get(init) ?? []);
  while (queue.length > 0) {
    const pid = queue.shift()!;
    found.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return found;
}

/**
 * What a process's stdout and stderr are (`socket:[N]`, `pipe:[N]`), read as soon as it has started: the other
 * ends of the run's output, which toolctl itself never holds.
 */
export function openOutputs(pid: number): string[] {
  const found = new Set<string>();
  for (const fd of [1, 2]) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (/^(socket|pipe):\[\d+\]$/.test(target)) found.add(target);
    } catch {
      // Not there (it has exited already, or this is not Linux).
    }
  }
  return [...found];
}

/** When a process started, in clock ticks since boot (/proc/PID/stat's 22nd field); undefined when unknown. */
export function startTimeOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const ticks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    return Number.isSafeInteger(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The processes holding any of these open that started no earlier than the program (`since`, its start time):
 * once the program has exited, what it started (a child it left behind, a daemon it made, in a session of its own
 * or not) may still hold the run's output. A process that was running before it, such as a daemon the program
 * handed its stdout to over a socket, is not the run's and is left alone.
 */
export function outputHolders(outputs: string[], since: number | undefined): number[] {
  if (outputs.length === 0 || since === undefined) return [];
  const names = new Set(outputs);
  const holders: number[] = [];
  for (const pid of pids()) {
    if (pid === process.pid) continue;
    const started = startTimeOf(pid);
    if (started === undefined || started < since) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (names.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) {
          holders.push(pid);
          break;
        }
      } catch {
        // Closed meanwhile.
      }
    }
  }
  return holders;
}

/** Sends a signal to each process; one already gone is fine. */
export function signalEach(targets: number[], signal: NodeJS.Signals): void {
  for (const pid of targets) {
    try {
      process.kill(pid, signal);
    } catch {
      // Gone.
    }
  }
}
