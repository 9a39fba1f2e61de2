/**
 * Registered passkeys, one row per credential. The rows are data: the credential id and public key are public,
 * and every WebAuthn check happens above the store (policy/passkey.ts). Adding and removing a passkey are
 * audited in the same transaction as the change.
 */
import type { Passkey, PasskeyInfo } from "../../domain/records.js";
import type { NewPasskey } from "../port.js";
import { appendAudit } from "./audit.js";
import { nowIso, writeTransaction, type Registry } from "./db.js";

interface Row {
  id: string;
  name: string;
  public_key: string;
  counter: number;
  transports: string;
  created_at: string;
  last_used_at: string | null;
}

const toPasskey = (row: Row): Passkey => ({
  id: row.id,
  name: row.name,
  publicKey: row.public_key,
  counter: row.counter,
  transports: JSON.parse(row.transports) as string[],
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
});

export const passkeyInfo = ({ id, name, transports, createdAt, lastUsedAt }: Passkey): PasskeyInfo => ({ id, name, transports, createdAt, lastUsedAt });

const readPasskey = (registry: Registry, id: string): Passkey | undefined => {
  const row = registry.db.prepare("SELECT * FROM passkeys WHERE id = ?").get(id) as Row | undefined;
  return row && toPasskey(row);
};

/** Oldest first. */
export function listPasskeys(registry: Registry): Passkey[] {
  return (registry.db.prepare("SELECT * FROM passkeys ORDER BY created_at, name").all() as Row[]).map(toPasskey);
}

export function addPasskey(registry: Registry, passkey: NewPasskey, actor: string): { ok: true; passkey: Passkey } | { ok: false; reason: string } {
  return writeTransaction(registry, () => {
    if (registry.db.prepare("SELECT 1 FROM passkeys WHERE name = ?").get(passkey.name)) {
      return { ok: false, reason: `a passkey named '${passkey.name}' is already registered: choose another name` };
    }
    if (readPasskey(registry, passkey.id)) return { ok: false, reason: "this passkey is already registered" };
    registry.db
      .prepare("INSERT INTO passkeys (id, name, public_key, counter, transports, created_at) VALUES (?, ?, ?, ?, ?, ?)")
      .run(passkey.id, passkey.name, passkey.publicKey, passkey.counter, JSON.stringify(passkey.transports), nowIso());
    const added = readPasskey(registry, passkey.id)!;
    appendAudit(registry, { type: "2fa.passkey_added", actor, status: "added", data: { passkey: added.id, name: added.name, transports: added.transports } });
    return { ok: true, passkey: added };
  });
}

export function removePasskey(registry: Registry, id: string, actor: string, via: string): Passkey | undefined {
  return writeTransaction(registry, () => {
    const found = readPasskey(registry, id);
    if (!found) return undefined;
    registry.db.prepare("DELETE FROM passkeys WHERE id = ?").run(id);
    appendAudit(registry, { type: "2fa.passkey_removed", actor, status: "removed", data: { passkey: found.id, name: found.name, via } });
    return found;
  });
}

/**
 * A verified use. An authenticator that keeps a counter must report a higher one each time; one that keeps none
 * reports 0 throughout. A counter that did not move forward is refused and nothing is updated.
 */
export function recordPasskeyUse(
  registry: Registry,
  id: string,
  counter: number,
  nowMs: number,
): { ok: true; passkey: Passkey } | { ok: false; reason: string } {
  return writeTransaction(registry, () => {
    const found = readPasskey(registry, id);
    if (!found) return { ok: false, reason: "the passkey is no longer registered" };
    if ((counter !== 0 || found.counter !== 0) && counter <= found.counter) {
      return {
        ok: false,
        reason: `the passkey's signature counter did not advance (${counter} after ${found.counter}): a cloned authenticator or a replayed signature`,
      };
    }
    registry.db.prepare("UPDATE passkeys SET counter = ?, last_used_at = ? WHERE id = ?").run(counter, new Date(nowMs).toISOString(), id);
    return { ok: true, passkey: readPasskey(registry, id)! };
  });
}
