/**
 * PostgreSQL for tests: the cluster test/global-setup.ts started (or TOOLCTL_TEST_DATABASE_URL), and a new
 * database per call, dropped when the file's tests end. In CI a missing PostgreSQL fails the test instead of
 * skipping it.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, inject } from "vitest";

export const postgresUrl: string = inject("postgresUrl") ?? "";

/** True when the PostgreSQL tests can run; in CI, false throws instead. */
export function havePostgres(): boolean {
  if (postgresUrl) return true;
  if (process.env.CI) throw new Error("PostgreSQL is not installed, and CI must run the PostgreSQL tests (apt-get install -y postgresql)");
  return false;
}

const created: string[] = [];
afterAll(async () => {
  if (created.length === 0) return;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  try {
    for (const name of created.splice(0)) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
  } finally {
    await admin.end();
  }
});

/** A new, empty database on the test server; its URL (with the password). */
export async function newDatabase(prefix = "t"): Promise<string> {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  created.push(name);
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
