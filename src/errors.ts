/**
 * Error classes and the one mapping from error to exit code.
 * Exit codes are part of the public contract (README, PRODUCT.md) and must not drift.
 */

export const ExitCode = {
  ok: 0,
  actionFailed: 1,
  usage: 2,
  policy: 3,
  needsHuman: 4,
  unknownOutcome: 5,
  environment: 6,
  interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** A stable machine-readable error code, printed in `--json` mode. */
export type ErrorCode =
  | "usage"
  | "manifest_invalid"
  | "config_invalid"
  | "project_invalid"
  | "input_invalid"
  | "plan_invalid"
  | "plan_stale"
  | "not_found"
  | "secret_missing"
  | "action_failed"
  | "output_invalid"
  | "policy_refused"
  | "tool_disabled"
  | "tool_pending"
  | "url_blocked"
  | "needs_human"
  | "approval_pending"
  | "unknown_outcome"
  | "registry_unavailable"
  | "environment_unavailable"
  | "interrupted";

export interface ErrorDetails {
  /** One line per problem, when there are several (manifest and input validation). */
  problems?: string[];
  /** Execution id, when the error belongs to a recorded execution. */
  executionId?: string;
  [key: string]: unknown;
}

export class ToolctlError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: ExitCodeValue;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, exitCode: ExitCodeValue, message: string, details: ErrorDetails = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
    this.details = details;
  }
}

/** Bad flags, unknown tools or actions, malformed arguments: nothing ran. */
export class UsageError extends ToolctlError {
  constructor(message: string, details?: ErrorDetails, code: ErrorCode = "usage") {
    super(code, ExitCode.usage, message, details);
  }
}

export class NotFoundError extends ToolctlError {
  constructor(message: string, details?: ErrorDetails) {
    super("not_found", ExitCode.usage, message, details);
  }
}

/** A manifest, config or input that does not validate. `problems` lists every one of them. */
export class ValidationError extends ToolctlError {
  constructor(code: "manifest_invalid" | "config_invalid" | "input_invalid" | "plan_invalid", message: string, problems: string[], details: ErrorDetails = {}) {
    super(code, ExitCode.usage, message, { ...details, problems });
  }
}

export class SecretMissingError extends ToolctlError {
  constructor(message: string, details?: ErrorDetails) {
    super("secret_missing", ExitCode.usage, message, details);
  }
}

export class PolicyError extends ToolctlError {
  constructor(code: "policy_refused" | "tool_disabled" | "tool_pending" | "url_blocked", message: string, details?: ErrorDetails) {
    super(code, ExitCode.policy, message, details);
  }
}

export class NeedsHumanError extends ToolctlError {
  constructor(message: string, details?: ErrorDetails) {
    super("needs_human", ExitCode.needsHuman, message, details);
  }
}

/** The registry, home or another part of the environment is unusable: nothing ran. */
export class EnvironmentError extends ToolctlError {
  constructor(message: string, details?: ErrorDetails, cause?: unknown, code: ErrorCode = "environment_unavailable") {
    super(code, ExitCode.environment, message, details, cause);
  }
}

export class RegistryError extends EnvironmentError {
  constructor(message: string, cause?: unknown) {
    super(message, {}, cause, "registry_unavailable");
  }
}

/** Maps any thrown value to an exit code. Unknown errors are bugs: exit code 1, and the CLI prints their stack. */
export function exitCodeFor(error: unknown): ExitCodeValue {
  if (error instanceof ToolctlError) return error.exitCode;
  return ExitCode.actionFailed;
}

/** The exit code each error code ends a command with. Codes that several outcomes share name the usual one. */
const EXIT_CODE_OF: Record<ErrorCode, ExitCodeValue> = {
  usage: ExitCode.usage,
  manifest_invalid: ExitCode.usage,
  config_invalid: ExitCode.usage,
  project_invalid: ExitCode.usage,
  input_invalid: ExitCode.usage,
  plan_invalid: ExitCode.usage,
  plan_stale: ExitCode.usage,
  not_found: ExitCode.usage,
  secret_missing: ExitCode.usage,
  action_failed: ExitCode.actionFailed,
  output_invalid: ExitCode.actionFailed,
  policy_refused: ExitCode.policy,
  tool_disabled: ExitCode.policy,
  tool_pending: ExitCode.policy,
  url_blocked: ExitCode.policy,
  needs_human: ExitCode.needsHuman,
  approval_pending: ExitCode.needsHuman,
  unknown_outcome: ExitCode.unknownOutcome,
  registry_unavailable: ExitCode.environment,
  environment_unavailable: ExitCode.environment,
  interrupted: ExitCode.interrupted,
};

/** The category of an error whose runner named none: what kind of reason the code is. */
const CATEGORY_OF: Partial<Record<ErrorCode, "validation" | "authorization" | "environment">> = {
  usage: "validation",
  manifest_invalid: "validation",
  config_invalid: "validation",
  input_invalid: "validation",
  plan_invalid: "validation",
  plan_stale: "validation",
  not_found: "validation",
  output_invalid: "validation",
  policy_refused: "authorization",
  tool_disabled: "authorization",
  tool_pending: "authorization",
  url_blocked: "authorization",
  needs_human: "authorization",
  approval_pending: "authorization",
  secret_missing: "environment",
  registry_unavailable: "environment",
  environment_unavailable: "environment",
};

/** The code of an execution recorded before codes were kept, from its status. */
const CODE_FOR_STATUS: Record<string, ErrorCode> = { declined: "policy_refused", unknown: "unknown_outcome" };

/** What an execution's error is made of, as recorded: anything but the message may be missing on older rows. */
export interface ExecutionErrorParts<C extends string> {
  /** The execution's status, to derive a code from when none was recorded. */
  status: string;
  message: string;
  category?: C | null;
  code?: string | null;
  exitCode?: number | null;
  problems?: readonly string[] | null;
}

/**
 * An execution's error, the one object every front door shows (`run --json`, `executions --json`, `executions
 * show`, the API, MCP): `{ code, exitCode, category, message, problems? }`. Whatever was not recorded is derived:
 * the code from the status, the exit code from the code, the category from the code (`other` when it says nothing).
 */
export function executionError<C extends string>(
  parts: ExecutionErrorParts<C>,
): { code: string; exitCode: number; category: C | "validation" | "authorization" | "environment" | "other"; message: string; problems?: string[] } {
  const code = parts.code ?? CODE_FOR_STATUS[parts.status] ?? "action_failed";
  const exitCode = parts.exitCode ?? EXIT_CODE_OF[code as ErrorCode] ?? ExitCode.actionFailed;
  const category = parts.category ?? CATEGORY_OF[code as ErrorCode] ?? "other";
  return { code, exitCode, category, message: parts.message, ...(parts.problems?.length ? { problems: [...parts.problems] } : {}) };
}
