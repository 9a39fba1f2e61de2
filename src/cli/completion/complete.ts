/**
 * `toolctl __complete WORD...`: what the shell scripts of `toolctl completion` ask on every TAB. The words are
 * the command line after `toolctl`, the last one the word being completed (empty after a space). The answer is a
 * directive line (`:` then `nospace`, `files` or `dirs`, comma-separated, or nothing), then one candidate per line,
 * `value<TAB>description`. It must be fast: commands, flags and fixed choices come from the spec built with
 * toolctl (./spec.ts); tools, actions, ids and input fields are read through the library API only when the word
 * needs them, and only from a home that already has a registry. It never writes, and never fails aloud.
 */
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Toolctl } from "../../api/index.js";
import { resolveHome } from "../../config/home.js";
import { writeText } from "../../ui/stdio.js";
import type { CommandSpec, CompletionSpec, OptionSpec, ValueSpec } from "./spec.js";

interface Candidate {
  value: string;
  description?: string;
}

interface Answer {
  candidates: Candidate[];
  nospace?: boolean;
  files?: "files" | "dirs";
}

const NONE: Answer = { candidates: [] };

/** Recent executions offered for an id. */
const RECENT = 20;

async function loadSpec(specFile: URL): Promise<CompletionSpec> {
  try {
    return JSON.parse(readFileSync(specFile, "utf8")) as CompletionSpec;
  } catch {
    // Not built yet (this is the build asking): read it from the command tree itself.
    const [{ buildProgram }, { specFromProgram }] = await Promise.all([import("../program.js"), import("./spec.js")]);
    return specFromProgram(buildProgram());
  }
}

/** Where the command line stands: the command it is in, its arguments so far, the options given. */
interface Position {
  path: string;
  command: CommandSpec;
  positionals: string[];
  given: Map<OptionSpec, string[]>;
  /** The option whose value the current word is, if any. */
  awaiting?: OptionSpec;
  afterDashDash: boolean;
}

function findOption(spec: CompletionSpec, position: Pick<Position, "path" | "command">, flag: string): OptionSpec | undefined {
  const own = position.command.options.find((option) => option.flags.includes(flag));
  return own ?? (position.path === "" ? undefined : spec.commands[""]!.options.find((option) => option.flags.includes(flag)));
}

function locate(spec: CompletionSpec, words: string[]): Position {
  const position: Position = { path: "", command: spec.commands[""]!, positionals: [], given: new Map(), afterDashDash: false };
  const record = (option: OptionSpec, value: string) => position.given.set(option, [...(position.given.get(option) ?? []), value]);
  for (const word of words) {
    if (position.awaiting) {
      record(position.awaiting, word);
      position.awaiting = undefined;
      continue;
    }
    if (!position.afterDashDash && word === "--") {
      position.afterDashDash = true;
      continue;
    }
    if (!position.afterDashDash && word.startsWith("-") && word !== "-") {
      const equals = word.indexOf("=");
      const flag = word.startsWith("--") && equals !== -1 ? word.slice(0, equals) : word.startsWith("--") ? word : word.slice(0, 2);
      const option = findOption(spec, position, flag);
      if (!option) continue;
      const inline = word.startsWith("--") ? (equals !== -1 ? word.slice(equals + 1) : undefined) : word.length > 2 ? word.slice(2) : undefined;
      if (option.value && inline === undefined) position.awaiting = option;
      else record(option, inline ?? "");
      continue;
    }
    const sub = position.positionals.length === 0 ? position.command.subcommands.find((name) => name === word) : undefined;
    if (sub) {
      position.path = position.path === "" ? sub : `${position.path} ${sub}`;
      position.command = spec.commands[position.path]!;
      continue;
    }
    position.positionals.push(word);
  }
  return position;
}

const startsWith = (prefix: string) => (candidate: Candidate) => candidate.value.startsWith(prefix);

/** The registry, opened through the API only when a word needs it, and never created. */
class Registry {
  private opened?: Promise<Toolctl | undefined>;
  constructor(
    private readonly home: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  api(): Promise<Toolctl | undefined> {
    this.opened ??= (async () => {
      // A home without a registry has nothing to offer, and a TAB must not create one.
      if (!existsSync(path.join(this.home, "registry.db"))) return undefined;
      const { openToolctl } = await import("../../api/index.js");
      return openToolctl({ home: this.home, env: this.env });
    })();
    return this.opened;
  }

  async close(): Promise<void> {
    const toolctl = await this.opened?.catch(() => undefined);
    await toolctl?.close();
  }

  async tools(): Promise<Candidate[]> {
    const toolctl = await this.api();
    return toolctl
      ? (await toolctl.toolRows()).map(([name, runtime, status, , description]) => ({ value: name, description: `${description} (${runtime}, ${status})` }))
      : [];
  }

  async actions(tool: string): Promise<Candidate[]> {
    const toolctl = await this.api();
    return toolctl
      ? (await toolctl.store.tools.actions(tool)).map((action) => ({ value: action.name, description: `${action.kind}: ${action.description}` }))
      : [];
  }
}

function splitTarget(word: string): { tool: string; action: string } | undefined {
  const dot = word.indexOf(".");
  return dot === -1 ? undefined : { tool: word.slice(0, dot), action: word.slice(dot + 1) };
}

/** `tool.action` for a word with a dot in it; else the tool names, each followed by a dot when actions must follow. */
async function targets(registry: Registry, word: string, actionRequired: boolean): Promise<Answer> {
  const target = splitTarget(word);
  if (target) {
    const actions = await registry.actions(target.tool);
    return { candidates: actions.map((a) => ({ ...a, value: `${target.tool}.${a.value}` })).filter(startsWith(word)) };
  }
  const tools = (await registry.tools()).filter(startsWith(word));
  if (!actionRequired) return { candidates: tools };
  return { candidates: tools.map((tool) => ({ ...tool, value: `${tool.value}.` })), nospace: true };
}

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  enum?: unknown[];
  description?: string;
  $ref?: string;
  required?: string[];
}

/** `--param NAME=VALUE`: the action's input fields (dotted for nested ones), then an enum's or a boolean's values. */
async function params(registry: Registry, target: string | undefined, word: string, given: string[]): Promise<Answer> {
  const parsed = target ? splitTarget(target) : undefined;
  const toolctl = parsed ? await registry.api() : undefined;
  if (!parsed || !toolctl) return NONE;
  const action = await toolctl.store.tools.action(parsed.tool, parsed.action, false);
  if (!action) return NONE;
  const resolve = async (schema: JsonSchema | undefined): Promise<JsonSchema | undefined> => {
    const name = schema?.$ref?.startsWith("#/$defs/") ? schema.$ref.slice("#/$defs/".length) : undefined;
    if (!name) return schema;
    return (await toolctl.store.tools.definitions(parsed.tool, [name]))[name] as JsonSchema | undefined;
  };
  const equals = word.indexOf("=");
  const key = equals === -1 ? word : word.slice(0, equals);
  const segments = key.split(".");
  let schema = await resolve(action.definition.inputSchema as JsonSchema);
  for (const segment of segments.slice(0, equals === -1 ? -1 : undefined)) schema = await resolve(schema?.properties?.[segment]);
  if (equals !== -1) {
    const values = schema?.enum ?? (schema?.type === "boolean" ? [true, false] : []);
    return { candidates: values.map((value) => ({ value: `${key}=${String(value)}` })).filter(startsWith(word)) };
  }
  const parent = segments.slice(0, -1).join(".");
  const required = new Set(schema?.required ?? []);
  // A field already given is not offered again.
  const set = new Set(given.map((param) => param.split("=")[0]));
  const fields: Candidate[] = [];
  for (const [name, property] of Object.entries(schema?.properties ?? {})) {
    if (set.has(`${parent ? `${parent}.` : ""}${name}`)) continue;
    const field = await resolve(property);
    const nested = field?.type === "object" && field.properties !== undefined;
    const type = Array.isArray(field?.type) ? field!.type.join("|") : (field?.type ?? "any");
    fields.push({
      value: `${parent ? `${parent}.` : ""}${name}${nested ? "." : "="}`,
      description: `${type}${required.has(name) ? ", required" : ""}${field?.description ? `: ${field.description.split("\n")[0]}` : ""}`,
    });
  }
  return { candidates: fields.filter(startsWith(word)), nospace: true };
}

async function values(value: ValueSpec, word: string, position: Position, registry: Registry, spec: CompletionSpec): Promise<Answer> {
  if (value.choices) return { candidates: value.choices.map((choice) => ({ value: choice })).filter(startsWith(word)) };
  switch (value.kind) {
    case "file":
      return { candidates: [], files: "files" };
    case "dir":
      return { candidates: [], files: "dirs" };
    case "tool":
      return { candidates: (await registry.tools()).filter(startsWith(word)) };
    case "tools": {
      // A comma-separated list: complete its last name, keeping the ones before.
      const comma = word.lastIndexOf(",");
      const before = word.slice(0, comma + 1);
      // A name already in the list is not offered again.
      const listed = new Set(before.split(",").filter(Boolean));
      const tools = (await registry.tools())
        .filter((tool) => !listed.has(tool.value))
        .map((tool) => ({ ...tool, value: `${before}${tool.value}` }))
        .filter(startsWith(word));
      return { candidates: tools, nospace: true };
    }
    case "action":
      return targets(registry, word, true);
    case "tool-or-action":
      return targets(registry, word, false);
    case "action-name": {
      const toolFlag = [...position.given].find(([option]) => option.flags.includes("--tool"))?.[1].at(-1);
      return toolFlag ? { candidates: (await registry.actions(toolFlag)).filter(startsWith(word)) } : NONE;
    }
    case "execution": {
      const toolctl = await registry.api();
      if (!toolctl) return NONE;
      const { items } = await toolctl.store.executions.list({ limit: RECENT, offset: 0 });
      return {
        candidates: items
          .map((e) => ({ value: e.id, description: `${e.tool}.${e.action} ${e.status} ${e.startedAt ?? e.createdAt}` }))
          .filter(startsWith(word)),
      };
    }
    case "approval": {
      const toolctl = await registry.api();
      if (!toolctl) return NONE;
      const pending = await toolctl.approvals(false);
      return {
        candidates: pending.map((a) => ({ value: a.id, description: `${a.tool}.${a.action}, until ${a.expiresAt}` })).filter(startsWith(word)),
      };
    }
    case "plan-run": {
      const toolctl = await registry.api();
      if (!toolctl) return NONE;
      const runs = (await toolctl.store.planRuns.list({ limit: RECENT })).items;
      return { candidates: runs.map((run) => ({ value: run.id, description: `${run.name}: ${run.status} ${run.createdAt}` })).filter(startsWith(word)) };
    }
    case "secret": {
      const toolctl = await registry.api();
      if (!toolctl) return NONE;
      return { candidates: (await toolctl.secrets()).map((secret) => ({ value: secret.name })).filter(startsWith(word)) };
    }
    case "param": {
      const target = spec.commands[position.path]?.arguments[0]?.value.kind === "action" ? position.positionals[0] : undefined;
      const given = [...position.given].filter(([option]) => option.value?.kind === "param").flatMap(([, list]) => list);
      return params(registry, target, word, given);
    }
    default:
      return NONE;
  }
}

function optionCandidates(position: Position, spec: CompletionSpec, word: string): Answer {
  // The program's own options (--home, --json) work after any command; --version only before one.
  const globals = spec.commands[""]!.options.filter((o) => !o.flags.includes("--help") && !o.flags.includes("--version"));
  const options = [...position.command.options, ...(position.path === "" ? [] : globals)];
  const candidates: Candidate[] = [];
  for (const option of options) {
    // A flag already given is not offered again, unless it collects a list.
    if (position.given.has(option) && !option.repeatable) continue;
    for (const flag of option.flags) {
      if (word.startsWith("--") && !flag.startsWith("--")) continue;
      if (flag.startsWith(word)) candidates.push({ value: flag, description: option.description });
    }
  }
  return { candidates };
}

async function answer(spec: CompletionSpec, words: string[], registry: Registry): Promise<Answer> {
  const word = words.at(-1) ?? "";
  const position = locate(spec, words.slice(0, -1));
  if (position.awaiting) {
    if (!position.awaiting.value) return NONE;
    return values(position.awaiting.value, word, position, registry, spec);
  }
  if (!position.afterDashDash && word.startsWith("-")) {
    const equals = word.indexOf("=");
    if (word.startsWith("--") && equals !== -1) {
      // --flag=value, as commander takes it.
      const option = findOption(spec, position, word.slice(0, equals));
      if (!option?.value) return NONE;
      const inner = await values(option.value, word.slice(equals + 1), position, registry, spec);
      return { ...inner, candidates: inner.candidates.map((c) => ({ ...c, value: `${word.slice(0, equals + 1)}${c.value}` })) };
    }
    return optionCandidates(position, spec, word);
  }
  const { command } = position;
  if (command.subcommands.length > 0 && position.positionals.length === 0) {
    return {
      candidates: command.subcommands
        .map((name) => ({ value: name, description: spec.commands[position.path ? `${position.path} ${name}` : name]!.description }))
        .filter(startsWith(word)),
    };
  }
  const index = position.positionals.length;
  const last = command.arguments.at(-1);
  const argument = command.arguments[index] ?? (last?.variadic ? last : undefined);
  return argument ? values(argument.value, word, position, registry, spec) : NONE;
}

/** The home a command line uses: its --home, else TOOLCTL_HOME, else the nearest project's, else ~/.toolctl. */
function homeOf(spec: CompletionSpec, words: string[], env: NodeJS.ProcessEnv): string {
  const position = locate(spec, words.slice(0, -1));
  const home = [...position.given].find(([option]) => option.flags.includes("--home"))?.[1].at(-1);
  return resolveHome(home, env, process.cwd()).home;
}

/**
 * A word as the shell would have passed it to toolctl: bash and zsh hand over the words as typed. Quotes ('…',
 * "…" with \ escaping $ ` " \, $'…' kept simple) and backslashes are removed, a quote left open runs to the end
 * (the word being completed), and a leading unquoted `~` or `~/` becomes the home directory (not in the word being
 * completed: the shell completes file names itself).
 */
export function shellWord(raw: string, home?: string): string {
  let word = "";
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (c === "\\") {
      const next = raw[i + 1];
      if (next === undefined) break;
      // Inside "…" a backslash escapes only these; elsewhere any character.
      if (quote === '"' && !'$`"\\\n'.includes(next)) word += c;
      if (next !== "\n") word += next;
      i++;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else word += c;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "$" && raw[i + 1] === "'") {
      quote = "'";
      i++;
    } else word += c;
  }
  if (home !== undefined && (raw === "~" || raw.startsWith("~/"))) return `${home}${word.slice(1)}`;
  return word;
}

/** Prints the answer for `words` (the last one being completed). Any failure prints no candidates. */
export async function complete(typed: string[], specFile: URL, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let result: Answer = NONE;
  let registry: Registry | undefined;
  try {
    const home = env.HOME || os.homedir();
    const words = typed.map((word, i) => shellWord(word, i < typed.length - 1 ? home : undefined));
    const spec = await loadSpec(specFile);
    registry = new Registry(homeOf(spec, words, env), env);
    result = await answer(spec, words.length === 0 ? [""] : words, registry);
  } catch {
    result = NONE;
  } finally {
    await registry?.close().catch(() => undefined);
  }
  const directives = [result.nospace ? "nospace" : "", result.files ?? ""].filter(Boolean).join(",");
  const lines = result.candidates.map((c) => (c.description ? `${c.value}\t${c.description.replace(/[\t\n\r]+/g, " ")}` : c.value));
  writeText(1, `:${directives}\n${lines.map((line) => `${line}\n`).join("")}`);
}

/** `toolctl __complete-spec`: the spec, read from the command tree, as the build writes it to dist/cli/completion-spec.json. */
export async function printSpec(): Promise<void> {
  const [{ buildProgram }, { specFromProgram }] = await Promise.all([import("../program.js"), import("./spec.js")]);
  writeText(1, `${JSON.stringify(specFromProgram(buildProgram()))}\n`);
}
