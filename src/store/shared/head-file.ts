/**
 * The audit head exported to a file in the home: the signed checkpoint as it was last committed. A registry
 * restored from an older backup, or a log cut short, no longer agrees with it. SQLite keeps one (`audit.head`,
 * beside the database); each team database gets its own in every machine's home.
 *
 * A head is written whole to `<name>.tmp` and renamed into place. The first one a home gets is flushed to disk,
 * and its directory after the rename, since a home without a head file refuses to write; a later one replaces a
 * head, and a power cut that loses it leaves the older head, behind the log, which is a note: it is not flushed,
 * so a run pays no fsync for it. A writer stopped between write and rename leaves the complete head in the temp
 * file: SQLite's store accepts it in place of a missing head file only when it is signed and at the log's very end
 * (see `readPendingHeadFile`).
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import path from "node:path";
import { syncDirectory } from "../../util/sync-directory.js";

export interface ChainHead {
  seq: number;
  hash: string;
  /** The audit key that signed it, and the signature (see signing.ts `checkpointMac`). */
  keyId: string;
  mac: string;
}

function headText(head: ChainHead): string {
  return `${JSON.stringify({ seq: head.seq, hash: head.hash, keyId: head.keyId, mac: head.mac })}\n`;
}

function pendingFile(home: string, name: string): string {
  return `${path.join(home, name)}.tmp`;
}

/**
 * Writes `text` to `file` (replacing it), flushed to disk when `flush`: a full disk is found here, at the write or
 * at the flush, never later. On any failure the file is removed, so no part of a head is left behind, and the
 * error thrown.
 */
function writeWhole(file: string, text: string, flush: boolean): void {
  let fd: number | undefined;
  try {
    fd = openSync(file, "w", 0o600);
    if (writeSync(fd, text) !== Buffer.byteLength(text)) throw new Error(`${file}: short write`);
    if (flush) fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(file);
    } catch {
      // Never created.
    }
    throw error;
  }
}

/**
 * Writes the head file. Callers hold their registry's write lock, so writers never overlap: one fixed temp name
 * is enough, and one left by a killed writer is overwritten and renamed by the next export. When the head file is
 * missing and the temp file already holds this very head (left by a writer stopped before its rename), it is
 * renamed as it is: rewriting it would put the one copy of the head at risk for nothing.
 */
export function writeHeadFile(home: string, name: string, head: ChainHead): void {
  const target = path.join(home, name);
  const temp = pendingFile(home, name);
  const text = headText(head);
  const first = !existsSync(target);
  if (!first || readText(temp) !== text) writeWhole(temp, text, first);
  renameSync(temp, target);
  if (first) syncDirectory(home);
}

/** Writes `head` to the head file's temp file only, flushed to disk, to be put in place by `putPendingHeadFile`. */
export function writePendingHeadFile(home: string, name: string, head: ChainHead): void {
  writeWhole(pendingFile(home, name), headText(head), true);
}

/** Renames the head left in the temp file into place (the caller has checked it). */
export function putPendingHeadFile(home: string, name: string): void {
  renameSync(pendingFile(home, name), path.join(home, name));
  syncDirectory(home);
}

/** Removes the temp file when it holds `head` (one that must never be put in place), and nothing else. */
export function dropPendingHeadFile(home: string, name: string, head: ChainHead): void {
  const temp = pendingFile(home, name);
  if (readText(temp) !== headText(head)) return;
  try {
    unlinkSync(temp);
  } catch {
    // Gone already.
  }
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

function parseHead(text: string): ChainHead | "invalid" {
  try {
    const head = JSON.parse(text) as Partial<ChainHead>;
    if (
      Number.isInteger(head.seq) &&
      typeof head.hash === "string" &&
      /^[0-9a-f]{64}$/.test(head.hash) &&
      typeof head.keyId === "string" &&
      typeof head.mac === "string"
    ) {
      return head as ChainHead;
    }
  } catch {
    // fall through
  }
  return "invalid";
}

/** The exported head; `undefined` when there is no file, `"invalid"` when it cannot be read as a head. */
export function readHeadFile(home: string, name: string): ChainHead | "invalid" | undefined {
  const text = readText(path.join(home, name));
  return text === undefined ? undefined : parseHead(text);
}

/**
 * The head a writer left in the temp file without renaming it into place (a process stopped in between);
 * `undefined` when there is none, or it is not a whole head. Only a head signed with the audit key and at the
 * log's very end may stand in for a missing head file (`pendingHeadHolds` in audit-rows.ts): the head file
 * itself is accepted there, so nothing passes this way that would not pass as the head file.
 */
export function readPendingHeadFile(home: string, name: string): ChainHead | undefined {
  const text = readText(pendingFile(home, name));
  if (text === undefined) return undefined;
  const head = parseHead(text);
  return head === "invalid" ? undefined : head;
}
