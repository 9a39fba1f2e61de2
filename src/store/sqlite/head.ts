/**
 * The audit head exported to `audit.head` beside the database (see shared/head-file.ts).
 */
import { readHeadFile, writeHeadFile, type ChainHead } from "../shared/head-file.js";

export type { ChainHead };

export const HEAD_FILE = "audit.head";

/** Called only under the registry's write lock (see `exportCommittedHead`). */
export function exportHead(home: string, head: ChainHead): void {
  writeHeadFile(home, HEAD_FILE, head);
}

/** The exported head; `undefined` when there is no file, `"invalid"` when it cannot be read as a head. */
export function readHead(home: string): ChainHead | "invalid" | undefined {
  return readHeadFile(home, HEAD_FILE);
}
