/**
 * The registry database: one SQLite file in the home, in WAL mode with a busy timeout so that several
 * toolctl processes can work at once. Every write goes through `writeTransaction` (BEGIN IMMEDIATE), which
 * takes the write lock up front: a deferred transaction that upgrades later can fail with SQLITE_BUSY at once.
 */
import { closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { sqliteBinding } from "../util/sqlite-binding.js";
import path from "node:path";
import Database from "better-sqlite3";
import { RegistryError } from "../errors.js";
import { exportHead } from "./head.js";
import { MIGRATIONS } from "./migrations.js";

// A static import, so that the bundler inlines better-sqlite3's JavaScript (no files to find and compile at
// start-up); only its native addon is loaded from disk, by path (below).
export type Db = Database.Database;

export interface Registry {
  db: Db;
  home: string;
  file: string;
  /** The audit head appended by the current transaction, exported when it ends (see `writeTransaction`). */
  pendingHead?: { seq: number; hash: string };
  close(): void;
}

export const REGISTRY_FILE = "registry.db";
const BUSY_TIMEOUT_MS = 15_000;


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
  if (code === "SQLITE_FULL") return new RegistryError(`registry ${file} is full (disk or size limit); nothing was changed`, error);
  return new RegistryError(`registry ${file}: ${reason}`, error);
}

export function openRegistry(home: string): Registry {
  try {
    mkdirSync(home, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new RegistryError(`cannot create home ${home}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; set TOOLCTL_HOME or --home to a writable directory`, error);
  }
  const file = path.join(home, REGISTRY_FILE);
  // Executions hold inputs and outputs: the database is the user's alone, even in a home made by hand.
  // The WAL and shared-memory files take the database file's mode when SQLite creates them.
  if (!existsSync(file)) closeSync(openSync(file, "a", 0o600));
  let db: Db;
  try {
    db = new Database(file, { ...sqliteBinding });
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
  return { db, home, file, close: () => db.close() };
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

/**
 * Runs `fn` in a BEGIN IMMEDIATE transaction, mapping SQLite failures to a registry error (exit 6).
 * The audit head is exported while the write lock is still held, so concurrent processes export heads in
 * chain order and the exported head never moves backwards.
 */
export function writeTransaction<T>(registry: Registry, fn: () => T): T {
  try {
    return registry.db
      .transaction(() => {
        registry.pendingHead = undefined;
        const result = fn();
        if (registry.pendingHead) exportHead(registry.home, registry.pendingHead);
        return result;
      })
      .immediate();
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith("SQLITE_") && !(error as Error).message.includes("append-only")) {
      throw describeSqliteError(error, registry.file);
    }
    throw error;
  }
}

/**
 * The rows of `table` whose id is `idOrPrefix`, or starts with it: the exact match alone when there is one, else
 * up to five, so the caller can say the prefix is ambiguous.
 */
export function rowsByIdPrefix<Row extends { id: string }>(registry: Registry, table: "executions" | "plan_runs", idOrPrefix: string): Row[] {
  const rows = registry.db
    .prepare(`SELECT * FROM ${table} WHERE id = ? OR id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 5`)
    .all(idOrPrefix, `${idOrPrefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`) as Row[];
  const exact = rows.find((row) => row.id === idOrPrefix);
  return exact ? [exact] : rows;
}

export function nowIso(): string {
  return new Date().toISOString();
}
