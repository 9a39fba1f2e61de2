/**
 * What of a tool is read relative to its manifest's directory (`{{ tool.dir }}`, and a process tool's relative
 * `cwd`, `readable` and `writable`): the same manifest imported from another directory runs other files.
 */
import path from "node:path";
import type { Manifest } from "./manifest.js";

/** Each thing `manifest` reads beside its file (`{{ tool.dir }}`, then the relative paths); empty when none. */
export function filesBesideManifest(manifest: Pick<Manifest, "runtime" | "actions" | "process">): string[] {
  if (manifest.runtime !== "process" && manifest.runtime !== "docker") return [];
  const usesToolDir = /\{\{\s*tool\.dir\s*\}\}/.test(JSON.stringify(manifest.actions));
  const relative = [manifest.process?.cwd, ...(manifest.process?.readable ?? []), ...(manifest.process?.writable ?? [])].filter(
    (entry): entry is string => typeof entry === "string" && !path.isAbsolute(entry),
  );
  return [...(usesToolDir ? ["{{ tool.dir }}"] : []), ...relative];
}

/** Whether saving `manifest` from `sourcePath` instead of `storedPath` changes the files it runs or reads. */
export function movesFiles(manifest: Pick<Manifest, "runtime" | "actions" | "process">, storedPath: string | null, sourcePath: string | undefined): boolean {
  if (!sourcePath || !storedPath || /^https?:\/\//i.test(sourcePath) || /^https?:\/\//i.test(storedPath)) return false;
  return path.dirname(storedPath) !== path.dirname(sourcePath) && filesBesideManifest(manifest).length > 0;
}
