/**
 * Safe retries, a circuit breaker and a rate limit around one HTTP call, with cockatiel.
 *
 * - Retries: a network failure, a 429 or a 5xx is tried again with exponential backoff and full jitter, or after
 *   the provider's Retry-After, but only when repeating is safe: the action is idempotent or carries an
 *   idempotency key (the same key on every attempt, so the provider replays instead of acting twice).
 * - Circuit breaker: per tool, its state kept in the registry so that it holds across toolctl processes; it opens
 *   after repeated failed calls and half-opens after a pause.
 * - Rate limit: a slot is taken in the registry before every attempt.
 */
import { CircuitState, circuitBreaker, ConsecutiveBreaker, DelegateBackoff, handleWhen, isBrokenCircuitError, retry } from "cockatiel";
import { HttpTransportError, type HttpResponse } from "./client.js";

export interface RetrySettings {
  attempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export interface BreakerSettings {
  failures: number;
  halfOpenAfterSeconds: number;
}

export const DEFAULT_RETRY: RetrySettings = { attempts: 3, initialDelayMs: 250, maxDelayMs: 10_000 };
export const DEFAULT_BREAKER: BreakerSettings = { failures: 5, halfOpenAfterSeconds: 30 };

/** Where the breaker's state and the rate slots live: the registry, shared by every process of the home. */
export interface SharedGuards {
  loadBreaker(): unknown;
  saveBreaker(state: unknown): void;
  /** Waits for a request slot under the tool's rate limit, or throws a RateLimitedError. */
  takeSlot(signal: AbortSignal): Promise<void>;
}

export class RateLimitedError extends Error {}

export class CircuitOpenError extends Error {
  constructor(message: string, readonly reopensAt: number) {
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

/** The breaker's state, read from what cockatiel serialised: open, and since when. */
export function breakerOpenSince(state: unknown): number | undefined {
  const parsed = state as { ownState?: { value?: number; openedAt?: number } } | undefined;
  return parsed?.ownState?.value === CircuitState.Open ? parsed.ownState.openedAt : undefined;
}

export interface ResilientCall {
  send(signal: AbortSignal): Promise<HttpResponse>;
  /** Repeating is safe: idempotent, or an idempotency key goes with every attempt. */
  safeToRepeat: boolean;
  retry: RetrySettings;
  breaker: BreakerSettings;
  guards?: SharedGuards;
  signal: AbortSignal;
  tool: string;
}

export interface ResilientResult {
  response: HttpResponse;
  attempts: number;
}

/** Sends with retries inside a persisted breaker; throws the last transport error, or returns the last response. */
export async function sendResilient(call: ResilientCall): Promise<ResilientResult> {
  let attempts = 0;
  const retryable = (result: HttpResponse | undefined, error: unknown): boolean => {
    if (!call.safeToRepeat || call.signal.aborted) return false;
    if (error !== undefined) return error instanceof HttpTransportError;
    if (!result || !transientStatus(result.status)) return false;
    // A provider asking for a longer pause than we would wait: give up now and say so.
    const after = retryAfterMs(result);
    return after === undefined || after <= call.retry.maxDelayMs;
  };
  const retryPolicy = retry(handleWhen((error) => retryable(undefined, error)).orWhenResult((result) => retryable(result as HttpResponse, undefined)), {
    maxAttempts: call.retry.attempts - 1,
    backoff: new DelegateBackoff((context) => {
      const result = context.result as { value?: HttpResponse };
      const after = result.value ? retryAfterMs(result.value) : undefined;
      return after ?? fullJitter(context.attempt, call.retry);
    }),
  });
  const state = call.guards?.loadBreaker();
  const breaker = circuitBreaker(
    handleWhen((error) => error instanceof HttpTransportError).orWhenResult((result) => transientStatus((result as HttpResponse).status)),
    { halfOpenAfter: call.breaker.halfOpenAfterSeconds * 1000, breaker: new ConsecutiveBreaker(call.breaker.failures), initialState: state ?? undefined },
  );
  try {
    const response = await breaker.execute(() =>
      retryPolicy.execute(async ({ signal }) => {
        await call.guards?.takeSlot(signal);
        attempts++;
        return call.send(signal);
      }, call.signal),
    );
    return { response, attempts };
  } catch (error) {
    if (isBrokenCircuitError(error)) {
      const since = breakerOpenSince(breaker.toJSON()) ?? Date.now();
      const reopens = since + call.breaker.halfOpenAfterSeconds * 1000;
      throw new CircuitOpenError(circuitMessage(call.tool, call.breaker, reopens), reopens);
    }
    throw Object.assign(error as Error, { attempts });
  } finally {
    call.guards?.saveBreaker(breaker.toJSON());
  }
}

export function circuitMessage(tool: string, settings: BreakerSettings, reopensAt: number): string {
  return `circuit open for tool ${tool}: its last ${settings.failures} calls failed; nothing was sent, and it will try one call again after ${new Date(reopensAt).toISOString()}`;
}
