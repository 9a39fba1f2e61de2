/**
 * `toolctl tool export NAME`: a registered tool back as a `toolctl/v1` manifest that re-imports `unchanged`. The
 * stored manifest is what the importer saved (every default filled in); values equal to their schema default are
 * left out so the file reads like one written by hand, and the result is parsed again here: only a file that
 * gives back exactly the stored manifest (the same digest) is returned with them left out, else every value is
 * written.
 */
import path from "node:path";
import { manifestSchema, type Manifest } from "../domain/manifest.js";
import { canonicalJson, digestOf } from "../util/canonical.js";
import { filesBesideManifest } from "../domain/tool-dir.js";
import { manifestYaml } from "./yaml-text.js";

export type ExportFormat = "yaml" | "json";

export interface ExportedTool {
  tool: string;
  format: ExportFormat;
  /** The manifest as written: defaults left out. */
  manifest: Record<string, unknown>;
  /** The file's text: YAML with a header comment, or JSON. */
  text: string;
  /** What the person should know before using the file elsewhere (paths relative to the original manifest). */
  notes: string[];
}

interface ZodDef {
  type: string;
  innerType?: ZodLike;
  in?: ZodLike;
  shape?: Record<string, ZodLike>;
  valueType?: ZodLike;
  element?: ZodLike;
  options?: ZodLike[];
  defaultValue?: unknown;
}
interface ZodLike {
  _zod: { def: ZodDef };
  safeParse(value: unknown): { success: boolean };
}

const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value);

/** `value` with every object field equal to its schema default left out, walking the schema beside the value. */
function withoutDefaults(schema: ZodLike, value: unknown): unknown {
  const def = schema._zod.def;
  switch (def.type) {
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "readonly":
      return value === undefined || value === null ? value : withoutDefaults(def.innerType!, value);
    case "pipe":
      return withoutDefaults(def.in!, value);
    case "object": {
      if (!isRecord(value)) return value;
      const result: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        const field = def.shape?.[key];
        if (field && field._zod.def.type === "default" && canonicalJson(item) === canonicalJson(field._zod.def.defaultValue)) continue;
        result[key] = field ? withoutDefaults(field, item) : item;
      }
      return result;
    }
    case "record":
      return isRecord(value) ? Object.fromEntries(Object.entries(value).map(([key, item]) => [key, withoutDefaults(def.valueType!, item)])) : value;
    case "array":
      return Array.isArray(value) ? value.map((item) => withoutDefaults(def.element!, item)) : value;
    case "union": {
      const option = def.options?.find((candidate) => candidate.safeParse(value).success);
      return option ? withoutDefaults(option, value) : value;
    }
    default:
      return value;
  }
}

/** Paths a tool reads relative to its manifest's directory: they move with the file. */
function relativePathNotes(manifest: Manifest, source: string | null): string[] {
  const beside = filesBesideManifest(manifest);
  if (beside.length === 0) return [];
  const where = source && !/^https?:\/\//i.test(source) ? path.dirname(source) : "the original manifest's directory";
  return [
    `${manifest.name} refers to files beside its manifest (${beside.join(", ")}): ` +
      `imported from elsewhere, those paths are read relative to the new file; keep it in ${where}`,
  ];
}

export function exportManifest(stored: Manifest, options: { source: string | null; format: ExportFormat }): ExportedTool {
  const digest = digestOf(stored);
  const stripped = withoutDefaults(manifestSchema as unknown as ZodLike, stored) as Record<string, unknown>;
  const reparsed = manifestSchema.safeParse(stripped);
  const manifest = reparsed.success && digestOf(reparsed.data) === digest ? stripped : (stored as unknown as Record<string, unknown>);
  const notes = relativePathNotes(stored, options.source);
  if (options.format === "json") return { tool: stored.name, format: "json", manifest, text: `${JSON.stringify(manifest, null, 2)}\n`, notes };
  const text = manifestYaml(manifest, (doc) => {
    doc.commentBefore = [
      ` Tool ${stored.name}, exported from the toolctl registry${options.source ? ` (imported from ${options.source})` : ""}.`,
      ` Importing it again changes nothing until it is edited: toolctl import <this file>`,
      ...notes.map((note) => ` Note: ${note}`),
    ].join("\n");
  });
  return { tool: stored.name, format: "yaml", manifest, text, notes };
}
