/**
 * Sealed secrets, one row per name. The rows hold ciphertext only: sealing and opening happen in
 * secrets/store.ts with the master key, which this module never sees.
 */
import type { AuditEventInput } from "../../domain/records.js";
import type { SecretInfo } from "../port.js";
import { sealedKeyId } from "../../secrets/crypto.js";
import { appendAudit } from "./audit.js";
import { nowIso, writeTransaction, type Registry } from "./db.js";

/** Writes a secret sealed inside the transaction (so a key rotation cannot slip between seal and write). */
export function putSecret(registry: Registry, name: string, seal: () => { sealed: string; keyId: string }, actor: string): { created: boolean; keyId: string } {
  return writeTransaction(registry, () => {
    const written = writeSecret(registry, name, seal);
    appendAudit(registry, secretSetEvent(name, written.created, actor));
    return written;
  });
}

/** Removes a secret; false when there is none by that name (nothing is audited then). */
export function deleteSecret(registry: Registry, name: string, actor: string): boolean {
  return writeTransaction(registry, () => {
    if (!dropSecret(registry, name)) return false;
    appendAudit(registry, secretRemovedEvent(name, actor));
    return true;
  });
}

/**
 * Seals and writes one secret, without auditing it: call inside a write transaction. The team store (PostgreSQL)
 * keeps each machine's secrets here and audits them in the team's log.
 */
export function writeSecret(registry: Registry, name: string, seal: () => { sealed: string; keyId: string }): { created: boolean; keyId: string } {
  const { sealed, keyId } = seal();
  const now = nowIso();
  const existing = registry.db.prepare("SELECT 1 FROM secrets WHERE name = ?").get(name);
  if (existing) registry.db.prepare("UPDATE secrets SET sealed = ?, updated_at = ? WHERE name = ?").run(sealed, now, name);
  else registry.db.prepare("INSERT INTO secrets (name, sealed, created_at, updated_at) VALUES (?, ?, ?, ?)").run(name, sealed, now, now);
  return { created: !existing, keyId };
}

/** Removes one secret without auditing it: call inside a write transaction. */
export function dropSecret(registry: Registry, name: string): boolean {
  return registry.db.prepare("DELETE FROM secrets WHERE name = ?").run(name).changes > 0;
}

export const secretSetEvent = (name: string, created: boolean, actor: string, data: Record<string, unknown> = {}): AuditEventInput => ({
  type: "secret.set",
  actor,
  status: created ? "created" : "updated",
  data: { name, ...data },
});

export const secretRemovedEvent = (name: string, actor: string, data: Record<string, unknown> = {}): AuditEventInput => ({
  type: "secret.removed",
  actor,
  data: { name, ...data },
});

export function listSecrets(registry: Registry): SecretInfo[] {
  const rows = registry.db.prepare("SELECT name, sealed, created_at, updated_at FROM secrets ORDER BY name").all() as {
    name: string;
    sealed: string;
    created_at: string;
    updated_at: string;
  }[];
  return rows.map((row) => ({ name: row.name, createdAt: row.created_at, updatedAt: row.updated_at, keyId: sealedKeyId(row.sealed) }));
}

export function readSealedSecret(registry: Registry, name: string): string | undefined {
  return registry.db.prepare("SELECT sealed FROM secrets WHERE name = ?").pluck().get(name) as string | undefined;
}

/** Every sealed secret by name, still encrypted: read once, decrypted only for the names asked for. */
export function readSealedSecrets(registry: Registry): Map<string, string> {
  const rows = registry.db.prepare("SELECT name, sealed FROM secrets").all() as { name: string; sealed: string }[];
  return new Map(rows.map((row) => [row.name, row.sealed]));
}
