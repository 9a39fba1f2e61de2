/**
 * Replacing a file's content all at once: the new text is written to a temporary file beside it, flushed, and
 * renamed over the old one, so a reader sees the old file or the new one, never half of either. On any error
 * the temporary file is removed and the original is left as it was.
 */
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import path from "node:path";
import { syncDirectory } from "./sync-directory.js";

/** A symbolic link is followed: the file it points to is replaced, and the link stays a link. */
function targetOf(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}

export function writeFileAtomic(file: string, text: string, options: { mode?: number } = {}): void {
  const target = targetOf(file);
  let mode = options.mode ?? 0o600;
  try {
    mode = statSync(target).mode & 0o777;
  } catch {
    // A new file: the mode given.
  }
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(temp, "wx", mode);
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, target);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      // Never created, or already renamed.
    }
    throw error;
  }
  // The rename itself is durable once the directory is flushed.
  syncDirectory(path.dirname(target));
}
