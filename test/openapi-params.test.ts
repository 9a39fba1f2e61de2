/**
 * `--param key=value` on imported actions: values are typed by the input schema as the import writes it, through
 * shared definitions (`$ref`), `allOf`, `anyOf` and `oneOf`; arrays take `k=a,b` and repeated `-p k=v`. Checked
 * in-process against the validator the import would compile, and end to end through the built binary.
 */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { buildInput } from "../src/engine/input.js";
import { UsageError } from "../src/errors.js";
import { runJson, tempDir, writeFiles } from "./helpers.js";
import { actionsOf, convertSpec, definitionsOf, openapi30, validatorFor } from "./fixtures/openapi/support.js";

const spec = openapi30(
  {
    "/products": {
      post: {
        operationId: "createProduct",
        parameters: [
          { name: "ids", in: "query", schema: { type: "array", items: { type: "integer" } } },
          { name: "dryRun", in: "query", schema: { $ref: "#/components/schemas/Flag" } },
        ],
        requestBody: { required: true, content: { "application/json": { schema: { $ref: "#/components/schemas/NewProduct" } } } },
        responses: { "200": { description: "ok" } },
      },
    },
  },
  {
    components: {
      schemas: {
        Flag: { type: "boolean" },
        Money: { type: "number", minimum: 0 },
        Base: { type: "object", properties: { name: { type: "string" }, stock: { type: "integer" } } },
        NewProduct: {
          allOf: [
            { $ref: "#/components/schemas/Base" },
            {
              type: "object",
              required: ["price"],
              properties: {
                price: { $ref: "#/components/schemas/Money" },
                discount: { type: "number", nullable: true },
                active: { oneOf: [{ type: "boolean" }, { type: "string", enum: ["auto"] }] },
                tags: { type: "array", items: { type: "string" } },
                sizes: { type: "array", items: { anyOf: [{ type: "integer" }, { type: "string", enum: ["XL"] }] } },
                dimensions: { $ref: "#/components/schemas/Dimensions" },
                meta: { type: "object", additionalProperties: { type: "integer" } },
                code: { type: "string" },
              },
            },
          ],
        },
        Dimensions: { anyOf: [{ type: "object", properties: { width: { type: "number" }, unit: { type: "string" } } }, { type: "null" }] },
      },
    },
  },
);

describe("--param typing through the schemas an import writes", () => {
  it("types body fields behind $ref, allOf, anyOf and oneOf as their schemas say", async () => {
    const result = await convertSpec(spec);
    const definitions = definitionsOf(result);
    const schema = actionsOf(result).createProduct!.inputSchema;
    const input = buildInput(
      {
        params: [
          "body.name=Lamp",
          "body.stock=3",
          "body.price=9.5",
          "body.discount=null",
          "body.active=true",
          "body.code=007",
          "body.dimensions.width=12.5",
          "body.dimensions.unit=cm",
          "body.meta.weight=2",
          "dryRun=false",
        ],
      },
      schema,
      (name) => definitions[name],
    );
    expect(input).toEqual({
      body: { name: "Lamp", stock: 3, price: 9.5, discount: null, active: true, code: "007", dimensions: { width: 12.5, unit: "cm" }, meta: { weight: 2 } },
      dryRun: false,
    });
    expect(validatorFor(result, "createProduct")(input)).toEqual([]);
  });

  it("takes a list as k=a,b, as repeated -p k=v, or as JSON, typing each item", async () => {
    const result = await convertSpec(spec);
    const definitions = definitionsOf(result);
    const schema = actionsOf(result).createProduct!.inputSchema;
    const build = (...params: string[]) => buildInput({ params: ["body.price=1", ...params] }, schema, (name) => definitions[name]);
    expect(build("ids=1,2,3").ids).toEqual([1, 2, 3]);
    expect(build("ids=1", "ids=2").ids).toEqual([1, 2]);
    expect(build("ids=[4,5]", "ids=6").ids).toEqual([4, 5, 6]);
    expect((build("body.tags=a,b", "body.tags=c").body as Record<string, unknown>).tags).toEqual(["a", "b", "c"]);
    expect((build("body.sizes=1,XL").body as Record<string, unknown>).sizes).toEqual([1, "XL"]);
    expect(build("ids=").ids).toEqual([]);
    // --param replaces what --params gave, then adds to it.
    expect(buildInput({ paramsJson: '{"ids":[9]}', params: ["ids=1", "ids=2"] }, schema, (name) => definitions[name]).ids).toEqual([1, 2]);
    const input = build("ids=1,2", "body.tags=x");
    expect(validatorFor(result, "createProduct")(input)).toEqual([]);
  });

  it("still refuses a value that is not JSON where only an object will do, naming the flag", () => {
    expect(() => buildInput({ params: ["filter=red"] }, { type: "object", properties: { filter: { type: "object" } } })).toThrow(UsageError);
    expect(() => buildInput({ params: ["filter=red"] }, { type: "object", properties: { filter: { type: "object" } } })).toThrow(
      '--param filter: expected a JSON object, got "red"',
    );
  });

  it("runs an imported action with typed fields from -p: the dry run shows the body that would be sent", async () => {
    const home = tempDir("toolctl-openapi-params-");
    const dir = writeFiles({ "spec.json": JSON.stringify(spec) });
    const imported = await runJson(["import", "--openapi", path.join(dir, "spec.json"), "--name", "shop"], { home });
    expect(imported.code, imported.stderr).toBe(0);
    const dry = await runJson(
      [
        "run",
        "shop.createProduct",
        "-p",
        "body.price=9.5",
        "-p",
        "body.stock=2",
        "-p",
        "body.tags=a,b",
        "-p",
        "body.tags=c",
        "-p",
        "ids=1,2",
        "-p",
        "body.dimensions.width=3",
        "--dry-run",
      ],
      { home, env: { TOOL_SHOP_API_KEY: "k" } },
    );
    expect(dry.code, JSON.stringify(dry.json.error)).toBe(0);
    expect(dry.json.request.body).toEqual({ price: 9.5, stock: 2, tags: ["a", "b", "c"], dimensions: { width: 3 } });
    expect(dry.json.request.url).toBe("https://api.example.com/v1/products?ids=1&ids=2");
    const bad = await runJson(["run", "shop.createProduct", "-p", "body.price=cheap", "--dry-run"], { home });
    expect(bad.code).toBe(2);
    expect(bad.json.error.message).toMatch(/body\.price: must be number/);
  });
});
