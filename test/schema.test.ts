import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { checkSchema, compileValidatorCode, detectDialect, InvalidSchemaError, type SchemaDialect } from "../src/schema/compile.js";
import { formatIssue, loadValidator, VALIDATOR_CACHE_SIZE, type ValidationIssue } from "../src/schema/validator.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function validatorFor(schema: unknown, dialect?: SchemaDialect) {
  return loadValidator(compileValidatorCode(schema, dialect));
}

const payment = {
  type: "object",
  required: ["amount", "currency"],
  additionalProperties: false,
  properties: {
    amount: { type: "number", minimum: 0 },
    currency: { type: "string", enum: ["EUR", "USD", "GBP"] },
    note: { type: ["string", "null"], maxLength: 5 },
    items: {
      type: "array",
      items: {
        type: "object",
        required: ["sku"],
        properties: { sku: { type: "string" }, qty: { type: "integer" } },
      },
    },
    email: { type: "string", format: "email" },
  },
};

describe("validation issues", () => {
  const cases: { name: string; schema?: unknown; data: unknown; issues: ValidationIssue[] }[] = [
    { name: "valid data", data: { amount: 5, currency: "EUR" }, issues: [] },
    { name: "root type", data: [], issues: [{ path: "", message: "must be object" }] },
    {
      name: "required points at the missing property",
      data: { currency: "EUR" },
      issues: [{ path: "/amount", message: "is required" }],
    },
    {
      name: "every missing property (allErrors)",
      data: {},
      issues: [
        { path: "/amount", message: "is required" },
        { path: "/currency", message: "is required" },
      ],
    },
    {
      name: "additionalProperties points at the extra property",
      data: { amount: 1, currency: "EUR", foo: 1, "a/b": 2 },
      issues: [
        { path: "/foo", message: "is not allowed" },
        { path: "/a~1b", message: "is not allowed" },
      ],
    },
    { name: "type", data: { amount: "5", currency: "EUR" }, issues: [{ path: "/amount", message: "must be number" }] },
    {
      name: "union type",
      data: { amount: 1, currency: "EUR", note: 3 },
      issues: [{ path: "/note", message: "must be string or null" }],
    },
    {
      name: "enum lists the allowed values",
      data: { amount: 1, currency: "JPY" },
      issues: [{ path: "/currency", message: "must be one of: EUR, USD, GBP" }],
    },
    {
      name: "minimum and maxLength keep ajv's words",
      data: { amount: -1, currency: "EUR", note: "too long" },
      issues: [
        { path: "/amount", message: "must be >= 0" },
        { path: "/note", message: "must NOT have more than 5 characters" },
      ],
    },
    {
      name: "nested arrays",
      data: { amount: 1, currency: "EUR", items: [{ sku: "a" }, { sku: "b", qty: 1.5 }, { sku: 3 }, {}] },
      issues: [
        { path: "/items/1/qty", message: "must be integer" },
        { path: "/items/2/sku", message: "must be string" },
        { path: "/items/3/sku", message: "is required" },
      ],
    },
    {
      name: "format",
      data: { amount: 1, currency: "EUR", email: "not-an-email" },
      issues: [{ path: "/email", message: 'must match format "email"' }],
    },
    {
      name: "identical issues are reported once",
      schema: { allOf: [{ required: ["a"] }, { required: ["a"] }] },
      data: {},
      issues: [{ path: "/a", message: "is required" }],
    },
    {
      name: "const",
      schema: { properties: { kind: { const: "refund" } } },
      data: { kind: "charge" },
      issues: [{ path: "/kind", message: "must be equal to constant: refund" }],
    },
    {
      name: "dependentRequired points at the missing property",
      schema: { dependentRequired: { card: ["cvc"] } },
      data: { card: "4242" },
      issues: [{ path: "/cvc", message: "is required when property 'card' is present" }],
    },
    {
      name: "false schema",
      schema: { properties: { legacy: false } },
      data: { legacy: 1 },
      issues: [{ path: "/legacy", message: "is not allowed" }],
    },
    {
      name: "propertyNames names the key",
      schema: { propertyNames: { pattern: "^[a-z]+$" } },
      data: { ok: 1, "Not-OK": 2 },
      issues: [{ path: "", message: `property name 'Not-OK' must match pattern "^[a-z]+$"` }],
    },
    {
      name: "unevaluatedProperties points at the extra property",
      schema: { allOf: [{ properties: { a: true } }], unevaluatedProperties: false },
      data: { a: 1, b: 2 },
      issues: [{ path: "/b", message: "is not allowed" }],
    },
    {
      name: "JavaScript member names are not mistaken for properties",
      schema: { required: ["toString"], properties: { constructor: { type: "number" } } },
      data: {},
      issues: [{ path: "/toString", message: "is required" }],
    },
  ];

  it.each(cases)("$name", ({ schema, data, issues }) => {
    expect(validatorFor(schema ?? payment)(data)).toEqual(issues);
  });

  it("reuses one loaded validator across calls", () => {
    const validate = validatorFor(payment);
    expect(validate({})).toHaveLength(2);
    expect(validate({ amount: 1, currency: "USD" })).toEqual([]);
    expect(validate({ currency: "USD" })).toEqual([{ path: "/amount", message: "is required" }]);
  });

  it("evaluates the same validator code once per process, keeps the most recently used, and a changed schema is its own", () => {
    const code = compileValidatorCode(payment);
    const first = loadValidator(code);
    expect(loadValidator(code)).toBe(first);
    const stricter = loadValidator(compileValidatorCode({ ...payment, required: ["amount", "currency", "note"] }));
    expect(stricter).not.toBe(first);
    expect(stricter({ amount: 1, currency: "USD" })).toEqual([{ path: "/note", message: "is required" }]);
    expect(first({ amount: 1, currency: "USD" })).toEqual([]);
    // Full: `code` is the oldest; using it makes `stricter` the oldest, which the next new validator evicts.
    const others = Array.from({ length: VALIDATOR_CACHE_SIZE - 1 }, (_, i) =>
      compileValidatorCode({ type: "object", properties: { [`p${i}`]: { type: "string" } } }),
    );
    others.slice(0, -1).forEach((other) => loadValidator(other));
    expect(loadValidator(code)).toBe(first);
    loadValidator(others.at(-1)!);
    expect(loadValidator(code)).toBe(first);
    expect(loadValidator(compileValidatorCode({ ...payment, required: ["amount", "currency", "note"] }))).not.toBe(stricter);
  });

  it("fails closed when validation itself throws (stack overflow on deep data)", () => {
    const validate = validatorFor({ $defs: { node: { type: "array", items: { $ref: "#/$defs/node" } } }, $ref: "#/$defs/node" });
    let deep: unknown[] = [];
    for (let i = 0; i < 200_000; i++) deep = [deep];
    const issues = validate(deep);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.message).toMatch(/^could not be validated: /);
  });
});

describe("user and OpenAPI keywords", () => {
  it("ignores unknown keywords: example, x-*, discriminator", () => {
    const schema = {
      type: "object",
      example: { kind: "a" },
      "x-internal": true,
      discriminator: { propertyName: "kind" },
      properties: { kind: { type: "string", examples: ["a"], "x-foo": 1 } },
    };
    expect(checkSchema(schema)).toEqual([]);
    expect(validatorFor(schema)({ kind: "a" })).toEqual([]);
  });

  it("nullable: true beside type allows null, as in OpenAPI 3.0", () => {
    const validate = validatorFor({ type: "string", nullable: true });
    expect(validate(null)).toEqual([]);
    // ajv words the error after `type` alone.
    expect(validate(1)).toEqual([{ path: "", message: "must be string" }]);
  });

  it.each([
    { name: "nullable without type", schema: { nullable: true } },
    { name: "nullable: false with a null type", schema: { type: ["string", "null"], nullable: false } },
    { name: "non-boolean nullable", schema: { type: "string", nullable: "yes" } },
  ])("$name compiles (ajv would throw)", ({ schema }) => {
    expect(checkSchema(schema)).toEqual([]);
    expect(() => compileValidatorCode(schema)).not.toThrow();
  });

  it("draft-07 ignores keywords beside $ref", () => {
    const schema = {
      $schema: "http://json-schema.org/draft-07/schema#",
      definitions: { list: { type: "array" } },
      properties: { tags: { $ref: "#/definitions/list", maxItems: 1 } },
    };
    expect(validatorFor(schema)({ tags: [1, 2, 3] })).toEqual([]);
    // 2019-09 and later apply them.
    const modern = { $defs: { list: { type: "array" } }, properties: { tags: { $ref: "#/$defs/list", maxItems: 1 } } };
    expect(validatorFor(modern)({ tags: [1, 2, 3] })).toEqual([{ path: "/tags", message: "must NOT have more than 1 items" }]);
  });

  it("an empty enum accepts nothing", () => {
    expect(validatorFor({ enum: [] })("a")).toEqual([{ path: "", message: "is not allowed" }]);
  });

  it("compiles two schemas with the same $id (nothing stays registered)", () => {
    const a = { $id: "https://example.com/payment", type: "object", required: ["a"] };
    const b = { $id: "https://example.com/payment", type: "object", required: ["b"] };
    expect(validatorFor(a)({})).toEqual([{ path: "/a", message: "is required" }]);
    expect(validatorFor(b)({})).toEqual([{ path: "/b", message: "is required" }]);
    expect(validatorFor(a)({ a: 1 })).toEqual([]);
  });

  it("resolves $ref to the root, to $defs and to $anchor", () => {
    const validate = validatorFor({
      $id: "https://example.com/tree",
      type: "object",
      properties: { children: { type: "array", items: { $ref: "#" } }, label: { $ref: "#label" }, size: { $ref: "#/$defs/size" } },
      $defs: { label: { $anchor: "label", type: "string" }, size: { type: "integer" } },
    });
    expect(validate({ label: "a", children: [{ label: "b", size: 1 }] })).toEqual([]);
    expect(validate({ children: [{ label: 1, size: "x" }] })).toEqual([
      { path: "/children/0/label", message: "must be string" },
      { path: "/children/0/size", message: "must be integer" },
    ]);
  });
});

describe("formatIssue", () => {
  it.each([
    { path: "/amount", root: "input", expected: "input.amount: must be number" },
    { path: "/items/2/sku", root: "input", expected: "input.items[2].sku: must be number" },
    { path: "", root: "input", expected: "input: must be number" },
    { path: "/content-type", root: "input", expected: 'input["content-type"]: must be number' },
    { path: "/a~1b/c~0d", root: "output", expected: 'output["a/b"]["c~d"]: must be number' },
    { path: "/$ref/_x", root: "input", expected: "input.$ref._x: must be number" },
    { path: "/amount", root: undefined, expected: "amount: must be number" },
    { path: "/0/id", root: undefined, expected: "[0].id: must be number" },
    { path: "", root: undefined, expected: "must be number" },
  ])("$path with root $root", ({ path: p, root, expected }) => {
    expect(formatIssue({ path: p, message: "must be number" }, root)).toBe(expected);
  });
});

describe("detectDialect", () => {
  it.each([
    { schema: {}, expected: "2020-12" },
    { schema: true, expected: "2020-12" },
    { schema: { $schema: "http://json-schema.org/draft-07/schema#" }, expected: "draft-07" },
    { schema: { $schema: "http://json-schema.org/draft-07/schema" }, expected: "draft-07" },
    { schema: { $schema: "https://json-schema.org/draft-07/schema#" }, expected: "draft-07" },
    { schema: { $schema: "https://json-schema.org/draft/2019-09/schema" }, expected: "2019-09" },
    { schema: { $schema: "https://json-schema.org/draft/2020-12/schema" }, expected: "2020-12" },
    { schema: { $schema: "https://json-schema.org/draft/2020-12/schema#" }, expected: "2020-12" },
  ])("$schema.$schema -> $expected", ({ schema, expected }) => {
    expect(detectDialect(schema)).toBe(expected);
  });

  it("uses the fallback only when $schema is absent", () => {
    expect(detectDialect({ type: "string" }, "draft-07")).toBe("draft-07");
    expect(detectDialect({ $schema: "https://json-schema.org/draft/2020-12/schema" }, "draft-07")).toBe("2020-12");
  });

  it.each([{ $schema: "http://json-schema.org/draft-04/schema#" }, { $schema: "https://example.com/my-meta" }, { $schema: 7 }])(
    "throws InvalidSchemaError for $$schema",
    (schema) => {
      let error: unknown;
      try {
        detectDialect(schema);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InvalidSchemaError);
      expect((error as InvalidSchemaError).problems).toEqual([{ path: "/$schema", message: expect.any(String) }]);
    },
  );

  it("supports 2019-09: $recursiveRef, dependentRequired, unevaluatedProperties", () => {
    const validate = validatorFor({
      $schema: "https://json-schema.org/draft/2019-09/schema",
      $recursiveAnchor: true,
      type: "object",
      properties: { child: { $recursiveRef: "#" }, card: true, cvc: true },
      dependentRequired: { card: ["cvc"] },
      unevaluatedProperties: false,
    });
    expect(validate({ child: { card: 1, cvc: 2, child: {} } })).toEqual([]);
    expect(validate({ child: { card: 1, extra: 2 } })).toEqual([
      { path: "/child/cvc", message: "is required when property 'card' is present" },
      { path: "/child/extra", message: "is not allowed" },
    ]);
  });

  it("applies the dialect's rules: draft-07 tuple items vs 2020-12 prefixItems", () => {
    const draft7 = validatorFor({ items: [{ type: "string" }], additionalItems: false }, "draft-07");
    expect(draft7(["a", "b"])).toEqual([{ path: "", message: "must NOT have more than 1 items" }]);
    const modern = validatorFor({ prefixItems: [{ type: "string" }], items: false });
    expect(modern(["a", "b"])).toEqual([{ path: "", message: "must NOT have more than 1 items" }]);
  });
});

describe("invalid schemas", () => {
  const cases: { name: string; schema: unknown; problems: { path: string; message: RegExp }[] }[] = [
    { name: "bad type value", schema: { type: "strin" }, problems: [{ path: "/type", message: /must be one of: .*string/ }] },
    {
      name: "nested bad type value",
      schema: { type: "object", properties: { amount: { type: 5 } } },
      problems: [{ path: "/properties/amount/type", message: /must be one of/ }],
    },
    {
      name: "wrong keyword value type",
      schema: { properties: { a: { minLength: "3" } }, required: "a" },
      problems: [
        { path: "/properties/a/minLength", message: /^must be integer$/ },
        { path: "/required", message: /^must be array$/ },
      ],
    },
    {
      name: "bad regex pattern",
      schema: { properties: { code: { type: "string", pattern: "([a-z]" } } },
      problems: [{ path: "/properties/code/pattern", message: /^invalid regular expression: / }],
    },
    {
      name: "regex valid only without the u flag",
      schema: { pattern: "^\\_x$" },
      problems: [{ path: "/pattern", message: /^invalid regular expression: / }],
    },
    {
      name: "bad patternProperties key",
      schema: { patternProperties: { "^(x": { type: "string" } } },
      problems: [{ path: "/patternProperties/^(x", message: /^invalid regular expression: / }],
    },
    {
      name: "unresolvable local $ref",
      schema: { properties: { a: { $ref: "#/$defs/missing" } } },
      problems: [{ path: "/properties/a/$ref", message: /cannot resolve \$ref "#\/\$defs\/missing"/ }],
    },
    {
      name: "remote $ref is never fetched",
      schema: { items: { $ref: "https://example.com/schemas/item.json" } },
      problems: [{ path: "/items/$ref", message: /cannot resolve \$ref "https:\/\/example.com\/schemas\/item.json"/ }],
    },
    {
      name: "unresolvable $ref in draft-07 definitions",
      schema: { $schema: "http://json-schema.org/draft-07/schema#", definitions: { a: { items: { $ref: "#/definitions/b" } } } },
      problems: [{ path: "/definitions/a/items/$ref", message: /^cannot resolve \$ref "#\/definitions\/b"$/ }],
    },
    {
      name: "every unresolvable $ref at once, anchors included",
      schema: { properties: { a: { $ref: "#/$defs/a" }, b: { $ref: "#nope" }, c: { $ref: "#/$defs/c" } }, $defs: { c: { $anchor: "c" } } },
      problems: [
        { path: "/properties/a/$ref", message: /^cannot resolve \$ref "#\/\$defs\/a"$/ },
        { path: "/properties/b/$ref", message: /^cannot resolve \$ref "#nope"$/ },
      ],
    },
    { name: "unknown $schema", schema: { $schema: "https://example.com/meta" }, problems: [{ path: "/$schema", message: /unsupported \$schema/ }] },
    { name: "async schema", schema: { $async: true, type: "object" }, problems: [{ path: "/$async", message: /not supported/ }] },
    { name: "not a schema: number", schema: 5, problems: [{ path: "", message: /object or a boolean/ }] },
    { name: "not a schema: array", schema: [], problems: [{ path: "", message: /object or a boolean/ }] },
    { name: "not a schema: null", schema: null, problems: [{ path: "", message: /object or a boolean/ }] },
  ];

  it.each(cases)("$name", ({ schema, problems }) => {
    const actual = checkSchema(schema);
    expect(actual).toEqual(problems.map((p) => ({ path: p.path, message: expect.stringMatching(p.message) })));
    let error: unknown;
    try {
      compileValidatorCode(schema);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidSchemaError);
    expect((error as InvalidSchemaError).problems).toEqual(actual);
    expect((error as Error).message).toMatch(/^invalid JSON Schema: /);
  });

  it("reports a schema that contains itself (YAML alias) instead of overflowing the stack", () => {
    const node: Record<string, unknown> = { type: "object" };
    node.properties = { child: node };
    expect(checkSchema(node)).toEqual([{ path: "/properties/child", message: expect.stringMatching(/use \$ref/) }]);
  });

  it("refuses a schema that refers back to itself on the same value (it would overflow the stack on any data); recursion through properties and items is fine", () => {
    const loop =
      "refers back to a schema it is part of, on the same value (through $ref, allOf, anyOf, oneOf or not, with no property or item in between): validation would never end";
    expect(checkSchema({ type: "object", allOf: [{ $ref: "#" }] })).toEqual([{ path: "/allOf/0/$ref", message: loop }]);
    const mutual = {
      $ref: "#/$defs/A",
      $defs: { A: { allOf: [{ $ref: "#/$defs/B" }, { type: "object", properties: { a: { type: "string" } } }] }, B: { allOf: [{ $ref: "#/$defs/A" }] } },
    };
    expect(checkSchema(mutual)).toEqual([{ path: "/$defs/B/allOf/0/$ref", message: loop }]);
    expect(() => compileValidatorCode(mutual)).toThrow(InvalidSchemaError);
    expect(checkSchema({ $defs: { A: { $ref: "#/$defs/B" }, B: { $ref: "#/$defs/A" } }, $ref: "#/$defs/A" })).toEqual([
      { path: "/$defs/B/$ref", message: loop },
    ]);
    expect(checkSchema({ $defs: { A: { $anchor: "a", oneOf: [{ type: "null" }, { not: { $ref: "#a" } }] } }, $ref: "#/$defs/A" })).toEqual([
      { path: "/$defs/A/oneOf/1/not/$ref", message: loop },
    ]);
    expect(checkSchema({ $id: "https://example.com/s.json", $defs: { n: { $id: "n.json", if: { $ref: "s.json" } } }, $ref: "n.json" })).toEqual([
      { path: "/$defs/n/if/$ref", message: loop },
    ]);
    expect(checkSchema({ anyOf: [{ $ref: "#" }] }, "draft-07")).toHaveLength(1);
    // Each step goes one level into the data.
    const tree = {
      type: "object",
      properties: { kids: { type: "array", items: { allOf: [{ $ref: "#" }] } } },
      additionalProperties: { anyOf: [{ $ref: "#" }] },
    };
    expect(checkSchema(tree)).toEqual([]);
    expect(validatorFor(tree)({ kids: [{ kids: [] }], x: { kids: [] } })).toEqual([]);
    expect(
      checkSchema({ $defs: { A: { allOf: [{ $ref: "#/$defs/B" }] }, B: { type: "string" } }, anyOf: [{ $ref: "#/$defs/A" }, { $ref: "#/$defs/A" }] }),
    ).toEqual([]);
  });

  it("refuses an $id that names a meta-schema, and keeps working afterwards", () => {
    expect(checkSchema({ $id: "https://json-schema.org/draft/2020-12/schema", type: "string" })).toEqual([
      { path: "/$id", message: expect.stringMatching(/reserved/) },
    ]);
    expect(checkSchema({ type: "strin" })).toHaveLength(1);
    expect(validatorFor({ type: "string" })("x")).toEqual([]);
  });

  it.each([{ schema: {} }, { schema: true }, { schema: false }, { schema: payment }])("accepts a valid schema ($schema)", ({ schema }) => {
    expect(checkSchema(schema)).toEqual([]);
  });

  it("resolves escaped and percent-encoded pointers and anchors", () => {
    const schema = {
      $defs: { "a/b": { type: "string" }, "c~d": { type: "number" }, "e%f": { $anchor: "ef", type: "null" } },
      anyOf: [{ $ref: "#/$defs/a~1b" }, { $ref: "#/$defs/c~0d" }, { $ref: "#/$defs/e%25f" }, { $ref: "#ef" }, { items: { $ref: "#" } }],
    };
    expect(checkSchema(schema)).toEqual([]);
  });

  it("checks draft-07 schemas against the draft-07 meta-schema", () => {
    // `dependentRequired` is unknown (so ignored) in draft-07, but `dependencies` is checked.
    expect(checkSchema({ dependentRequired: 5 }, "draft-07")).toEqual([]);
    expect(checkSchema({ dependencies: 5 }, "draft-07")).toEqual([{ path: "/dependencies", message: "must be object" }]);
  });
});

describe("stored code and its loader", () => {
  it("references only ajv runtime helpers and ajv-formats' formats", () => {
    const code = compileValidatorCode({ ...payment, properties: { ...payment.properties, tags: { uniqueItems: true }, when: { format: "date-time" } } });
    const required = [...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    expect(new Set(required)).toEqual(new Set(["ajv/dist/runtime/ucs2length", "ajv/dist/runtime/equal", "ajv-formats/dist/formats"]));
  });

  it("refuses code that requires anything else", () => {
    expect(() => loadValidator('module.exports = require("node:fs")')).toThrow(/may not require "node:fs"/);
    expect(() => loadValidator('module.exports = require("ajv")')).toThrow(/may not require "ajv"/);
    expect(() => loadValidator("module.exports = 42")).toThrow(/does not export a validate function/);
  });

  it("validator.ts imports nothing but node built-ins", () => {
    const source = readFileSync(path.join(repoRoot, "src/schema/validator.ts"), "utf8");
    const specifiers = [...source.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/gm)].map((m) => m[1]);
    expect(specifiers.every((s) => s!.startsWith("node:"))).toBe(true);
    expect(source).not.toMatch(/\bimport\s*\(/);
  });

  it("loads and runs stored code without loading ajv itself", () => {
    // A fresh node process: this test process has ajv loaded through compile.ts. The module is the
    // TypeScript source transpiled as is, so no build is needed; `-e` code resolves packages from cwd.
    const source = readFileSync(path.join(repoRoot, "src/schema/validator.ts"), "utf8");
    const js = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    }).outputText;
    const code = compileValidatorCode({
      type: "object",
      required: ["id"],
      properties: { id: { type: "string", maxLength: 8, format: "date-time" }, tags: { type: "array", uniqueItems: true } },
    });
    const probe = `
${js}
import { createRequire as probeRequire } from "node:module";
const issues = loadValidator(process.env.TOOLCTL_CODE)({ id: 5, tags: [1, 1] });
const loaded = Object.keys(probeRequire(import.meta.url).cache).map((p) => p.split("node_modules/").pop());
console.log(JSON.stringify({ issues, loaded }));
`;
    const result = spawnSync(process.execPath, ["--input-type=module", "-e", probe], {
      cwd: repoRoot,
      env: { ...process.env, TOOLCTL_CODE: code },
      encoding: "utf8",
    });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const { issues, loaded } = JSON.parse(result.stdout) as { issues: ValidationIssue[]; loaded: string[] };
    expect(issues).toEqual([
      { path: "/id", message: "must be string" },
      { path: "/tags", message: "must NOT have duplicate items (items ## 0 and 1 are identical)" },
    ]);
    // The helpers the code needs were loaded (so the cache is the right one to look at) ...
    expect(loaded).toContain("ajv/dist/runtime/equal.js");
    expect(loaded).toContain("ajv-formats/dist/formats.js");
    // ... and nothing of ajv's compiler or entry points.
    const ajvProper = loaded.filter((p) => p.startsWith("ajv/") && !p.startsWith("ajv/dist/runtime/"));
    expect(ajvProper).toEqual([]);
    expect(loaded.filter((p) => p.startsWith("ajv-formats/") && p !== "ajv-formats/dist/formats.js")).toEqual([]);
  });
});
