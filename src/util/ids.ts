import { nodeCrypto } from "./builtins.js";
import { isoTime } from "./iso-time.js";

/**
 * Random bytes for ids, drawn from the system's CSPRNG 1 KiB at a time rather than a few bytes per id: a server
 * that makes hundreds of executions a second saves a call into the CSPRNG for each. Every byte is used once.
 */
const POOL_BYTES = 1024;
let pool: Buffer | undefined;
let offset = POOL_BYTES;

function randomHex(bytes: number): string {
  if (pool === undefined || offset + bytes > POOL_BYTES) {
    pool ??= Buffer.alloc(POOL_BYTES);
    nodeCrypto().randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString("hex", offset, offset + bytes);
  offset += bytes;
  return hex;
}

/** Time-ordered ids: a prefix, a base-36 millisecond clock, then randomness. Short enough to type, unique across processes. */
export function newId(prefix: "ex" | "pl" | "pr" | "ap"): string {
  return `${prefix}_${Date.now().toString(36)}${randomHex(5)}`;
}

export function newExecutionId(): string {
  return newId("ex");
}

export function nowIso(): string {
  return isoTime();
}
