/**
 * Where toolctl keeps its state, and who is asking: resolved once per command into one options object.
 */
import { statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { UsageError } from "../errors.js";

export type Actor = "user" | "ci" | "agent";

/** The file that makes a directory a toolctl project, and the project's home below its root. */
export const PROJECT_FILE = "toolctl.yaml";
export const PROJECT_HOME = ".toolctl";

export interface ProjectRef {
  /** The directory that holds toolctl.yaml. */
  root: string;
  /** toolctl.yaml itself. */
  file: string;
}

export type HomeSource = "flag" | "env" | "project" | "default";

export interface HomeChoice {
  home: string;
  /** What chose it: `--home`, `TOOLCTL_HOME`, the nearest toolctl.yaml, or `~/.toolctl`. */
  source: HomeSource;
  /** Set when the home is a project's (`<root>/.toolctl`). */
  project?: ProjectRef;
}

/** The home used when nothing else names one: also where a project's user keeps their own settings. */
export function defaultHome(): string {
  return path.join(os.homedir(), ".toolctl");
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The nearest toolctl.yaml in `cwd` or a directory above it, as git finds `.git`. */
export function findProject(cwd: string): ProjectRef | undefined {
  let dir = path.resolve(cwd);
  for (;;) {
    const file = path.join(dir, PROJECT_FILE);
    if (isFile(file)) return { root: dir, file };
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** `--home`, then `TOOLCTL_HOME`, then the nearest project's `.toolctl/`, then `~/.toolctl`. */
export function resolveHome(flag: string | undefined, env: NodeJS.ProcessEnv, cwd: string): HomeChoice {
  if (flag) return { home: path.resolve(cwd, flag), source: "flag" };
  if (env.TOOLCTL_HOME) return { home: path.resolve(cwd, env.TOOLCTL_HOME), source: "env" };
  const project = findProject(cwd);
  if (project) return { home: path.join(project.root, PROJECT_HOME), source: "project", project };
  return { home: defaultHome(), source: "default" };
}

/**
 * The API's choice: an explicit `home` wins (with `project` when the caller found one, as the CLI does); a
 * `project` alone means its `.toolctl/`; neither, and the home is resolved as the CLI does without `--home`.
 */
export function chooseHome(options: { home?: string; project?: ProjectRef }, env: NodeJS.ProcessEnv, cwd: string): Pick<HomeChoice, "home" | "project"> {
  if (options.home !== undefined) return { home: options.home, project: options.project };
  if (options.project) return { home: path.join(options.project.root, PROJECT_HOME), project: options.project };
  const { home, project } = resolveHome(undefined, env, cwd);
  return { home, project };
}

/**
 * Where the user's own config.yaml is read and written: the home itself, except in a project, whose settings
 * come from toolctl.yaml over the user's `~/.toolctl/config.yaml` (a project cannot drop the user's limits).
 */
export function settingsHome(choice: Pick<HomeChoice, "home" | "project">): string {
  return choice.project ? defaultHome() : choice.home;
}

/**
 * `TOOLCTL_ACTOR` wins; otherwise `ci` when the conventional CI variable is set, else `user`. Any other value is
 * refused rather than read as unset: `TOOLCTL_ACTOR=Agent` must not give an agent the user's rights.
 */
export function resolveActor(env: NodeJS.ProcessEnv): Actor {
  const explicit = env.TOOLCTL_ACTOR;
  if (explicit === "user" || explicit === "ci" || explicit === "agent") return explicit;
  if (explicit !== undefined && explicit !== "") {
    throw new UsageError(`TOOLCTL_ACTOR: expected user, ci or agent, got ${JSON.stringify(explicit)}`);
  }
  const ci = env.CI;
  return ci !== undefined && ci !== "" && ci !== "false" && ci !== "0" ? "ci" : "user";
}

export interface CommonOptions {
  home: string;
  /** `--database`: a team's PostgreSQL database instead of the home's registry (see config/database.ts). */
  database?: string;
  /** What chose the home, and the project when it is one. */
  homeSource: HomeSource;
  project?: ProjectRef;
  json: boolean;
  actor: Actor;
  cwd: string;
  env: NodeJS.ProcessEnv;
}
