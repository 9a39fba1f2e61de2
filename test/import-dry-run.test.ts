/**
 * `toolctl import --dry-run` (manifests and --openapi) and the API's dry runs: each says what the import would do,
 * added, updated or unchanged with the status the tool would have, and nothing is written: no tool, no audit event.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { examplesDir, openApi, repoRoot, runCli, runJson, tempDir, writeFiles } from "./helpers.js";

const echo = readFileSync(path.join(examplesDir, "echo.yaml"), "utf8");
const petstore = path.join(repoRoot, "test", "fixtures", "openapi", "petstore.yaml");

const names = async (home: string) => ((await runJson(["list"], { home })).json.items as Array<{ name: string }>).map((tool) => tool.name);
const events = async (home: string) => ((await runJson(["audit"], { home })).json.items as unknown[]).length;

describe("toolctl import --dry-run", () => {
  it("manifests: says what would be added or updated, and imports nothing", async () => {
    const home = tempDir("toolctl-home-");
    const dir = writeFiles({ "echo.yaml": echo, "calc.yaml": readFileSync(path.join(examplesDir, "calculator.yaml"), "utf8") });
    const first = await runCli(["import", dir, "--dry-run"], { home });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^would add {2}echo {2}\[active\] {2}.*echo\.yaml$/m);
    expect(first.stdout).toMatch(/^would add {2}calculator {2}\[active\]/m);
    expect(first.stderr.trim()).toBe("dry run: nothing was imported");
    expect(await names(home)).toEqual([]);
    expect(await events(home)).toBe(0);

    expect((await runCli(["import", dir], { home })).code).toBe(0);
    const audited = await events(home);
    writeFiles({ "echo.yaml": echo.replace(/^description: .*$/m, "description: Changed") }, dir);
    const second = await runJson(["import", dir, "-n"], { home });
    expect(second.code).toBe(0);
    expect(second.json).toMatchObject({
      dryRun: true,
      imported: [
        { tool: "calculator", change: "unchanged" },
        { tool: "echo", change: "updated", status: "active" },
      ],
      failed: [],
    });
    expect((await runJson(["show", "echo"], { home })).json.description).not.toBe("Changed");
    expect(await events(home)).toBe(audited);
    expect((await runJson(["import", dir], { home })).json.dryRun).toBeUndefined();
  });

  it("a manifest that fails is reported as in a real import: exit 2, and nothing is written", async () => {
    const home = tempDir("toolctl-home-");
    const dir = writeFiles({ "echo.yaml": echo, "bad.yaml": "apiVersion: toolctl/v1\nname: bad\nruntime: http\n" });
    const result = await runCli(["import", dir, "--dry-run"], { home });
    expect(result.code).toBe(2);
    expect(result.stdout).toMatch(/^would add {2}echo /m);
    expect(result.stderr).toContain("bad.yaml");
    expect(await names(home)).toEqual([]);
  });

  it("--openapi: says what the spec would become, pending as an import would be, and imports nothing", async () => {
    const home = tempDir("toolctl-home-");
    const result = await runCli(["import", "--openapi", petstore, "--name", "pets", "--dry-run"], { home });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^would add {2}pets {2}\[pending\] {2}8 of 8 operations from /m);
    expect(result.stderr).toContain("dry run: nothing was imported");
    expect(result.stderr).not.toContain("toolctl tool approve");
    const json = await runJson(["import", "--openapi", petstore, "--name", "pets", "-n"], { home });
    expect(json.json).toMatchObject({ dryRun: true, imported: [{ tool: "pets", change: "added", status: "pending" }], openapi: { operations: 8 } });
    expect(await names(home)).toEqual([]);
    expect(await events(home)).toBe(0);
  });
});

describe("the API's dry runs", () => {
  it("importManifests, importSpec and prepareSpec().preview() write nothing", async () => {
    const toolctl = await openApi();
    const dir = writeFiles({ "echo.yaml": echo });
    expect((await toolctl.importManifests([dir], { dryRun: true })).imported).toMatchObject([{ tool: "echo", change: "added", status: "active" }]);
    const spec = await toolctl.importSpec(petstore, { name: "pets", dryRun: true });
    expect(spec.result).toMatchObject({ tool: "pets", change: "added", status: "pending" });
    expect(spec.report.imported).toHaveLength(8);
    const prepared = await toolctl.prepareSpec(petstore, { name: "pets" });
    expect(await prepared.preview()).toMatchObject({ change: "added" });
    expect(await toolctl.listTools()).toEqual([]);
    expect(await prepared.save()).toMatchObject({ change: "added" });
    expect(await prepared.preview()).toMatchObject({ change: "unchanged", status: "pending" });
    expect((await toolctl.listTools()).map((tool) => tool.name)).toEqual(["pets"]);
  });
});
