/**
 * `toolctl config get|set|unset KEY [VALUE]`: one setting read (its effective value and where it came from) or
 * changed in `<home>/config.yaml`. Keys and values are checked against the config schema before anything is
 * written; the file keeps its comments and layout (yaml-edit.ts) and is replaced atomically, so an error leaves
 * it exactly as it was.
 */
import { readFileSync, unlinkSync } from "node:fs";
import { makeDirs } from "../util/dirs.js";
import path from "node:path";
import { ALLOW_ENTRY_PATTERN, TOOL_NAME_PATTERN } from "../domain/name-patterns.js";
import { EnvironmentError, UsageError, ValidationError } from "../errors.js";
import { underHomeLock } from "./home-lock.js";
import { writeFileAtomic } from "../util/atomic-file.js";
import { didYouMean, suggest } from "../util/suggest.js";
import type { ProjectRef } from "./home.js";
import { CACHE_FILE, CONFIG_FILE, loadConfig, parseSettingValue, unreadable, type SettingSource } from "./config.js";
import { SETTINGS, type SettingKind } from "./defaults.js";

/** A tool name, as config `rateLimits` and the manifest spell it. */

type Key =
  | { kind: "setting"; key: string; path: string[]; setting: (typeof SETTINGS)[number] }
  | { kind: "list"; key: "mcp.allow"; path: string[] }
  | { kind: "rate"; key: string; path: string[]; tool: string }
  | { kind: "map"; key: "rateLimits"; path: string[] }
  | { kind: "group"; key: string; path: string[]; members: string[] };

const GROUPS = [...new Set(SETTINGS.filter((s) => s.key.includes(".")).map((s) => s.key.split(".")[0]!))];

/** Every key `config get|set|unset` knows, for "did you mean". */
export const CONFIG_KEYS: readonly string[] = [...SETTINGS.map((s) => s.key), "mcp.allow", "rateLimits", "rateLimits.TOOL", ...GROUPS];

function unknownKey(key: string): UsageError {
  const candidates = CONFIG_KEYS.filter((k) => k !== "rateLimits.TOOL");
  // A typo of the whole key, or of its last part (`dailyUsd` for `limits.dailyUsd`).
  const leaf = key.split(".").pop()!.toLowerCase();
  const hint =
    suggest(key, candidates) ??
    candidates.find((k) => k.split(".").pop()!.toLowerCase() === leaf) ??
    (() => {
      const byLeaf = suggest(
        leaf,
        candidates.map((k) => k.split(".").pop()!),
      );
      return byLeaf === undefined ? undefined : candidates.find((k) => k.split(".").pop() === byLeaf);
    })();
  return new UsageError(`unknown setting '${key}'${hint ? ` (did you mean '${hint}'?)` : ""}; every setting: toolctl config`, { key });
}

export function resolveKey(key: string): Key {
  const setting = SETTINGS.find((s) => s.key === key);
  if (setting) return { kind: "setting", key, path: key.split("."), setting };
  if (key === "mcp.allow") return { kind: "list", key, path: ["mcp", "allow"] };
  if (key === "rateLimits") return { kind: "map", key, path: ["rateLimits"] };
  const rate = /^rateLimits\.(.*)$/.exec(key);
  if (rate) {
    const tool = rate[1]!;
    if (!TOOL_NAME_PATTERN.test(tool)) throw invalid(key, "a tool name (a lower-case letter, then lower-case letters, digits, - or _)", tool);
    return { kind: "rate", key, path: ["rateLimits", tool], tool };
  }
  if (GROUPS.includes(key)) {
    const members = SETTINGS.filter((s) => s.key.startsWith(`${key}.`)).map((s) => s.key);
    if (key === "mcp") members.push("mcp.allow");
    return { kind: "group", key, path: [key], members };
  }
  throw unknownKey(key);
}

/** A bad value: one line, naming the key and what it takes. */
function invalid(key: string, expected: string, raw: string): ValidationError {
  const message = `${key}: expected ${expected}, got ${JSON.stringify(raw)}`;
  return new ValidationError("config_invalid", message, [message], { key });
}

/** The value `VALUE` stands for at `key`, typed by the setting's kind; a bad one is exit 2 saying what is expected. */
export function parseValue(key: Key, raw: string): unknown {
  switch (key.kind) {
    case "setting": {
      const choices = key.setting.choices ?? [];
      if (key.setting.kind === "choice" && !choices.includes(raw)) {
        const message = `${key.key}: unknown value ${JSON.stringify(raw)}${didYouMean(raw, choices)}; one of: ${choices.join(", ")}`;
        throw new ValidationError("config_invalid", message, [message], { key: key.key });
      }
      try {
        return parseSettingValue(key.setting.kind as SettingKind, raw, key.key, choices);
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        throw new ValidationError("config_invalid", error.message, [error.message], { key: key.key });
      }
    }
    case "list": {
      // Comma-separated; an empty value is the empty list.
      const entries = raw
        .split(",")
        .map((entry) => entry.trim())
        .filter((entry) => entry !== "");
      const bad = entries.find((entry) => !ALLOW_ENTRY_PATTERN.test(entry));
      if (bad !== undefined) throw invalid(key.key, "a comma-separated list of TOOL or TOOL.ACTION", bad);
      return entries;
    }
    case "rate": {
      const n = Number(raw);
      if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n <= 0) throw invalid(key.key, "a whole number of requests per minute, 1 or more", raw);
      return n;
    }
    case "map":
      throw new UsageError(`rateLimits holds one limit per tool: toolctl config set rateLimits.TOOL N (requests per minute)`, { key: key.key });
    case "group":
      throw new UsageError(`${key.key} is a group of settings: set one of ${key.members.join(", ")}`, { key: key.key });
  }
}

/** Where the schema finds `data` wrong: each problem's path (a key it does not know at its end) and message. */
async function schemaProblems(data: unknown): Promise<Array<{ at: string[]; message: string }>> {
  const [{ configSchema }, { describeIssue }] = await Promise.all([import("./schema.js"), import("../manifest/problems.js")]);
  const parsed = configSchema.safeParse(data);
  if (parsed.success) return [];
  return parsed.error.issues.flatMap((issue) =>
    describeIssue(issue, configSchema).map((problem) => ({
      at: [...problem.path.map(String), ...(problem.atKey === undefined ? [] : [problem.atKey])],
      message: problem.message,
    })),
  );
}

/** A problem the file had before the change and that the change does not touch: the file is left for the user. */
function fixFirst(file: string, lines: string[], root = false): ValidationError {
  const how = root ? "edit the file" : "toolctl config unset KEY, or edit the file";
  const message = lines.length === 1 ? `${lines[0]}; fix that first (${how})` : `${file} has ${lines.length} problems; fix them first (${how})`;
  return new ValidationError("config_invalid", message, lines.length === 1 ? [message] : lines, { file });
}

/**
 * The file as it is, where the change would go: the whole document must be a mapping, and so must each section
 * above `key` (`limits: 5` cannot take `limits.dailyUsd`). What is at `key` itself or below is what changes.
 */
async function checkShape(data: unknown, key: Key, file: string): Promise<void> {
  const above = (await schemaProblems(data ?? {})).filter((p) => p.at.length < key.path.length && p.at.every((part, i) => key.path[i] === part));
  if (above.length === 0) return;
  throw fixFirst(
    file,
    above.map((p) => `${file}: ${p.at.join(".") || "(root)"}: ${p.message}`),
    above.some((p) => p.at.length === 0),
  );
}

/**
 * The whole file checked against the schema; a problem at `key` is that value's, any other was there before. With
 * `before` (a removal), only what the removal itself brings is refused: removing one of two unknown keys mends
 * the file a step, and refusing it for the other one would leave no way to mend it but by hand.
 */
async function validate(data: Record<string, unknown>, key: Key, raw: string | undefined, file: string, before?: Record<string, unknown>): Promise<void> {
  const line = (problem: { at: string[]; message: string }) => `${file}: ${problem.at.join(".") || "(root)"}: ${problem.message}`;
  const already = new Set(before === undefined ? [] : (await schemaProblems(before)).map(line));
  const lines: string[] = [];
  for (const problem of await schemaProblems(data)) {
    if (already.has(line(problem))) continue;
    const dotted = problem.at.join(".") || "(root)";
    const ours = problem.at.length >= key.path.length && key.path.every((part, i) => problem.at[i] === part);
    if (ours && raw !== undefined) throw invalid(key.key, problem.message, raw);
    lines.push(`${file}: ${dotted}: ${problem.message}`);
  }
  if (lines.length > 0) throw fixFirst(file, lines);
}

function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw unreadable(file, error);
  }
}

async function parsed(file: string, text: string) {
  const { parseYaml, yamlData, YamlSyntaxError } = await import("./yaml-edit.js");
  try {
    return { doc: parseYaml(text), yamlData };
  } catch (error) {
    if (!(error instanceof YamlSyntaxError)) throw error;
    const lines = error.problems.map((p) => `${file}:${p.line}:${p.col}: ${p.message}`);
    throw new ValidationError("config_invalid", lines.length === 1 ? lines[0]! : `${file}: ${lines.length} problems in config`, lines, { file });
  }
}

export interface SettingView {
  key: string;
  /** The effective value: the built-in default, config.yaml, the project's toolctl.yaml, or the environment variable that overrides them. */
  value: unknown;
  source?: SettingSource;
  /** A group's or a map's members, each with where it came from. */
  sources?: Record<string, SettingSource>;
  /** The environment variable that overrides the file for this setting, when it has one. */
  env?: string;
}

/** The effective value of `key` and where it came from. */
export async function getSetting(home: string, env: NodeJS.ProcessEnv, name: string, project?: ProjectRef): Promise<SettingView> {
  const key = resolveKey(name);
  const config = await loadConfig(home, env, project);
  const values = config.values as unknown as Record<string, Record<string, unknown>>;
  switch (key.kind) {
    case "setting":
      return {
        key: name,
        value: key.path.reduce<unknown>((v, p) => (v as Record<string, unknown>)[p], values),
        source: config.sources[name],
        env: key.setting.env,
      };
    case "list":
      return { key: name, value: values.mcp!.allow, source: (await fileHas(config.file, key.path)) ? "config.yaml" : "default" };
    case "rate": {
      const value = (values.rateLimits ?? {})[key.tool];
      return { key: name, value: value ?? null, source: value === undefined ? "default" : "config.yaml" };
    }
    case "map": {
      const map = values.rateLimits ?? {};
      return { key: name, value: map, sources: Object.fromEntries(Object.keys(map).map((tool) => [tool, "config.yaml" as const])) };
    }
    case "group": {
      const group = values[key.key]!;
      const sources: Record<string, SettingSource> = {};
      for (const member of key.members) {
        const leaf = member.slice(key.key.length + 1);
        sources[leaf] = member === "mcp.allow" ? ((await fileHas(config.file, ["mcp", "allow"])) ? "config.yaml" : "default") : config.sources[member]!;
      }
      return { key: name, value: group, sources };
    }
  }
}

/** Whether config.yaml itself sets `path` (loadConfig keeps no source for lists and maps). */
async function fileHas(file: string, at: string[]): Promise<boolean> {
  const text = readText(file);
  if (text === "") return false;
  const { doc, yamlData } = await parsed(file, text);
  let value: unknown = yamlData(doc);
  for (const part of at) value = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[part] : undefined;
  return value !== undefined;
}

export interface SettingChange extends SettingView {
  file: string;
  /** False when the file already said this (set) or did not set the key (unset): nothing was written. */
  changed: boolean;
  /** `set`: the value config.yaml now holds for the key (`value` is what is in effect, which the environment may override). */
  written?: unknown;
  /**
   * What decides the key's value over config.yaml (after `unset`, over the default): the environment variable
   * that is set, or `toolctl.yaml` when the project's is in effect.
   */
  overriddenBy?: string;
}

/** How long `config set|unset` waits for another one changing the same config.yaml. */
const LOCK_WAIT_MS = 5_000;

/**
 * Runs one read-modify-write of config.yaml holding `.config.yaml.lock` beside it, so that concurrent changes are
 * made one after another and none is lost. Where no lock can be created (a home it may not write to), nothing
 * can be written either: the change goes ahead unlocked, and fails at the write if it has one to make.
 */
async function underLock<T>(home: string, file: string, creating: boolean, fn: () => Promise<T>): Promise<T> {
  // `set` may create the home; `unset` has nothing to remove from a home that is not there.
  if (creating) {
    try {
      makeDirs(home, 0o700);
    } catch {
      // Said by the write.
    }
  }
  return underHomeLock(path.join(home, `.${CONFIG_FILE}.lock`), file, LOCK_WAIT_MS, "It is unchanged", fn);
}

/** Writes `text` as the new config.yaml, atomically; the validation cache beside it is dropped. */
function save(home: string, file: string, text: string): void {
  try {
    makeDirs(home, 0o700);
    writeFileAtomic(file, text, { mode: 0o600 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new EnvironmentError(`cannot write ${file}: ${code}; it is unchanged`, { file }, error);
  }
  try {
    unlinkSync(path.join(home, CACHE_FILE));
  } catch {
    // None yet; a stale one is also caught by its stamp.
  }
}

async function change(
  home: string,
  env: NodeJS.ProcessEnv,
  key: Key,
  edit: { value: unknown } | { remove: true },
  raw: string | undefined,
  project: ProjectRef | undefined,
): Promise<SettingChange> {
  const file = path.join(home, CONFIG_FILE);
  // A bad toolctl.yaml is refused before anything is written: what is in effect could not be said after.
  if (project) await (await import("./project.js")).readProject(project);
  const changed = await underLock(home, file, "value" in edit, async () => {
    const text = readText(file);
    const { doc, yamlData } = await parsed(file, text);
    const { applyToData, editYaml } = await import("./yaml-edit.js");
    await checkShape(doc.toJS(), key, file);
    const before = yamlData(doc);
    const yamlEdit = "remove" in edit ? { path: key.path, remove: true as const } : { path: key.path, value: edit.value };
    const after = applyToData(before, yamlEdit);
    await validate(after, key, raw, file, "remove" in edit ? before : undefined);
    const changed = JSON.stringify(before) !== JSON.stringify(after);
    if (changed) {
      let edited: string;
      try {
        edited = editYaml(text, yamlEdit);
      } catch (error) {
        // Not expected once the shape is checked; if it happens, the file is named and left as it is.
        const message = `${file}: cannot ${"remove" in edit ? "remove" : "set"} ${key.key} in this file's layout; it is unchanged (edit it by hand)`;
        throw new ValidationError("config_invalid", message, [message, String((error as Error).message)], { file });
      }
      save(home, file, edited);
    }
    return changed;
  });
  // What is in effect now (an unknown key that was removed has no value to show).
  const known = key.kind !== "group" || key.members.length > 0;
  const view: SettingView = known ? await getSetting(home, env, key.key, project) : { key: key.key, value: null };
  // What decides the value instead of config.yaml (and instead of the default, after unset): the project or the environment.
  const source = key.kind === "setting" ? view.source : undefined;
  const override = source === "toolctl.yaml" ? source : source?.startsWith("env ") ? source.slice("env ".length) : undefined;
  return { ...view, file, changed, ...("value" in edit ? { written: edit.value } : {}), ...(override ? { overriddenBy: override } : {}) };
}

/** `config set KEY VALUE`: checked against the schema, then written to config.yaml keeping its comments. */
export async function setSetting(home: string, env: NodeJS.ProcessEnv, name: string, raw: string, project?: ProjectRef): Promise<SettingChange> {
  const key = resolveKey(name);
  return change(home, env, key, { value: parseValue(key, raw) }, raw, project);
}

/**
 * `config unset KEY`: the key leaves config.yaml (its default applies again). A whole group or rateLimits may be
 * removed, and so may a key the file has but the schema does not know, so that a broken file can be mended.
 */
export async function unsetSetting(home: string, env: NodeJS.ProcessEnv, name: string, project?: ProjectRef): Promise<SettingChange> {
  let key: Key;
  try {
    key = resolveKey(name);
  } catch (error) {
    const file = path.join(home, CONFIG_FILE);
    if (!(await fileHas(file, name.split(".")))) throw error;
    key = { kind: "group", key: name, path: name.split("."), members: [] };
  }
  return change(home, env, key, { remove: true }, undefined, project);
}
