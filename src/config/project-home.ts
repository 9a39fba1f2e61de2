/**
 * A project's home (`<root>/.toolctl/`) is used only when toolctl made it there. A repository may come with a
 * `.toolctl/` of its own (committed, or in an archive): its registry would have tools already approved, its keys
 * would seal the user's secrets, and a `.toolctl` that is a symbolic link would lead to another home (the user's
 * `~/.toolctl`). So the project's home is refused when it is a link or not a directory, and when it has no
 * record of having been made here.
 *
 * The record (`origin.json`) is written when toolctl makes the directory, and names what a copy cannot have: the
 * directory's own inode number and birth time, given by the file system that made it. A clone, an archive or a
 * copy makes a new directory, so it does not match, whatever the record says; a project its owner moved (within
 * one file system) keeps its directory, and so its registry. The root the record names is for messages only: a
 * path can be guessed, an inode number and a birth time in nanoseconds cannot.
 */
import { lstatSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync, type BigIntStats } from "node:fs";
import path from "node:path";
import { RegistryError } from "../errors.js";
import { defaultHome, PROJECT_FILE, PROJECT_HOME } from "./home.js";

/** In a project's home: where toolctl made it, written when it made it. */
export const ORIGIN_FILE = "origin.json";

interface Origin {
  root: string;
  ino: string;
  birth: string;
}

/** Whether `home` is a project's `.toolctl/` (beside a toolctl.yaml), however it was named; never `~/.toolctl`. */
export function isProjectHome(home: string): boolean {
  const resolved = path.resolve(home);
  if (path.basename(resolved) !== PROJECT_HOME || resolved === path.resolve(defaultHome())) return false;
  try {
    return statSync(path.join(path.dirname(resolved), PROJECT_FILE)).isFile();
  } catch {
    return false;
  }
}

function identity(stats: BigIntStats): Pick<Origin, "ino" | "birth"> {
  return { ino: stats.ino.toString(), birth: stats.birthtimeNs.toString() };
}

function readOrigin(file: string): Partial<Origin> | undefined {
  try {
    const data: unknown = JSON.parse(readFileSync(file, "utf8"));
    return data !== null && typeof data === "object" ? (data as Partial<Origin>) : {};
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? undefined : {};
  }
}

/** What to do with a project home that is refused. */
const moveAside = (home: string) => `move it aside (mv ${home} ${home}.untrusted) or remove it, then run toolctl sync to make a fresh one`;

/**
 * Why the project home `home` cannot be used, or undefined when it can (or does not exist yet, or is not a
 * project's home). Reads only: `toolctl doctor` reports it.
 */
export function projectHomeProblem(home: string): string | undefined {
  if (!isProjectHome(home)) return undefined;
  const resolved = path.resolve(home);
  let stats: BigIntStats;
  try {
    stats = lstatSync(resolved, { bigint: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    return `cannot use the project's home ${resolved}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
  }
  if (stats.isSymbolicLink())
    return `the project's home ${resolved} is a symbolic link, which toolctl does not follow (it may lead to another registry): ${moveAside(resolved)}`;
  if (!stats.isDirectory()) return `the project's home ${resolved} is not a directory: ${moveAside(resolved)}`;
  const origin = readOrigin(path.join(resolved, ORIGIN_FILE));
  if (origin === undefined) {
    return `the project's home ${resolved} was not made here by toolctl (it has no ${ORIGIN_FILE}: committed to the repository, unpacked from an archive, or made by an earlier toolctl), so its registry and keys are not used: ${moveAside(resolved)}`;
  }
  const here = identity(stats);
  if (origin.ino !== here.ino || origin.birth !== here.birth) {
    const where = typeof origin.root === "string" ? ` for ${origin.root}` : "";
    return `the project's home ${resolved} was made elsewhere${where} and copied here (or committed to the repository), so its registry and keys are not used: ${moveAside(resolved)}`;
  }
  return undefined;
}

/** Refuses (exit 6) a project home toolctl did not make here; see projectHomeProblem. */
export function checkProjectHome(home: string): void {
  const problem = projectHomeProblem(home);
  if (problem !== undefined) throw new RegistryError(problem);
}

/**
 * Makes the project home `home` with its record, in one step: made and recorded under a temporary name, then
 * renamed into place (the rename keeps the directory, and so what the record names). Another process that made it
 * first wins, and its directory is used. Returns false when it already existed.
 */
export function makeProjectHome(home: string): boolean {
  const resolved = path.resolve(home);
  try {
    lstatSync(resolved);
    return false;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const temp = `${resolved}.${process.pid}.tmp`;
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp, { mode: 0o700 });
  try {
    const origin: Origin = { root: realpathSync(path.dirname(resolved)), ...identity(lstatSync(temp, { bigint: true })) };
    writeFileSync(path.join(temp, ORIGIN_FILE), `${JSON.stringify(origin, null, 2)}\n`, { mode: 0o600 });
    renameSync(temp, resolved);
    return true;
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    const code = (error as NodeJS.ErrnoException).code;
    // Made by another process in the meantime: theirs is used (and checked).
    if (code === "EEXIST" || code === "ENOTEMPTY" || code === "EISDIR") return false;
    throw error;
  }
}
