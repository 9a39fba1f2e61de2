/**
 * Secrets are named in manifests and resolved only at run time: environment first, then `.env` in the
 * working directory. Values never go into the registry; every resolved value is registered with the redactor.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { SecretMissingError } from "../errors.js";
import type { Redactor } from "./redact.js";

export type SecretSource = "env" | ".env";

export interface SecretLookup {
  get(name: string): { value: string; source: SecretSource } | undefined;
}

export function createSecretLookup(cwd: string, env: NodeJS.ProcessEnv): SecretLookup {
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
  return {
    get(name) {
      const fromEnv = env[name];
      if (fromEnv !== undefined && fromEnv !== "") return { value: fromEnv, source: "env" };
      const fromFile = loadDotenv()[name];
      if (fromFile !== undefined && fromFile !== "") return { value: fromFile, source: ".env" };
      return undefined;
    },
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
      `secret ${missing.join(", ")} ${missing.length > 1 ? "are" : "is"} not set (needed by tool ${tool}): export ${missing[0]}=... or add it to .env in the working directory`,
      { secrets: missing },
    );
  }
  return values;
}
