/**
 * The audit head of a team database, exported to this machine's home: one file per database
 * (`audit-<12 hex>.head`, named from the identity the database was created with), so a home that uses several team
 * databases, or its own SQLite registry as well, keeps one head for each. A database restored from an older backup,
 * or a log cut short, no longer agrees with the head any machine exported. Exported after COMMIT, at most once a
 * second and when the store closes, as SQLite does.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { sha256Hex } from "../../util/canonical.js";
import { readHeadFile, writeHeadFile, type ChainHead } from "../shared/head-file.js";
import type { PgRegistry, Sql, Tx, WriteOptions } from "./db.js";

const HEAD_EXPORT_INTERVAL_MS = 1000;

const names = new WeakMap<PgRegistry["pool"], string>();

/** The head file's name for this database: a hash of the identity stored in it when its schema was created. */
export async function headFileName(registry: PgRegistry, sql: Pick<Sql, "one"> = registry): Promise<string> {
  let name = names.get(registry.pool);
  if (!name) {
    const row = await sql.one<{ value: string }>("SELECT value FROM settings WHERE key = 'database_id'");
    name = `audit-${sha256Hex(`toolctl database\n${row?.value ?? registry.location}`).slice(0, 12)}.head`;
    names.set(registry.pool, name);
  }
  return name;
}

/** `sql`: the transaction a write holds, which must not wait for a second connection of the pool. */
export async function readExportedHead(registry: PgRegistry, sql: Pick<Sql, "one"> = registry): Promise<ChainHead | "invalid" | undefined> {
  return readHeadFile(registry.home, await headFileName(registry, sql));
}

/**
 * Exports the committed checkpoint. Taken under the registry's write lock, and always the latest committed one, so
 * that processes of this machine never move the exported head backwards. Best effort: `audit verify` reports a head
 * file that is missing or behind.
 */
export async function exportCommittedHead(registry: PgRegistry): Promise<void> {
  const name = await headFileName(registry);
  await registry.write(async (tx) => {
    const row = await tx.one<ChainHead>('SELECT seq, hash, key_id AS "keyId", mac FROM audit_checkpoint WHERE id = 1');
    if (row) writeHeadFile(registry.home, name, row);
  });
}

/**
 * The registry every module of the adapter writes through: its `write` notes a transaction that appended audit
 * events and exports the head after it commits (at once for a home without a head file, then at most once a
 * second); `close` exports a head still behind.
 */
export function exportingHead(registry: PgRegistry): PgRegistry {
  let dirty = false;
  let exportedAt: number | undefined;
  const exportNow = async () => {
    try {
      await exportCommittedHead(registry);
      dirty = false;
      exportedAt = Date.now();
    } catch {
      // The database stays the source of truth; the next export catches up.
    }
  };
  const wrapped: PgRegistry = {
    ...registry,
    async write<T>(fn: (tx: Tx) => Promise<T>, options?: WriteOptions): Promise<T> {
      let appended = false;
      const value = await registry.write(async (tx) => {
        const result = await fn(tx);
        appended = tx.pendingHead !== undefined;
        return result;
      }, options);
      if (appended) {
        dirty = true;
        const due =
          exportedAt === undefined ? !existsSync(path.join(registry.home, await headFileName(registry))) : Date.now() - exportedAt >= HEAD_EXPORT_INTERVAL_MS;
        if (due) await exportNow();
      }
      return value;
    },
    async close() {
      try {
        if (dirty) await exportNow();
      } finally {
        await registry.close();
      }
    },
  };
  return wrapped;
}
