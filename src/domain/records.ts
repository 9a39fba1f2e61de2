/**
 * The records toolctl keeps: tools and actions as registered, executions, approvals, audit events, plan runs,
 * spend and the state behind the circuit breaker and 2FA. Every store adapter reads and writes these shapes;
 * the engine, the API and the front doors see nothing else of storage.
 */
import type { ActionSpec, Manifest } from "./manifest.js";
import type { Asks } from "./permissions.js";
import type { ApprovalRequest } from "./approval-request.js";

export type ToolStatus = "pending" | "active" | "disabled" | "revoked";

export type ToolDefinition = Omit<Manifest, "actions">;

export interface ToolSummary {
  name: string;
  version: string;
  description: string;
  runtime: string;
  status: ToolStatus;
  tags: string[];
  actionCount: number;
  secrets: string[];
  sourcePath: string | null;
  digest: string;
  createdAt: string;
  updatedAt: string;
  /** True for tools that need a grant even within the defaults (an imported OpenAPI spec). */
  requiresApproval: boolean;
  /** What `toolctl tool approve` granted, or null. */
  grants: Asks | null;
}

export interface ToolRecord extends ToolSummary {
  definition: ToolDefinition;
  /** Where the tool can reach (domain/permissions.ts `reachOf`), and what of it the user accepted; null before they were recorded. */
  reach: string[] | null;
  acceptedReach: string[] | null;
}

export interface ActionRecord {
  tool: string;
  name: string;
  kind: ActionSpec["kind"];
  description: string;
  definition: ActionSpec;
  inputValidator: string | null;
  outputValidator: string | null;
}

export interface ListToolsQuery {
  runtime?: string;
  status?: string;
  tag?: string;
  search?: string;
}

/** Every status an execution is written with (`--status` offers these). */
export const EXECUTION_STATUSES = ["running", "succeeded", "failed", "unknown", "declined", "dry_run", "rolled_back"] as const;

/** `requested` and `approved` are only found in registries written by older versions (migrated or settled on open). */
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number] | "requested" | "approved";

/** Why a run failed. `other` is for failures that fit none of the rest (it was `unknown`, easily read as the outcome status). */
export type ErrorCategory =
  "network" | "authentication" | "authorization" | "rate_limit" | "validation" | "timeout" | "server_error" | "resource_limit" | "environment" | "other";

/**
 * Which front door a run came through when it was not the CLI or a program's own call: for an MCP server, the
 * client's name and version as it announced them and the session id. Recorded on the execution and its audit events.
 */
export interface ExecutionOrigin {
  via: "mcp";
  client?: { name: string; version: string };
  session?: string;
}

/**
 * What went wrong with an execution: the same object in `run --json`, `executions --json`, `executions show`, the
 * API and MCP. `code` is one of the error codes (src/errors.ts), `exitCode` the exit code the run ended with, and
 * `problems` lists every problem when there are several (invalid input).
 */
export interface ExecutionError {
  code: string;
  exitCode: number;
  category: ErrorCategory;
  message: string;
  problems?: string[];
}

export interface Execution {
  id: string;
  tool: string;
  action: string;
  actor: string;
  status: ExecutionStatus;
  input: unknown;
  output: unknown;
  /** The prepared request the runner sent (or would send), redacted, with what came back under `result`. */
  request: unknown;
  /** Null for a run that did not fail. */
  error: ExecutionError | null;
  costUsd: number | null;
  risk: string | null;
  toolDigest: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  /** Peak memory, CPU time and duration of a sandboxed run. */
  resources: unknown;
  /** For a compensation: the execution it undoes. */
  rollbackOf: string | null;
  /** For a step of an applied plan: the plan run (toolctl plan-runs show ID). */
  planRunId: string | null;
  /** The front door it came through (an MCP client), or null. */
  origin: ExecutionOrigin | null;
}

export type ApprovalStatus = "pending" | "approved" | "denied" | "expired" | "used";

export interface Approval {
  id: string;
  tool: string;
  action: string;
  digest: string;
  /** What the approver is shown; null when it cannot be trusted (see `problem`). */
  request: ApprovalRequest | null;
  /** Why the request is neither shown nor approvable: it does not match its digest, or was filed without it. */
  problem: string | null;
  /** The input (redacted), as in the request; null with the request. */
  input: unknown;
  costUsd: number;
  risk: string;
  needsOtp: boolean;
  status: ApprovalStatus;
  requestedBy: string;
  requestedAt: string;
  expiresAt: string;
  decidedBy: string | null;
  decidedVia: string | null;
  decidedAt: string | null;
  executionId: string | null;
}

export interface AuditEventInput {
  type: string;
  actor: string;
  tool?: string | null;
  action?: string | null;
  executionId?: string | null;
  status?: string | null;
  data?: Record<string, unknown>;
}

export interface AuditEvent {
  seq: number;
  ts: string;
  type: string;
  actor: string;
  tool: string | null;
  action: string | null;
  executionId: string | null;
  status: string | null;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
  keyId: string | null;
}

export interface AuditVerification {
  ok: boolean;
  events: number;
  head: { seq: number; hash: string } | null;
  /** Signs of tampering: any one makes `ok` false. */
  problems: string[];
  /** What is fine but worth saying (a head file left behind by a process that was killed). */
  notes: string[];
  /** Executions whose signature was checked. */
  executions: number;
}

export interface AuditQuery {
  tool?: string;
  action?: string;
  status?: string;
  type?: string;
  actor?: string;
  executionId?: string;
  since?: string;
  until?: string;
  /** The newest `limit` events matching, after skipping the newest `offset` of them; returned oldest first. */
  limit?: number;
  offset?: number;
}

export interface PlanRunQuery {
  limit: number;
  offset?: number;
}

export type PlanRunStatus = "running" | "succeeded" | "failed" | "rolled_back" | "interrupted";

export type PlanStepStatus =
  "pending" | "running" | "succeeded" | "failed" | "unknown" | "skipped" | "not_started" | "rolled_back" | "rollback_failed" | "left_in_place";

/**
 * A step of a plan run: the same object in `apply --json` (and `plan-runs resume|rollback --json`), `plan-runs
 * show --json` and the API. `id` is the step's id in the plan; `action` the tool.action it runs.
 */
export interface PlanRunStep {
  id: string;
  action: string;
  position: number;
  status: PlanStepStatus;
  executionId: string | null;
  rollbackExecutionId: string | null;
  note: string | null;
  finishedAt: string | null;
}

export interface PlanRun {
  id: string;
  planId: string;
  name: string;
  status: PlanRunStatus;
  plan: unknown;
  actor: string;
  pid: number | null;
  /** The start time of process `pid` (Linux), so a reused pid is not taken for the run's. */
  pidStart: string | null;
  /**
   * The machine `pid` runs on, where several share one database (PostgreSQL); null in a home's own registry. Only
   * that machine can tell whether the process is gone.
   */
  host?: string | null;
  /** Why the run did not succeed: the error object executions have (see ExecutionError); null when nothing went wrong. */
  error: ExecutionError | null;
  createdAt: string;
  updatedAt: string;
  steps: PlanRunStep[];
}

export interface CircuitSettings {
  /** Consecutive failed calls that open the circuit. */
  failures: number;
  /** How long it stays open before one trial call is let through. */
  halfOpenAfterSeconds: number;
}

/** Why a call may not go out now. */
export interface CircuitRefusal {
  /** When the pause ends (or ended, when a trial is in progress). */
  reopensAt: number;
  /** Another process holds the trial call, until `trialUntil` at the latest. */
  trialUntil?: number;
}

export type Admission = { admitted: true; trial?: string } | ({ admitted: false } & CircuitRefusal);

/** How an admitted call ended, for the count: `none` when it proved nothing (interrupted, or nothing was sent). */
export type CallResult = "succeeded" | "failed" | "none";

export interface VerifyContext {
  actor: string;
  /** Why a code was asked for; recorded in the audit log. */
  purpose: "enroll" | "disable" | "run" | "approve" | "passkey-add" | "passkey-remove";
  executionId?: string;
  approvalId?: string;
  tool?: string;
  action?: string;
}

export interface TwoFactorStatus {
  /** A confirmed enrolment exists: CRITICAL actions need a code. */
  enrolled: boolean;
  /** An enrolment was started but no code has confirmed it yet; it has no effect. */
  pending: boolean;
  /** When the enrolment was confirmed (or, while pending, started). */
  since: string | null;
  failuresInWindow: number;
  maxFailures: number;
  windowMinutes: number;
  throttledUntil: string | null;
  /** The registered passkeys (WebAuthn), oldest first: the approval page approves with one of them. */
  passkeys: PasskeyInfo[];
}

/**
 * A registered passkey, as kept: the credential the authenticator made (its id and public key, both public), the
 * signature counter it last reported, how it can be reached, and the name the user gave it. The private key never
 * leaves the authenticator.
 */
export interface Passkey {
  /** The credential id, base64url, as the authenticator names it. */
  id: string;
  name: string;
  /** The credential's COSE public key, base64url. */
  publicKey: string;
  /** The signature counter the authenticator last reported (0 for authenticators that keep none). */
  counter: number;
  /** How the browser reaches the authenticator ("internal", "usb", "hybrid" …), as it said at registration. */
  transports: string[];
  createdAt: string;
  lastUsedAt: string | null;
}

/** A passkey as shown: no key material. */
export type PasskeyInfo = Pick<Passkey, "id" | "name" | "transports" | "createdAt" | "lastUsedAt">;

export const STATS_PERIODS = ["hour", "day", "week", "month"] as const;
export const STATS_GROUPS = ["tool", "action", "status"] as const;

export type LedgerState = "reserved" | "committed" | "released";

export interface DaySpend {
  day: string;
  committedUsd: number;
  reservedUsd: number;
}

export interface Reservation {
  executionId: string;
  tool: string;
  action: string;
  amountUsd: number;
  day: string;
  dailyLimitUsd: number;
}

export type ReserveResult = { ok: true; after: DaySpend } | { ok: false; spend: DaySpend };

export interface ReservationRow {
  executionId: string;
  tool: string;
  action: string;
  amountUsd: number;
  state: LedgerState;
  createdAt: string;
  /** `unknown` for a run whose process was killed: readers settle it so (see abandoned.ts) and it stays reserved. */
  executionStatus: string | null;
}

export interface CountFilter {
  tool?: string;
  action?: string;
  status?: string;
  actor?: string;
  since?: string;
  until?: string;
}

export interface NewExecution {
  id: string;
  tool: string;
  action: string;
  actor: string;
  status: ExecutionStatus;
  input: unknown;
  createdAt: string;
  toolDigest?: string | null;
  rollbackOf?: string;
  planRunId?: string;
  origin?: ExecutionOrigin;
}

export interface ExecutionUpdate {
  status?: ExecutionStatus;
  output?: unknown;
  request?: unknown;
  error?: string | null;
  errorCategory?: ErrorCategory | null;
  /** The error code, the exit code and the problems of `error` (see ExecutionError). */
  errorCode?: string | null;
  errorExitCode?: number | null;
  errorProblems?: string[] | null;
  costUsd?: number | null;
  risk?: string | null;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  resources?: unknown;
}

export interface ExecutionQuery extends CountFilter {
  limit: number;
  offset: number;
}

export interface NewApproval {
  request: ApprovalRequest;
  /** `approvalDigest(request)`, as the engine computed it for the run waiting on this. */
  digest: string;
  requestedBy: string;
  timeoutSeconds: number;
}

export type DecideResult = { ok: true; approval: Approval } | { ok: false; reason: string };

export type ToolRow5 = [name: string, runtime: string, status: ToolStatus, actionCount: number, description: string];

export interface CompiledAction {
  name: string;
  spec: ActionSpec;
  /** Absent: compiled on the action's first run (an imported API with hundreds of operations). */
  inputValidator?: { digest: string; code: string };
  outputValidator?: { digest: string; code: string };
}

export interface SaveToolInput {
  manifest: Manifest;
  digest: string;
  secrets: string[];
  sourcePath: string;
  actions: CompiledAction[];
  actor: string;
  /** An imported OpenAPI spec: pending until approved, whatever it asks for. */
  requiresApproval?: boolean;
  /**
   * `digest` is `digestOf(manifest)`, as a manifest file's is: a stored tool with another digest but the same
   * content (an OpenAPI import's digest is over the converter's text) is then `unchanged`.
   */
  canonicalDigest?: boolean;
}

export interface SaveToolResult {
  tool: string;
  change: "added" | "updated" | "unchanged";
  status: ToolStatus;
  actions: { added: string[]; changed: string[]; removed: string[] };
  /** What a re-import added to the tool's reach that the user had not accepted (it is pending then). */
  widened?: string[];
}

export type StatsPeriod = (typeof STATS_PERIODS)[number];

export type StatsGroup = (typeof STATS_GROUPS)[number];

export interface StatsQuery {
  period: StatsPeriod;
  by: StatsGroup;
  /** ISO times, inclusive. */
  since?: string;
  until?: string;
  tool?: string;
}

export interface StatsCounts {
  /** Every execution recorded, whatever its status (refusals and approval requests included). */
  count: number;
  succeeded: number;
  /** Status `failed` only: the action failed, or its input was invalid and nothing ran. */
  failed: number;
  /** The outcome is not known: the action may have happened. */
  unknown: number;
  dryRuns: number;
  /** USD of succeeded and unknown executions: an unknown outcome may have spent the money. */
  spendUsd: number;
}

export interface StatsRow extends StatsCounts {
  /** `2026-11-21T09:00` (hour), `2026-11-21` (day), the Monday that starts the week (week), `2026-11` (month). */
  bucket: string;
  /** The tool, `tool.action`, or the status. */
  group: string;
}

export interface Stats {
  period: StatsPeriod;
  by: StatsGroup;
  rows: StatsRow[];
  totals: StatsCounts;
}
