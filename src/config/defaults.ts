/**
 * The built-in configuration (the seeds' defaults) and how each setting maps to an environment variable.
 * Plain data: commands read it without loading zod or yaml when there is no config.yaml to validate.
 */
/** Checked against the schema's type where it is used (config.ts), so the two cannot drift apart. */
export const CONFIG_DEFAULTS = {
  approvals: { paidActions: true, twoFactorAboveUsd: 100, timeoutSeconds: 300 },
  limits: { perActionUsd: 200, dailyUsd: 500 },
  rollback: { auto: true, timeoutSeconds: 60 },
  sandboxApis: false,
  audit: { dryRuns: true },
  docker: { pull: true, sandboxProcesses: false },
  /**
   * How process tools are confined (bubblewrap: the toolctl home, the user's home and key material hidden).
   * `auto` is `required` on Linux, where bubblewrap is one package away, and `optional` elsewhere.
   */
  process: { confinement: "auto" as "auto" | "required" | "optional" | "off" },
  /** Requests per minute per tool, overriding a manifest's http.requestsPerMinute. */
  rateLimits: {} as Record<string, number>,
  /**
   * `toolctl mcp`: the create, update and delete actions agents may call (`TOOL` or `TOOL.ACTION`; reads are
   * offered without this), and how long a call that needs approval waits before it returns the pending request.
   */
  // 45 s: under the 60 s that clients built on the MCP TypeScript SDK (and Codex) allow a call by default, so the
  // agent gets the pending approval's id rather than a timeout that cancels the call and withdraws the request.
  mcp: { allow: [] as string[], approvalWaitSeconds: 45, elicit: false },
  /** A team's PostgreSQL database (team mode); empty: the home's own SQLite registry. */
  database: { url: "" },
} as const;

export type SettingKind = "boolean" | "usd" | "seconds" | "choice" | "databaseUrl";

/** Every setting: its dotted key, its type (and for a choice, the values), and the environment variable that overrides the file. */
export const SETTINGS: ReadonlyArray<{ key: string; kind: SettingKind; env: string; help: string; choices?: readonly string[] }> = [
  { key: "approvals.paidActions", kind: "boolean", env: "TOOLCTL_APPROVALS_PAID_ACTIONS", help: "ask before MEDIUM and HIGH risk actions" },
  { key: "approvals.twoFactorAboveUsd", kind: "usd", env: "TOOLCTL_APPROVALS_TWO_FACTOR_ABOVE_USD", help: "a TOTP code is needed above this cost" },
  { key: "approvals.timeoutSeconds", kind: "seconds", env: "TOOLCTL_APPROVALS_TIMEOUT_SECONDS", help: "no answer within this time is a no" },
  { key: "limits.perActionUsd", kind: "usd", env: "TOOLCTL_LIMITS_PER_ACTION_USD", help: "refuse one action estimated above this" },
  { key: "limits.dailyUsd", kind: "usd", env: "TOOLCTL_LIMITS_DAILY_USD", help: "refuse once today's spend and reservations would pass this" },
  { key: "rollback.auto", kind: "boolean", env: "TOOLCTL_ROLLBACK_AUTO", help: "roll back, with its declared compensation, an action that acted but failed" },
  { key: "rollback.timeoutSeconds", kind: "seconds", env: "TOOLCTL_ROLLBACK_TIMEOUT_SECONDS", help: "time allowed for one rollback (its compensating action)" },
  { key: "sandboxApis", kind: "boolean", env: "TOOLCTL_SANDBOX_APIS", help: "use each tool's sandboxBaseUrl when it has one" },
  { key: "audit.dryRuns", kind: "boolean", env: "TOOLCTL_AUDIT_DRY_RUNS", help: "write dry runs to the audit log" },
  { key: "docker.pull", kind: "boolean", env: "TOOLCTL_DOCKER_PULL", help: "pull a Docker tool's image when it is not present" },
  {
    key: "docker.sandboxProcesses",
    kind: "boolean",
    env: "TOOLCTL_DOCKER_SANDBOX_PROCESSES",
    help: "run process tools that name an image in Docker (run --sandbox overrides)",
  },
  {
    key: "mcp.approvalWaitSeconds",
    kind: "seconds",
    env: "TOOLCTL_MCP_APPROVAL_WAIT_SECONDS",
    help: "toolctl mcp: how long a call that needs approval waits for the decision before it returns the pending request",
  },
  {
    key: "mcp.elicit",
    kind: "boolean",
    env: "TOOLCTL_MCP_ELICIT",
    help: "toolctl mcp: ask the user through the MCP client (form elicitation) before filing a request for a MEDIUM-risk call; weaker, off by default",
  },
  {
    key: "database.url",
    kind: "databaseUrl",
    env: "TOOLCTL_DATABASE_URL",
    help: "team mode: the PostgreSQL database (postgres://USER@HOST/DB) that holds the registry, approvals, ledger and audit; empty: the home's SQLite registry; --database wins",
  },
  {
    key: "process.confinement",
    kind: "choice",
    choices: ["auto", "required", "optional", "off"],
    env: "TOOLCTL_PROCESS_CONFINEMENT",
    help: "confine process tools with bubblewrap: required (refuse when it is missing), optional (run unconfined then, with a warning), off; auto is required on Linux",
  },
];
