/**
 * What both backends sign, and how: the audit chain's hashes, its checkpoint and the signature of each execution
 * row. Kept in one place so that a row moved from SQLite to PostgreSQL (`toolctl db migrate-to`) verifies on
 * either side.
 */
import { canonicalJson, sha256Hex } from "../../util/canonical.js";
import { hmacHex, type AuditKey } from "../../secrets/audit-key.js";

export const GENESIS_HASH = "0".repeat(64);

/** An audit event as stored, without its chain fields. */
export interface AuditRowBody {
  seq: number;
  ts: string;
  type: string;
  actor: string;
  tool: string | null;
  action: string | null;
  execution_id: string | null;
  status: string | null;
  data: string;
}

function rowBody(row: AuditRowBody): string {
  return canonicalJson({
    seq: row.seq,
    ts: row.ts,
    type: row.type,
    actor: row.actor,
    tool: row.tool,
    action: row.action,
    execution_id: row.execution_id,
    status: row.status,
    data: row.data,
  });
}

/** hash_i = HMAC-SHA-256(audit key, hash_{i-1} ‖ canonical JSON of row i); plain SHA-256 for events from before the log was keyed. */
export function hashRow(prevHash: string, row: AuditRowBody, key: AuditKey | null): string {
  const text = `${prevHash}\n${rowBody(row)}`;
  return key ? hmacHex(key, text) : sha256Hex(text);
}

export function checkpointMac(key: AuditKey, head: { seq: number; hash: string }): string {
  return hmacHex(key, `toolctl audit checkpoint\n${head.seq}\n${head.hash}`);
}

/** Columns added after signing began: they count in the signature only when set, so rows signed before still verify. */
const OPTIONAL_COLUMNS = ["origin", "host", "error_code", "error_exit_code", "error_problems"] as const;

/**
 * Executions are what people read ("did the payment go through?"), so every row is signed with the audit key
 * like the audit chain: an edited status, output or cost no longer verifies. The signature covers every column
 * but itself, so columns added later are covered without a change here.
 */
export function executionMac(key: AuditKey, row: Record<string, unknown>): string {
  const columns: Record<string, unknown> = { ...row };
  delete columns.mac;
  for (const name of OPTIONAL_COLUMNS) if (columns[name] === null || columns[name] === undefined) delete columns[name];
  return `${key.id}:${hmacHex(key, `toolctl execution\n${canonicalJson(columns)}`)}`;
}

/**
 * A secret value's digest that only holders of the audit key can compute, for a record shown to others (a saved
 * plan): equal values give equal digests, and a guess cannot be tested against it without the key.
 */
export function secretDigest(key: AuditKey, value: string): string {
  return `hmac-sha256:${key.id}:${hmacHex(key, `toolctl secret digest\n${value}`)}`;
}
