/**
 * Where toolctl keeps its state, and who is asking: resolved once per command into one options object.
 */
import os from "node:os";
import path from "node:path";

export type Actor = "user" | "ci" | "agent";

export function resolveHome(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag) return path.resolve(flag);
  if (env.TOOLCTL_HOME) return path.resolve(env.TOOLCTL_HOME);
  return path.join(os.homedir(), ".toolctl");
}

/** `TOOLCTL_ACTOR` wins; otherwise `ci` when the conventional CI variable is set, else `user`. */
export function resolveActor(env: NodeJS.ProcessEnv): Actor {
  const explicit = env.TOOLCTL_ACTOR;
  if (explicit === "user" || explicit === "ci" || explicit === "agent") return explicit;
  const ci = env.CI;
  return ci !== undefined && ci !== "" && ci !== "false" && ci !== "0" ? "ci" : "user";
}

export interface CommonOptions {
  home: string;
  /** `--database`: a team's PostgreSQL database instead of the home's registry (see config/database.ts). */
  database?: string;
  json: boolean;
  actor: Actor;
  cwd: string;
  env: NodeJS.ProcessEnv;
}
