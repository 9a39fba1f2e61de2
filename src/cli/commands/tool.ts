/**
 * `toolctl tool enable|disable|approve|revoke|remove|clear-state NAME`: the tool lifecycle. `approve` shows
 * exactly what the tool asks for and grants it after a confirmation (or `--yes`); `revoke` takes the grants and
 * the state volume away and keeps the history. Every change is audited (engine/tools.ts).
 */
import type { ToolAsks } from "../../api/index.js";
import { ExitCode, NeedsHumanError } from "../../errors.js";
import type { CommandContext } from "../program.js";
import { withToolctl } from "./shared.js";

export function toolCommand(verb: "enable" | "disable" | "remove") {
  return async (context: CommandContext, name: string): Promise<void> => {
    if (verb === "remove") {
      const removed = await withToolctl(context, (toolctl) => toolctl.removeTool(name));
      if (removed.warning) context.output.warn(removed.warning);
      context.output.data({ tool: name, action: verb, status: "removed", changed: true }, () => `${name}: removed`);
      return;
    }
    const result = await withToolctl(context, (toolctl) => (verb === "enable" ? toolctl.enableTool(name) : toolctl.disableTool(name)));
    context.output.data(result, () => {
      if (!result.changed) return `${name} is already ${result.status}; nothing changed`;
      if (result.status === "pending") return `${name}: pending (it asks for permissions nobody has granted); review them with: toolctl tool approve ${name}`;
      return `${name}: ${result.status}`;
    });
  };
}

function askedLines({ tool, items }: ToolAsks): string[] {
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
  const result = await withToolctl(context, (toolctl) =>
    toolctl.approveTool(name, {
      async confirm(asks) {
        const prompt = flags.yes ? undefined : await import("../../ui/prompt.js");
        const asking = prompt?.canPrompt() === true;
        // Shown before a grant; with --quiet only to someone asked about it.
        if (!context.json && (asking || !context.output.quiet)) process.stderr.write(`${askedLines(asks).join("\n")}\n`);
        if (!prompt) return "yes";
        if (!asking) throw new NeedsHumanError(`granting ${name}'s permissions needs a human: run toolctl tool approve ${name} in a terminal, or add --yes`);
        return prompt.askYesNo(`Grant these permissions to ${name}? [yes/no]`, 5 * 60_000);
      },
    }),
  );
  context.output.data({ tool: name, status: result.status, previous: result.previous, grants: result.grants, asked: result.asked }, () =>
    result.status === "active"
      ? `${name}: active (permissions granted)`
      : `${name}: permissions granted; it stays ${result.status} (run: toolctl tool enable ${name})`,
  );
  return ExitCode.ok;
}

export async function revokeToolCommand(context: CommandContext, name: string): Promise<void> {
  const result = await withToolctl(context, (toolctl) => toolctl.revokeTool(name));
  if (result.warning) context.output.warn(result.warning);
  context.output.data(
    { tool: name, status: "revoked", previous: result.previous, stateVolume: result.volume ?? null, stateRemoved: result.removed },
    () => `${name}: revoked (grants removed${result.removed ? `, state volume ${result.volume} removed` : ""}; its history stays)`,
  );
}

export async function clearStateCommand(context: CommandContext, name: string): Promise<void> {
  const result = await withToolctl(context, (toolctl) => toolctl.clearToolState(name));
  context.output.data({ tool: name, volume: result.volume, removed: result.removed }, () =>
    result.removed ? `${name}: state volume ${result.volume} removed; the next run starts with an empty /state` : `${name}: no state volume to clear`,
  );
}

/** `toolctl tool export NAME`: the manifest on stdout (YAML, or JSON with --json); notes about moving it on stderr. */
export async function exportToolCommand(context: CommandContext, name: string): Promise<void> {
  const exported = await withToolctl(context, (toolctl) => toolctl.exportTool(name, { format: context.json ? "json" : "yaml" }));
  for (const note of exported.notes) context.output.info(`note: ${note}`);
  context.output.data(exported.manifest, () => exported.text);
}
