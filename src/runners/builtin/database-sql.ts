/**
 * The database runtime's SQL, built from checked input: pure, no database here. Every identifier is one the
 * real table reported (and the manifest allows), double-quoted; every value is a bound parameter. Input
 * never becomes SQL text.
 */
import { BuiltinInputError, checkFields, isPlainObject, optionalCount, quote, type Input } from "./input.js";

export type DatabaseOperation = "read" | "create" | "update" | "delete";
export type SqlValue = string | number | null;

export interface Column {
  name: string;
  /** Not a hidden column of a virtual table. */
  readable: boolean;
  /** Neither hidden nor generated. */
  writable: boolean;
}

export interface Statement {
  sql: string;
  params: SqlValue[];
}

export interface BuiltStatement {
  statement: Statement;
  /** update and delete: counts the rows the statement would change, with the same filter. */
  count?: Statement;
  /** read: the most rows returned (one more is fetched, to say whether more exist). */
  limit?: number;
}

export const DATABASE_FIELDS: Record<DatabaseOperation, readonly string[]> = {
  read: ["table", "columns", "where", "orderBy", "limit", "offset"],
  create: ["table", "data"],
  update: ["table", "where", "data"],
  delete: ["table", "where"],
};

const OPERATORS = { eq: "=", ne: "!=", gt: ">", gte: ">=", lt: "<", lte: "<=", like: "LIKE", in: "IN" } as const;
type Operator = keyof typeof OPERATORS;
const MAX_IN_VALUES = 500;

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A JSON value as SQLite binds it: booleans as 1 and 0, like SQLite's own true and false. */
function sqlValue(value: unknown, where: string): SqlValue {
  if (value === null || typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  throw new BuiltinInputError(`${where} must be a string, number, boolean or null`);
}

class TableColumns {
  constructor(
    private readonly table: string,
    private readonly columns: Column[],
  ) {}

  find(name: string, use: "read" | "write", field: string): Column {
    const column = this.columns.find((c) => c.name === name);
    if (!column || !column.readable) {
      const known = this.columns.filter((c) => c.readable).map((c) => c.name);
      throw new BuiltinInputError(`unknown column ${quote(name)} in ${field} for table ${quote(this.table)}; columns: ${known.join(", ")}`);
    }
    if (use === "write" && !column.writable)
      throw new BuiltinInputError(`column ${quote(name)} of table ${quote(this.table)} is generated and cannot be written`);
    return column;
  }

  readable(): Column[] {
    return this.columns.filter((c) => c.readable);
  }
}

function whereClause(raw: unknown, columns: TableColumns, required: boolean): Statement {
  if (raw === undefined && !required) return { sql: "", params: [] };
  if (!isPlainObject(raw)) throw new BuiltinInputError(`input where must be an object of column: value`);
  const entries = Object.entries(raw);
  if (entries.length === 0) {
    if (required) throw new BuiltinInputError(`input where must name at least one column; changing every row of a table is refused`);
    return { sql: "", params: [] };
  }
  const terms: string[] = [];
  const params: SqlValue[] = [];
  for (const [name, condition] of entries) {
    const column = quoteIdentifier(columns.find(name, "read", "where").name);
    const at = `where.${name}`;
    const tests: Array<[Operator, unknown]> = isPlainObject(condition) ? (Object.entries(condition) as Array<[Operator, unknown]>) : [["eq", condition]];
    if (tests.length === 0) throw new BuiltinInputError(`${at} has no condition; use a value or one of ${Object.keys(OPERATORS).join(", ")}`);
    for (const [operator, value] of tests) {
      if (!(operator in OPERATORS)) throw new BuiltinInputError(`${at}: unknown operator ${quote(operator)}; use ${Object.keys(OPERATORS).join(", ")}`);
      if (operator === "in") {
        if (!Array.isArray(value) || value.length === 0 || value.length > MAX_IN_VALUES) {
          throw new BuiltinInputError(`${at}.in must be a list of 1 to ${MAX_IN_VALUES} values`);
        }
        terms.push(`${column} IN (${value.map(() => "?").join(", ")})`);
        params.push(...value.map((item, i) => sqlValue(item, `${at}.in[${i}]`)));
        continue;
      }
      const bound = sqlValue(value, `${at}${operator === "eq" && !isPlainObject(condition) ? "" : `.${operator}`}`);
      if (bound === null && (operator === "eq" || operator === "ne")) {
        terms.push(`${column} IS ${operator === "eq" ? "" : "NOT "}NULL`);
        continue;
      }
      if (bound === null) throw new BuiltinInputError(`${at}.${operator} cannot compare with null`);
      if (operator === "like" && typeof bound !== "string") throw new BuiltinInputError(`${at}.like must be a string pattern`);
      terms.push(`${column} ${OPERATORS[operator]} ?`);
      params.push(bound);
    }
  }
  return { sql: ` WHERE ${terms.join(" AND ")}`, params };
}

function dataOf(raw: unknown, columns: TableColumns, allowEmpty: boolean): Array<[string, SqlValue]> {
  if (!isPlainObject(raw)) throw new BuiltinInputError(`input data must be an object of column: value`);
  const entries = Object.entries(raw);
  if (entries.length === 0 && !allowEmpty) throw new BuiltinInputError(`input data must name at least one column`);
  return entries.map(([name, value]) => [quoteIdentifier(columns.find(name, "write", "data").name), sqlValue(value, `data.${name}`)]);
}

function orderByOf(raw: unknown, columns: TableColumns): string {
  if (raw === undefined) return "";
  const list = typeof raw === "string" ? [raw] : raw;
  if (!Array.isArray(list) || list.length === 0 || !list.every((item): item is string => typeof item === "string")) {
    throw new BuiltinInputError(`input orderBy must be a column name or a list of them ("-name" for descending)`);
  }
  const terms = list.map((item) => {
    // A leading '-' means descending, unless a column really is called that way.
    const descending = item.startsWith("-") && !columns.readable().some((c) => c.name === item);
    const column = columns.find(descending ? item.slice(1) : item, "read", "orderBy");
    return `${quoteIdentifier(column.name)}${descending ? " DESC" : ""}`;
  });
  return ` ORDER BY ${terms.join(", ")}`;
}

/** The statement for one operation on one table, from input already known to name that table. */
export function buildStatement(operation: DatabaseOperation, table: string, columnList: Column[], input: Input, maxRows: number): BuiltStatement {
  checkFields(input, DATABASE_FIELDS[operation], operation);
  const columns = new TableColumns(table, columnList);
  const from = quoteIdentifier(table);
  if (operation === "read") {
    const chosen = input.columns === undefined ? columns.readable() : checkColumnList(input.columns, columns);
    const where = whereClause(input.where, columns, false);
    const limit = optionalCount(input, "limit") ?? maxRows;
    if (limit > maxRows) throw new BuiltinInputError(`input limit ${limit} is over this tool's database.maxRows of ${maxRows}`);
    const offset = optionalCount(input, "offset") ?? 0;
    const list = chosen.map((c) => quoteIdentifier(c.name)).join(", ");
    return {
      statement: {
        sql: `SELECT ${list} FROM ${from}${where.sql}${orderByOf(input.orderBy, columns)} LIMIT ? OFFSET ?`,
        params: [...where.params, limit + 1, offset],
      },
      limit,
    };
  }
  if (operation === "create") {
    const data = dataOf(input.data, columns, true);
    const sql =
      data.length === 0
        ? `INSERT INTO ${from} DEFAULT VALUES`
        : `INSERT INTO ${from} (${data.map(([c]) => c).join(", ")}) VALUES (${data.map(() => "?").join(", ")})`;
    return { statement: { sql, params: data.map(([, v]) => v) } };
  }
  const where = whereClause(input.where, columns, true);
  const count = { sql: `SELECT count(*) FROM ${from}${where.sql}`, params: where.params };
  if (operation === "update") {
    const data = dataOf(input.data, columns, false);
    return {
      statement: { sql: `UPDATE ${from} SET ${data.map(([c]) => `${c} = ?`).join(", ")}${where.sql}`, params: [...data.map(([, v]) => v), ...where.params] },
      count,
    };
  }
  return { statement: { sql: `DELETE FROM ${from}${where.sql}`, params: where.params }, count };
}

function checkColumnList(raw: unknown, columns: TableColumns): Column[] {
  if (!Array.isArray(raw) || raw.length === 0 || !raw.every((item): item is string => typeof item === "string")) {
    throw new BuiltinInputError(`input columns must be a list of column names`);
  }
  return raw.map((name) => columns.find(name, "read", "columns"));
}
