/**
 * The library API keeps the promises docs/api.md makes, for what a program may pass it: an approval channel's
 * answer read strictly, close() with an audit export open, relative paths read from `cwd`, history times read as
 * the CLI reads them, and a `__proto__` key in a manifest's maps refused rather than dropped.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openToolctl, type Store, type Toolctl } from "../src/api/index.js";
import { FakeServer } from "./fakes/server.js";
import { baseEnv, loopbackTool, openApi, PAY_ECHO, rejection, runCli, runJson, tempDir, writeFiles } from "./helpers.js";

async function payHome(): Promise<Toolctl> {
  const toolctl = await openApi();
  expect((await toolctl.importManifests([path.join(writeFiles({ "pay.yaml": PAY_ECHO }), "pay.yaml")])).failed).toEqual([]);
  return toolctl;
}

describe("an ApprovalChannel's answer", () => {
  const malformed: Array<[string, unknown]> = [
    ['approved: "false"', { approved: "false" }],
    ["approved: 1", { approved: 1 }],
    ['approved: "true"', { approved: "true" }],
    ["null", null],
    ["undefined", undefined],
    ["a string", "yes"],
    ["an array", [{ approved: true }]],
    ["an empty object", {}],
    ['needsHuman: "yes"', { needsHuman: "yes" }],
    ["both forms at once", { approved: true, needsHuman: true }],
    ["a code that is not text", { approved: true, otp: 123456 }],
  ];

  it.each(malformed)("%s approves nothing: declined with a usage error (exit 2), nothing spent", async (_name, answer) => {
    const toolctl = await payHome();
    const result = await toolctl.run("pay.charge", { amount: 5 }, { approve: async () => answer as never });
    expect(result).toMatchObject({ status: "declined", exitCode: 2, error: { code: "usage", exitCode: 2 } });
    expect(result.error?.message).toMatch(
      /^the approval channel's answer .* is not \{ approved: true \}, \{ approved: false \} or \{ needsHuman: true \}: pay\.charge was not approved, and nothing ran$/,
    );
    expect(result.error?.message).not.toContain("123456");
    expect((await toolctl.budget()).spend).toMatchObject({ committedUsd: 0, reservedUsd: 0 });
    // Recorded as a "no" is: the execution declined, the decision audited as declined.
    expect(await toolctl.execution(result.executionId)).toMatchObject({ status: "declined" });
    const events = await toolctl.audit({ executionId: result.executionId });
    expect(events.map((event) => event.type)).toEqual(["approval.declined", "execution.refused"]);
    expect(events[0]!.data).toMatchObject({ via: "prompt", answer: "invalid" });
  });

  it("only a literal approved: true approves; approved: false is a no (exit 3), as before", async () => {
    const toolctl = await payHome();
    const yes = await toolctl.run("pay.charge", { amount: 5 }, { approve: async () => ({ approved: true }) });
    expect(yes).toMatchObject({ status: "succeeded", exitCode: 0 });
    const no = await toolctl.run("pay.charge", { amount: 5 }, { approve: async () => ({ approved: false, reason: "not today" }) });
    expect(no).toMatchObject({ status: "declined", exitCode: 3, error: { code: "policy_refused" } });
    expect((await toolctl.budget()).spend.committedUsd).toBe(5);
  });

  it("the channel given to openToolctl is read as strictly", async () => {
    const home = tempDir("toolctl-home-");
    const toolctl = await openApi({ home, approvals: async () => ({ approved: "false" }) as never });
    await toolctl.importManifests([path.join(writeFiles({ "pay.yaml": PAY_ECHO }), "pay.yaml")]);
    const result = await toolctl.run("pay.charge", { amount: 5 });
    expect(result).toMatchObject({ status: "declined", exitCode: 2 });
    expect((await toolctl.budget()).spend.committedUsd).toBe(0);
  });

  it("asked first (askFirst), a malformed answer files no request and runs nothing", async () => {
    const toolctl = await payHome();
    const result = await toolctl.run(
      "pay.charge",
      { amount: 5 },
      { wait: true, waitSeconds: 0, askFirst: { via: "elicitation" }, approve: async () => ({ approved: 1 }) as never },
    );
    expect(result).toMatchObject({ status: "declined", exitCode: 2, error: { code: "usage" } });
    expect(await toolctl.approvals(true)).toEqual([]);
    const events = await toolctl.audit({ executionId: result.executionId, type: "approval.declined" });
    expect(events.map((event) => event.data)).toMatchObject([{ via: "elicitation", answer: "invalid" }]);
    expect((await toolctl.budget()).spend.committedUsd).toBe(0);
  });
});

describe("close() with an audit export open", () => {
  async function withEvents(): Promise<Toolctl> {
    const toolctl = await payHome();
    for (const amount of [0.1, 0.2, 0.3]) expect((await toolctl.run("pay.charge", { amount })).status).toBe("succeeded");
    return toolctl;
  }

  it("ends the iteration (its next step is refused, exit 2) and closes the store; a second close does nothing", async () => {
    const toolctl = await withEvents();
    const iterator = toolctl.auditEvents()[Symbol.asyncIterator]();
    expect((await iterator.next()).done).toBe(false);
    await toolctl.close();
    const refused = await rejection(iterator.next());
    expect(refused.exitCode).toBe(2);
    expect(refused.message).toMatch(/^toolctl\.auditEvents\(\): this toolctl was closed/);
    // The store is closed: its database answers nothing more.
    await expect(toolctl.store.audit.count({})).rejects.toThrow(/not open/);
    await expect(toolctl.close()).resolves.toBeUndefined();
    expect((await rejection(toolctl.listTools())).message).toMatch(/this toolctl was closed/);
  });

  it("a close() inside a for await loop ends the loop with the usage error, not a database error", async () => {
    const toolctl = await withEvents();
    let read = 0;
    const loop = (async () => {
      for await (const _event of toolctl.auditEvents()) {
        read++;
        await toolctl.close();
      }
    })();
    expect((await rejection(loop)).message).toMatch(/this toolctl was closed/);
    expect(read).toBe(1);
    await expect(toolctl.store.audit.count({})).rejects.toThrow(/not open/);
  });

  it("an iteration read to its end, or left with break, keeps nothing open", async () => {
    const toolctl = await withEvents();
    let all = 0;
    for await (const _event of toolctl.auditEvents()) all++;
    expect(all).toBe(await toolctl.countAudit());
    for await (const _event of toolctl.auditEvents()) break;
    expect(await toolctl.countAudit()).toBe(all);
    await toolctl.close();
    await expect(toolctl.store.audit.count({})).rejects.toThrow(/not open/);
  });

  it("a store that fails to close leaves the toolctl open: calls go on, and the next close() tries again", async () => {
    const owner = await openApi();
    const real = owner.store;
    let failures = 1;
    const store: Store = Object.create(real, {
      close: {
        value: async () => {
          if (failures-- > 0) throw new Error("the disk went away");
          return real.close();
        },
      },
    });
    const toolctl = await openToolctl({ home: owner.home, env: baseEnv({ TOOLCTL_HOME: owner.home }), store });
    await expect(toolctl.close()).rejects.toThrow("the disk went away");
    expect(await toolctl.listTools()).toEqual([]);
    await toolctl.close();
    await expect(real.audit.count({})).rejects.toThrow(/not open/);
    expect((await rejection(toolctl.listTools())).message).toMatch(/this toolctl was closed/);
  });
});

describe("importManifests and cwd", () => {
  const ECHO = "apiVersion: toolctl/v1\nname: opened\ndescription: An echo\nruntime: echo\nactions:\n  say: { description: Say, kind: read }\n";

  it("reads a relative path from the cwd given to openToolctl, as importSpec and plan do", async () => {
    const dir = writeFiles({ "open.yaml": ECHO, "more/other.yaml": ECHO.replace("name: opened", "name: other") });
    const toolctl = await openApi({ cwd: dir });
    const dry = await toolctl.importManifests(["open.yaml"], { dryRun: true });
    expect(dry.failed).toEqual([]);
    expect(dry.imported.map((result) => result.file)).toEqual([path.join(dir, "open.yaml")]);
    const report = await toolctl.importManifests(["open.yaml", "more"]);
    expect(report.failed).toEqual([]);
    expect(report.imported.map((result) => result.tool)).toEqual(["opened", "other"]);
    expect((await toolctl.getTool("opened"))?.sourcePath).toBe(path.join(dir, "open.yaml"));
  });

  it("refuses paths that are not an array of paths, naming the option (exit 2), and reads nothing", async () => {
    const toolctl = await openApi();
    const text = await rejection(toolctl.importManifests("/" as never, { dryRun: true }));
    expect(text).toMatchObject({ code: "usage", exitCode: 2 });
    expect(text.message).toBe('importManifests: paths: expected an array of manifest files and directories, got "/"');
    const entry = await rejection(toolctl.importManifests(["a.yaml", 5] as never));
    expect(entry.message).toBe("importManifests: paths[1]: expected the path of a manifest file or directory, got 5");
  });
});

describe("since and until, as the CLI reads them", () => {
  let toolctl: Toolctl;
  const today = new Date().toISOString().slice(0, 10);
  beforeAll(async () => {
    toolctl = await payHome();
    for (const amount of [0.1, 0.2, 0.3]) await toolctl.run("pay.charge", { amount });
  });

  it("a bare date for until is the whole UTC day, through the API and the CLI alike", async () => {
    const api = await toolctl.executions({ until: today });
    expect(api.total).toBe(3);
    expect(await toolctl.countExecutions({ until: today })).toBe(3);
    expect((await toolctl.stats({ period: "day", by: "tool", until: today })).totals.count).toBe(3);
    expect(await toolctl.countAudit({ until: today })).toBe(await toolctl.countAudit());
    const cli = await runJson(["executions", "--until", today], { home: toolctl.home });
    expect(cli.code).toBe(0);
    expect(cli.json.page.total).toBe(api.total);
  });

  it("a time with an offset is compared as a time, not as text", async () => {
    // An hour from now, written at UTC-05:00: earlier than every row as text, later than every row as a time.
    const later = new Date(Date.now() + 3_600_000);
    const since = `${new Date(later.getTime() - 5 * 3_600_000).toISOString().slice(0, 19)}-05:00`;
    expect((await toolctl.executions({ since })).total).toBe(0);
    expect(await toolctl.countExecutions({ since })).toBe(0);
    expect((await toolctl.stats({ period: "hour", by: "tool", since })).totals.count).toBe(0);
    expect(await toolctl.audit({ since })).toEqual([]);
    const cli = await runJson(["executions", "--since", since], { home: toolctl.home });
    expect(cli.json.page.total).toBe(0);
  });

  it("a Date is a time", async () => {
    const hourAgo = new Date(Date.now() - 3_600_000);
    expect((await toolctl.executions({ since: hourAgo })).total).toBe(3);
    expect(await toolctl.countExecutions({ until: new Date(0) })).toBe(0);
    expect((await toolctl.stats({ period: "day", by: "tool", since: hourAgo, until: new Date() })).totals.count).toBe(3);
    expect((await toolctl.audit({ since: hourAgo })).length).toBeGreaterThan(0);
  });

  it.each([
    ["yesterday", '"yesterday"'],
    ["2026-02-30", '"2026-02-30" is not a real calendar day'],
    [new Date(Number.NaN), "an invalid Date"],
    [1_700_000_000_000, "1700000000000"],
    [null, "null"],
  ])("%s is refused with one line naming the call and the option (exit 2)", async (value, shown) => {
    const calls: Array<[string, () => Promise<unknown>]> = [
      ["executions: since", () => toolctl.executions({ since: value as never })],
      ["countExecutions: until", () => toolctl.countExecutions({ until: value as never })],
      ["stats: since", () => toolctl.stats({ period: "day", by: "tool", since: value as never })],
      ["audit: since", () => toolctl.audit({ since: value as never })],
      ["countAudit: until", () => toolctl.countAudit({ until: value as never })],
    ];
    for (const [name, call] of calls) {
      const error = await rejection(call());
      expect(error).toMatchObject({ code: "usage", exitCode: 2 });
      expect(error.message.startsWith(`${name}: `), error.message).toBe(true);
      expect(error.message).toContain(shown);
      expect(error.message).not.toContain("\n");
    }
  });
});

describe("a __proto__ key in a manifest's maps", () => {
  const server = new FakeServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end("{}");
  });
  beforeAll(async () => {
    await server.start();
  });
  afterAll(() => server.close());

  async function refused(name: string, text: string): Promise<string> {
    const dir = writeFiles({ [name]: text });
    const toolctl = await openApi();
    const report = await toolctl.importManifests([path.join(dir, name)]);
    expect(report.imported).toEqual([]);
    expect(report.failed).toHaveLength(1);
    expect(await toolctl.listTools()).toEqual([]);
    const failure = report.failed[0]!;
    expect(failure.message.startsWith(path.join(dir, name))).toBe(true);
    expect(failure.problems).toEqual([failure.message]);
    return failure.message;
  }

  const ACTION = "{ description: Fine, kind: read }";

  it("beside another action: refused, naming the field, nothing imported", async () => {
    const message = await refused(
      "odd.yaml",
      `apiVersion: toolctl/v1\nname: odd\ndescription: Odd\nruntime: echo\nactions:\n  __proto__: { description: odd, kind: read }\n  ok: ${ACTION}\n`,
    );
    expect(message).toMatch(/odd\.yaml:6:3: actions\.__proto__: this name is not allowed$/);
  });

  it("alone: the same, not that an action is missing", async () => {
    const message = await refused(
      "alone.yaml",
      "apiVersion: toolctl/v1\nname: alone\ndescription: Alone\nruntime: echo\nactions:\n  __proto__: { description: odd, kind: read }\n",
    );
    expect(message).toMatch(/: actions\.__proto__: this name is not allowed$/);
  });

  it("in http.headers, a request's query, cookies and headers, and an input schema", async () => {
    const http = (extra: string, request = "{ method: GET, path: /x }") =>
      loopbackTool("hdr", server.url, `  get: { description: Get, kind: read, request: ${request} }\n`, extra);
    expect(await refused("h.yaml", http('headers: { __proto__: "hdr", constructor: "c" }'))).toMatch(/: http\.headers\.__proto__: this name is not allowed$/);
    expect(await refused("q.yaml", http("", '{ method: GET, path: /x, query: { __proto__: "1", a: "2" } }'))).toMatch(
      /: actions\.get\.request\.query\.__proto__: this name is not allowed$/,
    );
    expect(await refused("c.yaml", http("", '{ method: GET, path: /x, cookies: { __proto__: "1" } }'))).toMatch(
      /: actions\.get\.request\.cookies\.__proto__: this name is not allowed$/,
    );
    expect(await refused("rh.yaml", http("", '{ method: GET, path: /x, headers: { __proto__: "1" } }'))).toMatch(
      /: actions\.get\.request\.headers\.__proto__: this name is not allowed$/,
    );
    expect(
      await refused(
        "s.yaml",
        `apiVersion: toolctl/v1\nname: s\ndescription: S\nruntime: echo\nactions:\n  say: { description: Say, kind: read, inputSchema: { type: object, __proto__: { type: string } } }\n`,
      ),
    ).toMatch(/: actions\.say\.inputSchema\.__proto__: this name is not allowed$/);
  });

  it("in a JSON manifest too", async () => {
    const manifest = `{"apiVersion":"toolctl/v1","name":"j","description":"J","runtime":"echo","actions":{"__proto__":{"description":"odd","kind":"read"},"ok":{"description":"Fine","kind":"read"}}}`;
    expect(await refused("j.json", manifest)).toMatch(/: actions\.__proto__: this name is not allowed$/);
  });

  it("other names that are Object.prototype's (constructor, toString) stay names: imported and sent", async () => {
    const dir = writeFiles({
      "hdr.yaml": loopbackTool(
        "hdr",
        server.url,
        '  get: { description: Get, kind: read, request: { method: GET, path: /x, query: { constructor: "q" } } }\n',
        'headers: { constructor: "c", toString: "t" }',
      ),
    });
    const toolctl = await openApi();
    expect((await toolctl.importManifests([path.join(dir, "hdr.yaml")])).failed).toEqual([]);
    expect((await toolctl.run("hdr.get", {})).status).toBe("succeeded");
    const seen = server.requests.at(-1)!;
    expect(seen.url).toBe("/x?constructor=q");
    expect(seen.headers).toMatchObject({ constructor: "c", tostring: "t" });
  });

  it("an OpenAPI parameter named __proto__ refuses the spec, naming where it would have gone", async () => {
    const dir = writeFiles({
      "spec.yaml": `openapi: 3.0.0
info: { title: P, version: "1" }
servers: [{ url: https://api.example.com }]
paths:
  /x:
    get:
      operationId: getX
      parameters:
        - { name: __proto__, in: query, schema: { type: string } }
        - { name: ok, in: query, schema: { type: string } }
      responses: { "200": { description: ok } }
`,
    });
    const toolctl = await openApi({ cwd: dir });
    const error = await rejection(toolctl.importSpec("spec.yaml", { dryRun: true }));
    expect(error).toMatchObject({ code: "manifest_invalid", exitCode: 2 });
    expect(error.message).toBe("spec.yaml: actions.getX.request.query.__proto__: this name is not allowed");
    expect(await toolctl.listTools()).toEqual([]);
  });

  it("the CLI refuses the file with exit 2", async () => {
    const dir = writeFiles({
      "odd.yaml": `apiVersion: toolctl/v1\nname: odd\ndescription: Odd\nruntime: echo\nactions:\n  __proto__: { description: odd, kind: read }\n  ok: ${ACTION}\n`,
    });
    const result = await runCli(["import", path.join(dir, "odd.yaml")], { home: tempDir("toolctl-home-") });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("actions.__proto__: this name is not allowed");
  });
});
