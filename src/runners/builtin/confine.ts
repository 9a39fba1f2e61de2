/**
 * Confining the files runtime to its roots ("Path is outside project directory", as in the seed).
 *
 * Two stages. `confine` and `inspect` run while preparing (and so in a dry run): the path is checked as text
 * (no `..`, no NUL, inside a root, not in the toolctl home), then each existing component is looked at
 * without following links. `openDirectory` runs at the moment of use: Node has no openat(), so it is
 * emulated through /proc/self/fd. Each component is opened relative to the directory opened before it, with
 * O_NOFOLLOW, and the final operation names its file relative to that directory's descriptor. A symlink
 * swapped in after the checks is therefore never followed, and a directory moved away is caught by reading
 * back where the descriptor really points.
 */
import { closeSync, constants, existsSync, lstatSync, mkdirSync, openSync, readlinkSync, realpathSync, type Stats } from "node:fs";
import path from "node:path";
import { EnvironmentError, PolicyError } from "../../errors.js";
import { BuiltinInputError, isWithin, quote } from "./input.js";
import { keyMaterialHolding } from "../key-material.js";

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = constants;

export interface Root {
  /** As declared, resolved against the manifest's directory. */
  declared: string;
  /** Its real path: every later check compares against this. */
  real: string;
}

export interface ConfinedPath {
  /** As the input gave it, for messages. */
  raw: string;
  root: Root;
  /** Below the root; empty for the root itself. */
  segments: string[];
  /** The real root joined with the segments: where the operation acts. */
  absolute: string;
}

/** The seed's wording, naming the path, plus why when that helps. */
export function outside(raw: string, why?: string): PolicyError {
  return new PolicyError("policy_refused", `Path is outside project directory: ${quote(raw)}${why ? ` (${why})` : ""}`);
}

/** A problem found while acting (a race, a missing file): reported as a failed run, never thrown further. */
export class FileFailure extends Error {
  constructor(
    message: string,
    readonly category: "authorization" | "validation" | "resource_limit" | "environment" | "other",
  ) {
    super(message);
  }
}

export function resolveRoots(declared: string[], base: () => string): Root[] {
  return declared.map((root) => {
    const absolute = path.resolve(path.isAbsolute(root) ? root : path.join(base(), root));
    try {
      return { declared: absolute, real: realpathSync(absolute) };
    } catch (error) {
      throw new EnvironmentError(
        `files root ${absolute} cannot be used (${(error as NodeJS.ErrnoException).code ?? "unreadable"}); create it or fix files.roots in the manifest`,
      );
    }
  });
}

/**
 * Checks a path as text: a relative one is taken from the first root, an absolute one must lie inside a
 * root. Any `..` segment is refused, even one that would stay inside.
 */
export function confine(
  raw: unknown,
  roots: Root[],
  options: { allowRoot: boolean; home: string; env: NodeJS.ProcessEnv; secretFiles?: string[] },
): ConfinedPath {
  if (raw === undefined) throw new BuiltinInputError("input path is required");
  if (typeof raw !== "string") throw new BuiltinInputError("input path must be a string");
  if (raw === "") throw new BuiltinInputError("input path is empty");
  if (raw.includes("\0")) throw outside(raw, "a NUL byte");
  if (raw.split("/").includes("..")) throw outside(raw, "'..' is not allowed");
  let root = roots[0]!;
  let below = raw;
  if (path.isAbsolute(raw)) {
    const normal = path.normalize(raw);
    const match = roots.find((r) => isWithin(normal, r.declared)) ?? roots.find((r) => isWithin(normal, r.real));
    if (!match) throw outside(raw);
    root = match;
    below = path.relative(isWithin(normal, match.declared) ? match.declared : match.real, normal);
  }
  const segments = below.split("/").filter((segment) => segment !== "" && segment !== ".");
  if (segments.length === 0 && !options.allowRoot) throw outside(raw, "the root itself");
  const absolute = path.join(root.real, ...segments);
  // The registry, its keys and the audit log live in the home: no tool may touch them, whatever its roots.
  const home = realOrSelf(options.home);
  if (isWithin(absolute, home)) throw outside(raw, "inside the toolctl home");
  // The user's keys (SSH, GPG, cloud credentials) are never a tool's, even under a root that contains them, and
  // whether or not they exist yet: a write would make them (~/.ssh/authorized_keys, ~/.npmrc).
  const keys = keyMaterialHolding(absolute, options.env);
  if (keys !== undefined) throw outside(raw, `inside ${keys}, which holds key material`);
  // The .env files secrets are read from: a tool gets the secrets it declares, never the file that holds them all.
  if (options.secretFiles?.some((file) => realOrSelf(file) === absolute)) throw outside(raw, "the .env file toolctl reads secrets from");
  return { raw, root, segments, absolute };
}

function realOrSelf(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return path.resolve(file);
  }
}

/**
 * Looks at each existing component without following links: a symlink anywhere, the last component included,
 * is refused. Returns the final component's stats, or undefined when it (or a parent) does not exist yet.
 */
export function inspect(confined: ConfinedPath): Stats | undefined {
  let current = confined.root.real;
  let stats: Stats | undefined;
  for (const segment of confined.segments) {
    if (stats && !stats.isDirectory()) return undefined;
    current = path.join(current, segment);
    try {
      stats = lstatSync(current);
    } catch {
      return undefined;
    }
    if (stats.isSymbolicLink()) throw outside(confined.raw, `${quote(path.relative(confined.root.real, current))} is a symbolic link`);
  }
  return confined.segments.length === 0 ? lstatSync(confined.root.real) : stats;
}

/** A name relative to an open directory: what openat() would take, through the descriptor's magic link. */
export function at(dirfd: number, name?: string): string {
  return name === undefined ? `/proc/self/fd/${dirfd}` : `/proc/self/fd/${dirfd}/${name}`;
}

/** Where a descriptor really points now; a moved or swapped directory shows up here. */
export function whereIs(fd: number): string {
  return readlinkSync(at(fd));
}

/**
 * Opens the directory at `segments` below the root, one component at a time, never following a link.
 * With `create`, missing directories are made on the way. The caller closes the descriptor.
 */
export function openDirectory(confined: ConfinedPath, segments: string[], options: { create: boolean }): number {
  if (!existsSync("/proc/self/fd")) {
    throw new FileFailure("the files runtime needs /proc/self/fd (Linux) to open paths safely; nothing was done", "environment");
  }
  let fd = openRoot(confined);
  try {
    if (whereIs(fd) !== confined.root.real) throw new FileFailure(outside(confined.raw, "the root moved").message, "authorization");
    for (const [index, segment] of segments.entries()) {
      const next = openChild(confined, fd, segment, options.create, segments.slice(0, index + 1));
      closeSync(fd);
      fd = next;
    }
    // Opened without following links, so it can only be elsewhere if a directory was moved meanwhile.
    const expected = path.join(confined.root.real, ...segments);
    if (whereIs(fd) !== expected) throw new FileFailure(outside(confined.raw, `${quote(expected)} moved while in use`).message, "authorization");
    return fd;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

function openRoot(confined: ConfinedPath): number {
  try {
    return openSync(confined.root.real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // The root was checked while preparing: a link there now means it was swapped since.
    if (code === "ELOOP" || code === "ENOTDIR") throw new FileFailure(outside(confined.raw, "the root was replaced").message, "authorization");
    throw new FileFailure(`cannot open files root ${confined.root.real}: ${code ?? (error as Error).message}`, "environment");
  }
}

function openChild(confined: ConfinedPath, dirfd: number, segment: string, create: boolean, upTo: string[]): number {
  const shown = quote(upTo.join("/"));
  for (let attempt = 0; ; attempt++) {
    try {
      return openSync(at(dirfd, segment), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" && create && attempt === 0) {
        try {
          mkdirSync(at(dirfd, segment), 0o777);
        } catch (made) {
          if ((made as NodeJS.ErrnoException).code !== "EEXIST") throw failureFor(made, shown);
        }
        continue;
      }
      // O_NOFOLLOW with O_DIRECTORY reports a symlink as ENOTDIR (or ELOOP): look again to say which.
      if (code === "ELOOP" || (code === "ENOTDIR" && isSymlink(at(dirfd, segment)))) {
        throw new FileFailure(outside(confined.raw, `${shown} is a symbolic link`).message, "authorization");
      }
      if (code === "ENOTDIR") throw new FileFailure(`${shown} is not a directory`, "validation");
      if (code === "ENOENT") throw new FileFailure(`no such directory: ${shown}`, "validation");
      throw failureFor(error, shown);
    }
  }
}

export function isSymlink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

/** An operating-system error as a one-line failure. */
export function failureFor(error: unknown, shown: string): FileFailure {
  if (error instanceof FileFailure) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "EACCES" || code === "EPERM") return new FileFailure(`permission denied: ${shown}`, "authorization");
  if (code === "ENOSPC" || code === "EDQUOT") return new FileFailure(`no space left for ${shown}; nothing was changed`, "resource_limit");
  if (code === "EROFS") return new FileFailure(`${shown} is on a read-only file system`, "environment");
  return new FileFailure(`${shown}: ${code ?? (error as Error).message}`, "other");
}
