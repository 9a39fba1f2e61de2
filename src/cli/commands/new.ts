/**
 * `toolctl new http|process|docker NAME [--out FILE] [--from-curl 'curl …']`: writes a commented manifest that
 * imports as it is (made by the API's `newManifest`), refusing to replace an existing file, and says which
 * secrets to set.
 */
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, linkSync, openSync, statSync, unlinkSync, writeSync } from "node:fs";
import path from "node:path";
import { EnvironmentError, UsageError } from "../../errors.js";
import type { CommandContext } from "../program.js";

interface NewFlags {
  out?: string;
  fromCurl?: string;
}

/**
 * Writes `text` to `target`, which must not exist: whole to a temporary file beside it, flushed, then linked into
 * place (a link never replaces a file). A failure (a full disk) leaves nothing behind, so running it again works;
 * where the file system has no hard links, the file is created directly and removed again if its write fails.
 */
function writeNewFile(target: string, text: string): void {
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    writeWhole(temp, text);
  } catch (error) {
    // Not a directory one may write to: said of the file asked for, as creating it directly would.
    if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "EACCES") {
      writeWhole(target, text);
      return;
    }
    throw error;
  }
  try {
    linkSync(temp, target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw error;
    writeWhole(target, text);
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // Gone already.
    }
  }
}

/** Creates `file` (never replacing one) holding `text`, flushed; removed again when that fails after creating it. */
function writeWhole(file: string, text: string): void {
  const fd = openSync(file, "wx", 0o666);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    try {
      unlinkSync(file);
    } catch {
      // Gone already.
    }
    throw error;
  }
  closeSync(fd);
}

export async function newCommand(context: CommandContext, runtime: string, name: string, flags: NewFlags): Promise<void> {
  const { newManifest } = await import("../../api/index.js");
  const file = flags.out ?? `${name}.yaml`;
  const scaffold = await newManifest({ runtime, name, fromCurl: flags.fromCurl, file });
  const target = path.resolve(context.cwd, file);
  try {
    writeNewFile(target, scaffold.text);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST" || code === "EISDIR") {
      if (statSync(target, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--out ${file}: is a directory; give the file to write`);
      throw new UsageError(`${file} already exists: toolctl new never replaces a file; choose another with --out`);
    }
    if (code === "ENOENT" && !statSync(path.dirname(target), { throwIfNoEntry: false })?.isDirectory()) {
      throw new UsageError(`--out ${file}: no such directory ${path.dirname(file)}`);
    }
    if (code === "ENOSPC" || code === "EDQUOT") {
      throw new EnvironmentError(
        `cannot write ${file}: no space left on the disk holding ${path.dirname(target)}; nothing was written: free some space and run it again`,
      );
    }
    if (code === "EROFS") throw new EnvironmentError(`cannot write ${file}: the file system holding ${path.dirname(target)} is read-only; nothing was written`);
    throw new UsageError(`cannot write ${file}: ${code ?? (error as Error).message}`);
  }
  const c = context.output.color;
  context.output.data({ file, tool: name, runtime, secrets: scaffold.secrets, notes: scaffold.notes }, () => `wrote ${file} (${runtime} tool ${name})`);
  // What to do next is for people: on stderr, and not with --quiet.
  context.output.info(
    [
      ...scaffold.notes.map((note) => `  ${c.yellow("note")}: ${note}`),
      ...(scaffold.secrets.length > 0
        ? ["set its secrets (values are never written to the file):", ...scaffold.secrets.map((s) => `  toolctl secret set ${s}`)]
        : []),
      `then import it: toolctl import ${file}`,
    ].join("\n"),
  );
}
