import { UsageError } from "../../errors.js";
import { openRegistry, type Registry } from "../../registry/db.js";
import type { CommandContext } from "../program.js";

/** Opens the registry for one command and always closes it, so WAL checkpoints and locks are released. */
export async function withRegistry<T>(context: CommandContext, fn: (registry: Registry) => Promise<T> | T): Promise<T> {
  const registry = openRegistry(context.home);
  try {
    return await fn(registry);
  } finally {
    registry.close();
  }
}

export function pretty(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

/** Accepts an ISO date or time; a bare date means the start of that day (UTC). */
export function parseTime(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) throw new UsageError(`${flag}: not a date or time: ${value}`);
  return time.toISOString();
}
