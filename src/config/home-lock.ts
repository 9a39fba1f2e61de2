/**
 * One read-modify-write of a file in a toolctl home, made while holding a lock file beside it (see
 * ../util/lock-file.ts), so that two toolctl processes changing the same file take turns and neither change is
 * lost: `config set|unset` on config.yaml, `sync` on the record of what each project's syncs own.
 */
import { EnvironmentError } from "../errors.js";

/**
 * Runs `fn` holding `lock`, waiting up to `waitMs` for another toolctl holding it. Still held then: exit 6, saying
 * which process holds it and `unchanged` (what was left as it was). Where no lock can be created (a home it may
 * not write to, or none yet), nothing can be written either: `fn` runs unlocked, and fails at its write if it has
 * one to make.
 */
export async function underHomeLock<T>(lock: string, file: string, waitMs: number, unchanged: string, fn: () => Promise<T>): Promise<T> {
  const { withLockFile, LockBusyError, LockUnavailableError } = await import("../util/lock-file.js");
  try {
    return await withLockFile(lock, waitMs, fn);
  } catch (error) {
    if (error instanceof LockUnavailableError) return fn();
    if (error instanceof LockBusyError) {
      const holder = error.holder === undefined ? "" : ` (process ${error.holder})`;
      throw new EnvironmentError(`${file} is being changed by another toolctl${holder}; try again, or remove ${lock} if none is running. ${unchanged}`, {
        file,
        lock,
      });
    }
    throw error;
  }
}
