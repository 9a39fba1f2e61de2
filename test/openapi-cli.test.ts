/**
 * `toolctl import --openapi` end to end, through the built binary: a spec (served by a loopback server, and
 * from a file) becomes a pending tool; approval grants its hosts; its actions run against a loopback Petstore
 * that checks what it receives; a changed spec reports what was added, changed and removed; bad specs leave
 * the registry as it was.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import Database from "better-sqlite3";
import { runCli, runJson, tempDir, writeFiles } from "./helpers.js";
import { fixturesDir } from "./fixtures/openapi/support.js";

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const received: Received[] = [];
let server: http.Server;
let base = "";
const specText = readFileSync(path.join(fixturesDir, "petstore.yaml"), "utf8");

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      if (req.url === "/openapi.yaml") {
        res.writeHead(200, { "content-type": "application/yaml" }).end(specText);
        return;
      }
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      if (req.headers.api_key !== "k-123") {
        res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ code: 401, message: "missing api key" }));
        return;
      }
      if (req.method === "GET" && req.url === "/v3/pet/7") {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id: 7, name: "rex", photoUrls: [] }));
      } else if (req.method === "GET" && req.url === "/v3/pet/8") {
        // Not a Pet: the output schema (name and photoUrls are required) catches it.
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id: 8 }));
      } else if (req.method === "POST" && req.url === "/v3/pet") {
        const pet = JSON.parse(body) as Record<string, unknown>;
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id: 99, ...pet }));
      } else {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ code: 404, message: "no such pet" }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const env = { TOOL_PETS_API_KEY: "k-123" };
const importArgs = (home: string, source: string, ...more: string[]) =>
  runJson(["import", "--openapi", source, "--name", "pets", "--base-url", `${base}/v3`, "--allow-plain-http", "--allow-private-networks", ...more], {
    home,
    env,
  });

function tableCount(home: string, sql: string): number {
  const db = new Database(path.join(home, "registry.db"), { readonly: true });
  try {
    return db.prepare(sql).pluck().get() as number;
  } finally {
    db.close();
  }
}

describe("import --openapi through the CLI", () => {
  it("imports a spec from a URL as a pending tool, which runs once approved, against the server it describes", async () => {
    const home = tempDir("toolctl-openapi-cli-");
    const imported = await importArgs(home, `${base}/openapi.yaml`);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.json.imported[0]).toMatchObject({ tool: "pets", change: "added", status: "pending" });
    expect(imported.json.openapi).toMatchObject({ title: "Petstore Request Test", specVersion: expect.stringMatching(/^openapi 3\.0/) });
    expect(imported.json.openapi.imported.map((op: { action: string }) => op.action)).toEqual(expect.arrayContaining(["addPet", "getPetById", "deletePet"]));
    // No validator is compiled at import: each action's first run (a dry run too) compiles and keeps them.
    expect(tableCount(home, "SELECT count(*) FROM actions WHERE tool = 'pets' AND input_validator IS NULL")).toBe(imported.json.openapi.imported.length);

    // Pending: a dry run shows the request; a real run is refused with the way out.
    const dry = await runJson(["run", "pets.getPetById", "-p", "petId=7", "--dry-run"], { home, env });
    expect(dry.code).toBe(0);
    expect(dry.json.request).toMatchObject({ method: "GET", url: `${base}/v3/pet/7`, headers: { api_key: "[REDACTED]" } });
    expect(dry.json.warnings.join("\n")).toMatch(/a real run would be refused: tool pets is pending/);
    const refused = await runJson(["run", "pets.getPetById", "-p", "petId=7"], { home, env });
    expect(refused.code).toBe(3);
    expect(refused.json.error).toMatchObject({ code: "tool_pending", message: expect.stringContaining("toolctl tool approve pets") });
    expect(received).toHaveLength(0);

    const approved = await runJson(["tool", "approve", "pets", "--yes"], { home });
    expect(approved.code).toBe(0);
    expect(approved.json).toMatchObject({ status: "active", grants: { hosts: ["127.0.0.1"] } });

    const got = await runJson(["run", "pets.getPetById", "-p", "petId=7"], { home, env });
    expect(got.code, got.stderr).toBe(0);
    expect(got.json.output).toEqual({ id: 7, name: "rex", photoUrls: [] });
    expect(received.at(-1)).toMatchObject({ method: "GET", url: "/v3/pet/7", headers: { api_key: "k-123" } });
    expect(
      tableCount(
        home,
        "SELECT count(*) FROM actions WHERE tool = 'pets' AND name = 'getPetById' AND input_validator IS NOT NULL AND output_validator IS NOT NULL",
      ),
    ).toBe(1);

    // The output schema is enforced: a read that answers something else fails (exit 1).
    const bad = await runJson(["run", "pets.getPetById", "-p", "petId=8"], { home, env });
    expect(bad.code).toBe(1);
    expect(bad.json.error.message).toMatch(/output does not match.*name/);

    // Input validation from the spec: a readOnly id is not required in the request body, but name is.
    const invalid = await runJson(["run", "pets.addPet", "--params", JSON.stringify({ body: { photoUrls: [] } })], { home, env });
    expect(invalid.code).toBe(2);
    expect(invalid.json.error.message).toMatch(/name/);
    const added = await runJson(["run", "pets.addPet", "--yes", "--params", JSON.stringify({ body: { name: "tom", photoUrls: ["p.png"] } })], { home, env });
    expect(added.code, added.stderr).toBe(0);
    expect(added.json).toMatchObject({ risk: "MEDIUM", approval: { required: true, via: "--yes" }, output: { id: 99, name: "tom" } });
    expect(JSON.parse(received.at(-1)!.body)).toEqual({ name: "tom", photoUrls: ["p.png"] });
    expect(received.at(-1)!.headers["content-type"]).toBe("application/json");

    // A provider error keeps the provider's own words.
    const missing = await runJson(["run", "pets.getPetById", "-p", "petId=404"], { home, env });
    expect(missing.code).toBe(1);
    expect(missing.json.error.message).toMatch(/HTTP 404: no such pet/);
  });

  it("reports what a changed spec adds, changes and removes, and keeps the grant while the hosts are the same", async () => {
    const home = tempDir("toolctl-openapi-cli-");
    const dir = writeFiles({ "spec.yaml": specText });
    const file = path.join(dir, "spec.yaml");
    expect((await importArgs(home, file)).code).toBe(0);
    expect((await runJson(["tool", "approve", "pets", "--yes"], { home })).code).toBe(0);
    const again = await importArgs(home, file);
    expect(again.json.imported[0]).toMatchObject({ change: "unchanged", status: "active" });

    const changed = specText
      .replace("summary: Find pet by ID", "summary: Find one pet by its ID")
      .replace(/  \/user\/\{username\}:[\s\S]*?(?=\n  \/)/, "")
      .replace("paths:\n", 'paths:\n  /ping:\n    get:\n      operationId: ping\n      responses:\n        "204": { description: pong }\n');
    expect(changed).not.toBe(specText);
    writeFiles({ "spec.yaml": changed }, dir);
    const updated = await importArgs(home, file);
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.json.imported[0]).toMatchObject({
      change: "updated",
      status: "active",
      actions: { added: ["ping"], changed: expect.arrayContaining(["getPetById"]), removed: ["getUserByName"] },
    });
    const human = await runCli(["import", "--openapi", file, "--name", "pets", "--base-url", "https://elsewhere.example.com/v3"], { home, env });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/updated {2}pets {2}\[pending\]/);
    expect(human.stdout).toMatch(/toolctl tool approve pets/);
  });

  it("refuses bad specs with one line and its exit code, leaving the registry as it was", async () => {
    const home = tempDir("toolctl-openapi-cli-");
    expect((await importArgs(home, path.join(fixturesDir, "petstore.yaml"))).code).toBe(0);
    const before = tableCount(home, "SELECT count(*) FROM actions") + tableCount(home, "SELECT count(*) FROM audit_events");
    const cases: Array<[string, number, RegExp]> = [
      ["bad/not-openapi.yaml", 2, /not an OpenAPI|swagger|openapi/i],
      ["bad/broken.yaml", 2, /broken\.yaml:\d+:\d+/],
      ["bad/missing-ref.yaml", 2, /\$ref|#\/components/],
      ["bad/openapi4.yaml", 2, /4\.0/],
      ["bad/duplicate-ids.yaml", 2, /operationId/],
      ["no-such-file.yaml", 2, /no-such-file\.yaml/],
    ];
    for (const [file, code, message] of cases) {
      const result = await importArgs(home, path.join(fixturesDir, file));
      expect(result.code, file).toBe(code);
      expect(result.json.error.message, file).toMatch(message);
      expect(result.json.error.message.split("\n"), file).toHaveLength(1);
    }
    const unreachable = await runJson(["import", "--openapi", "http://127.0.0.1:9/openapi.json", "--allow-plain-http", "--allow-private-networks"], { home });
    expect(unreachable.code).toBe(2);
    expect(unreachable.json.error.message).toMatch(/127\.0\.0\.1:9/);
    const blocked = await runJson(["import", "--openapi", `${base}/openapi.yaml`], { home });
    expect(blocked.code).toBe(3);
    expect(blocked.json.error.code).toBe("url_blocked");
    expect(tableCount(home, "SELECT count(*) FROM actions") + tableCount(home, "SELECT count(*) FROM audit_events")).toBe(before);

    const mixed = await runJson(["import", "--openapi", "a.yaml", "b.yaml"], { home });
    expect(mixed.code).toBe(2);
    expect(mixed.json.error.message).toMatch(/--openapi imports one spec/);
    const stray = await runJson(["import", "x.yaml", "--tag", "pet"], { home });
    expect(stray.code).toBe(2);
    expect(stray.json.error.message).toMatch(/apply to --openapi only/);
  });

  it("imports the operations of a split spec that resolve, lists those left out, and refuses it all with --strict", async () => {
    const home = tempDir("toolctl-openapi-cli-");
    const spec = path.join(fixturesDir, "split", "openapi.yaml");
    const strict = await runJson(["import", "--openapi", spec, "--strict"], { home });
    expect(strict.code).toBe(2);
    expect(strict.json.error.message).toMatch(
      /^.*openapi\.yaml: 3 of the 7 selected operation\(s\) cannot be imported \(--strict\): DELETE \/droplets\/\{droplet_id\}: \$ref "resources\/droplets\/delete\.yml" cannot be resolved/,
    );
    expect(strict.json.error.message.split("\n")).toHaveLength(1);
    expect((await runJson(["list"], { home })).json.items).toEqual([]);

    const partial = await runJson(["import", "--openapi", spec], { home });
    expect(partial.code, partial.stderr).toBe(0);
    expect(partial.json.openapi.imported.map((op: { action: string }) => op.action)).toEqual([
      "droplets_list",
      "droplets_create",
      "droplets_get",
      "images_list",
    ]);
    expect(partial.json.openapi.skipped.map((op: { method: string; path: string }) => `${op.method} ${op.path}`)).toEqual([
      "DELETE /droplets/{droplet_id}",
      "GET /droplets/{droplet_id}/snapshots",
      "* /volumes",
    ]);
    const human = await runCli(["import", "--openapi", spec, "--name", "split-again"], { home });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/4 of 7 operations from Split Spec/);
    // What was skipped is a note for people, on stderr: stdout keeps the one line per tool a script reads.
    expect(human.stdout.trim().split("\n")).toHaveLength(1);
    expect(human.stderr).toMatch(/skipped \* \/volumes: .*resources\/volumes\/volumes\.yml does not exist/);
    const quiet = await runCli(["import", "--openapi", spec, "--name", "split-again", "-q"], { home });
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).toMatch(/4 of 7 operations from Split Spec/);
    expect(quiet.stderr).toBe("");
    const pending = await runCli(["show", "split-spec", "--no-pager"], { home });
    expect(pending.stdout).toMatch(/^ {2}asks: calls \S+ \(not granted\)$/m);
    expect(pending.stdout).not.toContain("not granted: not granted");
    // What a tool asks for is shown before it is granted; with --yes and --quiet nobody is asked, so nothing is.
    const approved = await runCli(["tool", "approve", "split-again", "--yes", "-q"], { home });
    expect(approved).toMatchObject({ code: 0, stderr: "" });
    const shown = await runCli(["tool", "approve", "split-spec", "--yes"], { home });
    expect(shown.code).toBe(0);
    expect(shown.stderr).toMatch(/^Tool split-spec .* asks for:/);
  });

  it("shows an imported action's query parameters, headers, cookies, body and styles, and a form body as the bytes a run sends", async () => {
    const home = tempDir("toolctl-openapi-cli-");
    expect((await importArgs(home, path.join(fixturesDir, "petstore.yaml"))).code).toBe(0);
    const find = await runCli(["show", "pets.findPetsByStatus"], { home, env });
    expect(find.code).toBe(0);
    for (const line of [
      "request: GET /pet/findByStatus",
      "query status: {{ input.status }}",
      "query tags: {{ input.tags }}  (style form, explode false)",
      "query ids: {{ input.ids }}  (style pipeDelimited, explode false)",
      "query filter: {{ input.filter }}  (style deepObject, explode true)",
      "query page[size]: {{ input.page_size }}",
      "header X-Request-ID: {{ input.X-Request-ID }}",
      "header X-Flags: {{ input.X-Flags }}",
      "cookie session: {{ input.session }}",
    ])
      expect(find.stdout).toContain(line);
    const form = await runCli(["show", "pets.updatePetWithForm"], { home, env });
    expect(form.stdout).toContain("request: POST /pet/{{ input.petId }}");
    expect(form.stdout).toContain("form body: {{ input.body }}");
    expect(form.stdout).toContain("form field meta: style deepObject, explode true");
    expect(form.stdout).toContain("form field tags: style form, explode true");
    const json = await runCli(["show", "pets.patchPet"], { home, env });
    expect(json.stdout).toContain("json body: {{ input.body }}");
    expect(json.stdout).toContain("header Content-Type: application/merge-patch+json");

    const params = JSON.stringify({ petId: 7, body: { name: "Rex Jr", tags: ["a", "b"], meta: { x: "1" } } });
    const encoded = "name=Rex+Jr&tags=a&tags=b&meta%5Bx%5D=1";
    const dry = await runJson(["run", "pets.updatePetWithForm", "--params", params, "--dry-run"], { home, env });
    expect(dry.code).toBe(0);
    expect(dry.json.request).toMatchObject({ body: { name: "Rex Jr", tags: ["a", "b"], meta: { x: "1" } }, encodedBody: encoded });
    const human = await runCli(["run", "pets.updatePetWithForm", "--params", params, "--dry-run"], { home, env });
    expect(human.stdout).toContain(`body: ${encoded}`);
  });
});
