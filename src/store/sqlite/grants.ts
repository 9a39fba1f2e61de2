/**
 * The tool lifecycle with permissions granted by the user: `pending` (asks for what nobody granted) →
 * `approve` → `active`; `disable`/`enable`; `revoke` (grants gone, history kept). Every change is audited.
 */
import type { Asks } from "../../domain/permissions.js";
import { approvalGrant } from "../../policy/grants.js";
import { PolicyError } from "../../errors.js";
import { appendAudit } from "./audit.js";
import { nowIso, writeTransaction, type Registry } from "./db.js";
import { getTool, type ToolRecord, type ToolStatus } from "./tools.js";

function current(registry: Registry, name: string): ToolRecord {
  const tool = getTool(registry, name);
  if (!tool) throw new PolicyError("policy_refused", `tool ${name} was removed meanwhile`);
  return tool;
}

/** Grants exactly what the tool asks for now; `digest` is the definition the user was shown. */
export function approveTool(registry: Registry, name: string, digest: string, actor: string): { previous: ToolStatus; status: ToolStatus; grants: Asks } {
  return writeTransaction(registry, () => {
    const tool = current(registry, name);
    const { grants, status } = approvalGrant(tool, digest);
    registry.db
      .prepare("UPDATE tools SET grants = ?, status = ?, accepted_reach = reach, updated_at = ? WHERE name = ?")
      .run(JSON.stringify(grants), status, nowIso(), name);
    appendAudit(registry, { type: "tool.approved", actor, tool: name, status, data: { from: tool.status, digest, grants, reach: tool.reach } });
    return { previous: tool.status, status, grants };
  });
}

/** Takes the grants away: the tool cannot run until approved again. Its executions and audit events stay. */
export function revokeTool(registry: Registry, name: string, actor: string, extra: Record<string, unknown> = {}): { previous: ToolStatus } {
  return writeTransaction(registry, () => {
    const tool = current(registry, name);
    registry.db.prepare("UPDATE tools SET grants = NULL, accepted_reach = NULL, status = 'revoked', updated_at = ? WHERE name = ?").run(nowIso(), name);
    appendAudit(registry, { type: "tool.revoked", actor, tool: name, status: "revoked", data: { from: tool.status, grants: tool.grants, ...extra } });
    return { previous: tool.status };
  });
}
