/**
 * The built-in `files` runtime: read, write (create or replace), create (never replace), delete and list,
 * confined to the roots the manifest declares. Preparing checks the path and shows exactly what would be
 * touched; running opens it again without following links (see ./confine.ts), so the plan is what happens.
 *
 * Inputs: read { path, encoding? }, write and create { path, content, encoding? }, delete { path },
 * list { path? } (the first root when left out). encoding is utf8 (default) or base64.
 */
import path from "node:path";
import type { BuiltinOperation, FilesSettings } from "../../domain/manifest.js";
import { PolicyError } from "../../errors.js";
import { BuiltinInputError, checkFields, manifestDir, optionalString, quote, requiredString, type Input } from "./input.js";
import { confine, FileFailure, inspect, outside, resolveRoots, type ConfinedPath } from "./confine.js";
import { deleteFile, listDirectory, readFile, writeFile } from "./files-io.js";
import type { Prepared, RunContext, RunResult, Runner } from "../types.js";

type FilesOperation = Extract<BuiltinOperation, "read" | "list" | "write" | "create" | "delete">;
type Encoding = "utf8" | "base64";

const FIELDS: Record<FilesOperation, readonly string[]> = {
  read: ["path", "encoding"],
  write: ["path", "content", "encoding"],
  create: ["path", "content", "encoding"],
  delete: ["path"],
  list: ["path"],
};

/** Default limits, for a tool stored before they were filled in; the manifest schema gives the same. */
const DEFAULTS = { maxReadBytes: 1024 * 1024, maxWriteBytes: 1024 * 1024, maxEntries: 1000 };

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function encodingOf(input: Input): Encoding {
  const encoding = optionalString(input, "encoding") ?? "utf8";
  if (encoding !== "utf8" && encoding !== "base64") throw new BuiltinInputError(`input encoding must be utf8 or base64, not ${quote(encoding)}`);
  return encoding;
}

function contentOf(input: Input, encoding: Encoding): Buffer {
  const content = requiredString(input, "content");
  if (encoding === "utf8") return Buffer.from(content, "utf8");
  if (!BASE64.test(content)) throw new BuiltinInputError("input content is not valid base64");
  return Buffer.from(content, "base64");
}

const size = (bytes: number) => `${bytes} byte${bytes === 1 ? "" : "s"}`;

export const filesRunner: Runner = {
  prepare(context: RunContext): Prepared {
    const { tool, action, input } = context;
    const operation = action.definition.operation as FilesOperation | undefined;
    if (!operation || !(operation in FIELDS))
      throw new BuiltinInputError(`action ${action.name} has no files operation; set operation: read, write, create, delete or list`);
    const settings: FilesSettings = { ...DEFAULTS, ...tool.definition.files! };
    checkFields(input, FIELDS[operation], operation);
    const roots = resolveRoots(settings.roots, () => manifestDir(tool));
    const target = confine(input.path ?? (operation === "list" ? "." : undefined), roots, {
      allowRoot: operation === "list",
      home: context.home,
      env: context.env,
      // toolctl's own working directory's, and a project's beside its manifests (as the process sandbox hides them).
      secretFiles: [path.join(context.cwd, ".env"), path.join(manifestDir(tool), ".env")],
    });
    const stats = inspect(target);
    const exists = stats !== undefined;
    const base = { runtime: "files", operation, path: target.absolute, root: target.root.real, exists };

    if (operation === "read") {
      const encoding = encodingOf(input);
      // A second name for one file may be a link to something outside the root (checked again when read).
      if (stats?.isFile() && stats.nlink > 1) throw outside(target.raw, "a hard link");
      if (stats?.isFile() && stats.size > settings.maxReadBytes) throw overLimit(target, stats.size, settings.maxReadBytes, "maxReadBytes");
      return plan(
        {
          ...base,
          encoding,
          size: stats?.isFile() ? stats.size : undefined,
          maxBytes: settings.maxReadBytes,
          summary: `reads ${target.absolute} as ${encoding} (at most ${size(settings.maxReadBytes)})`,
        },
        () => readFile(target, encoding, settings.maxReadBytes),
      );
    }
    if (operation === "write" || operation === "create") {
      const encoding = encodingOf(input);
      const content = contentOf(input, encoding);
      if (content.length > settings.maxWriteBytes) throw overLimit(target, content.length, settings.maxWriteBytes, "maxWriteBytes");
      const createOnly = operation === "create";
      const how = createOnly || !exists ? "creates" : "replaces";
      return plan(
        {
          ...base,
          encoding,
          bytes: content.length,
          createOnly,
          summary: `${how} ${target.absolute} with ${size(content.length)}${createOnly ? ", only if it does not exist" : ""} (written to a temporary file, then renamed)`,
        },
        () => writeFile(target, content, createOnly),
      );
    }
    if (operation === "delete") {
      return plan({ ...base, summary: `deletes the file ${target.absolute}` }, () => deleteFile(target));
    }
    return plan({ ...base, maxEntries: settings.maxEntries, summary: `lists ${target.absolute} (at most ${settings.maxEntries} entries)` }, () =>
      listDirectory(target, settings.maxEntries),
    );
  },
};

function overLimit(target: ConfinedPath, bytes: number, limit: number, setting: string): PolicyError {
  return new PolicyError("policy_refused", `${quote(target.raw)} is ${size(bytes)}, over this tool's files.${setting} of ${size(limit)}`);
}

/** One result shape: whatever goes wrong while acting is a failed run naming the path, never a thrown error. */
function plan(description: Record<string, unknown>, act: () => unknown): Prepared {
  return {
    description,
    async run(): Promise<RunResult> {
      const started = Date.now();
      try {
        const output = act();
        return { outcome: "succeeded", output, details: { path: description.path, durationMs: Date.now() - started } };
      } catch (error) {
        if (!(error instanceof FileFailure)) throw error;
        // A path refused at the moment of use (a symlink swapped in) is a refusal, exit 3; no usable root, exit 6.
        return {
          outcome: "failed",
          error: error.message,
          errorCategory: error.category,
          details: { path: description.path, durationMs: Date.now() - started },
          declined: error.category === "authorization" || undefined,
          nothingRan: error.category === "environment" || undefined,
        };
      }
    },
  };
}
