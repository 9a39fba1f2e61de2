/**
 * Safe retries (cockatiel), a circuit breaker and a rate limit around one HTTP call.
 *
 * - Retries: a transient network failure (not a redirect loop or an answer over the size cap), a 429 or a 5xx is
 *   tried again with exponential backoff and full jitter, or after the provider's Retry-After, but only when
 *   repeating is safe: the action is idempotent or carries an idempotency key (the same key on every attempt, so
 *   the provider replays instead of acting twice).
 * - Circuit breaker: per tool, counted in the registry so that it holds across toolctl processes; it opens after
 *   repeated failed calls, and after a pause lets one trial call through (a lease, one process at a time).
 * - Rate limit: a slot is taken in the registry before every attempt.
 *
 * Counting the call is bookkeeping that must not change its outcome: it is handed back (`record`) for the
 * engine to run once the outcome is on record, and a failure there is a warning.
 */
import { DelegateBackoff, handleWhen, retry } from "cockatiel";
import type { Admission, CallResult, CircuitRefusal, CircuitSettings } from "../../domain/records.js";
import { HttpTransportError, type HttpResponse } from "../../net/client.js";

export interface RetrySettings {
  attempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export type BreakerSettings = CircuitSettings;

export const DEFAULT_RETRY: RetrySettings = { attempts: 3, initialDelayMs: 250, maxDelayMs: 10_000 };
export const DEFAULT_BREAKER: BreakerSettings = { failures: 5, halfOpenAfterSeconds: 30 };

/**
 * The port through which the engine hands a runner the tool's circuit and rate slots. They live in the store,
 * shared by every process using it; the runner never sees the store itself.
 */
export interface CallLimits {
  /** Why a call would be refused now, without taking anything (a preflight, before approval). */
  circuitRefusal(settings: BreakerSettings): Promise<CircuitRefusal | undefined>;
  /** Admits a call, or takes the one trial call after the pause, held for `leaseMs` at most. */
  admit(settings: BreakerSettings, leaseMs: number): Promise<Admission>;
  /** Counts how an admitted call ended; called once the call's outcome is on record. */
  record(settings: BreakerSettings, admission: Admission, result: CallResult): Promise<void>;
  /** Waits for a request slot under the tool's rate limit, or throws a RateLimitedError. */
  takeSlot(signal: AbortSignal): Promise<void>;
  /** The longest `takeSlot` may wait (0 without a rate limit). */
  maxSlotWaitMs: number;
}

export class RateLimitedError extends Error {}

export class CircuitOpenError extends Error {
  constructor(
    message: string,
    readonly reopensAt: number,
  ) {
    super(message);
  }
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date. */
export function retryAfterMs(response: HttpResponse, now = Date.now()): number | undefined {
  const raw = response.headers["retry-after"];
  const value = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const transientStatus = (status: number) => status === 429 || status >= 500;

/** Full jitter (a random wait between 0 and the exponential ceiling), per the AWS architecture note. */
function fullJitter(attempt: number, settings: RetrySettings): number {
  return Math.round(Math.random() * Math.min(settings.maxDelayMs, settings.initialDelayMs * 2 ** (attempt - 1)));
}

/** A lease outlives the call's own budget by this much, so a slow holder is not overtaken. */
const LEASE_MARGIN_MS = 5_000;

export interface ResilientCall {
  send(signal: AbortSignal): Promise<HttpResponse>;
  /** Repeating is safe: idempotent, or an idempotency key goes with every attempt. */
  safeToRepeat: boolean;
  retry: RetrySettings;
  breaker: BreakerSettings;
  /** One attempt's timeout: with the retries, what a trial call may take before its lease expires. */
  timeoutMs: number;
  callLimits?: CallLimits;
  signal: AbortSignal;
  tool: string;
}

export interface ResilientResult {
  response: HttpResponse;
  attempts: number;
  /** Retries that were not sent, and why. */
  warnings: string[];
  /** Counts the call in the circuit: run it once the outcome is on record (a failure there is a warning). */
  record: () => Promise<void>;
}

/** What a trial call may take in all: every attempt, the waits between them and for rate slots. */
function callBudgetMs(call: ResilientCall): number {
  const tries = call.safeToRepeat ? call.retry.attempts : 1;
  return tries * (call.timeoutMs + (call.callLimits?.maxSlotWaitMs ?? 0)) + (tries - 1) * call.retry.maxDelayMs + LEASE_MARGIN_MS;
}

/**
 * Sends with retries, through the shared circuit; throws the last transport error, or returns the last response.
 * A thrown error carries `attempts`, `warnings` and `record` as the result does.
 */
export async function sendResilient(call: ResilientCall): Promise<ResilientResult> {
  const admission: Admission = call.callLimits ? await call.callLimits.admit(call.breaker, callBudgetMs(call)) : { admitted: true };
  if (!admission.admitted) throw new CircuitOpenError(circuitMessage(call.tool, call.breaker, admission), admission.reopensAt);
  let attempts = 0;
  let counted: CallResult = "none";
  const record = async () => call.callLimits?.record(call.breaker, admission, counted);
  const warnings: string[] = [];
  // The last attempt's answer, which stands when a retry cannot take its rate slot.
  let last: { response: HttpResponse } | { error: unknown } | undefined;
  let stopped = false;
  const retryable = (result: HttpResponse | undefined, error: unknown): boolean => {
    if (!call.safeToRepeat || call.signal.aborted || stopped) return false;
    // A redirect loop or an answer over the size cap would come back the same: only transient failures are retried.
    if (error !== undefined) return error instanceof HttpTransportError && error.transient;
    if (!result || !transientStatus(result.status)) return false;
    // A provider asking for a longer pause than we would wait: give up now and say so.
    const after = retryAfterMs(result);
    return after === undefined || after <= call.retry.maxDelayMs;
  };
  const retryPolicy = retry(
    handleWhen((error) => retryable(undefined, error)).orWhenResult((result) => retryable(result as HttpResponse, undefined)),
    {
      maxAttempts: call.retry.attempts - 1,
      backoff: new DelegateBackoff((context) => {
        const result = context.result as { value?: HttpResponse };
        const after = result.value ? retryAfterMs(result.value) : undefined;
        return after ?? fullJitter(context.attempt, call.retry);
      }),
    },
  );
  try {
    const response = await retryPolicy.execute(async ({ signal }) => {
      try {
        await call.callLimits?.takeSlot(signal);
      } catch (error) {
        if (last === undefined) throw error;
        // A retry that cannot take its slot (the limit, or the registry) is not sent: the previous answer stands.
        stopped = true;
        warnings.push(`attempt ${attempts + 1} was not sent: ${(error as Error).message}`);
        if ("error" in last) throw last.error;
        return last.response;
      }
      attempts++;
      try {
        const response = await call.send(signal);
        last = { response };
        return response;
      } catch (error) {
        last = { error };
        throw error;
      }
    }, call.signal);
    counted = transientStatus(response.status) ? "failed" : "succeeded";
    return { response, attempts, warnings, record };
  } catch (error) {
    counted = error instanceof HttpTransportError ? "failed" : "none";
    throw Object.assign(error as Error, { attempts, warnings, record });
  }
}

export function circuitMessage(tool: string, settings: BreakerSettings, refusal: CircuitRefusal): string {
  const open = `circuit open for tool ${tool}: its last ${settings.failures} calls failed; nothing was sent`;
  return refusal.trialUntil === undefined
    ? `${open}, and it will try one call again after ${new Date(refusal.reopensAt).toISOString()}`
    : `${open}: another toolctl process is making the one trial call now (it has until ${new Date(refusal.trialUntil).toISOString()})`;
}
