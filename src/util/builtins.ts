/**
 * Node built-ins that are expensive to load (crypto pulls in webcrypto and friends) and that read-only commands
 * such as `list` never need. Loading them on first use keeps start-up close to bare node.
 */
import { createRequire } from "node:module";

const requireBuiltin = createRequire(import.meta.url);
let crypto: typeof import("node:crypto") | undefined;

export function nodeCrypto(): typeof import("node:crypto") {
  crypto ??= requireBuiltin("node:crypto") as typeof import("node:crypto");
  return crypto;
}
