/**
 * Conformance: the official JSON Schema Test Suite, run through toolctl's own pipeline
 * (compileValidatorCode, then loadValidator on the stored code), as `run` would use it.
 *
 * The suite lives in the shared corpus beside the repo, not in it. Every failure must be listed,
 * with its reason, in json-schema-suite.known-failures.json; the list must match exactly, so a
 * regression fails and so does a fix that leaves a stale entry behind.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { compileValidatorCode, type SchemaDialect } from "../src/schema/compile.js";
import { loadValidator } from "../src/schema/validator.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const suiteRoot = path.resolve(repoRoot, "../shared/corpus/json-schema-test-suite/tests");
const knownFailuresFile = path.join(repoRoot, "test/json-schema-suite.known-failures.json");
const suitePresent = existsSync(suiteRoot);
const inCI = Boolean(process.env.CI);

const DIALECTS: { dialect: SchemaDialect; folder: string }[] = [
  { dialect: "draft-07", folder: "draft7" },
  { dialect: "2020-12", folder: "draft2020-12" },
];

interface SuiteCase {
  description: string;
  schema: unknown;
  tests: { description: string; data: unknown; valid: boolean }[];
}

interface KnownFailure {
  name: string;
  reason: string;
}

interface RunResult {
  total: number;
  failures: Map<string, string>; // name -> what went wrong
}

/** Runs every test of the given files; names are `<dialect>/<file>/<group>/<test>`. */
function runFiles(dialect: SchemaDialect, dir: string, prefix: string): RunResult {
  const result: RunResult = { total: 0, failures: new Map() };
  const names = new Set<string>();
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort();
  for (const file of files) {
    const cases = JSON.parse(readFileSync(path.join(dir, file), "utf8")) as SuiteCase[];
    for (const group of cases) {
      let validate: ((data: unknown) => unknown[]) | undefined;
      let setupError: string | undefined;
      try {
        validate = loadValidator(compileValidatorCode(group.schema, dialect));
      } catch (error) {
        setupError = `schema rejected: ${(error as Error).message}`;
      }
      for (const test of group.tests) {
        result.total++;
        const base = `${dialect}/${prefix}${file.replace(/\.json$/, "")}/${group.description}/${test.description}`;
        // Should an upstream group repeat a test description, every test must still have its own name.
        let name = base;
        for (let n = 2; names.has(name); n++) name = `${base} #${n}`;
        names.add(name);
        if (!validate) {
          result.failures.set(name, setupError ?? "no validator");
          continue;
        }
        try {
          const issues = validate(test.data);
          const valid = issues.length === 0;
          if (valid !== test.valid) {
            result.failures.set(name, test.valid ? `expected valid, got ${JSON.stringify(issues)}` : "expected invalid, got valid");
          }
        } catch (error) {
          result.failures.set(name, `validator threw: ${(error as Error).message}`);
        }
      }
    }
  }
  return result;
}

function rate(label: string, { total, failures }: RunResult): string {
  const passed = total - failures.size;
  return `${label}: ${passed}/${total} passed (${((100 * passed) / total).toFixed(1)}%)`;
}

function loadKnownFailures(): KnownFailure[] {
  return JSON.parse(readFileSync(knownFailuresFile, "utf8")) as KnownFailure[];
}

if (!suitePresent) {
  console.warn(`JSON Schema Test Suite not found at ${suiteRoot}: ${inCI ? "FAILING (CI must run it)" : "skipping the conformance run"}.`);
}

describe("JSON Schema Test Suite corpus", () => {
  it.runIf(inCI)("is present in CI", () => {
    expect(suitePresent, `expected the JSON Schema Test Suite at ${suiteRoot}; CI must not skip the conformance run`).toBe(true);
  });
});

describe("known failures list", () => {
  it("gives every entry a unique name and a reason", () => {
    const known = loadKnownFailures();
    const names = new Set<string>();
    for (const entry of known) {
      expect(typeof entry.name, JSON.stringify(entry)).toBe("string");
      expect(typeof entry.reason === "string" && entry.reason.trim().length > 0, `no reason for ${entry.name}`).toBe(true);
      expect(names.has(entry.name), `listed twice: ${entry.name}`).toBe(false);
      expect(
        DIALECTS.some((d) => entry.name.startsWith(`${d.dialect}/`)),
        `unknown dialect in ${entry.name}`,
      ).toBe(true);
      names.add(entry.name);
    }
  });
});

/**
 * Format tests failed per format (optional/format): internationalised names (idn-*, iri*) are not checked, and
 * hostname, uri and date-time are checked by pattern, not by the full grammar (leap seconds, label lengths).
 */
const FORMAT_FAILURES: Record<string, Record<string, number>> = {
  "draft-07": {
    "date-time": 3,
    "ecmascript-regex": 1,
    hostname: 24,
    "idn-email": 2,
    "idn-hostname": 54,
    "iri-reference": 2,
    iri: 6,
    "uri-reference": 6,
    "uri-template": 3,
    uri: 3,
  },
  "2020-12": {
    ...{
      "date-time": 3,
      "ecmascript-regex": 1,
      hostname: 24,
      "idn-email": 2,
      "idn-hostname": 54,
      "iri-reference": 2,
      iri: 6,
      "uri-reference": 6,
      "uri-template": 3,
      uri: 3,
    },
    duration: 2,
    email: 5,
    uuid: 1,
  },
};

describe.skipIf(!suitePresent)(`JSON Schema Test Suite (${path.relative(repoRoot, suiteRoot)})`, () => {
  for (const { dialect, folder } of DIALECTS) {
    it(`${dialect}: required tests fail exactly as listed in the known failures`, () => {
      const result = runFiles(dialect, path.join(suiteRoot, folder), "");
      console.log(rate(dialect, result));

      const known = new Map(
        loadKnownFailures()
          .filter((k) => k.name.startsWith(`${dialect}/`))
          .map((k) => [k.name, k.reason]),
      );
      const unexpected = [...result.failures].filter(([name]) => !known.has(name)).map(([name, why]) => `${name}: ${why}`);
      const fixed = [...known.keys()]
        .filter((name) => !result.failures.has(name))
        .map((name) => `${name}: now passes (or no longer exists), remove from known list`);
      expect(unexpected, "new failures (fix them, or list them with a reason)").toEqual([]);
      expect(fixed, "known failures that now pass").toEqual([]);
    });

    // Format assertion is optional in every draft, and toolctl asserts formats with ajv-formats' "fast" checks.
    // What that misses is pinned here, per format: a change either way (a regression, or a fix to record) fails.
    it(`${dialect}: optional/format fails only where ajv-formats is documented to be lenient`, () => {
      const dir = path.join(suiteRoot, folder, "optional/format");
      const result = runFiles(dialect, dir, "optional/format/");
      console.log(rate(`${dialect} optional/format`, result));
      const byFile: Record<string, number> = {};
      for (const name of result.failures.keys()) {
        const file = name.split("/")[3]!;
        byFile[file] = (byFile[file] ?? 0) + 1;
      }
      expect(result.total).toBeGreaterThan(600);
      expect(byFile).toEqual(FORMAT_FAILURES[dialect]);
    });
  }
});
