/**
 * `--help` and the docs agree. The command tree is read from the built binary's help, command by command;
 * docs/commands.md has one `##` section per command (or group of commands), named in its heading.
 *
 * - every command the binary has is documented, and every command a heading names exists;
 * - every long flag a command's `--help` lists appears in that command's section;
 * - every long flag written in a section is one of the section's commands' flags, a global flag, or, where the
 *   text says so (`toolctl run … --yes`, "`run --wait`"), a flag of the command it names (or, in a code span
 *   that starts with `curl `, one of curl's);
 * - the runtimes the docs list are exactly `runtimes` of src/domain/runtimes.ts.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runtimes } from "../src/domain/runtimes.js";
import { repoRoot, runCli } from "./helpers.js";
import { fencedLines, sections, type Section } from "./markdown.js";

interface Help {
  options: string[];
  commands: string[];
}

/** The long flags (Options:) and subcommands (Commands:) of one commander help text. */
function parseHelp(text: string): Help {
  const help: Help = { options: [], commands: [] };
  let part = "";
  for (const line of text.split("\n")) {
    const header = /^([A-Z][\w ]*):$/.exec(line);
    if (header) {
      part = header[1]!;
      continue;
    }
    // Entries are indented by two spaces; a description wrapped onto the next line by more.
    if (!/^ {2}\S/.test(line)) continue;
    const entry = line.slice(2);
    if (part === "Options") {
      const flag = /^(?:-\w, )?(--[a-z][\w-]*)/.exec(entry)?.[1];
      if (flag && flag !== "--help") help.options.push(flag);
    } else if (part === "Commands") {
      const name = /^([a-z0-9][\w-]*)/.exec(entry)?.[1];
      if (name && name !== "help") help.commands.push(name);
    }
  }
  return help;
}

async function helpOf(command: string[]): Promise<Help> {
  const result = await runCli([...command, "--help"]);
  if (result.code !== 0) throw new Error(`toolctl ${[...command, "--help"].join(" ")} exited ${result.code}: ${result.stderr}`);
  return parseHelp(result.stdout);
}

/** Every command path ("run", "tool approve") with its help; "" is the program itself. */
const tree = new Map<string, Help>();

beforeAll(async () => {
  const queue: string[][] = [[]];
  while (queue.length > 0) {
    const batch = queue.splice(0, 2);
    const helps = await Promise.all(batch.map(helpOf));
    batch.forEach((command, i) => {
      tree.set(command.join(" "), helps[i]!);
      for (const sub of helps[i]!.commands) queue.push([...command, sub]);
    });
  }
}, 120_000);

/** The program's own flags (--home, --json, --quiet, ...), which every command accepts. */
const globalFlags = (): string[] => ["--help", "--version", ...(tree.get("")?.options ?? [])];

/** A command worth a section: one that does something, or a group with options of its own. */
function documentable(name: string, help: Help): boolean {
  return name !== "" && (help.commands.length === 0 || help.options.length > 0);
}

const commandsDoc = readFileSync(path.join(repoRoot, "docs", "commands.md"), "utf8");

/** The command paths a section heading names: "`toolctl tool approve|revoke <name>`" → tool approve, tool revoke. */
function commandsOf(section: Section): string[] {
  if (!section.heading) return [];
  const result: string[] = [];
  for (const span of section.heading.text.match(/`[^`]+`/g) ?? []) {
    const words = span
      .slice(1, -1)
      .replace(/<[^>]*>/g, " ")
      .replace(/\[[^\]]*\]/g, " ")
      .split(/\s+/)
      .filter((word) => /^[a-z0-9][\w|-]*$/.test(word));
    if (words[0] === "toolctl") words.shift();
    let paths = [""];
    for (const word of words) paths = paths.flatMap((prefix) => word.split("|").map((alternative) => `${prefix} ${alternative}`.trim()));
    result.push(...paths.filter((p) => p !== ""));
  }
  return result;
}

const docSections = sections(commandsDoc, 2).map((section) => ({ section, commands: commandsOf(section) }));

function sectionName(section: Section): string {
  return section.heading ? `## ${section.heading.text} (line ${section.line})` : "the introduction";
}

const FLAG = /(?<![\w-])--[a-z][\w-]*/g;

/** The command a line says a flag belongs to, from the text before it: `toolctl <command> …`, else a bare `<command>`. */
function owners(prefix: string): { explicit?: string; nearest?: string } {
  const paths = [...tree.keys()].filter((p) => p !== "");
  const after = prefix.lastIndexOf("toolctl ");
  if (after !== -1) {
    const words = prefix.slice(after + "toolctl ".length).split(/\s+/);
    let found: string | undefined;
    for (let n = 1; n <= words.length; n++) if (tree.has(words.slice(0, n).join(" "))) found = words.slice(0, n).join(" ");
    if (found) return { explicit: found };
  }
  let nearest: { path: string; end: number } | undefined;
  for (const p of paths) {
    const escaped = p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    for (const match of prefix.matchAll(new RegExp(`(?<![\\w.-])${escaped}(?![\\w.-])`, "g"))) {
      const end = match.index! + p.length;
      if (!nearest || end > nearest.end || (end === nearest.end && p.length > nearest.path.length)) nearest = { path: p, end };
    }
  }
  return { nearest: nearest?.path };
}

/** Every long flag written in a section that is not one of its commands' (nor global, nor attributed to another command that has it). */
function strayFlags(section: Section, commands: string[]): string[] {
  const own = new Set(commands.flatMap((c) => tree.get(c)?.options ?? []));
  const problems: string[] = [];
  const fenced = fencedLines(section.lines.join("\n"));
  section.lines.forEach((raw, i) => {
    // Link targets are anchors and paths, not flags ("#toolctl-apply-planjson--file").
    const line = fenced[i] ? raw : raw.replace(/\]\([^)]*\)/g, "]()");
    // A code span that starts with `curl ` shows curl's own options (`toolctl new --from-curl` reads them).
    const curlSpans = [...line.matchAll(/`curl [^`]*`/g)].map((m) => [m.index!, m.index! + m[0].length] as const);
    for (const match of line.matchAll(FLAG)) {
      const flag = match[0];
      if (globalFlags().includes(flag)) continue;
      if (curlSpans.some(([start, end]) => match.index! > start && match.index! < end)) continue;
      const { explicit, nearest } = owners(line.slice(0, match.index));
      const where = `docs/commands.md:${section.line + i}: ${flag}`;
      if (explicit !== undefined) {
        if (!tree.get(explicit)!.options.includes(flag)) problems.push(`${where} is not a flag of toolctl ${explicit}`);
        continue;
      }
      if (own.has(flag)) continue;
      if (nearest !== undefined && tree.get(nearest)!.options.includes(flag)) continue;
      problems.push(`${where} is not a flag of ${commands.length ? commands.map((c) => `toolctl ${c}`).join(", ") : "any command this section names"}`);
    }
  });
  return problems;
}

describe("--help and docs/commands.md", () => {
  it("reads the command tree from --help", () => {
    expect(tree.get("")!.options).toEqual(expect.arrayContaining(["--home", "--json", "--version"]));
    expect(tree.get("run")!.options).toContain("--dry-run");
    expect(tree.has("tool approve")).toBe(true);
  });

  it("documents every command, and names no command that does not exist", () => {
    const documented = new Set(docSections.flatMap((s) => s.commands));
    const missing = [...tree].filter(([name, help]) => documentable(name, help) && !documented.has(name)).map(([name]) => name);
    const unknown = [...documented].filter((name) => !tree.has(name));
    expect({ missing, unknown }).toEqual({ missing: [], unknown: [] });
  });

  it("lists the global flags in the introduction", () => {
    const intro = docSections[0]!.section.lines.join("\n");
    expect(tree.get("")!.options.filter((flag) => !new RegExp(`${flag}(?![\\w-])`).test(intro))).toEqual([]);
  });

  it("documents every flag each command's --help lists, in that command's section", () => {
    const missing: string[] = [];
    for (const { section, commands } of docSections) {
      const text = section.lines.join("\n");
      for (const command of commands) {
        for (const flag of tree.get(command)?.options ?? []) {
          if (!new RegExp(`(?<![\\w-])${flag}(?![\\w-])`).test(text)) missing.push(`toolctl ${command} ${flag}: not in ${sectionName(section)}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it("writes no flag that the command does not take", () => {
    expect(docSections.flatMap(({ section, commands }) => strayFlags(section, commands))).toEqual([]);
  });
});

describe("the runtimes in the docs", () => {
  const docFiles = [
    "README.md",
    ...readdirSync(path.join(repoRoot, "docs"))
      .filter((f) => f.endsWith(".md"))
      .map((f) => `docs/${f}`),
  ];

  it("docs/runtimes.md has one row per runtime, in order", () => {
    const lines = readFileSync(path.join(repoRoot, "docs", "runtimes.md"), "utf8").split("\n");
    const header = lines.findIndex((line) => /^\|\s*runtime\s*\|/.test(line));
    expect(header).toBeGreaterThan(-1);
    const rows: string[] = [];
    for (const line of lines.slice(header + 2)) {
      if (!line.startsWith("|")) break;
      rows.push(/^\|\s*`([^`]+)`/.exec(line)?.[1] ?? line);
    }
    expect(rows).toEqual([...runtimes]);
  });

  it("every list of runtimes in README.md and docs/ names all of them", () => {
    const names = [...runtimes].sort((a, b) => b.length - a.length).join("|");
    const token = `(?<![\\w.\\-/\`])\`?(?:${names})\`?(?![\\w\\-/\`]|\\.\\w)`;
    const separator = `(?:\\s*\\\\?[,|]\\s*(?:or\\s+|and\\s+)?|\\s+(?:or|and)\\s+)`;
    const list = new RegExp(`${token}(?:${separator}${token}){2,}`, "g");
    const problems: string[] = [];
    for (const file of docFiles) {
      readFileSync(path.join(repoRoot, file), "utf8")
        .split("\n")
        .forEach((line, i) => {
          const named = new Set<string>();
          for (const match of line.matchAll(list)) for (const name of match[0].match(new RegExp(`(?:${names})`, "g")) ?? []) named.add(name);
          if (named.size < 4) return;
          const missing = runtimes.filter((r) => !named.has(r));
          if (missing.length > 0) problems.push(`${file}:${i + 1}: lists ${[...named].join(", ")} but not ${missing.join(", ")}`);
        });
    }
    expect(problems).toEqual([]);
  });

  it("finds the lists it checks", () => {
    // The list flag's table row, its error message, the manifest's runtime comment and the tool fields table.
    const text = ["docs/commands.md", "docs/manifest.md"].map((f) => readFileSync(path.join(repoRoot, f), "utf8")).join("\n");
    expect(text).toContain(`one of: ${runtimes.join(", ")}`);
    expect(text).toContain(`# ${runtimes.join(" | ")}`);
  });
});
