/**
 * Input that would change on its way to the action, or could not be sent at all, is refused before anything runs:
 * exit 2 naming the field, in a dry run too, nothing reserved or sent. A NUL byte no program argument can carry,
 * text that is not valid Unicode (a lone UTF-16 surrogate), a whole number past 2^53 in any JSON spelling, number
 * spellings JSON does not have, a credential header with a line break. Field names that are also names of
 * Object.prototype members are plain fields everywhere (`--param constructor=…`, form and query styles).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inputSources, type ExecuteResult, type Toolctl } from "../src/api/index.js";
import { UsageError } from "../src/errors.js";
import { REDACTED, Redactor } from "../src/secrets/redact.js";
import { FakeServer, sendJson } from "./fakes/server.js";
import { loopbackTool, openApi, runJson, tempDir, writeFiles } from "./helpers.js";

async function withTool(manifest: string, env: Record<string, string> = {}): Promise<Toolctl> {
  const toolctl = await openApi({ env });
  const report = await toolctl.importManifests([writeFiles({ "tool.yaml": manifest })]);
  expect(report.failed).toEqual([]);
  return toolctl;
}

/** A refusal before anything ran: exit 2, with this message. */
function expectRefused(result: ExecuteResult, message: string | RegExp): void {
  expect(result.exitCode, JSON.stringify(result.error)).toBe(2);
  expect(result.status).toBe("failed");
  if (typeof message === "string") expect(result.error?.message).toBe(message);
  else expect(result.error?.message).toMatch(message);
}

const PRINTER = `apiVersion: toolctl/v1
name: printer
description: Prints an item
runtime: process
actions:
  argv:
    description: The item in an argument
    kind: create
    cost: { fixed: 0.5 }
    output: text
    inputSchema: { type: object, properties: { item: { type: string } } }
    command: [/usr/bin/printf, "%s", "item={{ input.item }}"]
`;

describe("a NUL byte in a program's argv or environment", () => {
  it("is refused when the command is built, exit 2, in a dry run too, and nothing stays reserved", async () => {
    const toolctl = await withTool(PRINTER);
    for (const dryRun of [true, false]) {
      const result = await toolctl.run("printer.argv", { item: "a\u0000b" }, { dryRun });
      expectRefused(result, "cannot build the process call: command[2]: the value has a NUL byte, which a program's argument cannot carry");
    }
    expect((await toolctl.budget()).spend).toMatchObject({ reservedUsd: 0, committedUsd: 0 });
    const ok = await toolctl.run("printer.argv", { item: "ab" });
    expect(ok).toMatchObject({ status: "succeeded", output: "item=ab" });
  });

  it("in an environment value, is refused when the command is built, exit 2, naming the variable, in a dry run too", async () => {
    const toolctl = await withTool(PRINTER_ENV);
    for (const dryRun of [true, false]) {
      const result = await toolctl.run("printer.env", { item: "a\u0000b" }, { dryRun });
      expectRefused(result, "cannot build the process call: env.ITEM: the value has a NUL byte, which an environment variable cannot carry");
    }
    expect((await toolctl.budget()).spend).toMatchObject({ reservedUsd: 0, committedUsd: 0 });
    expect(await toolctl.run("printer.env", { item: "ab" })).toMatchObject({ status: "succeeded", output: "x=ab" });
  });
});

const PRINTER_ENV = `apiVersion: toolctl/v1
name: printer
description: Prints an item from its environment
runtime: process
actions:
  env:
    description: The item in a variable
    kind: create
    cost: { fixed: 0.5 }
    output: text
    inputSchema: { type: object, properties: { item: { type: string } } }
    env: { ITEM: "x={{ input.item }}" }
    command: [/bin/sh, -c, 'printf %s "$ITEM"']
`;

const ECHO = `apiVersion: toolctl/v1
name: talk
description: Echoes
runtime: echo
actions:
  say:
    description: Say something
    kind: read
    inputSchema:
      type: object
      properties:
        message: { type: string }
        password: { type: string }
        tags: { type: array, items: { type: string } }
`;

const LONE = "input.password: contains a lone UTF-16 surrogate, which is not valid Unicode text";

describe("text that is not valid Unicode (a lone UTF-16 surrogate)", () => {
  it("in the input is refused naming the field, exit 2, from the library, in a dry run too", async () => {
    const toolctl = await withTool(ECHO);
    for (const dryRun of [true, false]) {
      expectRefused(await toolctl.run("talk.say", { message: "hi", password: "ab\ud800" }, { dryRun }), LONE);
      expectRefused(await toolctl.preview("talk.say", inputSources({ params: ["message=hi", "password=\udc00"] })), LONE);
      expectRefused(
        await toolctl.run("talk.say", { tags: ["ok", "x\udbff"] }, { dryRun }),
        "input.tags[1]: contains a lone UTF-16 surrogate, which is not valid Unicode text",
      );
    }
    expectRefused(await toolctl.run("talk.say", { ["k\ud800"]: 1 }), /^input: the field name "k\\ud800" contains a lone UTF-16 surrogate/);
    // A well-formed pair (an emoji) is text like any other.
    expect(await toolctl.run("talk.say", { message: "hi \ud83d\ude00", password: "p\ud83d\ude00" })).toMatchObject({ status: "succeeded" });
  });

  it("in --params is refused by the CLI, exit 2, one line naming the field", async () => {
    const home = tempDir("toolctl-home-");
    const dir = writeFiles({ "talk.yaml": ECHO });
    const imported = await runJson(["import", dir], { home });
    expect(imported.code, imported.stderr).toBe(0);
    for (const extra of [[], ["--dry-run"]]) {
      const result = await runJson(["run", "talk.say", "--params", '{"message":"hi","password":"ab\\ud800"}', ...extra], { home });
      expect(result.code, result.stdout).toBe(2);
      expect(result.json.error).toMatchObject({ code: "usage", exitCode: 2, message: LONE });
    }
  });

  it("the redactor takes such a secret without throwing, and scrubs it and its encodings", () => {
    const redactor = new Redactor();
    expect(() => redactor.add("se\ud800cret")).not.toThrow();
    expect(redactor.text("a se\ud800cret b")).toBe(`a ${REDACTED} b`);
    // As URLSearchParams and Buffer write it: the lone surrogate as U+FFFD.
    expect(redactor.text(`q=${new URLSearchParams({ v: "se\ud800cret" }).toString().slice(2)}`)).toBe(`q=${REDACTED}`);
    expect(redactor.text("x se%EF%BF%BDcret y")).toBe(`x ${REDACTED} y`);
  });

  describe("over http", () => {
    let server: FakeServer;
    beforeAll(async () => {
      server = await new FakeServer((_req, res) => sendJson(res, 200, { ok: true })).start();
    });
    afterAll(() => server.close());

    const tool = () =>
      loopbackTool(
        "odd",
        server.url,
        `  item:
    description: An item
    kind: read
    inputSchema: { type: object, properties: { id: { type: string } } }
    request: { method: GET, path: "/items/{{ input.id }}" }
  by_secret:
    description: A path made from a secret
    kind: read
    request: { method: GET, path: "/items/{{ secrets.ODD_KEY }}" }
  query_secret:
    description: A query made from a secret
    kind: read
    request: { method: GET, path: /items, query: { q: "{{ secrets.ODD_KEY }}" } }
  cookie_secret:
    description: A cookie made from a secret
    kind: read
    request: { method: GET, path: /items, cookies: { c: "{{ secrets.ODD_KEY }}" } }
`,
      );

    it("a path parameter from the input is refused naming the field, nothing sent", async () => {
      const toolctl = await withTool(tool());
      const before = server.requests.length;
      for (const dryRun of [true, false]) {
        expectRefused(
          await toolctl.run("odd.item", inputSources({ params: ["id=a\ud800"] }), { dryRun }),
          "input.id: contains a lone UTF-16 surrogate, which is not valid Unicode text",
        );
      }
      expect(server.requests.length).toBe(before);
    });

    it("a path, query or cookie made from such a secret is refused naming where, never a crash, nothing sent", async () => {
      const toolctl = await withTool(tool(), { ODD_KEY: "k\ud800ey" });
      const before = server.requests.length;
      for (const [action, where] of [
        ["by_secret", 'request.path "/items/{{ secrets.ODD_KEY }}": secrets.ODD_KEY'],
        ["query_secret", "request.query.q"],
        ["cookie_secret", "request.cookies.c"],
      ] as const) {
        for (const dryRun of [true, false]) {
          expectRefused(
            await toolctl.run(`odd.${action}`, {}, { dryRun }),
            `cannot build the http call: ${where}: the value has a lone UTF-16 surrogate, which is not valid Unicode text`,
          );
        }
      }
      expect(server.requests.length).toBe(before);
    });
  });
});

const TYPES = `apiVersion: toolctl/v1
name: types
description: Echoes typed input back
runtime: echo
actions:
  check:
    description: Echo the input, typed by the schema
    kind: read
    inputSchema:
      type: object
      additionalProperties: false
      properties:
        n: { type: number }
        i: { type: integer }
        ns: { type: [number, string] }
        arr: { type: array, items: { type: integer } }
        obj: { type: object }
        constructor: { type: string }
        prototype: { type: string }
        toString: { type: number }
        user: { type: object, properties: { constructor: { type: string } } }
`;

const run = (toolctl: Toolctl, ...params: string[]) => toolctl.run("types.check", inputSources({ params }));
const tooLarge = (flag: string, literal: string, sent: string) =>
  `${flag}: ${literal} is larger than a number can hold exactly (9007199254740991); it would be sent as ${sent}`;

describe("whole numbers past 2^53 in every JSON spelling", () => {
  it("--param refuses them in a JSON list or object, and written with a fraction or an exponent", async () => {
    const toolctl = await withTool(TYPES);
    for (const [param, flag, literal, sent] of [
      ["arr=[9007199254740993]", "--param arr", "9007199254740993", "9007199254740992"],
      ['obj={"id":9007199254740993}', "--param obj", "9007199254740993", "9007199254740992"],
      ['obj={"a":{"b":[1, -9007199254740993]}}', "--param obj", "-9007199254740993", "-9007199254740992"],
      ["i=9007199254740993.0", "--param i", "9007199254740993.0", "9007199254740992"],
      ["n=9.007199254740993e15", "--param n", "9.007199254740993e15", "9007199254740992"],
      ["arr=[1,9007199254740993.00]", "--param arr", "9007199254740993.00", "9007199254740992"],
      ['obj={"big":1E400}', "--param obj", "1E400", "Infinity"],
    ] as const) {
      expectRefused(await run(toolctl, param), new RegExp(`^${tooLarge(flag, literal, sent).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    }
    expect(await run(toolctl, "ns=9007199254740993.0")).toMatchObject({ status: "succeeded", output: { ns: "9007199254740993.0" } });
  });

  it("--params and --params-file refuse them written with a fraction or an exponent", () => {
    for (const [text, literal] of [
      ['{"i": 9007199254740993.0}', "9007199254740993.0"],
      ['{"i": 90071992547409930e-1}', "90071992547409930e-1"],
      ['{"n": [1.2345678901234567891e19]}', "1.2345678901234567891e19"],
      ['{"n": -9.007199254740993E+15}', "-9.007199254740993E+15"],
    ]) {
      expect(() => inputSources({ params: [], paramsJson: text })).toThrow(new RegExp(`^--params: ${literal!.replace(/[.+]/g, "\\$&")} is larger`));
      expect(() => inputSources({ params: [], paramsFile: { name: "in.json", text } })).toThrow(UsageError);
    }
  });

  it("numbers JSON keeps exactly, and fractions, still pass", async () => {
    // A double holds 1e16, 2.5e20 and 1e21 exactly: written so, they are sent as written.
    for (const text of [
      '{"n": 9007199254740991.0}',
      '{"n": 1e16}',
      '{"n": -2.5E+20}',
      '{"n": 1e21}',
      '{"n": 1.5}',
      '{"n": 1e15}',
      '{"n": 12345678901234567.5}',
      '{"n": 1e-400}',
      '{"s": "9007199254740993.0"}',
    ]) {
      expect(() => inputSources({ params: [], paramsJson: text }), text).not.toThrow();
    }
    const toolctl = await withTool(TYPES);
    expect(await run(toolctl, "n=1e21", "arr=[2e16]")).toMatchObject({ status: "succeeded", output: { n: 1e21, arr: [2e16] } });
    const result = await run(toolctl, "n=9007199254740991.0", "i=-9007199254740991", 'obj={"x":1.25,"y":"9007199254740993"}', "arr=[1,2]");
    expect(result).toMatchObject({
      status: "succeeded",
      output: { n: 9007199254740991, i: -9007199254740991, obj: { x: 1.25, y: "9007199254740993" }, arr: [1, 2] },
    });
  });
});

describe("--param numbers are JSON numbers", () => {
  it("hex, binary, octal and padded numbers stay text, and fail a number-only field", async () => {
    const toolctl = await withTool(TYPES);
    for (const [param, problem] of [
      ["n=0x10", "input.n: must be number"],
      ["i=0b11", "input.i: must be integer"],
      ["i= 5 ", "input.i: must be integer"],
      ["n=+5", "input.n: must be number"],
      ["n=Infinity", "input.n: must be number"],
      ["n=05", "input.n: must be number"],
    ]) {
      expectRefused(await run(toolctl, param!), `invalid input for types.check: ${problem}`);
    }
    expect(await run(toolctl, "ns=0o17")).toMatchObject({ status: "succeeded", output: { ns: "0o17" } });
    expect(await run(toolctl, "ns= 7")).toMatchObject({ status: "succeeded", output: { ns: " 7" } });
  });

  it("JSON numbers are still numbers", async () => {
    const toolctl = await withTool(TYPES);
    const result = await run(toolctl, "n=-1.5e3", "i=0", "ns=12.5", "arr=1,-2");
    expect(result).toMatchObject({ status: "succeeded", output: { n: -1500, i: 0, ns: 12.5, arr: [1, -2] } });
  });
});

describe("--param keys named like Object members", () => {
  it("constructor, prototype and toString work when the schema declares them, nested too", async () => {
    const toolctl = await withTool(TYPES);
    const result = await run(toolctl, "constructor=c1", "prototype=p1", "toString=3", "user.constructor=u1");
    expect(result.error).toBeUndefined();
    expect(result.output).toEqual({ constructor: "c1", prototype: "p1", toString: 3, user: { constructor: "u1" } });
    expect(Object.getPrototypeOf(result.output)).toBe(Object.prototype);
  });

  it("__proto__ is refused, saying why", async () => {
    const toolctl = await withTool(TYPES);
    for (const param of ["__proto__=x", "user.__proto__.a=1"]) {
      expectRefused(
        await run(toolctl, param),
        `--param ${JSON.stringify(param)}: expected key=value with a key other than __proto__, which names an object's prototype in JavaScript rather than a field; give that field in --params or --params-file`,
      );
    }
    expect(({} as Record<string, unknown>).a).toBeUndefined();
  });
});

describe("http requests", () => {
  let server: FakeServer;
  beforeAll(async () => {
    server = await new FakeServer((_req, res) => sendJson(res, 200, { ok: true })).start();
  });
  afterAll(() => server.close());

  const tool = (auth: string) =>
    `${loopbackTool(
      "creds",
      server.url,
      `  get:
    description: Read
    kind: read
    request: { method: GET, path: /things }
  post_form:
    description: A form rendered from one object
    kind: create
    inputSchema: { type: object, properties: { f: { type: object } } }
    request:
      method: POST
      path: /forms
      form: "{{ input.f }}"
      styles: { form: { other: { style: form, explode: false } } }
  listing:
    description: A query with styles for another name
    kind: read
    inputSchema: { type: object, properties: { c: { type: array } } }
    request:
      method: GET
      path: /things
      query: { constructor: "{{ input.c }}", toString: "{{ input.c }}" }
      styles: { query: { other: { style: pipeDelimited } } }
`,
    )}auth: ${auth}\n`;

  it.each([
    ["bearer", "{ type: bearer, secret: CREDS_KEY }"],
    ["api_key in a header", "{ type: api_key, secret: CREDS_KEY, in: header, name: X-Api-Key }"],
  ])("a %s secret with a line break is refused when the request is built, in a dry run too, never shown", async (_name, auth) => {
    const toolctl = await withTool(tool(auth), { CREDS_KEY: "tok-9f8e\r\nX-Evil: 1" });
    const before = server.requests.length;
    for (const dryRun of [true, false]) {
      const result = await toolctl.run("creds.get", {}, { dryRun });
      expectRefused(result, /^cannot build the http call: auth: the value of the (authorization|x-api-key) header has characters a header cannot carry/);
      expect(JSON.stringify(result)).not.toContain("tok-9f8e");
    }
    expect(server.requests.length).toBe(before);
  });

  it("form fields named like Object members keep the form's default bracket style", async () => {
    const toolctl = await withTool(tool("{ type: none }"));
    const f = JSON.parse('{"constructor":[1,2],"toString":{"a":1},"valueOf":[3],"hasOwnProperty":{"b":2},"__proto__":{"c":3},"other":[4,5]}');
    const result = await toolctl.run("creds.post_form", { f });
    expect(result.error).toBeUndefined();
    expect(server.requests.at(-1)!.body).toBe(
      "constructor%5B0%5D=1&constructor%5B1%5D=2&toString%5Ba%5D=1&valueOf%5B0%5D=3&hasOwnProperty%5Bb%5D=2&__proto__%5Bc%5D=3&other=4%2C5",
    );
  });

  it("query parameters named like Object members keep the default style", async () => {
    const toolctl = await withTool(tool("{ type: none }"));
    const result = await toolctl.run("creds.listing", { c: [1, 2] });
    expect(result.error).toBeUndefined();
    expect(server.requests.at(-1)!.url).toBe("/things?constructor=1&constructor=2&toString=1&toString=2");
  });
});
