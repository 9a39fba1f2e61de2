/**
 * A project's toolctl.yaml: read and validated (a bad file is one line naming file, line and field; exit 2), and
 * its limits and settings laid over the user's. A project can only tighten what protects the user (limits, the
 * 2FA threshold, approvals, confinement): a cloned repository must not be able to raise a spending
 * limit or switch confinement off. Settings that protect nothing either way (timeouts, docker.pull) take the
 * project's value. Environment variables still win over both, as they win over config.yaml.
 */
import { readFileSync } from "node:fs";
import { EnvironmentError, ExitCode, ToolctlError } from "../errors.js";
import type { ProjectRef } from "./home.js";
import { getPath, setPath } from "./key-path.js";
import { fileStamp } from "./stamp.js";
import type { ProjectFile } from "./project-schema.js";
import type { Problem } from "../manifest/problems.js";

export type { ProjectFile, ProjectSpec } from "./project-schema.js";

/** Each toolctl.yaml read, with the stamp (stamp.ts) of the file it was read from. */
const parsed = new Map<string, { stamp: string; data: ProjectFile }>();
/** `settings.limits`, as config.yaml has no such nesting either: said where limits go. */
const MISPLACED_LIMITS = " (limits go at the top level of toolctl.yaml, beside settings)";
/** Per toolctl.yaml read: a problem at a field, as `file:line:col: field: message`. */
const locators = new Map<string, (field: Array<string | number>, message: string) => string>();

/** One problem at a field of a toolctl.yaml that `readProject` has read, naming its line and column. */
export function projectProblem(file: string, field: Array<string | number>, message: string): string {
  return locators.get(file)?.(field, message) ?? `${file}: ${field.join(".")}: ${message}`;
}

/**
 * toolctl.yaml, validated; read again only when the file has changed since (one stat otherwise), so that a
 * long-running process follows it as a new one would.
 */
export async function readProject(project: ProjectRef): Promise<ProjectFile> {
  // Taken before the read: a change made while it is read is seen by the next call.
  const stamp = fileStamp(project.file);
  const known = parsed.get(project.file);
  if (known?.stamp === stamp) return known.data;
  const [{ parseLocated }, { describeIssue, formatProblem, sortedUnique }, { projectSchema }] = await Promise.all([
    import("../manifest/locate.js"),
    import("../manifest/problems.js"),
    import("./project-schema.js"),
  ]);
  let text: string;
  try {
    text = readFileSync(project.file, "utf8");
  } catch (error) {
    throw new EnvironmentError(
      `cannot read ${project.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; fix or remove it`,
      { file: project.file },
      error,
    );
  }
  const file = project.file;
  const invalid = (lines: string[]) => projectInvalid(file, lines);
  const located = parseLocated(text, false);
  if (Array.isArray(located)) throw invalid(located.map((p) => `${file}:${p.position.line}:${p.position.col}: ${p.message}`));
  const result = projectSchema.safeParse(located.data ?? {});
  if (!result.success) {
    throw invalid(
      sortedUnique(
        result.error.issues
          .flatMap((issue: Parameters<typeof describeIssue>[0]) => describeIssue(issue, projectSchema))
          .map((p: Problem) => (p.atKey === "limits" && p.path.join(".") === "settings" ? { ...p, message: `${p.message}${MISPLACED_LIMITS}` } : p))
          .map((p: Problem) => formatProblem(file, located, p)),
      ),
    );
  }
  locators.set(file, (field, message) => formatProblem(file, located, { path: field, message }));
  parsed.set(project.file, { stamp, data: result.data });
  return result.data;
}

/** A toolctl.yaml that does not validate: exit 2, the first problem on the one line, every problem in `problems`. */
export function projectInvalid(file: string, lines: string[]): ToolctlError {
  const message = lines.length === 1 ? lines[0]! : `${lines[0]} (and ${lines.length - 1} more problem${lines.length > 2 ? "s" : ""})`;
  return new ToolctlError("project_invalid", ExitCode.usage, message, { problems: lines, file });
}

type Merge = "min" | "true-wins" | "strictest" | "project";

/** How each setting a project may give is combined with the user's. */
const MERGES: ReadonlyArray<[key: string, from: "limits" | "settings", merge: Merge]> = [
  ["limits.perActionUsd", "limits", "min"],
  ["limits.dailyUsd", "limits", "min"],
  ["approvals.twoFactorAboveUsd", "settings", "min"],
  ["approvals.paidActions", "settings", "true-wins"],
  ["approvals.timeoutSeconds", "settings", "project"],
  ["rollback.auto", "settings", "true-wins"],
  ["rollback.timeoutSeconds", "settings", "project"],
  ["sandboxApis", "settings", "true-wins"],
  ["audit.dryRuns", "settings", "true-wins"],
  ["docker.pull", "settings", "project"],
  ["docker.sandboxProcesses", "settings", "true-wins"],
  ["process.confinement", "settings", "strictest"],
];

const CONFINEMENT = ["off", "optional", "auto", "required"];

function combine(merge: Merge, user: unknown, project: unknown): unknown {
  switch (merge) {
    case "min":
      return Math.min(user as number, project as number);
    case "true-wins":
      return user === true || project === true;
    case "strictest":
      return CONFINEMENT.indexOf(String(project)) > CONFINEMENT.indexOf(String(user)) ? project : user;
    case "project":
      return project;
  }
}

/**
 * Lays the project's limits and settings over `values` (the user's, before the environment), marking the
 * settings it decided with `label`. Returns a note for each value the project asked for but could not have
 * because it would loosen the user's.
 */
export function applyProject(values: Record<string, unknown>, sources: Record<string, string>, project: ProjectFile, label: string): string[] {
  const notes: string[] = [];
  for (const [key, from, merge] of MERGES) {
    const asked = getPath(from === "limits" ? { limits: project.limits } : project.settings, key);
    if (asked === undefined) continue;
    const user = getPath(values, key);
    const value = combine(merge, user, asked);
    if (value === asked) {
      setPath(values, key, value);
      sources[key] = label;
    } else {
      notes.push(`${label} asks for ${key} ${String(asked)}, looser than ${String(user)} from ${sources[key]}: ${String(user)} applies`);
    }
  }
  return notes;
}
