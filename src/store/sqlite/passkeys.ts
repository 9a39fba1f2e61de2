/**
 * Registered passkeys, one row per credential. The rows are data: the credential id and public key are public,
 * and every WebAuthn check happens above the store (policy/passkey.ts). Adding and removing a passkey are
 * audited in the same transaction as the change.
 */
import type { Passkey } from "../../domain/records.js";
import type { NewPasskey } from "../port.js";
import {
  addedEvent,
  ALREADY_REGISTERED,
  counterAdvances,
  counterStalled,
  nameTaken,
  NO_LONGER_REGISTERED,
  removedEvent,
  toPasskey,
  type PasskeyRow,
} from "../shared/passkeys.js";
import { appendAudit } from "./audit.js";
import { nowIso, writeTransaction, type Registry } from "./db.js";

const readPasskey = (registry: Registry, id: string): Passkey | undefined => {
  const row = registry.db.prepare("SELECT * FROM passkeys WHERE id = ?").get(id) as PasskeyRow | undefined;
  return row && toPasskey(row);
};

/** Oldest first. */
export function listPasskeys(registry: Registry): Passkey[] {
  return (registry.db.prepare("SELECT * FROM passkeys ORDER BY created_at, name").all() as PasskeyRow[]).map(toPasskey);
}

export function addPasskey(registry: Registry, passkey: NewPasskey, actor: string): { ok: true; passkey: Passkey } | { ok: false; reason: string } {
  return writeTransaction(registry, () => {
    if (registry.db.prepare("SELECT 1 FROM passkeys WHERE name = ?").get(passkey.name)) return { ok: false, reason: nameTaken(passkey.name) };
    if (readPasskey(registry, passkey.id)) return { ok: false, reason: ALREADY_REGISTERED };
    registry.db
      .prepare("INSERT INTO passkeys (id, name, public_key, counter, transports, created_at) VALUES (?, ?, ?, ?, ?, ?)")
      .run(passkey.id, passkey.name, passkey.publicKey, passkey.counter, JSON.stringify(passkey.transports), nowIso());
    const added = readPasskey(registry, passkey.id)!;
    appendAudit(registry, addedEvent(added, actor));
    return { ok: true, passkey: added };
  });
}

export function removePasskey(registry: Registry, id: string, actor: string, via: string): Passkey | undefined {
  return writeTransaction(registry, () => {
    const found = readPasskey(registry, id);
    if (!found) return undefined;
    registry.db.prepare("DELETE FROM passkeys WHERE id = ?").run(id);
    appendAudit(registry, removedEvent(found, actor, via));
    return found;
  });
}

/** A verified use; a counter that did not move forward is refused and nothing is updated. */
export function recordPasskeyUse(
  registry: Registry,
  id: string,
  counter: number,
  nowMs: number,
): { ok: true; passkey: Passkey } | { ok: false; reason: string } {
  return writeTransaction(registry, () => {
    const found = readPasskey(registry, id);
    if (!found) return { ok: false, reason: NO_LONGER_REGISTERED };
    if (!counterAdvances(found.counter, counter)) return { ok: false, reason: counterStalled(found.counter, counter) };
    registry.db.prepare("UPDATE passkeys SET counter = ?, last_used_at = ? WHERE id = ?").run(counter, new Date(nowMs).toISOString(), id);
    return { ok: true, passkey: readPasskey(registry, id)! };
  });
}
