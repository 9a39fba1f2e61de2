/**
 * Per-tool circuit breakers, shared by every toolctl process of a home. The failure count is changed in the
 * database, one write transaction per outcome (increment, or reset), never loaded at the start of a call and
 * saved at its end: eight processes failing at once count eight failures. After the pause, the one trial call
 * is a lease: the process that takes it (under the write lock) sends it, every other one is refused unsent.
 * The lease names its holder (pid and start time) and expires, so a killed or stuck holder cannot keep the
 * circuit shut.
 *
 * A closed circuit admits a call without writing, and a success that finds no failure to reset writes
 * nothing: the usual call costs a read.
 */
import { nodeCrypto } from "../../util/builtins.js";
import { currentProcess, isRunning } from "../../util/process.js";
import { appendAudit } from "./audit.js";
import { nowIso, writeTransaction, type Registry } from "./db.js";
import type { CircuitSettings, CircuitRefusal, Admission, CallResult } from "../../domain/records.js";
export type { CircuitSettings, CircuitRefusal, Admission, CallResult };

interface CircuitRow {
  failures: number;
  opened_at: number | null;
  trial_token: string | null;
  trial_pid: number | null;
  trial_pid_start: string | null;
  trial_expires_at: number | null;
}

const read = (registry: Registry, tool: string) =>
  registry.db.prepare("SELECT failures, opened_at, trial_token, trial_pid, trial_pid_start, trial_expires_at FROM circuits WHERE tool = ?").get(tool) as
    CircuitRow | undefined;

function refusal(row: CircuitRow | undefined, settings: CircuitSettings, now: number): CircuitRefusal | undefined {
  if (!row || row.opened_at === null) return undefined;
  const reopensAt = row.opened_at + settings.halfOpenAfterSeconds * 1000;
  if (now < reopensAt) return { reopensAt };
  const held = row.trial_token !== null && row.trial_expires_at! > now && isRunning(row.trial_pid, row.trial_pid_start);
  return held ? { reopensAt, trialUntil: row.trial_expires_at! } : undefined;
}

/** Read only (a preflight): why a call would be refused now, if it would. */
export function circuitRefusal(registry: Registry, tool: string, settings: CircuitSettings): CircuitRefusal | undefined {
  return refusal(read(registry, tool), settings, Date.now());
}

/**
 * Lets a call through a closed circuit, or takes the one trial call of an open one whose pause has passed, for
 * `leaseMs` (the call's whole time budget).
 */
export function admitCall(registry: Registry, tool: string, settings: CircuitSettings, leaseMs: number): Admission {
  const seen = read(registry, tool);
  if (!seen || seen.opened_at === null) return { admitted: true };
  const early = refusal(seen, settings, Date.now());
  if (early) return { admitted: false, ...early };
  return writeTransaction(registry, () => {
    const now = Date.now();
    const row = read(registry, tool);
    if (!row || row.opened_at === null) return { admitted: true };
    const refused = refusal(row, settings, now);
    if (refused) return { admitted: false, ...refused };
    const token = nodeCrypto().randomBytes(8).toString("hex");
    const holder = currentProcess();
    registry.db
      .prepare("UPDATE circuits SET trial_token = ?, trial_pid = ?, trial_pid_start = ?, trial_expires_at = ?, updated_at = ? WHERE tool = ?")
      .run(token, holder.pid, holder.start, now + leaseMs, nowIso(), tool);
    return { admitted: true, trial: token };
  });
}

/** Counts how an admitted call ended: a failure adds one (and may open the circuit), a success resets the count. */
export function recordCall(registry: Registry, tool: string, actor: string, settings: CircuitSettings, admission: Admission, result: CallResult): void {
  if (!admission.admitted) return;
  const trialToken = admission.trial;
  if (result === "none") {
    // Nothing learnt: the trial is handed back for the next caller.
    if (trialToken) writeTransaction(registry, () => clearTrial(registry, tool, trialToken));
    return;
  }
  if (result === "succeeded" && !trialToken) {
    const row = read(registry, tool);
    if (!row || (row.failures === 0 && row.opened_at === null)) return;
  }
  writeTransaction(registry, () => {
    const row = read(registry, tool);
    const now = Date.now();
    const isTrial = trialToken !== undefined && row?.trial_token === trialToken;
    const audit = (type: string, data: Record<string, unknown>) => appendAudit(registry, { type, actor, tool, data });
    if (result === "succeeded") {
      // While open, only the trial call decides; a call admitted before the circuit opened does not.
      if (!row || (row.opened_at !== null && !isTrial) || (row.failures === 0 && row.opened_at === null)) return;
      registry.db
        .prepare(
          "UPDATE circuits SET failures = 0, opened_at = NULL, trial_token = NULL, trial_pid = NULL, trial_pid_start = NULL, trial_expires_at = NULL, updated_at = ? WHERE tool = ?",
        )
        .run(nowIso(), tool);
      if (row.opened_at !== null) audit("tool.circuit_closed", { trial: "succeeded", failuresBefore: row.failures });
      return;
    }
    const failures = (row?.failures ?? 0) + 1;
    if (isTrial) {
      registry.db
        .prepare(
          "UPDATE circuits SET failures = ?, opened_at = ?, trial_token = NULL, trial_pid = NULL, trial_pid_start = NULL, trial_expires_at = NULL, updated_at = ? WHERE tool = ?",
        )
        .run(failures, now, nowIso(), tool);
      audit("tool.circuit_opened", { failures, trial: "failed", reopensAt: new Date(now + settings.halfOpenAfterSeconds * 1000).toISOString() });
      return;
    }
    const opens = (row?.opened_at ?? null) === null && failures >= settings.failures;
    registry.db
      .prepare(
        `INSERT INTO circuits (tool, failures, opened_at, updated_at) VALUES (@tool, @failures, @openedAt, @now)
         ON CONFLICT (tool) DO UPDATE SET failures = excluded.failures, opened_at = coalesce(circuits.opened_at, excluded.opened_at), updated_at = excluded.updated_at`,
      )
      .run({ tool, failures, openedAt: opens ? now : null, now: nowIso() });
    if (opens) audit("tool.circuit_opened", { failures, reopensAt: new Date(now + settings.halfOpenAfterSeconds * 1000).toISOString() });
  });
}

function clearTrial(registry: Registry, tool: string, token: string): void {
  registry.db
    .prepare(
      "UPDATE circuits SET trial_token = NULL, trial_pid = NULL, trial_pid_start = NULL, trial_expires_at = NULL, updated_at = ? WHERE tool = ? AND trial_token = ?",
    )
    .run(nowIso(), tool, token);
}
