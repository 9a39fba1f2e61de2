/**
 * Moving a registry between backends: `toolctl db migrate-to URL` copies a home's SQLite registry (tools,
 * grants, history, approvals, ledger, audit log, 2FA and passkeys) into an empty PostgreSQL database, and
 * `toolctl db export DIR` copies a team's database into a new SQLite registry, for a backup. Rows are copied as
 * they are, column for column: hashes, signatures and seq numbers included, so the audit chain and every execution's
 * signature verify on the other side. Running totals (execution_counts, ledger_days) are not copied: the
 * target's triggers rebuild them from the rows. Secrets are never copied: they belong to a machine.
 */
import { existsSync, linkSync, mkdtempSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { RegistryError, ToolctlError, UsageError } from "../errors.js";
import { redactDatabaseUrl } from "../util/database-url.js";
import { makeDirs } from "../util/dirs.js";
import { runsSomewhere } from "../util/process.js";
import type { AuditVerification } from "../domain/records.js";
import { verifyAudit } from "./sqlite/audit.js";
import { exportCommittedHead, openRegistry, REGISTRY_FILE, type Registry } from "./sqlite/db.js";
import { verifyAudit as verifyPgAudit } from "./postgres/audit.js";
import { describePgError, openPgRegistry, type PgRegistry, type Sql } from "./postgres/db.js";
import { exportCommittedHead as exportPgHead } from "./postgres/head.js";

/** Every table that holds state, parents before children. */
export const TRANSFERRED_TABLES = [
  "tools",
  "validators",
  "actions",
  "definitions",
  "executions",
  "ledger",
  "approvals",
  "audit_events",
  "audit_checkpoint",
  "totp",
  "totp_failures",
  "passkeys",
  "circuits",
  "rate_slots",
  "plan_runs",
  "plan_steps",
] as const;

/** Tables whose rows mean the database is in use: a copy goes into an empty one only. */
const IN_USE = ["tools", "executions", "audit_events", "approvals", "ledger", "plan_runs", "passkeys", "totp"] as const;

export interface TransferResult {
  /** Rows copied per table. */
  rows: Record<string, number>;
  /** The last audit event copied: the same seq and hash on both sides. */
  head: { seq: number; hash: string } | null;
}

/** A copy and its check: the copy's audit chain (and every execution's signature) verified where it landed. */
export interface TransferReport extends TransferResult {
  /** Where the rows came from and went to (a file path, a database URL without its password). */
  source: string;
  target: string;
  verification: AuditVerification;
}

export interface TransferProgress {
  (table: string, copied: number): void;
}

/** Parameters per INSERT: PostgreSQL takes at most 65,535. */
const MAX_PARAMETERS = 30_000;

function sqliteColumns(registry: Registry, table: string): string[] {
  return (registry.db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((column) => column.name);
}

async function pgColumns(sql: Sql, table: string): Promise<string[]> {
  const rows = await sql.query<{ column_name: string }>(
    "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    [table],
  );
  return rows.map((row) => row.column_name);
}

async function insertBatch(sql: Sql, table: string, columns: string[], rows: Array<Record<string, unknown>>): Promise<void> {
  const values: unknown[] = [];
  const tuples = rows.map((row) => `(${columns.map((column) => (values.push(row[column] ?? null), `$${values.length}`)).join(", ")})`);
  await sql.run(`INSERT INTO ${table} (${columns.map((c) => `"${c}"`).join(", ")}) VALUES ${tuples.join(", ")}`, values);
}

async function countInUse(sql: Sql): Promise<Record<string, number>> {
  const found: Record<string, number> = {};
  for (const table of IN_USE) {
    const row = await sql.one<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
    if (row && row.n > 0) found[table] = row.n;
  }
  return found;
}

/**
 * A run of the home whose toolctl process still runs: it writes its outcome to the home's registry.db, never to the
 * copy, so the home is refused while it runs (as a database in use is). Runs whose process is gone are copied
 * `running` and settled `unknown` by the database's next reader (postgres/abandoned.ts), as the home would settle them.
 */
function liveRunRefusal(registry: Registry): UsageError | undefined {
  // Judged as the home judges its runs (sqlite/abandoned.ts, sqlite/plan-runs.ts): by pid and start time here.
  type Held = { id: string; pid: number | null; pid_start: string | null; host: string | null };
  const live = <T extends Held>(rows: T[]) => rows.filter((row) => row.pid !== null && runsSomewhere(row.pid, row.pid_start, row.host, null));
  const executions = live(
    registry.db.prepare("SELECT id, tool, action, pid, pid_start, host FROM executions WHERE status = 'running' ORDER BY created_at").all() as Array<
      Held & { tool: string; action: string }
    >,
  );
  const planRuns = live(registry.db.prepare("SELECT id, pid, pid_start, host FROM plan_runs WHERE status = 'running' ORDER BY created_at").all() as Held[]);
  const first = executions[0] ?? planRuns[0];
  if (!first) return undefined;
  const others = executions.length + planRuns.length - 1;
  const what = executions[0] ? `execution ${executions[0].id} (${executions[0].tool}.${executions[0].action})` : `plan run ${first.id}`;
  return new UsageError(
    `${what} is still running (process ${first.pid})${others > 0 ? `, and ${others} more run${others > 1 ? "s" : ""}` : ""}: db migrate-to copies a registry no run is using; nothing was copied; wait for it, or stop it first`,
  );
}

/**
 * The home's registry as one SQLite read transaction sees it: in WAL mode the first read fixes the snapshot, and
 * other toolctl processes go on writing to the home meanwhile (none waits for the copy). Which runs are still in
 * flight is judged in the snapshot; `end()` tells whether any other connection committed to the home since it
 * began (`PRAGMA data_version`), which the copy would not hold.
 */
class HomeSnapshot {
  private version = 0;

  constructor(private readonly registry: Registry) {}

  /** Begins the snapshot (again, for a copy retried whole) and refuses a home with a run of it still in flight. */
  begin(): void {
    const db = this.registry.db;
    if (!db.inTransaction) {
      db.prepare("BEGIN DEFERRED").run();
      this.version = db.pragma("data_version", { simple: true }) as number;
    }
    const busy = liveRunRefusal(this.registry);
    if (busy) throw busy;
  }

  /** Ends the snapshot; refuses the copy when the home was written to after it began. */
  end(): void {
    const db = this.registry.db;
    db.prepare("COMMIT").run();
    if ((db.pragma("data_version", { simple: true }) as number) !== this.version) {
      throw new UsageError(
        `another toolctl process wrote to ${this.registry.file} during the copy: nothing was copied; run it again once no toolctl process is using this home (db migrate-to copies a registry nobody is writing to)`,
      );
    }
  }

  abandon(): void {
    if (this.registry.db.inTransaction) this.registry.db.prepare("ROLLBACK").run();
  }
}

/**
 * Copies the home's SQLite registry into the empty PostgreSQL database at `url`, in one transaction, from one
 * snapshot of the home, and checks the copy (its audit chain, checkpoint and every execution's signature) before
 * COMMIT: a home written to during the copy, or a copy that does not verify, is rolled back and nothing is copied.
 */
export async function copySqliteToPostgres(home: string, env: NodeJS.ProcessEnv, url: string, progress?: TransferProgress): Promise<TransferResult> {
  if (!existsSync(path.join(home, REGISTRY_FILE))) throw new UsageError(`${path.join(home, REGISTRY_FILE)} does not exist: there is no registry to copy`);
  const source = openRegistry(home, env);
  const snapshot = new HomeSnapshot(source);
  let target: PgRegistry | undefined;
  try {
    snapshot.begin();
    target = await openPgRegistry(url, home, env, { max: 1 });
    const pg = target;
    return await pg.write(async (tx) => {
      // A copy retried whole (a serialization failure, a connection lost before COMMIT) reads a snapshot again.
      snapshot.begin();
      const result: TransferResult = { rows: {}, head: null };
      const used = await countInUse(tx);
      if (Object.keys(used).length > 0) {
        throw new UsageError(
          `database ${pg.location} is not empty (${Object.entries(used)
            .map(([table, n]) => `${n} ${table}`)
            .join(", ")}): db migrate-to copies into an empty database only`,
        );
      }
      for (const table of TRANSFERRED_TABLES) {
        const targetColumns = new Set(await pgColumns(tx, table));
        const columns = sqliteColumns(source, table).filter((column) => targetColumns.has(column));
        const perBatch = Math.max(1, Math.floor(MAX_PARAMETERS / columns.length));
        let batch: Array<Record<string, unknown>> = [];
        let copied = 0;
        const order = table === "audit_events" ? " ORDER BY seq" : "";
        for (const row of source.db.prepare(`SELECT * FROM ${table}${order}`).iterate() as IterableIterator<Record<string, unknown>>) {
          batch.push(row);
          if (batch.length === perBatch) {
            await insertBatch(tx, table, columns, batch);
            copied += batch.length;
            progress?.(table, copied);
            batch = [];
          }
        }
        if (batch.length > 0) {
          await insertBatch(tx, table, columns, batch);
          copied += batch.length;
          progress?.(table, copied);
        }
        result.rows[table] = copied;
      }
      // The database remembers which audit key signs it: the one that signed the copied log.
      const signer = source.db.prepare("SELECT key_id FROM audit_events WHERE key_id IS NOT NULL ORDER BY seq DESC LIMIT 1").pluck().get() as
        string | undefined;
      if (signer)
        await tx.run("INSERT INTO settings (key, value) VALUES ('audit_key_id', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [signer]);
      result.head = (await tx.one<{ seq: number; hash: string }>("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")) ?? null;
      // Checked before COMMIT: a team database starts from a log that checks, or is left as it was.
      const check = await verifyPgAudit(pg, tx);
      if (!check.ok) {
        const more = check.problems.length > 1 ? ` (and ${check.problems.length - 1} more problem${check.problems.length > 2 ? "s" : ""})` : "";
        throw new RegistryError(`the copy does not verify at ${pg.location}: ${check.problems[0]}${more}; nothing was copied; see toolctl audit verify`);
      }
      snapshot.end();
      return result;
    });
  } finally {
    snapshot.abandon();
    source.close();
    await target?.close();
  }
}

/**
 * Where `db export` may write: a directory, or a path to one that can be made. Returns the first directory of
 * `dir` that does not exist yet (the one to remove again if the export fails), or undefined when `dir` exists.
 */
function exportDirectory(dir: string): string | undefined {
  let missing: string | undefined;
  for (let at = path.resolve(dir); ;) {
    try {
      if (statSync(at).isDirectory()) return missing;
      const what = at === path.resolve(dir) ? `${dir} is a file, not a directory` : `cannot make ${dir}: ${at} is a file, not a directory`;
      throw new UsageError(`db export: ${what}; give a new or empty directory`);
    } catch (error) {
      if (error instanceof UsageError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR")
        throw new UsageError(`db export: cannot use ${dir} (${code ?? (error as Error).message}); give a new or empty directory`);
      missing = at;
      const parent = path.dirname(at);
      if (parent === at) return missing;
      at = parent;
    }
  }
}

type SnapshotTable = { table: string; rows: Array<Record<string, unknown>> };

/** Every table of the database, read in one snapshot: a run recorded during the export is either wholly in it or not at all. */
async function readSnapshot(source: PgRegistry): Promise<SnapshotTable[]> {
  const client = await source.pool.connect();
  let broken: Error | undefined;
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const tables: SnapshotTable[] = [];
    for (const table of TRANSFERRED_TABLES) {
      const { rows } = await client.query(`SELECT * FROM ${table}${table === "audit_events" ? " ORDER BY seq" : ""}`);
      tables.push({ table, rows: rows as Array<Record<string, unknown>> });
    }
    await client.query("COMMIT");
    return tables;
  } catch (error) {
    broken = error as Error;
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    // A connection that failed is not given back to the pool.
    client.release(broken);
  }
}

/**
 * Copies the PostgreSQL database at `url` into a new SQLite registry in `dir` (which must not hold one), from one
 * consistent snapshot. The registry is built under a temporary name in `dir` and linked into place once complete:
 * an export that fails leaves no registry.db, nor a directory it made.
 */
export async function copyPostgresToSqlite(
  url: string,
  home: string,
  env: NodeJS.ProcessEnv,
  dir: string,
  progress?: TransferProgress,
): Promise<TransferResult> {
  const file = path.join(dir, REGISTRY_FILE);
  const missing = exportDirectory(dir);
  const occupied = () => new UsageError(`${file} already exists: db export writes a new registry only; choose another directory`);
  if (existsSync(file)) throw occupied();
  const source = await openPgRegistry(url, home, env, { max: 1 });
  const nothingWritten = `nothing was written to ${dir}`;
  let made: string | undefined;
  let stage: string | undefined;
  try {
    let tables: SnapshotTable[];
    try {
      tables = await readSnapshot(source);
    } catch (error) {
      const described = describePgError(error, source.location).message.replace(/; nothing was (recorded|changed)$/, "");
      throw new RegistryError(`${described}; ${nothingWritten}`, error);
    }

    made = missing;
    try {
      makeDirs(dir, 0o700);
    } catch (error) {
      throw new UsageError(
        `db export: cannot make ${dir} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give a new or empty directory`,
      );
    }
    stage = mkdtempSync(path.join(dir, ".export-"));
    const result: TransferResult = { rows: {}, head: null };
    const target = openRegistry(stage, env);
    try {
      const db = target.db;
      db.transaction(() => {
        for (const { table, rows } of tables) {
          const targetColumns = new Set(sqliteColumns(target, table));
          const columns = rows.length > 0 ? Object.keys(rows[0]!).filter((column) => targetColumns.has(column)) : [];
          if (rows.length > 0) {
            const insert = db.prepare(`INSERT INTO ${table} (${columns.map((c) => `"${c}"`).join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`);
            for (const row of rows) insert.run(...columns.map((column) => row[column] ?? null));
          }
          result.rows[table] = rows.length;
          progress?.(table, rows.length);
        }
      }).immediate();
      // One file to link into place: the write-ahead log folded into it.
      db.pragma("wal_checkpoint(TRUNCATE)");
    } catch (error) {
      if (error instanceof ToolctlError) throw error;
      throw new RegistryError(`cannot write the copy in ${dir}: ${(error as Error).message}; ${nothingWritten}`, error);
    } finally {
      target.close();
    }
    try {
      linkSync(path.join(stage, REGISTRY_FILE), file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") {
        // Another export got there first: its registry, and the directory holding it, stay.
        made = undefined;
        throw occupied();
      }
      throw new RegistryError(`cannot write the copy in ${dir}: ${(error as Error).message}; ${nothingWritten}`, error);
    }
    made = undefined;
    const events = tables.find((t) => t.table === "audit_events")!.rows;
    const last = events[events.length - 1];
    result.head = last ? { seq: Number(last.seq), hash: String(last.hash) } : null;
    return result;
  } finally {
    if (stage) rmSync(stage, { recursive: true, force: true });
    if (made) rmSync(made, { recursive: true, force: true });
    await source.close();
  }
}

/**
 * `toolctl db export DIR`: the team database copied into a new SQLite registry in `dir`, with the audit head
 * exported beside it, then verified with this machine's audit key (the team's): `dir` is a home holding a backup
 * that `TOOLCTL_HOME=dir toolctl audit verify` checks again, given the same key.
 */
export async function exportToSqlite(url: string, home: string, env: NodeJS.ProcessEnv, dir: string, progress?: TransferProgress): Promise<TransferReport> {
  const copied = await copyPostgresToSqlite(url, home, env, dir, progress);
  const target = openRegistry(dir, env);
  try {
    exportCommittedHead(target);
    return { ...copied, source: redactDatabaseUrl(url), target: target.file, verification: verifyAudit(target, home) };
  } finally {
    target.close();
  }
}

/**
 * `toolctl db migrate-to URL`: the home's registry copied into the empty database at `url`, then verified there
 * (the chain, the checkpoint, every execution's signature) with the head exported for this machine. A home whose
 * own chain does not verify is not copied: a team database starts from a log that checks.
 */
export async function migrateToPostgres(home: string, env: NodeJS.ProcessEnv, url: string, progress?: TransferProgress): Promise<TransferReport> {
  const file = path.join(home, REGISTRY_FILE);
  if (existsSync(file)) {
    const source = openRegistry(home, env);
    let check: AuditVerification;
    try {
      check = verifyAudit(source);
    } finally {
      source.close();
    }
    if (!check.ok) throw new RegistryError(`the audit chain of ${file} does not verify (${check.problems[0]}): nothing was copied; see toolctl audit verify`);
  }
  const copied = await copySqliteToPostgres(home, env, url, progress);
  const target = await openPgRegistry(url, home, env, { max: 2 });
  try {
    await exportPgHead(target);
    return { ...copied, source: file, target: target.location, verification: await verifyPgAudit(target) };
  } finally {
    await target.close();
  }
}
