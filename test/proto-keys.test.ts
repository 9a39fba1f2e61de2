/**
 * A `__proto__` key in a provider's JSON answer is data: kept in the output (as JSON.parse keeps it), never made
 * the prototype of the object toolctl hands on, and counted in every digest of that output.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redactor } from "../src/secrets/redact.js";
import { canonicalJson, digestOf } from "../src/util/canonical.js";
import { FakeServer } from "./fakes/server.js";
import { loopbackTool, openApi, writeFiles } from "./helpers.js";

const ANSWER = '{"__proto__":{"approved":true},"id":"ord_1"}';

describe("a __proto__ key in JSON", () => {
  it("the redactor keeps it as an own key and sets no prototype", () => {
    const redactor = new Redactor();
    redactor.add("s3cret-value");
    const out = redactor.value(JSON.parse('{"__proto__":{"approved":true,"token":"s3cret-value"},"id":"ord_1"}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(["__proto__", "id"]);
    expect("approved" in out).toBe(false);
    expect(JSON.stringify(out)).toBe('{"__proto__":{"approved":true,"token":"[REDACTED]"},"id":"ord_1"}');
  });

  it("counts in canonical JSON and its digest", () => {
    const withKey = JSON.parse(ANSWER) as unknown;
    expect(canonicalJson(withKey)).toBe('{"__proto__":{"approved":true},"id":"ord_1"}');
    expect(digestOf(withKey)).not.toBe(digestOf({ id: "ord_1" }));
  });
});

describe("a provider answering with a __proto__ key", () => {
  const server = new FakeServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(ANSWER);
  });
  beforeAll(async () => {
    await server.start();
  });
  afterAll(() => server.close());

  it("the run's output and its record keep the key as data", async () => {
    const dir = writeFiles({
      "orders.yaml": loopbackTool("orders", server.url, "  get: { description: one order, kind: read, request: { method: GET, path: /orders/1 } }\n"),
    });
    const toolctl = await openApi();
    await toolctl.importManifests([path.join(dir, "orders.yaml")]);
    const result = await toolctl.run("orders.get", {}, { yes: true });
    expect(result.status).toBe("succeeded");
    const output = result.output as Record<string, unknown>;
    expect(Object.getPrototypeOf(output)).toBe(Object.prototype);
    expect("approved" in output).toBe(false);
    expect(JSON.stringify(output)).toBe(ANSWER);
    const recorded = (await toolctl.execution(result.executionId)) as { output?: unknown };
    expect(JSON.stringify(recorded.output)).toBe(ANSWER);
  });
});
