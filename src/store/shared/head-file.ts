/**
 * The audit head exported to a file in the home: the signed checkpoint as it was last committed. A registry
 * restored from an older backup, or a log cut short, no longer agrees with it. SQLite keeps one (`audit.head`,
 * beside the database); each team database gets its own in every machine's home.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface ChainHead {
  seq: number;
  hash: string;
  /** The audit key that signed it, and the signature (see signing.ts `checkpointMac`). */
  keyId: string;
  mac: string;
}

/**
 * Callers hold their registry's write lock, so writers never overlap: one fixed temp name is enough, and one left
 * by a killed writer is overwritten and renamed by the next export.
 */
export function writeHeadFile(home: string, name: string, head: ChainHead): void {
  const target = path.join(home, name);
  const temp = `${target}.tmp`;
  writeFileSync(temp, `${JSON.stringify({ seq: head.seq, hash: head.hash, keyId: head.keyId, mac: head.mac })}\n`, { mode: 0o600 });
  renameSync(temp, target);
}

/** The exported head; `undefined` when there is no file, `"invalid"` when it cannot be read as a head. */
export function readHeadFile(home: string, name: string): ChainHead | "invalid" | undefined {
  let text: string;
  try {
    text = readFileSync(path.join(home, name), "utf8");
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
