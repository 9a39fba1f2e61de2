import { loadConfig, settingValue } from "../../config/config.js";
import { SETTINGS } from "../../config/defaults.js";
import { settingsHome } from "../../config/home.js";
import type { SettingChange, SettingView } from "../../config/edit.js";
import { table } from "../../ui/output.js";
import { isPostgresUrl, redactDatabaseUrl } from "../../util/database-url.js";
import type { CommandContext } from "../program.js";

/** What config output shows: a database URL never with its password, in text or JSON. */
function shown<T>(value: T): T {
  if (typeof value === "string") return (isPostgresUrl(value) ? redactDatabaseUrl(value) : value) as T;
  if (Array.isArray(value)) return value.map(shown) as T;
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([key, member]) => [key, shown(member)])) as T;
  return value;
}

export async function configCommand(context: CommandContext): Promise<void> {
  const config = await loadConfig(settingsHome(context), context.env, context.project);
  const settings: Array<{ key: string; value: unknown; source: string | undefined; env?: string; help: string }> = SETTINGS.map((s) => ({
    key: s.key,
    value: shown(settingValue(config, s.key)),
    source: config.sources[s.key],
    env: s.env,
    help: s.help,
  }));
  // The list and the map: what agents may change, and how fast each tool may be called, belong in the same view.
  settings.push(
    {
      key: "mcp.allow",
      value: config.values.mcp.allow,
      source: config.sources["mcp.allow"],
      help: "toolctl mcp: the create, update and delete actions agents may call (TOOL or TOOL.ACTION), besides --allow",
    },
    {
      key: "rateLimits",
      value: config.values.rateLimits,
      source: config.sources.rateLimits,
      help: "requests per minute per tool, over each tool's own http.requestsPerMinute",
    },
  );
  const { describeHome } = await import("./config-home.js");
  const where = await describeHome(context);
  for (const note of config.project?.notes ?? []) context.output.info(note);
  const notes = config.project ? { notes: config.project.notes } : {};
  context.output.data({ file: config.file, ...where.data, ...notes, settings }, () =>
    [
      table(
        ["SETTING", "VALUE", "SOURCE", "MEANING"],
        settings.map((s) => [
          s.key,
          typeof s.value === "object" && s.value !== null ? inlineText(s.value) || "none" : String(s.value),
          String(s.source),
          s.help,
        ]),
        (h) => context.output.color.bold(h),
        { width: context.output.width, flex: [3] },
      ),
      context.output.color.dim(`file: ${config.file}`),
      ...where.lines.map((line) => context.output.color.dim(line)),
    ].join("\n"),
  );
}

/** A value as `config set` takes it: a list comma-separated, so that what `get` prints can be set again. */
function valueText(value: unknown): string {
  if (Array.isArray(value)) return value.join(",");
  if (value !== null && typeof value === "object") {
    return Object.entries(value)
      .map(([name, member]) => `${name}: ${valueText(member)}`)
      .join("\n");
  }
  return value === null || value === undefined ? "" : String(value);
}

export async function getCommand(context: CommandContext, key: string): Promise<void> {
  const { getSetting } = await import("../../config/edit.js");
  const view: SettingView = shown(await getSetting(settingsHome(context), context.env, key, context.project));
  if (view.value === null) context.output.info(`${key} is not set: each tool's own http.requestsPerMinute applies`);
  context.output.data(view, () => valueText(view.value));
}

/** A value on one line, for what set and unset print: a list as `get` prints it (the empty one `[]`), a group `a: 1, b: 2`. */
function inlineText(value: unknown): string {
  if (Array.isArray(value)) return value.length === 0 ? "[]" : value.join(",");
  if (value !== null && typeof value === "object") {
    return Object.entries(value)
      .map(([name, member]) => `${name}: ${inlineText(member)}`)
      .join(", ");
  }
  return valueText(value);
}

/** Where a value came from: a group's or a map's one source when its members share it, else each member's. */
function sourceText(change: SettingChange): string {
  if (change.source) return change.source;
  const sources = Object.entries(change.sources ?? {});
  const distinct = [...new Set(sources.map(([, source]) => source))];
  if (distinct.length === 1) return distinct[0]!;
  return sources.map(([name, source]) => `${name} ${source}`).join(", ") || "default";
}

function describeChange(context: CommandContext, change: SettingChange, verb: "set" | "unset"): string {
  const c = context.output.color;
  const now = change.value === null || change.value === undefined ? "" : ` (in effect: ${inlineText(change.value) || "none"}, ${sourceText(change)})`;
  if (verb === "set") {
    // What is in effect is the value written, unless something overrides it.
    const effect = change.overriddenBy ? now : "";
    return change.changed
      ? `${c.green("set")} ${change.key} = ${inlineText(change.written)} in ${change.file}${effect}`
      : `${change.key} is already ${inlineText(change.written)} in ${change.file}; nothing changed${effect}`;
  }
  return change.changed ? `${c.green("unset")} ${change.key} in ${change.file}${now}` : `${change.file} does not set ${change.key}; nothing changed${now}`;
}

/** Who decides the key's value instead of what was just written: an environment variable, or the project. */
function overrideWarning(context: CommandContext, change: SettingChange, what: string): string {
  if (change.overriddenBy === "toolctl.yaml" && context.project) {
    return `${context.project.file} ${what} for ${change.key} in this project: ${valueText(change.value)} applies`;
  }
  return `${change.overriddenBy} is set in the environment and ${what} for ${change.key}`;
}

export async function setCommand(context: CommandContext, key: string, value: string): Promise<void> {
  const { setSetting } = await import("../../config/edit.js");
  const change = shown(await setSetting(settingsHome(context), context.env, key, value, context.project));
  if (isPostgresUrl(value) && new URL(value).password) {
    context.output.warn(`${change.file} now holds the database password: PGPASSWORD or ~/.pgpass keep it out of the file (docs/team.md)`);
  }
  if (change.overriddenBy) context.output.warn(overrideWarning(context, change, "overrides config.yaml"));
  context.output.data(change, () => describeChange(context, change, "set"));
}

export async function unsetCommand(context: CommandContext, key: string): Promise<void> {
  const { unsetSetting } = await import("../../config/edit.js");
  const change = shown(await unsetSetting(settingsHome(context), context.env, key, context.project));
  if (change.overriddenBy) context.output.warn(overrideWarning(context, change, "still overrides the default"));
  context.output.data(change, () => describeChange(context, change, "unset"));
}
