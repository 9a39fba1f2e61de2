/** Removing a file that may not be there (a temporary file, a leftover): loads nothing but node:fs. */
import { unlinkSync } from "node:fs";

/** Removes `file`; one that is not there, or cannot be removed, is left as it is. */
export function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Not there, or nothing more to be done about it.
  }
}
