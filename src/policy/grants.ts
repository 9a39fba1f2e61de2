/**
 * Whether a tool may run under what the user granted: what it asks for against its grant (or the defaults), and
 * where it reaches beyond what was accepted. Pure: the store keeps the grants, this decides.
 */
import { asksOf, askedItems, isCovered, widenedReach, type Asks, type AskedItem } from "../domain/permissions.js";
import type { ToolRecord, ToolStatus } from "../domain/records.js";
import { PolicyError } from "../errors.js";

export function toolAsks(tool: ToolRecord): Asks {
  return asksOf(tool);
}

/**
 * What approving `tool` grants (exactly what it asks for now) and the status it moves to; refused when it was
 * re-imported since the user was shown the definition `digest`. A disabled tool gets its grant but stays disabled:
 * approving permissions is not enabling.
 */
export function approvalGrant(tool: ToolRecord, digest: string): { grants: Asks; status: ToolStatus } {
  if (tool.digest !== digest)
    throw new PolicyError(
      "policy_refused",
      `tool ${tool.name} was re-imported while you were deciding; nothing was granted: run toolctl tool approve ${tool.name} again`,
    );
  return { grants: toolAsks(tool), status: tool.status === "disabled" ? "disabled" : "active" };
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
    const wanted = toolAskedItems(tool)
      .filter((item) => item.needsGrant)
      .map((item) => (item.name === "host" ? `host ${item.asked}` : item.name === "reach" ? item.asked : `${item.name} ${item.asked}`));
    const what = wanted.length > 0 ? `it asks for ${wanted.join(", ")}, which nobody has granted` : "it has not been approved since it was imported";
    return `tool ${tool.name} is pending: ${what}; review and grant with: toolctl tool approve ${tool.name}`;
  }
  return undefined;
}

/** `enable`: back to active when the grants still cover what it asks for, else pending. A revoked tool needs approve. */
export function enableStatus(tool: ToolRecord): ToolStatus {
  if (tool.status === "revoked") {
    throw new PolicyError("policy_refused", `tool ${tool.name} was revoked; grant its permissions again with: toolctl tool approve ${tool.name}`);
  }
  return isCovered(toolAsks(tool), tool.grants, tool.requiresApproval) && widenedReach(tool.reach, tool.acceptedReach).length === 0 ? "active" : "pending";
}
