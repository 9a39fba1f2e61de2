/**
 * Secrets are named in manifests and resolved only at run time: environment first, then `.env` in the
 * working directory, then the encrypted store. Plain values never go into the registry; every resolved value is
 * registered with the redactor.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { EnvironmentError, SecretMissingError } from "../errors.js";
import { loadKeyRing, type KeyRing } from "./crypto.js";
import type { Redactor } from "./redact.js";
import { keySourceLabel, openSealedSecret } from "./store.js";
import { envValue } from "../util/env.js";

export type SecretSource = "env" | ".env" | "store";

/**
 * The encrypted store's rows, read ahead (still sealed) by whoever holds the store; the key is loaded only when
 * one of them is asked for, so a store nobody uses needs no key.
 */
export interface StoreAccess {
  home: string;
  sealed: ReadonlyMap<string, string>;
}

export interface SecretLookup {
  get(name: string): { value: string; source: SecretSource } | undefined;
}

export function createSecretLookup(cwd: string, env: NodeJS.ProcessEnv, store?: StoreAccess): SecretLookup {
  let dotenv: Record<string, string> | undefined;
  const loadDotenv = (): Record<string, string> => {
    if (dotenv) return dotenv;
    try {
      const text = readFileSync(path.join(cwd, ".env"), "utf8");
      // Loaded only when a secret is not in the environment: most runs never pay for it.
      const { parse } = createRequire(import.meta.url)("dotenv") as typeof import("dotenv");
      dotenv = parse(text);
    } catch {
      dotenv = {};
    }
    return dotenv;
  };
  const fromStore = store ? createStoreReader(store, env) : () => undefined;
  return {
    get(name) {
      const fromEnv = envValue(env, name);
      if (fromEnv !== undefined && fromEnv !== "") return { value: fromEnv, source: "env" };
      const fromFile = envValue(loadDotenv(), name);
      if (fromFile !== undefined && fromFile !== "") return { value: fromFile, source: ".env" };
      const stored = fromStore(name);
      return stored === undefined ? undefined : { value: stored, source: "store" };
    },
  };
}

function createStoreReader({ home, sealed }: StoreAccess, env: NodeJS.ProcessEnv): (name: string) => string | undefined {
  let ring: KeyRing | undefined;
  const where = keySourceLabel(home, env);
  return (name) => {
    const value = sealed.get(name);
    if (value === undefined) return undefined;
    ring ??= loadKeyRing(home, env, { create: false });
    if (!ring) {
      throw new EnvironmentError(
        `secret ${name} is in the encrypted store, but there is no master key: ${where} does not exist and TOOLCTL_MASTER_KEY is not set; restore the key file or set TOOLCTL_MASTER_KEY`,
        { secret: name },
      );
    }
    // A rotation may have added the value's key since the ring was read: the key file is read again then.
    const reload = ring.source === "file" ? () => loadKeyRing(home, env, { create: false }) : undefined;
    return openSealedSecret(ring, name, value, where, reload);
  };
}

/** Resolves every named secret, registering each value with the redactor. Missing ones are reported together. */
export function resolveSecrets(names: string[], lookup: SecretLookup, redactor: Redactor, tool: string): Record<string, string> {
  const values: Record<string, string> = {};
  const missing: string[] = [];
  for (const name of names) {
    const found = lookup.get(name);
    if (!found) missing.push(name);
    else {
      values[name] = found.value;
      redactor.add(found.value);
    }
  }
  if (missing.length > 0) {
    throw new SecretMissingError(
      `secret ${missing.join(", ")} ${missing.length > 1 ? "are" : "is"} not set (needed by tool ${tool}): export ${missing[0]}=..., add it to .env in the working directory, or store it with: toolctl secret set ${missing[0]}`,
      { secrets: missing },
    );
  }
  return values;
}
