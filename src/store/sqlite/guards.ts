/**
 * What keeps a tool from being hammered, shared by every toolctl process of a home: the circuit breaker
 * (./circuits.ts) and a sliding one-minute window of request slots. Each change is one BEGIN IMMEDIATE
 * transaction, so concurrent processes queue rather than race.
 */
import { RateLimitedError, type SharedGuards } from "../../runners/http/resilience.js";
import { admitCall, circuitRefusal, recordCall } from "./circuits.js";
import { writeTransaction, type Registry } from "./db.js";

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
  return {
    circuitRefusal: (settings) => circuitRefusal(registry, tool, settings),
    admit: (settings, leaseMs) => admitCall(registry, tool, settings, leaseMs),
    record: (settings, admission, result) => recordCall(registry, tool, actor, settings, admission, result),
    maxSlotWaitMs: requestsPerMinute === undefined ? 0 : MAX_SLOT_WAIT_MS,
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
