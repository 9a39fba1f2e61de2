/**
 * The files a project's toolctl.yaml lists, found and checked before anything is imported. A toolctl.yaml may come
 * from a repository someone cloned, so every listed path, and every manifest found in a listed directory, must
 * really be inside the project: a symbolic link that leads out of it is refused, as is the project's own home
 * (`.toolctl/`, its registry and keys) and toolctl.yaml itself. What is checked is what is imported: the files are
 * handed on by their real paths.
 */
import { readdirSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { PROJECT_FILE, PROJECT_HOME, type ProjectRef } from "./home.js";
import { projectInvalid, projectProblem, type ProjectFile } from "./project.js";
import { MANIFEST_EXTENSIONS, readManifestFile } from "../manifest/load.js";
import { isInside } from "../util/paths.js";

export interface ProjectSourceFile {
  /** The real path, to read. */
  file: string;
  /** As the project names it: from its root, through any link inside it. */
  shown: string;
  /** The toolctl.yaml field that lists it (or its directory). */
  field: Array<string | number>;
}

export interface ProjectSources {
  /** Every manifest file, listed or found in a listed directory, in order, each once. */
  manifests: ProjectSourceFile[];
  /** Per spec, in order: its real path, or its https:// URL as given. */
  specs: string[];
}

function realpath(file: string): string | undefined {
  try {
    return realpathSync(file);
  } catch {
    return undefined;
  }
}

/** The listed manifests and specs, resolved and checked; a project_invalid error naming every bad entry. */
export function resolveProjectSources(project: ProjectRef, file: ProjectFile): ProjectSources {
  const root = realpath(project.root) ?? project.root;
  const self = realpath(project.file) ?? project.file;
  const home = path.join(root, PROJECT_HOME);
  const problems: string[] = [];
  const problem = (field: Array<string | number>, message: string) => problems.push(projectProblem(project.file, field, message));

  /** The real path of `shown` (from the root), or undefined after a problem saying why not. */
  const check = (field: Array<string | number>, shown: string, what: "manifest" | "spec"): string | undefined => {
    const real = realpath(path.join(project.root, shown));
    if (real === undefined) problem(field, `${shown} does not exist (paths are from ${project.root})`);
    else if (!isInside(root, real)) problem(field, `${shown} leads outside the project, to ${real}, through a symbolic link`);
    else if (isInside(home, real)) problem(field, `${shown} is in the project's home (${PROJECT_HOME}/, its registry and keys), not a ${what}`);
    else if (real === self) problem(field, `${shown} is toolctl.yaml itself, not a ${what}`);
    else return real;
    return undefined;
  };

  const manifests: ProjectSourceFile[] = [];
  const seen = new Set<string>();
  const add = (real: string, shown: string, field: Array<string | number>) => {
    if (seen.has(real)) return;
    seen.add(real);
    manifests.push({ file: real, shown, field });
  };
  file.manifests.forEach((entry, i) => {
    const field = ["manifests", i];
    const real = check(field, entry, "manifest");
    if (real === undefined) return;
    if (!statSync(real).isDirectory()) return add(real, path.normalize(entry), field);
    if (real === root) {
      return problem(field, `${entry} is the project's root, where toolctl.yaml is not a manifest; list the manifests, or a directory of them`);
    }
    const before = problems.length;
    const found = readdirSync(real)
      // A nested project's own toolctl.yaml is not a manifest.
      .filter((name) => MANIFEST_EXTENSIONS.includes(path.extname(name).toLowerCase()) && name !== PROJECT_FILE)
      .sort()
      .flatMap((name) => {
        // A link is followed, as long as it stays inside the project.
        const target = check(field, path.join(entry, name), "manifest");
        return target !== undefined && statSync(target).isFile() ? [{ target, shown: path.join(entry, name) }] : [];
      });
    if (found.length === 0 && problems.length === before) problem(field, `${entry} has no manifests (*.yaml, *.yml, *.json) in it`);
    for (const { target, shown } of found) add(target, shown, field);
  });

  const specs = file.specs.map((spec, i) => {
    if (/^https:\/\//.test(spec.openapi)) return spec.openapi;
    const field = ["specs", i, "openapi"];
    const real = check(field, spec.openapi, "spec");
    if (real !== undefined && statSync(real).isDirectory()) problem(field, `${spec.openapi} is a directory, not a spec`);
    return real ?? spec.openapi;
  });
  if (problems.length > 0) throw projectInvalid(project.file, problems);
  return { manifests, specs };
}

/** Each manifest's tool name, or undefined for one that does not load (its import reports why). */
export async function manifestToolNames(manifests: ProjectSourceFile[]): Promise<Array<string | undefined>> {
  return Promise.all(
    manifests.map((m) =>
      readManifestFile(m.file).then(
        (loaded) => loaded.manifest.name,
        () => undefined,
      ),
    ),
  );
}
