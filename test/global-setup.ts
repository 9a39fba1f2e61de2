/**
 * Starts one throwaway PostgreSQL cluster for the whole test run (scripts/postgres.mjs), unless
 * TOOLCTL_TEST_DATABASE_URL already names a server. Test files get their own database from it (test/pg.ts).
 * Without PostgreSQL installed, the PostgreSQL tests skip on a developer's machine and fail in CI.
 */
import type { TestProject } from "vitest/node";

export default async function setup(project: TestProject): Promise<(() => void) | undefined> {
  const given = process.env.TOOLCTL_TEST_DATABASE_URL;
  if (given) {
    project.provide("postgresUrl", given);
    return undefined;
  }
  // @ts-expect-error: a plain ES module script, shared with `npm run pg`.
  const { postgresBin, startCluster } = (await import("../scripts/postgres.mjs")) as typeof import("../scripts/postgres.mjs");
  if (!postgresBin()) {
    project.provide("postgresUrl", "");
    return undefined;
  }
  const cluster = await startCluster();
  project.provide("postgresUrl", cluster.url);
  project.provide("postgresDir", cluster.dir);
  return () => cluster.stop({ remove: true });
}

declare module "vitest" {
  export interface ProvidedContext {
    postgresUrl: string;
    postgresDir: string;
  }
}
