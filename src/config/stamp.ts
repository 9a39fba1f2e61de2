/**
 * A file's stamp: what changes when it is edited in place or replaced. Settings read from a file are kept with
 * the stamp it had, and read again when the stamp differs, which costs one stat when it does not.
 */
import { statSync, type Stats } from "node:fs";

/**
 * Size, modification and change times, device and inode: `toolctl config set` renames a new file over the old one,
 * so even an edit of the same size within one tick of the clock differs.
 */
export function stampOf(info: Pick<Stats, "size" | "mtimeMs" | "ctimeMs" | "ino" | "dev">): string {
  return `${info.size}:${info.mtimeMs}:${info.ctimeMs}:${info.dev}:${info.ino}`;
}

/** `stampOf` a file, with one stat: "absent" when there is none, the error's code when it cannot be looked at. */
export function fileStamp(file: string): string {
  try {
    const info = statSync(file, { throwIfNoEntry: false });
    return info ? stampOf(info) : "absent";
  } catch (error) {
    return `error ${(error as NodeJS.ErrnoException).code ?? "unknown"}`;
  }
}
