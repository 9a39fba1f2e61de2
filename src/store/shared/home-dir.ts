/**
 * The home directory, made on first use (mode 0700: it holds the keys). Both backends need it: SQLite keeps the
 * registry there, and with a team database each machine keeps its audit key, its secrets key and its copy of the
 * audit head there.
 */
import { RegistryError } from "../../errors.js";
import { makeDirs } from "../../util/dirs.js";

export function makeHome(home: string): void {
  try {
    makeDirs(home, 0o700);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") {
      throw new RegistryError(`cannot use home ${home}: it is a file, not a directory; set TOOLCTL_HOME or --home to a directory`, error);
    }
    throw new RegistryError(
      `cannot create home ${home}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; set TOOLCTL_HOME or --home to a writable directory`,
      error,
    );
  }
}
