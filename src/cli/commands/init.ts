import { accessSync, appendFileSync, constants, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { findProject, PROJECT_FILE, PROJECT_HOME } from "../../config/home.js";
import { PROJECT_TEMPLATE } from "../../config/project-template.js";
import { EnvironmentError, UsageError } from "../../errors.js";
import type { CommandContext } from "../program.js";

interface InitFlags {
  force?: boolean;
}

type GitIgnore = "added" | "present" | "none";

const IGNORED = new Set([PROJECT_HOME, `${PROJECT_HOME}/`, `/${PROJECT_HOME}`, `/${PROJECT_HOME}/`]);

/**
 * Whether the project's .gitignore needs `.toolctl/` added, found before anything is written: a .gitignore that
 * cannot be read, or that needs the line and cannot be written, stops init with nothing written.
 */
function planGitIgnore(root: string): { gitignore: GitIgnore; file: string; text: string } {
  const file = path.join(root, ".gitignore");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { gitignore: "none", file, text: "" };
    throw new EnvironmentError(`cannot read ${file}: ${code ?? (error as Error).message}; nothing was written`, { file }, error);
  }
  if (text.split(/\r?\n/).some((line) => IGNORED.has(line.trim()))) return { gitignore: "present", file, text };
  try {
    accessSync(file, constants.W_OK);
  } catch (error) {
    throw unwritable(file, error);
  }
  return { gitignore: "added", file, text };
}

function unwritable(file: string, error: unknown): EnvironmentError {
  const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  return new EnvironmentError(`cannot write ${file}: ${code}; nothing was written`, { file }, error);
}

export async function initCommand(context: CommandContext, flags: InitFlags): Promise<void> {
  const root = context.cwd;
  const file = path.join(root, PROJECT_FILE);
  if (!flags.force && existsSync(file)) throw new UsageError(`${file} already exists; --force replaces it`);
  const { gitignore, file: ignoreFile, text } = planGitIgnore(root);
  // What --force replaces, put back if .gitignore cannot be written after all.
  let replaced: string | undefined;
  try {
    replaced = flags.force ? readFileSync(file, "utf8") : undefined;
  } catch {
    replaced = undefined;
  }
  try {
    // `wx`: an existing file is never replaced by accident, even one created a moment ago.
    writeFileSync(file, PROJECT_TEMPLATE, { flag: flags.force ? "w" : "wx" });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new UsageError(`${file} already exists; --force replaces it`);
    throw new EnvironmentError(`cannot write ${file}: ${code ?? (error as Error).message}`, { file }, error);
  }
  if (gitignore === "added") {
    try {
      appendFileSync(ignoreFile, `${text === "" || text.endsWith("\n") ? "" : "\n"}# toolctl's project registry and keys\n${PROJECT_HOME}/\n`);
    } catch (error) {
      if (replaced === undefined) rmSync(file, { force: true });
      else writeFileSync(file, replaced);
      throw unwritable(ignoreFile, error);
    }
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
  context.output.data({ file, root, home, gitignore, ...(enclosing ? { enclosing } : {}) }, () =>
    [
      `${c.green("wrote")} ${file}`,
      gitignore === "added" ? `added ${PROJECT_HOME}/ to .gitignore` : gitignore === "present" ? `.gitignore already ignores ${PROJECT_HOME}/` : "",
      `commands run here or below now use the registry in ${home}`,
      "list manifests and specs in it, then run: toolctl sync",
    ]
      .filter(Boolean)
      .join("\n"),
  );
}
