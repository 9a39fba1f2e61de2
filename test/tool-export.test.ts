/**
 * `toolctl tool export NAME` through the built binary: every bundled manifest and an imported OpenAPI spec come
 * out as a `toolctl/v1` manifest (YAML, or JSON with --json) that imports `unchanged` into the same home and,
 * into a new home, as the same tool (the same digest; for the spec, the same stored manifest, shared definitions
 * included). Defaults are left out of the file; bad input is exit 2 with one line.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { fixturesDir } from "./fixtures/openapi/support.js";
import type { Toolctl } from "../src/api/index.js";
import { openApi, repoRoot, runCli, runJson, sharedDir, tempDir } from "./helpers.js";

const manifestDirs = ["manifests/examples", "manifests", "manifests/builtins"].map((dir) => path.join(repoRoot, dir));

async function importReport(home: string, paths: string[]) {
  const result = await runJson(["import", ...paths], { home });
  expect(result.code, result.stderr).toBe(0);
  expect(result.json.failed).toEqual([]);
  return result.json.imported as Array<{ tool: string; change: string; status: string }>;
}

describe("toolctl tool export", () => {
  it("exports every bundled manifest as one that re-imports unchanged, and imports into a new home as the same tool", async () => {
    const files = manifestDirs.flatMap((dir) =>
      readdirSync(dir)
        .filter((f) => f.endsWith(".yaml"))
        .map((f) => path.join(dir, f)),
    );
    const toolctl = await openApi();
    expect((await toolctl.importManifests(files)).failed).toEqual([]);
    const digests = async (api: Toolctl) => new Map((await api.listTools()).map((tool) => [tool.name, tool.digest]));
    const original = await digests(toolctl);
    expect(original.size).toBe(files.length);
    const names = [...original.keys()];

    for (const format of ["yaml", "json"] as const) {
      const dir = tempDir(`toolctl-export-${format}-`);
      // A tool that runs files beside its manifest (its export says so) runs other files from another directory.
      const moved = new Set<string>();
      for (const name of names) {
        const exported = await toolctl.exportTool(name, { format });
        expect(exported).toMatchObject({ tool: name, format });
        if (exported.notes.some((note) => note.includes("refers to files beside its manifest"))) moved.add(name);
        expect((format === "yaml" ? parse(exported.text) : JSON.parse(exported.text)) as unknown).toEqual(exported.manifest);
        writeFileSync(path.join(dir, `${name}.${format}`), exported.text);
      }
      const again = await toolctl.importManifests([dir]);
      expect(again.failed).toEqual([]);
      expect(moved.size).toBeGreaterThan(0);
      expect(again.imported.map((item) => [item.tool, item.change]).sort()).toEqual(
        names.map((name) => [name, moved.has(name) ? "updated" : "unchanged"]).sort(),
      );
      expect(await digests(toolctl)).toEqual(original);

      const fresh = await openApi();
      const added = await fresh.importManifests([dir]);
      expect(added.failed).toEqual([]);
      expect(added.imported.map((item) => [item.tool, item.change]).sort()).toEqual(names.map((name) => [name, "added"]).sort());
      // The same content: the same digest as the bundled file gave.
      expect(await digests(fresh)).toEqual(original);
    }
  }, 120_000);

  it("leaves defaults out, and says when a process tool's paths are relative to its manifest", async () => {
    const home = tempDir("toolctl-export-home-");
    await importReport(home, [path.join(repoRoot, "manifests/examples")]);
    const weather = await runCli(["tool", "export", "weather"], { home });
    expect(weather.code).toBe(0);
    expect(weather.stderr).toBe("");
    expect(weather.stdout).toMatch(/^# Tool weather, exported from the toolctl registry \(imported from .*weather\.yaml\)\.\n/);
    // Filled in by the importer, left out of the file: the request's method, approval, stdin, auth, retries.
    expect(weather.stdout).not.toMatch(/method: GET|approval: auto|stdin: json|type: none|retry:|circuitBreaker:/);
    const manifest = parse(weather.stdout);
    expect(manifest.actions.current.request).toEqual({
      path: "/v1/forecast",
      query: { latitude: "{{ input.latitude }}", longitude: "{{ input.longitude }}", current: "temperature_2m,wind_speed_10m" },
    });

    const calculator = await runCli(["tool", "export", "calculator"], { home });
    expect(calculator.code).toBe(0);
    expect(calculator.stderr).toMatch(/^note: calculator refers to files beside its manifest \(\{\{ tool\.dir \}\}\): .*keep it in .*manifests\/examples\n$/);
    expect(calculator.stdout).toContain("# Note: calculator refers to files beside its manifest");
    const json = await runCli(["tool", "export", "calculator", "--json"], { home });
    expect(json.stderr).toBe("");
    expect(JSON.parse(json.stdout).actions.calculate.command).toEqual(["node", "{{ tool.dir }}/calculator/calc.mjs"]);
  });

  it("the same manifest imported from another directory is updated, not unchanged, when it runs files beside it", async () => {
    const home = tempDir("toolctl-export-home-");
    await importReport(home, [path.join(repoRoot, "manifests/examples")]);
    const elsewhere = tempDir("toolctl-export-moved-");
    for (const name of ["calculator", "echo"]) writeFileSync(path.join(elsewhere, `${name}.yaml`), (await runCli(["tool", "export", name], { home })).stdout);
    // The calculator's command is {{ tool.dir }}/calculator/calc.mjs: from here it runs another file. The echo tool
    // refers to nothing beside its manifest, so where it was read from changes nothing.
    expect(await importReport(home, [path.join(elsewhere, "calculator.yaml"), path.join(elsewhere, "echo.yaml")])).toEqual([
      expect.objectContaining({ tool: "calculator", change: "updated" }),
      expect.objectContaining({ tool: "echo", change: "unchanged" }),
    ]);
    const dry = await runJson(["run", "calculator.calculate", "-p", "operation=add", "-p", "a=1", "-p", "b=2", "--dry-run"], { home });
    expect(dry.json.request.argv).toEqual(["node", path.join(elsewhere, "calculator", "calc.mjs")]);
    // And back: the original file is an update again.
    expect(await importReport(home, [path.join(repoRoot, "manifests/examples/calculator.yaml")])).toEqual([
      expect.objectContaining({ tool: "calculator", change: "updated" }),
    ]);
    expect(await importReport(home, [path.join(repoRoot, "manifests/examples/calculator.yaml")])).toEqual([
      expect.objectContaining({ tool: "calculator", change: "unchanged" }),
    ]);
  });

  it("so is a files tool's relative root, a database tool's file and setup script, and a Vercel project root", async () => {
    const home = tempDir("toolctl-export-home-");
    const vercel = path.join(tempDir("toolctl-export-vercel-"), "site.yaml");
    writeFileSync(
      vercel,
      readFileSync(path.join(repoRoot, "manifests", "vercel.yaml"), "utf8")
        .replace(/^name: vercel$/m, "name: site")
        .replace("  # projectRoot: site ", "  projectRoot: web "),
    );
    const absolute = path.join(tempDir("toolctl-export-abs-"), "notes.yaml");
    writeFileSync(
      absolute,
      "apiVersion: toolctl/v1\nname: abs\ndescription: Absolute root\nruntime: files\nfiles: { roots: [/srv/notes] }\nactions:\n  list: { description: List, kind: read, operation: list }\n",
    );
    await importReport(home, [
      path.join(repoRoot, "manifests/builtins/notes.yaml"),
      path.join(repoRoot, "manifests/builtins/inventory.yaml"),
      vercel,
      absolute,
    ]);
    const elsewhere = tempDir("toolctl-export-moved-");
    for (const name of ["notes", "inventory", "site", "abs"]) {
      const exported = await runCli(["tool", "export", name], { home });
      expect(exported.code, exported.stderr).toBe(0);
      if (name === "abs") expect(exported.stderr).toBe("");
      else expect(exported.stderr).toContain(`${name} refers to files beside its manifest`);
      writeFileSync(path.join(elsewhere, `${name}.yaml`), exported.stdout);
    }
    expect((await importReport(home, [elsewhere])).map((item) => [item.tool, item.change])).toEqual([
      ["abs", "unchanged"],
      ["inventory", "updated"],
      ["notes", "updated"],
      ["site", "updated"],
    ]);
  });

  it("an edited export imports as updated", async () => {
    const home = tempDir("toolctl-export-home-");
    await importReport(home, [path.join(repoRoot, "manifests/examples/echo.yaml")]);
    const exported = await runCli(["tool", "export", "echo"], { home });
    const dir = tempDir("toolctl-export-edit-");
    writeFileSync(path.join(dir, "echo.yaml"), exported.stdout.replace(/^description: .*$/m, "description: Echo, edited"));
    expect(await importReport(home, [path.join(dir, "echo.yaml")])).toEqual([expect.objectContaining({ tool: "echo", change: "updated" })]);
  });

  const specs: Array<[string, string]> = [["the Petstore fixture", path.join(fixturesDir, "petstore.yaml")]];
  const corpusPetstore = path.join(sharedDir, "corpus/openapi/petstore/petstore-v3.1.openapi.yaml");
  if (existsSync(corpusPetstore) || process.env.CI) specs.push(["the corpus's Petstore 3.1", corpusPetstore]);
  for (const [label, spec] of specs) {
    it(`exports a tool imported from ${label} with its shared definitions, and it re-imports unchanged`, async () => {
      const home = tempDir("toolctl-export-openapi-");
      const importArgs = [
        "import",
        "--openapi",
        spec,
        "--name",
        "pets",
        "--base-url",
        "http://127.0.0.1:9/v3",
        "--allow-plain-http",
        "--allow-private-networks",
      ];
      const imported = await runJson(importArgs, { home });
      expect(imported.code, imported.stderr).toBe(0);
      expect(imported.json.imported[0]).toMatchObject({ change: "added", status: "pending" });

      const dir = tempDir("toolctl-export-openapi-files-");
      mkdirSync(path.join(dir, "json"));
      const yaml = await runCli(["tool", "export", "pets"], { home });
      expect(yaml.code, yaml.stderr).toBe(0);
      writeFileSync(path.join(dir, "pets.yaml"), yaml.stdout);
      const json = await runCli(["tool", "export", "pets", "--json"], { home });
      writeFileSync(path.join(dir, "json", "pets.json"), json.stdout);
      const api = await openApi({ home });
      const stored = await api.store.tools.manifest("pets");
      expect(Object.keys(stored!.definitions ?? {}).length).toBeGreaterThan(0);
      expect(Object.keys(parse(yaml.stdout).definitions)).toEqual(Object.keys(stored!.definitions!));
      expect(Object.keys(JSON.parse(json.stdout).actions).sort()).toEqual(Object.keys(stored!.actions).sort());

      // Into the same home: unchanged (its digest was over the converter's text, the file's is over its content).
      for (const file of [path.join(dir, "pets.yaml"), path.join(dir, "json", "pets.json")]) {
        expect(await importReport(home, [file])).toEqual([expect.objectContaining({ tool: "pets", change: "unchanged", status: "pending" })]);
      }
      // And the spec itself is still unchanged afterwards.
      const specAgain = await runJson(importArgs, { home });
      expect(specAgain.json.imported[0]).toMatchObject({ change: "unchanged" });

      // Into a new home: the same stored manifest, shared definitions and all.
      for (const file of [path.join(dir, "pets.yaml"), path.join(dir, "json", "pets.json")]) {
        const fresh = tempDir("toolctl-export-openapi-fresh-");
        expect(await importReport(fresh, [file])).toEqual([expect.objectContaining({ tool: "pets", change: "added" })]);
        const other = await openApi({ home: fresh });
        expect(await other.store.tools.manifest("pets")).toEqual(stored);
      }
    }, 120_000);
  }

  it("refuses an unknown tool and a missing name (exit 2, one line)", async () => {
    const home = tempDir("toolctl-export-home-");
    await importReport(home, [path.join(repoRoot, "manifests/examples/weather.yaml")]);
    const unknown = await runCli(["tool", "export", "wether"], { home });
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe("");
    expect(unknown.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^error: .*wether.*did you mean 'weather'/)]);
    const json = await runJson(["tool", "export", "wether"], { home });
    expect(json.code).toBe(2);
    expect(json.json.error).toMatchObject({ code: "not_found", exitCode: 2 });
    const missing = await runCli(["tool", "export"], { home });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: missing required argument 'name'/);
  });
});
