/**
 * The team registry: one PostgreSQL database shared by every machine of a team, reached through node-postgres'
 * pool. Every write goes through `write()`, one transaction that (unless told otherwise) first takes the
 * registry's transaction-level advisory lock: writes are serialized across machines as BEGIN IMMEDIATE serializes
 * them in SQLite, so the daily limit, the audit chain and each approval's single use hold without lock-ordering
 * puzzles, and a transaction that still loses a race (a serialization failure, a deadlock) is retried whole.
 *
 * The database holds no keys. Each machine signs the audit chain and executions with the team's audit key
 * (`TOOLCTL_AUDIT_KEY` or its keyring), and the database remembers which key that is: a machine holding another key
 * is refused before it writes, instead of forking the chain into two signatures nobody can verify together.
 */
import os from "node:os";
import pg from "pg";
import pgPass from "pgpass";
import { RegistryError } from "../../errors.js";
import { makeHome } from "../shared/home-dir.js";
import { redactDatabaseUrl } from "../../util/database-url.js";
import { loadAuditKey, type AuditKey } from "../../secrets/audit-key.js";
import { checkpointMac } from "../shared/signing.js";
import { PG_MIGRATIONS } from "./schema.js";

/** The advisory lock every serialized write takes (pg_advisory_xact_lock), and the one migrations take. */
const WRITE_LOCK = 0x746f6f6c; // "tool"
const MIGRATE_LOCK = 0x6d696772; // "migr"
const RETRIES = 8;
/** The first wait before connecting again after the server went away; it grows with each attempt (7 s in all). */
const RECONNECT_MS = 250;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface Sql {
  /** The rows of one statement, with `$1`-style parameters. */
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]>;
  /** The first row, or undefined. */
  one<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R | undefined>;
  /** The number of rows a statement changed. */
  run(text: string, values?: unknown[]): Promise<number>;
}

/** A transaction in progress: statements run on its connection, in order. */
export interface Tx extends Sql {
  /** The audit head appended by this transaction: its signed checkpoint is written before COMMIT. */
  pendingHead?: { seq: number; hash: string };
}

export interface WriteOptions {
  /** Take the registry-wide write lock first (default). Off only for writes that touch one row atomically. */
  serialized?: boolean;
}

export interface PgRegistry extends Sql {
  readonly pool: pg.Pool;
  /** The database URL without its password, for messages. */
  readonly location: string;
  /** The home of this machine: its keys, its secrets, its exported audit head. */
  readonly home: string;
  readonly env: NodeJS.ProcessEnv;
  /** This machine, recorded on runs and plan runs: only it can tell whether its own processes are still alive. */
  readonly host: string;
  /** The team's audit key on this machine; refuses a key other than the one the database was first signed with. */
  auditKey(tx?: Sql): Promise<AuditKey>;
  write<T>(fn: (tx: Tx) => Promise<T>, options?: WriteOptions): Promise<T>;
  close(): Promise<void>;
}

export { redactDatabaseUrl as redactUrl };

const CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE"]);

/** Whether an error means the database could not be reached (or went away): nothing was, or can be, recorded. */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: string }).code ?? "";
  const message = (error as Error).message ?? "";
  return (
    CONNECTION_CODES.has(code) ||
    code.startsWith("08") || // connection_exception
    code === "57P01" || // admin_shutdown
    code === "57P02" || // crash_shutdown
    code === "57P03" || // cannot_connect_now
    /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(message)
  );
}

/** A PostgreSQL failure as a registry error (exit 6), naming the database without its password. */
export function describePgError(error: unknown, location: string): RegistryError {
  if (error instanceof RegistryError) return error;
  const code = (error as { code?: string }).code ?? "";
  const reason = ((error as Error).message ?? String(error)).split("\n")[0]!;
  if (isConnectionError(error)) return new RegistryError(`database ${location} is unreachable (${code || reason}); nothing was recorded`, error);
  if (code === "28P01" || code === "28000") return new RegistryError(`database ${location} refused the login: ${reason}`, error);
  // The server asked for a password and none was given (none in the URL, PGPASSWORD or ~/.pgpass).
  if (/client password must be a string/i.test(reason))
    return new RegistryError(`database ${location} asks for a password and none was given: set PGPASSWORD, add it to ~/.pgpass, or put it in the URL`, error);
  if (code === "3D000") return new RegistryError(`database ${location} does not exist: create it first (createdb), or fix the URL`, error);
  if (code === "42501")
    return new RegistryError(`database ${location}: permission denied (${reason}); see toolctl doctor for the privileges toolctl needs`, error);
  if (code === "53100") return new RegistryError(`database ${location}: the server's disk is full (${reason}); nothing was changed`, error);
  return new RegistryError(`database ${location}: ${reason}${code ? ` (${code})` : ""}`, error);
}

function retryable(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === "40001" || code === "40P01";
}

/** The password for a connection from the password file, as libpq finds it; undefined when none matches. */
function passwordFromFile(connection: { host?: string; port?: number; database?: string; user?: string }): Promise<string | undefined> {
  return new Promise((resolve) => pgPass(connection, resolve));
}

/**
 * A client that closes its socket when it fails to connect. node-postgres leaves it open after a failure during
 * authentication (a server asking for a password none was given): the server holds it until its
 * authentication_timeout, and the process could not exit for a minute after saying why it failed.
 */
class ClosingClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    // No password in the URL or PGPASSWORD: node-postgres would read the password file itself and print a
    // deprecation warning on every command. Given a function instead, it asks that, which reads the same file
    // (PGPASSFILE, else ~/.pgpass) with the same reader.
    if (this.password == null) (this as { password?: unknown }).password = passwordFromFile;
  }

  override connect(): Promise<pg.Client>;
  override connect(callback: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): void;
  override connect(callback?: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): Promise<pg.Client> | void {
    const closeOnFailure = (error: Error | null) => {
      if (error) void this.end().catch(() => undefined);
    };
    if (!callback) {
      return super.connect().catch((error: Error) => {
        closeOnFailure(error);
        throw error;
      });
    }
    const done = callback as (err: Error | null, c?: pg.Client) => void;
    super.connect(((error: Error | null, client?: pg.Client) => {
      closeOnFailure(error);
      done(error, client);
    }) as (err: Error) => void);
  }
}

/** bigint and numeric come back as numbers: every integer toolctl stores (ms, micro-dollars, counters) fits in 2^53. */
const types = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === 20 || oid === 1700) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

function sqlOf(client: { query: (text: string, values?: unknown[]) => Promise<pg.QueryResult> }): Sql {
  return {
    query: async <R>(text: string, values?: unknown[]) => (await client.query(text, values)).rows as R[],
    one: async <R>(text: string, values?: unknown[]) => (await client.query(text, values)).rows[0] as R | undefined,
    run: async (text: string, values?: unknown[]) => (await client.query(text, values)).rowCount ?? 0,
  };
}

export interface OpenPgOptions {
  /** Connections kept at most (default 10). */
  max?: number;
}

/** The id of the audit key the team's log is signed with: the first machine that wrote claimed it. */
export async function teamKeyId(sql: Pick<Sql, "one">): Promise<string | undefined> {
  return (await sql.one<{ value: string }>("SELECT value FROM settings WHERE key = 'audit_key_id'"))?.value;
}

/** Why this machine cannot sign for the team, if it cannot: no audit key yet, or another one than the team's. */
export function teamKeyProblem(key: AuditKey | undefined, team: string | undefined, location: string): string | undefined {
  if (team === undefined || key?.id === team) return undefined;
  const fix = "set TOOLCTL_AUDIT_KEY to the team's audit key";
  if (!key) return `this machine has no audit key yet, and the team's is '${team}' that signs ${location}: ${fix}`;
  return `this machine's audit key '${key.id}' (${key.where}) is not the team's '${team}' that signs ${location}: ${fix} (toolctl doctor)`;
}

/** Opens the pool and brings the schema up to date (once, under a lock, whichever machine gets there first). */
export async function openPgRegistry(url: string, home: string, env: NodeJS.ProcessEnv, options: OpenPgOptions = {}): Promise<PgRegistry> {
  // The machine's own files (its audit key, its secrets key, its copy of the audit head) are kept in the home.
  makeHome(home);
  const location = redactDatabaseUrl(url);
  const pool = new pg.Pool({
    Client: ClosingClient,
    connectionString: url,
    max: options.max ?? 10,
    idleTimeoutMillis: 10_000,
    connectionTimeoutMillis: 10_000,
    allowExitOnIdle: true,
    application_name: "toolctl",
    types,
  });
  // A connection the server drops must not crash the process. Idle in the pool, the pool hears of it (and the
  // next query gets a fresh one); checked out by a write, its client emits 'error', and a client nobody listens
  // to throws: the write's next query fails instead, and the write is retried or refused (exit 6) as it says.
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  const direct = sqlOf(pool);
  const failed = (error: unknown): never => {
    throw describePgError(error, location);
  };
  try {
    await migrate(pool);
  } catch (error) {
    await pool.end().catch(() => {});
    throw describePgError(error, location);
  }
  let auditKey: AuditKey | undefined;
  const registry: PgRegistry = {
    pool,
    location,
    home,
    env,
    host: os.hostname(),
    query: <R>(text: string, values?: unknown[]) => direct.query<R>(text, values).catch(failed),
    one: <R>(text: string, values?: unknown[]) => direct.one<R>(text, values).catch(failed),
    run: (text: string, values?: unknown[]) => direct.run(text, values).catch(failed),
    async auditKey(sql: Sql = direct) {
      if (auditKey) return auditKey;
      const key = loadAuditKey(home, env, { create: true })!;
      await sql.run("INSERT INTO settings (key, value) VALUES ('audit_key_id', $1) ON CONFLICT (key) DO NOTHING", [key.id]);
      const problem = teamKeyProblem(key, await teamKeyId(sql), location);
      if (problem) throw new RegistryError(problem);
      auditKey = key;
      return key;
    },
    async write<T>(fn: (tx: Tx) => Promise<T>, writeOptions: WriteOptions = {}): Promise<T> {
      for (let attempt = 1; ; attempt++) {
        let client: pg.PoolClient;
        try {
          client = await pool.connect();
        } catch (error) {
          // A server restarting refuses connections for a moment: wait for it, then give up with exit 6.
          if (isConnectionError(error) && attempt < RETRIES) {
            await sleep(RECONNECT_MS * attempt);
            continue;
          }
          throw describePgError(error, location);
        }
        const tx: Tx = sqlOf(client);
        let broken: unknown;
        let committing = false;
        try {
          await client.query("BEGIN");
          if (writeOptions.serialized !== false) await client.query("SELECT pg_advisory_xact_lock($1)", [WRITE_LOCK]);
          const value = await fn(tx);
          if (tx.pendingHead) await writeCheckpoint(registry, tx, tx.pendingHead);
          committing = true;
          await client.query("COMMIT");
          return value;
        } catch (error) {
          broken = isConnectionError(error) ? error : undefined;
          await client.query("ROLLBACK").catch((rollbackError: unknown) => (broken ??= rollbackError));
          if (retryable(error) && attempt < RETRIES) {
            await sleep(Math.random() * 10 * attempt);
            continue;
          }
          // A connection lost before COMMIT was sent took its transaction with it: the server rolled it back, so
          // it is run again on a new connection. Lost during COMMIT, it may have committed: never run twice.
          if (broken !== undefined && !committing && attempt < RETRIES) {
            await sleep(RECONNECT_MS * attempt);
            continue;
          }
          // Expected refusals and programming errors pass through; database failures become exit 6.
          if (error instanceof pg.DatabaseError || isConnectionError(error)) throw describePgError(error, location);
          throw error;
        } finally {
          client.release(broken instanceof Error ? broken : undefined);
        }
      }
    },
    async close() {
      await pool.end();
    },
  };
  return registry;
}

/** The signed checkpoint: the last event's seq and hash under the audit key, moved in the same transaction as the events. */
async function writeCheckpoint(registry: PgRegistry, tx: Sql, head: { seq: number; hash: string }): Promise<void> {
  const key = await registry.auditKey(tx);
  await tx.run(
    `INSERT INTO audit_checkpoint (id, seq, hash, key_id, mac) VALUES (1, $1, $2, $3, $4)
     ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, key_id = excluded.key_id, mac = excluded.mac`,
    [head.seq, head.hash, key.id, checkpointMac(key, head)],
  );
}

/** The schema version this database is at; 0 for a database toolctl never used. */
async function schemaVersion(client: pg.ClientBase): Promise<number> {
  const table = await client.query("SELECT to_regclass('toolctl_schema') AS name");
  if (!table.rows[0]?.name) return 0;
  return ((await client.query("SELECT version FROM toolctl_schema WHERE id = 1")).rows[0]?.version as number | undefined) ?? 0;
}

function newerSchema(version: number): RegistryError {
  return new RegistryError(`database schema version ${version} is newer than this toolctl understands (${PG_MIGRATIONS.length}); upgrade toolctl`);
}

/** Applies pending migrations, each in its own transaction, holding a session advisory lock so that racing machines apply each once. */
async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    const seen = await schemaVersion(client);
    if (seen === PG_MIGRATIONS.length) return;
    if (seen > PG_MIGRATIONS.length) throw newerSchema(seen);
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATE_LOCK]);
    try {
      await client.query("CREATE TABLE IF NOT EXISTS toolctl_schema (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)");
      await client.query("INSERT INTO toolctl_schema (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING");
      const locked = await schemaVersion(client);
      if (locked > PG_MIGRATIONS.length) throw newerSchema(locked);
      for (let version = locked; version < PG_MIGRATIONS.length; version++) {
        await client.query("BEGIN");
        try {
          await client.query(PG_MIGRATIONS[version]!);
          await client.query("UPDATE toolctl_schema SET version = $1 WHERE id = 1", [version + 1]);
          await client.query("COMMIT");
        } catch (error) {
          await client.query("ROLLBACK").catch(() => {});
          throw error;
        }
      }
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATE_LOCK]).catch(() => {});
    }
  } finally {
    client.release();
  }
}

export { nowIso } from "../../util/ids.js";
