/**
 * `toolctl new http|process|docker NAME [--out FILE] [--from-curl 'curl …']`: writes a commented manifest that
 * imports as it is (made by the API's `newManifest`), refusing to replace an existing file, and says which
 * secrets to set.
 */
import { statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { UsageError } from "../../errors.js";
import type { CommandContext } from "../program.js";

interface NewFlags {
  out?: string;
  fromCurl?: string;
}

export async function newCommand(context: CommandContext, runtime: string, name: string, flags: NewFlags): Promise<void> {
  const { newManifest } = await import("../../api/index.js");
  const file = flags.out ?? `${name}.yaml`;
  const scaffold = await newManifest({ runtime, name, fromCurl: flags.fromCurl, file });
  const target = path.resolve(context.cwd, file);
  try {
    writeFileSync(target, scaffold.text, { flag: "wx" });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST" || code === "EISDIR") {
      if (statSync(target, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--out ${file}: is a directory; give the file to write`);
      throw new UsageError(`${file} already exists: toolctl new never replaces a file; choose another with --out`);
    }
    if (code === "ENOENT" && !statSync(path.dirname(target), { throwIfNoEntry: false })?.isDirectory()) {
      throw new UsageError(`--out ${file}: no such directory ${path.dirname(file)}`);
    }
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
