/**
 * Conformance: every complete document of the shared corpus of real OpenAPI specs (../shared/corpus/openapi,
 * described by its index.json) converts without crashing into a manifest that validates, whose schemas
 * compile, and whose report accounts for every operation: imported, or skipped with a reason. A spec the
 * converter refuses must be listed below with the reason; the list must match exactly.
 *
 * Compilation: all of a spec's action schemas and definitions are compiled together as one document (each
 * schema once), and a deterministic sample of actions (every n-th, at most SAMPLE per spec) is compiled the
 * way the import path does it, with the definitions it reaches. Compiling every action that way costs
 * minutes on the biggest specs, whose outputs each reach a hundred shared definitions.
 *
 * The corpus lives beside the repo, not in it: without it the test is skipped, except in CI, where it fails.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { manifestSchema } from "../src/domain/manifest.js";
import { ToolctlError } from "../src/errors.js";
import { convertOpenApi, type ConvertedSpec } from "../src/openapi/index.js";
import { compileValidatorCode } from "../src/schema/compile.js";
import { withDefinitions } from "../src/schema/defs.js";
import { repoRoot } from "./helpers.js";

const corpusRoot = path.resolve(repoRoot, "../shared/corpus/openapi");
const corpusPresent = existsSync(path.join(corpusRoot, "index.json"));
const inCI = Boolean(process.env.CI);
const SAMPLE = 8;
/** For specs whose servers give no absolute URL (none, or a relative one in a local file). */
const STAND_IN_BASE_URL = "https://api.example.com";

/** Specs the converter refuses, by file, with what it must say. */
const EXPECTED_REFUSALS: Record<string, RegExp> = {
  "oai-examples/v3.1/webhook-example.json": /: no operations to import \(only 1 webhook\(s\)\)$/,
  "oai-examples/v3.1/webhook-example.yaml": /: no operations to import \(only 1 webhook\(s\)\)$/,
};

interface IndexEntry {
  file: string;
  version: string;
  ops: number | null;
}

interface Row {
  file: string;
  version: string;
  present: number;
  imported: number;
  skipped: Array<{ operation: string; reason: string }>;
  note: string;
}

function compileAll(result: ConvertedSpec): void {
  const actions = result.manifest.actions as Record<string, Record<string, Record<string, unknown> | undefined>>;
  const definitions = (result.manifest.definitions ?? {}) as Record<string, unknown>;
  const all: Record<string, unknown> = { ...definitions };
  for (const [name, action] of Object.entries(actions)) {
    for (const which of ["inputSchema", "outputSchema"]) if (action[which]) all[`action:${name}:${which}`] = action[which];
  }
  compileValidatorCode({ $defs: all, anyOf: Object.keys(all).map((key) => ({ $ref: `#/$defs/${encodeURIComponent(key)}` })) });
  const names = Object.keys(actions);
  const step = Math.max(1, Math.ceil(names.length / SAMPLE));
  for (let i = 0; i < names.length; i += step) {
    for (const which of ["inputSchema", "outputSchema"]) {
      const schema = actions[names[i]!]![which];
      if (schema) expect(() => compileValidatorCode(withDefinitions(schema, definitions)), `${names[i]}.${which}`).not.toThrow();
    }
  }
}

async function convertEntry(entry: IndexEntry): Promise<ConvertedSpec> {
  const file = path.join(corpusRoot, entry.file);
  try {
    return await convertOpenApi(file, { env: {}, cwd: corpusRoot });
  } catch (error) {
    if (!(error instanceof ToolctlError) || error.details.reason !== "no_base_url") throw error;
    return convertOpenApi(file, { env: {}, cwd: corpusRoot, baseUrl: STAND_IN_BASE_URL });
  }
}

function printTable(rows: Row[]): void {
  const lines = rows.map((r) => `${`${r.imported}/${r.present}`.padStart(7)}  ${r.version.padEnd(13)} ${r.file}${r.note ? `  (${r.note})` : ""}`);
  const skipped = rows.flatMap((r) => r.skipped.map((s) => `  ${r.file}: ${s.operation}: ${s.reason}`));
  const imported = rows.reduce((sum, r) => sum + r.imported, 0);
  const present = rows.reduce((sum, r) => sum + r.present, 0);
  const refused = rows.filter((r) => r.note.startsWith("refused")).length;
  const partial = rows.filter((r) => !r.note.startsWith("refused") && r.imported < r.present).length;
  console.log(
    [
      `OpenAPI corpus: ${imported} of ${present} operations imported from ${rows.length} documents: ${rows.length - refused - partial} complete, ${partial} partial, ${refused} refused`,
      "imported/present  version  file",
      ...lines,
      "skipped operations:",
      ...(skipped.length ? skipped : ["  none"]),
    ].join("\n"),
  );
}

describe.skipIf(!corpusPresent && !inCI)("OpenAPI corpus", () => {
  it("converts every complete document, accounting for every operation", { timeout: 120_000 }, async () => {
    expect(corpusPresent, `the corpus is missing: ${corpusRoot}`).toBe(true);
    const index = JSON.parse(readFileSync(path.join(corpusRoot, "index.json"), "utf8")) as IndexEntry[];
    const documents = index.filter((entry) => entry.version !== "fragment");
    expect(documents.length).toBeGreaterThan(60);
    const rows: Row[] = [];
    const refused: string[] = [];
    for (const entry of documents) {
      const present = entry.ops ?? 0;
      let result: ConvertedSpec;
      try {
        result = await convertEntry(entry);
      } catch (error) {
        // A refusal is a clean, one-line error the list above expects; anything else is a crash.
        expect(error, entry.file).toBeInstanceOf(ToolctlError);
        const message = (error as Error).message;
        expect(message, entry.file).not.toContain("\n");
        expect(EXPECTED_REFUSALS[entry.file], `${entry.file} was refused: ${message}`).toBeDefined();
        expect(message, entry.file).toMatch(EXPECTED_REFUSALS[entry.file]!);
        refused.push(entry.file);
        rows.push({
          file: entry.file,
          version: entry.version,
          present,
          imported: 0,
          skipped: present ? [{ operation: "all", reason: message }] : [],
          note: `refused: ${message.replace(/^.*?: /, "")}`,
        });
        continue;
      }
      const { report } = result;
      expect(report.operations, entry.file).toBe(present);
      expect(report.imported.length + report.skipped.length, entry.file).toBe(present);
      for (const skipped of report.skipped) expect(skipped.reason, `${entry.file} ${skipped.method} ${skipped.path}`).toMatch(/\w/);
      const parsed = manifestSchema.safeParse(result.manifest);
      expect(parsed.success, `${entry.file}: ${parsed.success ? "" : JSON.stringify(parsed.error.issues.slice(0, 3))}`).toBe(true);
      expect(() => compileAll(result), entry.file).not.toThrow();
      rows.push({
        file: entry.file,
        version: entry.version,
        present,
        imported: report.imported.length,
        skipped: report.skipped.map((s) => ({ operation: `${s.method} ${s.path}`, reason: s.reason })),
        note: result.manifest.baseUrl === STAND_IN_BASE_URL ? "no absolute server: converted with a stand-in base URL" : "",
      });
    }
    printTable(rows);
    expect(refused.sort()).toEqual(Object.keys(EXPECTED_REFUSALS).sort());
  });
});
