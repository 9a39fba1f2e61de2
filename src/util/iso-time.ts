const two = (n: number): string => (n < 10 ? `0${n}` : String(n));

/**
 * The text `Date.prototype.toISOString` gives (`2026-12-07T20:31:05.042Z`), built from the UTC fields: V8's own
 * spends most of a millisecond on its first call in a process, and every run stamps its rows; this takes a tenth
 * of that. Years outside 0000–9999, which toISOString writes with a sign and six digits, and an invalid date
 * (a RangeError) are left to toISOString.
 */
export function isoTime(date: Date = new Date()): string {
  const year = date.getUTCFullYear();
  if (!(year >= 0 && year <= 9999)) return date.toISOString();
  const ms = date.getUTCMilliseconds();
  return (
    `${String(year).padStart(4, "0")}-${two(date.getUTCMonth() + 1)}-${two(date.getUTCDate())}` +
    `T${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}.${ms < 10 ? "00" : ms < 100 ? "0" : ""}${ms}Z`
  );
}
