/**
 * Node built-ins that are expensive to load and that many commands never need, loaded on first use: crypto pulls
 * in webcrypto and friends, which read-only commands such as `list` never use; tty pulls in net and the whole
 * stream stack, which a command printing to a pipe or a file does without (../ui/stdio.ts).
 */
import { createRequire } from "node:module";

const requireBuiltin = createRequire(import.meta.url);
let crypto: typeof import("node:crypto") | undefined;
let tty: typeof import("node:tty") | undefined;

export function nodeCrypto(): typeof import("node:crypto") {
  crypto ??= requireBuiltin("node:crypto") as typeof import("node:crypto");
  return crypto;
}

export function nodeTty(): typeof import("node:tty") {
  tty ??= requireBuiltin("node:tty") as typeof import("node:tty");
  return tty;
}
