/**
 * The API's types: how it is opened, what a run takes, and the `Toolctl` object itself. Kept apart from
 * `index.ts` (which builds that object) so the surface can be read in one place.
 */
import type { Actor, ProjectRef } from "../config/home.js";
import type { Config } from "../config/schema.js";
import type {
  Approval,
  AuditEvent,
  AuditQuery,
  AuditVerification,
  ExecutionError,
  CountFilter,
  DaySpend,
  Execution,
  ExecutionOrigin,
  ExecutionQuery,
  ListToolsQuery,
  PlanRun,
  PlanRunQuery,
  ReservationRow,
  SaveToolResult,
  Stats,
  StatsQuery,
  ToolRecord,
  ToolRow5,
  ToolSummary,
} from "../domain/records.js";
import type { Human } from "../engine/approve.js";
import type { CatalogEntry, CatalogQuery } from "../engine/catalog.js";
import type { Description } from "../engine/describe.js";
import type { ExecuteOptions, ExecuteResult, Progress } from "../engine/execute.js";
import type { SourcedInput } from "./input.js";
import type { ExportedTool, ExportFormat } from "../manifest/export.js";
import type { ImportReport } from "../manifest/import.js";
import type { ConvertReport, OpenApiImportOptions } from "../openapi/index.js";
import type { ApprovalRequest } from "../policy/approval.js";
import type { ApplyOptions, ApplyResult, StepReporter } from "../plan/apply.js";
import type { PlanPreview } from "../plan/preview.js";
import type { Store } from "../store/port.js";
import type { ManageApi } from "./manage.js";

/** The human's answer to an approval request, or that no human can be asked from here. */
export type ApprovalDecision = { approved: true; otp?: string } | { approved: false; reason?: string } | { needsHuman: true };

/**
 * How a run asks a human. It receives exactly what the approver is shown (the request, its cost, risk and undo)
 * and returns their decision. Without one, an action that needs approval ends `declined` with `needs_human`.
 */
export type ApprovalChannel = (request: ApprovalRequest) => Promise<ApprovalDecision>;

export interface OpenOptions {
  /**
   * The toolctl home (registry, config, keys). Default: `TOOLCTL_HOME`, else the `.toolctl/` of the nearest
   * `toolctl.yaml` in `cwd` or above it (see `project`), else `~/.toolctl`. Given, it wins.
   */
  home?: string;
  /**
   * The project whose `toolctl.yaml` limits and settings apply (over the user's `~/.toolctl/config.yaml`).
   * Found from `cwd` when neither this nor `home` is given; alone, it also makes `<root>/.toolctl` the home.
   */
  project?: ProjectRef;
  /** Where relative paths and `.env` are read from. Default: `process.cwd()`. */
  cwd?: string;
  /** The environment secrets and settings are read from. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Who acts, recorded on every execution and audit event. Default: from the environment (`user`, or `ci` under CI). */
  actor?: Actor;
  /**
   * A team's PostgreSQL database (`postgres://…`) to use instead of the home's SQLite registry. Default:
   * `TOOLCTL_DATABASE_URL`, else `database.url` in the home's config.yaml, else the home's registry.db. The home
   * still holds this machine's config, keys and secrets.
   */
  database?: string;
  /** A store to use instead of opening one (another backend); it wins over `database`. */
  store?: Store;
  /** Settings to use instead of the home's config.yaml (and its environment overrides). */
  config?: Config;
  /** How a human approves; see `ApprovalChannel`. A run's own `approve` option overrides it. */
  approvals?: ApprovalChannel;
}

export interface RunOptions {
  /** Show the decision only: nothing runs (same as `preview`, but recorded as a dry run when config asks). */
  dryRun?: boolean;
  /** Approves without asking (a CRITICAL action also needs `otp`). */
  yes?: boolean;
  /** The TOTP code for a CRITICAL action. */
  otp?: string;
  /** File an approval request and wait until it is decided (`toolctl approve ID` from a terminal). */
  wait?: boolean;
  /**
   * With `wait`: stop waiting after this many seconds. The request stays open; the run ends `declined` with
   * error code `approval_pending` and `approval.requestId`, and a later run with `approvalId` uses it once approved.
   */
  waitSeconds?: number;
  /** With `wait`: told the filed request's id as soon as it is filed (to tell the human where to decide). */
  onApprovalFiled?: (approvalId: string, expiresAt: string) => void;
  /** Run under an approval request filed earlier and since approved; it must be for exactly this call. Used once. */
  approvalId?: string;
  /** The front door the run came through, recorded on the execution and its audit events. */
  origin?: ExecutionOrigin;
  /**
   * With `wait` and `approve`: ask that channel first, and file a request only when it answers `needsHuman`.
   * `via` names the channel in the audit log. A request that needs a TOTP code is always filed.
   */
  askFirst?: { via: string };
  sandbox?: "docker" | "none";
  /** The human to ask for this run; overrides the one given to `openToolctl`. */
  approve?: ApprovalChannel;
  signal?: AbortSignal;
  progress?: Progress;
  /** For front doors that handle Ctrl-C themselves: see ExecuteOptions.interrupts. */
  interrupts?: ExecuteOptions["interrupts"];
  /** For front doors that prompt in a terminal: a full Human instead of an ApprovalChannel. */
  human?: Human;
}

/** A run's input: an object (the input itself), or the CLI's sources (`--param`, `--params`, `--params-file`) made with `inputSources()`. */
export type RunInput = Record<string, unknown> | SourcedInput;

export interface ToolHealth {
  tool: string;
  action: string;
  status: "healthy" | "degraded" | "failing";
  latencyMs: number | null;
  executionId?: string;
  /** The test run's error, as every execution's error (see ExecutionError). */
  error?: ExecutionError;
  /** The test run, as `run` returns it. */
  result: ExecuteResult;
}

export type ProgressEvent =
  | { type: "start"; label: string }
  | { type: "stop" }
  | { type: "status"; text: string }
  /** A pipeline stage that ended, with its duration (see Progress.stage). */
  | { type: "stage"; stage: string; ms: number; detail?: Record<string, unknown> };

/**
 * A history query as a program gives it: `since` and `until` as ISO dates or times (read as the CLI reads
 * `--since` and `--until`: in UTC, a bare date the whole day) or as `Date`s.
 */
export type TimeFiltered<Q> = Omit<Q, "since" | "until"> & { since?: string | Date; until?: string | Date };

export interface Toolctl extends ManageApi {
  readonly home: string;
  /** The project whose toolctl.yaml applies, when there is one. */
  readonly project?: ProjectRef;
  readonly actor: Actor;
  /** The settings in effect (config.yaml and its environment overrides), read on first need; a broken config.yaml rejects here. */
  settings(): Promise<Config>;
  readonly store: Store;

  /**
   * Imports manifest files and directories. With `dryRun`, each result says what the import would do (added,
   * updated or unchanged, and the status the tool would have), and nothing is written.
   */
  importManifests(paths: string[], options?: { dryRun?: boolean }): Promise<ImportReport>;
  /** Imports an OpenAPI spec as one tool; with `dryRun`, says what the import would do and writes nothing. */
  importSpec(
    source: string,
    options?: Omit<OpenApiImportOptions, "env" | "cwd"> & { dryRun?: boolean },
  ): Promise<{ report: ConvertReport; result: SaveToolResult }>;
  /**
   * Converts a spec as `importSpec` does, without saving it: the tool's name, the report, `save()` to import it and
   * `preview()` for what `save()` would report, writing nothing.
   */
  prepareSpec(
    source: string,
    options?: Omit<OpenApiImportOptions, "env" | "cwd">,
  ): Promise<{ tool: string; report: ConvertReport; save(): Promise<SaveToolResult>; preview(): Promise<SaveToolResult> }>;
  listTools(query?: ListToolsQuery): Promise<ToolSummary[]>;
  /** The five columns of `toolctl list`, cheaply. */
  toolRows(query?: ListToolsQuery): Promise<ToolRow5[]>;
  getTool(name: string): Promise<ToolRecord | undefined>;
  /** A tool (`name`) with its actions' cost and risk rules, or one action (`tool.action`) in full, as `toolctl show` prints it. */
  describe(target: string): Promise<Description>;
  /**
   * The tool as a `toolctl/v1` manifest (YAML with a header comment, or JSON) that re-imports `unchanged`, an
   * imported OpenAPI spec's shared definitions included; values equal to their default are left out.
   */
  exportTool(name: string, options?: { format?: ExportFormat }): Promise<ExportedTool>;

  /**
   * Every action of the active tools (or of some tools, or of those with a tag), with its kind, self-contained
   * input and output schemas, cost and risk rules and undo: what an agent may be offered.
   */
  catalog(query?: CatalogQuery): Promise<CatalogEntry[]>;
  /** A value that changes whenever the runnable tools change (import, removal, status change, grant); cheap to poll. */
  registryVersion(): Promise<string>;
  /** The decision for an action, without running it: request, cost, risk, approval need, budget effect, undo. */
  preview(target: string, input?: RunInput, options?: Pick<RunOptions, "sandbox" | "signal" | "origin">): Promise<ExecuteResult>;
  run(target: string, input?: RunInput, options?: RunOptions): Promise<ExecuteResult>;
  rollback(executionId: string, options?: Omit<RunOptions, "sandbox">): Promise<ExecuteResult & { rollbackOf: string }>;
  /**
   * Runs the tool's declared harmless read (`test:` in its manifest) for real, as a health check: `healthy`,
   * `degraded` (it worked, slower than `degradedAfterMs`) or `failing`, with the latency and the run itself.
   */
  testTool(name: string, options?: RunOptions): Promise<ToolHealth>;
  plan(file: string, options?: { signal?: AbortSignal }): Promise<PlanPreview>;
  /** Applies a plan made by `plan` (or read from a saved plan file, `saved: true`). */
  apply(plan: PlanPreview, options?: ApplyCallOptions): Promise<ApplyResult>;
  resumePlanRun(id: string, options?: ApplyCallOptions): Promise<ApplyResult>;
  rollbackPlanRun(id: string, options?: ApplyCallOptions): Promise<ApplyResult>;
  /** A plan run by id or unique prefix; `interrupted` when the process applying it is gone. */
  planRun(id: string): Promise<PlanRun & { interrupted: boolean }>;
  /** The newest plan runs (20 unless `limit`, after skipping the newest `offset`), and how many there are in all. */
  planRuns(query?: Partial<PlanRunQuery>): Promise<{ total: number; items: Array<Omit<PlanRun, "plan" | "steps"> & { interrupted: boolean }> }>;

  executions(query?: TimeFiltered<Partial<ExecutionQuery>>): Promise<{ total: number; items: Execution[] }>;
  /** An execution by id or unique prefix; an array when the prefix is ambiguous. */
  execution(idOrPrefix: string): Promise<Execution | Execution[] | undefined>;
  countExecutions(filter?: TimeFiltered<CountFilter>): Promise<number>;
  stats(query: TimeFiltered<StatsQuery>): Promise<Stats>;
  audit(query?: TimeFiltered<AuditQuery>): Promise<AuditEvent[]>;
  /** How many audit events match the query's filters (its limit and offset aside). */
  countAudit(query?: TimeFiltered<AuditQuery>): Promise<number>;
  auditEvents(): AsyncIterable<AuditEvent>;
  verifyAudit(): Promise<AuditVerification>;
  budget(day?: string): Promise<{ spend: DaySpend; entries: ReservationRow[]; limits: Config["limits"] }>;
  approvals(all?: boolean): Promise<Approval[]>;

  /** Progress of running actions (a spinner's start and stop, an image pull's status lines, each pipeline stage's time). */
  on(event: "progress", listener: (event: ProgressEvent) => void): () => void;
  /** Something went wrong that did not stop the call (a run whose process is gone could not be settled). */
  on(event: "warning", listener: (message: string) => void): () => void;
  close(): Promise<void>;
}

export interface ApplyCallOptions extends Partial<Pick<ApplyOptions, "yes" | "otp" | "parallelism" | "signal">> {
  /** The plan was read from a saved file: refused when stale. */
  saved?: boolean;
  reporter?: StepReporter;
  approve?: ApprovalChannel;
  human?: Human;
}
