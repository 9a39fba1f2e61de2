/**
 * Looking rows up by id or by a prefix of it, alike on both backends: the exact match alone when there is one,
 * else up to five rows, so the caller can say the prefix is ambiguous.
 */

/** How many rows a prefix lookup reads at most. */
export const PREFIX_ROWS = 5;

/** A LIKE pattern for ids starting with `prefix`, with `\` escaping LIKE's wildcards. */
export function prefixPattern(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The exact match alone when the rows hold one; else the rows as they are. */
export function exactOrAll<Row extends { id: string }>(rows: Row[], idOrPrefix: string): Row[] {
  const exact = rows.find((row) => row.id === idOrPrefix);
  return exact ? [exact] : rows;
}

/** One record, several (ambiguous), or undefined (none), as `find` answers. */
export function oneOrMany<Row, T>(rows: Row[], map: (row: Row) => T): T | T[] | undefined {
  if (rows.length === 1) return map(rows[0]!);
  return rows.length === 0 ? undefined : rows.map(map);
}
