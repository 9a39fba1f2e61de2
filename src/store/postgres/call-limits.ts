/**
 * Circuit breakers and request slots in the team database, shared by every machine: eight machines failing at
 * once count eight failures, a tool's rate limit is one limit for the team, and after the pause exactly one
 * process on one machine sends the trial call. The trial's lease names its host beside its pid: a holder on this
 * machine that is gone frees the trial at once, one on another machine when its lease expires (the rules:
 * store/shared/circuits.ts).
 *
 * A closed circuit admits a call with one read, and a success that finds nothing to reset writes nothing.
 */
import type { CircuitSettings } from "../../domain/records.js";
import type { CallLimitStore } from "../port.js";
import { nodeCrypto } from "../../util/builtins.js";
import { currentProcess } from "../../util/process.js";
import {
  CIRCUIT_COLUMNS,
  circuitChange,
  circuitRefusalOf,
  isClean,
  RATE_WINDOW_MS,
  slotWait,
  trialHolderRunning,
  type CircuitRow,
} from "../shared/circuits.js";
import { appendAudit } from "./audit-append.js";
import { nowIso, type PgRegistry, type Sql } from "./db.js";

const CLEAR_TRIAL = "trial_token = NULL, trial_pid = NULL, trial_pid_start = NULL, trial_expires_at = NULL, trial_host = NULL";

/** Request slots are taken under a lock per tool (the two-key advisory lock space, apart from the registry's write lock). */
const RATE_LOCK = 0x72617465; // "rate"

/** The row, locked for the rest of the transaction when `forUpdate`. */
const read = (sql: Sql, tool: string, forUpdate = false) =>
  sql.one<CircuitRow>(`SELECT ${CIRCUIT_COLUMNS} FROM circuits WHERE tool = $1${forUpdate ? " FOR UPDATE" : ""}`, [tool]);

export function pgCallLimits(registry: PgRegistry): CallLimitStore {
  const refusal = (row: CircuitRow | undefined, settings: CircuitSettings, now: number) =>
    circuitRefusalOf(row, settings, now, trialHolderRunning(registry.host));
  return {
    circuitRefusal: async (tool, settings) => refusal(await read(registry, tool), settings, Date.now()),
    async admit(tool, settings, leaseMs) {
      const seen = await read(registry, tool);
      if (!seen || seen.opened_at === null) return { admitted: true };
      const early = refusal(seen, settings, Date.now());
      if (early) return { admitted: false, ...early };
      // The row lock is enough: only this row changes, and every other change to it locks it too.
      return registry.write(
        async (tx) => {
          const now = Date.now();
          const row = await read(tx, tool, true);
          if (!row || row.opened_at === null) return { admitted: true };
          const refused = refusal(row, settings, now);
          if (refused) return { admitted: false, ...refused };
          const token = nodeCrypto().randomBytes(8).toString("hex");
          const holder = currentProcess();
          await tx.run(
            "UPDATE circuits SET trial_token = $1, trial_pid = $2, trial_pid_start = $3, trial_expires_at = $4, trial_host = $5, updated_at = $6 WHERE tool = $7",
            [token, holder.pid, holder.start, now + leaseMs, registry.host, nowIso(), tool],
          );
          return { admitted: true, trial: token };
        },
        { serialized: false },
      );
    },
    async record(tool, actor, settings, admission, result) {
      if (!admission.admitted) return;
      const trialToken = admission.trial;
      if (result === "none") {
        // Nothing learnt: the trial is handed back for the next caller.
        if (trialToken)
          await registry.run(`UPDATE circuits SET ${CLEAR_TRIAL}, updated_at = $1 WHERE tool = $2 AND trial_token = $3`, [nowIso(), tool, trialToken]);
        return;
      }
      if (result === "succeeded" && !trialToken && isClean(await read(registry, tool))) return;
      // Serialized: opening or closing the circuit appends to the audit chain.
      await registry.write(async (tx) => {
        const change = circuitChange(await read(tx, tool, true), trialToken, result, settings, Date.now());
        if (change.kind === "none") return;
        if (change.kind === "close") {
          await tx.run(`UPDATE circuits SET failures = 0, opened_at = NULL, ${CLEAR_TRIAL}, updated_at = $1 WHERE tool = $2`, [nowIso(), tool]);
        } else if (change.kind === "reopen") {
          await tx.run(`UPDATE circuits SET failures = $1, opened_at = $2, ${CLEAR_TRIAL}, updated_at = $3 WHERE tool = $4`, [
            change.failures,
            change.openedAt,
            nowIso(),
            tool,
          ]);
        } else {
          await tx.run(
            `INSERT INTO circuits (tool, failures, opened_at, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tool) DO UPDATE SET failures = excluded.failures, opened_at = coalesce(circuits.opened_at, excluded.opened_at), updated_at = excluded.updated_at`,
            [tool, change.failures, change.openedAt, nowIso()],
          );
        }
        if (change.event) await appendAudit(registry, tx, { type: change.event.type, actor, tool, data: change.event.data });
      });
    },
    takeSlot: (tool, perMinute, nowMs) =>
      registry.write(
        async (tx) => {
          await tx.run("SELECT pg_advisory_xact_lock($1, hashtext($2))", [RATE_LOCK, tool]);
          await tx.run("DELETE FROM rate_slots WHERE tool = $1 AND at_ms <= $2", [tool, nowMs - RATE_WINDOW_MS]);
          const { used, oldest } = (await tx.one<{ used: number; oldest: number | null }>(
            "SELECT count(*) AS used, min(at_ms) AS oldest FROM rate_slots WHERE tool = $1",
            [tool],
          ))!;
          const wait = slotWait(used, oldest, perMinute, nowMs);
          if (wait === 0) await tx.run("INSERT INTO rate_slots (tool, at_ms) VALUES ($1, $2)", [tool, nowMs]);
          return wait;
        },
        { serialized: false },
      ),
  };
}
