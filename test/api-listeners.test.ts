/**
 * A program's progress listener that throws is its own mistake: the run goes on, is recorded as it ended and its
 * spend settled, and the library says what happened as a warning. Through the library API, on a loopback shop.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeServer, sendJson } from "./fakes/server.js";
import { loopbackTool, openApi, writeFiles } from "./helpers.js";

const shop = new FakeServer((req, res) =>
  req.url.startsWith("/slow") ? void setTimeout(() => sendJson(res, 200, { id: "slow" }), 600) : sendJson(res, 200, { id: `order_${shop.requests.length}` }),
);
beforeAll(async () => void (await shop.start()));
afterAll(() => shop.close());

const manifest = () =>
  loopbackTool(
    "shop",
    shop.url,
    `  buy:
    description: Buy one thing for $0.50
    kind: create
    cost: { fixed: 0.5 }
    request: { method: POST, path: /orders }
  slow:
    description: Buy one thing for $0.50, slowly
    kind: create
    cost: { fixed: 0.5 }
    request: { method: POST, path: /slow }
`,
  );

describe("a progress listener that throws", () => {
  it.each(["record intent", "run", "record outcome"])("at stage %s: the run succeeds, is recorded so, and its spend is settled", async (stage) => {
    const toolctl = await openApi();
    expect((await toolctl.importManifests([path.join(writeFiles({ "shop.yaml": manifest() }), "shop.yaml")])).failed).toEqual([]);
    const warnings: string[] = [];
    toolctl.on("warning", (message) => warnings.push(message));
    toolctl.on("progress", (event) => {
      if (event.type === "stage" && event.stage === stage) throw new Error("listener bug");
    });
    const sent = shop.requests.length;
    const result = await toolctl.run("shop.buy", {}, { yes: true });
    expect(result).toMatchObject({ status: "succeeded", exitCode: 0 });
    expect(shop.requests.length - sent).toBe(1);
    expect(await toolctl.execution(result.executionId)).toMatchObject({ status: "succeeded" });
    expect((await toolctl.budget()).spend).toMatchObject({ committedUsd: 0.5, reservedUsd: 0 });
    expect(warnings).toEqual(["a progress listener threw, and was ignored: listener bug"]);

    // A `progress` given to run() itself is shielded the same way.
    const own = await toolctl.run(
      "shop.buy",
      {},
      {
        yes: true,
        progress: {
          start: () => undefined,
          stop: () => undefined,
          stage: (name) => {
            if (name === stage) throw new Error("own bug");
          },
        },
      },
    );
    expect(own).toMatchObject({ status: "succeeded", exitCode: 0 });
    expect(await toolctl.execution(own.executionId)).toMatchObject({ status: "succeeded" });
  });
});

describe("close() while a run is in flight", () => {
  it("waits for the run to be recorded: it succeeds, is recorded so, and its spend is settled", async () => {
    const toolctl = await openApi();
    expect((await toolctl.importManifests([path.join(writeFiles({ "shop.yaml": manifest() }), "shop.yaml")])).failed).toEqual([]);
    const running = toolctl.run("shop.slow", {}, { yes: true });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await toolctl.close();
    const result = await running;
    expect(result).toMatchObject({ status: "succeeded", exitCode: 0 });
    const again = await openApi({ home: toolctl.home });
    expect(await again.execution(result.executionId)).toMatchObject({ status: "succeeded" });
    expect((await again.budget()).spend).toMatchObject({ committedUsd: 0.5, reservedUsd: 0 });
    // Closed, it refuses new calls as before.
    await expect(toolctl.executions()).rejects.toThrow("this toolctl was closed");
  });
});
