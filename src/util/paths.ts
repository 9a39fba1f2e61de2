/** Path questions asked wherever a file must stay inside a directory (a project, its home). */
import { realpathSync } from "node:fs";
import path from "node:path";

/** Whether `file` is `dir` or inside it (both absolute and spelled alike: compare real paths for links). */
export function isInside(dir: string, file: string): boolean {
  return file === dir || file.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
}

/**
 * `p` through its links, in the file system's own spelling (`realpath(3)`: on a case-insensitive disk, the case
 * it is stored in); for a path that does not exist, its nearest existing directory's real path and the rest.
 */
export function realPath(p: string): string {
  const missing: string[] = [];
  for (let at = path.resolve(p); ; at = path.dirname(at)) {
    try {
      return path.join(realpathSync.native(at), ...missing.reverse());
    } catch {
      if (path.dirname(at) === at) return path.resolve(p);
      missing.push(path.basename(at));
    }
  }
}
