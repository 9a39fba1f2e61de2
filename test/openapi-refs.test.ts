/**
 * References in OpenAPI specs: operations (and path items) that are `$ref`s to other files, `$ref` keys that are
 * data (examples, defaults, enums, consts, extensions), and what happens to the operations a reference that
 * cannot be resolved leaves behind: they are reported with the reason, the rest is imported (`strict` refuses).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PolicyError, ToolctlError, ValidationError } from "../src/errors.js";
import { convertOpenApi } from "../src/openapi/index.js";
import { tempDir } from "./helpers.js";
import { actionsOf, convertFixture, convertSpec, definitionsOf, expectImportable, op, openapi30, validatorFor } from "./fixtures/openapi/support.js";

async function failure(promise: Promise<unknown>): Promise<ToolctlError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ToolctlError);
    expect((error as Error).message).not.toContain("\n");
    return error as ToolctlError;
  }
  throw new Error("expected the conversion to fail");
}

/** Writes files (name → object as JSON, or text) into a fresh directory and returns it. */
function specDir(files: Record<string, object | string>): string {
  const dir = tempDir("toolctl-openapi-refs-");
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), typeof content === "string" ? content : JSON.stringify(content, null, 2));
  }
  return dir;
}

const skippedOf = (result: Awaited<ReturnType<typeof convertFixture>>) =>
  Object.fromEntries(result.report.skipped.map((s) => [`${s.method} ${s.path}`, s.reason]));

describe("operations that are $refs", () => {
  it("follows an operation written as a $ref to another file, resolving what it refers to against that file", async () => {
    const result = await convertFixture("split/openapi.yaml");
    expect(result.report.imported.map((i) => `${i.method} ${i.path} ${i.operationId}`)).toEqual([
      "GET /droplets droplets_list",
      "POST /droplets droplets_create",
      "GET /droplets/{droplet_id} droplets_get",
      "GET /images images_list",
    ]);
    const { droplets_list: list, droplets_create: create, droplets_get: get } = actionsOf(result);
    expect(list!.description).toBe("List all droplets");
    expect(list!.inputSchema.properties).toEqual({
      per_page: { type: "integer", minimum: 1, maximum: 200, default: 20 },
      page: { type: "integer", minimum: 1 },
      tag_name: { type: "string" },
    });
    expect(list!.request).toEqual({
      method: "GET",
      path: "/droplets",
      query: { per_page: "{{ input.per_page }}", page: "{{ input.page }}", tag_name: "{{ input.tag_name }}" },
    });
    expect(list!.outputSchema).toEqual({ type: "object", properties: { droplets: { type: "array", items: { $ref: "#/$defs/droplet" } } } });
    expect(create!.inputSchema).toMatchObject({ required: ["body"], properties: { body: { $ref: "#/$defs/droplet_create" } } });
    expect(create!.request).toEqual({ method: "POST", path: "/droplets", json: "{{ input.body }}" });
    expect(get!.request.path).toBe("/droplets/{{ input.droplet_id }}");
    expect(definitionsOf(result).droplet_create.required).toEqual(["name", "size"]);
    expectImportable(result);
    expect(validatorFor(result, "droplets_create")({ body: { name: "web-1", size: "s-1vcpu-1gb", volumes: ["v1"] } })).toEqual([]);
    expect(validatorFor(result, "droplets_get")({ droplet_id: 0 })).not.toEqual([]);
  });

  it("reports each operation whose file, or whose path item's file, cannot be read, and never imports one hollow", async () => {
    const result = await convertFixture("split/openapi.yaml");
    expect(result.report.operations).toBe(7);
    expect(skippedOf(result)).toEqual({
      "DELETE /droplets/{droplet_id}":
        'split/openapi.yaml: $ref "resources/droplets/delete.yml" cannot be resolved: split/resources/droplets/delete.yml does not exist',
      "GET /droplets/{droplet_id}/snapshots":
        'split/resources/droplets/models/snapshot.yml: $ref "../../regions/models/region.yml" cannot be resolved: split/resources/regions/models/region.yml does not exist',
      "* /volumes": 'split/openapi.yaml: $ref "resources/volumes/volumes.yml" cannot be resolved: split/resources/volumes/volumes.yml does not exist',
    });
    for (const action of Object.values(actionsOf(result))) expect(action.request.method).toMatch(/^(GET|POST)$/);
    expect(Object.keys(actionsOf(result))).not.toContain("delete_droplets_droplet_id");
  });

  it("follows a path item or an operation that refers into the same document, and reports one that points nowhere", async () => {
    const result = await convertSpec(
      openapi30(
        {
          "/a": { $ref: "#/x-path-items/a" },
          "/b": { get: { $ref: "#/x-operations/getB" }, put: { $ref: "#/x-operations/nowhere" } },
        },
        {
          "x-path-items": { a: { get: op({ operationId: "getA", parameters: [{ name: "q", in: "query", schema: { type: "string" } }] }) } },
          "x-operations": { getB: op({ operationId: "getB" }) },
        },
      ),
    );
    expect(result.report.imported.map((i) => i.action)).toEqual(["getA", "getB"]);
    expect(actionsOf(result).getA!.inputSchema.properties).toEqual({ q: { type: "string" } });
    expect(skippedOf(result)).toEqual({ "PUT /b": 'spec.json: $ref "#/x-operations/nowhere" cannot be resolved: no "nowhere" at spec.json#/x-operations' });
  });
});

describe("$ref keys inside data", () => {
  const DATA_REF = { $ref: "https://docs.example.com/schemas/widget.json" };

  it("takes examples, defaults, enums, consts and extensions as they are: never fetched, never resolved", async () => {
    const result = await convertSpec(
      openapi30(
        {
          "/widgets": {
            post: op({
              operationId: "createWidget",
              "x-code-samples": [{ lang: "curl", source: { $ref: "./samples/create.sh" } }],
              parameters: [
                { name: "view", in: "query", schema: { type: "object", default: DATA_REF }, example: DATA_REF, examples: { one: { value: DATA_REF } } },
              ],
              requestBody: {
                content: {
                  "application/json": {
                    schema: { $ref: "#/components/schemas/Widget" },
                    example: { spec: DATA_REF },
                    examples: { full: { summary: "a widget", value: { spec: { $ref: "#/nowhere" } } }, "x-more": DATA_REF },
                  },
                },
              },
            }),
          },
        },
        {
          "x-extension": { nested: { $ref: "../outside.yaml" } },
          components: {
            schemas: {
              Widget: {
                type: "object",
                "x-origin": DATA_REF,
                properties: {
                  spec: { type: "object", enum: [DATA_REF, { $ref: "#/also/nowhere" }] },
                  marker: { const: { $ref: "#/components/schemas/Widget" } },
                  example: { type: "string", example: { $ref: "#/x" } },
                },
              },
            },
            examples: { shared: { value: DATA_REF } },
          },
        },
      ),
    );
    expect(result.report.skipped).toEqual([]);
    expect(result.report.warnings).toEqual([]);
    const { createWidget } = actionsOf(result);
    expect(createWidget!.inputSchema.properties.view).toEqual({ type: "object", default: DATA_REF });
    const widget = definitionsOf(result).Widget;
    expect(widget.properties.spec.enum).toEqual([DATA_REF, { $ref: "#/also/nowhere" }]);
    expect(widget.properties.marker).toEqual({ const: { $ref: "#/components/schemas/Widget" } });
    expect(Object.keys(definitionsOf(result))).toEqual(["Widget"]);
    expectImportable(result);
    const validate = validatorFor(result, "createWidget");
    expect(validate({ body: { spec: DATA_REF, marker: { $ref: "#/components/schemas/Widget" } } })).toEqual([]);
    expect(validate({ body: { marker: { $ref: "#/other" } } })).not.toEqual([]);
  });

  it("leaves data alone in OpenAPI 3.1 specs that use $id, where references are rewritten", async () => {
    const result = await convertSpec({
      openapi: "3.1.0",
      info: { title: "Ids", version: "1" },
      servers: [{ url: "https://api.example.com" }],
      paths: {
        "/things": {
          post: {
            operationId: "thing",
            requestBody: {
              content: {
                "application/json": { schema: { $ref: "https://example.com/schemas/thing" }, example: { $ref: "https://example.com/schemas/thing#name" } },
              },
            },
            responses: { "200": { description: "ok" } },
          },
        },
      },
      components: {
        schemas: {
          Thing: {
            $id: "https://example.com/schemas/thing",
            type: "object",
            properties: {
              name: { $anchor: "name", type: "string" },
              link: { const: { $ref: "https://example.com/schemas/thing#name" } },
              others: { examples: [{ $ref: "https://example.com/schemas/thing" }] },
            },
          },
        },
      },
    });
    expect(definitionsOf(result).Thing.properties.link).toEqual({ const: { $ref: "https://example.com/schemas/thing#name" } });
    expectImportable(result);
  });
});

describe("operations left out by references that cannot be resolved", () => {
  const json = (schema: unknown) => ({ "200": { description: "ok", content: { "application/json": { schema } } } });
  // getInvoice comes first: the definitions it reaches (Order, Customer, Address) are converted while it fails,
  // and must still serve the operations after it.
  const files = {
    "spec.json": openapi30(
      {
        "/orders/{id}/invoice": {
          get: op({
            operationId: "getInvoice",
            parameters: [{ name: "id", in: "path", schema: { type: "string" } }],
            responses: json({ $ref: "#/components/schemas/Invoice" }),
          }),
        },
        "/orders": {
          get: op({ operationId: "listOrders", responses: json({ type: "array", items: { $ref: "#/components/schemas/Order" } }) }),
          post: op({
            operationId: "createOrder",
            requestBody: { required: true, content: { "application/json": { schema: { $ref: "#/components/schemas/NewOrder" } } } },
          }),
        },
        "/coupons/{code}": {
          get: op({
            operationId: "getCoupon",
            parameters: [{ name: "code", in: "path", schema: { type: "string" } }],
            responses: json({ $ref: "#/components/schemas/Coupon" }),
          }),
        },
        "/customers": { get: op({ operationId: "listCustomers", responses: json({ type: "array", items: { $ref: "#/components/schemas/Customer" } }) }) },
        "/remote": { get: op({ operationId: "getRemote", responses: json({ $ref: "https://schemas.example.com/remote.json" }) }) },
      },
      {
        components: {
          schemas: {
            Invoice: { type: "object", properties: { order: { $ref: "#/components/schemas/Order" }, tax: { $ref: "tax/rates.json#/Rate" } } },
            Order: { type: "object", required: ["id"], properties: { id: { type: "string" }, customer: { $ref: "#/components/schemas/Customer" } } },
            NewOrder: {
              type: "object",
              properties: { customer: { $ref: "#/components/schemas/Customer" }, lines: { type: "array", items: { $ref: "models.json#/Line" } } },
            },
            Coupon: { type: "object", properties: { code: { type: "string" }, rule: { $ref: "models.json#/Rule" } } },
            Customer: { type: "object", required: ["name"], properties: { name: { type: "string" }, address: { $ref: "#/components/schemas/Address" } } },
            Address: { type: "object", properties: { city: { type: "string" } } },
          },
        },
      },
    ),
    "models.json": { Line: { type: "object", properties: { sku: { type: "string" } } } },
  };
  const convert = (options: { strict?: boolean } = {}) => convertOpenApi("spec.json", { env: {}, cwd: specDir(files), ...options });

  it("imports what resolves, and names each operation left out, the reference and why", async () => {
    const result = await convert();
    expect(result.report.imported.map((i) => i.action)).toEqual(["listOrders", "createOrder", "listCustomers"]);
    expect(skippedOf(result)).toEqual({
      "GET /orders/{id}/invoice": 'spec.json: $ref "tax/rates.json#/Rate" cannot be resolved: tax/rates.json does not exist',
      "GET /coupons/{code}": 'spec.json: $ref "models.json#/Rule" cannot be resolved: no "Rule" at models.json#/',
      "GET /remote": 'spec.json: $ref "https://schemas.example.com/remote.json" refused: a local spec may only refer to local files',
    });
    expect(Object.keys(definitionsOf(result)).sort()).toEqual(["Address", "Customer", "Line", "NewOrder", "Order"]);
    expectImportable(result);
    const validate = validatorFor(result, "listOrders", "outputSchema");
    expect(validate([{ id: "o1", customer: { name: "Ann", address: { city: "Oslo" } } }])).toEqual([]);
    expect(validate([{ id: "o1", customer: { address: {} } }])).not.toEqual([]);
  });

  it("refuses the spec instead when strict, naming how many operations and the first", async () => {
    const error = await failure(convert({ strict: true }));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(
      'spec.json: 3 of the 6 selected operation(s) cannot be imported (--strict): GET /orders/{id}/invoice: $ref "tax/rates.json#/Rate" cannot be resolved: tax/rates.json does not exist',
    );
  });

  it("refuses a spec none of whose operations can be imported, with the first reason and its exit code", async () => {
    const missing = await failure(convertFixture("bad/missing-file.yaml"));
    expect(missing).toBeInstanceOf(ValidationError);
    expect(missing.message).toBe(
      'bad/missing-file.yaml: none of the 1 selected operation(s) can be imported: GET /pets: $ref "./nowhere/pet.yaml#/Pet" cannot be resolved: bad/nowhere/pet.yaml does not exist',
    );
    const remote = await failure(convertFixture("bad/remote-ref.yaml"));
    expect(remote).toBeInstanceOf(PolicyError);
    expect(remote.exitCode).toBe(3);
    expect(remote.message).toBe(
      'bad/remote-ref.yaml: none of the 1 selected operation(s) can be imported: GET /pets: $ref "https://schemas.example.com/pet.yaml#/Pet" refused: a local spec may only refer to local files',
    );
  });

  it("never lets a reference in an extension block an import, strict or not", async () => {
    const result = await convertFixture("split/openapi.yaml", { operations: ["droplets_list", "droplets_create"], strict: true });
    expect(result.report.imported.map((i) => i.action)).toEqual(["droplets_list", "droplets_create"]);
  });
});
