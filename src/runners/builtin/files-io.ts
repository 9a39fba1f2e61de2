/**
 * The files runtime at the moment of use. Every name is opened relative to a directory descriptor that
 * ./confine.ts opened without following links, so what was checked is what is touched. A write goes to a
 * temporary file in the same directory and is renamed over the target: a reader sees the old content or the
 * new, never half of it, and a failure leaves the target as it was.
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  linkSync,
  lstatSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
  type Stats,
} from "node:fs";
import { nodeCrypto } from "../../util/builtins.js";
import { quote } from "./input.js";
import { at, failureFor, FileFailure, openDirectory, outside, whereIs, type ConfinedPath } from "./confine.js";
import { removeQuietly } from "../../util/remove-quietly.js";

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants;

const symlinkRefused = (target: ConfinedPath) => new FileFailure(outside(target.raw, "a symbolic link").message, "authorization");

/** Runs `act` with the directory holding the target open, and always closes it. */
function inParent<T>(target: ConfinedPath, create: boolean, act: (dirfd: number, name: string) => T): T {
  const dirfd = openDirectory(target, target.segments.slice(0, -1), { create });
  try {
    return act(dirfd, target.segments[target.segments.length - 1]!);
  } catch (error) {
    throw failureFor(error, quote(target.raw));
  } finally {
    closeSync(dirfd);
  }
}

function lstatAt(dirfd: number, name: string): Stats | undefined {
  try {
    return lstatSync(at(dirfd, name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

export function readFile(target: ConfinedPath, encoding: "utf8" | "base64", maxBytes: number): Record<string, unknown> {
  return inParent(target, false, (dirfd, name) => {
    let fd: number;
    try {
      // O_NONBLOCK: a FIFO put in the file's place must not hang the run.
      fd = openSync(at(dirfd, name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ELOOP") throw symlinkRefused(target);
      if (code === "ENOENT") throw new FileFailure(`no such file: ${quote(target.raw)}`, "validation");
      throw error;
    }
    try {
      const stats = fstatSync(fd);
      if (stats.isDirectory()) throw new FileFailure(`${quote(target.raw)} is a directory; use a list action`, "validation");
      if (!stats.isFile()) throw new FileFailure(`${quote(target.raw)} is not a regular file`, "validation");
      // A second name for the same file may be a link to something outside the root.
      if (stats.nlink > 1) throw new FileFailure(outside(target.raw, "a hard link").message, "authorization");
      if (whereIs(fd) !== target.absolute) throw new FileFailure(outside(target.raw, "moved while in use").message, "authorization");
      const content = readUpTo(fd, maxBytes, target);
      const text = encoding === "base64" ? content.toString("base64") : decodeUtf8(content, target);
      return { path: target.absolute, encoding, size: content.length, content: text };
    } finally {
      closeSync(fd);
    }
  });
}

function readUpTo(fd: number, maxBytes: number, target: ConfinedPath): Buffer {
  // One byte more than allowed tells a file that grew past the limit from one that is exactly at it.
  const buffer = Buffer.alloc(Math.min(maxBytes + 1, Math.max(fstatSync(fd).size + 1, 64 * 1024)));
  let length = 0;
  let chunk = buffer;
  for (;;) {
    if (length === chunk.length) {
      if (chunk.length > maxBytes) break;
      const bigger = Buffer.alloc(Math.min(maxBytes + 1, chunk.length * 2));
      chunk.copy(bigger, 0, 0, length);
      chunk = bigger;
    }
    const read = readSync(fd, chunk, length, chunk.length - length, null);
    if (read === 0) break;
    length += read;
  }
  if (length > maxBytes) throw new FileFailure(`${quote(target.raw)} is over this tool's files.maxReadBytes of ${maxBytes} bytes`, "resource_limit");
  return chunk.subarray(0, length);
}

function decodeUtf8(content: Buffer, target: ConfinedPath): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(content);
  } catch {
    throw new FileFailure(`${quote(target.raw)} is not UTF-8 text; read it with encoding base64`, "validation");
  }
}

export function writeFile(target: ConfinedPath, content: Buffer, createOnly: boolean): Record<string, unknown> {
  return inParent(target, true, (dirfd, name) => {
    const existing = lstatAt(dirfd, name);
    if (existing?.isSymbolicLink()) throw symlinkRefused(target);
    if (existing?.isDirectory()) throw new FileFailure(`${quote(target.raw)} is a directory`, "validation");
    if (existing && !existing.isFile()) throw new FileFailure(`${quote(target.raw)} is not a regular file`, "validation");
    if (existing && createOnly) throw new FileFailure(`${quote(target.raw)} already exists`, "validation");
    const temp = `.toolctl-${nodeCrypto().randomBytes(8).toString("hex")}.tmp`;
    const fd = openSync(at(dirfd, temp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o666);
    let committed = false;
    try {
      try {
        for (let offset = 0; offset < content.length;) offset += writeSync(fd, content, offset, content.length - offset);
        // Replacing a file keeps its permissions (not its owner, nor set-id bits).
        if (existing) fchmodSync(fd, existing.mode & 0o777);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      if (createOnly) {
        // link() never replaces: of two concurrent creates, exactly one wins.
        try {
          linkSync(at(dirfd, temp), at(dirfd, name));
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "EEXIST") throw new FileFailure(`${quote(target.raw)} already exists`, "validation");
          throw error;
        }
        committed = true;
        removeQuietly(at(dirfd, temp));
      } else {
        // rename() replaces a name, it never writes through a link that appeared there meanwhile.
        renameSync(at(dirfd, temp), at(dirfd, name));
        committed = true;
      }
    } catch (error) {
      if (!committed) removeQuietly(at(dirfd, temp));
      throw error;
    }
    syncQuietly(dirfd);
    return { path: target.absolute, bytes: content.length, created: existing === undefined };
  });
}

export function deleteFile(target: ConfinedPath): Record<string, unknown> {
  return inParent(target, false, (dirfd, name) => {
    const existing = lstatAt(dirfd, name);
    if (!existing) throw new FileFailure(`no such file: ${quote(target.raw)}`, "validation");
    if (existing.isSymbolicLink()) throw symlinkRefused(target);
    if (existing.isDirectory()) throw new FileFailure(`${quote(target.raw)} is a directory; only files are deleted`, "validation");
    // unlink() removes a name and never follows it: a link swapped in since the check is what would go.
    unlinkSync(at(dirfd, name));
    syncQuietly(dirfd);
    return { path: target.absolute, deleted: true };
  });
}

export function listDirectory(target: ConfinedPath, maxEntries: number): Record<string, unknown> {
  let dirfd: number;
  try {
    dirfd = openDirectory(target, target.segments, { create: false });
  } catch (error) {
    throw failureFor(error, quote(target.raw));
  }
  try {
    const all = readdirSync(at(dirfd), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const entries = all.slice(0, maxEntries).map((entry) => {
      const type = entry.isFile() ? "file" : entry.isDirectory() ? "directory" : entry.isSymbolicLink() ? "symlink" : "other";
      const size = entry.isFile() ? lstatAt(dirfd, entry.name)?.size : undefined;
      return { name: entry.name, type, ...(size === undefined ? {} : { size }) };
    });
    return { path: target.absolute, entries, truncated: all.length > maxEntries };
  } catch (error) {
    throw failureFor(error, quote(target.raw));
  } finally {
    closeSync(dirfd);
  }
}

/** Makes the rename durable; the change already happened, so a failure here does not undo it. */
function syncQuietly(dirfd: number): void {
  try {
    fsyncSync(dirfd);
  } catch {
    // Some file systems refuse fsync on a directory.
  }
}
