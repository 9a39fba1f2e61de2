/**
 * The audit head exported to a file beside the database: the signed checkpoint as it was last committed. A copy
 * of the registry restored from an older backup, or a log cut short, no longer agrees with it.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";

export const HEAD_FILE = "audit.head";

export interface ChainHead {
  seq: number;
  hash: string;
  /** The audit key that signed it, and the signature (see db.ts `checkpointMac`). */
  keyId: string;
  mac: string;
}

/**
 * Called only under the registry's write lock (see `exportCommittedHead`), so writers never overlap: one fixed
 * temp name is enough, and one left by a killed writer is overwritten and renamed by the next export.
 */
export function exportHead(home: string, head: ChainHead): void {
  const target = path.join(home, HEAD_FILE);
  const temp = `${target}.tmp`;
  writeFileSync(temp, `${JSON.stringify({ seq: head.seq, hash: head.hash, keyId: head.keyId, mac: head.mac })}\n`, { mode: 0o600 });
  renameSync(temp, target);
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
