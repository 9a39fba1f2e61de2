/**
 * The call limits a runner is handed (runners/http/resilience.ts `CallLimits`), backed by the store: the circuit
 * breaker and a sliding one-minute window of request slots, shared by every process using the same store. The
 * runner sees this small port, never the store.
 */
import { RateLimitedError, type CallLimits } from "../runners/http/resilience.js";
import type { Store } from "../store/port.js";

/** The longest toolctl waits for a rate slot before refusing. */
const MAX_SLOT_WAIT_MS = 30_000;

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

export function callLimitsFor(store: Store, tool: string, actor: string, requestsPerMinute: number | undefined): CallLimits {
  const limits = store.callLimits;
  return {
    circuitRefusal: (settings) => limits.circuitRefusal(tool, settings),
    admit: (settings, leaseMs) => limits.admit(tool, settings, leaseMs),
    record: (settings, admission, result) => limits.record(tool, actor, settings, admission, result),
    maxSlotWaitMs: requestsPerMinute === undefined ? 0 : MAX_SLOT_WAIT_MS,
    async takeSlot(signal) {
      if (requestsPerMinute === undefined) return;
      for (;;) {
        const wait = await limits.takeSlot(tool, requestsPerMinute, Date.now());
        if (wait === 0) return;
        if (wait > MAX_SLOT_WAIT_MS) {
          throw new RateLimitedError(
            `rate limit: tool ${tool} allows ${requestsPerMinute} requests per minute and the next slot is ${Math.ceil(wait / 1000)}s away; nothing was sent`,
          );
        }
        await sleep(wait, signal);
      }
    },
  };
}
