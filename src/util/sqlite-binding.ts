import { createRequire } from "node:module";

/**
 * better-sqlite3's native addon, found by path once: the bundle cannot let `bindings` probe for it, and probing
 * a dozen paths on every start costs more. Spread into better-sqlite3's options: `{ ...sqliteBinding }`.
 */
export const sqliteBinding: { nativeBinding?: string } = (() => {
  try {
    return { nativeBinding: createRequire(import.meta.url).resolve("better-sqlite3/build/Release/better_sqlite3.node") };
  } catch {
    return {};
  }
})();
