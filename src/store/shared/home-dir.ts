/**
 * The home directory, made on first use (mode 0700: it holds the keys). Both backends need it: SQLite keeps the
 * registry there, and with a team database each machine keeps its audit key, its secrets key and its copy of the
 * audit head there. A project's home (`<root>/.toolctl/`) is made with a record of where it was made, and used only
 * when it was made there (config/project-home.ts): one that came with a repository is refused (exit 6).
 */
import { RegistryError } from "../../errors.js";
import { checkProjectHome, isProjectHome, makeProjectHome } from "../../config/project-home.js";
import { makeDirs } from "../../util/dirs.js";

export function makeHome(home: string): void {
  const project = isProjectHome(home);
  try {
    if (project) makeProjectHome(home);
    else makeDirs(home, 0o700);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") {
      throw new RegistryError(`cannot use home ${home}: it is a file, not a directory; set TOOLCTL_HOME or --home to a directory`, error);
    }
    throw new RegistryError(
      `cannot create home ${home}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; set TOOLCTL_HOME or --home to a writable directory`,
      error,
    );
  }
  if (project) checkProjectHome(home);
}
