/**
 * Secrets on a team machine. They are not shared: each machine keeps its own, sealed with its own master key, in
 * its home's registry (registry.db), exactly where a solo home keeps them, so a home that joins a team keeps its
 * secrets. What the team database gets is the record: setting, removing and rotating are audited in the team's
 * log, naming the machine.
 *
 * A rotation of this machine's master key also re-seals the team's TOTP secret kept in PostgreSQL when it was
 * sealed with one of this machine's keys, and drops no key that secret still needs. Each key-file edit happens
 * with the team's write lock held as well as the home's, the order every write here takes them in, so neither a
 * `secret set` on this machine nor a `2fa enroll` on it can seal with a key being dropped.
 *
 * A secret's write and its audit event are two databases: the team's transaction commits after the home's, so a
 * failure in between (the team database gone at that instant) leaves a secret written but not audited, never an
 * audited change that did not happen.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import type { SecretStore } from "../port.js";
import { loadKeyRing, seal, sealedKeyId, sealedPrefix, unseal, type KeyRing } from "../../secrets/crypto.js";
import { TOTP_AAD } from "../shared/totp.js";
import { openRegistry, REGISTRY_FILE, writeTransaction, type Registry } from "../sqlite/db.js";
import { addKey, dropUnusedKeys, envRotationRing, prepareRotation, resealAll, rotatedEvent } from "../sqlite/rotate.js";
import { dropSecret, listSecrets, readSealedSecret, readSealedSecrets, secretRemovedEvent, secretSetEvent, writeSecret } from "../sqlite/secrets.js";
import { appendAudit } from "./audit-append.js";
import type { PgRegistry, Sql } from "./db.js";

export interface PgSecretStore extends SecretStore {
  /** Closes this machine's own registry, if it was opened. */
  close(): Promise<void>;
}

/** Runs synchronous work and hands back its result, or its error, as a promise. */
function now<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error);
  }
}

/** The key id the team's TOTP secret was sealed with, if there is one. */
async function teamTotpKeyId(sql: Sql): Promise<string | undefined> {
  const row = await sql.one<{ sealed_secret: string }>("SELECT sealed_secret FROM totp WHERE id = 1");
  return row && sealedKeyId(row.sealed_secret);
}

/**
 * Re-seals the team's TOTP secret with the ring's current key, under the team's write lock; 1 when it did. A secret
 * sealed with a key this machine does not hold is another machine's to rotate, and is left as it is.
 */
async function resealTeamTotp(registry: PgRegistry, ring: () => KeyRing): Promise<number> {
  return registry.write(async (tx) => {
    const row = await tx.one<{ sealed_secret: string }>("SELECT sealed_secret FROM totp WHERE id = 1");
    const current = ring();
    if (!row || row.sealed_secret.startsWith(sealedPrefix(current.current)) || !current.keys.has(sealedKeyId(row.sealed_secret))) return 0;
    await tx.run("UPDATE totp SET sealed_secret = $1 WHERE id = 1", [seal(current, unseal(current, row.sealed_secret, TOTP_AAD), TOTP_AAD)]);
    return 1;
  });
}

/** This machine's secret store, for a team whose database is `registry`; `home` and `env` are this machine's. */
export function pgSecrets(home: string, env: NodeJS.ProcessEnv, registry: PgRegistry): PgSecretStore {
  let local: Registry | undefined;
  const open = () => (local ??= openRegistry(home, env));
  // Reading needs no registry file: a machine that never stored a secret has none, and gets no empty one made for it.
  const read = <T>(fn: (registry: Registry) => T, none: T): Promise<T> => now(() => (local || existsSync(path.join(home, REGISTRY_FILE)) ? fn(open()) : none));
  const where = { host: registry.host };
  return {
    put: (name, sealValue, actor) =>
      registry.write(async (tx) => {
        const local = open();
        const written = writeTransaction(local, () => writeSecret(local, name, sealValue));
        await appendAudit(registry, tx, secretSetEvent(name, written.created, actor, where));
        return written;
      }),
    remove: (name, actor) =>
      registry.write(async (tx) => {
        const local = open();
        if (!writeTransaction(local, () => dropSecret(local, name))) return false;
        await appendAudit(registry, tx, secretRemovedEvent(name, actor, where));
        return true;
      }),
    list: () => read(listSecrets, []),
    sealed: (name) => read((local) => readSealedSecret(local, name), undefined),
    allSealed: () => read(readSealedSecrets, new Map<string, string>()),
    async rotateKey(keyHome, keyEnv, options = {}) {
      const local = open();
      const batchSize = prepareRotation(local, options);
      const actor = options.actor ?? "user";
      if (keyEnv.TOOLCTL_MASTER_KEY) {
        const target = envRotationRing(keyEnv);
        const resealed = resealAll(local, batchSize, () => target);
        resealed.totp += await resealTeamTotp(registry, () => target);
        const result = { keyId: target.current, source: "env" as const, resealed, droppedKeyIds: [] };
        await registry.write((tx) => appendAudit(registry, tx, rotatedEvent(result, actor)));
        return result;
      }
      addKey(local, keyHome);
      // The ring is read again for every batch: if another rotation started meanwhile, both converge on its key.
      const ring = () => loadKeyRing(keyHome, {}, { create: false })!;
      const resealed = resealAll(local, batchSize, ring);
      resealed.totp += await resealTeamTotp(registry, ring);
      return registry.write(async (tx) => {
        const teamKey = await teamTotpKeyId(tx);
        const { keyId, droppedKeyIds } = writeTransaction(local, () => dropUnusedKeys(local, keyHome, teamKey ? [teamKey] : []));
        const result = { keyId, source: "file" as const, resealed, droppedKeyIds };
        await appendAudit(registry, tx, rotatedEvent(result, actor));
        return result;
      });
    },
    close: () =>
      now(() => {
        local?.close();
        local = undefined;
      }),
  };
}
