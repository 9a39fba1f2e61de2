/**
 * What of a tool is read relative to its manifest's directory (`{{ tool.dir }}`, a process tool's relative `cwd`,
 * `readable` and `writable`, a files tool's relative roots, a database tool's relative file and setup script, a
 * Vercel tool's relative project root): the same manifest imported from another directory uses other files.
 */
import path from "node:path";
import type { Manifest } from "./manifest.js";

type Located = Pick<Manifest, "runtime" | "actions" | "process" | "files" | "database" | "vercel">;

/** Each thing `manifest` reads beside its file (`{{ tool.dir }}`, then the relative paths); empty when none. */
export function filesBesideManifest(manifest: Located): string[] {
  const relative = (entries: Array<string | undefined>) => entries.filter((entry): entry is string => typeof entry === "string" && !path.isAbsolute(entry));
  switch (manifest.runtime) {
    case "process":
    case "docker": {
      const usesToolDir = /\{\{\s*tool\.dir\s*\}\}/.test(JSON.stringify(manifest.actions));
      const paths = relative([manifest.process?.cwd, ...(manifest.process?.readable ?? []), ...(manifest.process?.writable ?? [])]);
      return [...(usesToolDir ? ["{{ tool.dir }}"] : []), ...paths];
    }
    case "files":
      return relative(manifest.files?.roots ?? []);
    case "database":
      return relative([manifest.database?.file, manifest.database?.setup]);
    case "vercel":
      return relative([manifest.vercel?.projectRoot]);
    default:
      return [];
  }
}

/** Whether saving `manifest` from `sourcePath` instead of `storedPath` changes the files it runs or reads. */
export function movesFiles(manifest: Located, storedPath: string | null, sourcePath: string | undefined): boolean {
  if (!sourcePath || !storedPath || /^https?:\/\//i.test(sourcePath) || /^https?:\/\//i.test(storedPath)) return false;
  return path.dirname(storedPath) !== path.dirname(sourcePath) && filesBesideManifest(manifest).length > 0;
}
