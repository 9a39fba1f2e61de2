/**
 * One adapter per runtime behind one shape: `prepare` computes exactly what would run (the decision is data,
 * which a dry run shows once the engine has redacted it), and `run` executes that same prepared object.
 */
import type { ActionRecord, ErrorCategory, ToolRecord } from "../domain/records.js";

export interface RunContext {
  tool: ToolRecord;
  action: ActionRecord;
  input: Record<string, unknown>;
  secrets: Record<string, string>;
  executionId: string;
  env: NodeJS.ProcessEnv;
  /** Config `sandboxApis`: send HTTP requests to the tool's sandboxBaseUrl when it has one. */
  sandbox: boolean;
  /** The toolctl home: per-home resources (a tool's state volume) are named after it; never visible to a tool. */
  home: string;
  /** Config `process.confinement`: how process tools are confined (process-sandbox.ts). */
  processConfinement: import("./process/sandbox.js").ConfinementSetting;
  /** Config `docker.pull`: a missing image may be pulled. */
  pullImages: boolean;
  /** The tool's circuit-breaker state and request-rate slots, kept in the store and handed in by the engine (http). */
  callLimits?: import("./http/resilience.js").CallLimits;
  /** Scrubs known secrets from text; runners call it before cutting text short, so no partial secret survives. */
  redact(text: string): string;
  /**
   * Registers another value that must never be shown: a secret-looking variable passed to a process, or anything
   * the runner derives from a secret (a Basic header, an SMTP AUTH blob, a signature). Call it before the value
   * is sent: whatever the other side echoes back is scrubbed only once it is registered.
   */
  addSecret(value: string): void;
  /** The directory toolctl was started in: where a relative local path starts when the tool names no root. */
  cwd: string;
  /**
   * A secret the tool needs only for some inputs (a GitHub token when a deploy also creates a repository):
   * looked up like the declared ones (env, `.env`, store) and registered with the redactor; undefined when unset.
   */
  optionalSecret(name: string): string | undefined;
}

export interface RunResult {
  outcome: "succeeded" | "failed" | "unknown";
  output?: unknown;
  error?: string;
  errorCategory?: ErrorCategory;
  /** Runtime facts worth keeping on the execution: HTTP status, exit code, stderr tail. */
  details: Record<string, unknown>;
  /** The runner could not start anything (no engine, no image): nothing ran, exit 6. */
  nothingRan?: boolean;
  /** Refused before anything was sent (an open circuit, the rate limit): declined, exit 3. */
  declined?: boolean;
  /** Resource use of a sandboxed run, recorded on the execution. */
  resources?: { peakMemoryBytes: number | null; cpuTimeMs: number | null; durationMs: number };
  /** Something worth saying that does not change the outcome (a retry that was not sent). */
  warnings?: string[];
  /**
   * Bookkeeping that follows the outcome (the circuit breaker's count): the engine runs it once the outcome is on
   * record, and a failure there is a warning, never a changed outcome.
   */
  after?: () => Promise<void> | void;
}

export interface RunHooks {
  signal: AbortSignal;
}

export interface PreflightHooks {
  signal: AbortSignal;
  /** A line of progress for a long step (pulling an image). */
  status?(text: string): void;
}

export interface Prepared {
  /** What a dry run shows and the execution records, before redaction. */
  description: Record<string, unknown>;
  /** Said with the result, dry run or not (a program that runs unconfined). */
  warnings?: string[];
  /**
   * Checks the environment before anyone is asked to approve (engine reachable, image present, quota): throws a
   * ToolctlError, and nothing has run. Not called for dry runs.
   */
  preflight?(hooks: PreflightHooks): Promise<void>;
  run(hooks: RunHooks): Promise<RunResult>;
}

export interface Runner {
  prepare(context: RunContext): Prepared;
}
