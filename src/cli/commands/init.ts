import { randomBytes } from "node:crypto";
import {
  accessSync,
  closeSync,
  constants,
  fchmodSync,
  fsyncSync,
  ftruncateSync,
  linkSync,
  lstatSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  type Stats,
} from "node:fs";
import path from "node:path";
import { findProject, PROJECT_FILE, PROJECT_HOME } from "../../config/home.js";
import { PROJECT_TEMPLATE } from "../../config/project-template.js";
import { EnvironmentError, UsageError } from "../../errors.js";
import type { CommandContext } from "../program.js";

interface InitFlags {
  force?: boolean;
}

type GitIgnore = "added" | "present" | "none" | "symlink";

/** Opens never follow a symbolic link as the last part of the path (0 where the platform has no such flag). */
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

const errorCode = (error: unknown) => (error as NodeJS.ErrnoException).code ?? (error as Error).message;

/** A glob of one path part, as .gitignore writes it (`*`, `?`, `[a-z]`, `[!a]`, `\x`), as a regular expression. */
function globPart(glob: string): RegExp | undefined {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "\\" && i + 1 < glob.length) out += glob[++i]!.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
    else if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else if (c === "[" && glob.indexOf("]", i + 2) !== -1) {
      const end = glob.indexOf("]", i + 2);
      const body = glob.slice(i + 1, end);
      out += `[${/^[!^]/.test(body) ? `^${body.slice(1)}` : body}]`.replace(/\\/g, "\\\\");
      i = end;
    } else out += c.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
  }
  try {
    return new RegExp(`^${out}$`);
  } catch {
    return undefined;
  }
}

/** Whether one .gitignore pattern (without its `!`) matches the directory `.toolctl` at the root. */
function matchesHome(pattern: string): boolean {
  let part = pattern.endsWith("/") ? pattern.slice(0, -1) : pattern;
  if (part.startsWith("/")) part = part.slice(1);
  while (part.startsWith("**/")) part = part.slice(3);
  // A pattern with a slash left names a path below the root or inside .toolctl/ (`.toolctl/keys`), not .toolctl itself.
  if (part === "" || part.includes("/")) return false;
  return globPart(part)?.test(PROJECT_HOME) ?? false;
}

/**
 * Whether a .gitignore's lines leave `.toolctl/` ignored, read in order as git reads them: the last line that
 * matches the directory decides, and one that starts with `!` un-ignores it. Lines about what is inside it
 * (`.toolctl/*`) do not count, so such a file gets `.toolctl/` added, which is harmless.
 */
export function gitignoreIgnoresHome(text: string): boolean {
  let ignored = false;
  for (const raw of text.split(/\r?\n/)) {
    // Trailing spaces are dropped unless escaped with a backslash.
    const line = raw.replace(/(?<!\\) +$/, "");
    if (line === "" || line.startsWith("#")) continue;
    const negated = line.startsWith("!");
    if (matchesHome(negated ? line.slice(1) : line)) ignored = !negated;
  }
  return ignored;
}

interface GitIgnorePlan {
  gitignore: GitIgnore;
  file: string;
  text: string;
  /** Its size in bytes when read, to cut it back to if init fails after appending. */
  size: number;
}

/**
 * Whether the project's .gitignore needs `.toolctl/` added, found before anything is written: a .gitignore that
 * cannot be read, or that needs the line and cannot be written, stops init with nothing written. A .gitignore
 * that is a symbolic link is never read or edited (a cloned repository can point one at any file of yours).
 */
function planGitIgnore(root: string): GitIgnorePlan {
  const file = path.join(root, ".gitignore");
  let stat: Stats | undefined;
  let data: Buffer;
  try {
    stat = lstatSync(file, { throwIfNoEntry: false });
    if (stat === undefined) return { gitignore: "none", file, text: "", size: 0 };
    if (stat.isSymbolicLink()) return { gitignore: "symlink", file, text: "", size: 0 };
    const fd = openSync(file, constants.O_RDONLY | NOFOLLOW);
    try {
      data = readFileSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    throw new EnvironmentError(`cannot read ${file}: ${errorCode(error)}; nothing was written`, { file }, error);
  }
  const text = data.toString("utf8");
  if (gitignoreIgnoresHome(text)) return { gitignore: "present", file, text, size: data.length };
  try {
    accessSync(file, constants.W_OK);
  } catch (error) {
    throw unwritable(file, error);
  }
  return { gitignore: "added", file, text, size: data.length };
}

function unwritable(file: string, error: unknown): EnvironmentError {
  return new EnvironmentError(`cannot write ${file}: ${errorCode(error)}; nothing was written`, { file }, error);
}

/** Appends `.toolctl/` to the .gitignore, without following a link put there since it was read. */
function appendGitIgnore(plan: GitIgnorePlan): void {
  const fd = openSync(plan.file, constants.O_WRONLY | constants.O_APPEND | NOFOLLOW);
  try {
    writeFileSync(fd, `${plan.text === "" || plan.text.endsWith("\n") ? "" : "\n"}# toolctl's project registry and keys\n${PROJECT_HOME}/\n`);
  } finally {
    closeSync(fd);
  }
}

/** Cuts the .gitignore back to what it was, when init fails after appending to it. */
function restoreGitIgnore(plan: GitIgnorePlan): void {
  try {
    const fd = openSync(plan.file, constants.O_WRONLY | NOFOLLOW);
    try {
      ftruncateSync(fd, plan.size);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Best effort: the error that stopped init is the one to report.
  }
}

/** The template in a new file beside `file`, created with O_EXCL (never an existing path, never through a link). */
function writeTemp(file: string, mode: number | undefined): string {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = openSync(temp, "wx", 0o666);
  try {
    writeFileSync(fd, PROJECT_TEMPLATE);
    if (mode !== undefined) fchmodSync(fd, mode);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  return temp;
}

const exists = (file: string) => new UsageError(`${file} already exists; --force replaces it`, { file });

/**
 * Puts the new file in place in one step: with --force, renamed over toolctl.yaml (a rename replaces the name,
 * never what a link there points at); without, hard-linked to the name, which fails if anything (a link too)
 * is there. Where hard links are not supported, an exclusive create does the same, not atomically.
 */
function place(temp: string, file: string, force: boolean): void {
  if (force) {
    renameSync(temp, file);
    return;
  }
  try {
    linkSync(temp, file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw exists(file);
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS" && code !== "EOPNOTSUPP") throw error;
    try {
      writeFileSync(file, PROJECT_TEMPLATE, { flag: "wx" });
    } catch (again) {
      if ((again as NodeJS.ErrnoException).code === "EEXIST") throw exists(file);
      throw again;
    }
  } finally {
    rmSync(temp, { force: true });
  }
}

export async function initCommand(context: CommandContext, flags: InitFlags): Promise<void> {
  const root = context.cwd;
  const file = path.join(root, PROJECT_FILE);
  let current: Stats | undefined;
  try {
    current = lstatSync(file, { throwIfNoEntry: false });
  } catch (error) {
    throw new EnvironmentError(`cannot read ${file}: ${errorCode(error)}; nothing was written`, { file }, error);
  }
  // Never written through, with or without --force: a cloned repository can point the link at any file of yours.
  if (current?.isSymbolicLink()) {
    throw new UsageError(`${file} is a symbolic link: toolctl init never writes through one (it could point at any file); remove it, then run toolctl init`, {
      file,
    });
  }
  if (current && !flags.force) throw exists(file);
  const plan = planGitIgnore(root);
  const { gitignore } = plan;
  // The new toolctl.yaml is written in full first, beside the old one; nothing the user has changes until then.
  let temp: string;
  try {
    temp = writeTemp(file, current?.isFile() ? current.mode & 0o7777 : undefined);
  } catch (error) {
    throw new EnvironmentError(`cannot write ${file}: ${errorCode(error)}; nothing was written`, { file }, error);
  }
  if (gitignore === "added") {
    try {
      appendGitIgnore(plan);
    } catch (error) {
      rmSync(temp, { force: true });
      throw unwritable(plan.file, error);
    }
  }
  try {
    place(temp, file, flags.force === true);
  } catch (error) {
    rmSync(temp, { force: true });
    if (gitignore === "added") restoreGitIgnore(plan);
    if (error instanceof UsageError) throw error;
    throw new EnvironmentError(`cannot write ${file}: ${errorCode(error)}; nothing was written`, { file }, error);
  }
  const c = context.output.color;
  const home = path.join(root, PROJECT_HOME);
  // A project inside another: commands here now use this one, which the user may not have meant.
  const enclosing = findProject(path.dirname(root))?.file;
  if (enclosing !== undefined) {
    context.output.warn(`${root} is inside the project of ${enclosing}: commands run here or below now use this project instead`);
  }
  if (gitignore === "none") {
    context.output.warn(`no .gitignore in ${root}: keep ${PROJECT_HOME}/ out of version control (it holds the project's registry and keys)`);
  }
  if (gitignore === "symlink") {
    context.output.warn(
      `${plan.file} is a symbolic link: toolctl init does not edit it; add ${PROJECT_HOME}/ to your .gitignore yourself (it holds the project's registry and keys)`,
    );
  }
  context.output.data({ file, root, home, gitignore, ...(enclosing ? { enclosing } : {}) }, () =>
    [
      `${c.green("wrote")} ${file}`,
      gitignore === "added" ? `added ${PROJECT_HOME}/ to .gitignore` : gitignore === "present" ? `.gitignore already ignores ${PROJECT_HOME}/` : "",
    ]
      .filter(Boolean)
      .join("\n"),
  );
  // What to do next is a note, as `new` prints its own: on stderr, and not with --quiet.
  context.output.info(`commands run here or below now use the registry in ${home}\nlist manifests and specs in it, then run: toolctl sync`);
}
