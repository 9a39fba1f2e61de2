/**
 * Manifests: `parseManifest` (every problem with file:line:col and field) and imports end to end through the
 * library API (the report, and nothing half-written in the registry or the audit log); a few tests run the built
 * binary for what the CLI adds: exit codes, the printed lines and the JSON view.
 */
import { readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../src/errors.js";
import { parseManifest } from "../src/manifest/load.js";
import type { Toolctl } from "../src/api/index.js";
import { examplesDir, homeWithExamples, openApi, rejection, runCli, runJson, tempDir, writeFiles, type CliResult } from "./helpers.js";

// ---------------------------------------------------------------------------------------------------------
// helpers

/** Joins lines, so that every test can count lines by eye: line N is the Nth argument. */
const lines = (...text: string[]) => `${text.join("\n")}\n`;

/** The problems parseManifest reports; fails the test when it accepts the text or throws anything else. */
function problemsOf(text: string, file = "tool.yaml"): { error: ValidationError; problems: string[] } {
  let thrown: unknown;
  try {
    parseManifest(text, file);
  } catch (error) {
    thrown = error;
  }
  if (thrown === undefined) throw new Error(`parseManifest accepted ${file}`);
  expect(thrown, String((thrown as Error)?.stack)).toBeInstanceOf(ValidationError);
  const error = thrown as ValidationError;
  expect(error.code).toBe("manifest_invalid");
  expect(error.exitCode).toBe(2);
  const problems = error.details.problems ?? [];
  expect(problems.length).toBeGreaterThan(0);
  for (const problem of problems) {
    // One line each, starting with file:line:col.
    expect(problem).not.toMatch(/[\r\n]/);
    expect(problem.startsWith(`${file}:`), problem).toBe(true);
    expect(problem.slice(file.length)).toMatch(/^:\d+:\d+: \S/);
  }
  // The message itself is one line too: the single problem, or a count.
  expect(error.message).not.toMatch(/[\r\n]/);
  if (problems.length === 1) expect(error.message).toBe(problems[0]);
  else expect(error.message).toBe(`${file}: ${problems.length} problems in manifest`);
  return { error, problems };
}

/** The one problem at `file:line:col`, which must exist. */
function problemAt(problems: string[], file: string, line: number, col: number): string {
  const found = problems.filter((p) => p.startsWith(`${file}:${line}:${col}: `));
  expect(found, `no problem at ${file}:${line}:${col} in:\n${problems.join("\n")}`).not.toHaveLength(0);
  return found[0]!;
}

/** file:line:col of a problem line. */
function positionOf(problem: string, file: string): { line: number; col: number } {
  const match = /^:(\d+):(\d+): /.exec(problem.slice(file.length));
  return { line: Number(match![1]), col: Number(match![2]) };
}

const ECHO_HEADER = ["apiVersion: toolctl/v1", "name: sample", "description: A sample tool", "runtime: echo", "actions:"];

function registryRows(home: string, sql: string, ...params: unknown[]): unknown[] {
  const db = new Database(path.join(home, "registry.db"), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...params);
  } finally {
    db.close();
  }
}

function expectNoAnsi(result: CliResult): void {
  expect(result.stdout).not.toContain("\x1b[");
}

const GOOD_TOOL = (name: string, description = "Return the message") =>
  lines(
    "apiVersion: toolctl/v1",
    `name: ${name}`,
    "version: 1.0.0",
    `description: The ${name} tool`,
    "runtime: echo",
    "actions:",
    "  say:",
    `    description: ${description}`,
    "    kind: read",
    "    inputSchema:",
    "      type: object",
    "      required: [message]",
    "      properties:",
    "        message: { type: string }",
    "  shout:",
    "    description: Return the message, loudly",
    "    kind: read",
  );

/** GOOD_TOOL with say changed and shout replaced by whisper. */
const CHANGED_TOOL = GOOD_TOOL("alpha", "Return the message, changed").replace(
  "  shout:\n    description: Return the message, loudly\n    kind: read\n",
  "  whisper:\n    description: Quietly\n    kind: read\n",
);

// ---------------------------------------------------------------------------------------------------------
// parseManifest: unit tests

describe("parseManifest: a valid manifest", () => {
  it("parses, fills the defaults and names the secrets it refers to", () => {
    const loaded = parseManifest(
      lines(
        "apiVersion: toolctl/v1",
        "name: pay",
        "description: Payments",
        "runtime: http",
        "baseUrl: https://api.example.com",
        "auth: { type: bearer, secret: PAY_KEY }",
        "actions:",
        "  charge:",
        "    description: Charge",
        "    kind: create",
        "    request: { method: POST, path: /charges, headers: { X-Other: '{{ secrets.OTHER_KEY }}' } }",
        "    rollback: { action: refund, input: { id: '{{ output.id }}' } }",
        "  refund:",
        "    description: Refund",
        "    kind: create",
        "    request: { method: POST, path: '/refunds/{{ input.id }}' }",
      ),
      "pay.yaml",
    );
    expect(loaded.manifest.version).toBe("0.0.0");
    expect(loaded.manifest.actions.refund!.inputSchema).toEqual({ type: "object" });
    expect(loaded.secrets).toEqual(["OTHER_KEY", "PAY_KEY"]);
    expect(loaded.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it("ignores comments and formatting: the digest depends on the content only", () => {
    const a = parseManifest(GOOD_TOOL("echo2"), "a.yaml");
    const b = parseManifest(`# a comment\n${GOOD_TOOL("echo2").replace("[message]", "[ message ]")}\n\n`, "b.yaml");
    expect(b.digest).toBe(a.digest);
  });
});

describe("parseManifest: broken YAML", () => {
  it("reports a key indented less than its siblings at its line and column", () => {
    const { problems } = problemsOf(lines(...ECHO_HEADER, "  a:", "    description: d", "   kind: read"));
    expect(problems).toHaveLength(1);
    expect(problemAt(problems, "tool.yaml", 8, 1)).toMatch(/invalid YAML: .*same column/);
  });

  it("reports a key indented more than its siblings near the offending line", () => {
    const { problems } = problemsOf(lines(...ECHO_HEADER, "  a:", "    description: d", "      kind: read"));
    for (const problem of problems) {
      expect(problem).toContain("invalid YAML");
      expect([7, 8]).toContain(positionOf(problem, "tool.yaml").line);
    }
  });

  it("reports tab indentation", () => {
    const { problems } = problemsOf("apiVersion: toolctl/v1\nname: x\n\tdescription: d\n");
    expect(problemAt(problems, "tool.yaml", 3, 1)).toMatch(/invalid YAML: Tabs/);
  });

  it("reports an unclosed quote where the quote opens, not at the end of the file", () => {
    const filler = Array.from({ length: 20 }, (_, i) => `# comment ${i}`);
    for (const quote of ['"', "'"]) {
      // The quote opens on line 3, column 14; the file goes on for 20 more lines.
      const text = lines("apiVersion: toolctl/v1", "name: sample", `description: ${quote}A sample tool`, "runtime: echo", ...filler);
      const { problems } = problemsOf(text);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/invalid YAML: .*(quote|closing)/i);
      expect(positionOf(problems[0]!, "tool.yaml"), problems[0]).toEqual({ line: 3, col: 14 });
    }
  });

  it("refuses several YAML documents in one file with a message for people, not for programmers", () => {
    const { problems } = problemsOf(lines(...ECHO_HEADER, "  a: { description: d, kind: read }", "---", "name: other"));
    expect(problems).toHaveLength(1);
    expect(problemAt(problems, "tool.yaml", 7, 1)).toMatch(/document/i);
    expect(problems[0]).not.toMatch(/parseAllDocuments|YAML\./);
  });

  it("refuses an empty file and a file that is not a mapping", () => {
    for (const text of ["", "# only a comment\n", "- a\n- b\n", "just text\n"]) {
      const { problems } = problemsOf(text);
      expect(problems).toEqual(["tool.yaml:1:1: expected a mapping with apiVersion, name, runtime and actions"]);
    }
  });

  it("refuses an alias bomb (billion laughs) as a manifest error, not a crash", () => {
    const text = lines(
      "apiVersion: toolctl/v1",
      "name: bomb",
      "description: d",
      "runtime: echo",
      "x0: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]",
      "x1: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]",
      "x2: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]",
      "x3: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]",
      "x4: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]",
      "actions:",
      "  a: { description: d, kind: read }",
    );
    const { problems } = problemsOf(text);
    expect(problems.join("\n")).toMatch(/alias/i);
  });
});

describe("parseManifest: broken JSON (.json manifests are held to JSON's grammar)", () => {
  const json = (body: string) => body;

  it("reports a trailing comma in an object with its line and column", () => {
    const { problems } = problemsOf(json('{\n  "apiVersion": "toolctl/v1",\n  "name": "x",\n}\n'), "tool.json");
    expect(problems).toHaveLength(1);
    // The comma is at 3:14; the parser notices at the brace on 4:1. Either names the place.
    expect(problems[0]).toMatch(/^tool\.json:(3:14|4:1): invalid JSON: /);
  });

  it("reports a missing closing brace at the end of the input", () => {
    const { problems } = problemsOf(json('{\n  "apiVersion": "toolctl/v1",\n  "name": "x"\n'), "tool.json");
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^tool\.json:4:1: invalid JSON: .*('}'|end)/);
  });

  it("reports a trailing comma in an array on its own line, in one line of text", () => {
    const text = json('{\n  "apiVersion": "toolctl/v1",\n  "tags": ["a", "b",],\n  "name": "x"\n}\n');
    const { problems } = problemsOf(text, "tool.json");
    expect(problems).toHaveLength(1);
    expect(positionOf(problems[0]!, "tool.json").line, problems[0]).toBe(3);
  });

  it("reports a bare word (a typo for true) on its own line, in one line of text", () => {
    const text = json('{\n  "apiVersion": "toolctl/v1",\n  "name": "x",\n  "flag": tru\n}\n');
    const { problems } = problemsOf(text, "tool.json");
    expect(problems).toHaveLength(1);
    expect(positionOf(problems[0]!, "tool.json").line, problems[0]).toBe(4);
  });

  it("reports a duplicate key with its position, where JSON.parse would silently keep the last one", () => {
    const text = json('{\n  "apiVersion": "toolctl/v1",\n  "name": "x",\n  "name": "y"\n}\n');
    const { problems } = problemsOf(text, "tool.json");
    expect(problemAt(problems, "tool.json", 4, 3)).toMatch(/unique|duplicate/i);
  });

  it("reports schema problems in a .json manifest at the right line and column", () => {
    const text = JSON.stringify(
      { apiVersion: "toolctl/v1", name: "x", description: "d", runtime: "echo", actions: { a: { description: "d", kind: "read", descripton: 1 } } },
      null,
      2,
    );
    const { problems } = problemsOf(text, "tool.json");
    // "descripton" is on line 10, indented by 6 spaces.
    expect(problemAt(problems, "tool.json", 10, 7)).toBe("tool.json:10:7: actions.a.descripton: unknown field 'descripton' (did you mean 'description'?)");
  });

  it("accepts a .json manifest saved with a UTF-8 byte order mark, as YAML ones are", () => {
    const text = JSON.stringify({ apiVersion: "toolctl/v1", name: "x", description: "d", runtime: "echo", actions: { a: { description: "d", kind: "read" } } });
    expect(parseManifest(`\uFEFF${text}`, "tool.yaml").manifest.name).toBe("x");
    expect(parseManifest(`\uFEFF${text}`, "tool.json").manifest.name).toBe("x");
  });
});

describe("parseManifest: unknown fields", () => {
  it("names a probable typo at the top level and suggests the field", () => {
    const text = lines(
      "apiVersion: toolctl/v1",
      "name: sample",
      "descripton: A sample tool",
      "runtime: echo",
      "actions:",
      "  a: { description: d, kind: read }",
    );
    const { problems } = problemsOf(text);
    expect(problemAt(problems, "tool.yaml", 3, 1)).toBe("tool.yaml:3:1: descripton: unknown field 'descripton' (did you mean 'description'?)");
    // The real field is then missing, and says so.
    expect(problems).toContain("tool.yaml:1:1: description: is required (expected string)");
  });

  it("names a misspelt inputSchema inside an action, with the action's path", () => {
    const text = lines(
      ...ECHO_HEADER,
      "  greet:",
      "    description: d",
      "    kind: read",
      "    inputSchma: { type: object }",
      "    inputschema: { type: object }",
    );
    const { problems } = problemsOf(text);
    expect(problemAt(problems, "tool.yaml", 9, 5)).toBe("tool.yaml:9:5: actions.greet.inputSchma: unknown field 'inputSchma' (did you mean 'inputSchema'?)");
    expect(problemAt(problems, "tool.yaml", 10, 5)).toContain("(did you mean 'inputSchema'?)");
  });

  it("suggests fields in nested objects too (auth, http, request)", () => {
    const text = lines(
      "apiVersion: toolctl/v1",
      "name: sample",
      "description: d",
      "runtime: http",
      "baseUrl: https://api.example.com",
      "auth: { type: bearer, secret: KEY, secrte: X }",
      "http: { timeoutSecond: 3 }",
      "actions:",
      "  a:",
      "    description: d",
      "    kind: read",
      "    request: { methd: GET, path: /x }",
    );
    const { problems } = problemsOf(text);
    expect(problemAt(problems, "tool.yaml", 6, 36)).toContain("auth.secrte: unknown field 'secrte' (did you mean 'secret'?)");
    expect(problemAt(problems, "tool.yaml", 7, 9)).toContain("http.timeoutSecond: unknown field 'timeoutSecond' (did you mean 'timeoutSeconds'?)");
    expect(problemAt(problems, "tool.yaml", 12, 16)).toContain("actions.a.request.methd: unknown field 'methd' (did you mean 'method'?)");
  });

  it("suggests nothing for a field that resembles none", () => {
    const text = lines(...ECHO_HEADER.slice(0, 4), "colour: red", "actions:", "  a: { description: d, kind: read }");
    const { problems } = problemsOf(text);
    expect(problems).toEqual(["tool.yaml:5:1: colour: unknown field 'colour'"]);
  });

  it("suggests the field for a typo inside a cost or rollback object, not just 'does not match any allowed form'", () => {
    const text = lines(...ECHO_HEADER, "  a:", "    description: d", "    kind: create", "    cost: { fixd: 1 }");
    const { problems } = problemsOf(text);
    expect(problems.join("\n")).toContain("fixd");
    expect(problems.join("\n")).toContain("fixed");
  });
});

describe("parseManifest: wrong types and values", () => {
  it("names each wrong type with its field, line and column", () => {
    const text = lines(
      "apiVersion: toolctl/v1",
      "name: sample",
      "version: [1]",
      "description: d",
      "runtime: process",
      "actions:",
      "  a:",
      "    description: d",
      "    kind: charge",
      '    timeoutSeconds: "ten"',
      "    command: [echo]",
    );
    const { problems } = problemsOf(text);
    expect(problems).toHaveLength(3);
    expect(problemAt(problems, "tool.yaml", 3, 10)).toBe("tool.yaml:3:10: version: expected string, received array");
    const kind = problemAt(problems, "tool.yaml", 9, 11);
    expect(kind).toContain("actions.a.kind:");
    for (const allowed of ["read", "create", "update", "delete"]) expect(kind).toContain(allowed);
    expect(problemAt(problems, "tool.yaml", 10, 21)).toBe("tool.yaml:10:21: actions.a.timeoutSeconds: expected number, received string");
  });

  it("catches YAML's own surprises: version 1.0 is a number", () => {
    const { problems } = problemsOf(
      lines("apiVersion: toolctl/v1", "name: sample", "version: 1.0", "description: d", "runtime: echo", "actions:", "  a: { description: d, kind: read }"),
    );
    expect(problems).toEqual(["tool.yaml:3:10: version: expected string, received number"]);
  });

  it("names bad apiVersion, name, runtime and empty description", () => {
    const text = lines("apiVersion: toolctl/v2", "name: My Tool", 'description: ""', "runtime: wasm", "actions:", "  a: { description: d, kind: read }");
    const { problems } = problemsOf(text);
    expect(problemAt(problems, "tool.yaml", 1, 13)).toContain("apiVersion:");
    expect(problemAt(problems, "tool.yaml", 2, 7)).toContain("name: a lowercase identifier");
    expect(problemAt(problems, "tool.yaml", 3, 14)).toContain("description:");
    expect(problemAt(problems, "tool.yaml", 4, 10)).toMatch(/runtime: .*http.*process.*docker.*echo/);
  });

  it("explains what an action name may be when one is invalid", () => {
    const { problems } = problemsOf(lines(...ECHO_HEADER, '  "bad-name": { description: d, kind: read }'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("bad-name");
    expect(problems[0]).toMatch(/action name/);
  });

  it("requires at least one action", () => {
    const { problems } = problemsOf(lines(...ECHO_HEADER.slice(0, 4), "actions: {}"));
    expect(problems).toEqual(["tool.yaml:5:10: actions: at least one action is required"]);
  });
});

describe("parseManifest: image references", () => {
  it("an image that is not a reference is one problem, said once", () => {
    for (const image of ["../../etc", "a//b", "Upper", "x:"]) {
      const text = lines(
        "apiVersion: toolctl/v1",
        "name: sample",
        "description: d",
        "runtime: docker",
        `image: "${image}"`,
        "actions:",
        "  a: { description: d, kind: read }",
      );
      const { problems } = problemsOf(text);
      expect(problems, image).toEqual([
        "tool.yaml:5:8: image: an image reference such as toolctl-examples/calculator:1 or registry.example.com:5000/team/tool:2",
      ]);
    }
  });
});

describe("parseManifest: duplicate keys", () => {
  it("reports the same action twice under actions: with the second one's position", () => {
    const text = lines(
      ...ECHO_HEADER,
      "  say: { description: d, kind: read }",
      "  other: { description: d, kind: read }",
      "  say: { description: e, kind: read }",
    );
    const { problems } = problemsOf(text);
    expect(problems).toHaveLength(1);
    expect(problemAt(problems, "tool.yaml", 8, 3)).toMatch(/invalid YAML: .*(unique|duplicate)/i);
  });

  it("reports a duplicate field inside an action", () => {
    const text = lines(...ECHO_HEADER, "  say:", "    description: d", "    kind: read", "    kind: create");
    const { problems } = problemsOf(text);
    expect(problemAt(problems, "tool.yaml", 9, 5)).toMatch(/unique|duplicate/i);
  });
});

describe("parseManifest: JSON Schemas inside actions", () => {
  it("names the path inside the schema of a misspelt type and of a bad pattern", () => {
    const text = lines(
      ...ECHO_HEADER,
      "  x:",
      "    description: d",
      "    kind: read",
      "    inputSchema:",
      "      type: object",
      "      properties:",
      "        a: { type: strnig }",
      '        b: { type: string, pattern: "([a-z" }',
    );
    const { problems } = problemsOf(text);
    expect(problems).toHaveLength(2);
    const type = problemAt(problems, "tool.yaml", 12, 20);
    expect(type).toContain("actions.x.inputSchema.properties.a.type: invalid JSON Schema:");
    expect(type).toContain("string");
    const pattern = problemAt(problems, "tool.yaml", 13, 37);
    expect(pattern).toContain("actions.x.inputSchema.properties.b.pattern: invalid JSON Schema:");
    expect(pattern).toMatch(/regular expression/);
  });

  it("checks outputSchema too, and reports every problem in it", () => {
    const text = lines(
      ...ECHO_HEADER,
      "  x:",
      "    description: d",
      "    kind: read",
      '    outputSchema: { type: object, properties: { n: { type: numbr, minimum: "x" } } }',
    );
    const { problems } = problemsOf(text);
    expect(problems.some((p) => p.includes("actions.x.outputSchema.properties.n.type: invalid JSON Schema"))).toBe(true);
    expect(problems.some((p) => p.includes("actions.x.outputSchema.properties.n.minimum: invalid JSON Schema: must be number"))).toBe(true);
  });

  it("refuses unresolvable references and unsupported dialects, pointing at them", () => {
    const text = lines(
      ...ECHO_HEADER,
      "  a:",
      "    description: d",
      "    kind: read",
      "    inputSchema: { type: object, properties: { r: { $ref: '#/$defs/nope' } } }",
      "  b:",
      "    description: d",
      "    kind: read",
      "    inputSchema: { $schema: 'http://json-schema.org/draft-04/schema#', type: object }",
    );
    const { problems } = problemsOf(text);
    expect(problems.find((p) => p.includes("actions.a.inputSchema.properties.r.$ref:"))).toMatch(/^tool\.yaml:9:\d+: .*#\/\$defs\/nope/);
    expect(problems.find((p) => p.includes("actions.b.inputSchema.$schema:"))).toMatch(/^tool\.yaml:13:\d+: .*draft-04/);
  });
});

describe("parseManifest: runtime rules, templates and rollbacks", () => {
  it("requires baseUrl for an http tool", () => {
    const text = lines(
      "apiVersion: toolctl/v1",
      "name: sample",
      "description: d",
      "runtime: http",
      "actions:",
      "  a: { description: d, kind: read, request: { path: /x } }",
    );
    const { problems } = problemsOf(text);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^tool\.yaml:\d+:\d+: baseUrl: baseUrl is required for runtime http$/);
  });

  it("refuses a base URL with a #fragment (never sent) in baseUrl, sandboxBaseUrl and a request's baseUrl; a query is kept", () => {
    const text = lines(
      "apiVersion: toolctl/v1",
      "name: sample",
      "description: d",
      "runtime: http",
      "baseUrl: https://api.example.com/v1#section",
      "sandboxBaseUrl: https://sandbox.example.com/v1?tenant=t1#x",
      "actions:",
      "  a: { description: d, kind: read, request: { path: /x, baseUrl: 'https://files.example.com#f' } }",
    );
    const { problems } = problemsOf(text);
    const why = "a base URL without a #fragment: a fragment is never sent, so leave it out";
    expect(problemAt(problems, "tool.yaml", 5, 10)).toBe(`tool.yaml:5:10: baseUrl: ${why}`);
    expect(problemAt(problems, "tool.yaml", 6, 17)).toBe(`tool.yaml:6:17: sandboxBaseUrl: ${why}`);
    expect(problems.find((p) => p.includes("actions.a.request.baseUrl:"))).toMatch(new RegExp(`^tool\\.yaml:8:\\d+: actions\\.a\\.request\\.baseUrl: ${why}$`));
    expect(problems).toHaveLength(3);
    const withQuery = text.replace("/v1#section", "/v1?api-version=2024-01-01").replace("#x", "").replace("#f", "");
    expect(parseManifest(withQuery, "tool.yaml").manifest.baseUrl).toBe("https://api.example.com/v1?api-version=2024-01-01");
  });

  it("refuses permissions on a process tool that names no image: they apply only in its Docker sandbox", () => {
    const text = lines(
      "apiVersion: toolctl/v1",
      "name: sample",
      "description: d",
      "runtime: process",
      "permissions: { network: true }",
      "actions:",
      "  a: { description: d, kind: read, command: [echo] }",
    );
    const { problems } = problemsOf(text);
    expect(problems).toEqual([
      "tool.yaml:5:14: permissions: only used by --sandbox docker, which needs an image; without one the tool runs confined as process: says (network, readable, writable)",
    ]);
    // With an image, permissions are the sandbox's; process: stays the confinement's.
    expect(() => parseManifest(`${text}\nimage: toolctl-test/busybox:1\n`, "tool.yaml")).not.toThrow();
  });

  it("never hands toolctl's own settings and keys (TOOLCTL_*) to a tool: not as process env, a secret reference or an auth secret", () => {
    const own = "is one of toolctl's own settings and keys (TOOLCTL_*), which are never given to a tool";
    const processTool = problemsOf(
      lines(
        "apiVersion: toolctl/v1",
        "name: sample",
        "description: d",
        "runtime: process",
        "process: { env: [PATH, TOOLCTL_MASTER_KEY] }",
        "actions:",
        '  a: { description: d, kind: read, command: [echo, "{{ secrets.TOOLCTL_AUDIT_KEY }}"] }',
      ),
    ).problems;
    expect(processTool).toEqual([`tool.yaml:5:24: process.env.1: TOOLCTL_MASTER_KEY ${own}`, `tool.yaml:7:45: actions.a.command: TOOLCTL_AUDIT_KEY ${own}`]);
    const httpTool = problemsOf(
      lines(
        "apiVersion: toolctl/v1",
        "name: sample",
        "description: d",
        "runtime: http",
        "baseUrl: https://api.example.com",
        "auth: { type: bearer, secret: TOOLCTL_MCP_TOKEN }",
        "actions:",
        "  a: { description: d, kind: read, request: { path: /x } }",
      ),
    ).problems;
    expect(httpTool).toEqual([`tool.yaml:6:31: auth.secret: TOOLCTL_MCP_TOKEN ${own}`]);
  });

  it("requires a request for each action of an http tool", () => {
    const text = lines(
      "apiVersion: toolctl/v1",
      "name: sample",
      "description: d",
      "runtime: http",
      "baseUrl: https://api.example.com",
      "actions:",
      "  a:",
      "    description: d",
      "    kind: read",
    );
    const { problems } = problemsOf(text);
    expect(problems).toEqual(["tool.yaml:8:5: actions.a.request: required for runtime http"]);
  });

  it("requires a command for each action of a process tool", () => {
    const text = lines(
      "apiVersion: toolctl/v1",
      "name: sample",
      "description: d",
      "runtime: process",
      "actions:",
      "  a:",
      "    description: d",
      "    kind: read",
    );
    const { problems } = problemsOf(text);
    expect(problems).toEqual(["tool.yaml:7:5: actions.a.command: required for runtime process"]);
  });

  it("refuses fields of another runtime", () => {
    const text = lines(...ECHO_HEADER.slice(0, 4), "baseUrl: https://x.example.com", "actions:", "  a: { description: d, kind: read, command: [ls] }");
    const { problems } = problemsOf(text);
    expect(problemAt(problems, "tool.yaml", 5, 10)).toBe("tool.yaml:5:10: baseUrl: only valid for runtime http or vercel, not echo");
    expect(problems.some((p) => p.includes("actions.a.command: only valid for runtime process or docker, not echo"))).toBe(true);
  });

  it("refuses a template that refers to an unknown root", () => {
    const text = lines(
      "apiVersion: toolctl/v1",
      "name: sample",
      "description: d",
      "runtime: process",
      "actions:",
      "  a:",
      "    description: d",
      "    kind: read",
      '    command: [echo, "{{ foo.bar }}"]',
    );
    const { problems } = problemsOf(text);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^tool\.yaml:9:\d+: actions\.a\.command: template '\{\{ foo\.bar \}\}' may only refer to input, secrets, tool$/);
  });

  it("refuses secrets in a rollback and a template that is not a plain path", () => {
    const text = lines(
      "apiVersion: toolctl/v1",
      "name: sample",
      "description: d",
      "runtime: http",
      "baseUrl: https://api.example.com",
      "actions:",
      "  a:",
      "    description: d",
      "    kind: create",
      "    request: { path: '/x/{{ input.a + 1 }}' }",
      "    rollback: { action: b, input: { id: '{{ secrets.KEY }}' } }",
      "  b: { description: d, kind: delete, request: { method: DELETE, path: /x } }",
    );
    const { problems } = problemsOf(text);
    expect(problems.find((p) => p.includes("actions.a.request:"))).toMatch(/^tool\.yaml:10:\d+: .*is not a valid reference/);
    expect(problems.find((p) => p.includes("actions.a.rollback:"))).toMatch(/^tool\.yaml:11:\d+: .*may only refer to input, output/);
  });

  it("refuses a rollback naming a missing action, pointing at the name", () => {
    const text = lines(...ECHO_HEADER, "  a:", "    description: d", "    kind: create", "    rollback: { action: undo }");
    const { problems } = problemsOf(text);
    expect(problems).toEqual(["tool.yaml:9:25: actions.a.rollback.action: no action 'undo' in this tool"]);
  });
});

describe("parseManifest: several problems in one file are all reported at once", () => {
  it("reports three or more problems, each with its own line and column", () => {
    const text = lines(
      "apiVersion: toolctl/v1",
      "name: sample",
      "descripton: d",
      "description: d",
      "runtime: echo",
      "actions:",
      "  a:",
      "    description: d",
      "    kind: charge",
      "    timeoutSeconds: -1",
      "  b:",
      "    description: 5",
      "    kind: read",
    );
    const { problems, error } = problemsOf(text);
    expect(problems.length).toBeGreaterThanOrEqual(4);
    const positions = new Set(problems.map((p) => JSON.stringify(positionOf(p, "tool.yaml"))));
    expect(positions.size).toBe(problems.length);
    problemAt(problems, "tool.yaml", 3, 1);
    problemAt(problems, "tool.yaml", 9, 11);
    problemAt(problems, "tool.yaml", 10, 21);
    problemAt(problems, "tool.yaml", 12, 18);
    expect(error.message).toBe(`tool.yaml: ${problems.length} problems in manifest`);
  });

  it("reports schema, template and field problems together, not only the first kind found", () => {
    const text = lines(
      "apiVersion: toolctl/v1",
      "name: sample",
      "descripton: d",
      "description: d",
      "runtime: process",
      "actions:",
      "  a:",
      "    description: d",
      "    kind: read",
      "    inputSchema: { type: object, properties: { n: { type: strnig } } }",
      '    command: [echo, "{{ foo.bar }}"]',
    );
    const { problems } = problemsOf(text);
    const all = problems.join("\n");
    expect(all).toContain("descripton");
    expect(all).toContain("actions.a.inputSchema.properties.n.type");
    expect(all).toContain("{{ foo.bar }}");
  });
});

// ---------------------------------------------------------------------------------------------------------
// toolctl import: end to end, in-process through the API; the CLI's own output is checked by the last tests

async function toolNames(toolctl: Toolctl): Promise<string[]> {
  return (await toolctl.listTools()).map((t) => t.name);
}

/** The audit log as `toolctl audit --json --limit 1000` gives it: one JSON text per event, oldest first. */
async function auditLines(toolctl: Toolctl): Promise<string[]> {
  return (await toolctl.audit({ limit: 1000 })).map((event) => JSON.stringify(event));
}

const bombManifest = () =>
  lines(
    "apiVersion: toolctl/v1",
    "name: bomb",
    "description: d",
    "runtime: echo",
    "x0: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]",
    "x1: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]",
    "x2: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]",
    "x3: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]",
    "actions:",
    "  a: { description: d, kind: read }",
  );

describe("toolctl import: bad manifests", () => {
  it("imports the good manifests of a directory and reports the bad one with every problem", async () => {
    const dir = writeFiles({
      "a-good.yaml": GOOD_TOOL("alpha"),
      "b-bad.yaml": lines("apiVersion: toolctl/v1", "name: broken", "descripton: d", "runtime: echo", "actions:", "  a: { description: d, kind: read }"),
      "c-good.json": JSON.stringify(parseManifest(GOOD_TOOL("gamma"), "x.yaml").manifest, null, 2),
      "notes.txt": "not a manifest",
    });
    const toolctl = await openApi();
    const report = await toolctl.importManifests([dir]);
    expect(report.imported.map((item) => [item.change, item.tool])).toEqual([
      ["added", "alpha"],
      ["added", "gamma"],
    ]);
    const bad = path.join(dir, "b-bad.yaml");
    expect(report.failed).toHaveLength(1);
    expect(report.failed[0]).toMatchObject({ file: bad, code: "manifest_invalid", message: `${bad}: 2 problems in manifest` });
    expect(report.failed[0]!.problems).toContain(`${bad}:3:1: descripton: unknown field 'descripton' (did you mean 'description'?)`);
    expect(await toolNames(toolctl)).toEqual(["alpha", "gamma"]);
    expect(registryRows(toolctl.home, "SELECT * FROM actions WHERE tool = 'broken'")).toEqual([]);
    expect(registryRows(toolctl.home, "SELECT * FROM audit_events WHERE tool = 'broken'")).toEqual([]);
  });

  it("reports a failure with its file, code and the problem at its line", async () => {
    const dir = writeFiles({ "good.yaml": GOOD_TOOL("alpha"), "bad.yaml": lines(...ECHO_HEADER, "  a: { description: d, kind: charge }") });
    const report = await (await openApi()).importManifests([dir]);
    expect(report.failed).toHaveLength(1);
    expect(report.failed[0]).toMatchObject({ file: path.join(dir, "bad.yaml"), code: "manifest_invalid" });
    expect(report.failed[0]!.problems[0]).toMatch(new RegExp(`^${path.join(dir, "bad.yaml").replace(/[.]/g, "\\.")}:6:\\d+: actions\\.a\\.kind: `));
  });

  it("reports each broken syntax with file, line and column, and imports nothing from it", async () => {
    const dir = writeFiles({
      "indent.yaml": lines(...ECHO_HEADER, "  a:", "    description: d", "   kind: read"),
      "comma.json": '{\n  "apiVersion": "toolctl/v1",\n  "name": "x",\n}\n',
      "dup.yaml": lines(...ECHO_HEADER, "  a: { description: d, kind: read }", "  a: { description: e, kind: read }"),
    });
    const expected = [/indent\.yaml:8:1: invalid YAML: /, /comma\.json:(3:14|4:1): invalid JSON: /, /dup\.yaml:7:3: invalid YAML: /];
    for (const [i, name] of ["indent.yaml", "comma.json", "dup.yaml"].entries()) {
      const toolctl = await openApi();
      const report = await toolctl.importManifests([path.join(dir, name)]);
      expect(report.imported).toEqual([]);
      expect(report.failed).toHaveLength(1);
      const failure = report.failed[0]!;
      // One line: the error names file:line:col and says what is wrong; it is the one problem.
      expect(failure.message).not.toMatch(/[\r\n]/);
      expect(failure.message).toMatch(expected[i]!);
      expect(failure.problems).toEqual([failure.message]);
      expect(await toolNames(toolctl)).toEqual([]);
    }
  });

  it("refuses a second file declaring a tool name already declared in the same import", async () => {
    const dir = writeFiles({ "a.yaml": GOOD_TOOL("alpha"), "b.yaml": GOOD_TOOL("alpha", "Another say") });
    const toolctl = await openApi();
    const report = await toolctl.importManifests([dir]);
    expect(report.imported.map((item) => item.tool)).toEqual(["alpha"]);
    expect(report.failed).toHaveLength(1);
    expect(report.failed[0]!.problems).toEqual([`${path.join(dir, "b.yaml")}: name: 'alpha' is also declared in ${path.join(dir, "a.yaml")}`]);
    const rows = registryRows(toolctl.home, "SELECT description FROM actions WHERE tool = 'alpha' AND name = 'say'") as Array<{ description: string }>;
    expect(rows).toEqual([{ description: "Return the message" }]);
  });

  it("imports nothing when one of the paths does not exist", async () => {
    const dir = writeFiles({ "good.yaml": GOOD_TOOL("alpha") });
    const toolctl = await openApi();
    const missing = path.join(dir, "missing.yaml");
    const error = await rejection(toolctl.importManifests([path.join(dir, "good.yaml"), missing]));
    expect({ code: error.code, exitCode: error.exitCode, message: error.message }).toEqual({
      code: "usage",
      exitCode: 2,
      message: `${missing}: no such file or directory`,
    });
    expect(await toolNames(toolctl)).toEqual([]);
    expect(await auditLines(toolctl)).toEqual([]);
  });

  it("a directory's symbolic links to manifests are followed; a link that leads nowhere fails as a missing file", async () => {
    const elsewhere = writeFiles({ "beta.yaml": GOOD_TOOL("beta"), "folder/readme.md": "# not a manifest" });
    const dir = writeFiles({ "alpha.yaml": GOOD_TOOL("alpha") });
    symlinkSync(path.join(elsewhere, "beta.yaml"), path.join(dir, "beta.yaml"));
    symlinkSync(path.join(elsewhere, "folder"), path.join(dir, "folder.yaml"));
    const toolctl = await openApi();
    const report = await toolctl.importManifests([dir]);
    expect(report.failed).toEqual([]);
    expect(report.imported.map((item) => [item.tool, item.file])).toEqual([
      ["alpha", path.join(dir, "alpha.yaml")],
      ["beta", path.join(dir, "beta.yaml")],
    ]);

    symlinkSync(path.join(elsewhere, "gone.yaml"), path.join(dir, "gamma.yaml"));
    const broken = await toolctl.importManifests([dir]);
    expect(broken.failed.map((failure) => failure.file)).toEqual([path.join(dir, "gamma.yaml")]);
    expect(broken.failed[0]!.message).toMatch(/gamma\.yaml/);
    // A link to a manifest beside it is the same manifest: imported once, as the file it names.
    const aliased = writeFiles({ "echo.yaml": GOOD_TOOL("delta") });
    symlinkSync("echo.yaml", path.join(aliased, "current.yaml"));
    const once = await toolctl.importManifests([aliased]);
    expect([once.failed, once.imported.map((item) => [item.tool, item.file])]).toEqual([[], [["delta", path.join(aliased, "echo.yaml")]]]);
    const named = await toolctl.importManifests([path.join(aliased, "current.yaml"), path.join(aliased, "echo.yaml")]);
    expect([named.failed, named.imported.map((item) => item.file)]).toEqual([[], [path.join(aliased, "echo.yaml")]]);
    // Only links: still a directory of manifests.
    const links = tempDir();
    symlinkSync(path.join(elsewhere, "beta.yaml"), path.join(links, "beta.yaml"));
    expect((await toolctl.importManifests([links])).imported.map((item) => item.change)).toEqual(["unchanged"]);
  });

  it("refuses an empty directory", async () => {
    const dir = writeFiles({ "readme.md": "# nothing" });
    const error = await rejection((await openApi()).importManifests([dir]));
    expect(error).toMatchObject({ code: "usage", exitCode: 2 });
    expect(error.message).toContain("no manifests");
  });

  it("keeps the registered version when a new version of the manifest is bad", async () => {
    const dir = writeFiles({ "tool.yaml": GOOD_TOOL("alpha") });
    const toolctl = await openApi();
    expect((await toolctl.importManifests([dir])).failed).toEqual([]);
    const before = registryRows(toolctl.home, "SELECT * FROM tools");
    const actionsBefore = registryRows(toolctl.home, "SELECT * FROM actions ORDER BY name");
    const auditBefore = await auditLines(toolctl);
    writeFileSync(path.join(dir, "tool.yaml"), GOOD_TOOL("alpha", "Changed").replace("kind: read", "kind: charge"));
    const report = await toolctl.importManifests([dir]);
    expect(report.imported).toEqual([]);
    expect(report.failed).toHaveLength(1);
    expect([report.failed[0]!.message, ...report.failed[0]!.problems].join("\n")).toContain("actions.say.kind");
    expect(registryRows(toolctl.home, "SELECT * FROM tools")).toEqual(before);
    expect(registryRows(toolctl.home, "SELECT * FROM actions ORDER BY name")).toEqual(actionsBefore);
    expect(await auditLines(toolctl)).toEqual(auditBefore);
  });

  it("an alias bomb in a directory is reported as a bad manifest and the other files are imported", async () => {
    const dir = writeFiles({ "a-bomb.yaml": bombManifest(), "b-good.yaml": GOOD_TOOL("alpha") });
    const toolctl = await openApi();
    const report = await toolctl.importManifests([dir]);
    expect(report.failed).toHaveLength(1);
    const failure = report.failed[0]!;
    expect(failure.file).toBe(path.join(dir, "a-bomb.yaml"));
    expect(failure.message).toContain(path.join(dir, "a-bomb.yaml"));
    for (const text of [failure.message, ...failure.problems]) expect(text).not.toMatch(/\n\s+at /); // no stack trace
    expect(await toolNames(toolctl)).toEqual(["alpha"]);
  });

  it("refuses to open a corrupt registry (exit 6) and leaves the file untouched", async () => {
    const home = tempDir();
    const garbage = Buffer.from("this is not a database, just some garbage bytes ".repeat(40));
    writeFileSync(path.join(home, "registry.db"), garbage);
    const error = await rejection(openApi({ home }).then((toolctl) => toolctl.importManifests([examplesDir])));
    expect(error).toMatchObject({ code: "registry_unavailable", exitCode: 6 });
    expect(error.message).toMatch(/^registry .*registry\.db is corrupt/);
    expect(readFileSync(path.join(home, "registry.db")).equals(garbage)).toBe(true);
  });
});

describe("toolctl import: re-importing", () => {
  it("reports unchanged content as unchanged and writes nothing to the audit log", async () => {
    const toolctl = await openApi({ home: await homeWithExamples() });
    const before = await auditLines(toolctl);
    expect(before).toHaveLength(5);
    const all = await toolctl.importManifests([examplesDir]);
    expect(all.failed).toEqual([]);
    expect(all.imported.map((item) => `${item.change} ${item.tool}`)).toEqual([
      "unchanged calculator-docker",
      "unchanged calculator",
      "unchanged echo",
      "unchanged piggybank",
      "unchanged weather",
    ]);
    const one = await toolctl.importManifests([path.join(examplesDir, "echo.yaml")]);
    expect(one.imported).toEqual([expect.objectContaining({ tool: "echo", change: "unchanged", actions: { added: [], changed: [], removed: [] } })]);
    expect(await auditLines(toolctl)).toEqual(before);
  });

  it("treats comments and formatting as no change", async () => {
    const dir = writeFiles({ "tool.yaml": GOOD_TOOL("alpha") });
    const toolctl = await openApi();
    expect((await toolctl.importManifests([dir])).failed).toEqual([]);
    const before = await auditLines(toolctl);
    writeFileSync(path.join(dir, "tool.yaml"), `# reformatted\n${GOOD_TOOL("alpha").replace("{ type: string }", "\n          type: string")}`);
    const report = await toolctl.importManifests([dir]);
    expect(report.imported[0]!.change).toBe("unchanged");
    expect(await auditLines(toolctl)).toEqual(before);
  });

  it("reports a changed manifest as updated, naming the changed, added and removed actions", async () => {
    const dir = writeFiles({ "tool.yaml": GOOD_TOOL("alpha") });
    const toolctl = await openApi();
    expect((await toolctl.importManifests([dir])).failed).toEqual([]);
    const before = await auditLines(toolctl);
    writeFileSync(path.join(dir, "tool.yaml"), CHANGED_TOOL);
    const report = await toolctl.importManifests([dir]);
    expect(report.failed).toEqual([]);
    expect(report.imported).toEqual([
      expect.objectContaining({ tool: "alpha", change: "updated", status: "active", actions: { added: ["whisper"], changed: ["say"], removed: ["shout"] } }),
    ]);
    const after = await auditLines(toolctl);
    expect(after).toHaveLength(before.length + 1);
    const event = JSON.parse(after.at(-1)!);
    expect(event).toMatchObject({ type: "tool.updated", tool: "alpha", data: { actions: { added: ["whisper"], changed: ["say"], removed: ["shout"] } } });
    // And once more: now it is unchanged.
    const again = await toolctl.importManifests([dir]);
    expect(again.imported[0]!.change).toBe("unchanged");
    expect(await auditLines(toolctl)).toHaveLength(after.length);
  });

  it("keeps a disabled tool disabled when its manifest is updated", async () => {
    const dir = writeFiles({ "tool.yaml": GOOD_TOOL("alpha") });
    const toolctl = await openApi();
    expect((await toolctl.importManifests([dir])).failed).toEqual([]);
    expect((await runCli(["tool", "disable", "alpha"], { home: toolctl.home })).code).toBe(0);
    writeFileSync(path.join(dir, "tool.yaml"), GOOD_TOOL("alpha", "Changed"));
    const report = await toolctl.importManifests([dir]);
    expect(report.imported[0]).toMatchObject({ change: "updated", status: "disabled", actions: { changed: ["say"] } });
  });
});

describe("toolctl import: the CLI", () => {
  it("prints what it imported on stdout and every problem of a bad manifest on stderr, and exits 2", async () => {
    const dir = writeFiles({
      "a-good.yaml": GOOD_TOOL("alpha"),
      "b-bad.yaml": lines("apiVersion: toolctl/v1", "name: broken", "descripton: d", "runtime: echo", "actions:", "  a: { description: d, kind: read }"),
    });
    const result = await runCli(["import", dir], { home: tempDir() });
    expect(result.code).toBe(2);
    expect(result.stdout).toMatch(/added {2}alpha/);
    const bad = path.join(dir, "b-bad.yaml");
    expect(result.stderr).toContain(`error: ${bad}: 2 problems in manifest`);
    expect(result.stderr).toContain(`${bad}:3:1: descripton: unknown field 'descripton' (did you mean 'description'?)`);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("--json: a failed import is an error document {error:{code,exitCode}} next to the report, nothing on stderr", async () => {
    const dir = writeFiles({ "good.yaml": GOOD_TOOL("alpha"), "bad.yaml": lines(...ECHO_HEADER, "  a: { description: d, kind: charge }") });
    const [single, mixed] = await Promise.all([
      runJson(["import", path.join(dir, "bad.yaml")], { home: tempDir() }),
      runJson(["import", dir], { home: tempDir() }),
    ]);
    for (const result of [single, mixed]) {
      expect(result.code).toBe(2);
      expectNoAnsi(result);
      expect(result.stderr).toBe("");
      expect((result.json as any).error, result.stdout).toMatchObject({ code: "manifest_invalid", exitCode: 2 });
      expect((result.json as any).failed).toEqual([expect.objectContaining({ file: path.join(dir, "bad.yaml"), code: "manifest_invalid" })]);
    }
  });

  it("prints an update with its added, changed and removed actions, then unchanged", async () => {
    const dir = writeFiles({ "tool.yaml": GOOD_TOOL("alpha") });
    const home = tempDir();
    expect((await runCli(["import", dir], { home })).code).toBe(0);
    writeFileSync(path.join(dir, "tool.yaml"), CHANGED_TOOL);
    const updated = await runCli(["import", dir], { home });
    expect(updated.code).toBe(0);
    expect(updated.stdout).toMatch(/^updated {2}alpha {2}\[active\] {2}\+1 action, ~1 changed \(say\), -1 removed \(shout\)/);
    const unchanged = await runCli(["import", dir], { home });
    expect(unchanged.code).toBe(0);
    expect(unchanged.stdout).toMatch(/^unchanged {2}alpha {2}\[active\]/);
  });

  it("exits 6 on a corrupt registry, as a one-line error and as a JSON error document", async () => {
    const home = tempDir();
    writeFileSync(path.join(home, "registry.db"), Buffer.from("this is not a database, just some garbage bytes ".repeat(40)));
    const [human, json] = await Promise.all([runCli(["import", examplesDir], { home }), runJson(["import", examplesDir], { home })]);
    expect(human.code).toBe(6);
    expect(human.stderr).toMatch(/^error: registry .*registry\.db is corrupt/);
    expect(json.code).toBe(6);
    expect(json.json.error).toMatchObject({ code: "registry_unavailable", exitCode: 6 });
  });
});

describe("network settings", () => {
  it("refuses an invalid allowPrivateNetworks entry at import, with its line", () => {
    const text = [
      "apiVersion: toolctl/v1",
      "name: net",
      "description: d",
      "runtime: http",
      "baseUrl: https://api.example.com",
      "http:",
      "  allowPrivateNetworks: [127.0.0.0/8, 127.0.0.0/88, not-an-ip]",
      "actions:",
      "  a: { description: d, kind: read, request: { path: / } }",
      "",
    ].join("\n");
    expect(() => parseManifest(text, "net.yaml")).toThrow(/2 problems/);
    try {
      parseManifest(text, "net.yaml");
    } catch (error) {
      const problems = (error as { details: { problems: string[] } }).details.problems;
      expect(problems).toEqual([
        "net.yaml:7:39: http.allowPrivateNetworks.1: '127.0.0.0/88' is not a CIDR range (such as 127.0.0.0/8) or an IP address",
        "net.yaml:7:53: http.allowPrivateNetworks.2: 'not-an-ip' is not a CIDR range (such as 127.0.0.0/8) or an IP address",
      ]);
    }
  });
});
