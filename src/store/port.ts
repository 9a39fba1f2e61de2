/**
 * The `Store` port: everything toolctl keeps, behind one asynchronous interface. The engine, the policy code and
 * the API talk to this and nothing else; `sqlite/` implements it today, and a second backend (PostgreSQL for a
 * team) implements the same methods without touching them.
 *
 * Each method that writes is one transaction: an execution row and its audit event, a reservation and the intent
 * it belongs to, commit together or not at all. Expected refusals (a limit reached, an approval already used) come
 * back as values; an exception means the store itself failed.
 */
import type {
  Admission,
  Approval,
  AuditEvent,
  AuditEventInput,
  AuditQuery,
  AuditVerification,
  CallResult,
  CircuitRefusal,
  CircuitSettings,
  CountFilter,
  DaySpend,
  DecideResult,
  Execution,
  ExecutionError,
  ExecutionQuery,
  ExecutionStatus,
  ExecutionUpdate,
  ListToolsQuery,
  NewApproval,
  NewExecution,
  PlanRun,
  PlanRunQuery,
  PlanRunStatus,
  PlanRunStep,
  ReservationRow,
  SaveToolInput,
  SaveToolResult,
  Stats,
  StatsQuery,
  ToolRecord,
  ToolRow5,
  ToolStatus,
  ToolSummary,
  ActionRecord,
  Passkey,
  TwoFactorStatus,
  VerifyContext,
} from "../domain/records.js";
import type { Manifest } from "../domain/manifest.js";
import type { Asks } from "../domain/permissions.js";
import type { KeyRing } from "../secrets/crypto.js";

export interface CatalogQuery {
  /** Only these tools. */
  tools?: string[];
  /** Only tools with this tag. */
  tag?: string;
}

/** One action of an active tool, with its tool's description and tags. */
export interface CatalogRow {
  tool: string;
  toolDescription: string;
  tags: string[];
  runtime: string;
  action: string;
  kind: ActionRecord["kind"];
  description: string;
  definition: ActionRecord["definition"];
}

export interface ToolStore {
  list(query?: ListToolsQuery): Promise<ToolSummary[]>;
  /** The five columns `toolctl list` prints, without building a record per tool. */
  rows(query?: ListToolsQuery): Promise<ToolRow5[]>;
  get(name: string): Promise<ToolRecord | undefined>;
  names(): Promise<string[]>;
  /** Each container image a tool names, once, and whether a Docker tool (rather than a process tool's sandbox) uses it. */
  images(): Promise<Array<{ image: string; docker: boolean }>>;
  actionNames(tool: string): Promise<string[]>;
  /** An action; `withValidators` false skips loading its compiled validators. */
  action(tool: string, name: string, withValidators?: boolean): Promise<ActionRecord | undefined>;
  actions(tool: string): Promise<Array<Pick<ActionRecord, "name" | "kind" | "description">>>;
  /** Every action of the active tools (optionally only some tools, or those with a tag), in one read: what an agent may be offered. */
  catalog(query?: CatalogQuery): Promise<CatalogRow[]>;
  /**
   * A value that changes whenever the set of runnable tools or their actions changes (an import, a removal, a
   * status change, a grant): cheap enough to poll every second.
   */
  fingerprint(): Promise<string>;
  /** Shared schema definitions of a tool (an imported spec's components), all or by name. */
  definitions(tool: string, names?: string[]): Promise<Record<string, unknown>>;
  /** The tool as a manifest: its definition, shared definitions and actions (by name), as imported. */
  manifest(name: string): Promise<Manifest | undefined>;
  save(input: SaveToolInput): Promise<SaveToolResult>;
  /** What `save` would report for `input` (added, updated or unchanged, and the status it would have), writing nothing. */
  preview(input: SaveToolInput): Promise<SaveToolResult>;
  /** Validators compiled on an action's first run, kept for the tool version they were compiled for. */
  saveValidators(
    tool: string,
    action: string,
    toolDigest: string,
    input: { digest: string; code: string },
    output?: { digest: string; code: string },
  ): Promise<void>;
  setStatus(name: string, status: ToolStatus, actor: string): Promise<{ previous: ToolStatus; changed: boolean }>;
  approve(name: string, digest: string, actor: string): Promise<{ previous: ToolStatus; status: ToolStatus; grants: Asks }>;
  revoke(name: string, actor: string, extra?: Record<string, unknown>): Promise<{ previous: ToolStatus }>;
  remove(name: string, actor: string, data?: Record<string, unknown>): Promise<void>;
}

/** An attempt that ends before anything ran (refused, invalid, needing a human, a dry run), with its audit event. */
export interface EndedAttempt {
  execution: NewExecution;
  update: ExecutionUpdate;
  audit: AuditEventInput;
}

/** The intent, written before any side effect: the tool is re-read, the approval used and the spend reserved with it. */
export interface StartedRun {
  execution: NewExecution;
  update: ExecutionUpdate;
  audit: AuditEventInput;
  /** The tool version the run was decided for: a tool changed or disabled since refuses the start. */
  toolDigest: string;
  /** An approval decided from another terminal, used up by this run. */
  approval?: { id: string; digest: string };
  /** Spend reserved against the day's limit; absent for a free action. */
  reserve?: { amountUsd: number; day: string; dailyLimitUsd: number };
}

export type StartRefusal =
  | { ok: false; reason: "tool_changed"; message: string }
  | { ok: false; reason: "approval_unusable"; message: string }
  /** A compensation (`rollbackOf`) of an execution already undone, or being undone by another run. */
  | { ok: false; reason: "rollback_taken"; message: string }
  | { ok: false; reason: "over_daily_limit"; spend: DaySpend };

export interface ExecutionStore {
  /** An execution by id or unique prefix; an array when the prefix is ambiguous. */
  find(idOrPrefix: string): Promise<Execution | Execution[] | undefined>;
  list(query: ExecutionQuery): Promise<{ total: number; items: Execution[] }>;
  count(filter: CountFilter): Promise<number>;
  stats(query: StatsQuery): Promise<Stats>;
  ended(attempt: EndedAttempt): Promise<void>;
  started(run: StartedRun): Promise<{ ok: true } | StartRefusal>;
  /**
   * The outcome, settling the reservation in the same transaction (spent when it succeeded, kept when unknown).
   * It waits longer for a busy store than any other write: the action has happened.
   */
  finished(id: string, status: ExecutionStatus, update: ExecutionUpdate, audit: AuditEventInput): Promise<void>;
  /** The original is undone: marked `rolled_back` with its audit event; a reservation still held (its outcome was unknown) is spent. */
  rolledBack(id: string, audit: AuditEventInput): Promise<void>;
  /**
   * An idempotent execution cut off mid-run and run again (a resumed plan step) by one that succeeded: the effect
   * is counted once, by that one, so a reservation it still holds is released, with its audit event.
   */
  superseded(id: string, audit: AuditEventInput): Promise<void>;
  /** The compensation that rolled an execution back, if one succeeded. */
  compensatedBy(id: string): Promise<string | undefined>;
  /** Runs left `running` or `requested` by a toolctl process that is gone become `unknown`; returns their ids. */
  settleAbandoned(actor: string): Promise<string[]>;
}

export interface ApprovalStore {
  file(request: NewApproval): Promise<Approval>;
  get(id: string): Promise<Approval | undefined>;
  list(all?: boolean): Promise<Approval[]>;
  decide(id: string, decision: "approved" | "denied", by: string, via: string, shownDigest?: string): Promise<DecideResult>;
}

export interface LedgerStore {
  day(day: string): Promise<DaySpend>;
  entries(day: string): Promise<ReservationRow[]>;
}

export interface AuditStore {
  append(event: AuditEventInput): Promise<{ seq: number; hash: string }>;
  /** The newest `limit` events matching, after skipping the newest `offset` of them, oldest first. */
  query(query: AuditQuery): Promise<AuditEvent[]>;
  /** How many events match the query's filters; its limit and offset are ignored. */
  count(query: AuditQuery): Promise<number>;
  /** Every event in order, streamed: an export of millions of events never holds them all. */
  all(): AsyncIterable<AuditEvent>;
  verify(): Promise<AuditVerification>;
}

/** The code check's verdict: a refusal says why, and when to try again after too many wrong codes. */
export type CodeVerdict = { ok: true; step: number } | { ok: false; reason: "not_enrolled" | "invalid" | "replayed" | "throttled"; retryAfterSeconds?: number };

export interface TwoFactorStore {
  isEnrolled(): Promise<boolean>;
  status(nowMs?: number): Promise<TwoFactorStatus>;
  begin(ring: KeyRing, actor: string): Promise<{ secret: string; startedAt: string }>;
  confirm(ring: KeyRing, code: string, nowMs: number, actor: string): Promise<CodeVerdict>;
  verify(ring: KeyRing, code: string, nowMs: number, context: VerifyContext): Promise<CodeVerdict>;
  disable(ring: KeyRing, code: string, nowMs: number, actor: string): Promise<CodeVerdict>;
}

/** A passkey to keep, as verified at registration. */
export type NewPasskey = Omit<Passkey, "createdAt" | "lastUsedAt">;

/**
 * Registered passkeys, kept as data: the WebAuthn checks happen above the store (policy/passkey.ts), which hands
 * it what a verified ceremony produced. Adding and removing are audited (`2fa.passkey_added`, `2fa.passkey_removed`).
 */
export interface PasskeyStore {
  list(): Promise<Passkey[]>;
  /** Refused (as a value) when the name or the credential is already registered. */
  add(passkey: NewPasskey, actor: string): Promise<{ ok: true; passkey: Passkey } | { ok: false; reason: string }>;
  /** The removed passkey, or undefined when there is none with that id. `via` says how the removal was confirmed. */
  remove(id: string, actor: string, via: string): Promise<Passkey | undefined>;
  /**
   * Records a verified use: the counter the authenticator reported and the time. Refused when the counter did not
   * move forward (a cloned authenticator, or a replayed signature) or the passkey is gone.
   */
  recordUse(id: string, counter: number, nowMs: number): Promise<{ ok: true; passkey: Passkey } | { ok: false; reason: string }>;
}

/**
 * What keeps a tool from being hammered, shared by every process using the store: the circuit breaker and a
 * sliding one-minute window of request slots.
 */
export interface CallLimitStore {
  circuitRefusal(tool: string, settings: CircuitSettings): Promise<CircuitRefusal | undefined>;
  admit(tool: string, settings: CircuitSettings, leaseMs: number): Promise<Admission>;
  record(tool: string, actor: string, settings: CircuitSettings, admission: Admission, result: CallResult): Promise<void>;
  /** Takes a request slot when one is free (0), or says how many milliseconds until the next one frees up. */
  takeSlot(tool: string, perMinute: number, nowMs: number): Promise<number>;
}

export interface PlanRunStore {
  /**
   * Creates a run of a plan, unless the plan has one already: then nothing is created and that run is returned.
   * Checked in the write transaction, so that two processes applying the same saved plan at once create one run.
   */
  create(run: {
    id: string;
    planId: string;
    name: string;
    plan: unknown;
    actor: string;
    steps: string[];
  }): Promise<{ id: string; status: PlanRunStatus } | undefined>;
  ofPlan(planId: string): Promise<{ id: string; status: PlanRunStatus } | undefined>;
  /** A plan run by id or unique prefix; throws a not-found or ambiguity error otherwise. */
  get(idOrPrefix: string): Promise<PlanRun>;
  /** The newest runs, `limit` of them after skipping the newest `offset`, and how many there are in all. */
  list(query: PlanRunQuery): Promise<{ total: number; items: Array<Omit<PlanRun, "plan" | "steps">> }>;
  updateStep(runId: string, step: string, update: Partial<Pick<PlanRunStep, "status" | "executionId" | "rollbackExecutionId" | "note">>): Promise<void>;
  /** The run's status, and its error (the message, code, exit code, category and problems kept); none clears it. */
  setStatus(runId: string, status: PlanRunStatus, actor: string, error?: ExecutionError): Promise<void>;
  /**
   * The run made `running` by this process, unless a live process holds it (a resume or rollback of it in another
   * terminal, on another machine, or in another call of this process): read and set in one transaction, so of two
   * at once one gets it.
   */
  claim(runId: string, actor: string): Promise<{ ok: true } | { ok: false; pid: number | null; host: string | null }>;
}

export interface SecretInfo {
  name: string;
  createdAt: string;
  updatedAt: string;
  keyId: string;
}

export interface RotateOptions {
  /** Values re-sealed per transaction. */
  batchSize?: number;
  actor?: string;
}

export interface RotateResult {
  keyId: string;
  source: "file" | "env";
  resealed: { secrets: number; totp: number };
  droppedKeyIds: string[];
}

/** Sealed secrets: the store holds ciphertext only, sealed and opened by the caller with the master key. */
export interface SecretStore {
  /** Seals and writes one secret in one transaction; `seal` runs inside it, so a rotation cannot interleave. */
  put(name: string, seal: () => { sealed: string; keyId: string }, actor: string): Promise<{ created: boolean; keyId: string }>;
  remove(name: string, actor: string): Promise<boolean>;
  list(): Promise<SecretInfo[]>;
  sealed(name: string): Promise<string | undefined>;
  /** Every sealed secret by name, still encrypted. */
  allSealed(): Promise<Map<string, string>>;
  /**
   * Rotates the home's master key: adds a new current key, re-seals every sealed value (secrets and the 2FA
   * secret) in batches, then drops keys nothing uses, with each key-file edit under the store's write lock so a
   * concurrent `put` never seals with a key being dropped. Safe to kill at any point; running it again finishes it.
   */
  rotateKey(home: string, env: NodeJS.ProcessEnv, options?: RotateOptions): Promise<RotateResult>;
}

/** What `toolctl doctor` reports about the store itself. */
export interface StoreHealth {
  backend: "sqlite" | "postgres";
  /** A file path, or a database URL without its password. */
  location: string;
  /** The schema version the store is at, and the one this toolctl brings it to. */
  schema: { version: number; latest: number };
  /** The database server, for a server backend. */
  server?: string;
  /** Whether the connection is encrypted, for a server backend. */
  tls?: boolean;
  /** What is wrong: a missing privilege, an audit key other than the team's. Empty when all is well. */
  problems: string[];
}

export interface Store {
  /** Where the store lives, for messages (a file path, a database URL without its password). */
  readonly location: string;
  readonly tools: ToolStore;
  readonly executions: ExecutionStore;
  readonly approvals: ApprovalStore;
  readonly ledger: LedgerStore;
  readonly audit: AuditStore;
  readonly twoFactor: TwoFactorStore;
  readonly passkeys: PasskeyStore;
  readonly callLimits: CallLimitStore;
  readonly planRuns: PlanRunStore;
  readonly secrets: SecretStore;
  /**
   * A secret value's digest keyed with the audit key (`hmac-sha256:KEYID:HEX`), the same on every machine of a
   * team: for records shown to people who must not be able to test guesses of the secret (a saved plan).
   */
  secretDigest(value: string): Promise<string>;
  /** The backend, its schema version and what is wrong with it, for doctor. */
  health(): Promise<StoreHealth>;
  close(): Promise<void>;
}
