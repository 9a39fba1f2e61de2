import { UsageError } from "../errors.js";

/** `tool.action` → its two names; the action part may itself contain no further meaning. */
export function parseTarget(target: string): { tool: string; action: string } {
  const dot = target.indexOf(".");
  if (dot <= 0 || dot === target.length - 1) throw new UsageError(`'${target}' is not tool.action (for example: echo.say)`);
  return { tool: target.slice(0, dot), action: target.slice(dot + 1) };
}
