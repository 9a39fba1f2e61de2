/**
 * toolctl's public API: `openToolctl()` opens a home (its registry, config and keys) and returns one object
 * through which a program, the CLI, plan/apply and the MCP server do everything. Nothing below it knows which
 * front door a call came from; the caller says who acts (`actor`) and how a human is asked (`approvals`).
 *
 *   const toolctl = await openToolctl({ home: "/tmp/toolctl-home" });
 *   await toolctl.importManifests(["manifests/examples"]);
 *   const decision = await toolctl.preview("echo.say", { message: "hi" });
 *   const result = await toolctl.run("echo.say", { message: "hi" });
 *   await toolctl.close();
 *
 * Modules are loaded on first use: opening the API and listing tools never loads the engine or a runner.
 */
import type { Actor } from "../config/home.js";
import type { Config } from "../config/schema.js";
import type {
  Approval,
  AuditEvent,
  AuditQuery,
  AuditVerification,
  Execution,
  ExecutionError,
  ExecutionOrigin,
  ExecutionQuery,
  ListToolsQuery,
  PlanRun,
  PlanRunQuery,
  SaveToolResult,
  Stats,
  StatsQuery,
  ToolRecord,
  ToolSummary,
} from "../domain/records.js";
import type { Human, TwoFactor } from "../engine/approve.js";
import type { Diagnosis } from "../engine/doctor.js";
import type { Budget } from "../engine/evaluate.js";
import type { ExecuteDeps, ExecuteResult, Progress } from "../engine/execute.js";
import type { ExportedTool, ExportFormat } from "../manifest/export.js";
import type { ImportReport } from "../manifest/import.js";
import type { Scaffold, ScaffoldOptions } from "../manifest/scaffold.js";
import type { ConvertReport } from "../openapi/index.js";
import type { ApprovalRequest } from "../policy/approval.js";
import type { ApplyOptions, ApplyResult } from "../plan/apply.js";
import type { PlanPreview } from "../plan/preview.js";
import type { Runner } from "../runners/types.js";
import type { Store } from "../store/port.js";
import type { TransferReport } from "../store/transfer.js";
import { NeedsHumanError, UsageError } from "../errors.js";
import { sourcesOf } from "./input.js";
import { timeRange } from "./time.js";
import { codeVerifier, manageApi } from "./manage.js";

export { ExitCode, ToolctlError } from "../errors.js";
export { inputSources, type SourcedInput } from "./input.js";
export type { InputSources } from "../engine/input.js";
/** Input checks a front door makes before it asks for more (a secret's value, a code): the API makes them again. */
export { assertSecretName, MAX_SECRET_BYTES } from "../secrets/names.js";
export { isWellFormedCode, normalizeCode, OTP_DIGITS } from "../policy/otp-code.js";
export { isSpendDay, roundUsd, spendDay } from "../policy/spend.js";
export { REDACTED } from "../secrets/redact.js";
export type {
  ApproveToolOptions,
  DecideOptions,
  FactorProof,
  PasskeyAssertion,
  PasskeyInfo,
  WebAuthnResponse,
  Grant,
  GrantAnswer,
  ListedSecret,
  ManageApi,
  PendingRequest,
  Removal,
  Revocation,
  RotateResult,
  SecretInfo,
  StatusChange,
  ToolAsks,
} from "./manage.js";
export type { ExitCodeValue } from "../errors.js";
export type { ActionSummaryView, ActionView, Description, ToolView } from "../engine/describe.js";
export type { Check, Diagnosis } from "../engine/doctor.js";
export type { CatalogEntry, CatalogQuery } from "../engine/catalog.js";
export type {
  Actor,
  Approval,
  ApprovalRequest,
  ApplyResult,
  AuditEvent,
  AuditQuery,
  AuditVerification,
  Budget,
  Config,
  ConvertReport,
  Execution,
  ExecutionError,
  ExecutionOrigin,
  ExecutionQuery,
  ExecuteResult,
  ExportedTool,
  ExportFormat,
  ImportReport,
  ListToolsQuery,
  PlanPreview,
  Scaffold,
  ScaffoldOptions,
  PlanRun,
  PlanRunQuery,
  Progress,
  SaveToolResult,
  Stats,
  StatsQuery,
  Store,
  ToolRecord,
  ToolSummary,
  TransferReport,
};

import type { ApplyCallOptions, ApprovalChannel, OpenOptions, ProgressEvent, RunOptions, Toolctl } from "./types.js";
export type {
  ApplyCallOptions,
  ApprovalChannel,
  ApprovalDecision,
  OpenOptions,
  ProgressEvent,
  RunInput,
  RunOptions,
  TimeFiltered,
  Toolctl,
  ToolHealth,
} from "./types.js";

/** Runners load on demand: a process run never pays for the HTTP client, and the reverse. */
export const RUNNERS: Record<string, () => Promise<Runner>> = {
  http: async () => (await import("../runners/http/runner.js")).httpRunner,
  process: async () => (await import("../runners/process/runner.js")).processRunner,
  echo: async () => (await import("../runners/builtin/echo.js")).echoRunner,
  docker: async () => (await import("../runners/docker/runner.js")).dockerRunner,
  files: async () => (await import("../runners/builtin/files.js")).filesRunner,
  database: async () => (await import("../runners/builtin/database.js")).databaseRunner,
  email: async () => (await import("../providers/email/runner.js")).emailRunner,
  vercel: async () => (await import("../providers/vercel/runner.js")).vercelRunner,
};

/**
 * The API as a program holds it: once closed, every method but `close` (again, which does nothing) and `on` is
 * refused with a usage error saying so, instead of whatever the closed database would throw. Until then, each
 * call's promise is kept in `inflight`, so that `close` can wait for what is running to be recorded.
 */
function closable(toolctl: Toolctl, isClosed: () => boolean, inflight: Set<Promise<unknown>>): Toolctl {
  const refusal = (name: string) => new UsageError(`toolctl.${name}(): this toolctl was closed; open another with openToolctl()`);
  return new Proxy(toolctl, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== "function" || property === "close" || property === "on") return value;
      if (!isClosed()) {
        if (property === "auditEvents") return value;
        return (...args: unknown[]) => {
          const result = Reflect.apply(value, receiver, args) as unknown;
          if (result instanceof Promise) {
            inflight.add(result);
            const done = () => void inflight.delete(result);
            result.then(done, done);
          }
          return result;
        };
      }
      const name = String(property);
      if (property === "auditEvents") {
        return () => ({
          [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(refusal(name)) }),
        });
      }
      return () => Promise.reject(refusal(name));
    },
  });
}

/**
 * A stream the API hands out (`auditEvents()`), held open across calls: `close` ends every one still open before
 * the store closes (a database cannot close under an open statement), and the iteration's next step is then refused
 * with a usage error rather than read from a closed store. Each `for await` opens its own iteration.
 */
function closableStream<T>(open: () => AsyncIterable<T>, streams: Set<() => Promise<void>>, isClosed: () => boolean, call: string): AsyncIterable<T> {
  const refusal = () => new UsageError(`toolctl.${call}(): this toolctl was closed, and the iteration with it; open another with openToolctl() to read on`);
  return {
    [Symbol.asyncIterator]: (): AsyncIterator<T> => {
      let source: AsyncIterator<T> | undefined;
      let ended = false;
      const release = async (): Promise<void> => {
        streams.delete(end);
        const opened = source;
        source = undefined;
        await opened?.return?.();
      };
      const end = async (): Promise<void> => {
        ended = true;
        await release().catch(() => undefined);
      };
      return {
        async next() {
          if (ended || isClosed()) throw refusal();
          if (!source) {
            source = open()[Symbol.asyncIterator]();
            streams.add(end);
          }
          const step = await source.next();
          if (step.done) {
            streams.delete(end);
            source = undefined;
            ended = true;
          }
          return step;
        },
        async return() {
          ended = true;
          await release();
          return { done: true, value: undefined };
        },
      };
    },
  };
}

/**
 * What an ApprovalChannel's answer means, read strictly: only a literal `approved: true` (with an `otp` that is text,
 * when there is one) approves, `approved: false` refuses and `needsHuman: true` alone says nobody can answer here.
 * Anything else (`approved: "false"`, `1`, `null`, both forms at once) is no answer: undefined.
 */
function readDecision(decision: unknown): { answer: "yes"; otp?: string } | { answer: "no" | "unanswered" } | undefined {
  if (decision === null || typeof decision !== "object" || Array.isArray(decision)) return undefined;
  const { approved, needsHuman, otp } = decision as Record<string, unknown>;
  if (needsHuman !== undefined) return needsHuman === true && approved === undefined ? { answer: "unanswered" } : undefined;
  if (approved === false) return { answer: "no" };
  if (approved !== true || (otp !== undefined && typeof otp !== "string")) return undefined;
  return otp === undefined ? { answer: "yes" } : { answer: "yes", otp };
}

/** A channel's answer as an error message shows it: its code, if it gave one, is never repeated. */
function shownAnswer(decision: unknown): string {
  const value =
    decision !== null && typeof decision === "object" && !Array.isArray(decision) && "otp" in decision ? { ...decision, otp: "(hidden)" } : decision;
  let text: string;
  try {
    text = value === undefined || typeof value === "function" || typeof value === "bigint" ? String(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/**
 * A Human backed by an ApprovalChannel: a program's function answers where a terminal would prompt. An answer that
 * is none of the channel's forms fails closed: a UsageError, which ends the attempt declined (exit 2), nothing run.
 */
export function channelHuman(channel: ApprovalChannel | undefined, onFiled?: RunOptions["onApprovalFiled"]): Human {
  let pendingOtp: string | undefined;
  return {
    canPrompt: channel !== undefined,
    async confirm(request) {
      const decision: unknown = await channel!(request);
      const read = readDecision(decision);
      if (read === undefined) {
        throw new UsageError(
          `the approval channel's answer ${shownAnswer(decision)} is not { approved: true }, { approved: false } or { needsHuman: true }: ${request.tool}.${request.action} was not approved, and nothing ran`,
        );
      }
      if (read.answer !== "yes") return read.answer;
      pendingOtp = "otp" in read ? read.otp : undefined;
      return "yes";
    },
    async code() {
      const otp = pendingOtp;
      pendingOtp = undefined;
      return otp ? { code: otp } : { answer: "no code given" };
    },
    waiting(approvalId, expiresAt) {
      onFiled?.(approvalId, expiresAt);
    },
  };
}

/** A value as an error message shows it: `NaN` and `Infinity` as themselves, not as JSON's `null`. */
const shown = (value: unknown): string => (typeof value === "number" ? String(value) : (JSON.stringify(value) ?? String(value)));

/**
 * A program's run options that the engine would otherwise read loosely, checked as the CLI checks its flags:
 * `sandbox: "Docker"` ran a process tool outside Docker, and a `waitSeconds` of NaN waited for the request's expiry.
 */
function checkRunOptions(call: string, options: { sandbox?: unknown; waitSeconds?: unknown }): void {
  const { sandbox, waitSeconds } = options;
  if (sandbox !== undefined && sandbox !== "docker" && sandbox !== "none") {
    throw new UsageError(`${call}: sandbox: expected "docker" or "none", got ${shown(sandbox)}`);
  }
  if (waitSeconds !== undefined && (typeof waitSeconds !== "number" || Number.isNaN(waitSeconds) || waitSeconds < 0)) {
    throw new UsageError(`${call}: waitSeconds: expected a number of seconds from 0, got ${shown(waitSeconds)}`);
  }
}

/**
 * A program's `limit` and `offset`, checked as the CLI checks its flags: whole numbers from 0 (a limit from 1) up to
 * 2^53 - 1. Passed on unchecked, `1.5` or `"abc"` failed as a database error and `-1` meant no limit at all.
 */
function checkPaging(call: string, query: { limit?: unknown; offset?: unknown }): void {
  for (const [field, least] of [
    ["limit", 1],
    ["offset", 0],
  ] as const) {
    const value = query[field];
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < least) {
      throw new UsageError(`${call}: ${field}: expected a whole number from ${least} to ${Number.MAX_SAFE_INTEGER}, got ${shown(value)}`);
    }
  }
}

export async function openToolctl(options: OpenOptions = {}): Promise<Toolctl> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const { chooseHome, resolveActor, settingsHome } = await import("../config/home.js");
  const { home, project } = chooseHome(options, env, cwd);
  const actor = options.actor ?? resolveActor(env);
  // Read on first need (listing tools never pays for the config schema), and again whenever config.yaml (or the
  // project's toolctl.yaml) has changed since: a server or a program holding this object follows
  // `toolctl config set` from its next run, as a new process would. An unchanged file costs one stat a call.
  let configModule: Promise<typeof import("../config/config.js")> | undefined;
  let loaded: { stamp: string; values: Promise<Config> } | undefined;
  const settings = async (): Promise<Config> => {
    if (options.config) return options.config;
    const { loadConfig, settingsStamp } = await (configModule ??= import("../config/config.js"));
    const at = settingsHome({ home, project });
    // Taken before the read: a change made while it is read is seen by the next call.
    const stamp = settingsStamp(at, project);
    if (loaded?.stamp !== stamp) {
      const read = { stamp, values: loadConfig(at, env, project).then((config) => config.values) };
      loaded = read;
      // A file that does not load is not remembered: each call fails as a new process would, until it is fixed.
      read.values.catch(() => {
        if (loaded === read) loaded = undefined;
      });
    }
    return loaded.values;
  };
  const store = options.store ?? (await (await import("../store/open.js")).openStore(home, env, options.database, settingsHome({ home, project })));
  const listeners = new Set<(event: ProgressEvent) => void>();
  const warningListeners = new Set<(message: string) => void>();
  const warn = (message: string) =>
    warningListeners.forEach((listener) => {
      try {
        listener(message);
      } catch {
        // A warning listener that throws has nobody left to tell.
      }
    });
  // A listener's mistake is its own: said as a warning, it never changes a run, its record or its spend (thrown
  // inside the pipeline, it would stop a run whose request was sent, and leave it recorded as running).
  const shielded = (call: () => void): void => {
    try {
      call();
    } catch (error) {
      warn(`a progress listener threw, and was ignored: ${(error as Error)?.message ?? String(error)}`);
    }
  };
  const emit = (event: ProgressEvent) => listeners.forEach((listener) => shielded(() => listener(event)));
  const progressOf = (own: Progress | undefined): Progress | undefined =>
    own
      ? {
          start: (label) => shielded(() => own.start(label)),
          stop: () => shielded(() => own.stop()),
          ...(own.status ? { status: (text: string) => shielded(() => own.status!(text)) } : {}),
          ...(own.stage ? { stage: (stage: string, ms: number, detail?: Record<string, unknown>) => shielded(() => own.stage!(stage, ms, detail)) } : {}),
        }
      : listeners.size === 0
        ? undefined
        : {
            start: (label) => emit({ type: "start", label }),
            stop: () => emit({ type: "stop" }),
            status: (text) => emit({ type: "status", text }),
            stage: (stage, ms, detail) => emit({ type: "stage", stage, ms, ...(detail ? { detail } : {}) }),
          };

  const verifyCode = codeVerifier(store, home, env);
  const twoFactor: TwoFactor = {
    isEnrolled: () => store.twoFactor.isEnrolled(),
    verify: (code, target) => verifyCode(code, { actor, purpose: "run", tool: target.tool, action: target.action, executionId: target.executionId }),
  };
  const deps = async (human: Human | undefined, channel: ApprovalChannel | undefined, onFiled?: RunOptions["onApprovalFiled"]): Promise<ExecuteDeps> =>
    ({
      store,
      home,
      config: await settings(),
      runners: RUNNERS,
      twoFactor,
      human: human ?? channelHuman(channel ?? options.approvals, onFiled),
      autoRollback: async (result, runOptions, runDeps) => (await import("../engine/rollback.js")).autoRollback(result, runOptions, runDeps),
    }) satisfies ExecuteDeps;
  const base = { actor, cwd, env };

  let closed = false;
  let closing: Promise<void> | undefined;
  const inflight = new Set<Promise<unknown>>();
  // What ends each audit export still being read, for close.
  const streams = new Set<() => Promise<void>>();
  const toolctl: Toolctl = {
    home,
    ...(project ? { project } : {}),
    actor,
    settings,
    store,
    ...manageApi({ store, home, env, actor }),
    async importManifests(paths, importOptions = {}) {
      // A string is not iterated as a list of one-letter paths (`"/"` scanned the root directory).
      const given: unknown = paths;
      if (!Array.isArray(given)) {
        throw new UsageError(`importManifests: paths: expected an array of manifest files and directories, got ${shown(given)}`);
      }
      given.forEach((entry: unknown, index) => {
        if (typeof entry !== "string" || entry === "") {
          throw new UsageError(`importManifests: paths[${index}]: expected the path of a manifest file or directory, got ${shown(entry)}`);
        }
      });
      const { importManifests } = await import("../manifest/import.js");
      return importManifests((input) => (importOptions.dryRun ? store.tools.preview(input) : store.tools.save(input)), { paths, actor, cwd });
    },
    async importSpec(source, { dryRun, ...specOptions } = {}) {
      const { importOpenApi } = await import("../manifest/import.js");
      return importOpenApi((input) => (dryRun ? store.tools.preview(input) : store.tools.save(input)), {
        source,
        actor,
        options: { ...specOptions, env, cwd },
      });
    },
    async prepareSpec(source, specOptions = {}) {
      const { prepareOpenApi } = await import("../manifest/import.js");
      const { report, input } = await prepareOpenApi({ source, actor, options: { ...specOptions, env, cwd } });
      return { tool: input.manifest.name, report, save: () => store.tools.save(input), preview: () => store.tools.preview(input) };
    },
    listTools: (query) => store.tools.list(query),
    toolRows: (query) => store.tools.rows(query),
    getTool: (name) => store.tools.get(name),
    describe: async (target) => (await import("../engine/describe.js")).describeTarget({ store, home, cwd, env }, target),
    async exportTool(name, exportOptions = {}) {
      const format: unknown = exportOptions.format ?? "yaml";
      if (format !== "yaml" && format !== "json") throw new UsageError(`exportTool: format: expected "yaml" or "json", got ${shown(format)}`);
      const [{ findTool }, { exportManifest }] = await Promise.all([import("../engine/tools.js"), import("../manifest/export.js")]);
      const tool = await findTool(store, name);
      const manifest = await store.tools.manifest(tool.name);
      if (!manifest) throw new (await import("../errors.js")).NotFoundError(`tool ${name} was removed meanwhile`);
      return exportManifest(manifest, { source: tool.sourcePath, format });
    },

    catalog: async (query) => (await import("../engine/catalog.js")).catalog(store, query),
    registryVersion: () => store.tools.fingerprint(),
    async preview(target, input, runOptions = {}) {
      checkRunOptions("preview", runOptions);
      const { execute } = await import("../engine/execute.js");
      return execute(
        { ...base, target, input: sourcesOf(input), dryRun: true, sandbox: runOptions.sandbox, signal: runOptions.signal, origin: runOptions.origin },
        await deps(undefined, undefined),
      );
    },
    async run(target, input, runOptions = {}) {
      checkRunOptions("run", runOptions);
      personOnly("run", runOptions);
      const { execute } = await import("../engine/execute.js");
      return execute(
        {
          ...base,
          target,
          input: sourcesOf(input),
          dryRun: runOptions.dryRun === true,
          yes: runOptions.yes,
          otp: runOptions.otp,
          wait: runOptions.wait,
          waitSeconds: runOptions.waitSeconds,
          approvalId: runOptions.approvalId,
          origin: runOptions.origin,
          askFirst: runOptions.askFirst,
          sandbox: runOptions.sandbox,
          signal: runOptions.signal,
          progress: progressOf(runOptions.progress),
          interrupts: runOptions.interrupts,
        },
        await deps(runOptions.human, runOptions.approve, runOptions.onApprovalFiled),
      );
    },
    async rollback(executionId, runOptions = {}) {
      personOnly("rollback", runOptions);
      const { rollbackExecution } = await import("../engine/rollback.js");
      return rollbackExecution(
        executionId,
        {
          ...base,
          dryRun: runOptions.dryRun === true,
          yes: runOptions.yes,
          otp: runOptions.otp,
          wait: runOptions.wait,
          signal: runOptions.signal,
          progress: progressOf(runOptions.progress),
          interrupts: runOptions.interrupts,
        },
        await deps(runOptions.human, runOptions.approve),
      );
    },
    async testTool(name, runOptions = {}) {
      const [{ findTool }, { UsageError }] = await Promise.all([import("../engine/tools.js"), import("../errors.js")]);
      const test = (await findTool(store, name)).definition.test;
      if (!test) throw new UsageError(`tool ${name} declares no test; add to its manifest: test: { action: <a read action>, input: {...} }`);
      const result = await toolctl.run(`${name}.${test.action}`, test.input as Record<string, unknown>, runOptions);
      const latencyMs = result.durationMs ?? null;
      const status = result.status !== "succeeded" ? "failing" : latencyMs !== null && latencyMs > test.degradedAfterMs ? "degraded" : "healthy";
      return { tool: name, action: test.action, status, latencyMs, executionId: result.executionId, error: result.error, result };
    },
    async plan(file, planOptions = {}) {
      const [{ readPlanFile }, { previewPlan }, path] = await Promise.all([import("../plan/load.js"), import("../plan/preview.js"), import("node:path")]);
      // Named as given when it is relative to the process's own directory, so messages name it as the user did.
      const located = path.isAbsolute(file) || cwd === process.cwd() ? file : path.resolve(cwd, file);
      return previewPlan(readPlanFile(located), { ...base, signal: planOptions.signal }, await deps(undefined, undefined));
    },
    async apply(plan, applyOptions = {}) {
      const { applyPlan } = await import("../plan/apply.js");
      return applyPlan(plan, applyOptions.saved === true, applyOptionsOf(applyOptions, "apply"), await deps(applyOptions.human, applyOptions.approve));
    },
    async resumePlanRun(id, applyOptions = {}) {
      const { resumePlanRun } = await import("../plan/apply.js");
      return resumePlanRun(id, applyOptionsOf(applyOptions, "resumePlanRun"), await deps(applyOptions.human, applyOptions.approve));
    },
    async rollbackPlanRun(id, applyOptions = {}) {
      const { rollbackPlanRun } = await import("../plan/apply.js");
      return rollbackPlanRun(id, applyOptionsOf(applyOptions, "rollbackPlanRun"), await deps(applyOptions.human, applyOptions.approve));
    },
    async planRun(id) {
      await settle();
      const [{ isOrphaned }, run] = await Promise.all([import("../plan/orphaned.js"), store.planRuns.get(id)]);
      return { ...run, interrupted: isOrphaned(run) };
    },
    async planRuns(query = {}) {
      checkPaging("planRuns", query);
      const { isOrphaned } = await import("../plan/orphaned.js");
      await settle();
      const { total, items } = await store.planRuns.list({ limit: 20, offset: 0, ...query });
      return { total, items: items.map((run) => ({ ...run, interrupted: isOrphaned(run) })) };
    },

    async executions(query = {}) {
      checkPaging("executions", query);
      const checked = timeRange("executions", query);
      await settle();
      return store.executions.list({ limit: 20, offset: 0, ...checked });
    },
    async execution(idOrPrefix) {
      await settle();
      return store.executions.find(idOrPrefix);
    },
    async countExecutions(filter = {}) {
      const checked = timeRange("countExecutions", filter);
      await settle();
      return store.executions.count(checked);
    },
    async stats(query) {
      // Checked here, as the CLI's flags are: a program's typo is one line naming the field, not a database error.
      const { STATS_GROUPS, STATS_PERIODS } = await import("../domain/records.js");
      for (const [field, allowed] of [
        ["period", STATS_PERIODS],
        ["by", STATS_GROUPS],
      ] as const) {
        const value = (query as unknown as Record<string, unknown> | undefined)?.[field];
        if (!(allowed as readonly unknown[]).includes(value)) {
          throw new UsageError(`stats: ${field}: expected one of ${allowed.join(", ")}, got ${JSON.stringify(value) ?? "nothing"}`);
        }
      }
      const checked = timeRange("stats", query);
      await settle();
      return store.executions.stats(checked);
    },
    audit: async (query = {}) => (checkPaging("audit", query), store.audit.query(timeRange("audit", query))),
    countAudit: async (query = {}) => (checkPaging("countAudit", query), store.audit.count(timeRange("countAudit", query))),
    auditEvents: () =>
      closableStream(
        () => store.audit.all(),
        streams,
        () => closed,
        "auditEvents",
      ),
    verifyAudit: () => store.audit.verify(),
    async budget(day) {
      // A run whose process is gone keeps its reservation, shown as of unknown outcome, as `toolctl budget` shows it.
      await settle();
      const { isSpendDay, spendDay } = await import("../policy/spend.js");
      if (day !== undefined && !isSpendDay(day)) throw new UsageError(`budget: expected a UTC day such as 2026-11-21, got ${JSON.stringify(day)}`);
      const which = day ?? spendDay();
      return { spend: await store.ledger.day(which), entries: await store.ledger.entries(which), limits: (await settings()).limits };
    },
    approvals: (all) => store.approvals.list(all),
    on(event: "progress" | "warning", listener: ((event: ProgressEvent) => void) | ((message: string) => void)) {
      const set = (event === "warning" ? warningListeners : listeners) as Set<typeof listener>;
      set.add(listener);
      return () => set.delete(listener);
    },
    close() {
      // A second close while the first is under way waits for it; after it, it does nothing.
      closing ??= (async () => {
        closed = true;
        try {
          // A run in flight is recorded as it ends before the registry closes: closing under it would leave it
          // recorded as running, its spend reserved, and report a success as unknown.
          await Promise.allSettled([...inflight]);
          // An audit export still being read is ended: its open statement would keep the database from closing.
          await Promise.all([...streams].map((end) => end()));
          await store.close();
        } catch (error) {
          // The store is still open: so is this object, and the next close tries again.
          closed = false;
          closing = undefined;
          throw error;
        }
      })();
      return closing;
    },
  };

  /**
   * `yes` approves as a person: an agent never gives it (it would approve what guards against it). Refused
   * whether or not the call needs approval, so an agent's program does not pass until the day it does.
   */
  function personOnly(call: string, given: { yes?: boolean }): void {
    if (actor === "agent" && given.yes === true) {
      throw new NeedsHumanError(
        `${call}: yes (--yes) approves as a person, and the actor is an agent (TOOLCTL_ACTOR=agent): leave it out; what needs approval then asks a person (with wait, --wait, a request for toolctl approve ID)`,
      );
    }
  }
  function applyOptionsOf(given: ApplyCallOptions, call: string): ApplyOptions {
    personOnly(call, given);
    return { ...base, yes: given.yes === true, otp: given.otp, parallelism: given.parallelism ?? 1, signal: given.signal, reporter: given.reporter };
  }
  /** Readers of the history first settle runs whose toolctl process is gone, as `unknown`. */
  async function settle(): Promise<void> {
    try {
      await store.executions.settleAbandoned(actor);
    } catch (error) {
      // A settlement that cannot be written does not stop a reader: it is told, and reads on.
      for (const listener of warningListeners) listener(`could not settle the runs whose toolctl process is gone: ${(error as Error).message}`);
    }
  }
  return closable(toolctl, () => closed, inflight);
}

/**
 * What works and what is missing on this machine for this home: the config, the registry and its audit chain, 2FA,
 * the secrets each tool needs, where the keys are, process confinement, the Docker engine and the images tools
 * name. It opens the home itself and works when the config is broken (that is one of its findings).
 */
export async function diagnose(options: Pick<OpenOptions, "home" | "project" | "env" | "cwd" | "actor" | "store" | "database"> = {}): Promise<Diagnosis> {
  const env = options.env ?? process.env;
  const { chooseHome, resolveActor, settingsHome } = await import("../config/home.js");
  const { diagnose: run } = await import("../engine/doctor.js");
  const { home, project } = chooseHome(options, env, options.cwd ?? process.cwd());
  // A store the caller passed stays open: it is theirs to close.
  const given = options.store;
  const openStore = async (): Promise<Store> =>
    given
      ? Object.create(given, { close: { value: async () => {} } })
      : (await import("../store/open.js")).openStore(home, env, options.database, settingsHome({ home, project }));
  return run(
    {
      home,
      env,
      cwd: options.cwd ?? process.cwd(),
      actor: options.actor ?? resolveActor(env),
      settingsHome: settingsHome({ home, project }),
      ...(project ? { project } : {}),
    },
    openStore,
  );
}

export interface TransferOptions {
  /** The home whose keys sign and verify the copy (and, for `migrateRegistry`, whose registry is copied). */
  home?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * `toolctl db migrate-to URL`: copies the home's SQLite registry (tools, grants, history, approvals, ledger, audit
 * log, 2FA, passkeys; never secrets) into the empty PostgreSQL database at `to`, in one transaction, then verifies
 * the audit chain and every execution's signature there. A home whose own chain does not verify is not copied.
 */
export async function migrateRegistry(options: TransferOptions & { to: string }): Promise<TransferReport> {
  const env = options.env ?? process.env;
  const { home } = (await import("../config/home.js")).chooseHome(options, env, process.cwd());
  const { isPostgresUrl, redactDatabaseUrl } = await import("../util/database-url.js");
  if (!isPostgresUrl(options.to))
    throw new UsageError(`db migrate-to: expected a postgres:// or postgresql:// URL, got ${JSON.stringify(redactDatabaseUrl(options.to))}`);
  return (await import("../store/transfer.js")).migrateToPostgres(home, env, options.to);
}

/**
 * `toolctl db export DIR`: copies the team database (`database`, else `TOOLCTL_DATABASE_URL`, else `database.url`)
 * into a new SQLite registry in `to`, from one snapshot, and verifies the copy with the home's audit key.
 */
export async function exportRegistry(options: TransferOptions & { database?: string; to: string }): Promise<TransferReport> {
  const env = options.env ?? process.env;
  const { home } = (await import("../config/home.js")).chooseHome(options, env, process.cwd());
  const { resolveDatabase } = await import("../config/database.js");
  const source = await resolveDatabase(options.database, home, env);
  if (!source) throw new UsageError("db export: no team database is named: give --database URL, or set TOOLCTL_DATABASE_URL");
  return (await import("../store/transfer.js")).exportToSqlite(source.url, home, env, options.to);
}

/**
 * A commented manifest to start a tool from (`toolctl new`): an http, process or docker tool that imports as it
 * is, or (http) one action made from a curl command line, with every credential in it replaced by a secret
 * reference; `secrets` names them. It opens no home and writes nothing: the caller writes `text` where it wants.
 */
export async function newManifest(options: ScaffoldOptions): Promise<Scaffold> {
  return (await import("../manifest/scaffold.js")).scaffoldManifest(options);
}
