/**
 * The tool lifecycle: enable, disable, remove, approve (grant what a tool asks for), revoke and clear its state.
 * Every change is audited through the store. A Docker tool's state volume goes with `remove` and `revoke` (a later
 * tool of the same name must not inherit it) and with `clear-state`; when the engine cannot be reached the change
 * still happens and the caller gets a warning naming the volume to remove by hand.
 */
import type { Actor } from "../config/home.js";
import type { Asks } from "../domain/permissions.js";
import type { ToolRecord, ToolStatus } from "../domain/records.js";
import { EnvironmentError, ExitCode, NotFoundError, PolicyError, ToolctlError } from "../errors.js";
import type { AskedItem } from "../domain/permissions.js";
import { enableStatus, toolAskedItems } from "../policy/grants.js";
import type { Store } from "../store/port.js";
import { didYouMean } from "../util/suggest.js";

export interface ToolDeps {
  store: Store;
  home: string;
  env: NodeJS.ProcessEnv;
  actor: Actor;
}

export interface StatusChange {
  tool: string;
  action: "enable" | "disable";
  status: ToolStatus;
  changed: boolean;
}

export interface StateVolume {
  /** The volume's name, when the tool keeps one (a Docker tool). */
  volume?: string;
  removed: boolean;
  /** Why the volume could not be removed, and how to remove it by hand. */
  warning?: string;
}

export interface Removal extends StateVolume {
  tool: string;
}

export interface Revocation extends StateVolume {
  tool: string;
  status: "revoked";
  previous: ToolStatus;
}

export interface Grant {
  tool: string;
  status: ToolStatus;
  previous: ToolStatus;
  grants: Asks;
  asked: AskedItem[];
}

/** What a tool asks for, as shown to the person granting it; `digest` names the version shown. */
export interface ToolAsks {
  tool: ToolRecord;
  items: AskedItem[];
}

/** A person's answer to "grant these permissions?": anything but yes leaves the tool as it is. */
export type GrantAnswer = "yes" | "no" | "eof" | "timeout" | "interrupted";

export async function findTool(store: Store, name: string): Promise<ToolRecord> {
  const tool = await store.tools.get(name);
  if (!tool) throw new NotFoundError(`unknown tool '${name}'${didYouMean(name, await store.tools.names())}; see: toolctl list`);
  return tool;
}

const keepsState = (tool: ToolRecord) => tool.runtime === "docker" || (tool.runtime === "process" && tool.definition.image !== undefined);

export async function setToolEnabled(deps: ToolDeps, name: string, enabled: boolean): Promise<StatusChange> {
  const tool = await findTool(deps.store, name);
  const status = enabled ? enableStatus(tool) : "disabled";
  const { changed } = await deps.store.tools.setStatus(name, status, deps.actor);
  return { tool: name, action: enabled ? "enable" : "disable", status, changed };
}

export async function removeTool(deps: ToolDeps, name: string): Promise<Removal> {
  const state = await dropStateVolume(deps, await findTool(deps.store, name));
  await deps.store.tools.remove(name, deps.actor, { stateVolume: state.volume, stateRemoved: state.removed });
  return { tool: name, ...state };
}

export async function toolAsks(store: Store, name: string): Promise<ToolAsks> {
  const tool = await findTool(store, name);
  return { tool, items: toolAskedItems(tool) };
}

/**
 * Grants what the tool asks for. `digest` is the version the person saw (from `toolAsks`): a tool re-imported in
 * between is refused rather than granted unseen.
 */
export async function grantTool(deps: ToolDeps, name: string, digest?: string): Promise<Grant> {
  const { tool, items } = await toolAsks(deps.store, name);
  const result = await deps.store.tools.approve(name, digest ?? tool.digest, deps.actor);
  return { tool: name, status: result.status, previous: result.previous, grants: result.grants, asked: items };
}

/** A grant the person did not give: audited, and the refusal (or interruption) they see. */
export async function declineGrant(deps: ToolDeps, tool: ToolRecord, answer: Exclude<GrantAnswer, "yes">): Promise<never> {
  await deps.store.audit.append({ type: "tool.approval_declined", actor: deps.actor, tool: tool.name, status: tool.status, data: { answer } });
  // Ctrl-C is an interruption (130) in every phase, not a refusal.
  if (answer === "interrupted") throw new ToolctlError("interrupted", ExitCode.interrupted, `interrupted: ${tool.name} stays ${tool.status}`);
  throw new ToolctlError("policy_refused", ExitCode.policy, `not approved (${answer}); ${tool.name} stays ${tool.status}`);
}

export async function revokeTool(deps: ToolDeps, name: string): Promise<Revocation> {
  const state = await dropStateVolume(deps, await findTool(deps.store, name));
  const { previous } = await deps.store.tools.revoke(name, deps.actor, { stateVolume: state.volume, stateRemoved: state.removed });
  return { tool: name, status: "revoked", previous, ...state };
}

/** Empties a Docker tool's /state: the next run starts afresh. An engine that cannot be reached is exit 6. */
export async function clearToolState(deps: ToolDeps, name: string): Promise<Removal> {
  const tool = await findTool(deps.store, name);
  if (!keepsState(tool)) throw new PolicyError("policy_refused", `tool ${name} has no state volume: only Docker tools keep /state`);
  const state = await dropStateVolume(deps, tool);
  if (state.warning) throw new EnvironmentError(state.warning);
  await deps.store.audit.append({ type: "tool.state_cleared", actor: deps.actor, tool: name, data: { volume: state.volume, removed: state.removed } });
  return { tool: name, ...state };
}

async function dropStateVolume(deps: ToolDeps, tool: ToolRecord): Promise<StateVolume> {
  if (!keepsState(tool)) return { removed: false };
  const [{ connectEngine }, { removeStateVolume, stateVolumeName }, { homeId }] = await Promise.all([
    import("../runners/docker/engine.js"),
    import("../runners/docker/state.js"),
    import("../runners/docker/runner.js"),
  ]);
  const volume = stateVolumeName(tool.name, homeId(deps.home));
  try {
    return { volume, removed: await removeStateVolume(await connectEngine(deps.env), volume) };
  } catch (error) {
    return {
      volume,
      removed: false,
      warning: `state volume ${volume} was not removed (${(error as Error).message}); remove it later with: docker volume rm ${volume}`,
    };
  }
}
