/**
 * What `toolctl show` and the API's `describe` return: a tool as registered (where it calls, its auth, which
 * secrets are present and from where, what it asks for against what was granted) and its actions with their cost
 * and risk rules, or one action in full. Secret values are never read into it: only whether and where one exists.
 */
import type { ActionSpec } from "../domain/manifest.js";
import type { ToolRecord } from "../domain/records.js";
import { NotFoundError } from "../errors.js";
import { describeCostRule } from "../policy/cost.js";
import { toolAskedItems } from "../policy/grants.js";
import { createSecretLookup } from "../secrets/resolve.js";
import type { Store } from "../store/port.js";
import { didYouMean } from "../util/suggest.js";
import { parseTarget } from "./target.js";
import { findTool } from "./tools.js";

export interface DescribeDeps {
  store: Store;
  home: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

function costRule(spec: Pick<ActionSpec, "cost">): string {
  return describeCostRule(spec.cost);
}

export function riskRule(spec: Pick<ActionSpec, "risk" | "kind" | "approval">): string {
  const floors = [spec.risk ? `at least ${spec.risk}` : "", spec.kind === "delete" ? "at least MEDIUM (delete)" : ""].filter(Boolean);
  return `from cost${floors.length ? `, ${floors.join(", ")}` : ""}; approval ${spec.approval}`;
}

function describeTool(tool: ToolRecord, deps: DescribeDeps, sealed: ReadonlyMap<string, string>) {
  const lookup = createSecretLookup(deps.cwd, deps.env, { home: deps.home, sealed });
  const secrets = tool.secrets.map((name) => {
    const found = lookup.get(name);
    return { name, present: found !== undefined, source: found?.source ?? null };
  });
  const { definition } = tool;
  return {
    name: tool.name,
    version: tool.version,
    description: tool.description,
    runtime: tool.runtime,
    status: tool.status,
    tags: tool.tags,
    source: tool.sourcePath,
    digest: tool.digest,
    baseUrl: definition.baseUrl,
    sandboxBaseUrl: definition.sandboxBaseUrl,
    auth: definition.auth,
    secrets,
    http: definition.http,
    process: definition.process,
    image: definition.image,
    // What it asks for (sandbox resources, an imported API's hosts), against what was granted.
    asks: toolAskedItems(tool),
    grants: tool.grants,
    createdAt: tool.createdAt,
    updatedAt: tool.updatedAt,
  };
}

export type ToolView = ReturnType<typeof describeTool>;
export type ActionView = ActionSpec & { name: string; costRule: string; riskRule: string };
export interface ActionSummaryView {
  name: string;
  kind: ActionSpec["kind"];
  description: string;
  cost: string;
  risk: string;
}
export type Description = { tool: ToolView; actions: ActionSummaryView[] } | { tool: ToolView; action: ActionView };

/** `tool` or `tool.action`. */
export async function describeTarget(deps: DescribeDeps, target: string): Promise<Description> {
  const { store } = deps;
  const { tool: toolName, action: actionName } = target.includes(".") ? parseTarget(target) : { tool: target, action: undefined };
  const tool = await findTool(store, toolName);
  const sealed = tool.secrets.length > 0 ? await store.secrets.allSealed() : new Map<string, string>();
  if (actionName === undefined) {
    const actions: ActionSummaryView[] = [];
    for (const a of await store.tools.actions(tool.name)) {
      const spec = (await store.tools.action(tool.name, a.name, false))!.definition;
      actions.push({ ...a, cost: costRule(spec), risk: riskRule(spec) });
    }
    return { tool: describeTool(tool, deps, sealed), actions };
  }
  const action = await store.tools.action(tool.name, actionName, false);
  if (!action) {
    throw new NotFoundError(
      `tool ${tool.name} has no action '${actionName}'${didYouMean(actionName, await store.tools.actionNames(tool.name))}; see: toolctl show ${tool.name}`,
    );
  }
  const spec = action.definition;
  return { tool: describeTool(tool, deps, sealed), action: { name: action.name, ...spec, costRule: costRule(spec), riskRule: riskRule(spec) } };
}
