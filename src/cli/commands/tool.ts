/**
 * `toolctl tool enable|disable|approve|revoke|remove|clear-state NAME`: the tool lifecycle. `approve` shows
 * exactly what the tool asks for and grants it after a confirmation (or `--yes`); `revoke` takes the grants and
 * the state volume away and keeps the history. Every change is audited.
 */
import { ExitCode, NeedsHumanError, NotFoundError, PolicyError, ToolctlError } from "../../errors.js";
import { appendAudit } from "../../store/sqlite/audit.js";
import { writeTransaction, type Registry } from "../../store/sqlite/db.js";
import { enableStatus, toolAskedItems } from "../../policy/grants.js";
import { approveTool, revokeTool } from "../../store/sqlite/grants.js";
import { getTool, removeTool, setToolStatus, toolNames, type ToolRecord } from "../../store/sqlite/tools.js";
import { didYouMean } from "../../util/suggest.js";
import type { CommandContext } from "../program.js";
import { withRegistry } from "./shared.js";

function findTool(registry: Registry, name: string): ToolRecord {
  const tool = getTool(registry, name);
  if (!tool) throw new NotFoundError(`unknown tool '${name}'${didYouMean(name, toolNames(registry))}; see: toolctl list`);
  return tool;
}

export function toolCommand(verb: "enable" | "disable" | "remove") {
  return async (context: CommandContext, name: string): Promise<void> => {
    // A removed tool's state goes with it: a later tool of the same name must not inherit it.
    const state = verb === "remove" ? await dropStateVolume(context, await withRegistry(context, (registry) => findTool(registry, name))) : {};
    if (state.warning) context.output.warn(state.warning);
    const result = await withRegistry(context, (registry) => {
      const tool = findTool(registry, name);
      if (verb === "remove") {
        removeTool(registry, name, context.actor, { stateVolume: state.volume, stateRemoved: state.removed ?? false });
        return { tool: name, action: verb, status: "removed", changed: true };
      }
      const status = verb === "enable" ? enableStatus(tool) : "disabled";
      const { changed } = setToolStatus(registry, name, status, context.actor);
      return { tool: name, action: verb, status, changed };
    });
    context.output.data(result, () => {
      if (!result.changed) return `${name} is already ${result.status}; nothing changed`;
      if (result.status === "pending") return `${name}: pending (it asks for permissions nobody has granted); review them with: toolctl tool approve ${name}`;
      return `${name}: ${result.status}`;
    });
  };
}

function askedLines(tool: ToolRecord): string[] {
  const items = toolAskedItems(tool);
  const lines = [`Tool ${tool.name} ${tool.version} (${tool.runtime})${tool.definition.image ? `, image ${tool.definition.image}` : ""} asks for:`];
  if (items.length === 0) lines.push("  nothing beyond the defaults");
  for (const item of items) {
    const label = item.name === "host" ? "calls" : item.name;
    lines.push(`  ${label.padEnd(10)} ${item.asked}${item.needsGrant ? `   (now: ${item.allowed})` : ""}`);
  }
  return lines;
}

interface ApproveFlags {
  yes?: boolean;
}

export async function approveToolCommand(context: CommandContext, name: string, flags: ApproveFlags): Promise<number> {
  const { tool, items } = await withRegistry(context, (registry) => {
    const found = findTool(registry, name);
    return { tool: found, items: toolAskedItems(found) };
  });
  if (!context.json) process.stderr.write(`${askedLines(tool).join("\n")}\n`);
  if (!flags.yes) {
    const { canPrompt, askYesNo } = await import("../../ui/prompt.js");
    if (!canPrompt()) throw new NeedsHumanError(`granting ${name}'s permissions needs a human: run toolctl tool approve ${name} in a terminal, or add --yes`);
    const answer = await askYesNo(`Grant these permissions to ${name}? [yes/no]`, 5 * 60_000);
    if (answer !== "yes") {
      await withRegistry(context, (registry) =>
        writeTransaction(registry, () => appendAudit(registry, { type: "tool.approval_declined", actor: context.actor, tool: name, status: tool.status, data: { answer } })),
      );
      // Ctrl-C is an interruption (130) in every phase, not a refusal.
      if (answer === "interrupted") throw new ToolctlError("interrupted", ExitCode.interrupted, `interrupted: ${name} stays ${tool.status}`);
      throw new ToolctlError("policy_refused", ExitCode.policy, `not approved (${answer}); ${name} stays ${tool.status}`);
    }
  }
  const result = await withRegistry(context, (registry) => approveTool(registry, name, tool.digest, context.actor));
  context.output.data({ tool: name, status: result.status, previous: result.previous, grants: result.grants, asked: items }, () =>
    result.status === "active" ? `${name}: active (permissions granted)` : `${name}: permissions granted; it stays ${result.status} (run: toolctl tool enable ${name})`);
  return ExitCode.ok;
}

/** Removes the tool's state volume (when Docker is there); `what` says why, for the audit log. */
async function dropStateVolume(context: CommandContext, tool: ToolRecord): Promise<{ volume?: string; removed?: boolean; warning?: string }> {
  if (!(tool.runtime === "docker" || (tool.runtime === "process" && tool.definition.image))) return {};
  const { connectEngine } = await import("../../runners/docker/engine.js");
  const { removeStateVolume, stateVolumeName } = await import("../../runners/docker/state.js");
  const { homeId } = await import("../../runners/docker/runner.js");
  const volume = stateVolumeName(tool.name, homeId(context.home));
  try {
    return { volume, removed: await removeStateVolume(await connectEngine(context.env), volume) };
  } catch (error) {
    return { volume, warning: `state volume ${volume} was not removed (${(error as Error).message}); remove it later with: docker volume rm ${volume}` };
  }
}

export async function revokeToolCommand(context: CommandContext, name: string): Promise<void> {
  const tool = await withRegistry(context, (registry) => findTool(registry, name));
  const state = await dropStateVolume(context, tool);
  const result = await withRegistry(context, (registry) => revokeTool(registry, name, context.actor, { stateVolume: state.volume, stateRemoved: state.removed ?? false }));
  if (state.warning) context.output.warn(state.warning);
  context.output.data({ tool: name, status: "revoked", previous: result.previous, stateVolume: state.volume ?? null, stateRemoved: state.removed ?? false },
    () => `${name}: revoked (grants removed${state.removed ? `, state volume ${state.volume} removed` : ""}; its history stays)`);
}

export async function clearStateCommand(context: CommandContext, name: string): Promise<void> {
  const tool = await withRegistry(context, (registry) => findTool(registry, name));
  if (!(tool.runtime === "docker" || (tool.runtime === "process" && tool.definition.image))) {
    throw new PolicyError("policy_refused", `tool ${name} has no state volume: only Docker tools keep /state`);
  }
  const state = await dropStateVolume(context, tool);
  if (state.warning) throw new ToolctlError("environment_unavailable", ExitCode.environment, state.warning);
  await withRegistry(context, (registry) =>
    writeTransaction(registry, () => appendAudit(registry, { type: "tool.state_cleared", actor: context.actor, tool: name, data: { volume: state.volume, removed: state.removed } })),
  );
  context.output.data({ tool: name, volume: state.volume, removed: state.removed }, () =>
    state.removed ? `${name}: state volume ${state.volume} removed; the next run starts with an empty /state` : `${name}: no state volume to clear`);
}
