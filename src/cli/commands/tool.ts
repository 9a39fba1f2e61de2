import { NotFoundError } from "../../errors.js";
import { getTool, removeTool, setToolStatus, toolNames } from "../../registry/tools.js";
import { didYouMean } from "../../util/suggest.js";
import type { CommandContext } from "../program.js";
import { withRegistry } from "./shared.js";

export function toolCommand(verb: "enable" | "disable" | "remove") {
  return async (context: CommandContext, name: string): Promise<void> => {
    const result = await withRegistry(context, (registry) => {
      const tool = getTool(registry, name);
      if (!tool) throw new NotFoundError(`unknown tool '${name}'${didYouMean(name, toolNames(registry))}; see: toolctl list`);
      if (verb === "remove") {
        removeTool(registry, name, context.actor);
        return { tool: name, action: verb, status: "removed", changed: true };
      }
      const { changed } = setToolStatus(registry, name, verb === "enable" ? "active" : "disabled", context.actor);
      return { tool: name, action: verb, status: verb === "enable" ? "active" : "disabled", changed };
    });
    context.output.data(result, () =>
      result.changed ? `${name}: ${result.status}` : `${name} is already ${result.status}; nothing changed`,
    );
  };
}
