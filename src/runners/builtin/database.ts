/**
 * The built-in `database` runtime: read, create, update and delete rows of the tables a manifest allows, in
 * one SQLite file. Preparing checks the table and every column against the real schema and builds the SQL
 * (see ./database-sql.ts), which a dry run shows with its `?` parameters; running executes exactly that.
 *
 * Inputs: read { table?, columns?, where?, orderBy?, limit?, offset? }, create { table?, data },
 * update { table?, where, data }, delete { table?, where }. `table` may be left out when only one table
 * allows the operation. Reads open the file read-only; an update or delete that would change more rows than
 * database.maxChanges is rolled back.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import type { DatabaseSettings } from "../../domain/manifest.js";
import { EnvironmentError, PolicyError } from "../../errors.js";
import { BuiltinInputError, isWithin, manifestDir, quote } from "./input.js";
import { keyMaterialHolding } from "../key-material.js";
import { createFromSetup, inspectWith, openDatabase, realOrSelf, sameFile, type Db } from "./database-file.js";
import { buildStatement, DATABASE_FIELDS, type Column, type DatabaseOperation, type SqlValue, type Statement } from "./database-sql.js";
import type { Prepared, RunContext, RunResult, Runner } from "../types.js";

const DEFAULTS = { maxRows: 100, maxChanges: 100, foreignKeys: true, busyTimeoutSeconds: 5 };

function tableAccess(settings: DatabaseSettings, operation: DatabaseOperation, requested: unknown): { table: string; allowedColumns?: string[] } {
  const declared = Object.entries(settings.tables).map(([name, access]) => ({
    name,
    operations: (Array.isArray(access) ? access : access.operations) as string[],
    columns: Array.isArray(access) ? undefined : access.columns,
  }));
  let table = requested;
  if (table === undefined) {
    const candidates = declared.filter((t) => t.operations.includes(operation));
    if (candidates.length !== 1) throw new BuiltinInputError(`input table is required; one of ${candidates.map((t) => t.name).join(", ")}`);
    table = candidates[0]!.name;
  }
  if (typeof table !== "string") throw new BuiltinInputError(`input table must be a string`);
  const entry = declared.find((t) => t.name === table);
  if (!entry) throw new BuiltinInputError(`unknown table ${quote(table)}; this tool allows: ${declared.map((t) => t.name).join(", ")}`);
  if (!entry.operations.includes(operation))
    throw new PolicyError("policy_refused", `table ${quote(table)} does not allow ${operation} (allowed: ${entry.operations.join(", ")})`);
  return { table, allowedColumns: entry.columns };
}

/** The table's columns as SQLite reports them, narrowed to the manifest's allow-list when it has one. */
function columnsOf(db: Db, table: string, allowed: string[] | undefined, file: string): Column[] {
  const rows = db.prepare("SELECT name, hidden FROM pragma_table_xinfo(?)").all(table) as Array<{ name: string; hidden: number }>;
  if (rows.length === 0) throw new BuiltinInputError(`unknown table ${quote(table)}: ${file} has no such table`);
  return rows
    .filter((row) => allowed === undefined || allowed.includes(row.name))
    .map((row) => ({ name: row.name, readable: row.hidden !== 1, writable: row.hidden === 0 }));
}

export const databaseRunner: Runner = {
  prepare(context: RunContext): Prepared {
    const { tool, action, input } = context;
    const operation = action.definition.operation as DatabaseOperation | undefined;
    if (!operation || !(operation in DATABASE_FIELDS))
      throw new BuiltinInputError(`action ${action.name} has no database operation; set operation: read, create, update or delete`);
    const settings: DatabaseSettings = { ...DEFAULTS, ...tool.definition.database! };
    const where = (file: string) => (path.isAbsolute(file) ? file : path.join(manifestDir(tool), file));
    const file = path.resolve(where(settings.file));
    // The registry holds approvals and the audit log: no tool may edit it as "its" database, by any name.
    if (isWithin(realOrSelf(file), realOrSelf(context.home)) || sameFile(file, path.join(context.home, "registry.db"))) {
      throw new PolicyError("policy_refused", `database file ${file} is inside the toolctl home; a tool cannot use toolctl's own files`);
    }
    const keys = keyMaterialHolding(file, context.env);
    if (keys !== undefined) throw new PolicyError("policy_refused", `database file ${file} is inside ${keys}, which holds key material; a tool cannot use it`);
    const setup = settings.setup === undefined ? undefined : path.resolve(where(settings.setup));
    const willCreate = setup !== undefined && !existsSync(file);
    const { table, allowedColumns } = tableAccess(settings, operation, input.table);
    const rest = Object.fromEntries(Object.entries(input).filter(([key]) => key !== "table"));

    const { built, matches } = inspectWith(file, setup, settings.busyTimeoutSeconds * 1000, (db) => {
      const built = buildStatement(operation, table, columnsOf(db, table, allowedColumns, file), rest, settings.maxRows);
      const matches = built.count
        ? (db
            .prepare(built.count.sql)
            .pluck()
            .get(...bindable(built.count.params)) as number)
        : undefined;
      return { built, matches };
    });
    if (matches !== undefined && matches > settings.maxChanges) {
      throw new PolicyError(
        "policy_refused",
        `${operation} would change ${matches} rows of ${quote(table)}, over this tool's database.maxChanges of ${settings.maxChanges}; nothing was changed`,
      );
    }
    const { statement, limit } = built;
    const description: Record<string, unknown> = {
      runtime: "database",
      operation,
      file,
      table,
      sql: statement.sql,
      params: statement.params,
      readOnly: operation === "read",
      ...(limit !== undefined ? { limit } : {}),
      ...(matches !== undefined ? { matches, maxChanges: settings.maxChanges } : {}),
      ...(willCreate ? { setup } : {}),
      summary: `${willCreate ? `creates ${file} from ${setup}, then ` : ""}${statement.sql} with ${JSON.stringify(statement.params)}${matches !== undefined ? ` (${matches} row${matches === 1 ? "" : "s"} match now)` : ""}`,
    };
    return {
      description,
      run: async () => runStatement({ file, setup, operation, table, statement, limit, settings }),
    };
  },
};

interface Execution {
  file: string;
  setup?: string;
  operation: DatabaseOperation;
  table: string;
  statement: Statement;
  limit?: number;
  settings: DatabaseSettings;
}

class TooManyChanges extends Error {
  constructor(readonly changes: number) {
    super("too many changes");
  }
}

function runStatement(run: Execution): RunResult {
  const { file, operation, table, statement, settings } = run;
  const started = Date.now();
  const details = () => ({ file, table, durationMs: Date.now() - started });
  let db: Db | undefined;
  try {
    if (run.setup && !existsSync(file)) createFromSetup(file, run.setup);
    db = openDatabase(file, { readonly: operation === "read" });
    db.pragma(`busy_timeout = ${Math.round(settings.busyTimeoutSeconds * 1000)}`);
    if (operation !== "read" && settings.foreignKeys) db.pragma("foreign_keys = ON");
    const prepared = db.prepare(statement.sql);
    const params = bindable(statement.params);
    if (operation === "read") {
      const rows = (prepared.all(...params) as Array<Record<string, unknown>>).map(jsonRow);
      const limit = run.limit ?? rows.length;
      return {
        outcome: "succeeded",
        output: { table, rows: rows.slice(0, limit), count: Math.min(rows.length, limit), truncated: rows.length > limit },
        details: details(),
      };
    }
    if (operation === "create") {
      const info = prepared.run(...params);
      return { outcome: "succeeded", output: { table, rowid: Number(info.lastInsertRowid), changes: info.changes }, details: details() };
    }
    // The guard runs inside the write transaction: rows added since the dry run count too.
    const changes = db
      .transaction(() => {
        const info = prepared.run(...params);
        if (info.changes > settings.maxChanges) throw new TooManyChanges(info.changes);
        return info.changes;
      })
      .immediate();
    return { outcome: "succeeded", output: { table, changes }, details: details() };
  } catch (error) {
    if (error instanceof TooManyChanges) {
      return {
        outcome: "failed",
        errorCategory: "resource_limit",
        details: details(),
        declined: true,
        error: `${operation} would change ${error.changes} rows of ${quote(table)}, over this tool's database.maxChanges of ${settings.maxChanges}; rolled back, nothing was changed`,
      };
    }
    if (error instanceof EnvironmentError)
      return { outcome: "failed", errorCategory: "environment", error: error.message, details: details(), nothingRan: true };
    const code = (error as { code?: unknown }).code;
    if (typeof code !== "string" || !code.startsWith("SQLITE_")) throw error;
    // SQLite's own words: a constraint names the table and column that refused the row.
    const category = code.startsWith("SQLITE_CONSTRAINT")
      ? "validation"
      : /^SQLITE_(BUSY|LOCKED|READONLY|CANTOPEN|FULL|IOERR|CORRUPT|NOTADB)/.test(code)
        ? "environment"
        : "other";
    return { outcome: "failed", errorCategory: category, error: `${(error as Error).message} (${code})`, details: details() };
  } finally {
    db?.close();
  }
}

/**
 * better-sqlite3 binds every JS number as a REAL: 1 would be stored as '1.0' in a TEXT column. Whole numbers
 * go as integers, as SQLite's own literals would.
 */
function bindable(params: SqlValue[]): Array<SqlValue | bigint> {
  return params.map((value) => (typeof value === "number" && Number.isSafeInteger(value) ? BigInt(value) : value));
}

/** Blobs as base64 text: JSON has no bytes. */
function jsonRow(row: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(row)) if (Buffer.isBuffer(value)) row[key] = value.toString("base64");
  return row;
}
