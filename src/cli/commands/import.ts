import { ExitCode, UsageError, ValidationError } from "../../errors.js";
import type { SaveToolResult } from "../../api/index.js";
import { withSlowSpinner } from "../../ui/output.js";
import type { CommandContext } from "../program.js";
import { withToolctl } from "./shared.js";

interface ImportFlags {
  openapi?: string;
  name?: string;
  baseUrl?: string;
  tag?: string[];
  operation?: string[];
  pathPrefix?: string;
  allowPlainHttp?: boolean;
  allowPrivateNetworks?: boolean;
  strict?: boolean;
  dryRun?: boolean;
}

type Colors = CommandContext["output"]["color"];

/** How a result is named: what happened, or with `--dry-run` what would. */
export function changeWord(change: SaveToolResult["change"], dryRun: boolean, c: Colors): string {
  if (change === "unchanged") return c.dim("unchanged");
  const word = dryRun ? `would ${change === "added" ? "add" : "update"}` : change;
  return change === "added" ? c.green(word) : c.yellow(word);
}

function changeLine(item: SaveToolResult, c: Colors, dryRun: boolean): string {
  const { added, changed, removed } = item.actions;
  const parts = [
    added.length ? `+${added.length} action${added.length > 1 ? "s" : ""}` : "",
    changed.length ? `~${changed.length} changed (${changed.join(", ")})` : "",
    removed.length ? `-${removed.length} removed (${removed.join(", ")})` : "",
  ].filter(Boolean);
  const word = changeWord(item.change, dryRun, c);
  const widened = item.widened?.length
    ? `\n  it ${dryRun ? "would reach" : "now reaches"} further (${item.widened.join(", ")}): review and grant with: toolctl tool approve ${item.tool}`
    : "";
  return `${word}  ${item.tool}  [${item.status}]${parts.length && item.change === "updated" ? `  ${parts.join(", ")}` : ""}${widened}`;
}

async function importSpec(context: CommandContext, flags: ImportFlags): Promise<number> {
  const source = flags.openapi!;
  // A large spec, or one fetched from a slow server, takes a while: a spinner says so after a second.
  const { report, result } = await withSlowSpinner(context.output, context.env, `importing ${source}`, () =>
    withToolctl(context, (toolctl) =>
      toolctl.importSpec(source, {
        name: flags.name,
        baseUrl: flags.baseUrl,
        tags: flags.tag,
        operations: flags.operation,
        pathPrefix: flags.pathPrefix,
        strict: flags.strict === true,
        allowPlainHttp: flags.allowPlainHttp === true,
        allowPrivateNetworks: flags.allowPrivateNetworks === true,
        dryRun: flags.dryRun === true,
      }),
    ),
  );
  const dryRun = flags.dryRun === true;
  const c = context.output.color;
  // stdout keeps one line per tool, as a manifest import prints; what was left out, the warnings and the next step
  // are notes on stderr (none with --quiet; all of it is in the JSON).
  context.output.data(
    { ...(dryRun ? { dryRun } : {}), imported: [{ ...result, file: source }], failed: [], openapi: report },
    () =>
      `${changeLine(result, c, dryRun)}  ${report.imported.length} of ${report.operations} operations from ${report.title} (${report.specVersion})  ${c.dim(source)}`,
  );
  for (const s of report.skipped)
    context.output.info(`  skipped ${s.method.toUpperCase()} ${s.path}${s.operationId ? ` (${s.operationId})` : ""}: ${s.reason}`);
  for (const warning of report.warnings) context.output.warn(warning);
  if (dryRun) context.output.info("dry run: nothing was imported");
  else if (result.status === "pending") context.output.info(`  review what it may call and grant it with: toolctl tool approve ${result.tool}`);
  return ExitCode.ok;
}

export async function importCommand(context: CommandContext, paths: string[], flags: ImportFlags): Promise<number> {
  if (flags.openapi !== undefined) {
    if (paths.length > 0) throw new UsageError(`--openapi imports one spec: give it alone, without manifest paths (${paths.join(" ")})`);
    return importSpec(context, flags);
  }
  const specOnly = (["name", "baseUrl", "pathPrefix", "allowPlainHttp", "allowPrivateNetworks", "strict"] as const).filter((key) => flags[key] !== undefined);
  if ((flags.tag ?? []).length > 0 || (flags.operation ?? []).length > 0 || specOnly.length > 0) {
    throw new UsageError("--name, --base-url, --tag, --operation, --path-prefix, --strict and --allow-* apply to --openapi only");
  }
  if (paths.length === 0) throw new UsageError("nothing to import: give manifest files or directories, or --openapi FILE|URL");
  const dryRun = flags.dryRun === true;
  const report = await withToolctl(context, (toolctl) => toolctl.importManifests(paths, { dryRun }));
  const { output } = context;
  const c = output.color;
  // Scripts branch on `error`: a partly failed import carries one, next to what was imported.
  const failure =
    report.failed.length === 0
      ? undefined
      : {
          code: "manifest_invalid",
          exitCode: ExitCode.usage,
          message: `${report.failed.length} manifest${report.failed.length > 1 ? "s" : ""} could not be imported`,
        };
  const data = dryRun ? { dryRun, ...report } : report;
  output.data(failure ? { ...data, error: failure } : data, () =>
    report.imported.map((item) => `${changeLine(item, c, dryRun)}  ${c.dim(item.file)}`).join("\n"),
  );
  // In JSON mode the failures are part of the report above; people get them on stderr, with every problem.
  if (!output.json) for (const failure of report.failed) output.error(new ValidationError("manifest_invalid", failure.message, failure.problems));
  if (dryRun) output.info("dry run: nothing was imported");
  if (report.failed.length > 0) return ExitCode.usage;
  return ExitCode.ok;
}
