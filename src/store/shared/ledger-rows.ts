/**
 * The spend ledger as both backends keep it: day totals in whole micro-dollars (`ledger_days`, kept by triggers),
 * the limit check a reservation makes, and the rows `budget` lists.
 */
import type { DaySpend, LedgerState, Reservation, ReservationRow } from "../../domain/records.js";
import { roundUsd } from "../../policy/spend.js";

const MICROS_PER_USD = 1_000_000;

export function spendOf(day: string, totals: { committed: number; reserved: number } | undefined): DaySpend {
  return { day, committedUsd: roundUsd((totals?.committed ?? 0) / MICROS_PER_USD), reservedUsd: roundUsd((totals?.reserved ?? 0) / MICROS_PER_USD) };
}

/** Whether reserving `reservation` would take the day past its limit. */
export function exceedsLimit(spend: DaySpend, reservation: Reservation): boolean {
  return roundUsd(spend.committedUsd + spend.reservedUsd + reservation.amountUsd) > reservation.dailyLimitUsd;
}

export function reservedAfter(spend: DaySpend, reservation: Reservation): DaySpend {
  return { ...spend, reservedUsd: roundUsd(spend.reservedUsd + reservation.amountUsd) };
}

export interface LedgerEntryRow {
  execution_id: string;
  tool: string;
  action: string;
  amount_usd: number;
  state: LedgerState;
  created_at: string;
  status: string | null;
}

export function toReservationRow(row: LedgerEntryRow): ReservationRow {
  return {
    executionId: row.execution_id,
    tool: row.tool,
    action: row.action,
    amountUsd: row.amount_usd,
    state: row.state,
    createdAt: row.created_at,
    executionStatus: row.status,
  };
}
