/**
 * Flushing a directory after a rename or a new name in it. Its own module, loading nothing but node:fs: the
 * registry opens with it on every command, and `list` must not load node:crypto (and the stream stack with it).
 */
import { closeSync, fsyncSync, openSync } from "node:fs";

/**
 * Flushes a directory, so that a rename or a new name in it outlives a power cut. Not every platform can open a
 * directory for this; there the rename is made all the same, and only its durability is in question.
 */
export function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Made, if not flushed.
  }
}
