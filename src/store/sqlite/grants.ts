/**
 * The tool lifecycle with permissions granted by the user: `pending` (asks for what nobody granted) →
 * `approve` → `active`; `disable`/`enable`; `revoke` (grants gone, history kept). Every change is audited.
 */
import { asksOf, askedItems, isCovered, widenedReach, type Asks, type AskedItem } from "../../domain/permissions.js";
import { PolicyError } from "../../errors.js";
import { appendAudit } from "./audit.js";
import { nowIso, writeTransaction, type Registry } from "./db.js";
import { getTool, type ToolRecord, type ToolStatus } from "./tools.js";

export function toolAsks(tool: ToolRecord): Asks {
  return asksOf(tool);
}

/** What the tool asks for, item by item, against its grant (or the defaults), and where it reaches beyond what was accepted. */
export function toolAskedItems(tool: ToolRecord): AskedItem[] {
  const widened = widenedReach(tool.reach, tool.acceptedReach).map((item): AskedItem => {
    const space = item.indexOf(" ");
    return { name: `reach`, asked: item, allowed: `not accepted before (${item.slice(0, space === -1 ? undefined : space)})`, needsGrant: true };
  });
  return [...askedItems(toolAsks(tool), tool.grants), ...widened];
}

/** Why this tool may not run now, or undefined. Checked before every execution. */
export function grantProblem(tool: ToolRecord): string | undefined {
  const widened = widenedReach(tool.reach, tool.acceptedReach);
  if (tool.status === "pending" || (tool.status === "active" && (!isCovered(toolAsks(tool), tool.grants, tool.requiresApproval) || widened.length > 0))) {
    const wanted = toolAskedItems(tool).filter((item) => item.needsGrant).map((item) => (item.name === "host" ? `host ${item.asked}` : item.name === "reach" ? item.asked : `${item.name} ${item.asked}`));
    const what = wanted.length > 0 ? `it asks for ${wanted.join(", ")}, which nobody has granted` : "it has not been approved since it was imported";
    return `tool ${tool.name} is pending: ${what}; review and grant with: toolctl tool approve ${tool.name}`;
  }
  return undefined;
}

function current(registry: Registry, name: string): ToolRecord {
  const tool = getTool(registry, name);
  if (!tool) throw new PolicyError("policy_refused", `tool ${name} was removed meanwhile`);
  return tool;
}

/** Grants exactly what the tool asks for now; `digest` is the definition the user was shown. */
export function approveTool(registry: Registry, name: string, digest: string, actor: string): { previous: ToolStatus; status: ToolStatus; grants: Asks } {
  return writeTransaction(registry, () => {
    const tool = current(registry, name);
    if (tool.digest !== digest) throw new PolicyError("policy_refused", `tool ${name} was re-imported while you were deciding; nothing was granted: run toolctl tool approve ${name} again`);
    const grants = toolAsks(tool);
    // A disabled tool gets its grant but stays disabled: approving permissions is not enabling.
    const status: ToolStatus = tool.status === "disabled" ? "disabled" : "active";
    registry.db.prepare("UPDATE tools SET grants = ?, status = ?, accepted_reach = reach, updated_at = ? WHERE name = ?").run(JSON.stringify(grants), status, nowIso(), name);
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

/** `enable`: back to active when the grants still cover what it asks for, else pending. A revoked tool needs approve. */
export function enableStatus(tool: ToolRecord): ToolStatus {
  if (tool.status === "revoked") {
    throw new PolicyError("policy_refused", `tool ${tool.name} was revoked; grant its permissions again with: toolctl tool approve ${tool.name}`);
  }
  return isCovered(toolAsks(tool), tool.grants, tool.requiresApproval) && widenedReach(tool.reach, tool.acceptedReach).length === 0 ? "active" : "pending";
}
