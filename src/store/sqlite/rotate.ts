/**
 * Master key rotation. The order is what makes it safe to kill at any instant:
 *  1. the new key is added to master.key as current, durably, before any value is sealed with it;
 *  2. sealed values are re-sealed in batches, one transaction each, so every row is old or new, never half;
 *  3. only then are keys that no row references dropped, decided under the write lock.
 * Every key-file edit happens under the registry's write lock, so concurrent toolctl processes (another rotate,
 * a `secret set`) never seal with a key that is being dropped. A rotation that was killed is finished by
 * running it again. An environment key cannot be rewritten by toolctl: the operator supplies the next one.
 */
import { readdirSync, unlinkSync } from "node:fs";
import path from "node:path";
import { EnvironmentError, UsageError } from "../../errors.js";
import { appendAudit } from "./audit.js";
import { writeTransaction, type Registry } from "./db.js";
import {
  envKeyId,
  KEY_FILE,
  keyFilePath,
  loadKeyRing,
  newKeyId,
  readKeyFile,
  seal,
  sealedKeyId,
  sealedPrefix,
  unseal,
  writeKeyFile,
  type KeyRing,
} from "../../secrets/crypto.js";
import type { AuditEventInput } from "../../domain/records.js";
import type { RotateOptions, RotateResult } from "../port.js";
import { nodeCrypto } from "../../util/builtins.js";
import { isAlive } from "../../util/process.js";

/** Every column holding a sealed value. A new one must be listed here, or rotation would drop its key. */
const SEALED_COLUMNS = [
  { table: "secrets", keyColumn: "name", column: "sealed", aad: (key: unknown) => `secrets:${key}`, counter: "secrets" },
  { table: "totp", keyColumn: "id", column: "sealed_secret", aad: (key: unknown) => `totp:${key}`, counter: "totp" },
] as const;

const DEFAULT_BATCH = 50;

export const ENV_KEY_ROTATION_HELP =
  "the master key comes from TOOLCTL_MASTER_KEY, which toolctl cannot replace by itself. To rotate it: keep the " +
  "current key in TOOLCTL_MASTER_KEY, put a new one in TOOLCTL_MASTER_KEY_NEW (openssl rand -base64 32) and run " +
  "`toolctl secret rotate` again; once it succeeds, make the new key TOOLCTL_MASTER_KEY and unset TOOLCTL_MASTER_KEY_NEW";

export function rotateKey(registry: Registry, home: string, env: NodeJS.ProcessEnv, options: RotateOptions = {}): RotateResult {
  const batchSize = prepareRotation(registry, options);
  const actor = options.actor ?? "user";
  if (env.TOOLCTL_MASTER_KEY) {
    const target = envRotationRing(env);
    const result: RotateResult = { keyId: target.current, source: "env", resealed: resealAll(registry, batchSize, () => target), droppedKeyIds: [] };
    writeTransaction(registry, () => appendAudit(registry, rotatedEvent(result, actor)));
    return result;
  }
  addKey(registry, home);
  // The ring is read again for every batch: if another rotation started meanwhile, both converge on its key.
  const resealed = resealAll(registry, batchSize, () => loadKeyRing(home, {}, { create: false })!);
  return writeTransaction(registry, () => {
    const { keyId, droppedKeyIds } = dropUnusedKeys(registry, home);
    const result: RotateResult = { keyId, source: "file", resealed, droppedKeyIds };
    appendAudit(registry, rotatedEvent(result, actor));
    return result;
  });
}

/*
 * The phases of a rotation, for a store that keeps sealed values in more than one place (a team machine: its own
 * secrets here, the team's TOTP secret in PostgreSQL). The order stays: add the key, re-seal everywhere, then drop
 * keys nothing uses anywhere.
 */

/** The batch size; each re-sealed batch is on disk before the next begins, and before the old key may be dropped. */
export function prepareRotation(registry: Registry, options: RotateOptions): number {
  registry.db.pragma("synchronous = FULL");
  return options.batchSize ?? DEFAULT_BATCH;
}

/** Phase 1 of a stored ring's rotation: a new current key, added durably under the write lock before anything is sealed with it. */
export function addKey(registry: Registry, home: string): void {
  writeTransaction(registry, () => {
    removeStaleKeyTemps(home);
    const file = readKeyFile(home);
    if (!file) {
      const sealed = countSealed(registry);
      if (sealed > 0)
        throw new EnvironmentError(
          `${keyFilePath(home)} is missing but ${sealed} sealed value(s) need it: restore it, or set TOOLCTL_MASTER_KEY, before rotating`,
        );
      throw new UsageError("nothing to rotate: there is no master key yet (the first `toolctl secret set` creates it)");
    }
    const kid = newKeyId();
    writeKeyFile(home, { current: kid, keys: { ...file.keys, [kid]: nodeCrypto().randomBytes(32).toString("base64") } });
  });
}

/**
 * Phase 3, inside the caller's write transaction: drops the stored keys that no sealed value here, nor any in
 * `alsoUsed` (key ids of values kept elsewhere), was sealed with.
 */
export function dropUnusedKeys(registry: Registry, home: string, alsoUsed: Iterable<string> = []): { keyId: string; droppedKeyIds: string[] } {
  const file = readKeyFile(home)!;
  const used = usedKeyIds(registry);
  for (const kid of alsoUsed) used.add(kid);
  used.add(file.current);
  const droppedKeyIds = Object.keys(file.keys).filter((kid) => !used.has(kid));
  if (droppedKeyIds.length > 0) {
    writeKeyFile(home, { current: file.current, keys: Object.fromEntries(Object.entries(file.keys).filter(([kid]) => used.has(kid))) });
  }
  return { keyId: file.current, droppedKeyIds };
}

/** The ring an environment key is rotated to: TOOLCTL_MASTER_KEY_NEW, which the operator supplies. */
export function envRotationRing(env: NodeJS.ProcessEnv): KeyRing {
  if (!env.TOOLCTL_MASTER_KEY_NEW) throw new UsageError(ENV_KEY_ROTATION_HELP);
  const ring = loadKeyRing("", env, { create: false })!;
  const next = envKeyId(Buffer.from(env.TOOLCTL_MASTER_KEY_NEW, "base64"));
  if (ring.keys.get(next)!.equals(ring.keys.get("env")!)) throw new UsageError("TOOLCTL_MASTER_KEY_NEW is the same key as TOOLCTL_MASTER_KEY");
  return { ...ring, current: next };
}

export const rotatedEvent = (result: RotateResult, actor: string): AuditEventInput => ({
  type: "secret.key_rotated",
  actor,
  status: "succeeded",
  data: { ...result },
});

/** Re-seals, batch by batch, every value not sealed with the ring's current key, until none is left. */
export function resealAll(registry: Registry, batchSize: number, ring: () => KeyRing): RotateResult["resealed"] {
  const total = { secrets: 0, totp: 0 };
  for (;;) {
    const batch = writeTransaction(registry, () => resealBatch(registry, ring(), batchSize));
    total.secrets += batch.secrets;
    total.totp += batch.totp;
    if (batch.secrets + batch.totp === 0) return total;
  }
}

function resealBatch(registry: Registry, ring: KeyRing, batchSize: number): RotateResult["resealed"] {
  const counts = { secrets: 0, totp: 0 };
  const prefix = sealedPrefix(ring.current);
  let budget = batchSize;
  for (const { table, keyColumn, column, aad, counter } of SEALED_COLUMNS) {
    if (budget === 0) break;
    const rows = registry.db
      .prepare(`SELECT ${keyColumn} AS key, ${column} AS sealed FROM ${table} WHERE substr(${column}, 1, length(@prefix)) <> @prefix LIMIT @budget`)
      .all({ prefix, budget }) as { key: unknown; sealed: string }[];
    const update = registry.db.prepare(`UPDATE ${table} SET ${column} = ? WHERE ${keyColumn} = ?`);
    for (const row of rows) {
      if (!ring.keys.has(sealedKeyId(row.sealed))) {
        throw new EnvironmentError(
          `${aad(row.key)} was sealed with key '${sealedKeyId(row.sealed)}', which is not in the key ring: the rotation stopped here, and the values it had re-sealed stay readable`,
        );
      }
      update.run(seal(ring, unseal(ring, row.sealed, aad(row.key)), aad(row.key)), row.key);
    }
    counts[counter] += rows.length;
    budget -= rows.length;
  }
  return counts;
}

function usedKeyIds(registry: Registry): Set<string> {
  const used = new Set<string>();
  for (const { table, column } of SEALED_COLUMNS) {
    for (const sealed of registry.db.prepare(`SELECT ${column} FROM ${table}`).pluck().iterate() as IterableIterator<string>) used.add(sealedKeyId(sealed));
  }
  return used;
}

function countSealed(registry: Registry): number {
  return SEALED_COLUMNS.reduce((sum, { table }) => sum + (registry.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number), 0);
}

/** A killed writer leaves `master.key.<pid>.tmp` behind; it holds key material, so it is removed once its writer is gone. */
function removeStaleKeyTemps(home: string): void {
  for (const name of readdirSync(home)) {
    const match = new RegExp(`^${KEY_FILE.replace(".", "\\.")}\\.(\\d+)\\.tmp$`).exec(name);
    if (!match || isAlive(Number(match[1]))) continue;
    try {
      unlinkSync(path.join(home, name));
    } catch {
      // Another process removed it first.
    }
  }
}
