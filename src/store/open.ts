/**
 * Opens the store a home uses: a team's PostgreSQL database when one is named (`--database`,
 * `TOOLCTL_DATABASE_URL`, or `database.url` in config.yaml), else the home's own SQLite registry. Each backend is
 * loaded only when chosen: a single user never loads the PostgreSQL driver.
 */
import { resolveDatabase } from "../config/database.js";
import type { Store } from "./port.js";

/** `configHome` holds the config.yaml that may name the database: the home, except in a project (the user's own home). */
export async function openStore(home: string, env: NodeJS.ProcessEnv, database?: string, configHome = home): Promise<Store> {
  const choice = await resolveDatabase(database, configHome, env);
  if (!choice) return (await import("./sqlite/index.js")).openSqliteStore(home, env);
  return (await import("./postgres/index.js")).openPostgresStore(choice.url, home, env);
}
