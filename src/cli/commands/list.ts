import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { table, truncate } from "../../ui/output.js";
import { listEnvelope, printList } from "../list-output.js";
import type { CommandContext } from "../program.js";
import { withToolctl } from "./shared.js";

interface ListFlags {
  runtime?: string;
  status?: string;
  tag?: string;
  search?: string;
}

/**
 * What to import into an empty registry: the example manifests shipped with toolctl, by absolute path (the
 * built command sits two folders below the package root), so the hint works from any directory.
 */
function importHint(): string {
  const examples = fileURLToPath(new URL("../../manifests/examples", import.meta.url));
  return existsSync(examples) ? `toolctl import ${examples}` : "toolctl import <manifest file or directory>";
}

export async function listCommand(context: CommandContext, flags: ListFlags): Promise<void> {
  if (context.json) {
    const tools = await withToolctl(context, (toolctl) => toolctl.listTools(flags));
    await printList(context, listEnvelope(tools), () => "");
    return;
  }
  const rows = await withToolctl(context, (toolctl) => toolctl.toolRows(flags));
  const c = context.output.color;
  const statusColor = (status: string) => (status === "active" ? c.green(status) : status === "pending" ? c.yellow(status) : c.red(status));
  context.output.data(null, () => {
    if (rows.length === 0) {
      const filtered = Object.values(flags).some((value) => value !== undefined);
      return filtered ? "no tools match these filters; see: toolctl list" : `no tools yet; import some with: ${importHint()}`;
    }
    const cells = rows.map(([name, runtime, status, actions, description]) => [name, runtime, status, String(actions), truncate(description, 60)]);
    const text = table(["NAME", "RUNTIME", "STATUS", "ACTIONS", "DESCRIPTION"], cells, (h) => c.bold(h), { width: context.output.width, flex: [4] });
    // Colour is applied after padding so escape codes do not skew the columns.
    return c.level > 0 ? text.replace(/ (active|pending|disabled|revoked) /g, (_match, s: string) => ` ${statusColor(s)} `) : text;
  });
}
