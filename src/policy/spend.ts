/** The spending day and the rounding every sum of costs goes through. */
import { isoTime } from "../util/iso-time.js";

/**
 * The day a cost counts against: the UTC calendar day. One fixed zone for every process, so no process can
 * open a fresh daily budget by running under another TZ.
 */
export function spendDay(date = new Date()): string {
  return isoTime(date).slice(0, 10);
}

/** Whether `day` is a real calendar day written as the ledger writes days (YYYY-MM-DD, UTC). */
export function isSpendDay(day: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(day) && !Number.isNaN(Date.parse(`${day}T00:00:00Z`)) && spendDay(new Date(`${day}T00:00:00Z`)) === day;
}

/** Rounds to a hundredth of a cent: sums of floats must not drift across a limit. */
export const roundUsd = (usd: number) => Math.round(usd * 10_000) / 10_000;
