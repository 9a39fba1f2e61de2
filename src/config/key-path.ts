/** Dotted keys (`limits.dailyUsd`) read from and written into nested settings objects. */

export function getPath(object: unknown, key: string): unknown {
  return key.split(".").reduce<unknown>((current, part) => (current as Record<string, unknown> | undefined)?.[part], object);
}

/** Sets `key` in `object`, whose parents of the key must exist already. */
export function setPath(object: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split(".");
  const last = parts.pop()!;
  const parent = parts.reduce<Record<string, unknown>>((current, part) => current[part] as Record<string, unknown>, object);
  parent[last] = value;
}
