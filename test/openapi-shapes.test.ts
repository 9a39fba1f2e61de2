/**
 * Schema shapes that spread one rule over several schema objects: `required` on one object and the
 * `readOnly`/`writeOnly` properties it names on another (through `allOf` and `$ref`), and OpenAPI 3.0
 * `nullable` beside `type` and `allOf`. Each spec is imported through the API, run against a loopback server,
 * and checked by what is sent and by the validation a real run does.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Toolctl } from "../src/api/index.js";
import { FakeServer, sendJson, sendText } from "./fakes/server.js";
import { openApi, writeFiles } from "./helpers.js";
import { convertSpec, op, openapi30 } from "./fixtures/openapi/support.js";

let server: FakeServer;
/** What the server answers next, by path: a value sent as JSON, or raw text as application/json. */
const answers = new Map<string, { json?: unknown; text?: string }>();

beforeAll(async () => {
  server = await new FakeServer((req, res) => {
    const answer = answers.get(new URL(req.url, "http://x").pathname);
    if (answer?.text !== undefined) sendText(res, 200, answer.text, "application/json");
    else sendJson(res, 200, answer?.json ?? {});
  }).start();
});
afterAll(() => server.close());

/** A fresh home with `spec` imported as tool `s1`, pointed at the loopback server and active. */
async function imported(spec: Record<string, unknown>): Promise<Toolctl> {
  const dir = writeFiles({ "spec.json": JSON.stringify(spec) });
  const toolctl = await openApi({ cwd: dir });
  const { report } = await toolctl.importSpec(path.join(dir, "spec.json"), {
    name: "s1",
    baseUrl: `${server.url}/v1`,
    allowPlainHttp: true,
    allowPrivateNetworks: true,
  });
  expect(report.skipped ?? []).toEqual([]);
  await toolctl.approveTool("s1", { confirm: async () => "yes" });
  return toolctl;
}

/** Runs an action as a user who approves it (imported writes are MEDIUM risk). */
const run = (toolctl: Toolctl, target: string, input: Record<string, unknown>) => toolctl.run(target, input, { approve: async () => ({ approved: true }) });

const json = (schema: Record<string, unknown>) => ({ content: { "application/json": { schema } } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

describe("readOnly and writeOnly properties named by a `required` on another schema object", () => {
  const spec = openapi30(
    {
      "/pets": {
        post: {
          operationId: "makePet",
          requestBody: { required: true, ...json(ref("Pet")) },
          responses: { "200": { description: "ok", ...json(ref("Pet")) } },
        },
      },
      "/dogs": {
        post: {
          operationId: "makeDog",
          requestBody: { required: true, ...json(ref("Dog")) },
          responses: { "200": { description: "ok", ...json(ref("Dog")) } },
        },
      },
    },
    {
      components: {
        schemas: {
          Base: {
            properties: { id: { type: "string", readOnly: true }, name: { type: "string" }, draft: { type: "string", writeOnly: true } },
          },
          Pet: { type: "object", required: ["id", "name", "draft"], allOf: [ref("Base")] },
          // Two steps away: Dog's `required` names properties of Base, through Named.
          Named: { allOf: [ref("Base")] },
          Dog: { type: "object", required: ["id", "name"], allOf: [ref("Named"), { properties: { bark: { type: "string" } } }] },
        },
      },
    },
  );

  it("sends a request without the readOnly property, and accepts a response without the writeOnly one", async () => {
    const toolctl = await imported(spec);
    answers.set("/v1/pets", { json: { id: "p1", name: "rex" } });
    const result = await run(toolctl, "s1.makePet", { body: { name: "rex", draft: "d1" } });
    expect(result.error).toBeUndefined();
    expect(result.status).toBe("succeeded");
    expect(result.output).toEqual({ id: "p1", name: "rex" });
    expect(JSON.parse(server.requestsTo("/v1/pets").at(-1)!.body)).toEqual({ name: "rex", draft: "d1" });

    // What stays required still is.
    const missing = await run(toolctl, "s1.makePet", { body: { draft: "d1" } });
    expect(missing.error?.code).toBe("input_invalid");
    expect(missing.error?.message).toContain("input.body.name: is required");
    expect(missing.error?.message).not.toContain("input.body.id");

    answers.set("/v1/dogs", { json: { id: "d1", name: "fido" } });
    const dog = await run(toolctl, "s1.makeDog", { body: { name: "fido" } });
    expect(dog.error).toBeUndefined();
    expect(JSON.parse(server.requestsTo("/v1/dogs").at(-1)!.body)).toEqual({ name: "fido" });
  });

  it("writes `.input` and `.output` variants for the schemas whose `required` changes, and re-imports them unchanged", async () => {
    const toolctl = await imported(spec);
    const exported = await toolctl.exportTool("s1", { format: "json" });
    const manifest = exported.manifest as { definitions: Record<string, { required?: string[] }> };
    expect(Object.keys(manifest.definitions).sort()).toEqual(["Base", "Dog", "Dog.input", "Named", "Pet.input", "Pet.output"]);
    expect(manifest.definitions["Pet.input"]!.required).toEqual(["name", "draft"]);
    expect(manifest.definitions["Pet.output"]!.required).toEqual(["id", "name"]);
    expect(manifest.definitions["Dog.input"]!.required).toEqual(["name"]);
    expect(manifest.definitions.Dog!.required).toEqual(["id", "name"]);
    const dir = writeFiles({ "s1.json": exported.text });
    const again = await toolctl.importManifests([dir]);
    expect(again.imported.map((item) => item.change)).toEqual(["unchanged"]);
  });
});

describe("OpenAPI 3.0 nullable beside type and allOf", () => {
  const spec = openapi30(
    {
      "/things": {
        put: {
          operationId: "putThing",
          requestBody: { required: true, ...json(ref("Thing")) },
          responses: { "200": { description: "ok", ...json(ref("Thing")) } },
        },
      },
    },
    {
      components: {
        schemas: {
          Base: { type: "object", required: ["a"], properties: { a: { type: "string" } } },
          Thing: { type: "object", nullable: true, allOf: [ref("Base")] },
        },
      },
    },
  );

  it("accepts null in a request and in a response, and still checks a value that is not null", async () => {
    const toolctl = await imported(spec);
    answers.set("/v1/things", { text: "null" });
    const result = await run(toolctl, "s1.putThing", { body: null });
    expect(result.error).toBeUndefined();
    expect(result.status).toBe("succeeded");
    expect(result.output).toBeNull();

    answers.set("/v1/things", { json: { a: "1" } });
    const value = await run(toolctl, "s1.putThing", { body: { a: "1" } });
    expect(value.error).toBeUndefined();
    expect(JSON.parse(server.requestsTo("/v1/things").at(-1)!.body)).toEqual({ a: "1" });

    const wrong = await run(toolctl, "s1.putThing", { body: { b: 2 } });
    expect(wrong.error?.code).toBe("input_invalid");
  });

  it("writes the nullable schema as anyOf with null, keeping its own type", async () => {
    const toolctl = await imported(spec);
    const manifest = (await toolctl.exportTool("s1", { format: "json" })).manifest as { definitions: Record<string, unknown> };
    expect(manifest.definitions.Thing).toEqual({ anyOf: [{ type: "object", allOf: [{ $ref: "#/$defs/Base" }] }, { type: "null" }] });
  });
});

describe("an object path parameter with explode: true", () => {
  it("is skipped and said so: simple style would send a=1,b=2, which a path template cannot", async () => {
    const result = await convertSpec(
      openapi30({
        "/items/{obj}": {
          get: op({
            operationId: "pathobj",
            parameters: [{ name: "obj", in: "path", required: true, explode: true, schema: { type: "object" } }],
          }),
        },
        "/lists/{ids}": {
          get: op({
            operationId: "pathlist",
            parameters: [{ name: "ids", in: "path", required: true, explode: true, schema: { type: "array", items: { type: "string" } } }],
          }),
        },
      }),
    );
    expect(result.report.skipped).toEqual([
      { method: "GET", path: "/items/{obj}", operationId: "pathobj", reason: 'path parameter "obj" is an object with explode: true, which is not supported' },
    ]);
  });
});
