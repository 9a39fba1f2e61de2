/**
 * The registry database: one SQLite file in the home, in WAL mode with a busy timeout so that several
 * toolctl processes can work at once. Every write goes through `writeTransaction` (BEGIN IMMEDIATE), which
 * takes the write lock up front: a deferred transaction that upgrades later can fail with SQLITE_BUSY at once.
 */
import {
  accessSync,
  closeSync,
  constants as fsConstants,
  existsSync,
  fsyncSync,
  linkSync,
  openSync,
  readdirSync,
  statfsSync,
  statSync,
  unlinkSync,
} from "node:fs";
import { sqliteBinding } from "../../util/sqlite-binding.js";
import path from "node:path";
import Database from "better-sqlite3";
import { RegistryError } from "../../errors.js";
import { makeHome } from "../shared/home-dir.js";
import { loadAuditKey, type AuditKey } from "../../secrets/audit-key.js";
import { checkpointMac } from "../shared/signing.js";
import { auditKeyGone, firstHead } from "../shared/audit-rows.js";
import { keyStoreChoice } from "../../secrets/key-store.js";
import { dropPendingHeadFile, putPendingHeadFile, writePendingHeadFile } from "../shared/head-file.js";
import { syncDirectory } from "../../util/sync-directory.js";
import { isAlive } from "../../util/process.js";
import { exportHead, HEAD_FILE, readHead, type ChainHead } from "./head.js";
import { exactOrAll, prefixPattern, PREFIX_ROWS } from "../shared/id-prefix.js";
import { MIGRATIONS } from "./migrations.js";
import { removeQuietly } from "../../util/remove-quietly.js";

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
  /** A head `exportFirstHead` wrote in the write transaction under way: taken back if that transaction rolls back. */
  firstHead?: ChainHead;
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

/**
 * What keeps SQLite from writing the registry, said so that it can be fixed: a file system mounted read-only, or
 * the first of the database file, its WAL and shared-memory files, and their directory that this user may not
 * write (SQLite gives the WAL files the database's mode when it makes them, so a database once read-only leaves
 * read-only ones behind, and those stay after the database is made writable again). Undefined when none is found.
 */
function writeBlocker(file: string): string | undefined {
  const dir = path.dirname(file);
  const denied = (target: string): string | undefined => {
    try {
      accessSync(target, fsConstants.W_OK);
      return undefined;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code;
    }
  };
  if (denied(dir) === "EROFS") return `the file system holding ${dir} is mounted read-only; use a home on a writable one (--home)`;
  for (const target of [file, `${file}-wal`, `${file}-shm`]) {
    const code = denied(target);
    if (code !== "EACCES" && code !== "EPERM") continue;
    const stats = statSync(target, { throwIfNoEntry: false });
    const mode = stats ? ` (mode ${(stats.mode & 0o777).toString(8).padStart(4, "0")})` : "";
    return `${target} may not be written by this user${mode}; check its permissions or use --home`;
  }
  const code = denied(dir);
  if (code === "EACCES" || code === "EPERM") return `the directory ${dir} may not be written by this user; check its permissions or use --home`;
  return undefined;
}

function describeSqliteError(error: unknown, file: string): RegistryError {
  const code = (error as { code?: string }).code ?? "";
  const reason = (error as Error).message;
  if (code === "SQLITE_NOTADB" || code === "SQLITE_CORRUPT") {
    return new RegistryError(`registry ${file} is corrupt or not a toolctl registry (${reason}); move it aside or use --home`, error);
  }
  if (code.startsWith("SQLITE_READONLY")) {
    const blocker = writeBlocker(file);
    return new RegistryError(`registry ${file} is read-only${blocker ? `: ${blocker}` : "; check its permissions or use --home"}`, error);
  }
  if (code.startsWith("SQLITE_CANTOPEN")) {
    // SQLite opens (or makes) the WAL and shared-memory files beside the database even to read it.
    const blocker = writeBlocker(file);
    if (blocker) return new RegistryError(`cannot open registry ${file}: ${blocker}`, error);
    return new RegistryError(`cannot open registry ${file}: ${reason}; check the path or use --home`, error);
  }
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
 * It is linked only once complete: the write-ahead log folded into the file (a checkpoint that fails, on a full
 * disk, is an error here; the one SQLite makes when it closes would fail without a word) and the file on disk.
 */
function createRegistryFile(file: string): void {
  removeAbandonedBuilds(file);
  const temp = `${file}.${process.pid}.new`;
  try {
    const db = new Database(temp, { ...sqliteBinding });
    try {
      db.pragma("journal_mode = WAL");
      migrate(db);
      const [checkpoint] = db.pragma("wal_checkpoint(TRUNCATE)") as Array<{ busy: number }>;
      if (checkpoint?.busy !== 0) throw new RegistryError(`registry ${file}: the new registry could not be completed; nothing was changed`);
    } finally {
      db.close();
    }
    if ((statSync(`${temp}-wal`, { throwIfNoEntry: false })?.size ?? 0) > 0) {
      throw new RegistryError(`registry ${file}: the new registry could not be completed; nothing was changed`);
    }
    syncFile(temp);
    // Executions hold inputs and outputs: the database is the user's alone, even in a home made by hand.
    // The WAL and shared-memory files take the database file's mode when SQLite creates them.
    linkSync(temp, file);
    syncDirectory(path.dirname(file));
  } catch (error) {
    if (error instanceof RegistryError) throw error;
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw describeSqliteError(error, file);
  } finally {
    for (const leftover of [temp, `${temp}-wal`, `${temp}-shm`]) removeQuietly(leftover);
  }
}

/** Flushes a file's content to disk (a full disk can show only here). */
function syncFile(file: string): void {
  const fd = openSync(file, "r+");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Registries a process killed while building one left behind (`registry.db.<pid>.new`, and its WAL files). */
function removeAbandonedBuilds(file: string): void {
  const dir = path.dirname(file);
  const pattern = new RegExp(`^${path.basename(file).replace(/\./g, "\\.")}\\.(\\d+)\\.new(-wal|-shm)?$`);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(pattern.exec(name)?.[1]);
    // A live process with that pid may be building one now (or be another that reused the pid): left alone.
    if (pid && pid !== process.pid && !isAlive(pid)) removeQuietly(path.join(dir, name));
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
      if (existing) return (auditKey = existing);
      // Made under the write lock, where the head file is written: a caller outside a write (a plan's secret
      // digest) takes the lock for it.
      if (!db.inTransaction) return writeTransaction(registry, () => registry.auditKey());
      const signer = statement(registry, "SELECT key_id FROM audit_checkpoint WHERE id = 1").pluck().get() as string | undefined;
      if (signer) throw auditKeyGone(signer);
      return (auditKey = createAuditKey(registry));
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

/**
 * Makes the home's audit key, under the write lock. A home without a head file gets one first, at the end of the
 * log as it is (seq 0 for a new home), signed with the new key: written to the head's temp file before the key
 * is stored, and renamed into place after. So whatever stops the write that made the key (a full disk, a kill,
 * a failed COMMIT), the key never stands without a head saying the log it signed ended there, which `audit verify`
 * takes for what it is rather than for a log whose events were deleted. A process stopped between storing the key
 * and the rename leaves that head in the temp file, which then stands in for the head file (see
 * `pendingHeadHolds`).
 */
function createAuditKey(registry: Registry): AuditKey {
  const { home, env } = registry;
  const last = statement(registry, "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").get() as { seq: number; hash: string } | undefined;
  // A head file already there is left to the append's checks, as it was.
  const withHead = !existsSync(path.join(home, HEAD_FILE));
  let prepared: ChainHead | undefined;
  let created: AuditKey;
  try {
    created = loadAuditKey(home, env, {
      create: true,
      beforeCreate: (key) => {
        if (!withHead) return;
        prepared = firstHead(key, last);
        try {
          writePendingHeadFile(home, HEAD_FILE, prepared);
        } catch (error) {
          throw fileWriteError(error, path.join(home, `${HEAD_FILE}.tmp`));
        }
      },
    })!;
  } catch (error) {
    if (prepared) dropPendingHeadFile(home, HEAD_FILE, prepared);
    throw error;
  }
  if (prepared && created.id === prepared.keyId) {
    try {
      putPendingHeadFile(home, HEAD_FILE);
    } catch (error) {
      throw fileWriteError(error, path.join(home, HEAD_FILE));
    }
  } else if (prepared) {
    // Another process's key was stored first (the one read back): the head signed with this one never counts.
    dropPendingHeadFile(home, HEAD_FILE, prepared);
  }
  return created;
}

/** A head written before a log's first signed event (see `appendAudit`): a failure refuses the write, exit 6. */
export function exportFirstHead(registry: Registry, head: ChainHead): void {
  try {
    exportHead(registry.home, head);
  } catch (error) {
    throw fileWriteError(error, path.join(registry.home, HEAD_FILE));
  }
  registry.firstHead = head;
}

/**
 * After a write transaction that rolled back: a head exported for it before its first signed event goes too, so
 * the home is as it was (a log with no signed event needs no head, and may be signed with another key next time).
 */
function takeBackFirstHead(registry: Registry): void {
  const head = registry.firstHead;
  registry.firstHead = undefined;
  if (!head) return;
  const file = path.join(registry.home, HEAD_FILE);
  const now = readHead(registry.home);
  if (now === undefined || now === "invalid" || now.seq !== head.seq || now.hash !== head.hash || now.mac !== head.mac) return;
  try {
    unlinkSync(file);
  } catch {
    // Gone already; or left, where it is still the log's end.
  }
}

/** A file of the home that could not be written, as one line (exit 6): a full disk, a read-only home, or else its code. */
export function fileWriteError(error: unknown, file: string): RegistryError {
  const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  const dir = path.dirname(file);
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new RegistryError(`no space left on the disk holding ${dir} (writing ${file}); nothing was changed: free some space and run it again`, error);
  }
  if (code === "EROFS") return new RegistryError(`cannot write ${file}: the file system holding ${dir} is read-only; nothing was changed`, error);
  if (code === "EACCES" || code === "EPERM") {
    return new RegistryError(`cannot write ${file}: permission denied; check the permissions of ${dir} or use --home; nothing was changed`, error);
  }
  return new RegistryError(`cannot write ${file}: ${code}; nothing was changed`, error);
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
 * log, never ahead of it, and never missing (a log's first signed event finds one in place, see `appendAudit`).
 */
export function writeTransaction<T>(registry: Registry, fn: () => T): T {
  let result: T;
  registry.firstHead = undefined;
  try {
    result = registry.db
      .transaction(() => {
        registry.pendingHead = undefined;
        const value = fn();
        if (registry.pendingHead) writeCheckpoint(registry, registry.pendingHead);
        return value;
      })
      .immediate();
    registry.firstHead = undefined;
  } catch (error) {
    takeBackFirstHead(registry);
    if ((error as { code?: string }).code?.startsWith("SQLITE_") && !(error as Error).message.includes("append-only")) {
      throw describeSqliteError(error, registry.file);
    }
    throw error;
  }
  if (registry.pendingHead) {
    registry.pendingHead = undefined;
    registry.headDirty = true;
    // The first audited write of a process exports at once when the home has no head file (removed meanwhile: a
    // log's first signed event is committed with one already in place, see `appendAudit`), and otherwise starts
    // the clock: a long-lived process exports at most once a second, and at the latest a second after its last
    // write (a timer that does not keep the process alive), not only when it closes.
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
