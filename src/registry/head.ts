/**
 * The audit chain head, kept in a file beside the database: cutting events off the end of the log leaves the
 * chain itself valid, but not consistent with this file.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";

export const HEAD_FILE = "audit.head";

export interface ChainHead {
  seq: number;
  hash: string;
}

/**
 * Called only under the registry's write lock (see `writeTransaction`), so writers never overlap: one fixed
 * temp name is enough, and one left by a killed writer is overwritten and renamed by the next export.
 */
export function exportHead(home: string, head: ChainHead): void {
  const target = path.join(home, HEAD_FILE);
  const temp = `${target}.tmp`;
  try {
    writeFileSync(temp, `${JSON.stringify(head)}\n`, { mode: 0o600 });
    renameSync(temp, target);
  } catch {
    // Best effort: `audit verify` reports a missing or stale head, and the database stays the source of truth.
  }
}

/** The exported head; `undefined` when there is no file, `"invalid"` when it cannot be read as a head. */
export function readHead(home: string): ChainHead | "invalid" | undefined {
  let text: string;
  try {
    text = readFileSync(path.join(home, HEAD_FILE), "utf8");
  } catch {
    return undefined;
  }
  try {
    const head = JSON.parse(text) as Partial<ChainHead>;
    if (Number.isInteger(head.seq) && typeof head.hash === "string" && /^[0-9a-f]{64}$/.test(head.hash)) return head as ChainHead;
  } catch {
    // fall through
  }
  return "invalid";
}
