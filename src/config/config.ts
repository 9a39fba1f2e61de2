/**
 * The effective configuration: built-in defaults, then `<home>/config.yaml`, then environment variables, with
 * where each value came from. A changed config.yaml is validated (line-numbered errors, exit 2) and the result
 * is cached beside it, so ordinary commands never load the validator.
 */
import { readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { EnvironmentError, ValidationError } from "../errors.js";
import { CONFIG_DEFAULTS, SETTINGS, type SettingKind } from "./defaults.js";
import type { Problem } from "../manifest/problems.js";
import { isPostgresUrl, redactDatabaseUrl } from "../util/database-url.js";
import type { Config } from "./schema.js";
import type { ProjectRef } from "./home.js";
import { getPath, setPath } from "./key-path.js";
import { fileStamp, stampOf } from "./stamp.js";

export const CONFIG_FILE = "config.yaml";
/** The settings that are a list or a map, set in config.yaml only: no environment variable, not in SETTINGS. */
export const LISTED_SETTINGS = ["mcp.allow", "rateLimits"] as const;
export const CACHE_FILE = ".config-cache.json";

export type SettingSource = "default" | "config.yaml" | "toolctl.yaml" | `env ${string}`;

export interface ResolvedConfig {
  values: Config;
  sources: Record<string, SettingSource>;
  file: string;
  /** In a project: its toolctl.yaml, and what it asked for that would have loosened the user's settings. */
  project?: { file: string; notes: string[] };
}

interface Cache {
  stamp: string;
  values: Config;
  present: string[];
  /** Which of the listed settings (LISTED_SETTINGS) the file sets: their defaults are not the file's. */
  listed: string[];
}

/** A setting's value from text (an environment variable, or `toolctl config set`): a bad one is exit 2 naming `name`. */
export function parseSettingValue(kind: SettingKind, raw: string, name: string, choices: readonly string[] = []): boolean | number | string {
  if (kind === "choice") {
    if (choices.includes(raw)) return raw;
    throw new ValidationError("config_invalid", `${name}: expected one of ${choices.join(", ")}, got ${JSON.stringify(raw)}`, [
      `${name}: expected one of ${choices.join(", ")}`,
    ]);
  }
  if (kind === "databaseUrl") {
    if (raw === "" || isPostgresUrl(raw)) return raw;
    throw new ValidationError("config_invalid", `${name}: expected a postgres:// or postgresql:// URL, got ${JSON.stringify(redactDatabaseUrl(raw))}`, [
      `${name}: expected a postgres:// or postgresql:// URL`,
    ]);
  }
  if (kind === "boolean") {
    if (/^(true|1|yes|on)$/i.test(raw)) return true;
    if (/^(false|0|no|off)$/i.test(raw)) return false;
    throw new ValidationError("config_invalid", `${name}: expected true or false, got ${JSON.stringify(raw)}`, [`${name}: expected true or false`]);
  }
  const n = Number(raw);
  // The same bounds as config.yaml: seconds are whole, above 0 and at most a day. Written in plain decimal digits:
  // Number() would also read `0x10` as 16, `1e3` as 1000 and ` 5` as 5, which a money limit must not be.
  const decimal = kind === "usd" ? /^\d+(\.\d+)?$/ : /^\d+$/;
  const ok = decimal.test(raw) && Number.isFinite(n) && n >= 0 && (kind === "usd" || (Number.isInteger(n) && n > 0 && n <= 86_400));
  if (!ok) {
    const expected = kind === "usd" ? "an amount in USD, 0 or more" : "a whole number of seconds, from 1 to 86400";
    throw new ValidationError("config_invalid", `${name}: expected ${expected}, got ${JSON.stringify(raw)}`, [`${name}: expected ${expected}`]);
  }
  return n;
}

/**
 * What makes a file unreadable, in words. The user's file is only ever read, never repaired: it is rewritten
 * only when asked to, by `toolctl config set|unset` (edit.ts).
 */
export function unreadable(file: string, error: unknown): EnvironmentError {
  const code = (error as NodeJS.ErrnoException).code;
  const why =
    code === "EISDIR"
      ? "it is a directory"
      : code === "EACCES" || code === "EPERM"
        ? `permission denied (${code})`
        : code === "EIO"
          ? "input/output error (EIO)"
          : (code ?? (error as Error).message);
  return new EnvironmentError(`cannot read ${file}: ${why}; fix or remove it`, { file }, error);
}

function readConfigText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw unreadable(file, error);
  }
}

/** Validates config.yaml (loading yaml and zod only now) and caches the result keyed by the file's stamp. */
async function validateFile(file: string, stamp: string, home: string): Promise<Cache> {
  const [{ parseLocated }, { describeIssue, formatProblem, sortedUnique }, { configSchema }] = await Promise.all([
    import("../manifest/locate.js"),
    import("../manifest/problems.js"),
    import("./schema.js"),
  ]);
  const text = readConfigText(file);
  const located = parseLocated(text, false);
  const invalid = (lines: string[]) =>
    new ValidationError("config_invalid", lines.length === 1 ? lines[0]! : `${file}: ${lines.length} problems in config`, lines, { file });
  if (Array.isArray(located)) throw invalid(located.map((p) => `${file}:${p.position.line}:${p.position.col}: ${p.message}`));
  const data = located.data ?? {};
  const parsed = configSchema.safeParse(data);
  if (!parsed.success) {
    throw invalid(
      sortedUnique(
        parsed.error.issues
          .flatMap((issue: Parameters<typeof describeIssue>[0]) => describeIssue(issue, configSchema))
          .map((p: Problem) => formatProblem(file, located, p)),
      ),
    );
  }
  const present = SETTINGS.map((s) => s.key).filter((key) => getPath(data, key) !== undefined);
  const listed = LISTED_SETTINGS.filter((key) => getPath(data, key) !== undefined);
  const cache: Cache = { stamp, values: parsed.data, present, listed };
  try {
    writeFileSync(path.join(home, CACHE_FILE), JSON.stringify(cache), { mode: 0o600 });
  } catch {
    // An unwritable cache only means validating again next time.
  }
  return cache;
}

/**
 * A stamp of the files the settings are read from (config.yaml in `home`, and a project's toolctl.yaml): equal
 * stamps, equal settings, as the environment is read once. One stat per file, so a long-running process can ask
 * before every run whether what it read is still what is on disk.
 */
export function settingsStamp(home: string, project?: ProjectRef): string {
  const file = path.join(home, CONFIG_FILE);
  return project ? `${file}=${fileStamp(file)}|${project.file}=${fileStamp(project.file)}` : `${file}=${fileStamp(file)}`;
}

/**
 * `home` is where config.yaml is (in a project, the user's own home: see settingsHome); with `project`, its
 * toolctl.yaml is laid over config.yaml and under the environment.
 */
export async function loadConfig(home: string, env: NodeJS.ProcessEnv, project?: ProjectRef): Promise<ResolvedConfig> {
  const file = path.join(home, CONFIG_FILE);
  const defaults: Config = CONFIG_DEFAULTS;
  const values = structuredClone(defaults) as unknown as Record<string, unknown>;
  // Every setting's source, and the list `mcp.allow` and the map `rateLimits` (only config.yaml sets those).
  const sources: Record<string, SettingSource> = Object.fromEntries([...SETTINGS.map((s) => s.key), ...LISTED_SETTINGS].map((key) => [key, "default"]));
  let info;
  try {
    info = statSync(file, { throwIfNoEntry: false });
  } catch {
    info = undefined;
  }
  if (info?.isDirectory()) throw unreadable(file, Object.assign(new Error("is a directory"), { code: "EISDIR" }));
  if (info) {
    const stamp = stampOf(info);
    let cache: Cache | undefined;
    try {
      cache = JSON.parse(readFileSync(path.join(home, CACHE_FILE), "utf8")) as Cache;
    } catch {
      cache = undefined;
    }
    // A cache written before it kept `listed` is read again.
    if (cache?.stamp !== stamp || !Array.isArray(cache.listed)) cache = await validateFile(file, stamp, home);
    for (const key of cache.present) {
      setPath(values, key, getPath(cache.values, key));
      sources[key] = "config.yaml";
    }
    // A map, not a single setting: taken whole from the file.
    const rateLimits = (cache.values as { rateLimits?: Record<string, number> }).rateLimits;
    values.rateLimits = rateLimits ?? {};
    if (cache.listed.includes("rateLimits")) sources.rateLimits = "config.yaml";
    // A list, likewise.
    const allow = (cache.values as { mcp?: { allow?: string[] } }).mcp?.allow;
    if (allow) (values.mcp as { allow: string[] }).allow = allow;
    if (cache.listed.includes("mcp.allow")) sources["mcp.allow"] = "config.yaml";
  }
  let projectView: ResolvedConfig["project"];
  if (project) {
    const { readProject, applyProject } = await import("./project.js");
    projectView = { file: project.file, notes: applyProject(values, sources, await readProject(project), "toolctl.yaml") };
  }
  for (const setting of SETTINGS) {
    const raw = env[setting.env];
    if (raw === undefined || raw === "") continue;
    setPath(values, setting.key, parseSettingValue(setting.kind, raw, setting.env, setting.choices));
    sources[setting.key] = `env ${setting.env}`;
  }
  return { values: values as unknown as Config, sources, file, ...(projectView ? { project: projectView } : {}) };
}

export function settingValue(config: ResolvedConfig, key: string): unknown {
  return getPath(config.values, key);
}
