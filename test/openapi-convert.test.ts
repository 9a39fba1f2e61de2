/**
 * The OpenAPI converter, spec in, manifest out: names, input and output schemas, kinds, base URL, auth,
 * filters, schema dialects, multi-file and remote references, bad specs, and a Stripe-sized spec.
 */
import { readdirSync, statSync, writeFileSync, cpSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateStripeLikeSpec } from "../bench/gen-openapi.mjs";
import { PolicyError, ToolctlError, UsageError, ValidationError } from "../src/errors.js";
import { convertOpenApi } from "../src/openapi/index.js";
import { shortHash } from "../src/openapi/names.js";
import { tempDir } from "./helpers.js";
import {
  actionsOf,
  convertFixture,
  convertSpec,
  definitionsOf,
  expectImportable,
  fixturesDir,
  op,
  openapi30,
  validatorFor,
} from "./fixtures/openapi/support.js";

async function failure(promise: Promise<unknown>): Promise<ToolctlError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ToolctlError);
    const message = (error as Error).message;
    expect(message).not.toContain("\n");
    return error as ToolctlError;
  }
  throw new Error("expected the conversion to fail");
}

function namesByIdentity(result: Awaited<ReturnType<typeof convertSpec>>): Record<string, string> {
  return Object.fromEntries(result.report.imported.map((i) => [`${i.method} ${i.path}`, i.action]));
}

describe("action names", () => {
  it("uses valid operationIds as they are and sanitises the others, or builds one from method and path", async () => {
    const result = await convertSpec(
      openapi30({
        "/pets": { get: op({ operationId: "pets.list" }), post: op({ operationId: "createPet" }) },
        "/pets/{petId}": { get: op({ operationId: "get-pet-by-id" }), delete: op() },
        "/pets/{petId}/toys": { get: op() },
        "/2fa": { post: op({ operationId: "2fa.enable" }) },
        "/weird": { put: op({ operationId: "__Ünïcode name!!" }) },
      }),
    );
    expect(namesByIdentity(result)).toEqual({
      "GET /pets": "pets_list",
      "POST /pets": "createPet",
      "GET /pets/{petId}": "get_pet_by_id",
      "DELETE /pets/{petId}": "delete_pets_petId",
      "GET /pets/{petId}/toys": "get_pets_petId_toys",
      "POST /2fa": "op_2fa_enable",
      "PUT /weird": "n_code_name",
    });
    expectImportable(result);
  });

  it("cuts a name at 64 characters with a hash of method and path, the same on every import", async () => {
    const long = `very${"Long".repeat(30)}OperationId`;
    const spec = openapi30({
      "/x": { get: op({ operationId: long }) },
      "/y/{id}/and/a/very/long/path/indeed/that/goes/on/and/on/and/on/forever": { get: op() },
    });
    const first = namesByIdentity(await convertSpec(spec));
    expect(first["GET /x"]).toBe(`${long.slice(0, 57)}_${shortHash("GET /x")}`);
    expect(first["GET /x"]).toHaveLength(64);
    const derived = first["GET /y/{id}/and/a/very/long/path/indeed/that/goes/on/and/on/and/on/forever"]!;
    expect(derived.length).toBeLessThanOrEqual(64);
    expect(derived).toMatch(/^get_y_id_and_a_very_long_path.*_[0-9a-f]{6}$/);
    expect(namesByIdentity(await convertSpec(spec))).toEqual(first);
  });

  it("keeps names unique: an exact operationId keeps its name, the others that would share it get a hash", async () => {
    const result = await convertSpec(
      openapi30({
        "/a": { get: op({ operationId: "pets.list" }) },
        "/b": { get: op({ operationId: "pets_list" }) },
        "/c-d": { get: op() },
        "/c_d": { get: op() },
      }),
    );
    expect(namesByIdentity(result)).toEqual({
      "GET /a": `pets_list_${shortHash("GET /a")}`,
      "GET /b": "pets_list",
      "GET /c-d": `get_c_d_${shortHash("GET /c-d")}`,
      "GET /c_d": `get_c_d_${shortHash("GET /c_d")}`,
    });
  });

  it("gives every operation the same name when operations are reordered or others are added", async () => {
    const paths = {
      "/pets": { get: op({ operationId: "listPets" }), post: op() },
      "/pets/{id}": { get: op({ operationId: "pets.get" }), patch: op() },
      "/stores/{storeId}/orders": { get: op({ operationId: "x".repeat(70) }) },
    };
    const before = namesByIdentity(await convertSpec(openapi30(paths)));
    const reordered = Object.fromEntries(
      Object.entries(paths)
        .reverse()
        .map(([p, item]) => [p, Object.fromEntries(Object.entries(item).reverse())]),
    );
    const after = namesByIdentity(
      await convertSpec(
        openapi30({
          "/new": { get: op({ operationId: "brandNew" }), post: op() },
          ...reordered,
          "/pets/{id}/photos": { get: op() },
        }),
      ),
    );
    for (const [identity, name] of Object.entries(before)) expect(after[identity]).toBe(name);
  });

  it("refuses two operations with one operationId, naming both", async () => {
    const error = await failure(convertFixture("bad/duplicate-ids.yaml"));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe('bad/duplicate-ids.yaml: duplicate operationId "listPets": GET /pets and GET /animals');
  });
});

describe("input schema and request template", () => {
  it("gathers path, query, header and cookie parameters and the body into one object with the right required list", async () => {
    const result = await convertSpec(
      openapi30({
        "/stores/{storeId}/pets": {
          post: op({
            operationId: "addPet",
            parameters: [
              { name: "storeId", in: "path", schema: { type: "string" } },
              { name: "dryRun", in: "query", schema: { type: "boolean" } },
              { name: "lang", in: "query", required: true, schema: { type: "string" } },
              { name: "X-Request-ID", in: "header", required: true, schema: { type: "string" } },
              { name: "Accept", in: "header", schema: { type: "string" } },
              { name: "sid", in: "cookie", schema: { type: "string" } },
            ],
            requestBody: { required: true, content: { "application/json": { schema: { type: "object", properties: { name: { type: "string" } } } } } },
          }),
        },
      }),
    );
    const action = actionsOf(result).addPet!;
    expect(Object.keys(action.inputSchema.properties)).toEqual(["storeId", "dryRun", "lang", "X-Request-ID", "sid", "body"]);
    expect(action.inputSchema.required).toEqual(["storeId", "lang", "X-Request-ID", "body"]);
    expect(action.inputSchema.additionalProperties).toBe(false);
    expect(action.request).toEqual({
      method: "POST",
      path: "/stores/{{ input.storeId }}/pets",
      query: { dryRun: "{{ input.dryRun }}", lang: "{{ input.lang }}" },
      headers: { "X-Request-ID": "{{ input.X-Request-ID }}" },
      cookies: { sid: "{{ input.sid }}" },
      json: "{{ input.body }}",
    });
    expectImportable(result);
  });

  it("leaves out, with a warning, header parameters the HTTP client sets itself: a dry run never shows what is not sent", async () => {
    const owned = ["Host", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Upgrade", "TE", "Trailer", "Proxy-Connection"];
    const result = await convertSpec(
      openapi30({
        "/items/{id}": {
          delete: op({
            operationId: "deleteItem",
            parameters: [
              { name: "id", in: "path", required: true, schema: { type: "string" } },
              ...owned.map((name) => ({ name, in: "header", required: name === "Host", schema: { type: "string" } })),
              { name: "X-Reason", in: "header", schema: { type: "string" } },
            ],
          }),
        },
      }),
    );
    const action = actionsOf(result).deleteItem!;
    expect(Object.keys(action.inputSchema.properties)).toEqual(["id", "X-Reason"]);
    expect(action.inputSchema.required).toEqual(["id"]);
    expect(action.request.headers).toEqual({ "X-Reason": "{{ input.X-Reason }}" });
    expect(result.report.warnings).toHaveLength(owned.length);
    expect(result.report.warnings[0]).toBe(
      'DELETE /items/{id}: header parameter "Host" is left out: the HTTP client sets it itself (it sends the URL\'s host), so a value given here would never be sent',
    );
    owned.forEach((name, i) =>
      expect(result.report.warnings[i]).toMatch(
        new RegExp(`^DELETE /items/\\{id\\}: header parameter "${name}" is left out: the HTTP client sets it itself \\(.+\\), so a value`),
      ),
    );
    expectImportable(result);
  });

  it("disambiguates names that collide across locations and names templates cannot use", async () => {
    const result = await convertSpec(
      openapi30({
        "/items/{id}": {
          put: op({
            operationId: "putItem",
            parameters: [
              { name: "id", in: "query", schema: { type: "string" } },
              { name: "id", in: "path", required: true, schema: { type: "integer" } },
              { name: "id", in: "header", schema: { type: "string" } },
              { name: "body", in: "query", schema: { type: "string" } },
              { name: "page[size]", in: "query", schema: { type: "integer" } },
              { name: "$top", in: "query", schema: { type: "integer" } },
            ],
            requestBody: { content: { "application/json": { schema: { type: "object" } } } },
          }),
        },
      }),
    );
    const action = actionsOf(result).putItem!;
    expect(Object.keys(action.inputSchema.properties)).toEqual(["id", "query_id", "query_body", "page_size", "top", "header_id", "body"]);
    expect(action.inputSchema.properties.id.type).toBe("integer");
    expect(action.inputSchema.required).toEqual(["id"]);
    expect(action.request.path).toBe("/items/{{ input.id }}");
    expect(action.request.query).toEqual({
      id: "{{ input.query_id }}",
      body: "{{ input.query_body }}",
      "page[size]": "{{ input.page_size }}",
      $top: "{{ input.top }}",
    });
    expect(action.request.headers).toEqual({ id: "{{ input.header_id }}" });
    expectImportable(result);
  });

  it("applies path-item parameters unless the operation redefines them, and follows parameter $refs", async () => {
    const result = await convertSpec(
      openapi30(
        {
          "/pets/{petId}": {
            parameters: [{ $ref: "#/components/parameters/PetId" }, { name: "limit", in: "query", schema: { type: "integer" } }],
            get: op({
              operationId: "getPet",
              parameters: [{ name: "limit", in: "query", required: true, schema: { type: "integer", maximum: 10 } }, { $ref: "#/components/parameters/Trace" }],
            }),
            delete: op({ operationId: "deletePet" }),
          },
        },
        {
          components: {
            parameters: {
              PetId: { name: "petId", in: "path", required: true, schema: { type: "string" } },
              Trace: { name: "X-Trace", in: "header", schema: { type: "string" } },
            },
          },
        },
      ),
    );
    const { getPet, deletePet } = actionsOf(result);
    expect(getPet!.inputSchema.properties).toEqual({ petId: { type: "string" }, limit: { type: "integer", maximum: 10 }, "X-Trace": { type: "string" } });
    expect(getPet!.inputSchema.required).toEqual(["petId", "limit"]);
    expect(deletePet!.inputSchema.properties).toEqual({ petId: { type: "string" }, limit: { type: "integer" } });
    expect(deletePet!.inputSchema.required).toEqual(["petId"]);
  });

  it("does not require readOnly properties in requests nor writeOnly ones in responses, through shared definitions", async () => {
    const result = await convertFixture("petstore.yaml");
    const definitions = definitionsOf(result);
    expect(definitions.Pet.required).toEqual(["id", "name", "photoUrls"]);
    expect(definitions["Pet.input"].required).toEqual(["name", "photoUrls"]);
    expect(definitions["User.output"].required).toEqual(["username"]);
    expect(definitions.User).toBeUndefined();
    const { addPet, getPetById, getUserByName } = actionsOf(result);
    expect(addPet!.inputSchema.properties.body).toEqual({ $ref: "#/$defs/Pet.input" });
    expect(addPet!.outputSchema).toEqual({ $ref: "#/$defs/Pet" });
    expect(getPetById!.outputSchema).toEqual({ $ref: "#/$defs/Pet" });
    expect(getUserByName!.outputSchema).toEqual({ $ref: "#/$defs/User.output" });
    const input = validatorFor(result, "addPet");
    expect(input({ body: { name: "Rex", photoUrls: [] } })).toEqual([]);
    expect(input({ body: { photoUrls: [] } })).not.toEqual([]);
    expect(validatorFor(result, "getPetById", "outputSchema")({ name: "Rex", photoUrls: [] })).not.toEqual([]);
    expect(validatorFor(result, "getUserByName", "outputSchema")({ username: "ann" })).toEqual([]);
    expectImportable(result);
  });

  it("maps Swagger 2 body and formData parameters and collectionFormat", async () => {
    const result = await convertSpec({
      swagger: "2.0",
      info: { title: "Swagger Two", version: "1" },
      host: "api.example.com",
      basePath: "/v2",
      schemes: ["http", "https"],
      consumes: ["application/json"],
      paths: {
        "/pets": {
          post: op({ operationId: "addPet", parameters: [{ name: "pet", in: "body", required: true, schema: { $ref: "#/definitions/Pet" } }] }),
          get: op({
            operationId: "findPets",
            parameters: [
              { name: "tags", in: "query", type: "array", items: { type: "string" } },
              { name: "ids", in: "query", type: "array", collectionFormat: "multi", items: { type: "integer" } },
              { name: "codes", in: "query", type: "array", collectionFormat: "pipes", items: { type: "string" } },
              { name: "X-Ids", in: "header", type: "array", items: { type: "string" } },
            ],
          }),
        },
        "/pets/{id}": {
          post: op({
            operationId: "updatePet",
            consumes: ["application/x-www-form-urlencoded"],
            parameters: [
              { name: "id", in: "path", required: true, type: "integer", format: "int64" },
              { name: "name", in: "formData", required: true, type: "string" },
              { name: "nicknames", in: "formData", type: "array", items: { type: "string" } },
            ],
          }),
        },
        "/pets/{id}/photo": {
          post: op({
            operationId: "uploadPhoto",
            consumes: ["multipart/form-data"],
            parameters: [
              { name: "id", in: "path", required: true, type: "integer" },
              { name: "file", in: "formData", required: true, type: "file" },
            ],
          }),
        },
        "/pets/{id}/xml": {
          put: op({
            operationId: "putXml",
            consumes: ["application/xml"],
            parameters: [
              { name: "id", in: "path", required: true, type: "integer" },
              { name: "pet", in: "body", schema: { type: "object" } },
            ],
          }),
        },
      },
      definitions: { Pet: { type: "object", required: ["name"], properties: { name: { type: "string" }, tag: { type: "string", "x-nullable": true } } } },
    });
    const { addPet, findPets, updatePet, putXml } = actionsOf(result);
    expect(result.manifest.baseUrl).toBe("https://api.example.com/v2");
    expect(addPet!.request).toEqual({ method: "POST", path: "/pets", json: "{{ input.body }}" });
    expect(addPet!.inputSchema).toEqual({ type: "object", properties: { body: { $ref: "#/$defs/Pet" } }, additionalProperties: false, required: ["body"] });
    expect(definitionsOf(result).Pet.properties.tag).toEqual({ type: ["string", "null"] });
    expect(findPets!.request.styles).toEqual({ query: { tags: { style: "form", explode: false }, codes: { style: "pipeDelimited", explode: false } } });
    expect(updatePet!.request).toMatchObject({ form: "{{ input.body }}", styles: { form: { nicknames: { style: "form", explode: false } } } });
    expect(updatePet!.inputSchema.properties.body).toEqual({
      type: "object",
      properties: { name: { type: "string" }, nicknames: { type: "array", items: { type: "string" } } },
      required: ["name"],
    });
    expect(updatePet!.inputSchema.required).toEqual(["id", "body"]);
    expect(putXml!.inputSchema.properties.body).toBeUndefined();
    expect(result.report.skipped).toEqual([
      { method: "POST", path: "/pets/{id}/photo", operationId: "uploadPhoto", reason: "file upload (multipart/form-data: file) is not supported" },
    ]);
    expect(result.report.warnings).toContain(
      'PUT /pets/{id}/xml: the optional request body is left out: request body application/xml is not supported (JSON only for an "in: body" parameter)',
    );
    expectImportable(result);
  });

  it("handles bodies by media type: +json types keep their Content-Type, multipart is skipped when required", async () => {
    const result = await convertSpec(
      openapi30({
        "/a": {
          patch: op({
            operationId: "mergePatch",
            requestBody: { required: true, content: { "application/merge-patch+json": { schema: { type: "object" } } } },
          }),
          post: op({ operationId: "upload", requestBody: { required: true, content: { "multipart/form-data": { schema: { type: "object" } } } } }),
          put: op({ operationId: "anything", requestBody: { content: { "*/*": { schema: { type: "string" } } } } }),
        },
        "/b/{id}": { get: op({ operationId: "undeclared" }) },
      }),
    );
    const { mergePatch, anything, undeclared } = actionsOf(result);
    expect(mergePatch!.request.headers).toEqual({ "Content-Type": "application/merge-patch+json" });
    expect(anything!.request).toEqual({ method: "PUT", path: "/a", json: "{{ input.body }}" });
    expect(result.report.skipped.map((s) => [s.operationId, s.reason])).toEqual([
      ["upload", "request body multipart/form-data is not supported (JSON or application/x-www-form-urlencoded only)"],
    ]);
    expect(undeclared!.inputSchema).toMatchObject({ properties: { id: { type: "string" } }, required: ["id"] });
    expect(result.report.warnings).toContain('GET /b/{id}: path parameter "id" is not declared; it is taken as a required string');
  });

  it("takes the output schema from the 2xx JSON responses, null for an empty one, none when one is not JSON", async () => {
    const json = (schema: unknown, type = "application/json") => ({ description: "ok", content: { [type]: { schema } } });
    const result = await convertSpec(
      openapi30({
        "/one": { get: { operationId: "one", responses: { "404": json({ type: "string" }), "200": json({ type: "object", required: ["id"] }) } } },
        "/vendor": { get: { operationId: "vendor", responses: { "201": json({ type: "integer" }, "application/vnd.api+json; charset=utf-8") } } },
        "/maybe": { get: { operationId: "maybe", responses: { "200": json({ type: "integer" }), "204": { description: "nothing" } } } },
        "/two": { get: { operationId: "two", responses: { "200": json({ type: "integer" }), "202": json({ type: "string" }) } } },
        "/text": { get: { operationId: "text", responses: { "200": json({ type: "integer" }), "206": json({ type: "string" }, "text/plain") } } },
        "/none": { get: { operationId: "none", responses: { default: json({ type: "object" }) } } },
        "/head": { head: { operationId: "head", responses: { "200": json({ type: "object" }) } } },
      }),
    );
    const actions = actionsOf(result);
    expect(actions.one!.outputSchema).toEqual({ type: "object", required: ["id"] });
    expect(actions.vendor!.outputSchema).toEqual({ type: "integer" });
    expect(actions.maybe!.outputSchema).toEqual({ anyOf: [{ type: "integer" }, { type: "null" }] });
    expect(actions.two!.outputSchema).toEqual({ anyOf: [{ type: "integer" }, { type: "string" }] });
    for (const name of ["text", "none", "head"]) expect(actions[name]!.outputSchema).toBeUndefined();
    expectImportable(result);
  });
});

describe("kinds, risk and descriptions", () => {
  it("follows the method: reads are LOW by default, everything else at least MEDIUM", async () => {
    const result = await convertSpec(
      openapi30({
        "/r": {
          get: op({ operationId: "g", summary: "Get it" }),
          head: op({ operationId: "h" }),
          options: op({ operationId: "o" }),
          post: op({ operationId: "c", description: "First paragraph\nstill first.\n\nSecond paragraph." }),
          put: op({ operationId: "u", deprecated: true, summary: "Old" }),
          patch: op({ operationId: "p" }),
          delete: op({ operationId: "d" }),
          trace: op({ operationId: "t" }),
        },
      }),
    );
    const table = Object.fromEntries(Object.entries(actionsOf(result)).map(([name, a]) => [name, [a.kind, a.risk ?? "-", a.request.method]]));
    expect(table).toEqual({
      g: ["read", "-", "GET"],
      u: ["update", "MEDIUM", "PUT"],
      c: ["create", "MEDIUM", "POST"],
      d: ["delete", "MEDIUM", "DELETE"],
      o: ["read", "-", "OPTIONS"],
      h: ["read", "-", "HEAD"],
      p: ["update", "MEDIUM", "PATCH"],
    });
    const actions = actionsOf(result);
    expect(actions.g!.description).toBe("Get it");
    expect(actions.c!.description).toBe("First paragraph still first.");
    expect(actions.u!.description).toBe("(deprecated) Old");
    expect(actions.d!.description).toBe("DELETE /r");
    expect(result.report.skipped).toEqual([{ method: "TRACE", path: "/r", operationId: "t", reason: "TRACE is not supported by the http runner" }]);
    expectImportable(result);
  });

  it("turns an Idempotency-Key header parameter into the action's idempotency key", async () => {
    const result = await convertSpec(
      openapi30({ "/charges": { post: op({ operationId: "charge", parameters: [{ name: "Idempotency-Key", in: "header", schema: { type: "string" } }] }) } }),
    );
    const action = actionsOf(result).charge!;
    expect(action.idempotencyKey).toEqual({ header: "Idempotency-Key" });
    expect(action.inputSchema.properties).toEqual({});
  });
});

describe("base URL and allowed hosts", () => {
  it("takes servers[0] with its variables' defaults and allows every server's hosts", async () => {
    const result = await convertSpec(
      openapi30(
        { "/a": { get: op({ operationId: "a" }) } },
        {
          servers: [
            { url: "https://{region}.api.example.com/{version}/", variables: { region: { default: "eu", enum: ["eu", "us"] }, version: { default: "v2" } } },
            { url: "https://sandbox.example.com" },
          ],
        },
      ),
    );
    expect(result.manifest.baseUrl).toBe("https://eu.api.example.com/v2");
    expect(result.manifest.http).toEqual({ allowedHosts: ["eu.api.example.com", "us.api.example.com", "sandbox.example.com"] });
  });

  it("uses the given base URL instead of the servers", async () => {
    const result = await convertSpec(openapi30({ "/a": { get: op({ operationId: "a" }) } }), {
      baseUrl: "http://127.0.0.1:9999/mock/",
      allowPlainHttp: true,
      allowPrivateNetworks: true,
    });
    expect(result.manifest.baseUrl).toBe("http://127.0.0.1:9999/mock");
    expect(result.manifest.http).toEqual({ allowedHosts: ["127.0.0.1"], allowPlainHttp: true, allowPrivateNetworks: true });
    expect(result.report.warnings).toEqual([]);
  });

  it("refuses a relative server in a local spec unless a base URL is given", async () => {
    const spec = openapi30({ "/a": { get: op({ operationId: "a" }) } }, { servers: [{ url: "/api/v3" }] });
    const error = await failure(convertSpec(spec));
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toBe('spec.json: no base URL: its first server "/api/v3" is relative; pass one (--base-url https://...)');
    expect((await convertSpec(spec, { baseUrl: "https://api.example.com/api/v3" })).manifest.baseUrl).toBe("https://api.example.com/api/v3");
    const none = await failure(convertSpec({ ...spec, servers: undefined }));
    expect(none.message).toMatch(/no base URL: the spec has no servers/);
  });

  it("names why the first server cannot be the base URL: a variable it does not define, a scheme that is not http(s)", async () => {
    const withServer = (url: string, variables?: Record<string, unknown>) =>
      openapi30({ "/a": { get: op({ operationId: "a" }) } }, { servers: [{ url, ...(variables ? { variables } : {}) }] });
    expect((await failure(convertSpec(withServer("https://{region}.api.example.com/v1")))).message).toBe(
      'spec.json: no base URL: its first server "https://{region}.api.example.com/v1" uses {region}, which its variables do not define; pass one (--base-url https://...)',
    );
    expect((await failure(convertSpec(withServer("https://{region}.example.com/{v}", { v: { default: "v1" } })))).message).toMatch(
      /its first server ".*" uses \{region\}, which its variables do not define;/,
    );
    const ftp = await failure(convertSpec(withServer("ftp://api.example.com")));
    expect(ftp).toBeInstanceOf(UsageError);
    expect(ftp.message).toBe('spec.json: no base URL: its first server "ftp://api.example.com" is not an http(s) URL (ftp); pass one (--base-url https://...)');
    expect((await convertSpec(withServer("ftp://api.example.com"), { baseUrl: "https://api.example.com" })).manifest.baseUrl).toBe("https://api.example.com");
    const skipped = await convertSpec(
      openapi30({ "/a": { get: op({ operationId: "a" }) }, "/b": { get: op({ operationId: "b", servers: [{ url: "ws://{host}/b" }] }) } }),
    );
    expect(skipped.report.skipped).toEqual([
      { method: "GET", path: "/b", operationId: "b", reason: 'its own server "ws://{host}/b" uses {host}, which its variables do not define' },
    ]);
  });

  it("builds a Swagger 2 base URL from schemes, host and basePath, and warns about plain HTTP", async () => {
    const swagger = (extra: Record<string, unknown>) => ({
      swagger: "2.0",
      info: { title: "S", version: "1" },
      paths: { "/a": { get: op({ operationId: "a" }) } },
      ...extra,
    });
    expect((await convertSpec(swagger({ host: "api.example.com", basePath: "/v1", schemes: ["https"] }))).manifest.baseUrl).toBe("https://api.example.com/v1");
    const plain = await convertSpec(swagger({ host: "api.example.com:8080", schemes: ["http"] }));
    expect(plain.manifest.baseUrl).toBe("http://api.example.com:8080");
    expect(plain.report.warnings).toEqual([
      "the base URL http://api.example.com:8080 is plain HTTP: runs are refused unless the tool allows plain HTTP (http.allowPlainHttp)",
    ]);
    expect((await failure(convertSpec(swagger({})))).message).toMatch(/no base URL: the spec has no "host"/);
  });

  it("sends an operation with servers of its own there, never to the base URL; protocol-relative servers are https", async () => {
    const spec = openapi30(
      {
        "/a": { get: op({ operationId: "a" }) },
        "/b": { servers: [{ url: "https://other.example.com/up" }], get: op({ operationId: "b" }) },
        "/c": { get: op({ operationId: "c", servers: [{ url: "https://api.example.com/v1/" }] }) },
        "/d": { get: op({ operationId: "d", servers: [{ url: "//files.example.com/v2" }] }) },
        "/e": { get: op({ operationId: "e", servers: [{ url: "/v3" }] }) },
      },
      { servers: [{ url: "//api.example.com/v1" }] },
    );
    const result = await convertSpec(spec);
    expect(result.manifest.baseUrl).toBe("https://api.example.com/v1");
    expect(result.manifest.http).toEqual({ allowedHosts: ["api.example.com", "other.example.com", "files.example.com"] });
    const actions = actionsOf(result);
    expect(actions.a!.request.baseUrl).toBeUndefined();
    expect(actions.b!.request).toEqual({ method: "GET", path: "/b", baseUrl: "https://other.example.com/up" });
    expect(actions.c!.request.baseUrl).toBeUndefined();
    expect(actions.d!.request.baseUrl).toBe("https://files.example.com/v2");
    expect(result.report.skipped).toEqual([{ method: "GET", path: "/e", operationId: "e", reason: 'its own server "/v3" is relative' }]);
    expect(result.report.warnings).toEqual([]);
    expectImportable(result);

    const given = await convertSpec(spec, { baseUrl: "https://sandbox.example.com/v1" });
    expect(given.manifest.http).toEqual({ allowedHosts: ["sandbox.example.com", "other.example.com", "files.example.com"] });
    expect(actionsOf(given).b!.request.baseUrl).toBe("https://other.example.com/up");
    // A server that is the spec's own follows the given base URL.
    expect(actionsOf(given).c!.request.baseUrl).toBeUndefined();
    expect(given.report.warnings).toEqual(["GET /b, GET /d: it has a server of its own and is sent there, not to the given base URL"]);
  });
});

describe("auth", () => {
  const withScheme = (schemes: Record<string, unknown>, security: unknown, paths?: Record<string, unknown>) =>
    openapi30(paths ?? { "/a": { get: op({ operationId: "a", parameters: [{ name: "X-API-Key", in: "header", schema: { type: "string" } }] }) } }, {
      info: { title: "My API v2", version: "1" },
      components: { securitySchemes: schemes },
      ...(security === undefined ? {} : { security }),
    });

  it.each([
    [
      "apiKey in a header",
      { k: { type: "apiKey", in: "header", name: "X-API-Key" } },
      { type: "api_key", in: "header", name: "X-API-Key", secret: "TOOL_MY_API_V2_API_KEY" },
    ],
    [
      "apiKey in the query",
      { k: { type: "apiKey", in: "query", name: "key" } },
      { type: "api_key", in: "query", name: "key", secret: "TOOL_MY_API_V2_API_KEY" },
    ],
    ["http bearer", { k: { type: "http", scheme: "Bearer", bearerFormat: "JWT" } }, { type: "bearer", secret: "TOOL_MY_API_V2_API_KEY" }],
    [
      "http basic",
      { k: { type: "http", scheme: "basic" } },
      { type: "basic", username: "{{ secrets.TOOL_MY_API_V2_USERNAME }}", secret: "TOOL_MY_API_V2_PASSWORD", passwordOptional: true },
    ],
  ])("maps %s", async (_, schemes, auth) => {
    const result = await convertSpec(withScheme(schemes, [{ k: [] }]));
    expect(result.manifest.name).toBe("my-api-v2");
    expect(result.manifest.auth).toEqual(auth);
    expect(result.report.warnings).toEqual([]);
    // The header the auth fills in is not an input.
    const properties = actionsOf(result).a!.inputSchema.properties;
    expect(Object.keys(properties)).toEqual(auth.name === "X-API-Key" ? [] : ["X-API-Key"]);
    expectImportable(result);
  });

  it("maps Swagger 2 basic and apiKey definitions", async () => {
    const swagger = (definitions: Record<string, unknown>) => ({
      swagger: "2.0",
      info: { title: "Two", version: "1" },
      host: "api.example.com",
      securityDefinitions: definitions,
      security: [{ s: [] }],
      paths: { "/a": { get: op({ operationId: "a" }) } },
    });
    expect((await convertSpec(swagger({ s: { type: "basic" } }))).manifest.auth).toEqual({
      type: "basic",
      username: "{{ secrets.TOOL_TWO_USERNAME }}",
      secret: "TOOL_TWO_PASSWORD",
      passwordOptional: true,
    });
    expect((await convertSpec(swagger({ s: { type: "apiKey", in: "query", name: "api_key" } }))).manifest.auth).toEqual({
      type: "api_key",
      in: "query",
      name: "api_key",
      secret: "TOOL_TWO_API_KEY",
    });
  });

  it("sends an OAuth2 or OpenID Connect access token as a bearer token, saying the flows are not supported", async () => {
    const oauth = await convertSpec(
      withScheme({ oauth: { type: "oauth2", flows: { clientCredentials: { tokenUrl: "https://x/token", scopes: {} } } } }, [{ oauth: [] }]),
    );
    expect(oauth.manifest.auth).toEqual({ type: "bearer", secret: "TOOL_MY_API_V2_API_KEY" });
    expect(oauth.report.warnings).toEqual([
      'security scheme "oauth" (oauth2: toolctl does not run OAuth2 flows or refresh tokens): an access token obtained elsewhere is sent as a bearer token from the secret TOOL_MY_API_V2_API_KEY',
    ]);
    const oidc = await convertSpec(withScheme({ oidc: { type: "openIdConnect", openIdConnectUrl: "https://x/.well-known" } }, [{ oidc: [] }]));
    expect(oidc.manifest.auth).toEqual({ type: "bearer", secret: "TOOL_MY_API_V2_API_KEY" });
    expect(oidc.report.warnings[0]).toMatch(/openIdConnect: toolctl does not run OpenID Connect flows/);
  });

  it("warns, precisely, about what cannot be sent: an API key in a cookie, mutual TLS, other HTTP schemes", async () => {
    const result = await convertSpec(
      withScheme({ cookie: { type: "apiKey", in: "cookie", name: "SESSION" }, mtls: { type: "mutualTLS" }, digest: { type: "http", scheme: "digest" } }, [
        { cookie: [] },
        { mtls: [] },
        { digest: [] },
      ]),
    );
    expect(result.manifest.auth).toEqual({ type: "none" });
    expect(result.report.warnings).toEqual([
      'security scheme "cookie" is not supported (apiKey in cookie "SESSION": a tool\'s auth sends a key only in a header or the query); 1 operation(s) ask for it',
      'security scheme "mtls" is not supported (mutualTLS: toolctl does not send client certificates); 1 operation(s) ask for it',
      'security scheme "digest" is not supported (http "digest": only the bearer and basic HTTP schemes are supported); 1 operation(s) ask for it',
    ]);
  });

  it("does not send an API key in a header the HTTP client sets itself: a warning says so, and the import succeeds", async () => {
    const result = await convertSpec(withScheme({ host: { type: "apiKey", in: "header", name: "Host" } }, [{ host: [] }]));
    expect(result.manifest.auth).toEqual({ type: "none" });
    expect(result.report.warnings).toEqual([
      'security scheme "host" is not supported (apiKey in header "Host": the HTTP client sets that header itself (it sends the URL\'s host)); 1 operation(s) ask for it',
    ]);
    expectImportable(result);
  });

  it("prefers the scheme the global security asks for, else the one most operations ask for", async () => {
    const schemes = { bearer: { type: "http", scheme: "bearer" }, key: { type: "apiKey", in: "header", name: "X-Key" } };
    const paths = {
      "/a": { get: op({ operationId: "a", security: [{ key: [] }] }) },
      "/b": { get: op({ operationId: "b", security: [{ key: [] }] }) },
      "/c": { get: op({ operationId: "c" }) },
    };
    const global = await convertSpec(withScheme(schemes, [{ bearer: [] }], paths));
    expect(global.manifest.auth).toEqual({ type: "bearer", secret: "TOOL_MY_API_V2_API_KEY" });
    expect(global.report.warnings).toEqual([]);
    // The operations that ask only for the key send it; the others the tool's bearer token.
    const actions = actionsOf(global) as Record<string, { auth?: unknown }>;
    expect([actions.a!.auth, actions.b!.auth, actions.c!.auth]).toEqual([
      { type: "api_key", in: "header", name: "X-Key", secret: "TOOL_MY_API_V2_KEY" },
      { type: "api_key", in: "header", name: "X-Key", secret: "TOOL_MY_API_V2_KEY" },
      undefined,
    ]);
    const mostUsed = await convertSpec(withScheme(schemes, undefined, { ...paths, "/c": { get: op({ operationId: "c", security: [{ bearer: [] }] }) } }));
    expect(mostUsed.manifest.auth).toMatchObject({ type: "api_key", name: "X-Key" });
  });

  it("says so when an operation needs two schemes at once, since only one is sent", async () => {
    const schemes = { keyH: { type: "apiKey", in: "header", name: "X-API-Key" }, keyQ: { type: "apiKey", in: "query", name: "api_key" } };
    const paths = {
      "/both": { get: op({ operationId: "both", security: [{ keyH: [], keyQ: [] }] }) },
      "/either": { get: op({ operationId: "either", security: [{ keyH: [] }, { keyH: [], keyQ: [] }] }) },
    };
    const result = await convertSpec(withScheme(schemes, [{ keyH: [] }], paths));
    expect(result.report.warnings).toEqual([
      '1 operation(s) ask for security schemes "keyH" and "keyQ" together: a request sends one auth, so only one of them is sent; add the others to the manifest (as headers or query values from secrets)',
    ]);
  });
});

describe("filters", () => {
  const spec = openapi30({
    "/pets": { get: op({ operationId: "listPets", tags: ["pets"] }), post: op({ operationId: "createPet", tags: ["pets", "write"] }) },
    "/stores/{id}": { get: op({ tags: ["Stores"] }) },
    "/admin/users": { delete: op({ operationId: "admin.deleteUsers", tags: ["admin"] }) },
  });

  it("imports only the operations with a tag, named, or under a path prefix, listing the others as not selected", async () => {
    const byTag = await convertSpec(spec, { tags: ["stores", "write"] });
    expect(Object.keys(actionsOf(byTag))).toEqual(["createPet", "get_stores_id"]);
    expect(byTag.report.operations).toBe(4);
    expect(byTag.report.skipped).toEqual([
      { method: "GET", path: "/pets", operationId: "listPets", reason: "not selected: no tag stores or write" },
      { method: "DELETE", path: "/admin/users", operationId: "admin.deleteUsers", reason: "not selected: no tag stores or write" },
    ]);
    const byName = await convertSpec(spec, { operations: ["admin.deleteUsers", "get_stores_id"] });
    expect(Object.keys(actionsOf(byName))).toEqual(["get_stores_id", "admin_deleteUsers"]);
    const byPrefix = await convertSpec(spec, { pathPrefix: "/pets", tags: ["pets"] });
    expect(Object.keys(actionsOf(byPrefix))).toEqual(["listPets", "createPet"]);
  });

  it("fails clearly when the filters select nothing or name an operation that does not exist", async () => {
    const none = await failure(convertSpec(spec, { tags: ["billing"] }));
    expect(none).toBeInstanceOf(UsageError);
    expect(none.message).toBe("spec.json: no operation matches tag billing (tags in this spec: Stores, admin, pets, write)");
    expect((await failure(convertSpec(spec, { pathPrefix: "/v2" }))).message).toBe("spec.json: no operation matches path prefix /v2");
    expect((await failure(convertSpec(spec, { operations: ["listPet"] }))).message).toBe("spec.json: no operation 'listPet' (did you mean 'listPets'?)");
  });
});

describe("schemas", () => {
  it("turns OpenAPI 3.0 dialect quirks into JSON Schema that compiles and means the same", async () => {
    const result = await convertSpec(
      openapi30(
        {
          "/shapes": {
            post: op({
              operationId: "shape",
              requestBody: { required: true, content: { "application/json": { schema: { $ref: "#/components/schemas/Shape" } } } },
            }),
          },
        },
        {
          components: {
            schemas: {
              Shape: {
                type: "object",
                required: ["kind", "size"],
                discriminator: { propertyName: "kind" },
                xml: { name: "shape" },
                "x-internal": true,
                example: { kind: "square" },
                properties: {
                  kind: { type: "string" },
                  size: { type: "number", minimum: 0, exclusiveMinimum: true, maximum: 10, exclusiveMaximum: false },
                  note: { type: "string", nullable: true, example: "n" },
                  color: { type: "string", enum: ["red", "blue"], nullable: true },
                  parent: { allOf: [{ $ref: "#/components/schemas/Shape" }], nullable: true },
                  count: { type: "integer", format: "int32" },
                  big: { type: "integer", format: "int64" },
                  raw: { type: "string", format: "byte" },
                  blob: { type: "string", format: "binary" },
                  custom: { type: "string", format: "my-format" },
                  code: { type: "string", pattern: "^[\\w-.]+$" },
                  variant: {
                    oneOf: [
                      { type: "object", properties: { a: { type: "string" } } },
                      { type: "object", properties: { b: { type: "string" } } },
                    ],
                  },
                  legacy: { type: "string", minLength: "2" },
                  odd: { type: "file" },
                },
              },
            },
          },
        },
      ),
    );
    const shape = definitionsOf(result).Shape;
    expect(shape).not.toHaveProperty("discriminator");
    expect(shape).not.toHaveProperty("xml");
    expect(shape).not.toHaveProperty("x-internal");
    expect(shape).not.toHaveProperty("example");
    expect(shape.properties.size).toEqual({ type: "number", exclusiveMinimum: 0, maximum: 10 });
    expect(shape.properties.note).toEqual({ type: ["string", "null"] });
    expect(shape.properties.color).toEqual({ type: ["string", "null"], enum: ["red", "blue", null] });
    expect(shape.properties.parent).toEqual({ anyOf: [{ allOf: [{ $ref: "#/$defs/Shape" }] }, { type: "null" }] });
    expect(shape.properties.code).toEqual({ type: "string" });
    expect(shape.properties.variant.anyOf).toHaveLength(2);
    expect(shape.properties.legacy).toEqual({ type: "string", minLength: 2 });
    expect(shape.properties.odd).toEqual({ type: "string", format: "binary" });
    expect(result.report.warnings).toEqual([
      `1 "pattern" regular expression(s) that are not valid with the u flag were dropped (first at spec.json#/components/schemas/Shape/properties/code)`,
    ]);
    expectImportable(result);
    const validate = validatorFor(result, "shape");
    expect(validate({ body: { kind: "square", size: 1, note: null, color: null, parent: null, count: 3, big: 2 ** 40, variant: { a: "x", b: "y" } } })).toEqual(
      [],
    );
    expect(validate({ body: { kind: "square", size: 0 } })).not.toEqual([]);
    expect(validate({ body: { kind: "square", size: 1, count: 2 ** 33 } })).not.toEqual([]);
  });

  it("keeps OpenAPI 3.1 schemas as JSON Schema 2020-12, resolving $id and $anchor references", async () => {
    const result = await convertSpec({
      openapi: "3.1.0",
      info: { title: "Three One", version: "1" },
      servers: [{ url: "https://api.example.com" }],
      paths: {
        "/things": {
          post: {
            operationId: "thing",
            requestBody: { content: { "application/json": { schema: { $ref: "#/components/schemas/Thing" } } } },
            responses: { "200": { description: "ok", content: { "application/json": { schema: { $ref: "https://example.com/schemas/detail#detail_id" } } } } },
          },
        },
      },
      components: {
        schemas: {
          Thing: {
            type: "object",
            properties: {
              name: { type: ["string", "null"], examples: ["a"] },
              pair: { type: "array", prefixItems: [{ type: "string" }, { type: "integer" }], items: false },
              kind: { const: "thing" },
              detail: { $ref: "https://example.com/schemas/detail", description: "the detail" },
              bounded: { type: "number", exclusiveMinimum: 1 },
            },
          },
          Detail: {
            $id: "https://example.com/schemas/detail",
            $schema: "https://json-schema.org/draft/2020-12/schema",
            type: "object",
            properties: { id: { $anchor: "detail_id", type: "integer" }, tag: { $ref: "#/components/schemas/Tag" } },
          },
          Tag: { type: "string" },
        },
      },
    });
    const definitions = definitionsOf(result);
    expect(definitions.Thing.properties.name).toEqual({ type: ["string", "null"] });
    expect(definitions.Thing.properties.pair).toEqual({ type: "array", prefixItems: [{ type: "string" }, { type: "integer" }], items: false });
    expect(definitions.Thing.properties.detail).toEqual({ $ref: "#/$defs/Detail", description: "the detail" });
    expect(definitions.Detail).toEqual({ type: "object", properties: { id: { type: "integer" }, tag: { $ref: "#/$defs/Tag" } } });
    expect(actionsOf(result).thing!.outputSchema).toEqual({ $ref: "#/$defs/Detail_properties_id" });
    expectImportable(result);
  });

  it("survives a YAML alias that contains itself, and keeps a property named __proto__ as a property", async () => {
    const result = await convertSpec(
      [
        "openapi: 3.0.0",
        "info: { title: Alias, version: '1' }",
        "servers: [{ url: 'https://api.example.com' }]",
        "paths:",
        "  /a:",
        "    post:",
        "      operationId: a",
        "      requestBody:",
        "        content:",
        "          application/json:",
        "            schema: &node",
        "              type: object",
        "              properties:",
        "                __proto__: { type: string }",
        "                child: *node",
        "      responses: { '200': { description: ok } }",
      ].join("\n"),
    );
    const body = actionsOf(result).a!.inputSchema.properties.body;
    expect(Object.keys(body.properties)).toEqual(["__proto__", "child"]);
    expect(body.properties.child).toEqual({});
    expect(result.report.warnings).toEqual([
      "1 schema(s) that contain themselves (YAML aliases) accept anything instead (first at spec.yaml#/paths/~1a/post/requestBody/content/application~1json/schema/properties/child)",
    ]);
    expectImportable(result);
  });

  it("stores each component once, only those the imported actions reach, with circular references as references", async () => {
    const result = await convertSpec(
      openapi30(
        {
          "/a": {
            get: {
              operationId: "a",
              responses: { "200": { description: "ok", content: { "application/json": { schema: { $ref: "#/components/schemas/Node" } } } } },
            },
          },
          "/b": {
            get: {
              operationId: "b",
              responses: {
                "200": { description: "ok", content: { "application/json": { schema: { type: "array", items: { $ref: "#/components/schemas/Node" } } } } },
              },
            },
          },
          "/c": {
            get: {
              operationId: "c",
              responses: { "200": { description: "ok", content: { "application/json": { schema: { $ref: "#/components/schemas/Unused" } } } } },
            },
          },
        },
        {
          components: {
            schemas: {
              Node: {
                type: "object",
                properties: { children: { type: "array", items: { $ref: "#/components/schemas/Node" } }, owner: { $ref: "#/components/schemas/Owner" } },
              },
              Owner: { type: "object", properties: { nodes: { type: "array", items: { $ref: "#/components/schemas/Node" } } } },
              Unused: { type: "string" },
              Loop: { $ref: "#/components/schemas/Loop" },
            },
          },
        },
      ),
      { operations: ["a", "b"] },
    );
    expect(Object.keys(definitionsOf(result))).toEqual(["Node", "Owner"]);
    expect(definitionsOf(result).Node.properties.children.items).toEqual({ $ref: "#/$defs/Node" });
    const validate = validatorFor(result, "a", "outputSchema");
    expect(validate({ children: [{ children: [], owner: { nodes: [{}] } }] })).toEqual([]);
    expect(validate({ children: [{ children: 5 }] })).not.toEqual([]);
    expectImportable(result);
  });
});

describe("schemas that refer back to themselves on the same value", () => {
  const json = (ref: string) => ({ content: { "application/json": { schema: { $ref: ref } } } });
  const spec = (schemas: Record<string, unknown>, ref = "#/components/schemas/A") =>
    openapi30(
      { "/a": { post: { operationId: "a", requestBody: { required: true, ...json(ref) }, responses: { "200": { description: "ok", ...json(ref) } } } } },
      { components: { schemas } },
    );

  it("an allOf loop with no property in between is broken with a warning, and validation ends", async () => {
    const result = await convertSpec(
      spec({
        A: { allOf: [{ $ref: "#/components/schemas/B" }, { type: "object", properties: { a: { type: "string" } } }] },
        B: { allOf: [{ $ref: "#/components/schemas/A" }] },
      }),
    );
    expect(result.report.warnings).toEqual([
      "schemas #/components/schemas/A → #/components/schemas/B → #/components/schemas/A refer to each other on the same value (through $ref, allOf, anyOf, oneOf or not, with no property or item in between): the last reference accepts anything",
    ]);
    expectImportable(result);
    const input = validatorFor(result, "a");
    expect(input({ body: { a: "x" } })).toEqual([]);
    expect(input({ body: { a: 1 } })).toEqual([{ path: "/body/a", message: "must be string" }]);
    const output = validatorFor(result, "a", "outputSchema");
    expect(output({ a: "x" })).toEqual([]);
    expect(output({ a: [] })).toEqual([{ path: "/a", message: "must be string" }]);
  });

  it("through anyOf, oneOf, not and a pure $ref too; a loop through a property or items is left as it is", async () => {
    const result = await convertSpec(
      spec({
        A: {
          type: "object",
          properties: { c: { $ref: "#/components/schemas/C" }, d: { $ref: "#/components/schemas/D" }, tree: { $ref: "#/components/schemas/Tree" } },
        },
        C: { anyOf: [{ $ref: "#/components/schemas/C" }, { type: "string" }] },
        D: { oneOf: [{ type: "integer" }, { not: { $ref: "#/components/schemas/E" } }] },
        E: { $ref: "#/components/schemas/D" },
        Tree: { type: "object", properties: { kids: { type: "array", items: { allOf: [{ $ref: "#/components/schemas/Tree" }] } } } },
      }),
    );
    expect(result.report.warnings).toHaveLength(2);
    expect(result.report.warnings[0]).toMatch(/^schemas #\/components\/schemas\/C → #\/components\/schemas\/C refer to each other on the same value/);
    expect(result.report.warnings[1]).toMatch(/^schemas #\/components\/schemas\/D → #\/components\/schemas\/E → #\/components\/schemas\/D refer/);
    expect(definitionsOf(result).Tree.properties.kids.items).toEqual({ allOf: [{ $ref: "#/$defs/Tree" }] });
    expectImportable(result);
    const input = validatorFor(result, "a");
    expect(input({ body: { c: "x", d: 1, tree: { kids: [{ kids: [] }] } } })).toEqual([]);
    expect(input({ body: { tree: { kids: [{ kids: 5 }] } } })).not.toEqual([]);
  });
});

describe("multi-file specs", () => {
  it("follows $refs to other files (path items, parameters, schemas) and across them, circular ones included", async () => {
    const result = await convertFixture("multi/openapi.yaml");
    expect(Object.keys(actionsOf(result))).toEqual(["listPets", "createPet", "getOwner"]);
    const definitions = definitionsOf(result);
    expect(Object.keys(definitions).sort()).toEqual(["Id", "Pet", "pet_owner"]);
    expect(definitions.Pet.properties.owner).toEqual({ $ref: "#/$defs/pet_owner" });
    expect(definitions.pet_owner.properties.pets.items).toEqual({ $ref: "#/$defs/Pet" });
    const { getOwner } = actionsOf(result);
    expect(getOwner!.inputSchema.properties.ownerId).toEqual({ $ref: "#/$defs/Id" });
    expect(getOwner!.outputSchema).toEqual({ $ref: "#/$defs/pet_owner" });
    expectImportable(result);
    const validate = validatorFor(result, "createPet");
    expect(validate({ body: { id: "p1", name: "Rex", owner: { name: "Ann", pets: [{ id: "p2", name: "Max" }] } } })).toEqual([]);
    expect(validate({ body: { id: "P-1", name: "Rex" } })).not.toEqual([]);
  });

  it("reads and writes nothing else: the spec's folder is left as it was", async () => {
    const dir = tempDir("toolctl-openapi-multi-");
    cpSync(path.join(fixturesDir, "multi"), dir, { recursive: true });
    const snapshot = () =>
      readdirSync(dir, { recursive: true })
        .map(String)
        .sort()
        .map((f) => `${f}:${statSync(path.join(dir, f)).mtimeMs}`);
    const before = snapshot();
    await convertOpenApi("openapi.yaml", { env: {}, cwd: dir });
    expect(snapshot()).toEqual(before);
  });
});

describe("specs from a URL", () => {
  let server: http.Server;
  let port: number;
  const requests: string[] = [];
  const files: Record<string, string> = {
    "/specs/root.yaml": [
      "openapi: 3.0.0",
      "info: { title: Remote, version: '1' }",
      "servers: [{ url: /api }]",
      "paths:",
      "  /pets:",
      "    get:",
      "      operationId: listPets",
      "      responses:",
      "        '200':",
      "          description: ok",
      "          content: { application/json: { schema: { $ref: 'common.yaml#/Pet' } } }",
    ].join("\n"),
    "/specs/common.yaml": "Pet: { type: object, properties: { name: { type: string }, self: { $ref: '#/Pet' } } }",
    "/specs/elsewhere.yaml":
      "openapi: 3.0.0\ninfo: { title: Elsewhere, version: '1' }\npaths:\n  /a: { get: { responses: { '200': { description: ok, content: { application/json: { schema: { $ref: 'http://localhost.example:1/x.yaml' } } } } } } }",
    "/specs/moved.json": "",
  };

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      requests.push(req.url!);
      if (req.url === "/specs/moved.json") {
        res.writeHead(302, { location: "/specs/root.yaml" });
        return void res.end();
      }
      const body = files[req.url!];
      res.writeHead(body === undefined ? 404 : 200, { "content-type": "application/yaml" });
      res.end(body ?? "not found");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const remote = { allowPlainHttp: true, allowPrivateNetworks: true };

  it("fetches the spec and same-origin references through the guard, resolving a relative server against it", async () => {
    requests.length = 0;
    const result = await convertOpenApi(`http://127.0.0.1:${port}/specs/root.yaml`, { env: {}, cwd: tempDir(), ...remote });
    expect(result.manifest.baseUrl).toBe(`http://127.0.0.1:${port}/api`);
    expect(result.manifest.http).toEqual({ allowedHosts: ["127.0.0.1"], allowPlainHttp: true, allowPrivateNetworks: true });
    expect(definitionsOf(result).Pet).toEqual({ type: "object", properties: { name: { type: "string" }, self: { $ref: "#/$defs/Pet" } } });
    expect(requests).toEqual(["/specs/root.yaml", "/specs/common.yaml"]);
    expect(result.report.source).toBe(`http://127.0.0.1:${port}/specs/root.yaml`);
    expectImportable(result);
    const moved = await convertOpenApi(`http://127.0.0.1:${port}/specs/moved.json`, { env: {}, cwd: tempDir(), ...remote });
    expect(moved.manifest.baseUrl).toBe(`http://127.0.0.1:${port}/api`);
  });

  it("refuses a reference to another origin without fetching it, naming the ref", async () => {
    requests.length = 0;
    const error = await failure(convertOpenApi(`http://127.0.0.1:${port}/specs/elsewhere.yaml`, { env: {}, cwd: tempDir(), ...remote }));
    expect(error).toBeInstanceOf(PolicyError);
    expect(error.message).toBe(
      `http://127.0.0.1:${port}/specs/elsewhere.yaml: none of the 1 selected operation(s) can be imported: GET /a: $ref "http://localhost.example:1/x.yaml" refused: a spec from http://127.0.0.1:${port} may only refer to http://127.0.0.1:${port}`,
    );
    expect(requests).toEqual(["/specs/elsewhere.yaml"]);
  });

  it("refuses what the outbound guard refuses: a loopback address or plain HTTP unless allowed", async () => {
    const url = `http://127.0.0.1:${port}/specs/root.yaml`;
    const privateError = await failure(convertOpenApi(url, { env: {}, cwd: tempDir(), allowPlainHttp: true }));
    expect(privateError).toBeInstanceOf(PolicyError);
    expect(privateError.code).toBe("url_blocked");
    expect(privateError.exitCode).toBe(3);
    expect(privateError.message).toMatch(/^URL blocked: address 127\.0\.0\.1 is not allowed \(loopback\)/);
    const plain = await failure(convertOpenApi(url, { env: {}, cwd: tempDir(), allowPrivateNetworks: true }));
    expect(plain.message).toMatch(/^URL blocked: scheme "http" is not allowed/);
  });

  it("fails with a usage error when the URL cannot be fetched", async () => {
    const missing = await failure(convertOpenApi(`http://127.0.0.1:${port}/specs/nope.yaml`, { env: {}, cwd: tempDir(), ...remote }));
    expect(missing).toBeInstanceOf(UsageError);
    expect(missing.message).toBe(`http://127.0.0.1:${port}/specs/nope.yaml: cannot fetch: HTTP 404`);
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const unreachable = await failure(convertOpenApi(`http://127.0.0.1:${closedPort}/spec.yaml`, { env: {}, cwd: tempDir(), ...remote }));
    expect(unreachable).toBeInstanceOf(UsageError);
    expect(unreachable.exitCode).toBe(2);
    expect(unreachable.message).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${closedPort}/spec\\.yaml: cannot fetch: ECONNREFUSED`));
  });
});

describe("bad specs", () => {
  it.each([
    ["bad/not-openapi.yaml", 'bad/not-openapi.yaml: not an OpenAPI document: no "openapi" or "swagger" field'],
    ["bad/broken.yaml", /^bad\/broken\.yaml:8:\d+: invalid YAML: /],
    ["bad/broken.json", /^bad\/broken\.json:4:\d+: invalid JSON: /],
    [
      "bad/missing-ref.yaml",
      'bad/missing-ref.yaml: none of the 1 selected operation(s) can be imported: GET /pets: $ref "#/components/schemas/Pets" cannot be resolved: no "Pets" at bad/missing-ref.yaml#/components/schemas',
    ],
    ["bad/swagger12.json", "bad/swagger12.json: unsupported version: swagger 1.2 (supported: Swagger 2.0, OpenAPI 3.0.x and 3.1.x)"],
    ["bad/openapi4.yaml", "bad/openapi4.yaml: unsupported version: openapi 4.0.0 (supported: Swagger 2.0, OpenAPI 3.0.x and 3.1.x)"],
  ])("%s fails with one clear line, exit 2", async (file, message) => {
    const error = await failure(convertFixture(file));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.exitCode).toBe(2);
    if (typeof message === "string") expect(error.message).toBe(message);
    else expect(error.message).toMatch(message);
  });

  it("fails on a missing file, an array, an empty document and a spec without operations", async () => {
    expect((await failure(convertFixture("bad/nope.yaml"))).message).toBe("bad/nope.yaml: cannot read: no such file");
    expect((await failure(convertSpec("- just\n- a list\n"))).message).toBe(
      'spec.yaml: not an OpenAPI document: expected a mapping with an "openapi" or "swagger" field',
    );
    expect((await failure(convertSpec("   \n"))).message).toBe("spec.yaml: the document is empty");
    expect((await failure(convertSpec(openapi30({})))).message).toBe("spec.json: no operations to import");
  });

  it("refuses a tool name that is not an identifier", async () => {
    expect((await failure(convertSpec(openapi30({ "/a": { get: op() } }), { name: "Bad Name" }))).message).toMatch(
      /^tool name 'Bad Name' is not a lowercase identifier/,
    );
  });
});

describe("a Stripe-sized spec", () => {
  it("converts ~450 operations from several MB quickly, into a manifest that shares its definitions", async () => {
    const dir = tempDir("toolctl-openapi-big-");
    const text = JSON.stringify(generateStripeLikeSpec(), null, 2);
    writeFileSync(path.join(dir, "stripe.json"), text);
    expect(text.length).toBeGreaterThan(4_000_000);
    const heapBefore = process.memoryUsage().heapUsed;
    const started = performance.now();
    const result = await convertOpenApi("stripe.json", { env: {}, cwd: dir });
    const elapsed = performance.now() - started;
    const heapAfter = process.memoryUsage().heapUsed;
    console.log(
      `Stripe-like spec: ${(text.length / 1e6).toFixed(1)} MB, ${result.report.imported.length} actions, ${Object.keys(definitionsOf(result)).length} definitions, ` +
        `manifest ${(JSON.stringify(result.manifest).length / 1e6).toFixed(1)} MB; converted in ${elapsed.toFixed(0)} ms, heap +${((heapAfter - heapBefore) / 1e6).toFixed(0)} MB`,
    );
    expect(result.report.imported).toHaveLength(450);
    expect(result.report.skipped).toEqual([]);
    // Measured at ~0.3 s; the bound leaves room for a loaded CI machine.
    expect(elapsed).toBeLessThan(5000);
    // Definitions are shared, not inlined: the manifest is smaller than the spec.
    expect(JSON.stringify(result.manifest).length).toBeLessThan(text.length);
    const getCustomer = actionsOf(result).GetcustomersId!;
    expect(getCustomer.outputSchema).toEqual({ $ref: "#/$defs/customer" });
    expect(getCustomer.request.styles).toEqual({ query: { expand: { style: "deepObject", explode: true } } });
    expect(actionsOf(result).Postcustomers!.request.styles.form).toMatchObject({
      metadata: { style: "deepObject", explode: true },
      expand: { style: "deepObject", explode: true },
    });
    // Every output reaches most definitions here (as in Stripe's own spec), and ajv takes seconds to compile one
    // such closure: one action is compiled; the corpus test compiles whole documents.
    expectImportable(result, 450);
  });
});
