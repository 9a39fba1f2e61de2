/**
 * The spend ledger. A run reserves its estimated cost before it acts, in the same BEGIN IMMEDIATE transaction
 * as its audit intent, after checking the daily limit against everything committed or still reserved today:
 * two processes can never both pass the check with money that only one of them may spend. The check reads the
 * day's running totals (`ledger_days`), never the day's rows, so the write lock is held for the same short time
 * at the 100,000th reservation of a day as at the first.
 * Succeeded → committed; failed → released; unknown → stays reserved, because it may have been spent.
 */
import type { Statement } from "better-sqlite3";
import type { Registry } from "./db.js";
import { nowIso } from "./db.js";
import type { LedgerState, DaySpend, Reservation, ReserveResult, ReservationRow } from "../../domain/records.js";
export type { LedgerState, DaySpend, Reservation, ReserveResult, ReservationRow };

import { roundUsd, spendDay } from "../../policy/spend.js";
import { exceedsLimit, reservedAfter, spendOf, toReservationRow, type LedgerEntryRow } from "../shared/ledger-rows.js";
export { roundUsd, spendDay };

const SQL = {
  day: "SELECT committed_micros AS committed, reserved_micros AS reserved FROM ledger_days WHERE day = ?",
  reserve: `INSERT INTO ledger (execution_id, tool, action, amount_usd, state, day, pid, created_at, updated_at)
            VALUES (?, ?, ?, ?, 'reserved', ?, ?, ?, ?)`,
  settle: "UPDATE ledger SET state = ?, updated_at = ? WHERE execution_id = ? AND state = 'reserved'",
};
type Statements = { [K in keyof typeof SQL]: Statement };
const prepared = new WeakMap<Registry["db"], Statements>();

/**
 * The ledger's statements, compiled once per connection: the insert carries the `ledger_days` triggers, and
 * compiling them again for every reservation would cost more than the reservation itself.
 */
function statements(registry: Registry): Statements {
  let found = prepared.get(registry.db);
  if (!found) {
    found = Object.fromEntries(Object.entries(SQL).map(([key, sql]) => [key, registry.db.prepare(sql)])) as Statements;
    prepared.set(registry.db, found);
  }
  return found;
}

/**
 * Today's totals, read from `ledger_days`: one row, whatever the day holds. The table is kept by triggers on
 * `ledger` (see migrations), in the same transaction as each reservation and settlement.
 */
export function daySpend(registry: Registry, day: string): DaySpend {
  return spendOf(day, statements(registry).day.get(day) as { committed: number; reserved: number } | undefined);
}

/** Must run inside a write transaction (the intent's), so the check and the insert are one atomic step. */
export function reserveSpend(registry: Registry, reservation: Reservation): ReserveResult {
  const spend = daySpend(registry, reservation.day);
  if (exceedsLimit(spend, reservation)) return { ok: false, spend };
  const now = nowIso();
  statements(registry).reserve.run(
    reservation.executionId,
    reservation.tool,
    reservation.action,
    reservation.amountUsd,
    reservation.day,
    process.pid,
    now,
    now,
  );
  return { ok: true, after: reservedAfter(spend, reservation) };
}

/** Must run inside the outcome's write transaction. A missing row (a free action) is fine. */
export function settleSpend(registry: Registry, executionId: string, state: Exclude<LedgerState, "reserved">): void {
  statements(registry).settle.run(state, nowIso(), executionId);
}

export function dayEntries(registry: Registry, day: string): ReservationRow[] {
  const rows = registry.db
    .prepare(
      `SELECT l.execution_id, l.tool, l.action, l.amount_usd, l.state, l.created_at, e.status
       FROM ledger l LEFT JOIN executions e ON e.id = l.execution_id
       WHERE l.day = ? AND l.state != 'released' ORDER BY l.created_at`,
    )
    .all(day) as LedgerEntryRow[];
  return rows.map(toReservationRow);
}
