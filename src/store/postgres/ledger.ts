/**
 * The spend ledger in the team database, as sqlite/ledger.ts keeps it. A reservation runs inside the intent's
 * serialized transaction (the registry-wide advisory lock), so the check against the day's totals and the insert
 * are one step for every machine of the team: two machines never both pass the check with money only one may spend.
 * The totals (`ledger_days`) are kept by triggers in the same transaction.
 */
import type { DaySpend, LedgerState, Reservation, ReservationRow, ReserveResult } from "../../domain/records.js";
import { exceedsLimit, reservedAfter, spendOf, toReservationRow, type LedgerEntryRow } from "../shared/ledger-rows.js";
import { nowIso, type Sql, type Tx } from "./db.js";

export async function daySpend(sql: Sql, day: string): Promise<DaySpend> {
  return spendOf(
    day,
    await sql.one<{ committed: number; reserved: number }>(
      "SELECT committed_micros AS committed, reserved_micros AS reserved FROM ledger_days WHERE day = $1",
      [day],
    ),
  );
}

/** Must run inside a serialized write (the intent's). */
export async function reserveSpend(tx: Tx, reservation: Reservation): Promise<ReserveResult> {
  const spend = await daySpend(tx, reservation.day);
  if (exceedsLimit(spend, reservation)) return { ok: false, spend };
  const now = nowIso();
  await tx.run(
    `INSERT INTO ledger (execution_id, tool, action, amount_usd, state, day, pid, created_at, updated_at)
     VALUES ($1, $2, $3, $4, 'reserved', $5, $6, $7, $8)`,
    [reservation.executionId, reservation.tool, reservation.action, reservation.amountUsd, reservation.day, process.pid, now, now],
  );
  return { ok: true, after: reservedAfter(spend, reservation) };
}

/** Must run inside the outcome's write transaction. A missing row (a free action) is fine. */
export async function settleSpend(tx: Tx, executionId: string, state: Exclude<LedgerState, "reserved">): Promise<void> {
  await tx.run("UPDATE ledger SET state = $1, updated_at = $2 WHERE execution_id = $3 AND state = 'reserved'", [state, nowIso(), executionId]);
}

export async function dayEntries(sql: Sql, day: string): Promise<ReservationRow[]> {
  const rows = await sql.query<LedgerEntryRow>(
    `SELECT l.execution_id, l.tool, l.action, l.amount_usd, l.state, l.created_at, e.status
     FROM ledger l LEFT JOIN executions e ON e.id = l.execution_id
     WHERE l.day = $1 AND l.state != 'released' ORDER BY l.created_at`,
    [day],
  );
  return rows.map(toReservationRow);
}
