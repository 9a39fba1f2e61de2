/**
 * The files of a directory to deploy, read once while preparing: what a dry run lists (path, SHA-1, size) is
 * byte for byte what is uploaded. The directory must lie inside the project root ("Path is outside project
 * directory", as in the seed), checked as text and then component by component without following links
 * (runners/builtin/confine.ts). Inside it, a symbolic link is deployed as the file it points to only when that file is
 * inside the project root too; anything else is refused.
 *
 * Left out, as Vercel's CLI leaves them out: version-control and tool directories (.git, .hg, .svn, .vercel,
 * node_modules), .DS_Store, and every .env file (they hold secrets; set env vars with the deploy's `env`).
 */
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { PolicyError } from "../../errors.js";
import { BuiltinInputError, isWithin, quote } from "../../runners/builtin/input.js";
import { confine, inspect, outside, type Root } from "../../runners/builtin/confine.js";

export interface DeployFile {
  /** Relative to the deployed directory, with `/` separators: Vercel's `file`. */
  file: string;
  /** Hex SHA-1 of the content: Vercel's `sha` and `x-vercel-digest`. */
  sha: string;
  size: number;
  content: Buffer;
  executable: boolean;
}

export interface DeployDirectory {
  directory: string;
  files: DeployFile[];
  bytes: number;
}

const SKIPPED_DIRECTORIES = new Set([".git", ".hg", ".svn", ".vercel", "node_modules"]);
const skippedFile = (name: string) => name === ".DS_Store" || name === ".env" || name.startsWith(".env.");

export function sha1Hex(content: Buffer): string {
  return createHash("sha1").update(content).digest("hex");
}

/** Reads every file to deploy below `raw` (relative to the project root, or absolute inside it). */
export function collectDeployFiles(
  raw: unknown,
  root: Root,
  limits: { maxFiles: number; maxBytes: number; home: string; env: NodeJS.ProcessEnv },
): DeployDirectory {
  const target = confine(raw, [root], { allowRoot: true, home: limits.home, env: limits.env });
  const stats = inspect(target);
  if (!stats) throw new BuiltinInputError(`no such directory: ${quote(target.raw)} (in ${root.real})`);
  if (!stats.isDirectory()) throw new BuiltinInputError(`${quote(target.raw)} is not a directory; deploy a directory`);
  const files: DeployFile[] = [];
  let bytes = 0;
  const add = (file: string, content: Buffer, executable: boolean) => {
    if (files.length >= limits.maxFiles)
      throw new PolicyError("policy_refused", `${quote(target.raw)} holds more than ${limits.maxFiles} files, over this tool's vercel.maxFiles`);
    bytes += content.length;
    if (bytes > limits.maxBytes)
      throw new PolicyError("policy_refused", `${quote(target.raw)} holds more than ${limits.maxBytes} bytes, over this tool's vercel.maxBytes`);
    files.push({ file, sha: sha1Hex(content), size: content.length, content, executable });
  };
  const walk = (directory: string, prefix: string) => {
    const entries = readdirSync(directory, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const absolute = path.join(directory, entry.name);
      const relative = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRECTORIES.has(entry.name)) walk(absolute, relative);
      } else if (entry.isFile()) {
        if (!skippedFile(entry.name)) add(relative, readFileSync(absolute), (lstatSync(absolute).mode & 0o111) !== 0);
      } else if (entry.isSymbolicLink()) {
        if (skippedFile(entry.name)) continue;
        const real = realTarget(absolute);
        if (real === undefined || !isWithin(real, root.real)) throw outside(relative, `a symbolic link to ${real ?? "nothing"}`);
        const linked = statSync(real);
        if (!linked.isFile()) throw new BuiltinInputError(`${quote(relative)} is a symbolic link to a directory; only links to files are deployed`);
        add(relative, readFileSync(real), (linked.mode & 0o111) !== 0);
      }
    }
  };
  walk(target.absolute, "");
  if (files.length === 0) throw new BuiltinInputError(`nothing to deploy: ${quote(target.raw)} holds no files`);
  return { directory: target.absolute, files, bytes };
}

function realTarget(link: string): string | undefined {
  try {
    return realpathSync(link);
  } catch {
    return undefined;
  }
}
