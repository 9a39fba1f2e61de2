/**
 * The SQLite adapter of the `Store` port: one file per home (`registry.db`), opened by one process at a time per
 * operation. better-sqlite3 is synchronous, so every method does its work before the promise it returns is
 * awaited: a write called during shutdown (the second Ctrl-C) is on disk when the call returns.
 */
import { PolicyError } from "../../errors.js";
import type { EndedAttempt, StartedRun, Store } from "../port.js";
import { settleAbandonedRuns } from "./abandoned.js";
import { consumeApproval, decideApproval, fileApproval, getApproval, listApprovals } from "./approvals.js";
import { appendAudit, countAudit, iterateAudit, queryAudit, verifyAudit } from "./audit.js";
import { admitCall, circuitRefusal, recordCall } from "./circuits.js";
import { nowIso, openRegistry, statement, withBusyTimeout, writeTransaction, type Registry } from "./db.js";
import { countExecutions } from "./execution-counts.js";
import { MIGRATIONS } from "./migrations.js";
import { findExecution, insertExecution, listExecutions, updateExecution } from "./executions.js";
import { COMPENSATION_IN_FLIGHT, rollbackTaken } from "../shared/execution-rows.js";
import { approveTool, revokeTool } from "./grants.js";
import { dayEntries, daySpend, reserveSpend, settleSpend } from "./ledger.js";
import { claimPlanRun, createPlanRun, listPlanRuns, requirePlanRun, runOfPlan, setPlanRunStatus, updatePlanStep } from "./plan-runs.js";
import { takeRateSlot } from "./rate-slots.js";
import { rotateKey } from "./rotate.js";
import { deleteSecret, listSecrets, putSecret, readSealedSecret, readSealedSecrets } from "./secrets.js";
import { executionStats } from "./stats.js";
import {
  actionNames,
  getAction,
  getDefinitions,
  getTool,
  listActions,
  listCatalog,
  listToolImages,
  listToolRows,
  listTools,
  removeTool,
  saveLazyValidators,
  saveTool,
  setToolStatus,
  storedManifest,
  toolNames,
  toolsFingerprint,
} from "./tools.js";
import { isEnrolled, twoFactorStatus } from "./totp-state.js";
import { addPasskey, listPasskeys, recordPasskeyUse, removePasskey } from "./passkeys.js";
import { secretDigest } from "../shared/signing.js";

/**
 * How long the outcome's write waits for the lock. The action has happened: an outcome that cannot be written
 * turns a known result into `unknown`, so it waits longer than any other write (the registry's busy timeout).
 */
const OUTCOME_BUSY_TIMEOUT_MS = 60_000;

/** Runs synchronous work and hands back its result, or its error, as a promise. */
function now<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error);
  }
}

export interface SqliteStore extends Store {
  /** The open database, for the adapter's own maintenance (key rotation, doctor's checks). */
  readonly registry: Registry;
}

export function openSqliteStore(home: string, env: NodeJS.ProcessEnv = process.env): SqliteStore {
  return sqliteStore(openRegistry(home, env));
}

export function sqliteStore(registry: Registry): SqliteStore {
  const tx = <T>(fn: () => T): Promise<T> => now(() => writeTransaction(registry, fn));
  // The tools fingerprint, kept while no connection changed the database: `PRAGMA data_version` moves with every
  // other connection's commit, and `toolWrites` with this one's writes to tools (its own commits do not move it).
  let toolWrites = 0;
  let fingerprint: { dataVersion: number; toolWrites: number; value: string } | undefined;
  const toolWrite = <T>(fn: () => T): Promise<T> =>
    now(() => {
      toolWrites++;
      return fn();
    });
  // The update that follows each insert, in the same transaction, signs the row.
  const insert = (execution: EndedAttempt["execution"]) => insertExecution(registry, execution, { sign: false });
  return {
    registry,
    location: registry.file,
    tools: {
      list: (query = {}) => now(() => listTools(registry, query)),
      rows: (query = {}) => now(() => listToolRows(registry, query)),
      get: (name) => now(() => getTool(registry, name)),
      names: () => now(() => toolNames(registry)),
      images: () => now(() => listToolImages(registry)),
      actionNames: (tool) => now(() => actionNames(registry, tool)),
      action: (tool, name, withValidators = true) => now(() => getAction(registry, tool, name, withValidators)),
      actions: (tool) => now(() => listActions(registry, tool)),
      catalog: (query) => now(() => listCatalog(registry, query)),
      fingerprint: () =>
        now(() => {
          const dataVersion = statement(registry, "PRAGMA data_version").pluck().get() as number;
          if (fingerprint?.dataVersion !== dataVersion || fingerprint.toolWrites !== toolWrites) {
            fingerprint = { dataVersion, toolWrites, value: toolsFingerprint(registry) };
          }
          return fingerprint.value;
        }),
      definitions: (tool, names) => now(() => getDefinitions(registry, tool, names)),
      manifest: (name) => now(() => storedManifest(registry, name)),
      save: (input) => toolWrite(() => saveTool(registry, input)),
      preview: (input) => now(() => saveTool(registry, input, { dryRun: true })),
      saveValidators: (tool, action, digest, input, output) => now(() => saveLazyValidators(registry, tool, action, digest, input, output)),
      setStatus: (name, status, actor) => toolWrite(() => setToolStatus(registry, name, status, actor)),
      approve: (name, digest, actor) => toolWrite(() => approveTool(registry, name, digest, actor)),
      revoke: (name, actor, extra) => toolWrite(() => revokeTool(registry, name, actor, extra)),
      remove: (name, actor, data) => toolWrite(() => removeTool(registry, name, actor, data)),
    },
    executions: {
      find: (idOrPrefix) => now(() => findExecution(registry, idOrPrefix)),
      list: (query) => now(() => listExecutions(registry, query)),
      count: (filter) => now(() => countExecutions(registry, filter)),
      stats: (query) => now(() => executionStats(registry, query)),
      ended: ({ execution, update, audit }) =>
        tx(() => {
          insert(execution);
          updateExecution(registry, execution.id, { finishedAt: nowIso(), ...update });
          appendAudit(registry, audit);
        }),
      started: (run: StartedRun) =>
        now(() => {
          try {
            return writeTransaction(registry, () => {
              const current = statement(registry, "SELECT status, digest FROM tools WHERE name = ?").get(run.execution.tool) as
                { status: string; digest: string } | undefined;
              if (!current || current.status !== "active" || current.digest !== run.toolDigest) {
                const what = !current ? "was removed" : current.status !== "active" ? `is now ${current.status}` : "was re-imported with changes";
                return {
                  ok: false as const,
                  reason: "tool_changed" as const,
                  message: `tool ${run.execution.tool} ${what} while this run was being prepared; nothing ran`,
                };
              }
              const undoing = run.execution.rollbackOf;
              if (undoing) {
                const taken = rollbackTaken(
                  statement(registry, "SELECT id, status FROM executions WHERE id = ?").get(undoing) as { id: string; status: string } | undefined,
                  statement(registry, COMPENSATION_IN_FLIGHT("?")).get(undoing) as { id: string; status: string; tool: string; action: string } | undefined,
                );
                if (taken) return { ok: false as const, reason: "rollback_taken" as const, message: taken };
              }
              if (run.approval) {
                const problem = consumeApproval(registry, run.approval.id, run.approval.digest, run.execution.id);
                if (problem) throw new PolicyError("policy_refused", problem);
              }
              if (run.reserve) {
                const reserved = reserveSpend(registry, {
                  executionId: run.execution.id,
                  tool: run.execution.tool,
                  action: run.execution.action,
                  ...run.reserve,
                });
                // Thrown so the transaction rolls back the approval's use; caught just below.
                if (!reserved.ok) throw Object.assign(new Error("over the daily limit"), { spend: reserved.spend });
              }
              insert(run.execution);
              updateExecution(registry, run.execution.id, { startedAt: nowIso(), ...run.update });
              appendAudit(registry, run.audit);
              return { ok: true as const };
            });
          } catch (error) {
            if (error instanceof PolicyError) return { ok: false as const, reason: "approval_unusable" as const, message: error.message };
            const spend = (error as { spend?: ReturnType<typeof daySpend> }).spend;
            if (spend) return { ok: false as const, reason: "over_daily_limit" as const, spend };
            throw error;
          }
        }),
      finished: (id, status, update, audit) =>
        now(() =>
          withBusyTimeout(registry, OUTCOME_BUSY_TIMEOUT_MS, () =>
            writeTransaction(registry, () => {
              updateExecution(registry, id, { status, finishedAt: nowIso(), ...update });
              if (status === "succeeded") settleSpend(registry, id, "committed");
              else if (status !== "unknown") settleSpend(registry, id, "released");
              appendAudit(registry, audit);
            }),
          ),
        ),
      rolledBack: (id, audit) =>
        tx(() => {
          updateExecution(registry, id, { status: "rolled_back" });
          // An outcome that was unknown is known now: it acted (and was undone), so its reservation is spent, as a
          // payment rolled back by hand stays spent.
          settleSpend(registry, id, "committed");
          appendAudit(registry, audit);
        }),
      superseded: (id, audit) =>
        tx(() => {
          settleSpend(registry, id, "released");
          appendAudit(registry, audit);
        }),
      compensatedBy: (id) =>
        now(
          () =>
            registry.db.prepare("SELECT id FROM executions WHERE rollback_of = ? AND status = 'succeeded' ORDER BY created_at DESC LIMIT 1").pluck().get(id) as
              string | undefined,
        ),
      settleAbandoned: (actor) => now(() => settleAbandonedRuns(registry, actor)),
    },
    approvals: {
      file: (request) => now(() => fileApproval(registry, request)),
      get: (id) => now(() => getApproval(registry, id)),
      list: (all) => now(() => listApprovals(registry, all)),
      decide: (id, decision, by, via, shownDigest) => now(() => decideApproval(registry, id, decision, by, via, shownDigest)),
    },
    ledger: {
      day: (day) => now(() => daySpend(registry, day)),
      entries: (day) => now(() => dayEntries(registry, day)),
    },
    audit: {
      append: (event) => tx(() => appendAudit(registry, event)),
      query: (query) => now(() => queryAudit(registry, query)),
      count: (query) => now(() => countAudit(registry, query)),
      async *all() {
        yield* iterateAudit(registry);
      },
      verify: () => now(() => verifyAudit(registry)),
    },
    twoFactor: {
      isEnrolled: () => now(() => isEnrolled(registry)),
      status: (nowMs) => now(() => twoFactorStatus(registry, nowMs)),
      // The code checks load the TOTP library, which nothing else needs.
      begin: async (ring, actor) => (await import("./twofactor.js")).beginEnrollment(registry, ring, actor),
      confirm: async (ring, code, nowMs, actor) => (await import("./twofactor.js")).confirmEnrollment(registry, ring, code, nowMs, actor),
      verify: async (ring, code, nowMs, context) => (await import("./twofactor.js")).verifyCode(registry, ring, code, nowMs, context),
      disable: async (ring, code, nowMs, actor) => (await import("./twofactor.js")).disable(registry, ring, code, nowMs, actor),
    },
    passkeys: {
      list: () => now(() => listPasskeys(registry)),
      add: (passkey, actor) => now(() => addPasskey(registry, passkey, actor)),
      remove: (id, actor, via) => now(() => removePasskey(registry, id, actor, via)),
      recordUse: (id, counter, nowMs) => now(() => recordPasskeyUse(registry, id, counter, nowMs)),
    },
    callLimits: {
      circuitRefusal: (tool, settings) => now(() => circuitRefusal(registry, tool, settings)),
      admit: (tool, settings, leaseMs) => now(() => admitCall(registry, tool, settings, leaseMs)),
      record: (tool, actor, settings, admission, result) => now(() => recordCall(registry, tool, actor, settings, admission, result)),
      takeSlot: (tool, perMinute, nowMs) => now(() => takeRateSlot(registry, tool, perMinute, nowMs)),
    },
    planRuns: {
      create: (run) => now(() => createPlanRun(registry, run)),
      ofPlan: (planId) => now(() => runOfPlan(registry, planId)),
      get: (idOrPrefix) => now(() => requirePlanRun(registry, idOrPrefix)),
      list: (query) => now(() => listPlanRuns(registry, query)),
      updateStep: (runId, step, update) => now(() => updatePlanStep(registry, runId, step, update)),
      setStatus: (runId, status, actor, error) => now(() => setPlanRunStatus(registry, runId, status, actor, error)),
      claim: (runId, actor) => now(() => claimPlanRun(registry, runId, actor)),
    },
    secrets: {
      put: (name, seal, actor) => now(() => putSecret(registry, name, seal, actor)),
      remove: (name, actor) => now(() => deleteSecret(registry, name, actor)),
      list: () => now(() => listSecrets(registry)),
      sealed: (name) => now(() => readSealedSecret(registry, name)),
      allSealed: () => now(() => readSealedSecrets(registry)),
      rotateKey: (home, env, options) => now(() => rotateKey(registry, home, env, options)),
    },
    secretDigest: (value) => now(() => secretDigest(registry.auditKey(), value)),
    health: () =>
      now(() => ({
        backend: "sqlite" as const,
        location: registry.file,
        schema: { version: statement(registry, "PRAGMA user_version").pluck().get() as number, latest: MIGRATIONS.length },
        problems: [],
      })),
    close: () => now(() => registry.close()),
  };
}
