/**
 * `toolctl import`: files and directories → validated manifests → compiled validators → saved (by `save`, which the
 * caller backs with its store).
 * Each file is all-or-nothing; a bad file is reported with every problem in it and does not stop the others.
 */
import { PROJECT_FILE } from "../config/home.js";
import { lstatSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import type { Actor } from "../config/home.js";
import { ToolctlError, UsageError, ValidationError } from "../errors.js";
import type { CompiledAction, SaveToolInput, SaveToolResult } from "../domain/records.js";
import { compileValidatorCode } from "../schema/compile.js";
import { withDefinitions } from "../schema/defs.js";
import { digestOf, sha256Hex } from "../util/canonical.js";
import { realPath } from "../util/paths.js";
import { declaredToolName, MANIFEST_EXTENSIONS, readManifestFile, type LoadedManifest } from "./load.js";

export interface ImportOptions {
  paths: string[];
  actor: Actor;
  /** Where relative paths are read from (the API's `cwd`); default: the process's own directory. */
  cwd?: string;
}

/** Saves one validated tool; the API passes its store's `tools.save`. */
export type SaveTool = (input: SaveToolInput) => Promise<SaveToolResult>;

export interface ImportFailure {
  /** The tool name the file declares, when its text can be read that far (it is still the file's tool). */
  tool?: string;
  file: string;
  code: string;
  message: string;
  problems: string[];
}

export interface ImportReport {
  imported: Array<SaveToolResult & { file: string }>;
  failed: ImportFailure[];
}

/**
 * Expands directories to the manifests directly inside them, in name order; a file named twice counts once. A
 * relative path is read from `cwd`; it keeps the name it was given when that is the process's own directory, so
 * that messages name it as the user did.
 */
export async function collectManifestFiles(paths: string[], cwd: string = process.cwd()): Promise<string[]> {
  const files: string[] = [];
  const here = path.resolve(cwd) === process.cwd();
  for (const named of paths) {
    const given = here || path.isAbsolute(named) ? named : path.resolve(cwd, named);
    let info;
    try {
      info = await stat(given);
    } catch {
      throw new UsageError(`${given}: no such file or directory`);
    }
    if (!info.isDirectory()) {
      files.push(given);
      continue;
    }
    // A symbolic link is followed to the file it names; one that names nothing is kept, so its import fails
    // saying so, rather than being left out in silence.
    const entries: string[] = [];
    for (const entry of await readdir(given, { withFileTypes: true })) {
      if (!MANIFEST_EXTENSIONS.includes(path.extname(entry.name).toLowerCase())) continue;
      // A nested project's own file is not a manifest (named on its own, it is refused as one by what it lacks).
      if (entry.name === PROJECT_FILE) continue;
      const file = path.join(given, entry.name);
      if (entry.isFile()) entries.push(file);
      else if (entry.isSymbolicLink()) {
        const target = await stat(file).catch(() => undefined);
        if (target === undefined || target.isFile()) entries.push(file);
      }
    }
    entries.sort();
    if (entries.length === 0) throw new UsageError(`${given}: no manifests (*.yaml, *.yml, *.json) in this directory`);
    files.push(...entries);
  }
  // One manifest named twice (by two paths, or through a link beside it) is imported once, as the file itself
  // rather than a link to it, at the place it was first named.
  const chosen = new Map<string, string>();
  for (const file of files) {
    const real = realPath(file);
    const earlier = chosen.get(real);
    if (earlier === undefined || (isLink(earlier) && !isLink(file))) chosen.set(real, file);
  }
  return [...chosen.values()];
}

function isLink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

function compileActions(loaded: LoadedManifest): CompiledAction[] {
  const definitions = loaded.manifest.definitions;
  const compile = (schema: Record<string, unknown>) => {
    const whole = withDefinitions(schema, definitions);
    return { digest: digestOf(whole), code: compileValidatorCode(whole) };
  };
  return Object.entries(loaded.manifest.actions).map(([name, spec]) => ({
    name,
    spec,
    inputValidator: compile(spec.inputSchema),
    outputValidator: spec.outputSchema && spec.validateOutput !== false ? compile(spec.outputSchema) : undefined,
  }));
}

export async function importManifests(save: SaveTool, options: ImportOptions): Promise<ImportReport> {
  const files = await collectManifestFiles(options.paths, options.cwd);
  const report: ImportReport = { imported: [], failed: [] };
  const seen = new Map<string, string>();
  for (const file of files) {
    try {
      const loaded = await readManifestFile(file);
      const earlier = seen.get(loaded.manifest.name);
      if (earlier) {
        throw new ValidationError("manifest_invalid", `${file}: tool name '${loaded.manifest.name}' is also declared in ${earlier}`, [
          `${file}: name: '${loaded.manifest.name}' is also declared in ${earlier}`,
        ]);
      }
      seen.set(loaded.manifest.name, file);
      const result = await save({
        manifest: loaded.manifest,
        digest: loaded.digest,
        secrets: loaded.secrets,
        sourcePath: loaded.sourcePath,
        actions: compileActions(loaded),
        actor: options.actor,
        canonicalDigest: true,
      });
      report.imported.push({ ...result, file });
    } catch (error) {
      // A registry failure is not the file's fault: stop, so nothing else is half-done.
      if (!(error instanceof ToolctlError) || error.exitCode === 6) throw error;
      const tool = await declaredToolName(file);
      report.failed.push({
        file,
        ...(tool !== undefined ? { tool } : {}),
        code: error.code,
        message: error.message,
        problems: error.details.problems ?? [error.message],
      });
    }
  }
  return report;
}

/** Above this many shared definitions, an imported output schema is documentation only (see importOpenApi). */
export const MAX_OUTPUT_DEFINITIONS = 40;

export interface OpenApiImport {
  source: string;
  actor: Actor;
  options: Omit<import("../openapi/index.js").OpenApiImportOptions, "env" | "cwd"> & { env: NodeJS.ProcessEnv; cwd: string };
}

/**
 * `toolctl import --openapi`: a spec → one tool whose actions are its operations, saved in one transaction and
 * `pending` until approved. Validators are compiled on each action's first run, so a large API imports fast.
 */
export async function importOpenApi(
  save: SaveTool,
  request: OpenApiImport,
): Promise<{ report: import("../openapi/index.js").ConvertReport; result: SaveToolResult }> {
  const { report, input } = await prepareOpenApi(request);
  return { report, result: await save(input) };
}

/** A spec converted and checked as `importOpenApi` does, ready to save: nothing is written yet. */
export async function prepareOpenApi(request: OpenApiImport): Promise<{ report: import("../openapi/index.js").ConvertReport; input: SaveToolInput }> {
  const [{ convertOpenApi }, { manifestSchema, reservedKeyProblems }, { describeIssue }, { referencedSecrets }] = await Promise.all([
    import("../openapi/index.js"),
    import("../domain/manifest.js"),
    import("./problems.js"),
    import("./load.js"),
  ]);
  const converted = await convertOpenApi(request.source, request.options);
  // A parameter named __proto__ would be left out of the request without a word: refused, as in a manifest file.
  const reserved = reservedKeyProblems(converted.manifest);
  const parsed = manifestSchema.safeParse(converted.manifest);
  if (reserved.length > 0 || !parsed.success) {
    // The converter's output is checked like any manifest: a spec it cannot express is refused, never half-saved.
    const problems =
      reserved.length > 0
        ? reserved.map((p) => `${request.source}: ${[...p.path, p.atKey].join(".")}: ${p.message}`)
        : parsed.error!.issues.flatMap((issue) => describeIssue(issue, manifestSchema)).map((p) => `${request.source}: ${p.path.join(".")}: ${p.message}`);
    throw new ValidationError(
      "manifest_invalid",
      problems.length === 1 ? problems[0]! : `${request.source}: ${problems.length} problems in the converted tool`,
      problems,
    );
  }
  const manifest = parsed.data;
  // An output schema reaching many shared definitions compiles to megabytes of code in seconds (Stripe's
  // expandable objects reach half the API): such schemas are kept, shown, and not enforced.
  const { closureFinder } = await import("../schema/defs.js");
  const reach = closureFinder(manifest.definitions);
  const unchecked: string[] = [];
  for (const [name, spec] of Object.entries(manifest.actions)) {
    if (spec.outputSchema && reach(spec.outputSchema).length > MAX_OUTPUT_DEFINITIONS) {
      spec.validateOutput = false;
      unchecked.push(name);
    }
  }
  if (unchecked.length > 0) {
    converted.report.warnings.push(
      `${unchecked.length} operation(s) have output schemas that reach more than ${MAX_OUTPUT_DEFINITIONS} shared definitions; their responses are not validated (${unchecked.slice(0, 5).join(", ")}${unchecked.length > 5 ? ", ..." : ""})`,
    );
  }
  const sourcePath = /^https?:\/\//i.test(request.source) ? request.source : path.resolve(request.options.cwd, request.source);
  // The converter is deterministic, so the plain JSON text is a stable digest; canonicalising megabytes of
  // schemas would cost more than the rest of the save.
  const input: SaveToolInput = {
    manifest,
    digest: sha256Hex(JSON.stringify(manifest)),
    secrets: referencedSecrets(manifest),
    sourcePath,
    actions: Object.entries(manifest.actions).map(([name, spec]) => ({ name, spec })),
    actor: request.actor,
    requiresApproval: true,
  };
  return { report: converted.report, input };
}
