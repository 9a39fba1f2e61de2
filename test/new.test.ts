/**
 * `toolctl new` through the built binary: each runtime's manifest imports as it is; a curl command line becomes
 * an action that sends what curl itself sends (both are pointed at the same loopback server and what arrives is
 * compared), with every credential replaced by a secret reference that is never written anywhere; bad input is
 * exit 2 with one line naming what was wrong.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { runCli, runJson, tempDir } from "./helpers.js";

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const received: Received[] = [];
let server: http.Server;
let base = "";

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** One line of stderr, the error, and nothing on stdout: the shape of every refusal. */
function expectOneLineError(result: { code: number | null; stdout: string; stderr: string }, message: RegExp) {
  expect(result.code, result.stderr).toBe(2);
  expect(result.stdout).toBe("");
  const lines = result.stderr.trim().split("\n");
  expect(lines[0]).toMatch(message);
  // commander adds its help hint on a second line; toolctl's own errors are one line.
  expect(lines.length).toBeLessThanOrEqual(2);
  if (lines.length === 2) expect(lines[1]).toBe("(run with --help for usage)");
}

describe("toolctl new RUNTIME NAME", () => {
  for (const runtime of ["http", "process", "docker"] as const) {
    it(`writes a commented ${runtime} manifest that imports as it is`, async () => {
      const cwd = tempDir("toolctl-new-");
      const home = tempDir("toolctl-new-home-");
      const made = await runJson(["new", runtime, `my-${runtime}`], { cwd, home });
      expect(made.code, made.stderr).toBe(0);
      expect(made.json).toMatchObject({ file: `my-${runtime}.yaml`, tool: `my-${runtime}`, runtime });
      const text = readFileSync(path.join(cwd, `my-${runtime}.yaml`), "utf8");
      expect(text).toMatch(/^# my-/);
      expect(text.split("\n").filter((line) => /^\s*# /.test(line)).length).toBeGreaterThan(4);
      expect(text).toContain(`runtime: ${runtime}`);
      const imported = await runJson(["import", `my-${runtime}.yaml`], { cwd, home });
      expect(imported.code, imported.stderr).toBe(0);
      expect(imported.json.failed).toEqual([]);
      expect(imported.json.imported).toEqual([expect.objectContaining({ tool: `my-${runtime}`, change: "added" })]);
      if (runtime === "http") expect(made.json.secrets).toEqual(["MY_HTTP_TOKEN"]);
      else expect(made.json.secrets).toEqual([]);
    });
  }

  it("makes a process tool that runs as it is", async () => {
    const cwd = tempDir("toolctl-new-");
    const home = tempDir("toolctl-new-home-");
    expect((await runCli(["new", "process", "echoer"], { cwd, home })).code).toBe(0);
    expect((await runCli(["import", "echoer.yaml"], { cwd, home })).code).toBe(0);
    const ran = await runJson(["run", "echoer.run", "--param", "message=hi"], { cwd, home });
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.json.output).toEqual({ message: "hi" });
  });

  it("writes to --out, and names the file with the secrets to set", async () => {
    const cwd = tempDir("toolctl-new-");
    const made = await runCli(["new", "http", "billing", "--out", "tools.yaml"], { cwd });
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toBe("wrote tools.yaml (http tool billing)\n");
    // What to do next is for people, on stderr; --quiet leaves it out.
    expect(made.stderr).toContain("toolctl secret set BILLING_TOKEN");
    expect(made.stderr).toContain("toolctl import tools.yaml");
    const quiet = await runCli(["new", "http", "billing", "--out", "quiet.yaml", "-q"], { cwd });
    expect(quiet.code, quiet.stderr).toBe(0);
    expect([quiet.stdout, quiet.stderr]).toEqual(["wrote quiet.yaml (http tool billing)\n", ""]);
    expect(existsSync(path.join(cwd, "tools.yaml"))).toBe(true);
    expect(existsSync(path.join(cwd, "billing.yaml"))).toBe(false);
  });

  it("never replaces an existing file (exit 2)", async () => {
    const cwd = tempDir("toolctl-new-");
    writeFileSync(path.join(cwd, "weather.yaml"), "mine\n");
    expectOneLineError(await runCli(["new", "http", "weather"], { cwd }), /^error: weather\.yaml already exists: toolctl new never replaces a file/);
    expectOneLineError(await runCli(["new", "process", "other", "--out", "weather.yaml"], { cwd }), /^error: weather\.yaml already exists/);
    expect(readFileSync(path.join(cwd, "weather.yaml"), "utf8")).toBe("mine\n");
    const json = await runJson(["new", "http", "weather"], { cwd });
    expect(json.code).toBe(2);
    expect(json.json.error).toMatchObject({ code: "usage", exitCode: 2, message: expect.stringContaining("weather.yaml already exists") });
  });

  it("refuses a name that is not a tool name, an unknown runtime and a missing --out directory (exit 2)", async () => {
    const cwd = tempDir("toolctl-new-");
    for (const name of ["Weather", "1tool", "my tool", "a".repeat(64), "-x"]) {
      const result = await runCli(["new", "http", name], { cwd });
      if (name === "-x") expectOneLineError(result, /^error: (unknown option '-x'|missing required argument 'name')/);
      else expectOneLineError(result, /^error: NAME: ".*" is not a tool name: a lowercase letter, then lowercase letters, digits/);
    }
    expectOneLineError(
      await runCli(["new", "ftp", "x"], { cwd }),
      /^error: command-argument value 'ftp' is invalid for argument 'runtime'. Allowed choices are http, process, docker/,
    );
    expectOneLineError(await runCli(["new", "http", "x", "--out", "nowhere/x.yaml"], { cwd }), /^error: --out nowhere\/x\.yaml: no such directory nowhere$/);
    expectOneLineError(await runCli(["new", "http", "x", "--out", "."], { cwd }), /^error: --out \.: is a directory; give the file to write$/);
    // A directory that exists but takes no new files (procfs answers ENOENT): not called missing.
    if (existsSync("/proc/self")) {
      expectOneLineError(await runCli(["new", "http", "x", "--out", "/proc/x.yaml"], { cwd }), /^error: cannot write \/proc\/x\.yaml: ENOENT$/);
    }
    expect(existsSync(path.join(cwd, "x.yaml"))).toBe(false);
  });
});

/** What the loopback server received from running `line` with the real curl (through bash, as typed). */
async function curlSends(line: string): Promise<Received> {
  const before = received.length;
  // Not spawnSync: the server answering curl runs in this process.
  const child = spawn("bash", ["--norc", "--noprofile", "-c", line], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  expect(code, stderr).toBe(0);
  expect(received.length).toBe(before + 1);
  return received.at(-1)!;
}

/** What the same server received from the tool `new --from-curl` made of it, run with the secrets in the environment. */
async function toolSends(name: string, line: string, secrets: Record<string, string>): Promise<{ sent: Received; text: string; stdout: string }> {
  const cwd = tempDir("toolctl-new-curl-");
  const home = tempDir("toolctl-new-curl-home-");
  const made = await runJson(["new", "http", name, "--from-curl", line], { cwd, home });
  expect(made.code, made.stderr).toBe(0);
  expect(made.json.secrets.sort()).toEqual(Object.keys(secrets).sort());
  const text = readFileSync(path.join(cwd, `${name}.yaml`), "utf8");
  const human = await runCli(["new", "http", name, "--from-curl", line, "--out", "again.yaml"], { cwd, home });
  for (const value of Object.values(secrets)) {
    expect(text).not.toContain(value);
    expect(made.stdout + made.stderr + human.stdout + human.stderr).not.toContain(value);
  }
  for (const secret of Object.keys(secrets)) expect(human.stderr).toContain(`toolctl secret set ${secret}`);
  const imported = await runJson(["import", `${name}.yaml`], { cwd, home });
  expect(imported.code, imported.stderr).toBe(0);
  if (imported.json.imported[0].status === "pending") expect((await runCli(["tool", "approve", name, "--yes"], { home })).code).toBe(0);
  const shown = await runJson(["show", name], { home });
  expect(shown.json.actions).toHaveLength(1);
  const actionName = shown.json.actions[0].name as string;
  const before = received.length;
  const ran = await runJson(["run", `${name}.${actionName}`], { cwd, home, env: secrets });
  expect(ran.code, ran.stderr).toBe(0);
  expect(received.length).toBe(before + 1);
  return { sent: received.at(-1)!, text, stdout: made.stdout };
}

const sortedQuery = (url: string) => [...new URL(url, "http://x").searchParams].sort(([a], [b]) => a.localeCompare(b));

function expectSameRequest(tool: Received, curl: Received, headers: string[]) {
  expect(tool.method).toBe(curl.method);
  expect(new URL(tool.url, "http://x").pathname).toBe(new URL(curl.url, "http://x").pathname);
  expect(sortedQuery(tool.url)).toEqual(sortedQuery(curl.url));
  for (const header of headers) expect([header, tool.headers[header]]).toEqual([header, curl.headers[header]]);
}

describe("toolctl new http NAME --from-curl", () => {
  it("turns a JSON POST with a bearer token, an API-key header and a token in the query into an action that sends the same", async () => {
    const secrets = {
      PETS_TOKEN: "tok-bearer-8f3a91",
      PETS_API_KEY: "key-header-77aa02",
      PETS_ACCESS_TOKEN: "tok-query-5521bc",
      PETS_CLIENT_SECRET: "cs-json-90d1e4",
    };
    const line = `curl -sS -X POST '${base}/v1/pets?limit=5&access_token=${secrets.PETS_ACCESS_TOKEN}' \\
      -H 'Authorization: Bearer ${secrets.PETS_TOKEN}' -H "X-Api-Key: ${secrets.PETS_API_KEY}" -H 'X-Trace: t-1' \\
      -H 'Content-Type: application/json' -d '{"name": "rex", "tags": ["a", "b"], "auth": {"client_secret": "${secrets.PETS_CLIENT_SECRET}"}}'`;
    const curl = await curlSends(line);
    const { sent, text } = await toolSends("pets", line, secrets);
    expectSameRequest(sent, curl, ["authorization", "x-api-key", "x-trace"]);
    expect(sent.headers["content-type"]).toMatch(/^application\/json/);
    expect(JSON.parse(sent.body)).toEqual(JSON.parse(curl.body));
    const manifest = parse(text);
    expect(manifest.auth).toEqual({ type: "bearer", secret: "PETS_TOKEN" });
    expect(manifest.actions.post_pets.request).toMatchObject({
      method: "POST",
      path: "/v1/pets",
      query: { limit: "5", access_token: "{{ secrets.PETS_ACCESS_TOKEN }}" },
      headers: { "X-Api-Key": "{{ secrets.PETS_API_KEY }}", "X-Trace": "t-1" },
      json: { name: "rex", tags: ["a", "b"], auth: { client_secret: "{{ secrets.PETS_CLIENT_SECRET }}" } },
    });
  });

  it("leaves out, with a note, the headers toolctl's HTTP client sets itself (Host, Connection, Content-Length)", async () => {
    const cwd = tempDir("toolctl-new-curl-");
    const home = tempDir("toolctl-new-curl-home-");
    const line = `curl ${base}/v1/pets -H 'Host: api.example.com' -H 'Connection: keep-alive' -H 'Content-Length: 2' -H 'X-Trace: t-1' -d '{}'`;
    const made = await runJson(["new", "http", "owned", "--from-curl", line], { cwd, home });
    expect(made.code, made.stderr).toBe(0);
    expect(made.json.notes).toEqual(
      expect.arrayContaining([
        "the Host header is left out: toolctl's HTTP client sets it itself (it sends the URL's host)",
        "the Connection header is left out: toolctl's HTTP client sets it itself (it opens one connection per request and closes it after the answer)",
        "the Content-Length header is left out: toolctl's HTTP client sets it itself (it sends the body's own length)",
      ]),
    );
    expect(parse(readFileSync(path.join(cwd, "owned.yaml"), "utf8")).actions.post_pets.request.headers).toEqual({ "X-Trace": "t-1" });
    expect((await runCli(["import", "owned.yaml"], { cwd, home })).code).toBe(0);
  });

  it("turns a form body and basic auth (-u) into form: and auth: basic", async () => {
    const secrets = { SHOP_PASSWORD: "pw-basic-41c7d0", SHOP_API_TOKEN: "tok-form-0b9e35" };
    const line = `curl ${base}/orders -u ada:${secrets.SHOP_PASSWORD} -d 'item=tea&qty=2' --data-urlencode 'note=two cups & milk' -d api_token=${secrets.SHOP_API_TOKEN}`;
    const curl = await curlSends(line);
    const { sent, text } = await toolSends("shop", line, secrets);
    expectSameRequest(sent, curl, ["authorization"]);
    expect(Object.fromEntries(new URLSearchParams(sent.body))).toEqual(Object.fromEntries(new URLSearchParams(curl.body)));
    expect(sent.headers["content-type"]).toMatch(/^application\/x-www-form-urlencoded/);
    const manifest = parse(text);
    expect(manifest.auth).toEqual({ type: "basic", username: "ada", secret: "SHOP_PASSWORD" });
    expect(manifest.actions.post_orders.request.form).toEqual({ item: "tea", qty: "2", note: "two cups & milk", api_token: "{{ secrets.SHOP_API_TOKEN }}" });
  });

  it("puts -G data in the query, keeps cookies as secrets and takes a secret's name from a $VARIABLE", async () => {
    const secrets = { SEARCH_COOKIE_SESSION: "sess-cookie-aa19f2", SEARCH_KEY: "var-named-6c03de" };
    const line = `curl -G ${base}/search --data-urlencode 'q=hello world' -d page=2 -b 'session=${secrets.SEARCH_COOKIE_SESSION}' -H "X-Search-Key: ${secrets.SEARCH_KEY}"`;
    const curl = await curlSends(line);
    // The same line with the key left in a shell variable: the secret is named after it.
    const viaVariable = line.replace(secrets.SEARCH_KEY, "$SEARCH_KEY");
    const { sent, text } = await toolSends("search", viaVariable, secrets);
    expectSameRequest(sent, curl, ["cookie", "x-search-key"]);
    const manifest = parse(text);
    expect(manifest.auth).toEqual({ type: "api_key", in: "header", name: "X-Search-Key", secret: "SEARCH_KEY" });
    expect(manifest.actions.get_search.request).toMatchObject({
      method: "GET",
      query: { q: "hello world", page: "2" },
      cookies: { session: "{{ secrets.SEARCH_COOKIE_SESSION }}" },
    });
  });

  it("sends a repeated form field as curl does (tag=a&tag=b), through a styles entry", async () => {
    const secrets = { TAGS_API_TOKEN: "tok-form-rep-3e81c2" };
    const line = `curl ${base}/v1/charges -d tag=a -d tag=b -d amount=5 -d api_token=${secrets.TAGS_API_TOKEN} -d api_token=${secrets.TAGS_API_TOKEN}`;
    const curl = await curlSends(line);
    expect(curl.body).toBe(`tag=a&tag=b&amount=5&api_token=${secrets.TAGS_API_TOKEN}&api_token=${secrets.TAGS_API_TOKEN}`);
    const { sent, text } = await toolSends("tags", line, secrets);
    expect(sent.body).toBe(curl.body);
    const request = parse(text).actions.post_charges.request;
    expect(request.form).toEqual({ tag: ["a", "b"], amount: "5", api_token: ["{{ secrets.TAGS_API_TOKEN }}", "{{ secrets.TAGS_API_TOKEN }}"] });
    expect(request.styles).toEqual({ form: { tag: { style: "form", explode: true }, api_token: { style: "form", explode: true } } });
    // The dry run shows the same bytes, without the secret's value.
    const cwd = tempDir("toolctl-new-curl-");
    const home = tempDir("toolctl-new-curl-home-");
    expect((await runCli(["new", "http", "tags", "--from-curl", line], { cwd, home })).code).toBe(0);
    expect((await runCli(["import", "tags.yaml"], { cwd, home })).code).toBe(0);
    const dry = await runJson(["run", "tags.post_charges", "--dry-run"], { cwd, home, env: secrets });
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.stringify(dry.json)).toContain("tag=a&tag=b&amount=5&api_token=");
    expect(dry.stdout + dry.stderr).not.toContain(secrets.TAGS_API_TOKEN);
  });

  it("turns -u KEY: (an API key as the username) into a secret username", async () => {
    const secrets = { PAY_API_KEY: "sk_test_4eC39HqLyjWDarjtT1zdp7dc" };
    const line = `curl ${base}/v1/charges -u ${secrets.PAY_API_KEY}: -d amount=2000 -d currency=usd`;
    const curl = await curlSends(line);
    const { sent, text } = await toolSends("pay", line, secrets);
    expectSameRequest(sent, curl, ["authorization"]);
    expect(parse(text).auth).toEqual({ type: "basic", username: "{{ secrets.PAY_API_KEY }}", secret: "PAY_PASSWORD", passwordOptional: true });
  });

  it("turns Postman-style {{name}} placeholders into required string inputs, and a credential's into a secret", async () => {
    const secrets = { PM1_API_KEY: "key-pm-1f2e3d" };
    const line = `curl --location '${base}/users/{{userId}}?fields={{fields}}' --header 'X-Trace: {{traceId}}' --header 'X-Api-Key: {{apiKey}}' --data '{"name": "{{name}}", "tag": "t-{{name}}"}'`;
    const cwd = tempDir("toolctl-new-curl-");
    const home = tempDir("toolctl-new-curl-home-");
    const made = await runJson(["new", "http", "pm1", "--from-curl", line], { cwd, home });
    expect(made.code, made.stderr).toBe(0);
    expect(made.json.secrets).toEqual(["PM1_API_KEY"]);
    const manifest = parse(readFileSync(path.join(cwd, "pm1.yaml"), "utf8"));
    expect(manifest.auth).toEqual({ type: "api_key", in: "header", name: "X-Api-Key", secret: "PM1_API_KEY" });
    const action = manifest.actions.post_users;
    expect(action.inputSchema).toEqual({
      type: "object",
      required: ["userId", "traceId", "fields", "name"],
      properties: { userId: { type: "string" }, traceId: { type: "string" }, fields: { type: "string" }, name: { type: "string" } },
    });
    expect(action.request).toMatchObject({
      path: "/users/{{ input.userId }}",
      query: { fields: "{{ input.fields }}" },
      headers: { "X-Trace": "{{ input.traceId }}" },
      json: { name: "{{ input.name }}", tag: "t-{{ input.name }}" },
    });
    expect((await runCli(["import", "pm1.yaml"], { cwd, home })).code).toBe(0);
    expect(made.json.notes).toContain(
      "the line's {{name}} placeholders are the action's inputs: toolctl run pm1.post_users -p userId=… -p traceId=… -p fields=… -p name=…",
    );
    const ran = await runJson(["run", "pm1.post_users", "-p", "userId=42", "-p", "fields=a,b", "-p", "traceId=tr-9", "-p", "name=ada"], {
      cwd,
      home,
      env: secrets,
    });
    expect(ran.code, ran.stderr).toBe(0);
    const sent = received.at(-1)!;
    expect(new URL(sent.url, "http://x").pathname).toBe("/users/42");
    expect(new URL(sent.url, "http://x").searchParams.get("fields")).toBe("a,b");
    expect(sent.headers["x-trace"]).toBe("tr-9");
    expect(sent.headers["x-api-key"]).toBe(secrets.PM1_API_KEY);
    expect(JSON.parse(sent.body)).toEqual({ name: "ada", tag: "t-ada" });

    // auth.username takes secrets only: a user name with a placeholder becomes one, as the password does.
    const basic = await runJson(["new", "http", "pm2", "--from-curl", `curl -u '{{user}}:{{pass}}' https://api.example.com/me`], { cwd, home });
    expect(basic.code, basic.stderr).toBe(0);
    expect(parse(readFileSync(path.join(cwd, "pm2.yaml"), "utf8")).auth).toEqual({
      type: "basic",
      username: "{{ secrets.PM2_USERNAME }}",
      secret: "PM2_PASSWORD",
    });
    // So does a shell variable: its name is the secret's, as for the password, never the text "$USER".
    for (const [name, user] of [
      ["pm3", "$API_USER"],
      ["pm4", "${API_USER}"],
    ]) {
      const variable = await runJson(["new", "http", name, "--from-curl", `curl -u "${user}:$API_PASS" https://api.example.com/me`], { cwd, home });
      expect(variable.code, variable.stderr).toBe(0);
      expect(parse(readFileSync(path.join(cwd, `${name}.yaml`), "utf8")).auth).toEqual({
        type: "basic",
        username: "{{ secrets.API_USER }}",
        secret: "API_PASS",
      });
    }
  });

  it("never makes a template of other {{ … }} text in the line, nor a URL whose host is a shell variable: exit 2, one line", async () => {
    const cwd = tempDir("toolctl-new-");
    const template =
      /^error: --from-curl: the curl line has \{\{ … \}\} text that is not a \{\{name\}\} placeholder: in a manifest it would be a template \(templates have no escape\), not the text curl sends; take it out of the line$/;
    const host =
      /^error: --from-curl: the URL's host is not a host name \(a shell variable or a \{\{placeholder\}\} is not expanded\): write the URL out, as in https:\/\/api\.example\.com\/users$/;
    const cases: Array<[string, RegExp]> = [
      [`curl 'https://api.example.com/users?id={{ secrets.X }}'`, template],
      [`curl https://api.example.com/users -H 'X-Trace: {{secrets.X}}'`, template],
      [`curl https://api.example.com/users --json '{"a": "{{ input.a }}"}'`, template],
      [`curl https://api.example.com/users -H 'X-Id: {{$guid}}'`, template],
      [`curl https://api.example.com/users -d 'text {{ tool.dir }} here'`, template],
      [`curl 'https://api.example.com/v1/{{ secrets.X }}/users'`, template],
      [`curl "$API_URL/users"`, host],
      [`curl 'https://{{baseUrl}}/users'`, host],
      [`curl '{{baseUrl}}/users'`, host],
      [`curl 'http://\${HOST}:8080/users'`, host],
    ];
    for (const [line, message] of cases) {
      const result = await runCli(["new", "http", "bad", "--from-curl", line], { cwd });
      expectOneLineError(result, message);
    }
    expect(existsSync(path.join(cwd, "bad.yaml"))).toBe(false);
  });

  it("refuses what it cannot read, with one line naming --from-curl and never the value (exit 2)", async () => {
    const cwd = tempDir("toolctl-new-");
    const cases: Array<[string, RegExp]> = [
      [`curl -H 'Authorization: Bearer sekret-1 https://x.test`, /^error: --from-curl: unterminated ' quote$/],
      [`wget https://x.test`, /^error: --from-curl: expected a command line that starts with curl, not "wget"$/],
      [`curl -sS`, /^error: --from-curl: no URL in the curl command line$/],
      [`curl https://a.test https://b.test`, /^error: --from-curl: 2 URLs in the curl command line: give one request$/],
      [`curl --frobnicate https://x.test`, /^error: --from-curl: curl option --frobnicate is not supported$/],
      [`curl -F file=@x.png https://x.test`, /^error: --from-curl: multipart forms \(-F\/--form\) are not supported/],
      [`curl -d @body.json https://x.test`, /^error: --from-curl: -d @FILE reads the body from a file/],
      [`curl https://x.test | jq .`, /^error: --from-curl: '\|' outside quotes is a shell operator/],
      [`curl --json '{broken sekret-2' https://x.test`, /^error: --from-curl: the --json body is not JSON$/],
      [`curl -H 'sekret-3' https://x.test`, /^error: --from-curl: -H expects 'Name: value'$/],
      [`curl -X TRACE https://x.test`, /^error: --from-curl: method TRACE: toolctl sends GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS$/],
      [`curl ftp://x.test/file`, /^error: --from-curl: ftp URLs are not supported/],
    ];
    for (const [line, message] of cases) {
      const result = await runCli(["new", "http", "bad", "--from-curl", line], { cwd });
      expectOneLineError(result, message);
      expect(result.stderr).not.toMatch(/sekret/);
    }
    expectOneLineError(
      await runCli(["new", "process", "bad", "--from-curl", "curl https://x.test"], { cwd }),
      /^error: --from-curl makes an http tool: it does not apply to process$/,
    );
    expectOneLineError(
      await runCli(["new", "docker", "bad", "--from-curl", "curl https://x.test"], { cwd }),
      /^error: --from-curl makes an http tool: it does not apply to docker$/,
    );
    expect(existsSync(path.join(cwd, "bad.yaml"))).toBe(false);
  });

  it("never repeats a value in a refusal: --option=value, a variable before curl, an odd method, -G data that is not pairs, an empty user (exit 2)", async () => {
    const cwd = tempDir("toolctl-new-");
    const cases: Array<[string, RegExp]> = [
      // curl itself has no --option=value form (it says "option --header=…: is unknown"): refused, named up to the `=`.
      [
        `curl --header='Authorization: Bearer ghp_LEAKED01' https://api.github.com/user`,
        /^error: --from-curl: curl option --header=… is not supported: curl reads no --option=value form; write --header VALUE$/,
      ],
      [`curl --user=bob:LEAKED02 https://x.test`, /^error: --from-curl: curl option --user=… is not supported/],
      [`curl --data-raw='{"password":"LEAKED03"}' https://x.test`, /^error: --from-curl: curl option --data-raw=… is not supported/],
      [`curl --proxy=http://u:LEAKED04@proxy.test https://x.test`, /^error: --from-curl: curl option --proxy=… is not supported/],
      [`curl --frobnicate=LEAKED05 https://x.test`, /^error: --from-curl: curl option --frobnicate… is not supported$/],
      [`curl --bad\$LEAKED06 https://x.test`, /^error: --from-curl: curl option --bad… is not supported$/],
      [`TOKEN=LEAKED07 curl https://x.test`, /^error: --from-curl: expected a command line that starts with curl$/],
      [`curl -X 'Bearer LEAKED08' https://x.test`, /^error: --from-curl: the -X\/--request method: toolctl sends GET/],
      [`curl -G -d '{"password":"LEAKED09"}' https://x.test/x`, /^error: --from-curl: -G\/--get puts the data in the query, and only name=value pairs/],
      [`curl -G --data-raw 'LEAKED10 as text' https://x.test/x`, /^error: --from-curl: -G\/--get puts the data in the query/],
      [`curl -u :LEAKED11 https://x.test/`, /^error: --from-curl: -u\/--user \(or the URL\) gives an empty user name/],
      [`curl https://:LEAKED12@x.test/`, /^error: --from-curl: -u\/--user \(or the URL\) gives an empty user name/],
    ];
    for (const [line, message] of cases) {
      const human = await runCli(["new", "http", "bad", "--from-curl", line], { cwd });
      expectOneLineError(human, message);
      const json = await runCli(["new", "http", "bad", "--from-curl", line, "--json"], { cwd });
      expect(json.code).toBe(2);
      for (const output of [human.stdout, human.stderr, json.stdout, json.stderr]) expect(output).not.toMatch(/LEAKED/);
      // No file named in the message that was never written.
      expect(human.stderr).not.toMatch(/\.yaml/);
    }
    expect(existsSync(path.join(cwd, "bad.yaml"))).toBe(false);
  });
});
