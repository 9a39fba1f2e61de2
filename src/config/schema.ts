/**
 * `config.yaml`: the seeds' settings, validated like manifests (unknown keys are errors, with line numbers).
 * Only loaded when the file changed since it was last validated: zod is too heavy for every start-up.
 */
import { z } from "zod";
import { isPostgresUrl } from "../util/database-url.js";
import { ALLOW_ENTRY_PATTERN, TOOL_NAME_PATTERN } from "../domain/name-patterns.js";
import { CONFIG_DEFAULTS as D } from "./defaults.js";

const usd = z.number().nonnegative();
const seconds = z.number().int().positive().max(86_400);

export const configSchema = z.strictObject({
  approvals: z
    .strictObject({
      /** Approval for paid actions per the risk table; when false, only `approval: always` and 2FA ask a human. */
      paidActions: z.boolean().default(D.approvals.paidActions),
      /** A TOTP code is needed above this estimated cost (USD). */
      twoFactorAboveUsd: usd.default(D.approvals.twoFactorAboveUsd),
      /** No answer within this many seconds counts as no. */
      timeoutSeconds: seconds.default(D.approvals.timeoutSeconds),
    })
    .default(D.approvals),
  limits: z
    .strictObject({
      perActionUsd: usd.default(D.limits.perActionUsd),
      dailyUsd: usd.default(D.limits.dailyUsd),
    })
    .default(D.limits),
  rollback: z
    .strictObject({
      auto: z.boolean().default(D.rollback.auto),
      timeoutSeconds: seconds.default(D.rollback.timeoutSeconds),
    })
    .default(D.rollback),
  /** Send requests to a tool's sandboxBaseUrl when it has one. */
  sandboxApis: z.boolean().default(D.sandboxApis),
  audit: z.strictObject({ dryRuns: z.boolean().default(D.audit.dryRuns) }).default(D.audit),
  docker: z
    .strictObject({
      /** Pull a Docker tool's image when it is not present locally. */
      pull: z.boolean().default(D.docker.pull),
      /** Run process tools that name an image inside Docker by default (`run --sandbox` overrides). */
      sandboxProcesses: z.boolean().default(D.docker.sandboxProcesses),
    })
    .default(D.docker),
  process: z
    .strictObject({
      /** How process tools are confined: see defaults.ts and README ("Process tools are confined"). */
      confinement: z.enum(["auto", "required", "optional", "off"]).default(D.process.confinement),
    })
    .default(D.process),
  /** Requests per minute per tool name, across every toolctl process; overrides the manifest's http.requestsPerMinute. */
  rateLimits: z.record(z.string().regex(TOOL_NAME_PATTERN, "a tool name"), z.number().int().positive()).default({}),
  mcp: z
    .strictObject({
      /** The create, update and delete actions agents may call through `toolctl mcp`: TOOL or TOOL.ACTION. */
      allow: z.array(z.string().regex(ALLOW_ENTRY_PATTERN, "TOOL or TOOL.ACTION")).default([...D.mcp.allow]),
      /** How long a call that needs approval waits for the decision before returning the pending request. */
      approvalWaitSeconds: seconds.default(D.mcp.approvalWaitSeconds),
      /** Ask through the client (form elicitation) for a MEDIUM-risk call before filing a request: weaker, off by default. */
      elicit: z.boolean().default(D.mcp.elicit),
    })
    .default({ allow: [...D.mcp.allow], approvalWaitSeconds: D.mcp.approvalWaitSeconds, elicit: D.mcp.elicit }),
  /** Team mode: the PostgreSQL database that holds the registry; empty for the home's SQLite registry. */
  database: z
    .strictObject({
      url: z
        .string()
        .refine((url) => url === "" || isPostgresUrl(url), "a postgres:// or postgresql:// URL")
        .default(D.database.url),
    })
    .default({ url: D.database.url }),
});

export type Config = z.infer<typeof configSchema>;
