/** The spending day and the rounding every sum of costs goes through. */
/**
 * The day a cost counts against: the UTC calendar day. One fixed zone for every process, so no process can
 * open a fresh daily budget by running under another TZ.
 */
export function spendDay(date = new Date()): string {
  return date.toISOString().slice(0, 10);
}

/** Rounds to a hundredth of a cent: sums of floats must not drift across a limit. */
export const roundUsd = (usd: number) => Math.round(usd * 10_000) / 10_000;
