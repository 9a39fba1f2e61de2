/**
 * `toolctl import`: files and directories → validated manifests → compiled validators → registry.
 * Each file is all-or-nothing; a bad file is reported with every problem in it and does not stop the others.
 */
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import type { Actor } from "../config/home.js";
import { ToolctlError, UsageError, ValidationError } from "../errors.js";
import type { Registry } from "../registry/db.js";
import { saveTool, type CompiledAction, type SaveToolResult } from "../registry/tools.js";
import { compileValidatorCode } from "../schema/compile.js";
import { digestOf } from "../util/canonical.js";
import { MANIFEST_EXTENSIONS, readManifestFile, type LoadedManifest } from "./load.js";

export interface ImportOptions {
  paths: string[];
  actor: Actor;
}

export interface ImportFailure {
  file: string;
  code: string;
  message: string;
  problems: string[];
}

export interface ImportReport {
  imported: Array<SaveToolResult & { file: string }>;
  failed: ImportFailure[];
}

/** Expands directories to the manifests directly inside them, in name order; a file named twice counts once. */
export async function collectManifestFiles(paths: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const given of paths) {
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
    const entries = (await readdir(given, { withFileTypes: true }))
      .filter((entry) => entry.isFile() && MANIFEST_EXTENSIONS.includes(path.extname(entry.name).toLowerCase()))
      .map((entry) => path.join(given, entry.name))
      .sort();
    if (entries.length === 0) throw new UsageError(`${given}: no manifests (*.yaml, *.yml, *.json) in this directory`);
    files.push(...entries);
  }
  const seen = new Set<string>();
  return files.filter((file) => !seen.has(path.resolve(file)) && seen.add(path.resolve(file)));
}

function compileActions(loaded: LoadedManifest): CompiledAction[] {
  const compile = (schema: Record<string, unknown>) => ({ digest: digestOf(schema), code: compileValidatorCode(schema) });
  return Object.entries(loaded.manifest.actions).map(([name, spec]) => ({
    name,
    spec,
    inputValidator: compile(spec.inputSchema),
    outputValidator: spec.outputSchema ? compile(spec.outputSchema) : undefined,
  }));
}

export async function importManifests(registry: Registry, options: ImportOptions): Promise<ImportReport> {
  const files = await collectManifestFiles(options.paths);
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
      const result = saveTool(registry, {
        manifest: loaded.manifest, digest: loaded.digest, secrets: loaded.secrets, sourcePath: loaded.sourcePath,
        actions: compileActions(loaded), actor: options.actor,
      });
      report.imported.push({ ...result, file });
    } catch (error) {
      // A registry failure is not the file's fault: stop, so nothing else is half-done.
      if (!(error instanceof ToolctlError) || error.exitCode === 6) throw error;
      report.failed.push({ file, code: error.code, message: error.message, problems: error.details.problems ?? [error.message] });
    }
  }
  return report;
}
