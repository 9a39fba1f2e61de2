/**
 * `toolctl sync`: the project's toolctl.yaml made true in the registry. Every listed manifest and spec is imported
 * (saving an unchanged tool changes nothing, so a second sync reports "unchanged"); the tools a sync imported are
 * remembered in the home, so that `--prune` removes only those the file no longer lists, never one imported by hand
 * (a sync owns the tools it added, and keeps owning them while they are listed; see docs/projects.md).
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { findProject, PROJECT_HOME } from "../../config/home.js";
import { underHomeLock } from "../../config/home-lock.js";
import { checkProjectHome } from "../../config/project-home.js";
import { EnvironmentError, ExitCode, ToolctlError, UsageError, ValidationError } from "../../errors.js";
import type { SaveToolResult, Toolctl } from "../../api/index.js";
import { writeFileAtomic } from "../../util/atomic-file.js";
import { isInside } from "../../util/paths.js";
import type { CommandContext } from "../program.js";
import { changeWord } from "./import.js";
import { withToolctl } from "./shared.js";

/**
 * In the home: the tools each project's syncs imported, by the project's toolctl.yaml. Projects may share a home
 * (`--home`, `TOOLCTL_HOME`): each owns only its own tools, and never prunes one another project owns. A project
 * is named by the path of its toolctl.yaml from the home when the home is inside the project (its own
 * `.toolctl/`, so that moving the project keeps what it owns), else by the file's absolute path.
 */
export const SYNC_STATE_FILE = "synced.json";

/** How long a sync waits for another one into the same home (an OpenAPI import may take seconds). */
const LOCK_WAIT_MS = 30_000;

interface SyncFlags {
  prune?: boolean;
  dryRun?: boolean;
}

interface SyncedTool {
  tool: string;
  change: SaveToolResult["change"];
  status: SaveToolResult["status"];
  source: string;
  /** A spec's operations left out, and why (as `import --openapi` reports them). */
  skipped?: Array<{ method: string; path: string; operationId?: string; reason: string }>;
  /** A spec's warnings. */
  warnings?: string[];
}

/** The tools each project's syncs own, by the path of its toolctl.yaml (see SYNC_STATE_FILE). */
type SyncState = Record<string, string[]>;

/** How `synced.json` in `home` names the project of `file` (its toolctl.yaml). */
function ownerKey(home: string, file: string): string {
  return isInside(path.dirname(file), home) ? path.relative(home, file) : file;
}

/** Whether the toolctl.yaml an entry names is still there (a project moved or removed owns nothing any more). */
const ownerExists = (home: string, key: string) => existsSync(path.resolve(home, key));

function readState(home: string, current: { key: string; file: string }): SyncState {
  const record = path.join(home, SYNC_STATE_FILE);
  // Read as empty only when there is none yet: one that cannot be read would be written over as empty, and every
  // tool a sync imported would count as imported by hand from then on, never pruned.
  const unusable = (why: string) =>
    new EnvironmentError(
      `${record} ${why}: it records which tools syncs imported, and without it every tool would count as imported by hand (never pruned); fix it, or remove it to start that record again; nothing was synced`,
    );
  let text: string;
  try {
    text = readFileSync(record, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw unusable(`cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  let state: unknown;
  try {
    state = JSON.parse(text);
  } catch {
    throw unusable("is not valid JSON");
  }
  const names = (tools: unknown) => (Array.isArray(tools) ? tools.filter((tool): tool is string => typeof tool === "string") : []);
  if (typeof state !== "object" || state === null || Array.isArray(state)) throw unusable("is not a JSON object");
  const { projects, file, tools } = state as { projects?: unknown; file?: unknown; tools?: unknown };
  // Written before projects could share a home: one project's absolute file and its tools. That project is this
  // one when the file is, or when it is gone (the project moved since).
  if (projects === undefined) {
    if (typeof file !== "string") return {};
    return { [file === current.file || !existsSync(file) ? current.key : ownerKey(home, file)]: names(tools) };
  }
  if (typeof projects !== "object" || projects === null) return {};
  return Object.fromEntries(Object.entries(projects).map(([project, owned]) => [project, names(owned)]));
}

/**
 * Records what the current project's sync now owns, read again first so that another project's sync since is
 * kept; entries of projects whose toolctl.yaml is gone are dropped.
 */
function writeState(home: string, current: { key: string; file: string }, tools: string[]): void {
  const state = Object.fromEntries(Object.entries(readState(home, current)).filter(([key]) => key !== current.key && ownerExists(home, key)));
  if (tools.length > 0) state[current.key] = tools;
  writeFileAtomic(path.join(home, SYNC_STATE_FILE), `${JSON.stringify({ projects: state }, null, 2)}\n`);
}

export async function syncCommand(context: CommandContext, flags: SyncFlags): Promise<number> {
  const dryRun = flags.dryRun === true;
  const project = context.project ?? findProject(context.cwd);
  if (!project) throw new UsageError(`no toolctl.yaml in ${context.cwd} or any directory above it; create one with: toolctl init`);
  const { projectInvalid, projectProblem, readProject } = await import("../../config/project.js");
  const file = await readProject(project);
  // Every listed path is checked before anything is imported: a typo, or a link out of the project, changes nothing.
  const { manifestToolNames, resolveProjectSources } = await import("../../config/project-paths.js");
  const sources = resolveProjectSources(project, file);
  const shown = new Map(sources.manifests.map((m) => [m.file, m.shown]));
  // One name, one source: a tool declared twice would be imported from each in turn, on every sync. Manifests and
  // the specs that name their tool are checked before the registry is opened, the others once converted.
  const declared = new Map<string, string>();
  const declare = (tool: string, field: Array<string | number>, source: string, listedAs: string) => {
    const earlier = declared.get(tool);
    if (earlier !== undefined) {
      throw projectInvalid(project.file, [projectProblem(project.file, field, `tool name '${tool}' is also declared in ${earlier}`)]);
    }
    declared.set(tool, `${source} (${listedAs})`);
  };
  const names = await manifestToolNames(sources.manifests);
  sources.manifests.forEach((m, i) => names[i] !== undefined && declare(names[i], m.field, m.shown, m.field.join(".")));
  file.specs.forEach((spec, i) => spec.name !== undefined && declare(spec.name, ["specs", i, "name"], spec.openapi, `specs.${i}`));

  // A spec's filters that select nothing were given in toolctl.yaml: the error points there, at the field.
  const prepareListed = async <T>(i: number, prepare: () => Promise<T>): Promise<T> => {
    try {
      return await prepare();
    } catch (error) {
      const option = error instanceof ToolctlError ? error.details.option : undefined;
      if (typeof option !== "string") throw error;
      throw projectInvalid(project.file, [projectProblem(project.file, ["specs", i, option], (error as Error).message)]);
    }
  };
  const syncInto = async (toolctl: Toolctl) => {
    // What earlier syncs imported, read before anything is: a record that cannot be read stops the sync here.
    const current = { key: ownerKey(toolctl.home, project.file), file: project.file };
    const state = readState(toolctl.home, current);
    const synced: SyncedTool[] = [];
    const prepared = [];
    for (const [i, spec] of file.specs.entries()) {
      const ready = await prepareListed(i, () =>
        toolctl.prepareSpec(sources.specs[i]!, {
          name: spec.name,
          baseUrl: spec.baseUrl,
          tags: spec.tags,
          operations: spec.operations,
          pathPrefix: spec.pathPrefix,
          strict: spec.strict === true,
          // What the spec refers to stays in the project too, as its listed paths do, and out of the project's
          // .toolctl/ and the home in use (which --home or TOOLCTL_HOME may put elsewhere in the project).
          confineRefs: { root: project.root, except: [...new Set([path.join(project.root, PROJECT_HOME), toolctl.home])] },
        }),
      );
      if (spec.name === undefined) declare(ready.tool, ["specs", i, "openapi"], spec.openapi, `specs.${i}`);
      prepared.push(ready);
    }
    // A dry run asks the registry what each save would do, and writes nothing: no tool, no record of what it owns.
    const report =
      sources.manifests.length > 0
        ? await toolctl.importManifests(
            sources.manifests.map((m) => m.file),
            { dryRun },
          )
        : undefined;
    for (const item of report?.imported ?? []) {
      synced.push({ tool: item.tool, change: item.change, status: item.status, source: shown.get(item.file) ?? item.file });
    }
    for (const [i, spec] of file.specs.entries()) {
      const saved = await (dryRun ? prepared[i]!.preview() : prepared[i]!.save());
      const { skipped, warnings } = prepared[i]!.report;
      synced.push({ tool: saved.tool, change: saved.change, status: saved.status, source: spec.openapi, skipped, warnings });
    }
    const failed = report?.failed ?? [];
    // A manifest that failed is still listed, and so is its tool: named from the file's text where it can be read.
    const failedNames = failed.map((f) => f.tool);
    const listed = new Set([...synced.map((s) => s.tool), ...failedNames.filter((name): name is string => name !== undefined)]);
    // The sync's tools: those it added, and those an earlier sync owned. A tool that was there before any sync
    // (imported by hand) stays the user's, even when a sync finds it unchanged or updates it.
    const owned = new Set(state[current.key] ?? []);
    const othersOwn = new Set(Object.entries(state).flatMap(([key, tools]) => (key === current.key || !ownerExists(toolctl.home, key) ? [] : tools)));
    const ours = [...listed].filter((tool) => owned.has(tool) || synced.some((s) => s.tool === tool && s.change === "added"));
    // Tools an earlier sync imported and the file no longer lists; with a failed manifest its tools would look
    // unlisted, so nothing is pruned then. One another project's sync owns too stays: it is that project's now.
    const stale = [...owned].filter((tool) => !listed.has(tool) && !othersOwn.has(tool));
    const existing = new Set((await toolctl.listTools()).map((tool) => tool.name));
    const notListed = stale.filter((tool) => existing.has(tool));
    // A failed manifest whose name cannot be read may be any of them: none is reported or pruned, and all stay owned.
    const unlisted = failedNames.includes(undefined) ? [] : notListed;
    const removed: string[] = [];
    if (flags.prune && failed.length === 0) {
      for (const tool of unlisted) {
        if (!dryRun) await toolctl.removeTool(tool);
        removed.push(tool);
      }
    }
    const kept = notListed.filter((tool) => !removed.includes(tool));
    if (!dryRun) writeState(toolctl.home, current, [...ours, ...kept]);
    return { synced, removed, unlisted: unlisted.filter((tool) => !removed.includes(tool)), failed };
  };
  // Under a lock beside synced.json, from the first import to the record of what this sync owns: another
  // project's sync into the same home (--home, TOOLCTL_HOME) waits its turn, so neither record is lost.
  // Before the lock beside synced.json is made: a project home toolctl did not make here is not written to at all.
  checkProjectHome(context.home);
  const result = await withToolctl(context, (toolctl) =>
    underHomeLock(path.join(toolctl.home, `.${SYNC_STATE_FILE}.lock`), path.join(toolctl.home, SYNC_STATE_FILE), LOCK_WAIT_MS, "Nothing was synced", () =>
      syncInto(toolctl),
    ),
  );

  const { output } = context;
  const c = output.color;
  const counts = (change: SaveToolResult["change"]) => result.synced.filter((s) => s.change === change).length;
  const summary = { added: counts("added"), updated: counts("updated"), unchanged: counts("unchanged"), removed: result.removed.length };
  const failure =
    result.failed.length === 0
      ? undefined
      : {
          code: "manifest_invalid",
          exitCode: ExitCode.usage,
          message: `${result.failed.length} manifest${result.failed.length > 1 ? "s" : ""} could not be imported`,
        };
  // In a dry run, `removed` lists what --prune would remove, and each tool's change is what the sync would do.
  const data = {
    ...(dryRun ? { dryRun } : {}),
    project: project.file,
    home: context.home,
    tools: result.synced,
    removed: result.removed,
    unlisted: result.unlisted,
    summary,
  };
  output.data(failure ? { ...data, failed: result.failed, error: failure } : data, () =>
    [
      ...result.synced.map((s) => `${changeWord(s.change, dryRun, c)}  ${s.tool}  [${s.status}]  ${c.dim(s.source)}`),
      ...result.removed.map((tool) => `${c.red(dryRun ? "would remove" : "removed")}  ${tool}  ${c.dim("no longer in toolctl.yaml")}`),
      dryRun
        ? `dry run: ${summary.added} to add, ${summary.updated} to update, ${summary.unchanged} unchanged${summary.removed ? `, ${summary.removed} to remove` : ""} in ${context.home}; nothing was changed`
        : `${summary.added} added, ${summary.updated} updated, ${summary.unchanged} unchanged${summary.removed ? `, ${summary.removed} removed` : ""} in ${context.home}`,
    ].join("\n"),
  );
  if (result.unlisted.length > 0) {
    output.info(
      flags.prune
        ? `not pruned, because a manifest failed: ${result.unlisted.join(", ")}`
        : `no longer in toolctl.yaml: ${result.unlisted.join(", ")}; toolctl sync --prune removes them`,
    );
  }
  for (const s of result.synced) {
    for (const skip of s.skipped ?? [])
      output.info(`  ${s.tool}: skipped ${skip.method.toUpperCase()} ${skip.path}${skip.operationId ? ` (${skip.operationId})` : ""}: ${skip.reason}`);
    for (const warning of s.warnings ?? []) output.warn(`${s.tool}: ${warning}`);
  }
  const pending = dryRun ? [] : result.synced.filter((s) => s.status === "pending" && s.change !== "unchanged");
  for (const s of pending) output.info(`review what ${s.tool} may call and grant it with: toolctl tool approve ${s.tool}`);
  if (!output.json) for (const f of result.failed) output.error(new ValidationError("manifest_invalid", f.message, f.problems));
  return result.failed.length > 0 ? ExitCode.usage : ExitCode.ok;
}
