/**
 * The circuit breaker's rules, shared by both backends: when a call is refused, and how an admitted call's
 * outcome changes the circuit. The backends read the row and write the change in one transaction; what the change
 * is, is decided here.
 *
 * After the pause, the one trial call is a lease: the process that takes it sends it, every other one is refused
 * unsent. The lease names its holder (host, pid and start time) and expires, so a killed or stuck holder cannot
 * keep the circuit shut: a holder on this machine that is gone frees it at once, one on another machine (whose
 * processes this one cannot see) when the lease expires.
 */
import type { CircuitRefusal, CircuitSettings } from "../../domain/records.js";
import { isRunning } from "../../util/process.js";

export interface CircuitRow {
  failures: number;
  opened_at: number | null;
  trial_token: string | null;
  trial_pid: number | null;
  trial_pid_start: string | null;
  trial_expires_at: number | null;
  /** The machine of the trial's holder; null for a holder on this machine (SQLite keeps no host). */
  trial_host: string | null;
}

export const CIRCUIT_COLUMNS = "failures, opened_at, trial_token, trial_pid, trial_pid_start, trial_expires_at, trial_host";

/**
 * Why a call would be refused at `now`, if it would. `holderRunning` says whether the trial's holder process still
 * runs; it is asked only about a holder on this machine.
 */
export function circuitRefusalOf(
  row: CircuitRow | undefined,
  settings: CircuitSettings,
  now: number,
  holderRunning: (row: CircuitRow) => boolean,
): CircuitRefusal | undefined {
  if (!row || row.opened_at === null) return undefined;
  const reopensAt = row.opened_at + settings.halfOpenAfterSeconds * 1000;
  if (now < reopensAt) return { reopensAt };
  const held = row.trial_token !== null && row.trial_expires_at! > now && holderRunning(row);
  return held ? { reopensAt, trialUntil: row.trial_expires_at! } : undefined;
}

/**
 * Whether the trial's holder may still be sending it, as seen from `host`: a holder on this machine is alive while
 * its process runs; one on another machine counts as alive (until its lease expires), since only that machine can
 * see its processes.
 */
export const trialHolderRunning =
  (host: string | null) =>
  (row: CircuitRow): boolean =>
    row.trial_host !== null && row.trial_host !== host ? true : isRunning(row.trial_pid, row.trial_pid_start);

/** A closed circuit with no failure counted: a success has nothing to reset and writes nothing. */
export const isClean = (row: CircuitRow | undefined): boolean => !row || (row.failures === 0 && row.opened_at === null);

/** What an admitted call's outcome does to the circuit. */
export type CircuitChange =
  | { kind: "none" }
  /** Back to closed, the count reset. */
  | { kind: "close"; event?: CircuitEvent }
  /** The trial failed: open again from now, the trial released. */
  | { kind: "reopen"; failures: number; openedAt: number; event: CircuitEvent }
  /** One more failure; the circuit opens at `openedAt` when set (an open one keeps its time). */
  | { kind: "count"; failures: number; openedAt: number | null; event?: CircuitEvent };

export interface CircuitEvent {
  type: "tool.circuit_closed" | "tool.circuit_opened";
  data: Record<string, unknown>;
}

/**
 * The change a call's outcome makes, given the row as it is now (read in the writing transaction) and the trial
 * token the call was admitted with, if any.
 */
export function circuitChange(
  row: CircuitRow | undefined,
  trialToken: string | undefined,
  result: "succeeded" | "failed",
  settings: CircuitSettings,
  now: number,
): CircuitChange {
  const isTrial = trialToken !== undefined && row?.trial_token === trialToken;
  const reopensAt = () => new Date(now + settings.halfOpenAfterSeconds * 1000).toISOString();
  if (result === "succeeded") {
    // While open, only the trial call decides; a call admitted before the circuit opened does not.
    if (isClean(row) || (row!.opened_at !== null && !isTrial)) return { kind: "none" };
    return {
      kind: "close",
      ...(row!.opened_at !== null ? { event: { type: "tool.circuit_closed", data: { trial: "succeeded", failuresBefore: row!.failures } } } : {}),
    };
  }
  const failures = (row?.failures ?? 0) + 1;
  if (isTrial) {
    return { kind: "reopen", failures, openedAt: now, event: { type: "tool.circuit_opened", data: { failures, trial: "failed", reopensAt: reopensAt() } } };
  }
  const opens = (row?.opened_at ?? null) === null && failures >= settings.failures;
  return {
    kind: "count",
    failures,
    openedAt: opens ? now : null,
    ...(opens ? { event: { type: "tool.circuit_opened", data: { failures, reopensAt: reopensAt() } } } : {}),
  };
}

/** The sliding window of request slots: one minute. */
export const RATE_WINDOW_MS = 60_000;

/** How long until a slot frees up when all `perMinute` are taken (`oldest` the earliest still in the window); 0 when one is free. */
export function slotWait(used: number, oldest: number | null, perMinute: number, nowMs: number): number {
  if (used < perMinute) return 0;
  return (oldest ?? nowMs) + RATE_WINDOW_MS - nowMs + 1;
}
