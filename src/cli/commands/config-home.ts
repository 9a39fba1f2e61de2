/**
 * `toolctl config`'s answer to "which registry is this, and why": the home in use with what chose it, and
 * where the registry lives (a team database when a URL names one, else the home's registry.db).
 */
import path from "node:path";
import { resolveDatabase } from "../../config/database.js";
import { settingsHome } from "../../config/home.js";
import type { CommandContext } from "../program.js";

const WHY = {
  flag: "--home",
  env: "TOOLCTL_HOME",
  project: "the nearest toolctl.yaml:",
  default: "the default: no --home, TOOLCTL_HOME or toolctl.yaml",
} as const;

export async function describeHome(context: CommandContext): Promise<{ data: Record<string, unknown>; lines: string[] }> {
  const database = await resolveDatabase(context.database, settingsHome(context), context.env);
  const registry = database
    ? { kind: "postgres" as const, location: database.location, source: database.source }
    : { kind: "sqlite" as const, file: path.join(context.home, "registry.db") };
  const why = context.project ? `${WHY.project} ${context.project.file}` : WHY[context.homeSource];
  const home = { path: context.home, source: context.homeSource, why, ...(context.project ? { project: context.project } : {}) };
  return {
    data: { home, registry },
    lines: [
      `home: ${context.home} (${why})`,
      database ? `registry: ${database.location} (PostgreSQL, from ${database.source}; keys stay in the home)` : `registry: ${registry.file}`,
    ],
  };
}
