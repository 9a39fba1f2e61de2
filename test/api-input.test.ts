/**
 * A run's input through the library: an object is the input as it is, whatever its fields are called; the CLI's
 * sources (`--param`, `--params`, `--params-file`) are passed only through `inputSources()`, so no input object is
 * ever read as them. Input that is not an object is a usage error naming it.
 */
import { describe, expect, it } from "vitest";
import { inputSources } from "../src/api/index.js";
import { UsageError } from "../src/errors.js";
import { openApi, writeFiles } from "./helpers.js";

const search = `apiVersion: toolctl/v1
name: search
description: Searches (echo)
runtime: echo
actions:
  query:
    description: Query with a list of parameters
    kind: read
    inputSchema:
      type: object
      required: [params]
      additionalProperties: false
      properties:
        params: { type: array, items: { type: string } }
        paramsJson: { type: string }
`;

async function searchApi() {
  const toolctl = await openApi();
  const report = await toolctl.importManifests([writeFiles({ "search.yaml": search })]);
  expect(report.failed).toEqual([]);
  return toolctl;
}

describe("a run's input", () => {
  it("an object is the input, even with a field named params or paramsJson", async () => {
    const toolctl = await searchApi();
    for (const input of [{ params: ["rust", "go"] }, { params: ["lang=rust"] }, { params: [], paramsJson: '{"x":1}' }]) {
      const result = await toolctl.run("search.query", input);
      expect(result.error).toBeUndefined();
      expect(result).toMatchObject({ status: "succeeded", input, output: input });
      expect((await toolctl.preview("search.query", input)).input).toEqual(input);
    }
  });

  it("inputSources() gives the CLI's sources, typed by the schema, the file lowest and each param highest", async () => {
    const toolctl = await searchApi();
    const result = await toolctl.run(
      "search.query",
      inputSources({ params: ['params=["a"]'], paramsJson: '{"params":["b"],"paramsJson":"j"}', paramsFile: { name: "in.json", text: '{"paramsJson":"f"}' } }),
    );
    expect(result).toMatchObject({ status: "succeeded", output: { params: ["a"], paramsJson: "j" } });
  });

  it("anything else is a usage error naming it, thrown before anything is recorded", async () => {
    const toolctl = await searchApi();
    for (const [input, message] of [
      [null, "input: expected an object, got null"],
      [["a"], "input: expected an object, got an array"],
      ["params=a", "input: expected an object, got a string"],
    ] as const) {
      const error = await toolctl.run("search.query", input as never).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(UsageError);
      expect((error as UsageError).message).toBe(message);
    }
    for (const [sources, message] of [
      [{ params: [1] }, "inputSources: params: expected a list of key=value strings"],
      [{ params: "a=1" }, "inputSources: params: expected a list of key=value strings"],
      [{ params: [], paramsJson: 5 }, "inputSources: paramsJson: expected JSON text"],
      [{ params: [], paramsFile: "in.json" }, "inputSources: paramsFile: expected { name, text }"],
    ] as const) {
      expect(() => inputSources(sources as never)).toThrow(new UsageError(message));
    }
    expect((await toolctl.executions()).total).toBe(0);
  });
});

describe("stats", () => {
  it("a missing or unknown period or grouping is a usage error naming the field", async () => {
    const toolctl = await searchApi();
    await expect(toolctl.stats({} as never)).rejects.toThrow(new UsageError("stats: period: expected one of hour, day, week, month, got nothing"));
    await expect(toolctl.stats({ period: "day", by: "colour" } as never)).rejects.toThrow(
      new UsageError('stats: by: expected one of tool, action, status, got "colour"'),
    );
    expect((await toolctl.stats({ period: "day", by: "tool" })).rows).toEqual([]);
  });
});

describe("a closed toolctl", () => {
  it("refuses every call with a usage error saying so; close again does nothing", async () => {
    const toolctl = await searchApi();
    await toolctl.close();
    await toolctl.close();
    for (const call of [() => toolctl.run("search.query", { params: [] }), () => toolctl.listTools(), () => toolctl.executions()]) {
      await expect(call()).rejects.toMatchObject({
        code: "usage",
        exitCode: 2,
        message: expect.stringMatching(/^toolctl\.\w+\(\): this toolctl was closed; open another with openToolctl\(\)$/),
      });
    }
    const events = toolctl.auditEvents()[Symbol.asyncIterator]();
    await expect(events.next()).rejects.toThrow("toolctl.auditEvents(): this toolctl was closed");
    expect(toolctl.home).toMatch(/toolctl-home-/);
  });
});
