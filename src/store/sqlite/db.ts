/**
 * The registry database: one SQLite file in the home, in WAL mode with a busy timeout so that several
 * toolctl processes can work at once. Every write goes through `writeTransaction` (BEGIN IMMEDIATE), which
 * takes the write lock up front: a deferred transaction that upgrades later can fail with SQLITE_BUSY at once.
 */
import { existsSync, linkSync, statfsSync, statSync, unlinkSync } from "node:fs";
import { sqliteBinding } from "../../util/sqlite-binding.js";
import path from "node:path";
import Database from "better-sqlite3";
import { RegistryError } from "../../errors.js";
import { makeHome } from "../shared/home-dir.js";
import { loadAuditKey, type AuditKey } from "../../secrets/audit-key.js";
import { checkpointMac } from "../shared/signing.js";
import { auditKeyGone } from "../shared/audit-rows.js";
import { keyStoreChoice } from "../../secrets/key-store.js";
import { exportHead, HEAD_FILE, type ChainHead } from "./head.js";
import { exactOrAll, prefixPattern, PREFIX_ROWS } from "../shared/id-prefix.js";
import { MIGRATIONS } from "./migrations.js";

// A static import, so that the bundler inlines better-sqlite3's JavaScript (no files to find and compile at
// start-up); only its native addon is loaded from disk, by path (below).
export type Db = Database.Database;

export interface Registry {
  db: Db;
  home: string;
  file: string;
  /** The environment keys are looked up in (`TOOLCTL_AUDIT_KEY`, `TOOLCTL_KEY_STORE`). */
  env: NodeJS.ProcessEnv;
  /** The audit key, loaded (or created) on the first audited write: it signs events, the checkpoint and executions. */
  auditKey(): AuditKey;
  /** The audit head appended by the current transaction: its signed checkpoint is written before COMMIT. */
  pendingHead?: { seq: number; hash: string };
  /** An audited write committed since the head was last exported (see `exportCommittedHead`). */
  headDirty?: boolean;
  headExportedAt?: number;
  close(): void;
}

export const REGISTRY_FILE = "registry.db";
const BUSY_TIMEOUT_MS = 15_000;

/** Whether the file system holding `file` has (next to) no room left: SQLite reports a full disk as an I/O error at times. */
function diskIsFull(file: string): boolean {
  try {
    const stats = statfsSync(path.dirname(file));
    return stats.bavail * stats.bsize < 256 * 1024;
  } catch {
    return false;
  }
}

function describeSqliteError(error: unknown, file: string): RegistryError {
  const code = (error as { code?: string }).code ?? "";
  const reason = (error as Error).message;
  if (code === "SQLITE_NOTADB" || code === "SQLITE_CORRUPT") {
    return new RegistryError(`registry ${file} is corrupt or not a toolctl registry (${reason}); move it aside or use --home`, error);
  }
  if (code === "SQLITE_READONLY" || code.startsWith("SQLITE_READONLY")) {
    return new RegistryError(`registry ${file} is read-only; check its permissions or use --home`, error);
  }
  if (code === "SQLITE_CANTOPEN") return new RegistryError(`cannot open registry ${file}: ${reason}; check the path or use --home`, error);
  if (code === "SQLITE_FULL" || code === "ENOSPC" || code === "EDQUOT" || (code.startsWith("SQLITE_IOERR") && diskIsFull(file))) {
    return new RegistryError(
      `no space left on the disk holding ${path.dirname(file)} (registry ${file}); nothing was changed: free some space and run it again`,
      error,
    );
  }
  if (code.startsWith("SQLITE_IOERR"))
    return new RegistryError(`registry ${file}: the disk could not be read or written (${reason}, ${code}); nothing was changed`, error);
  return new RegistryError(`registry ${file}: ${reason}`, error);
}

/**
 * A new registry is built whole under a temporary name and linked into place, which fails if another process
 * got there first. So a registry.db always starts with a valid header, and an empty one is damage, never new.
 */
function createRegistryFile(file: string): void {
  const temp = `${file}.${process.pid}.new`;
  try {
    const db = new Database(temp, { ...sqliteBinding });
    try {
      db.pragma("journal_mode = WAL");
      migrate(db);
    } finally {
      db.close();
    }
    // Executions hold inputs and outputs: the database is the user's alone, even in a home made by hand.
    // The WAL and shared-memory files take the database file's mode when SQLite creates them.
    linkSync(temp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw describeSqliteError(error, file);
  } finally {
    for (const leftover of [temp, `${temp}-wal`, `${temp}-shm`]) {
      try {
        unlinkSync(leftover);
      } catch {
        // Not there.
      }
    }
  }
}

export function openRegistry(home: string, env: NodeJS.ProcessEnv = process.env): Registry {
  // A mistyped key store setting is caught before anything is written, not at the first key created.
  keyStoreChoice(env);
  makeHome(home);
  const file = path.join(home, REGISTRY_FILE);
  let size: number | undefined;
  try {
    size = statSync(file).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw describeSqliteError(error, file);
  }
  const umask = process.umask(0o077);
  try {
    if (size === undefined) createRegistryFile(file);
  } finally {
    process.umask(umask);
  }
  // SQLite would quietly start a new database in an empty file: the history, the ledger and the audit log
  // that were there would be gone without a word. It is refused instead, and the file left as it is.
  if (size === 0) {
    throw new RegistryError(
      `registry ${file} is empty (0 bytes): its history, spend ledger and audit log are gone; restore it from a backup, or move it aside to start a new registry`,
    );
  }
  let db: Db;
  try {
    db = new Database(file, { ...sqliteBinding, fileMustExist: true });
  } catch (error) {
    throw describeSqliteError(error, file);
  }
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    if (db.pragma("journal_mode", { simple: true }) !== "wal") db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
    migrate(db);
  } catch (error) {
    db.close();
    throw describeSqliteError(error, file);
  }
  let auditKey: AuditKey | undefined;
  const registry: Registry = {
    db,
    home,
    file,
    env,
    auditKey() {
      // Loaded lazily: read-only commands never need it, and the first audited write of a home creates it;
      // never when the log is already signed, which a new key would split in two.
      if (auditKey) return auditKey;
      const existing = loadAuditKey(home, env, { create: false });
      if (!existing) {
        const signer = statement(registry, "SELECT key_id FROM audit_checkpoint WHERE id = 1").pluck().get() as string | undefined;
        if (signer) throw auditKeyGone(signer);
      }
      auditKey = existing ?? loadAuditKey(home, env, { create: true })!;
      return auditKey;
    },
    close() {
      cancelHeadExport(registry);
      try {
        if (registry.headDirty) exportCommittedHead(registry);
      } finally {
        db.close();
      }
    },
  };
  return registry;
}

/** Applies pending migrations. The version is re-read under the write lock, so racing processes apply each once. */
function migrate(db: Db): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current === MIGRATIONS.length) return;
  if (current > MIGRATIONS.length) {
    throw new RegistryError(`registry schema version ${current} is newer than this toolctl understands (${MIGRATIONS.length}); upgrade toolctl`);
  }
  db.transaction(() => {
    const locked = db.pragma("user_version", { simple: true }) as number;
    for (let version = locked; version < MIGRATIONS.length; version++) {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    }
  }).immediate();
}

const statements = new WeakMap<Db, Map<string, Database.Statement>>();

/**
 * The statement for `sql`, compiled once per connection: a run writes its execution row, its audit events and the
 * checkpoint through a dozen statements, and compiling them (and the triggers they fire) again every time cost
 * more than running them. Only for `get`, `run` and `all`: a statement still being iterated cannot run again, and
 * `pluck()` or `raw()` would stay set for the next caller of the same text.
 */
export function statement(registry: Registry, sql: string): Database.Statement {
  let cache = statements.get(registry.db);
  if (!cache) statements.set(registry.db, (cache = new Map()));
  let found = cache.get(sql);
  if (!found) cache.set(sql, (found = registry.db.prepare(sql)));
  return found;
}

/** How often a long-lived process exports the audit head at most; every process also exports it when it closes. */
const HEAD_EXPORT_INTERVAL_MS = 1000;

/**
 * Runs `fn` in a BEGIN IMMEDIATE transaction, mapping SQLite failures to a registry error (exit 6).
 * Events appended by `fn` move the signed checkpoint in the same transaction, so the checkpoint and the log
 * always agree. The head file beside the database is exported after COMMIT, at most once a second, at the latest
 * a second after the last write, and when the registry closes: a process killed in between leaves it behind the
 * log, never ahead of it.
 */
export function writeTransaction<T>(registry: Registry, fn: () => T): T {
  let result: T;
  try {
    result = registry.db
      .transaction(() => {
        registry.pendingHead = undefined;
        const value = fn();
        if (registry.pendingHead) writeCheckpoint(registry, registry.pendingHead);
        return value;
      })
      .immediate();
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith("SQLITE_") && !(error as Error).message.includes("append-only")) {
      throw describeSqliteError(error, registry.file);
    }
    throw error;
  }
  if (registry.pendingHead) {
    registry.pendingHead = undefined;
    registry.headDirty = true;
    // The first audited write of a process exports at once when the home has no head file yet (its first event),
    // and otherwise starts the clock: a long-lived process exports at most once a second, and at the latest a
    // second after its last write (a timer that does not keep the process alive), not only when it closes.
    if (registry.headExportedAt === undefined && !existsSync(path.join(registry.home, HEAD_FILE))) exportHeadSoon(registry);
    else {
      registry.headExportedAt ??= Date.now();
      const wait = registry.headExportedAt + HEAD_EXPORT_INTERVAL_MS - Date.now();
      if (wait <= 0) exportHeadSoon(registry);
      else scheduleHeadExport(registry, wait);
    }
  }
  return result;
}

const headTimers = new WeakMap<Registry, NodeJS.Timeout>();

/** Exports the head in `ms` unless a write or the registry's close does it first. */
function scheduleHeadExport(registry: Registry, ms: number): void {
  if (headTimers.has(registry)) return;
  const timer = setTimeout(() => {
    headTimers.delete(registry);
    if (registry.headDirty && registry.db.open) exportHeadSoon(registry);
  }, ms);
  timer.unref();
  headTimers.set(registry, timer);
}

/** Cancels a scheduled export (the registry is closing, and exports itself). */
export function cancelHeadExport(registry: Registry): void {
  clearTimeout(headTimers.get(registry));
  headTimers.delete(registry);
}

/** The signed checkpoint in the database: the last event's seq and hash, under the audit key. */
function writeCheckpoint(registry: Registry, head: { seq: number; hash: string }): void {
  const key = registry.auditKey();
  statement(
    registry,
    "INSERT INTO audit_checkpoint (id, seq, hash, key_id, mac) VALUES (1, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, key_id = excluded.key_id, mac = excluded.mac",
  ).run(head.seq, head.hash, key.id, checkpointMac(key, head));
}

/**
 * Exports the committed checkpoint to the head file. Taken under the write lock, and always the latest committed
 * one, so that concurrent processes never move the exported head backwards. Best effort: `audit verify` reports a
 * head file that is missing or behind.
 */
export function exportCommittedHead(registry: Registry): void {
  try {
    exportUnderLock(registry);
  } catch {
    // The database stays the source of truth; the next export catches up.
  }
}

/**
 * Exports the head without waiting for the write lock. SQLite waits for a lock by blocking the thread, and this
 * export runs from a timer or after an unrelated write: in a long-lived process (the MCP server, a program using
 * the library) a wait would stop everything else in it for up to the busy timeout while another process holds
 * the lock. When the lock is taken, it tries again a little later instead.
 */
function exportHeadSoon(registry: Registry): void {
  try {
    withBusyTimeout(registry, 0, () => exportUnderLock(registry));
  } catch (error) {
    if ((error as { code?: string }).code === "SQLITE_BUSY") scheduleHeadExport(registry, HEAD_BUSY_RETRY_MS);
    // Any other failure: the database stays the source of truth; the next export catches up.
  }
}

/** How soon an export that found the write lock taken tries again. */
const HEAD_BUSY_RETRY_MS = 100;

function exportUnderLock(registry: Registry): void {
  registry.db
    .transaction(() => {
      const row = statement(registry, "SELECT seq, hash, key_id AS keyId, mac FROM audit_checkpoint WHERE id = 1").get() as ChainHead | undefined;
      if (row) exportHead(registry.home, row);
    })
    .immediate();
  registry.headDirty = false;
  registry.headExportedAt = Date.now();
}

/** Runs `fn` with the busy timeout set to `ms`, then puts it back; through cached statements, as `db.pragma()` compiles its statement on every call. */
export function withBusyTimeout<T>(registry: Registry, ms: number, fn: () => T): T {
  const before = (statement(registry, "PRAGMA busy_timeout").get() as { timeout: number }).timeout;
  statement(registry, `PRAGMA busy_timeout = ${ms}`).run();
  try {
    return fn();
  } finally {
    statement(registry, `PRAGMA busy_timeout = ${before}`).run();
  }
}

/**
 * The rows of `table` whose id is `idOrPrefix`, or starts with it: the exact match alone when there is one, else
 * up to five, so the caller can say the prefix is ambiguous.
 */
export function rowsByIdPrefix<Row extends { id: string }>(registry: Registry, table: "executions" | "plan_runs", idOrPrefix: string): Row[] {
  const rows = registry.db
    .prepare(`SELECT * FROM ${table} WHERE id = ? OR id LIKE ? ESCAPE '\\' ORDER BY id LIMIT ${PREFIX_ROWS}`)
    .all(idOrPrefix, prefixPattern(idOrPrefix)) as Row[];
  return exactOrAll(rows, idOrPrefix);
}

export { nowIso } from "../../util/ids.js";
