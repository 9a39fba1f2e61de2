/**
 * What keeps a tool from being hammered, shared by every toolctl process of a home: the circuit breaker's state
 * (cockatiel's serialised form) and a sliding one-minute window of request slots. Each change is one
 * BEGIN IMMEDIATE transaction, so concurrent processes queue rather than race.
 */
import { breakerOpenSince, RateLimitedError, type SharedGuards } from "../runners/http/resilience.js";
import { appendAudit } from "./audit.js";
import { nowIso, writeTransaction, type Registry } from "./db.js";

/** The longest toolctl waits for a rate slot before refusing. */
const MAX_SLOT_WAIT_MS = 30_000;
const WINDOW_MS = 60_000;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done() {
      signal.removeEventListener("abort", abort);
      resolve();
    }
    function abort() {
      clearTimeout(timer);
      reject(Object.assign(new Error("interrupted while waiting for a rate slot"), { name: "AbortError", mayHaveBeenSent: false }));
    }
    signal.addEventListener("abort", abort, { once: true });
  });
}

export function createGuards(registry: Registry, tool: string, actor: string, requestsPerMinute: number | undefined): SharedGuards {
  // What this run read: a call that leaves the breaker as it found it (the usual success) writes nothing.
  let loaded: string | undefined;
  return {
    loadBreaker() {
      loaded = registry.db.prepare("SELECT state FROM breakers WHERE tool = ?").pluck().get(tool) as string | undefined;
      return loaded === undefined ? undefined : JSON.parse(loaded);
    },
    saveBreaker(state) {
      if (JSON.stringify(state) === loaded) return;
      writeTransaction(registry, () => {
        const before = registry.db.prepare("SELECT state FROM breakers WHERE tool = ?").pluck().get(tool) as string | undefined;
        const wasOpen = before !== undefined && breakerOpenSince(JSON.parse(before)) !== undefined;
        const isOpen = breakerOpenSince(state) !== undefined;
        registry.db
          .prepare("INSERT INTO breakers (tool, state, updated_at) VALUES (?, ?, ?) ON CONFLICT (tool) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at")
          .run(tool, JSON.stringify(state), nowIso());
        if (wasOpen !== isOpen) appendAudit(registry, { type: isOpen ? "tool.circuit_opened" : "tool.circuit_closed", actor, tool, data: { state } });
      });
    },
    async takeSlot(signal) {
      if (requestsPerMinute === undefined) return;
      for (;;) {
        const wait = writeTransaction(registry, () => {
          const now = Date.now();
          registry.db.prepare("DELETE FROM rate_slots WHERE tool = ? AND at_ms <= ?").run(tool, now - WINDOW_MS);
          const { used, oldest } = registry.db.prepare("SELECT count(*) AS used, min(at_ms) AS oldest FROM rate_slots WHERE tool = ?").get(tool) as { used: number; oldest: number | null };
          if (used < requestsPerMinute) {
            registry.db.prepare("INSERT INTO rate_slots (tool, at_ms) VALUES (?, ?)").run(tool, now);
            return 0;
          }
          return (oldest ?? now) + WINDOW_MS - now + 1;
        });
        if (wait === 0) return;
        if (wait > MAX_SLOT_WAIT_MS) {
          throw new RateLimitedError(`rate limit: tool ${tool} allows ${requestsPerMinute} requests per minute and the next slot is ${Math.ceil(wait / 1000)}s away; nothing was sent`);
        }
        await sleep(wait, signal);
      }
    },
  };
}
