/**
 * The tool lifecycle with permissions granted by the user, as sqlite/grants.ts: approve grants exactly what the
 * tool asks for now, revoke takes the grants away. Each change is one serialized transaction with its audit event.
 */
import type { Asks } from "../../domain/permissions.js";
import type { ToolRecord, ToolStatus } from "../../domain/records.js";
import { PolicyError } from "../../errors.js";
import { approvalGrant } from "../../policy/grants.js";
import { appendAudit } from "./audit-append.js";
import { nowIso, type PgRegistry, type Sql } from "./db.js";
import { getTool } from "./tools.js";

async function current(sql: Sql, name: string): Promise<ToolRecord> {
  const tool = await getTool(sql, name);
  if (!tool) throw new PolicyError("policy_refused", `tool ${name} was removed meanwhile`);
  return tool;
}

/** Grants exactly what the tool asks for now; `digest` is the definition the user was shown. */
export function approveTool(
  registry: PgRegistry,
  name: string,
  digest: string,
  actor: string,
): Promise<{ previous: ToolStatus; status: ToolStatus; grants: Asks }> {
  return registry.write(async (tx) => {
    const tool = await current(tx, name);
    const { grants, status } = approvalGrant(tool, digest);
    await tx.run("UPDATE tools SET grants = $1, status = $2, accepted_reach = reach, updated_at = $3 WHERE name = $4", [
      JSON.stringify(grants),
      status,
      nowIso(),
      name,
    ]);
    await appendAudit(registry, tx, { type: "tool.approved", actor, tool: name, status, data: { from: tool.status, digest, grants, reach: tool.reach } });
    return { previous: tool.status, status, grants };
  });
}

/** Takes the grants away: the tool cannot run until approved again. Its executions and audit events stay. */
export function revokeTool(registry: PgRegistry, name: string, actor: string, extra: Record<string, unknown> = {}): Promise<{ previous: ToolStatus }> {
  return registry.write(async (tx) => {
    const tool = await current(tx, name);
    await tx.run("UPDATE tools SET grants = NULL, accepted_reach = NULL, status = 'revoked', updated_at = $1 WHERE name = $2", [nowIso(), name]);
    await appendAudit(registry, tx, {
      type: "tool.revoked",
      actor,
      tool: name,
      status: "revoked",
      data: { from: tool.status, grants: tool.grants, ...extra },
    });
    return { previous: tool.status };
  });
}
