import { readFileSync } from "node:fs";

/** Whether a process still exists (EPERM means it does, but belongs to someone else). */
export function isAlive(pid: number | null | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A process as recorded beside what it does: its pid, and its start time where the system tells it. */
export interface ProcessIdentity {
  pid: number;
  /** Linux: field 22 of /proc/<pid>/stat (clock ticks after boot); null elsewhere. */
  start: string | null;
}

/**
 * Fields 3 onwards of /proc/<pid>/stat (the command name, field 2, may hold spaces and parentheses); null when
 * the process is gone, undefined where there is no /proc to ask.
 */
function statFields(pid: number): string[] | null | undefined {
  if (process.platform !== "linux") return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

let self: ProcessIdentity | undefined;

export function currentProcess(): ProcessIdentity {
  self ??= { pid: process.pid, start: statFields(process.pid)?.[19] ?? null };
  return self;
}

/**
 * Whether the process recorded as (pid, start) still runs. A pid is reused once its process is gone, so where a
 * start time was recorded it must match too; a zombie (exited, not yet reaped) is gone.
 */
export function isRunning(pid: number | null | undefined, start: string | null | undefined): boolean {
  if (!pid || !isAlive(pid)) return false;
  const fields = statFields(pid);
  if (fields === undefined) return true;
  if (fields === null || fields[0] === "Z") return false;
  return !start || fields[19] === start;
}

/**
 * Whether the process recorded as (pid, start) on `recordedHost` still runs, seen from `here`. One on another
 * machine is taken to run: only that machine can tell it is gone.
 */
export function runsSomewhere(pid: number, start: string | null | undefined, recordedHost: string | null | undefined, here: string | null): boolean {
  if (recordedHost && here && recordedHost !== here) return true;
  return isRunning(pid, start);
}
