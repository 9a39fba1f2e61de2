/**
 * Per-tool circuit breakers, shared by every toolctl process of a home. The failure count is changed in the
 * database, one write transaction per outcome (increment, or reset), never loaded at the start of a call and
 * saved at its end: eight processes failing at once count eight failures. The trial call after the pause is a
 * lease taken under the write lock (the rules: store/shared/circuits.ts).
 *
 * A closed circuit admits a call without writing, and a success that finds no failure to reset writes
 * nothing: the usual call costs a read.
 */
import { nodeCrypto } from "../../util/builtins.js";
import { currentProcess } from "../../util/process.js";
import { appendAudit } from "./audit.js";
import { nowIso, writeTransaction, type Registry } from "./db.js";
import type { CircuitSettings, CircuitRefusal, Admission, CallResult } from "../../domain/records.js";
import { CIRCUIT_COLUMNS, circuitChange, circuitRefusalOf, isClean, trialHolderRunning, type CircuitRow } from "../shared/circuits.js";
export type { CircuitSettings, CircuitRefusal, Admission, CallResult };

const read = (registry: Registry, tool: string) =>
  registry.db.prepare(`SELECT ${CIRCUIT_COLUMNS} FROM circuits WHERE tool = ?`).get(tool) as CircuitRow | undefined;

// A home's processes all run on one machine: every holder is local (the row's host is always NULL here).
const refusal = (row: CircuitRow | undefined, settings: CircuitSettings, now: number) => circuitRefusalOf(row, settings, now, trialHolderRunning(null));

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

const CLEAR_TRIAL = "trial_token = NULL, trial_pid = NULL, trial_pid_start = NULL, trial_expires_at = NULL, trial_host = NULL";

/** Counts how an admitted call ended: a failure adds one (and may open the circuit), a success resets the count. */
export function recordCall(registry: Registry, tool: string, actor: string, settings: CircuitSettings, admission: Admission, result: CallResult): void {
  if (!admission.admitted) return;
  const trialToken = admission.trial;
  if (result === "none") {
    // Nothing learnt: the trial is handed back for the next caller.
    if (trialToken) {
      writeTransaction(registry, () =>
        registry.db.prepare(`UPDATE circuits SET ${CLEAR_TRIAL}, updated_at = ? WHERE tool = ? AND trial_token = ?`).run(nowIso(), tool, trialToken),
      );
    }
    return;
  }
  if (result === "succeeded" && !trialToken && isClean(read(registry, tool))) return;
  writeTransaction(registry, () => {
    const change = circuitChange(read(registry, tool), trialToken, result, settings, Date.now());
    if (change.kind === "none") return;
    if (change.kind === "close") {
      registry.db.prepare(`UPDATE circuits SET failures = 0, opened_at = NULL, ${CLEAR_TRIAL}, updated_at = ? WHERE tool = ?`).run(nowIso(), tool);
    } else if (change.kind === "reopen") {
      registry.db
        .prepare(`UPDATE circuits SET failures = ?, opened_at = ?, ${CLEAR_TRIAL}, updated_at = ? WHERE tool = ?`)
        .run(change.failures, change.openedAt, nowIso(), tool);
    } else {
      registry.db
        .prepare(
          `INSERT INTO circuits (tool, failures, opened_at, updated_at) VALUES (@tool, @failures, @openedAt, @now)
           ON CONFLICT (tool) DO UPDATE SET failures = excluded.failures, opened_at = coalesce(circuits.opened_at, excluded.opened_at), updated_at = excluded.updated_at`,
        )
        .run({ tool, failures: change.failures, openedAt: change.openedAt, now: nowIso() });
    }
    if (change.event) appendAudit(registry, { type: change.event.type, actor, tool, data: change.event.data });
  });
}
