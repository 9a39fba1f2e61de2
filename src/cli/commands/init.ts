import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PROJECT_FILE, PROJECT_HOME } from "../../config/home.js";
import { PROJECT_TEMPLATE } from "../../config/project-template.js";
import { EnvironmentError, UsageError } from "../../errors.js";
import type { CommandContext } from "../program.js";

interface InitFlags {
  force?: boolean;
}

type GitIgnore = "added" | "present" | "none";

const IGNORED = new Set([PROJECT_HOME, `${PROJECT_HOME}/`, `/${PROJECT_HOME}`, `/${PROJECT_HOME}/`]);

/** Adds `.toolctl/` to the project's .gitignore when there is one and it does not already ignore it. */
function ignoreProjectHome(root: string): GitIgnore {
  const file = path.join(root, ".gitignore");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return "none";
  }
  if (text.split(/\r?\n/).some((line) => IGNORED.has(line.trim()))) return "present";
  appendFileSync(file, `${text === "" || text.endsWith("\n") ? "" : "\n"}# toolctl's project registry and keys\n${PROJECT_HOME}/\n`);
  return "added";
}

export async function initCommand(context: CommandContext, flags: InitFlags): Promise<void> {
  const root = context.cwd;
  const file = path.join(root, PROJECT_FILE);
  try {
    // `wx`: an existing file is never replaced by accident, even one created a moment ago.
    writeFileSync(file, PROJECT_TEMPLATE, { flag: flags.force ? "w" : "wx" });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new UsageError(`${file} already exists; --force replaces it`);
    throw new EnvironmentError(`cannot write ${file}: ${code ?? (error as Error).message}`, { file }, error);
  }
  const gitignore = ignoreProjectHome(root);
  const c = context.output.color;
  const home = path.join(root, PROJECT_HOME);
  if (gitignore === "none") {
    context.output.warn(`no .gitignore in ${root}: keep ${PROJECT_HOME}/ out of version control (it holds the project's registry and keys)`);
  }
  context.output.data({ file, root, home, gitignore }, () =>
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
