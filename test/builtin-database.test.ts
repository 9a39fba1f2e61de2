/**
 * The built-in database runtime end to end, through the library API: it reads, creates, updates and deletes rows of a
 * real SQLite file, with tables and columns allowed by the manifest and checked against the real schema.
 * Injection attempts are refused or bound as plain values, and the database is left as it was.
 */
import { existsSync, linkSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { inputSources } from "../src/api/index.js";
import { openApi, tempDir, writeFiles } from "./helpers.js";
import { examplesProject, expectOneLine, manifestProblems, type Outcome, project, run, startWaiting } from "./fixtures/builtins/support.js";

const SCHEMA = `
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  email TEXT,
  age INTEGER CHECK (age >= 0),
  password TEXT
);
CREATE TABLE logs (id INTEGER PRIMARY KEY, line TEXT);
CREATE TABLE "odd ""quoted"" table" (id INTEGER PRIMARY KEY, "odd ""col""" TEXT);
CREATE TABLE secrets (id INTEGER PRIMARY KEY, value TEXT);
INSERT INTO users (name, email, age, password) VALUES
  ('ada', 'ada@example.com', 36, 'pw-ada'), ('bob', 'bob@example.com', 25, 'pw-bob'),
  ('cy', NULL, 52, 'pw-cy'), ('dee', 'dee@example.com', 19, 'pw-dee');
INSERT INTO logs (line) VALUES ('one'), ('two');
INSERT INTO "odd ""quoted"" table" ("odd ""col""") VALUES ('x');
INSERT INTO secrets (value) VALUES ('top secret');
`;

const MANIFEST = (settings = "") => `apiVersion: toolctl/v1
name: db
description: A project database
runtime: database
database:
  file: app.db
  maxRows: 3
  maxChanges: 2${settings}
  tables:
    users: { operations: [read, create, update, delete], columns: [id, name, email, age] }
    logs: [read]
    'odd "quoted" table': [read]
actions:
  read: { description: Read rows, kind: read, operation: read }
  create: { description: Add a row, kind: create, operation: create }
  update: { description: Change rows, kind: update, operation: update }
  delete: { description: Delete rows, kind: delete, operation: delete }
  guarded_delete: { description: Delete rows after approval, kind: delete, operation: delete, approval: always }
`;

async function dbProject(settings = "") {
  const created = await project({ "tool.yaml": MANIFEST(settings) });
  const db = new Database(path.join(created.dir, "app.db"));
  db.exec(SCHEMA);
  db.close();
  return { ...created, file: path.join(created.dir, "app.db") };
}

function query<T = any>(file: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

/** Everything in the database, to compare before and after an attempt. */
function snapshot(file: string): unknown {
  return {
    schema: query(file, "SELECT type, name, sql FROM sqlite_master ORDER BY name"),
    users: query(file, "SELECT * FROM users ORDER BY id"),
    logs: query(file, "SELECT * FROM logs ORDER BY id"),
    secrets: query(file, "SELECT * FROM secrets ORDER BY id"),
  };
}

function expectUsage(result: Outcome, message: string): void {
  expect(result.exitCode, JSON.stringify(result)).toBe(2);
  expect(expectOneLine(result.error?.message)).toBe(`cannot build the database call: ${message}`);
}

describe("database runtime: operations", () => {
  it("reads rows: allowed columns only, filters, operators, order, paging, and the row limit", async () => {
    const { toolctl } = await dbProject();
    const all = await run(toolctl, "db.read", { table: "users", orderBy: "id" });
    expect(all.exitCode).toBe(0);
    expect(all.output).toEqual({
      table: "users",
      count: 3,
      truncated: true,
      rows: [
        { id: 1, name: "ada", email: "ada@example.com", age: 36 },
        { id: 2, name: "bob", email: "bob@example.com", age: 25 },
        { id: 3, name: "cy", email: null, age: 52 },
      ],
    });
    const filtered = await run(toolctl, "db.read", { table: "users", columns: ["name"], where: { age: { gte: 20, lt: 40 } }, orderBy: "-name" });
    expect(filtered.output.rows).toEqual([{ name: "bob" }, { name: "ada" }]);
    const ops = await run(toolctl, "db.read", {
      table: "users",
      columns: ["name"],
      where: { name: { in: ["ada", "dee", "zed"] }, email: { like: "%example.com" } },
      orderBy: ["name"],
    });
    expect(ops.output.rows).toEqual([{ name: "ada" }, { name: "dee" }]);
    const nulls = await run(toolctl, "db.read", { table: "users", columns: ["name"], where: { email: null } });
    expect(nulls.output.rows).toEqual([{ name: "cy" }]);
    const page = await run(toolctl, "db.read", { table: "users", columns: ["id"], orderBy: "id", limit: 2, offset: 2 });
    expect(page.output).toEqual({ table: "users", rows: [{ id: 3 }, { id: 4 }], count: 2, truncated: false });
    const typed = await run(toolctl, "db.read", inputSources({ params: ["table=users", "where.id=2", "limit=1"] }));
    expect(typed.output.rows).toEqual([{ id: 2, name: "bob", email: "bob@example.com", age: 25 }]);
    expectUsage(await run(toolctl, "db.read", { table: "users", limit: 4 }), "input limit 4 is over this tool's database.maxRows of 3");
  });

  it("quotes identifiers: a table and a column with quotes and spaces in their names work", async () => {
    const { toolctl } = await dbProject();
    const result = await run(toolctl, "db.read", { table: 'odd "quoted" table', where: { 'odd "col"': "x" } });
    expect(result.exitCode).toBe(0);
    expect(result.output.rows).toEqual([{ id: 1, 'odd "col"': "x" }]);
    expect(result.request.sql).toBe('SELECT "id", "odd ""col""" FROM "odd ""quoted"" table" WHERE "odd ""col""" = ? LIMIT ? OFFSET ?');
  });

  it("creates a row and returns its rowid; a constraint violation fails (exit 1) with SQLite's message", async () => {
    const { toolctl, file } = await dbProject();
    const created = await run(toolctl, "db.create", { data: { name: "eve", age: 30, email: true } });
    expect(created.exitCode).toBe(0);
    expect(created.output).toEqual({ table: "users", rowid: 5, changes: 1 });
    expect(query(file, "SELECT name, age, email FROM users WHERE id = 5")).toEqual([{ name: "eve", age: 30, email: "1" }]);
    const before = snapshot(file);
    const duplicate = await run(toolctl, "db.create", { data: { name: "ada" } });
    expect(duplicate.exitCode).toBe(1);
    expect(duplicate.status).toBe("failed");
    expect(duplicate.error?.message).toBe("UNIQUE constraint failed: users.name (SQLITE_CONSTRAINT_UNIQUE)");
    const check = await run(toolctl, "db.create", { data: { name: "neg", age: -1 } });
    expect(check.exitCode).toBe(1);
    expect(check.error?.message).toMatch(/^CHECK constraint failed: /);
    const missing = await run(toolctl, "db.create", { data: { email: "x@example.com" } });
    expect(missing.error?.message).toBe("NOT NULL constraint failed: users.name (SQLITE_CONSTRAINT_NOTNULL)");
    expect(snapshot(file)).toEqual(before);
  });

  it("updates and deletes the rows its where names, and returns the count", async () => {
    const { toolctl, file } = await dbProject();
    const updated = await run(toolctl, "db.update", { where: { name: "bob" }, data: { age: 26, email: null } });
    expect(updated.exitCode).toBe(0);
    expect(updated.output).toEqual({ table: "users", changes: 1 });
    expect(query(file, "SELECT age, email FROM users WHERE name = 'bob'")).toEqual([{ age: 26, email: null }]);
    const none = await run(toolctl, "db.update", { where: { name: "nobody" }, data: { age: 1 } });
    expect(none.output.changes).toBe(0);
    const deleted = await run(toolctl, "db.delete", { where: { age: { gt: 30, lt: 40 } } }, { yes: true });
    expect(deleted.exitCode).toBe(0);
    expect(deleted.output).toEqual({ table: "users", changes: 1 });
    expect(query(file, "SELECT name FROM users ORDER BY id").map((r) => r.name)).toEqual(["bob", "cy", "dee"]);
  });

  it("refuses an update or delete without a where, or with an empty one, and changes nothing", async () => {
    const { toolctl, file } = await dbProject();
    const before = snapshot(file);
    expectUsage(await run(toolctl, "db.update", { data: { age: 1 } }), "input where must be an object of column: value");
    expectUsage(
      await run(toolctl, "db.update", { where: {}, data: { age: 1 } }),
      "input where must name at least one column; changing every row of a table is refused",
    );
    expectUsage(await run(toolctl, "db.delete", {}, { yes: true }), "input where must be an object of column: value");
    expectUsage(
      await run(toolctl, "db.delete", { where: {} }, { yes: true }),
      "input where must name at least one column; changing every row of a table is refused",
    );
    expectUsage(await run(toolctl, "db.update", { where: { id: 1 }, data: {} }), "input data must name at least one column");
    expect(snapshot(file)).toEqual(before);
  });

  it(
    "refuses a change to more rows than maxChanges: before it runs (exit 3), and inside the transaction if rows appear meanwhile",
    { timeout: 30_000 },
    async () => {
      const created = await dbProject();
      const { toolctl, file } = created;
      const before = snapshot(file);
      const tooMany = await run(toolctl, "db.delete", { where: { age: { gt: 20 } } }, { yes: true });
      expect(tooMany.exitCode).toBe(3);
      expect(tooMany.error?.message).toBe('delete would change 3 rows of "users", over this tool\'s database.maxChanges of 2; nothing was changed');
      expect(snapshot(file)).toEqual(before);

      const waiting = await startWaiting(created, "db.guarded_delete", { where: { email: { like: "%@example.com" }, age: { lt: 30 } } });
      // Two rows match when it is checked; two more appear before it is approved.
      const db = new Database(file);
      db.exec("INSERT INTO users (name, email, age) VALUES ('e1', 'e1@example.com', 20), ('e2', 'e2@example.com', 21)");
      db.close();
      const grown = snapshot(file);
      expect((await waiting.approve()).code).toBe(0);
      const result = await waiting.done;
      expect(result.exitCode).toBe(3);
      expect(result.error?.category).toBe("resource_limit");
      expect(result.error?.message).toBe('delete would change 4 rows of "users", over this tool\'s database.maxChanges of 2; rolled back, nothing was changed');
      expect(snapshot(file)).toEqual(grown);
    },
  );

  it("a dry run shows the SQL with ? placeholders and the values, how many rows match, and changes nothing", async () => {
    const { toolctl, file } = await dbProject();
    const before = snapshot(file);
    const update = await run(toolctl, "db.update", { where: { name: "ada", age: { ne: null } }, data: { email: "new@example.com" } }, { dryRun: true });
    expect(update.exitCode).toBe(0);
    expect(update.status).toBe("dry_run");
    expect(update.request).toEqual({
      runtime: "database",
      operation: "update",
      file,
      table: "users",
      readOnly: false,
      matches: 1,
      maxChanges: 2,
      sql: 'UPDATE "users" SET "email" = ? WHERE "name" = ? AND "age" IS NOT NULL',
      params: ["new@example.com", "ada"],
      summary: 'UPDATE "users" SET "email" = ? WHERE "name" = ? AND "age" IS NOT NULL with ["new@example.com","ada"] (1 row match now)',
    });
    const read = await run(toolctl, "db.read", { table: "logs" }, { dryRun: true });
    expect(read.request).toMatchObject({ readOnly: true, limit: 3, sql: 'SELECT "id", "line" FROM "logs" LIMIT ? OFFSET ?', params: [4, 0] });
    const del = await run(toolctl, "db.delete", { where: { id: 1 } }, { dryRun: true });
    expect(del.request.sql).toBe('DELETE FROM "users" WHERE "id" = ?');
    expect(snapshot(file)).toEqual(before);
  });
});

describe("database runtime: injection and allow-lists", () => {
  it("refuses table names that are not declared, whatever they contain, and leaves the database as it was", async () => {
    const { toolctl, file } = await dbProject();
    const before = snapshot(file);
    for (const table of ["users; DROP TABLE users", "users --", 'users" WHERE 1=1 --', "secrets", "sqlite_master", "USERS"]) {
      expectUsage(await run(toolctl, "db.read", { table }), `unknown table ${JSON.stringify(table)}; this tool allows: users, logs, odd "quoted" table`);
    }
    expect(snapshot(file)).toEqual(before);
  });

  it("refuses column names that are not real, allowed columns: in where, data, columns and orderBy", async () => {
    const { toolctl, file } = await dbProject();
    const before = snapshot(file);
    const known = "columns: id, name, email, age";
    expectUsage(
      await run(toolctl, "db.read", { table: "users", where: { 'name" = name OR "1': 1 } }),
      `unknown column "name\\" = name OR \\"1" in where for table "users"; ${known}`,
    );
    expectUsage(
      await run(toolctl, "db.read", { table: "users", where: { "1=1 OR name": "x" } }),
      `unknown column "1=1 OR name" in where for table "users"; ${known}`,
    );
    expectUsage(
      await run(toolctl, "db.read", { table: "users", where: { password: "pw-ada" } }),
      `unknown column "password" in where for table "users"; ${known}`,
    );
    expectUsage(await run(toolctl, "db.read", { table: "users", columns: ["password"] }), `unknown column "password" in columns for table "users"; ${known}`);
    expectUsage(await run(toolctl, "db.read", { table: "users", columns: ["*"] }), `unknown column "*" in columns for table "users"; ${known}`);
    expectUsage(
      await run(toolctl, "db.read", { table: "users", orderBy: "name; DROP TABLE users" }),
      `unknown column "name; DROP TABLE users" in orderBy for table "users"; ${known}`,
    );
    expectUsage(await run(toolctl, "db.create", { data: { name: "mallory", password: "x" } }), `unknown column "password" in data for table "users"; ${known}`);
    expectUsage(
      await run(toolctl, "db.update", { where: { id: 1 }, data: { "age = 0, password": "x" } }),
      `unknown column "age = 0, password" in data for table "users"; ${known}`,
    );
    expectUsage(
      await run(toolctl, "db.read", { table: "users", where: { age: { "gt 0 OR 1": 1 } } }),
      'where.age: unknown operator "gt 0 OR 1"; use eq, ne, gt, gte, lt, lte, like, in',
    );
    expectUsage(
      await run(toolctl, "db.read", { table: "users", where: { age: { gt: { nested: 1 } } } }),
      "where.age.gt must be a string, number, boolean or null",
    );
    expectUsage(
      await run(toolctl, "db.read", { table: "users", were: { id: 1 } }),
      'unknown input field "were"; read takes table, columns, where, orderBy, limit, offset',
    );
    expect(snapshot(file)).toEqual(before);
  });

  it("binds values as values: quotes and SQL in them are stored and compared literally", async () => {
    const { toolctl, file } = await dbProject();
    const tricky = await run(toolctl, "db.read", { table: "users", where: { name: "' OR 1=1 --" } });
    expect(tricky.exitCode).toBe(0);
    expect(tricky.output.rows).toEqual([]);
    const likeAll = await run(toolctl, "db.read", { table: "users", where: { name: { in: ["ada' OR '1'='1"] } } });
    expect(likeAll.output.rows).toEqual([]);
    const name = "Robert'); DROP TABLE users;--";
    const created = await run(toolctl, "db.create", { data: { name, email: '" OR ""="' } });
    expect(created.exitCode).toBe(0);
    expect(query(file, "SELECT name, email FROM users WHERE id = ?", created.output.rowid)).toEqual([{ name, email: '" OR ""="' }]);
    const found = await run(toolctl, "db.read", { table: "users", columns: ["id"], where: { name } });
    expect(found.output.rows).toEqual([{ id: created.output.rowid }]);
    const updated = await run(toolctl, "db.update", { where: { name: "' OR 1=1 --" }, data: { age: 0 } });
    expect(updated.output.changes).toBe(0);
    expect(query(file, "SELECT count(*) AS n FROM users")[0].n).toBe(5);
    expect(query(file, "SELECT count(*) AS n FROM sqlite_master WHERE name = 'users'")[0].n).toBe(1);
  });

  it("refuses an operation a declared table does not allow (exit 3)", async () => {
    const { toolctl, file } = await dbProject();
    const before = snapshot(file);
    const result = await run(toolctl, "db.delete", { table: "logs", where: { id: 1 } }, { yes: true });
    expect(result.exitCode).toBe(3);
    expect(result.status).toBe("declined");
    expect(expectOneLine(result.error?.message)).toBe('table "logs" does not allow delete (allowed: read)');
    expect(snapshot(file)).toEqual(before);
  });

  it("asks which table when more than one allows the operation", async () => {
    const { toolctl } = await dbProject();
    expectUsage(await run(toolctl, "db.read", {}), 'input table is required; one of users, logs, odd "quoted" table');
  });
});

describe("database runtime: the file", () => {
  it("creates the database from its setup script on first real use, never in a dry run", async () => {
    const { dir, toolctl } = await project({
      "tool.yaml": `apiVersion: toolctl/v1
name: inv
description: Inventory
runtime: database
database: { file: data/inv.db, setup: inv.sql, tables: { items: [read, create] } }
actions:
  list: { description: List items, kind: read, operation: read }
  add: { description: Add an item, kind: create, operation: create }
`,
      "inv.sql": "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\nINSERT INTO items (name) VALUES ('hammer');\n",
      "data/.keep": "",
    });
    const file = path.join(dir, "data/inv.db");
    const dry = await run(toolctl, "inv.add", { data: { name: "saw" } }, { dryRun: true });
    expect(dry.exitCode).toBe(0);
    expect(dry.request.setup).toBe(path.join(dir, "inv.sql"));
    expect(dry.request.summary).toMatch(/^creates .*inv\.db from .*inv\.sql, then INSERT INTO "items"/);
    expect(existsSync(file)).toBe(false);
    const listed = await run(toolctl, "inv.list");
    expect(listed.output.rows).toEqual([{ id: 1, name: "hammer" }]);
    expect((await run(toolctl, "inv.add", { data: { name: "saw" } })).output).toEqual({ table: "items", rowid: 2, changes: 1 });
    expect(query(file, "SELECT name FROM items ORDER BY id").map((r) => r.name)).toEqual(["hammer", "saw"]);
  });

  it("says plainly when the database file is missing (exit 6), and never uses toolctl's own registry", async () => {
    const { toolctl } = await project({ "tool.yaml": MANIFEST() });
    const missing = await run(toolctl, "db.read", { table: "users" });
    expect(missing.exitCode).toBe(6);
    expect(missing.error?.message).toMatch(/^database file .*app\.db does not exist; create it, or name a setup script \(database\.setup\) in the manifest$/);
    const ownHome = tempDir("toolctl-builtin-home-");
    const dir = writeFiles({ "tool.yaml": MANIFEST().replace("file: app.db", `file: ${path.join(ownHome, "registry.db")}`) });
    const own = await openApi({ home: ownHome });
    expect((await own.importManifests([path.join(dir, "tool.yaml")])).failed).toEqual([]);
    const result = await run(own, "db.read", { table: "tools" });
    expect(result.exitCode).toBe(3);
    expect(result.error?.message).toBe(`database file ${path.join(ownHome, "registry.db")} is inside the toolctl home; a tool cannot use toolctl's own files`);
    // Under another name: a hard link to the registry elsewhere.
    const linked = await project({ "tool.yaml": MANIFEST() });
    linkSync(path.join(linked.home, "registry.db"), path.join(linked.dir, "app.db"));
    const viaLink = await run(linked.toolctl, "db.read", { table: "tools" });
    expect(viaLink.exitCode).toBe(3);
    expect(viaLink.error?.message).toMatch(/is inside the toolctl home/);
  });
});

describe("database runtime: manifest rules", () => {
  const problems = manifestProblems;
  const head = "apiVersion: toolctl/v1\nname: db\ndescription: d\nruntime: database\n";

  it("needs database settings with tables, and an operation some table allows that agrees with the kind", () => {
    expect(problems(`${head}actions:\n  a: { description: d, kind: read, operation: read }\n`)).toEqual([
      "tool.yaml:1:1: database: required for runtime database, such as database: { file: app.db, tables: { items: [read] } }",
    ]);
    expect(problems(`${head}database: { file: x.db, tables: {} }\nactions:\n  a: { description: d, kind: read, operation: read }\n`)).toEqual([
      "tool.yaml:5:33: database.tables: declare at least one table and the operations allowed on it",
    ]);
    expect(
      problems(
        `${head}database: { file: x.db, tables: { t: [read] } }\nactions:\n  a: { description: d, kind: delete, operation: delete }\n  b: { description: d, kind: update, operation: read }\n  c: { description: d, kind: read, operation: list }\n`,
      ),
    ).toEqual([
      "tool.yaml:7:49: actions.a.operation: no table allows 'delete': add it to a table under database.tables",
      "tool.yaml:8:49: actions.b.operation: 'read' is a read action, but kind is update",
      "tool.yaml:9:47: actions.c.operation: 'list' is not a database operation: one of read, create, update, delete",
    ]);
  });

  it("refuses SQLite's own tables and unknown operations in the allow-list", () => {
    const found = problems(
      `${head}database: { file: x.db, tables: { sqlite_master: [read], t: [read, drop] } }\nactions:\n  a: { description: d, kind: read, operation: read }\n`,
    );
    expect(found.some((p) => p.includes("database.tables") && p.includes("sqlite_ tables belong to SQLite"))).toBe(true);
    expect(found.some((p) => p.includes("database.tables.t"))).toBe(true);
  });
});

describe("database runtime: the inventory example", () => {
  it("creates its database on first use, then finds, adds and restocks items", async () => {
    const { dir, toolctl } = await examplesProject();
    const file = path.join(dir, "inventory/inventory.db");
    expect((await run(toolctl, "inventory.find", {}, { dryRun: true })).exitCode).toBe(0);
    expect(existsSync(file)).toBe(false);
    const low = await run(toolctl, "inventory.find", inputSources({ params: ["where.quantity.lt=20", 'columns=["sku"]', "orderBy=sku"] }));
    expect(low.output.rows).toEqual([{ sku: "HAM-1" }, { sku: "SAW-2" }]);
    expect((await run(toolctl, "inventory.add", { data: { sku: "DRL-3", name: "Drill", quantity: 2 } })).output).toEqual({
      table: "items",
      rowid: 4,
      changes: 1,
    });
    const restock = await run(toolctl, "inventory.restock", inputSources({ params: ["where.sku=DRL-3", "data.quantity=10"] }));
    expect(restock.output).toEqual({ table: "items", changes: 1 });
    expect(query(file, "SELECT quantity FROM items WHERE sku = 'DRL-3'")).toEqual([{ quantity: 10 }]);
    const invalid = await run(toolctl, "inventory.restock", { where: {}, data: { quantity: 1 } });
    expect(invalid.exitCode).toBe(2);
  });
});
