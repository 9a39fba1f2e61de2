/**
 * Imported actions send the requests their operations describe: a Petstore-like spec is converted, each
 * request is prepared by the http runner as a run would prepare it, and a real server on 127.0.0.1 records
 * what arrives, byte for byte (path encoding, query styles, headers, cookies, JSON and form bodies).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { manifestSchema } from "../src/domain/manifest.js";
import type { ConvertedSpec } from "../src/openapi/index.js";
import { httpRunner } from "../src/runners/http/runner.js";
import type { Prepared, RunContext, RunResult } from "../src/runners/types.js";
import { convertFixture, convertSpec, openapi30, validatorFor } from "./fixtures/openapi/support.js";

interface Received {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

const received: Received[] = [];
let server: http.Server;
let port: number;
let petstore: ConvertedSpec;
const SECRET = "k-123/+=";

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      // rawHeaders keeps each header as it was sent; lower-cased names for lookup.
      const headers: Record<string, string> = {};
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers[req.rawHeaders[i]!.toLowerCase()] = req.rawHeaders[i + 1]!;
      received.push({ method: req.method!, url: req.url!, headers, body });
      if (req.method === "DELETE" || (req.method === "POST" && req.url!.startsWith("/v3/pet/"))) {
        res.writeHead(204);
        return void res.end();
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(req.url!.startsWith("/v3/pet/findByStatus") ? [] : { id: 42, name: "Rex", photoUrls: [], status: null }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
  petstore = await convertFixture("petstore.yaml", { baseUrl: `http://127.0.0.1:${port}/v3`, allowPlainHttp: true, allowPrivateNetworks: true });
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** The context a run gives the runner, built from the converted manifest as the registry would store it. */
function contextFor(result: ConvertedSpec, name: string, input: Record<string, unknown>): RunContext {
  const { actions, ...definition } = manifestSchema.parse(result.manifest);
  const action = actions[name]!;
  return {
    tool: {
      name: definition.name,
      version: definition.version,
      description: definition.description,
      runtime: "http",
      status: "active",
      definition,
    } as unknown as RunContext["tool"],
    action: {
      tool: definition.name,
      name,
      kind: action.kind,
      description: action.description,
      definition: action,
      inputValidator: null,
      outputValidator: null,
    },
    input,
    secrets: { TOOL_PETSTORE_REQUEST_TEST_API_KEY: SECRET },
    executionId: "exec-1",
    env: {},
    sandbox: false,
    home: "",
    pullImages: false,
    redact: (text) => text,
    addSecret: () => {},
    cwd: process.cwd(),
    optionalSecret: () => undefined,
  };
}

/** Validates the input as the engine would, prepares the request, sends it, and returns what the server got. */
async function send(name: string, input: Record<string, unknown>, result = petstore): Promise<{ prepared: Prepared; outcome: RunResult; got: Received }> {
  expect(validatorFor(result, name)(input)).toEqual([]);
  const prepared = httpRunner.prepare(contextFor(result, name, input));
  const count = received.length;
  const outcome = await prepared.run({ signal: new AbortController().signal });
  expect(received).toHaveLength(count + 1);
  return { prepared, outcome, got: received[received.length - 1]! };
}

describe("requests of an imported Petstore", () => {
  it("GET /pet/{petId}: the path parameter and the API key header", async () => {
    const { prepared, outcome, got } = await send("getPetById", { petId: 42 });
    expect(got.method).toBe("GET");
    expect(got.url).toBe("/v3/pet/42");
    expect(got.headers.api_key).toBe(SECRET);
    expect(got.headers.accept).toBe("application/json, text/plain;q=0.9, */*;q=0.5");
    expect(got.body).toBe("");
    expect(outcome.outcome).toBe("succeeded");
    expect(validatorFor(petstore, "getPetById", "outputSchema")(outcome.output)).toEqual([]);
    expect(prepared.description).toMatchObject({ method: "GET", url: `http://127.0.0.1:${port}/v3/pet/42` });
  });

  it("percent-encodes a path parameter as one segment and writes a path array as a comma list", async () => {
    expect((await send("getUserByName", { username: "a b/c?d#e" })).got.url).toBe("/v3/user/a%20b%2Fc%3Fd%23e");
    expect((await send("getOrders", { orderIds: [1, 2, 3] })).got.url).toBe("/v3/store/order/1,2,3");
  });

  it("GET /pet/findByStatus: query arrays in every style, deepObject, headers and cookies; absent ones left out", async () => {
    const { prepared, got } = await send("findPetsByStatus", {
      status: ["available", "sold"],
      tags: ["a b", "c,d"],
      ids: [1, 2],
      names: ["x", "y z"],
      filter: { color: "red", size: "L" },
      page_size: 20,
      "X-Request-ID": "req-1",
      "X-Flags": ["f1", "f2"],
      session: "s3cr3t==",
    });
    expect(got.url).toBe(
      "/v3/pet/findByStatus?status=available&status=sold&tags=a+b,c%2Cd&ids=1|2&names=x%20y+z&filter[color]=red&filter[size]=L&page[size]=20",
    );
    expect(got.headers["x-request-id"]).toBe("req-1");
    expect(got.headers["x-flags"]).toBe("f1,f2");
    expect(got.headers.cookie).toBe("session=s3cr3t==");
    expect(got.headers).not.toHaveProperty("x-trace");
    expect(got.url).not.toContain("limit");
    // The dry run shows exactly what was sent.
    expect(prepared.description.url).toBe(`http://127.0.0.1:${port}${got.url}`);
    expect((prepared.description.headers as Record<string, string>).cookie).toBe(got.headers.cookie);
  });

  it("percent-encodes a cookie value that is not made of cookie octets, and sends several cookies in one header", async () => {
    const { got } = await send("findPetsByStatus", { status: ["pending"], "X-Request-ID": "r", session: "a b;c", theme: "dark" });
    expect(got.url).toBe("/v3/pet/findByStatus?status=pending");
    expect(got.headers.cookie).toBe("session=a%20b%3Bc; theme=dark");
  });

  it("POST /pet: the body as JSON", async () => {
    const body = { name: "Rex", photoUrls: ["https://img.example.com/rex.png"], category: { id: 1, name: "Dogs" }, status: "available" };
    const { prepared, got } = await send("addPet", { body });
    expect(got.method).toBe("POST");
    expect(got.url).toBe("/v3/pet");
    expect(got.body).toBe(JSON.stringify(body));
    expect(got.headers["content-type"]).toBe("application/json");
    expect(got.headers["content-length"]).toBe(String(Buffer.byteLength(got.body)));
    expect(prepared.description.body).toEqual(body);
  });

  it("POST /pet/{petId}: a form body, arrays repeated and deepObject fields in brackets; no body when it is left out", async () => {
    const { prepared, got } = await send("updatePetWithForm", { petId: 7, body: { name: "Rex Jr", tags: ["a", "b"], meta: { x: "1", y: "2 3" } } });
    expect(got.url).toBe("/v3/pet/7");
    expect(got.body).toBe("name=Rex+Jr&tags=a&tags=b&meta%5Bx%5D=1&meta%5By%5D=2+3");
    expect(got.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(prepared.description.body).toEqual({ name: "Rex Jr", tags: ["a", "b"], meta: { x: "1", y: "2 3" } });
    const empty = await send("updatePetWithForm", { petId: 7 });
    expect(empty.got.body).toBe("");
    expect(empty.got.headers).not.toHaveProperty("content-type");
    expect(empty.prepared.description.body).toBeUndefined();
  });

  it("PATCH with a +json media type sends it as the Content-Type", async () => {
    const { got } = await send("patchPet", { petId: 5, body: { name: "Max" } });
    expect(got.method).toBe("PATCH");
    expect(got.headers["content-type"]).toBe("application/merge-patch+json");
    expect(got.body).toBe('{"name":"Max"}');
  });

  it("DELETE /pet/{petId}: the API key from the tool's auth, an absent optional header not sent at all", async () => {
    const { got, outcome } = await send("deletePet", { petId: 9 });
    expect(got.method).toBe("DELETE");
    expect(got.url).toBe("/v3/pet/9");
    expect(got.headers.api_key).toBe(SECRET);
    expect(got.headers).not.toHaveProperty("reason");
    expect(outcome).toMatchObject({ outcome: "succeeded", output: null });
    const withReason = await send("deletePet", { petId: 9, reason: "adopted" });
    expect(withReason.got.headers.reason).toBe("adopted");
  });
});

describe("requests of an imported Swagger 2 spec", () => {
  it("writes collectionFormat csv, multi and pipes as Swagger 2 means them", async () => {
    const result = await convertSpec(
      {
        swagger: "2.0",
        info: { title: "Petstore Request Test", version: "1" },
        host: "example.com",
        paths: {
          "/items": {
            get: {
              operationId: "listItems",
              parameters: [
                { name: "tags", in: "query", type: "array", items: { type: "string" } },
                { name: "ids", in: "query", type: "array", collectionFormat: "multi", items: { type: "integer" } },
                { name: "codes", in: "query", type: "array", collectionFormat: "pipes", items: { type: "string" } },
                { name: "X-Ids", in: "header", type: "array", items: { type: "string" } },
              ],
              responses: { "200": { description: "ok", schema: { type: "array", items: { type: "object" } } } },
            },
            post: {
              operationId: "addItem",
              consumes: ["application/x-www-form-urlencoded"],
              parameters: [
                { name: "name", in: "formData", required: true, type: "string" },
                { name: "nick", in: "formData", type: "array", items: { type: "string" } },
              ],
              responses: { "200": { description: "ok" } },
            },
          },
        },
      },
      { baseUrl: `http://127.0.0.1:${port}/v3`, allowPlainHttp: true, allowPrivateNetworks: true },
    );
    const list = await send("listItems", { tags: ["a", "b"], ids: [1, 2], codes: ["x", "y"], "X-Ids": ["7", "8"] }, result);
    expect(list.got.url).toBe("/v3/items?tags=a,b&ids=1&ids=2&codes=x|y");
    expect(list.got.headers["x-ids"]).toBe("7,8");
    const add = await send("addItem", { body: { name: "n", nick: ["a", "b"] } }, result);
    expect(add.got.body).toBe("name=n&nick=a%2Cb");
  });
});

describe("an operation with a server of its own", () => {
  it("is sent to that server, not to the tool's base URL", async () => {
    const result = await convertSpec(
      openapi30(
        {
          "/files/{id}": {
            get: {
              operationId: "getFile",
              servers: [{ url: `http://127.0.0.1:${port}/uploads` }],
              parameters: [{ name: "id", in: "path", schema: { type: "string" } }],
              responses: { "200": { description: "ok" } },
            },
          },
        },
        { info: { title: "Petstore Request Test", version: "1" } },
      ),
      { baseUrl: `http://127.0.0.1:${port}/v3`, allowPlainHttp: true, allowPrivateNetworks: true },
    );
    const { prepared, got } = await send("getFile", { id: "f1" }, result);
    expect(got.url).toBe("/uploads/files/f1");
    expect(prepared.description.url).toBe(`http://127.0.0.1:${port}/uploads/files/f1`);
  });

  it("on another private port: with private networks allowed, its origin is allowed too, and the call goes there", async () => {
    const other = http.createServer((req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ url: req.url }));
    });
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    const otherPort = (other.address() as AddressInfo).port;
    try {
      const result = await convertSpec(
        openapi30(
          {
            "/files": {
              get: { operationId: "listFiles", servers: [{ url: `http://127.0.0.1:${otherPort}/up` }], responses: { "200": { description: "ok" } } },
            },
          },
          { info: { title: "Two Ports", version: "1" } },
        ),
        { baseUrl: `http://127.0.0.1:${port}/v3`, allowPlainHttp: true, allowPrivateNetworks: true },
      );
      expect(result.manifest.http).toMatchObject({ allowedHosts: ["127.0.0.1", `http://127.0.0.1:${otherPort}`] });
      const outcome = await httpRunner.prepare(contextFor(result, "listFiles", {})).run({ signal: new AbortController().signal });
      expect(outcome).toMatchObject({ outcome: "succeeded", output: { url: "/up/files" } });
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });
});

describe("a base URL with a query or a fragment", () => {
  const itemsSpec = (servers: unknown[]) =>
    openapi30(
      {
        "/items/{id}": {
          parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
          get: {
            operationId: "getItem",
            parameters: [
              { name: "q", in: "query", schema: { type: "string" } },
              { name: "tenant", in: "query", schema: { type: "string" } },
            ],
            responses: { "200": { description: "ok" } },
          },
          delete: { operationId: "deleteItem", responses: { "204": { description: "gone" } } },
        },
      },
      { info: { title: "Petstore Request Test", version: "1" }, servers },
    );
  const loopback = { allowPlainHttp: true, allowPrivateNetworks: true };

  it("a server's fragment is left out with a warning, and the path goes after the server's own path", async () => {
    const result = await convertSpec(itemsSpec([{ url: `http://127.0.0.1:${port}/v3#section` }]), loopback);
    expect(result.manifest.baseUrl).toBe(`http://127.0.0.1:${port}/v3`);
    expect(result.report.warnings).toContain(
      `the server URL "http://127.0.0.1:${port}/v3#section" has a fragment (#section), which is never sent: it is left out`,
    );
    const { prepared, got } = await send("deleteItem", { id: "42" }, result);
    expect(got).toMatchObject({ method: "DELETE", url: "/v3/items/42" });
    expect(prepared.description.url).toBe(`http://127.0.0.1:${port}/v3/items/42`);
  });

  it("a base URL's query is sent after the path, with the operation's own query parameters, which win over it", async () => {
    const result = await convertSpec(itemsSpec([{ url: "https://api.example.com/v1" }]), {
      baseUrl: `http://127.0.0.1:${port}/v3/?tenant=t1&v=2`,
      ...loopback,
    });
    expect(result.manifest.baseUrl).toBe(`http://127.0.0.1:${port}/v3?tenant=t1&v=2`);
    const plain = await send("getItem", { id: "1", q: "z" }, result);
    expect(plain.got.url).toBe("/v3/items/1?tenant=t1&v=2&q=z");
    expect(plain.prepared.description.url).toBe(`http://127.0.0.1:${port}${plain.got.url}`);
    expect((await send("getItem", { id: "1", tenant: "t2" }, result)).got.url).toBe("/v3/items/1?v=2&tenant=t2");
    expect((await send("deleteItem", { id: "9" }, result)).got.url).toBe("/v3/items/9?tenant=t1&v=2");
  });

  it("a server's query is kept the same way", async () => {
    const result = await convertSpec(itemsSpec([{ url: `http://127.0.0.1:${port}/v3?api-version=2024-01-01` }]), loopback);
    expect(result.report.warnings.filter((w) => w.includes("fragment"))).toEqual([]);
    expect((await send("getItem", { id: "a b", q: "z" }, result)).got.url).toBe("/v3/items/a%20b?api-version=2024-01-01&q=z");
  });

  it("--base-url with a fragment is refused, naming the flag", async () => {
    const error = await convertSpec(itemsSpec([{ url: "https://api.example.com/v1" }]), { baseUrl: "https://api.example.com/v1#top" }).catch((e: Error) => e);
    expect((error as Error).message).toBe('--base-url "https://api.example.com/v1#top" has a fragment (#top), which is never sent; leave it out');
  });
});
