/**
 * A variable of an environment (process.env, or a map read from .env), or undefined: only the map's own entries
 * count, so a name such as `toString` or `constructor` is never an Object member.
 */
export function envValue(env: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  return Object.hasOwn(env, name) ? env[name] : undefined;
}
