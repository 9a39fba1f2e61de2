import { ExitCode, ValidationError } from "../../errors.js";
import { importManifests } from "../../manifest/import.js";
import type { CommandContext } from "../program.js";
import { withRegistry } from "./shared.js";

export async function importCommand(context: CommandContext, paths: string[]): Promise<number> {
  const report = await withRegistry(context, (registry) => importManifests(registry, { paths, actor: context.actor }));
  const { output } = context;
  const c = output.color;
  // Scripts branch on `error`: a partly failed import carries one, next to what was imported.
  const failure = report.failed.length === 0 ? undefined : {
    code: "manifest_invalid", exitCode: ExitCode.usage,
    message: `${report.failed.length} manifest${report.failed.length > 1 ? "s" : ""} could not be imported`,
  };
  output.data(failure ? { ...report, error: failure } : report, () => {
    const lines = report.imported.map((item) => {
      const { added, changed, removed } = item.actions;
      const parts = [
        added.length ? `+${added.length} action${added.length > 1 ? "s" : ""}` : "",
        changed.length ? `~${changed.length} changed (${changed.join(", ")})` : "",
        removed.length ? `-${removed.length} removed (${removed.join(", ")})` : "",
      ].filter(Boolean);
      const word = item.change === "unchanged" ? c.dim("unchanged") : item.change === "added" ? c.green("added") : c.yellow("updated");
      return `${word}  ${item.tool}  [${item.status}]${parts.length && item.change === "updated" ? `  ${parts.join(", ")}` : ""}  ${c.dim(item.file)}`;
    });
    return lines.join("\n");
  });
  // In JSON mode the failures are part of the report above; people get them on stderr, with every problem.
  if (!output.json) for (const failure of report.failed) output.error(new ValidationError("manifest_invalid", failure.message, failure.problems));
  if (report.failed.length > 0) return ExitCode.usage;
  return ExitCode.ok;
}
