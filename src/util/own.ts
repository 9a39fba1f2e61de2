/**
 * Sets an own, enumerable property, even one named `__proto__`: JSON can have that key (JSON.parse keeps it as
 * data), and plain assignment would set the object's prototype instead, dropping the key and letting the
 * value's fields show through as inherited ones.
 */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}
