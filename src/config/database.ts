/**
 * Which store a command uses: a team's PostgreSQL database when one is named (`--database`, then
 * `TOOLCTL_DATABASE_URL`, then `database.url` in config.yaml), else the home's own SQLite registry. The home stays
 * this machine's either way: its config, its keys, its secrets.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { UsageError, ValidationError } from "../errors.js";
import { isPostgresUrl, redactDatabaseUrl } from "../util/database-url.js";

export interface DatabaseChoice {
  url: string;
  /** The URL without its password, for messages. */
  location: string;
  /** What named it. */
  source: "--database" | "TOOLCTL_DATABASE_URL" | "config.yaml";
}

const MEANING = "a postgres:// or postgresql:// URL";

export async function resolveDatabase(flag: string | undefined, home: string, env: NodeJS.ProcessEnv): Promise<DatabaseChoice | undefined> {
  if (flag !== undefined) {
    if (!isPostgresUrl(flag)) throw new UsageError(`--database: expected ${MEANING}, got ${JSON.stringify(redactDatabaseUrl(flag))}`);
    return { url: flag, location: redactDatabaseUrl(flag), source: "--database" };
  }
  const fromEnv = env.TOOLCTL_DATABASE_URL;
  if (fromEnv) {
    if (!isPostgresUrl(fromEnv)) {
      const message = `TOOLCTL_DATABASE_URL: expected ${MEANING}, got ${JSON.stringify(redactDatabaseUrl(fromEnv))}`;
      throw new ValidationError("config_invalid", message, [message]);
    }
    return { url: fromEnv, location: redactDatabaseUrl(fromEnv), source: "TOOLCTL_DATABASE_URL" };
  }
  // The config is only loaded (and validated) when it names a database: most homes never pay for it here.
  const file = path.join(home, "config.yaml");
  if (!existsSync(file)) return undefined;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined; // loading the config later says what is wrong with it
  }
  if (!/^database\s*:/m.test(text)) return undefined;
  const { loadConfig } = await import("./config.js");
  const url = (await loadConfig(home, { ...env, TOOLCTL_DATABASE_URL: undefined })).values.database.url;
  return url ? { url, location: redactDatabaseUrl(url), source: "config.yaml" } : undefined;
}
