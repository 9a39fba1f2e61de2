/**
 * A sliding one-minute window of request slots per tool, shared by every process of a home. Each take is one
 * BEGIN IMMEDIATE transaction, so concurrent processes queue rather than race.
 */
import { RATE_WINDOW_MS, slotWait } from "../shared/circuits.js";
import { writeTransaction, type Registry } from "./db.js";

/** Takes a slot when one is free (returns 0), or returns how many milliseconds until the oldest one frees up. */
export function takeRateSlot(registry: Registry, tool: string, perMinute: number, nowMs: number): number {
  return writeTransaction(registry, () => {
    registry.db.prepare("DELETE FROM rate_slots WHERE tool = ? AND at_ms <= ?").run(tool, nowMs - RATE_WINDOW_MS);
    const { used, oldest } = registry.db.prepare("SELECT count(*) AS used, min(at_ms) AS oldest FROM rate_slots WHERE tool = ?").get(tool) as {
      used: number;
      oldest: number | null;
    };
    const wait = slotWait(used, oldest, perMinute, nowMs);
    if (wait === 0) registry.db.prepare("INSERT INTO rate_slots (tool, at_ms) VALUES (?, ?)").run(tool, nowMs);
    return wait;
  });
}
