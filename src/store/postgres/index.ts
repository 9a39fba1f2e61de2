/**
 * The PostgreSQL adapter of the `Store` port: one database shared by the machines of a team, each with its own
 * home (keys, secrets, its exported audit head). Method by method it does what sqlite/index.ts does; what changes
 * is how the guarantees hold across machines. Every write that checks before it writes (the intent with its
 * approval and reservation, an approval's decision, the audit chain) is one transaction under the registry-wide
 * advisory lock (db.ts `write`), retried whole when PostgreSQL reports a serialization failure or a deadlock.
 */
import { PolicyError } from "../../errors.js";
import type { DaySpend } from "../../domain/records.js";
import type { Store, StartedRun, StartRefusal } from "../port.js";
import { settleAbandonedRuns } from "./abandoned.js";
import { consumeApproval, decideApproval, fileApproval, getApproval, listApprovals } from "./approvals.js";
import { appendAudit } from "./audit-append.js";
import { appendAuditEvent, countAudit, iterateAudit, queryAudit, verifyAudit } from "./audit.js";
import { pgCallLimits } from "./call-limits.js";
import { pgHealth } from "./health.js";
import { pgPasskeys } from "./passkeys.js";
import { pgPlanRuns } from "./plan-runs.js";
import { pgSecrets } from "./secrets.js";
import { pgTwoFactor } from "./twofactor.js";
import { nowIso, openPgRegistry, type OpenPgOptions, type PgRegistry, type Tx } from "./db.js";
import { compensatedBy, countExecutions, findExecution, insertExecution, listExecutions, updateExecution } from "./executions.js";
import { COMPENSATION_IN_FLIGHT, rollbackTaken } from "../shared/execution-rows.js";
import { approveTool, revokeTool } from "./grants.js";
import { exportingHead } from "./head.js";
import { dayEntries, daySpend, reserveSpend, settleSpend } from "./ledger.js";
import { executionStats } from "./stats.js";
import { secretDigest } from "../shared/signing.js";
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

export type PostgresStore = Store & {
  /** The open database, for the adapter's own maintenance (doctor's checks, migration). */
  readonly registry: PgRegistry;
};

/** Refusals found inside the intent's transaction: thrown to roll it back (the approval's use with it), returned as values. */
class StartRefused extends Error {
  constructor(readonly refusal: StartRefusal) {
    super(refusal.reason);
  }
}

/** The intent, in one serialized transaction: see `ExecutionStore.started`. */
async function startRun(registry: PgRegistry, tx: Tx, run: StartedRun): Promise<{ ok: true }> {
  const current = await tx.one<{ status: string; digest: string }>("SELECT status, digest FROM tools WHERE name = $1", [run.execution.tool]);
  if (!current || current.status !== "active" || current.digest !== run.toolDigest) {
    const what = !current ? "was removed" : current.status !== "active" ? `is now ${current.status}` : "was re-imported with changes";
    throw new StartRefused({
      ok: false,
      reason: "tool_changed",
      message: `tool ${run.execution.tool} ${what} while this run was being prepared; nothing ran`,
    });
  }
  const undoing = run.execution.rollbackOf;
  if (undoing) {
    const taken = rollbackTaken(
      await tx.one<{ id: string; status: string }>("SELECT id, status FROM executions WHERE id = $1", [undoing]),
      await tx.one<{ id: string; status: string; tool: string; action: string }>(COMPENSATION_IN_FLIGHT("$1"), [undoing]),
    );
    if (taken) throw new StartRefused({ ok: false, reason: "rollback_taken", message: taken });
  }
  if (run.approval) {
    const problem = await consumeApproval(tx, run.approval.id, run.approval.digest, run.execution.id);
    if (problem) throw new PolicyError("policy_refused", problem);
  }
  if (run.reserve) {
    const reserved = await reserveSpend(tx, { executionId: run.execution.id, tool: run.execution.tool, action: run.execution.action, ...run.reserve });
    if (!reserved.ok) throw new StartRefused({ ok: false, reason: "over_daily_limit", spend: reserved.spend as DaySpend });
  }
  await insertExecution(registry, tx, run.execution);
  await updateExecution(registry, tx, run.execution.id, { startedAt: nowIso(), ...run.update });
  await appendAudit(registry, tx, run.audit);
  return { ok: true };
}

export async function openPostgresStore(url: string, home: string, env: NodeJS.ProcessEnv, options: OpenPgOptions = {}): Promise<PostgresStore> {
  return postgresStore(await openPgRegistry(url, home, env, options));
}

export function postgresStore(base: PgRegistry): PostgresStore {
  // Every write goes through this registry, which exports the audit head after the transactions that moved it.
  const registry = exportingHead(base);
  const secrets = pgSecrets(registry.home, registry.env, registry);
  return {
    registry,
    location: registry.location,
    tools: {
      list: (query = {}) => listTools(registry, query),
      rows: (query = {}) => listToolRows(registry, query),
      get: (name) => getTool(registry, name),
      names: () => toolNames(registry),
      images: () => listToolImages(registry),
      actionNames: (tool) => actionNames(registry, tool),
      action: (tool, name, withValidators = true) => getAction(registry, tool, name, withValidators),
      actions: (tool) => listActions(registry, tool),
      catalog: (query) => listCatalog(registry, query),
      fingerprint: () => toolsFingerprint(registry),
      definitions: (tool, names) => getDefinitions(registry, tool, names),
      manifest: (name) => storedManifest(registry, name),
      save: (input) => saveTool(registry, input),
      preview: (input) => saveTool(registry, input, { dryRun: true }),
      saveValidators: (tool, action, digest, input, output) => saveLazyValidators(registry, tool, action, digest, input, output),
      setStatus: (name, status, actor) => setToolStatus(registry, name, status, actor),
      approve: (name, digest, actor) => approveTool(registry, name, digest, actor),
      revoke: (name, actor, extra) => revokeTool(registry, name, actor, extra),
      remove: (name, actor, data) => removeTool(registry, name, actor, data),
    },
    executions: {
      find: (idOrPrefix) => findExecution(registry, idOrPrefix),
      list: (query) => listExecutions(registry, query),
      count: (filter) => countExecutions(registry, filter),
      stats: (query) => executionStats(registry, query),
      ended: ({ execution, update, audit }) =>
        registry.write(async (tx) => {
          await insertExecution(registry, tx, execution);
          await updateExecution(registry, tx, execution.id, { finishedAt: nowIso(), ...update });
          await appendAudit(registry, tx, audit);
        }),
      started: async (run) => {
        try {
          return await registry.write((tx) => startRun(registry, tx, run));
        } catch (error) {
          if (error instanceof StartRefused) return error.refusal;
          if (error instanceof PolicyError) return { ok: false, reason: "approval_unusable", message: error.message };
          throw error;
        }
      },
      // The action has happened: the outcome waits for the lock as long as it takes (the pool's connections are
      // its only limit), and a transaction that loses a race is retried by `write`.
      finished: (id, status, update, audit) =>
        registry.write(async (tx) => {
          await updateExecution(registry, tx, id, { status, finishedAt: nowIso(), ...update });
          if (status === "succeeded") await settleSpend(tx, id, "committed");
          else if (status !== "unknown") await settleSpend(tx, id, "released");
          await appendAudit(registry, tx, audit);
        }),
      rolledBack: (id, audit) =>
        registry.write(async (tx) => {
          await updateExecution(registry, tx, id, { status: "rolled_back" });
          // An unknown outcome is known now (see the SQLite store): its reservation is spent.
          await settleSpend(tx, id, "committed");
          await appendAudit(registry, tx, audit);
        }),
      superseded: (id, audit) =>
        registry.write(async (tx) => {
          await settleSpend(tx, id, "released");
          await appendAudit(registry, tx, audit);
        }),
      compensatedBy: (id) => compensatedBy(registry, id),
      settleAbandoned: (actor) => settleAbandonedRuns(registry, actor),
    },
    approvals: {
      file: (request) => fileApproval(registry, request),
      get: (id) => getApproval(registry, id),
      list: (all) => listApprovals(registry, all),
      decide: (id, decision, by, via, shownDigest) => decideApproval(registry, id, decision, by, via, shownDigest),
    },
    ledger: {
      day: (day) => daySpend(registry, day),
      entries: (day) => dayEntries(registry, day),
    },
    audit: {
      append: (event) => appendAuditEvent(registry, event),
      query: (query) => queryAudit(registry, query),
      count: (query) => countAudit(registry, query),
      all: () => iterateAudit(registry),
      verify: () => verifyAudit(registry),
    },
    twoFactor: pgTwoFactor(registry),
    passkeys: pgPasskeys(registry),
    callLimits: pgCallLimits(registry),
    planRuns: pgPlanRuns(registry),
    secrets,
    secretDigest: async (value) => secretDigest(await registry.auditKey(), value),
    health: () => pgHealth(registry),
    // This machine's own secret store (a SQLite file in its home) closes with the team's pool.
    close: async () => {
      try {
        await secrets.close();
      } finally {
        await registry.close();
      }
    },
  };
}
