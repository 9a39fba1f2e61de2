/**
 * Which credentials an imported tool sends: bearer rather than basic when a spec offers both, each operation's
 * own `security` honoured (`security: []` sends none, an OAuth2-only operation a bearer token, a basic-only one
 * basic), and basic auth with an API key as the username and no password. Checked on the converted manifest, and
 * end to end: the built binary runs each action against a loopback server that records the Authorization header.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runJson, tempDir, writeFiles } from "./helpers.js";
import { actionsOf, convertSpec, expectImportable, op, openapi30 } from "./fixtures/openapi/support.js";

const spec = openapi30(
  {
    "/things": { get: op({ operationId: "listThings", parameters: [{ name: "X-Key", in: "header", schema: { type: "string" } }] }) },
    "/health": { get: op({ operationId: "health", security: [] }) },
    "/reports": { get: op({ operationId: "report", security: [{ oauth: ["reports:read"] }] }) },
    "/legacy": { get: op({ operationId: "legacy", security: [{ basicAuth: [] }] }) },
    "/keyed": { get: op({ operationId: "keyed", security: [{ key: [] }], parameters: [{ name: "X-Key", in: "header", schema: { type: "string" } }] }) },
    "/either": { get: op({ operationId: "either", security: [{}, { basicAuth: [] }] }) },
  },
  {
    info: { title: "Authy", version: "1" },
    security: [{ basicAuth: [] }, { bearerAuth: [] }],
    components: {
      securitySchemes: {
        basicAuth: { type: "http", scheme: "basic" },
        bearerAuth: { type: "http", scheme: "bearer" },
        oauth: { type: "oauth2", flows: { clientCredentials: { tokenUrl: "https://auth.example.com/token", scopes: { "reports:read": "read" } } } },
        key: { type: "apiKey", in: "header", name: "X-Key" },
      },
    },
  },
);

describe("auth of an imported tool and of each operation", () => {
  it("prefers bearer beside basic, and gives operations whose security differs an auth of their own", async () => {
    const result = await convertSpec(spec);
    expect(result.manifest.auth).toEqual({ type: "bearer", secret: "TOOL_AUTHY_API_KEY" });
    const actions = actionsOf(result) as Record<string, { auth?: unknown; inputSchema: Record<string, any> }>;
    expect(actions.listThings!.auth).toBeUndefined();
    expect(actions.either!.auth).toBeUndefined();
    expect(actions.health!.auth).toEqual({ type: "none" });
    expect(actions.report!.auth).toEqual({ type: "bearer", secret: "TOOL_AUTHY_OAUTH" });
    expect(actions.legacy!.auth).toEqual({
      type: "basic",
      username: "{{ secrets.TOOL_AUTHY_BASICAUTH_USERNAME }}",
      secret: "TOOL_AUTHY_BASICAUTH_PASSWORD",
      passwordOptional: true,
    });
    expect(actions.keyed!.auth).toEqual({ type: "api_key", in: "header", name: "X-Key", secret: "TOOL_AUTHY_KEY" });
    // The header an operation's own auth fills in is not an input; elsewhere it still is.
    expect(Object.keys(actions.keyed!.inputSchema.properties)).toEqual([]);
    expect(Object.keys(actions.listThings!.inputSchema.properties)).toEqual(["X-Key"]);
    expect(result.report.warnings.join("\n")).not.toMatch(/is not used/);
    expectImportable(result);
  });

  it("takes basic auth with an API key as the username: the password may be left unset", async () => {
    const result = await convertSpec(
      openapi30(
        { "/a": { get: op({ operationId: "a" }) } },
        {
          info: { title: "Keyed Basic", version: "1" },
          security: [{ b: [] }],
          components: { securitySchemes: { b: { type: "http", scheme: "basic" } } },
        },
      ),
    );
    expect(result.manifest.auth).toEqual({
      type: "basic",
      username: "{{ secrets.TOOL_KEYED_BASIC_USERNAME }}",
      secret: "TOOL_KEYED_BASIC_PASSWORD",
      passwordOptional: true,
    });
  });
});

describe("imported auth, end to end", () => {
  const seen: Array<{ url: string; authorization?: string; key?: string }> = [];
  let server: http.Server;
  let base = "";
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push({ url: req.url!, authorization: req.headers.authorization, key: req.headers["x-key"] as string | undefined });
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("sends what each operation asks for, and needs only the secrets of the auth it sends", async () => {
    const home = tempDir("toolctl-openapi-auth-");
    const dir = writeFiles({ "spec.json": JSON.stringify(spec) });
    const imported = await runJson(
      ["import", "--openapi", path.join(dir, "spec.json"), "--base-url", `${base}/v1`, "--allow-plain-http", "--allow-private-networks"],
      { home },
    );
    expect(imported.code, imported.stderr).toBe(0);
    expect((await runJson(["tool", "approve", "authy", "--yes"], { home })).code).toBe(0);
    const run = async (action: string, env: Record<string, string>) => {
      const result = await runJson(["run", `authy.${action}`], { home, env });
      return { code: result.code, error: result.json.error?.message as string | undefined, got: result.code === 0 ? seen.at(-1) : undefined };
    };

    expect(await run("health", {})).toMatchObject({ code: 0, got: { url: "/v1/health", authorization: undefined } });
    expect(await run("listThings", { TOOL_AUTHY_API_KEY: "tok-1" })).toMatchObject({ code: 0, got: { authorization: "Bearer tok-1" } });
    const noToken = await run("report", { TOOL_AUTHY_API_KEY: "tok-1" });
    expect(noToken.code).toBe(2);
    expect(noToken.error).toMatch(/secret TOOL_AUTHY_OAUTH is not set/);
    expect(await run("report", { TOOL_AUTHY_OAUTH: "oauth-2" })).toMatchObject({ code: 0, got: { authorization: "Bearer oauth-2" } });
    expect(await run("legacy", { TOOL_AUTHY_BASICAUTH_USERNAME: "key123" })).toMatchObject({
      code: 0,
      got: { authorization: `Basic ${Buffer.from("key123:").toString("base64")}` },
    });
    expect(await run("legacy", { TOOL_AUTHY_BASICAUTH_USERNAME: "u", TOOL_AUTHY_BASICAUTH_PASSWORD: "p" })).toMatchObject({
      got: { authorization: `Basic ${Buffer.from("u:p").toString("base64")}` },
    });
    expect(await run("keyed", { TOOL_AUTHY_KEY: "k-9" })).toMatchObject({ code: 0, got: { key: "k-9", authorization: undefined } });
  });
});

describe("an action's own auth in a manifest", () => {
  it("is for the http runtime only, and its username template is checked like the tool's", async () => {
    const home = tempDir("toolctl-openapi-auth-");
    const dir = writeFiles({
      "echo.yaml": "apiVersion: toolctl/v1\nname: e\ndescription: d\nruntime: echo\nactions:\n  say: { description: d, kind: read, auth: { type: none } }\n",
      "mail.yaml":
        "apiVersion: toolctl/v1\nname: m\ndescription: d\nruntime: email\nemail: { host: smtp.example.com, from: a@example.com }\nauth: { type: basic, username: u, secret: PW, passwordOptional: true }\nactions:\n  send: { description: d, kind: create }\n",
      "web.yaml":
        "apiVersion: toolctl/v1\nname: w\ndescription: d\nruntime: http\nbaseUrl: https://api.example.com\nactions:\n  get:\n    description: d\n    kind: read\n    request: { path: /x }\n    auth: { type: basic, username: '{{ input.user }}', secret: PW }\n",
    });
    const result = await runJson(["import", dir], { home });
    expect(result.code).toBe(2);
    const problems = result.json.failed.flatMap((f: { problems: string[] }) => f.problems).join("\n");
    expect(problems).toMatch(/echo\.yaml:\d+:\d+: actions\.say\.auth: only valid for runtime http, not echo/);
    expect(problems).toMatch(/web\.yaml:\d+:\d+: actions\.get\.auth\.username: .*input/);
    expect(problems).toMatch(/mail\.yaml:\d+:\d+: auth\.passwordOptional: only valid for runtime http, not email/);
  });
});
