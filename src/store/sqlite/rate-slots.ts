/**
 * A sliding one-minute window of request slots per tool, shared by every process of a home. Each take is one
 * BEGIN IMMEDIATE transaction, so concurrent processes queue rather than race.
 */
import { writeTransaction, type Registry } from "./db.js";

const WINDOW_MS = 60_000;

/** Takes a slot when one is free (returns 0), or returns how many milliseconds until the oldest one frees up. */
export function takeRateSlot(registry: Registry, tool: string, perMinute: number, nowMs: number): number {
  return writeTransaction(registry, () => {
    registry.db.prepare("DELETE FROM rate_slots WHERE tool = ? AND at_ms <= ?").run(tool, nowMs - WINDOW_MS);
    const { used, oldest } = registry.db.prepare("SELECT count(*) AS used, min(at_ms) AS oldest FROM rate_slots WHERE tool = ?").get(tool) as {
      used: number;
      oldest: number | null;
    };
    if (used < perMinute) {
      registry.db.prepare("INSERT INTO rate_slots (tool, at_ms) VALUES (?, ?)").run(tool, nowMs);
      return 0;
    }
    return (oldest ?? nowMs) + WINDOW_MS - nowMs + 1;
  });
}
