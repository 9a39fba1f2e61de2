/**
 * Executions in the team database, as sqlite/executions.ts keeps them, with one column more set here: `host`, the
 * machine whose process wrote the intent (only it can tell whether that process still runs). Every write re-signs
 * the row in the same transaction, with the team's audit key.
 */
import { RegistryError } from "../../errors.js";
import type { AuditKey } from "../../secrets/audit-key.js";
import type { CountFilter, Execution, ExecutionQuery, ExecutionUpdate, NewExecution } from "../../domain/records.js";
import { currentProcess } from "../../util/process.js";
import { exactOrAll, oneOrMany, prefixPattern, PREFIX_ROWS } from "../shared/id-prefix.js";
import { newExecutionColumns, signatureProblem, toExecution, updatedColumns, type ExecutionRow } from "../shared/execution-rows.js";
import { executionMac } from "../shared/signing.js";
import { splitByDay } from "../shared/stats.js";
import type { PgRegistry, Sql, Tx } from "./db.js";

/** Inserts the row of a new execution; an `updateExecution` of it must follow in the same transaction (it signs the row). */
export async function insertExecution(registry: PgRegistry, tx: Tx, execution: NewExecution): Promise<void> {
  const columns = { ...newExecutionColumns(execution, currentProcess()), host: registry.host };
  const names = Object.keys(columns);
  await tx.run(`INSERT INTO executions (${names.join(", ")}) VALUES (${names.map((_, i) => `$${i + 1}`).join(", ")})`, Object.values(columns));
}

export async function updateExecution(registry: PgRegistry, tx: Tx, id: string, update: ExecutionUpdate): Promise<void> {
  const columns = updatedColumns(update);
  if (columns.length) {
    const changed = await tx.run(`UPDATE executions SET ${columns.map(([column], i) => `${column} = $${i + 2}`).join(", ")} WHERE id = $1`, [
      id,
      ...columns.map(([, value]) => value),
    ]);
    // The intent is written before any side effect: a row that is not there was lost by the database (a server
    // that acknowledged commits it had not made durable), and an outcome must not be recorded as if it were.
    if (changed === 0) throw new RegistryError(`execution ${id} is not on record in ${registry.location}: its intent was lost; nothing more is recorded`);
  }
  await signExecution(registry, tx, id);
}

/** Re-signs one row after any write to it, inside the writing transaction. */
export async function signExecution(registry: PgRegistry, tx: Tx, id: string): Promise<void> {
  const row = await tx.one<Record<string, unknown>>("SELECT * FROM executions WHERE id = $1", [id]);
  if (row) await tx.run("UPDATE executions SET mac = $1 WHERE id = $2", [executionMac(await registry.auditKey(tx), row), id]);
}

/** Checks every execution's signature, oldest first, in keyset pages read through `sql` (one snapshot when it is a transaction). */
export async function verifyExecutionSignatures(sql: Sql, key: AuditKey | null, max: number): Promise<{ checked: number; problems: string[] }> {
  const problems: string[] = [];
  let checked = 0;
  let after: { created_at: string; id: string } | undefined;
  for (;;) {
    const page = await sql.query<Record<string, unknown> & { created_at: string; id: string }>(
      `SELECT * FROM executions ${after ? `WHERE (created_at COLLATE "C", id COLLATE "C") > ($1, $2)` : ""}
       ORDER BY created_at COLLATE "C", id COLLATE "C" LIMIT 1000`,
      after ? [after.created_at, after.id] : [],
    );
    for (const row of page) {
      checked++;
      const problem = signatureProblem(row, key);
      if (problem) problems.push(problem);
      if (problems.length >= max) return { checked, problems };
    }
    if (page.length < 1000) return { checked, problems };
    after = page[page.length - 1]!;
  }
}

export async function findExecution(sql: Sql, idOrPrefix: string): Promise<Execution | Execution[] | undefined> {
  const rows = await sql.query<ExecutionRow>(`SELECT * FROM executions WHERE id = $1 OR id LIKE $2 ESCAPE '\\' ORDER BY id COLLATE "C" LIMIT ${PREFIX_ROWS}`, [
    idOrPrefix,
    prefixPattern(idOrPrefix),
  ]);
  return oneOrMany(exactOrAll(rows, idOrPrefix), toExecution);
}

const FILTERED = ["tool", "action", "status", "actor"] as const;

export async function listExecutions(sql: Sql, query: ExecutionQuery): Promise<{ total: number; items: Execution[] }> {
  const where: string[] = [];
  const values: unknown[] = [];
  const add = (value: unknown) => (values.push(value), `$${values.length}`);
  for (const key of FILTERED) if (query[key] !== undefined) where.push(`${key} = ${add(query[key])}`);
  if (query.since) where.push(`created_at >= ${add(query.since)}`);
  if (query.until) where.push(`created_at <= ${add(query.until)}`);
  const filter = where.length ? `WHERE ${where.join(" AND ")}` : "";
  const total = await countExecutions(sql, query);
  const rows = await sql.query<ExecutionRow>(
    `SELECT * FROM executions ${filter} ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT ${add(query.limit)} OFFSET ${add(query.offset)}`,
    values,
  );
  return { total, items: rows.map(toExecution) };
}

/** How many executions match: whole days from the running counts, the partial days at the edges from the rows. */
export async function countExecutions(sql: Sql, filter: CountFilter): Promise<number> {
  const split = splitByDay(filter.since, filter.until);
  const equal: string[] = [];
  const base: unknown[] = [];
  for (const key of FILTERED) if (filter[key] !== undefined) (base.push(filter[key]), equal.push(`${key} = $${base.length}`));
  let total = 0;
  if (split.days) {
    const where = [...equal];
    const values = [...base];
    if (split.days.from !== undefined) (values.push(split.days.from), where.push(`day >= $${values.length}`));
    if (split.days.to !== undefined) (values.push(split.days.to), where.push(`day <= $${values.length}`));
    const row = await sql.one<{ total: number }>(
      `SELECT coalesce(sum(count), 0) AS total FROM execution_counts ${where.length ? `WHERE ${where.join(" AND ")}` : ""}`,
      values,
    );
    total += row!.total;
  }
  for (const edge of split.edges) {
    const values = [...base, edge.from, edge.to];
    const where = [...equal, `created_at >= $${values.length - 1}`, `created_at <= $${values.length}`];
    total += (await sql.one<{ total: number }>(`SELECT count(*) AS total FROM executions WHERE ${where.join(" AND ")}`, values))!.total;
  }
  return total;
}

export async function compensatedBy(sql: Sql, id: string): Promise<string | undefined> {
  const row = await sql.one<{ id: string }>("SELECT id FROM executions WHERE rollback_of = $1 AND status = 'succeeded' ORDER BY created_at DESC LIMIT 1", [id]);
  return row?.id;
}
