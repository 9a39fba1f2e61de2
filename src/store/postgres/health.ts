/**
 * What `toolctl doctor` checks of a team database: the schema version, the server, whether the connection is
 * encrypted, the privileges this role needs on each table, and that this machine signs with the team's audit key.
 * A role may be narrower than the owner's (no DELETE or UPDATE on the audit log is the point of an append-only
 * role), so only what toolctl really does is asked for.
 */
import type { StoreHealth } from "../port.js";
import { loadAuditKey } from "../../secrets/audit-key.js";
import { teamKeyId, teamKeyProblem, type PgRegistry } from "./db.js";
import { PG_MIGRATIONS } from "./schema.js";

/** The privileges each table needs: the audit log is only ever appended to and read. */
const NEEDED: Record<string, string[]> = {
  audit_events: ["SELECT", "INSERT"],
  audit_checkpoint: ["SELECT", "INSERT", "UPDATE"],
  settings: ["SELECT", "INSERT", "UPDATE"],
};
const DEFAULT_NEEDED = ["SELECT", "INSERT", "UPDATE", "DELETE"];

export async function pgHealth(registry: PgRegistry): Promise<StoreHealth> {
  const problems: string[] = [];
  const version = (await registry.one<{ version: number }>("SELECT version FROM toolctl_schema WHERE id = 1"))?.version ?? 0;
  const server = (await registry.one<{ v: string }>("SELECT current_setting('server_version') AS v"))?.v;
  const tls = (await registry.one<{ ssl: boolean }>("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))?.ssl ?? false;
  const tables = await registry.query<{ name: string }>(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'toolctl_schema' ORDER BY 1",
  );
  for (const { name } of tables) {
    const needed = NEEDED[name] ?? DEFAULT_NEEDED;
    const rows = await registry.query<{ privilege: string; granted: boolean }>(
      "SELECT p AS privilege, has_table_privilege(current_user, quote_ident(current_schema()) || '.' || quote_ident($1), p) AS granted FROM unnest($2::text[]) AS p",
      [name, needed],
    );
    const missing = rows.filter((row) => !row.granted).map((row) => row.privilege);
    if (missing.length > 0) problems.push(`role ${await currentUser(registry)} lacks ${missing.join(", ")} on table ${name}`);
  }
  // Looked at, not made: the first write makes this machine's key (and claims it for a new team), not doctor.
  try {
    const problem = teamKeyProblem(loadAuditKey(registry.home, registry.env, { create: false }), await teamKeyId(registry), registry.location);
    if (problem) problems.push(problem);
  } catch (error) {
    problems.push((error as Error).message);
  }
  return { backend: "postgres", location: registry.location, schema: { version, latest: PG_MIGRATIONS.length }, server, tls, problems };
}

async function currentUser(registry: PgRegistry): Promise<string> {
  return (await registry.one<{ u: string }>("SELECT current_user AS u"))?.u ?? "?";
}
