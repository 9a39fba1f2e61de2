/**
 * Several toolctl processes against one home at once: no corruption, no "database is locked",
 * an intact audit chain, and every execution recorded exactly once.
 */
import { describe, expect, it } from "vitest";
import { examplesDir, runCli, runJson, tempDir, writeFiles } from "./helpers.js";

describe("concurrent processes on one home", () => {
  it("import and run at the same time without locking errors or lost records", async () => {
    const home = tempDir("toolctl-race-");
    const extra = writeFiles({
      "extra.yaml": `apiVersion: toolctl/v1
name: extra
description: Imported while others run
runtime: echo
actions:
  ping: { description: Ping, kind: read }
`,
    });
    const workers = 4;
    const runsPerWorker = 6;
    const worker = async (n: number) => {
      const results = [await runCli(["import", examplesDir, n % 2 ? extra : examplesDir], { home })];
      for (let i = 0; i < runsPerWorker; i++) {
        results.push(await runCli(["run", "echo.say", "-p", `message=w${n}-${i}`], { home }));
        if (i % 3 === 0) results.push(await runCli(["import", examplesDir], { home }));
      }
      return results;
    };
    const all = (await Promise.all(Array.from({ length: workers }, (_, n) => worker(n)))).flat();
    for (const result of all) {
      expect(result.stderr).not.toMatch(/locked|busy/i);
      expect(result.code, result.stderr).toBe(0);
    }
    const history = await runJson(["executions", "--limit", "100"], { home });
    expect(history.json.page.total).toBe(workers * runsPerWorker);
    const messages = history.json.items.map((e: { input: { message: string } }) => e.input.message);
    expect(new Set(messages).size).toBe(workers * runsPerWorker);
    const verify = await runJson(["audit", "verify"], { home });
    expect(verify.json.ok).toBe(true);
    const tools = await runJson(["list"], { home });
    expect(tools.json.items.map((t: { name: string }) => t.name)).toEqual(["calculator", "calculator-docker", "echo", "extra", "piggybank", "weather"]);
  });
});
