/**
 * What shell completion knows of the command tree: every command path with its subcommands, options and
 * arguments, and what each value is (a fixed choice, a tool, an execution id, a file, ...). It is read from the
 * commander tree once, when toolctl is built (`toolctl __complete-spec`, written to dist/cli/completion-spec.json),
 * so a completion never loads commander nor builds the tree.
 */
import type { Command } from "commander";

/** What a value is, and so what completion offers for it. */
export type ValueKind =
  "tool" | "action" | "tool-or-action" | "action-name" | "tools" | "execution" | "approval" | "plan-run" | "secret" | "param" | "file" | "dir" | "text";

export interface ValueSpec {
  /** The placeholder in --help (`<tool.action>`). */
  name: string;
  kind: ValueKind;
  choices?: string[];
}

export interface OptionSpec {
  flags: string[];
  description: string;
  /** Absent for a flag that takes no value. */
  value?: ValueSpec;
  /** May be given more than once (`--param`, `--tag`). */
  repeatable: boolean;
}

export interface ArgumentSpec {
  value: ValueSpec;
  variadic: boolean;
}

export interface CommandSpec {
  description: string;
  subcommands: string[];
  options: OptionSpec[];
  arguments: ArgumentSpec[];
}

export interface CompletionSpec {
  version: 1;
  /** By command path: "" is the program (its options are the global ones), then "run", "tool approve", ... */
  commands: Record<string, CommandSpec>;
}

/**
 * Values that are more than text, by "<command path> <argument name>" or "<command path> <--long-flag>". Every
 * entry must name a real argument or option: the build fails otherwise, so a renamed flag is noticed.
 */
const KINDS: Record<string, ValueKind> = {
  " --home": "dir",
  "import paths": "file",
  "import --openapi": "file",
  "new --out": "file",
  "show tool[.action]": "tool-or-action",
  "approve id": "approval",
  "deny id": "approval",
  "tool enable name": "tool",
  "tool disable name": "tool",
  "tool remove name": "tool",
  "tool approve name": "tool",
  "tool revoke name": "tool",
  "tool test name": "tool",
  "tool export name": "tool",
  "tool clear-state name": "tool",
  "run tool.action": "action",
  "run --param": "param",
  "run --params-file": "file",
  "rollback execution-id": "execution",
  "plan file": "file",
  "plan --out": "file",
  "apply plan": "file",
  "plan-runs show id": "plan-run",
  "plan-runs resume id": "plan-run",
  "plan-runs rollback id": "plan-run",
  "stats --tool": "tool",
  "secret rm name": "secret",
  "executions --tool": "tool",
  "executions --action": "action-name",
  "executions show id": "execution",
  "audit --tool": "tool",
  "audit --action": "action-name",
  "audit --execution": "execution",
  "audit export --output": "file",
  "mcp --allow": "tool-or-action",
  "mcp --tools": "tools",
};

/** Options that may be given more than once: they collect into a list. */
const REPEATABLE = new Set(["run --param", "import --tag", "import --operation", "mcp --allow"]);

function pathOf(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

export function specFromProgram(program: Command): CompletionSpec {
  const commands: Record<string, CommandSpec> = {};
  const used = new Set<string>();
  const kindOf = (key: string): ValueKind => {
    const kind = KINDS[key];
    if (kind) used.add(key);
    return kind ?? "text";
  };
  const visit = (command: Command) => {
    const path = pathOf(command);
    const options: OptionSpec[] = command.options
      .filter((option) => !option.hidden)
      .map((option) => {
        const flags = [option.short, option.long].filter((flag): flag is string => flag !== undefined);
        const takesValue = option.required || option.optional;
        const placeholder = /[<[]([^>\]]+)[>\]]/.exec(option.flags)?.[1] ?? "value";
        // `oneOf` parsers (flags.ts) carry their list as `choices`.
        const choices = option.argChoices ?? (option.parseArg as { choices?: readonly string[] } | undefined)?.choices;
        const key = `${path} ${option.long ?? option.short}`;
        return {
          flags,
          description: option.description,
          ...(takesValue ? { value: { name: placeholder, kind: kindOf(key), ...(choices ? { choices: [...choices] } : {}) } } : {}),
          repeatable: REPEATABLE.has(key) || option.variadic,
        };
      });
    options.push({ flags: ["-h", "--help"], description: "display help for command", repeatable: false });
    const args: ArgumentSpec[] = command.registeredArguments.map((argument) => ({
      value: {
        name: argument.name(),
        kind: kindOf(`${path} ${argument.name()}`),
        ...(argument.argChoices ? { choices: [...argument.argChoices] } : {}),
      },
      variadic: argument.variadic,
    }));
    const visible = command.commands.filter((sub) => !(sub as unknown as { _hidden?: boolean })._hidden);
    commands[path] = { description: command.description(), subcommands: visible.map((sub) => sub.name()), options, arguments: args };
    for (const sub of visible) visit(sub);
  };
  visit(program);
  // `help COMMAND` (commander's) and `help environment` (a topic of toolctl's own): a command of their own here.
  const root = commands[""]!;
  commands.help = {
    description: "help for a command, or a topic (environment)",
    subcommands: [],
    options: [],
    arguments: [{ value: { name: "command", kind: "text", choices: [...root.subcommands, "environment"] }, variadic: false }],
  };
  root.subcommands = [...root.subcommands, "help"];
  const unused = Object.keys(KINDS).filter((key) => !used.has(key));
  if (unused.length > 0) throw new Error(`completion: no such argument or option: ${unused.join(", ")} (update KINDS in src/cli/completion/spec.ts)`);
  return { version: 1, commands };
}
