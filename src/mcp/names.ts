/**
 * MCP tool names for toolctl actions. Clients differ in what they accept; the strictest common rule is
 * `^[a-zA-Z0-9_-]{1,64}$`, so `tool.action` cannot be used as is. The name is `tool__action`, unless that is
 * longer than 64 characters or could be read two ways (a tool or action name that itself contains `__`, or a
 * 64-character name that ends as a hashed one does): then
 * the first 55 characters of it, `_`, and 8 hex digits of the SHA-256 of `tool.action`. A name depends on its
 * action alone, so it is the same in every session and every release.
 */
import { createHash } from "node:crypto";

export const MCP_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;
const MAX = 64;

export function mcpToolName(tool: string, action: string): string {
  const plain = `${tool}__${action}`;
  // A plain name of 64 characters ending in `_` and 8 hex digits could be another action's hashed form: hashed too.
  const lookalike = plain.length === MAX && /_[0-9a-f]{8}$/.test(plain);
  if (plain.length <= MAX && !lookalike && !tool.includes("__") && !action.includes("__")) return plain;
  const hash = createHash("sha256").update(`${tool}.${action}`).digest("hex").slice(0, 8);
  return `${plain.slice(0, MAX - 9)}_${hash}`;
}
