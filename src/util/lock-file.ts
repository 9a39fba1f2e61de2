/**
 * A lock file for one read-modify-write of a file shared by processes: created with O_EXCL, holding the holder's
 * pid and start time, removed when done. Another process waits for it; a lock whose holder is gone (killed, or
 * the machine restarted) is taken over. Breaking a stale lock happens under a second, short-lived lock, so two
 * processes that both find it stale cannot remove each other's fresh one.
 */
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";
import { currentProcess, isRunning } from "./process.js";

/** Still held by a running process when the wait was over. */
export class LockBusyError extends Error {
  constructor(
    readonly lock: string,
    readonly holder: number | undefined,
  ) {
    super(`${lock} is held${holder ? ` by process ${holder}` : ""}`);
  }
}

/** The lock could not be created at all (a directory it may not write to, or none): nobody can write there. */
export class LockUnavailableError extends Error {
  constructor(
    readonly lock: string,
    readonly code: string,
  ) {
    super(`cannot create ${lock}: ${code}`);
  }
}

interface Holder {
  pid?: number;
  start?: string | null;
}

/** How long a lock may stay without a holder written in it (one being created) before it counts as left behind. */
const UNWRITTEN_MS = 2_000;

/**
 * Creates `lock` holding `content`; false when it exists. A lock that cannot be made whole (no room on the disk
 * for its content) is removed again and said as unavailable: an empty one left behind would be taken for one
 * being written, and waited for.
 */
function tryCreate(lock: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(lock, "wx", 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    if (code === "EEXIST") return false;
    throw new LockUnavailableError(lock, code);
  }
  try {
    writeSync(fd, content);
  } catch (error) {
    closeSync(fd);
    try {
      unlinkSync(lock);
    } catch {
      // Gone already.
    }
    throw new LockUnavailableError(lock, (error as NodeJS.ErrnoException).code ?? (error as Error).message);
  }
  closeSync(fd);
  return true;
}

function readHolder(lock: string): { holder: Holder; text: string; ageMs: number } | undefined {
  try {
    const text = readFileSync(lock, "utf8");
    const ageMs = Date.now() - statSync(lock).mtimeMs;
    let holder: Holder = {};
    try {
      holder = JSON.parse(text) as Holder;
    } catch {
      // Being written, or left half-written.
    }
    return { holder, text, ageMs };
  } catch {
    return undefined;
  }
}

function isStale(found: { holder: Holder; ageMs: number }): boolean {
  if (typeof found.holder.pid !== "number") return found.ageMs > UNWRITTEN_MS;
  return !isRunning(found.holder.pid, found.holder.start);
}

/** Removes `lock` if it is still the stale one read as `text`, under `lock.break` so that no fresh lock goes. */
function breakStale(lock: string, text: string): boolean {
  const guard = `${lock}.break`;
  try {
    if (!tryCreate(guard, JSON.stringify(currentProcess()))) {
      // Another process is breaking it; a guard left by one killed meanwhile is old.
      const left = readHolder(guard);
      if (left && left.ageMs > UNWRITTEN_MS && isStale(left)) unlinkSync(guard);
      return false;
    }
  } catch (error) {
    // No guard can be made (a full disk): no lock can be either, which the caller is told rather than left to wait.
    if (error instanceof LockUnavailableError) throw error;
    return false;
  }
  try {
    if (readHolder(lock)?.text === text) unlinkSync(lock);
    return true;
  } catch (error) {
    // Gone already, or it cannot be removed: then it is waited for like a live one.
    return (error as NodeJS.ErrnoException).code === "ENOENT";
  } finally {
    try {
      unlinkSync(guard);
    } catch {
      // Gone already.
    }
  }
}

/** Runs `fn` holding `lock`, waiting up to `waitMs` for another holder to finish. */
export async function withLockFile<T>(lock: string, waitMs: number, fn: () => Promise<T>): Promise<T> {
  const content = JSON.stringify(currentProcess());
  const deadline = Date.now() + waitMs;
  let delay = 5;
  for (;;) {
    if (tryCreate(lock, content)) break;
    const found = readHolder(lock);
    if (found && isStale(found) && breakStale(lock, found.text)) continue;
    if (Date.now() >= deadline) throw new LockBusyError(lock, found?.holder.pid);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 50);
  }
  try {
    return await fn();
  } finally {
    try {
      // Ours unless someone took it over believing us gone; theirs then stays.
      if (readHolder(lock)?.text === content) unlinkSync(lock);
    } catch {
      // Gone already.
    }
  }
}
