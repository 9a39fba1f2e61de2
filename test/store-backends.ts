/**
 * The backends the store's contract runs against: SQLite in a temp home, and PostgreSQL in a new database of the
 * test cluster (test/pg.ts) with a temp home per machine. Both implement the same part of the `Store` port; a test
 * opens one with `open()` and gets it closed when the file's tests end.
 */
import { randomBytes } from "node:crypto";
import { afterAll } from "vitest";
import type { Store } from "../src/store/port.js";
import { openPgRegistry } from "../src/store/postgres/db.js";
import { postgresStore, type PostgresStore } from "../src/store/postgres/index.js";
import { openSqliteStore } from "../src/store/sqlite/index.js";
import { baseEnv, tempDir } from "./helpers.js";
import { havePostgres, newDatabase } from "./pg.js";

/** The part of the port both backends implement today. */
export type ContractStore = Omit<Store, "twoFactor" | "passkeys" | "callLimits" | "planRuns" | "secrets">;

export interface OpenedStore {
  store: ContractStore;
  home: string;
  env: NodeJS.ProcessEnv;
}

export interface Backend {
  name: "sqlite" | "postgres";
  /** False when the backend cannot run here (PostgreSQL not installed, outside CI). */
  available: () => boolean;
  open: () => Promise<OpenedStore>;
}

const opened: Array<{ close: () => Promise<void> }> = [];
afterAll(async () => {
  for (const store of opened.splice(0).reverse()) await store.close().catch(() => {});
});

/** A base64 audit key, as a team shares it through TOOLCTL_AUDIT_KEY. */
export function newAuditKey(): string {
  return randomBytes(32).toString("base64");
}

/** One machine of a team: its own home and pool, the team's database and audit key. `host` names the machine. */
export async function openMachine(
  url: string,
  auditKey: string,
  options: { host?: string; max?: number } = {},
): Promise<{ store: PostgresStore; home: string; env: NodeJS.ProcessEnv }> {
  const home = tempDir("toolctl-machine-");
  const env = baseEnv({ TOOLCTL_HOME: home, TOOLCTL_KEY_STORE: "file", TOOLCTL_AUDIT_KEY: auditKey });
  const registry = await openPgRegistry(url, home, env, { max: options.max ?? 4 });
  const store = postgresStore(options.host ? { ...registry, host: options.host } : registry);
  opened.push(store);
  return { store, home, env };
}

export const backends: Backend[] = [
  {
    name: "sqlite",
    available: () => true,
    open: async () => {
      const home = tempDir("toolctl-store-");
      const env = baseEnv({ TOOLCTL_HOME: home, TOOLCTL_KEY_STORE: "file" });
      const store = openSqliteStore(home, env);
      opened.push(store);
      return { store, home, env };
    },
  },
  {
    name: "postgres",
    available: () => havePostgres(),
    open: async () => {
      return openMachine(await newDatabase("store"), newAuditKey());
    },
  },
];
