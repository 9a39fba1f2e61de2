/**
 * The database runtime's file: opening it (read-only to look), and creating it from its setup script on first
 * use. Kept apart from the runner, which decides what to run.
 */
import { existsSync, linkSync, readFileSync, realpathSync, statSync, unlinkSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { EnvironmentError, PolicyError } from "../../errors.js";
import { nodeCrypto } from "../../util/builtins.js";
import { sqliteBinding } from "../../util/sqlite-binding.js";
import { BuiltinInputError } from "./input.js";

export type Db = Database.Database;

export function openDatabase(file: string, options: { readonly: boolean; memory?: boolean; timeoutMs?: number }): Db {
  return new Database(options.memory ? ":memory:" : file, {
    readonly: options.readonly,
    fileMustExist: !options.memory,
    timeout: options.timeoutMs ?? 5000,
    ...sqliteBinding,
  });
}

/** Text of the setup script, or a one-line reason it cannot be used. */
function setupText(setup: string): string {
  try {
    return readFileSync(setup, "utf8");
  } catch (error) {
    throw new EnvironmentError(`database setup script ${setup} cannot be read (${(error as NodeJS.ErrnoException).code ?? "unreadable"})`);
  }
}

/** Creates the database from its setup script: built aside, then linked into place, so a half-made file never shows. */
export function createFromSetup(file: string, setup: string): void {
  const temp = `${file}.toolctl-${nodeCrypto().randomBytes(6).toString("hex")}.tmp`;
  try {
    const db = new Database(temp, { ...sqliteBinding });
    try {
      db.exec(setupText(setup));
    } finally {
      db.close();
    }
    try {
      linkSync(temp, file);
    } catch (error) {
      // Another run created it first: theirs stands.
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  } catch (error) {
    if (error instanceof EnvironmentError) throw error;
    throw new EnvironmentError(`cannot create database ${file} from ${setup}: ${(error as Error).message}; nothing ran`);
  } finally {
    for (const leftover of [temp, `${temp}-journal`]) if (existsSync(leftover)) unlinkSync(leftover);
  }
}

/** Opens the database to look at it while preparing: the real file read-only, or the setup script run in memory. */
export function inspectWith<T>(file: string, setup: string | undefined, timeoutMs: number, look: (db: Db) => T): T {
  let db: Db;
  try {
    if (existsSync(file)) db = openDatabase(file, { readonly: true, timeoutMs });
    else if (setup) {
      db = openDatabase(file, { readonly: false, memory: true });
      try {
        db.exec(setupText(setup));
      } catch (error) {
        db.close();
        if (error instanceof EnvironmentError) throw error;
        throw new BuiltinInputError(`setup script ${setup}: ${(error as Error).message}`);
      }
    } else throw new EnvironmentError(`database file ${file} does not exist; create it, or name a setup script (database.setup) in the manifest`);
  } catch (error) {
    if (error instanceof EnvironmentError || error instanceof BuiltinInputError) throw error;
    throw new EnvironmentError(`cannot open database ${file}: ${(error as Error).message}`);
  }
  try {
    return look(db);
  } catch (error) {
    if (error instanceof BuiltinInputError || error instanceof PolicyError) throw error;
    throw new EnvironmentError(`cannot read database ${file}: ${(error as Error).message}`);
  } finally {
    db.close();
  }
}

/** A hard link is the same file under another name. */
export function sameFile(a: string, b: string): boolean {
  try {
    const [x, y] = [statSync(a), statSync(b)];
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

export function realOrSelf(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return path.resolve(file);
  }
}
