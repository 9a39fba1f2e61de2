/**
 * manifests/namecheap.yaml end to end: the library API against a fake Namecheap on 127.0.0.1 that speaks its
 * XML wire format (test/fakes/namecheap.ts), always HTTP 200 with `Status="ERROR"` for failures. The test runs a
 * copy of the shipped manifest whose only changes are baseUrl (and, for the sandbox test, sandboxBaseUrl) and the
 * loopback settings of the outbound guard. Two tests run the built binary, for what the CLI prints and
 * `toolctl tool test`. Also: unit tests of runners/http/xml.ts, the XML → JSON mapping.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseDocument } from "yaml";
import type { Toolctl } from "../src/api/index.js";
import { isXmlContentType, XmlError } from "../src/runners/http/xml.js";
import { xmlToJson } from "../src/runners/http/xml-parse.js";
import { FakeNamecheap } from "./fakes/namecheap.js";
import { FakeServer, loopbackCopy, sendJson, sendText } from "./fakes/server.js";
import { openApi, repoRoot, runCli, runJson, tempDir, writeFiles } from "./helpers.js";

const shipped = path.join(repoRoot, "manifests", "namecheap.yaml");
let namecheap: FakeNamecheap;
let sandbox: FakeNamecheap;
let manifestDir: string;
let sandboxDir: string;
let env: Record<string, string>;

const CONTACT = {
  first_name: "Ada",
  last_name: "Lovelace",
  address1: "12 St James's Square",
  city: "London",
  state_province: "London",
  postal_code: "SW1Y 4JH",
  country: "GB",
  phone: "+44.2079460000",
  email: "ada@example.org",
};
const PRICE_PATH = "output.ApiResponse.CommandResponse.UserGetPricingResult.ProductType.ProductCategory.Product.Price[0].-YourPrice";

beforeAll(async () => {
  namecheap = await new FakeNamecheap().start();
  // The sandbox is another account on another host: its own key, and a server name to tell them apart.
  sandbox = await new FakeNamecheap({ apiUser: namecheap.apiUser, server: "SANDBOX01", prices: { com: 8.88 } }).start();
  manifestDir = tempDir("toolctl-namecheap-manifest-");
  loopbackCopy(shipped, namecheap.url, manifestDir);
  // The sandbox copy: production at one fake, sandboxBaseUrl at the other.
  sandboxDir = tempDir("toolctl-namecheap-sandbox-");
  const copy = loopbackCopy(shipped, namecheap.url, sandboxDir);
  const document = parseDocument(readFileSync(copy, "utf8"));
  document.set("sandboxBaseUrl", sandbox.url);
  writeFileSync(copy, document.toString());
  env = { NAMECHEAP_API_USER: namecheap.apiUser, NAMECHEAP_API_KEY: namecheap.apiKey, NAMECHEAP_CLIENT_IP: "203.0.113.7" };
});
afterAll(async () => {
  await namecheap.close();
  await sandbox.close();
});

/** A fresh home per test (the circuit breaker and the budget are per home), opened with `environment`. */
async function api(environment: Record<string, string> = env, dir = manifestDir): Promise<Toolctl> {
  const toolctl = await openApi({ env: environment });
  const report = await toolctl.importManifests([dir]);
  expect(report.failed).toEqual([]);
  expect(report.imported.map((i) => i.tool)).toEqual(["namecheap"]);
  return toolctl;
}

/** The same home opened with another environment. */
const withEnv = (toolctl: Toolctl, environment: Record<string, string>) => openApi({ home: toolctl.home, env: environment });

const check = (domain: string) => ["namecheap.check_domain", { domain }] as const;
const register = (sld: string, tld = "com") => ["namecheap.register_domain", { sld, tld, contact: CONTACT }] as const;
const available = (result: { output?: unknown }) => (result.output as any).ApiResponse.CommandResponse.DomainCheckResult["-Available"];
/** A call's parameters as Namecheap reads them (a POST's form body); the URL carries none. */
const sentParams = (req: { url: string; body: string }) => {
  expect(req.url).toBe("/xml.response");
  return Object.fromEntries(new URLSearchParams(req.body));
};

function expectNoSecrets(...values: unknown[]): void {
  for (const value of values) {
    const text = typeof value === "string" ? value : JSON.stringify(value);
    expect(text).not.toContain(namecheap.apiKey);
    expect(text).not.toContain("203.0.113.7");
  }
}

describe("namecheap manifest", () => {
  it("ships pointing at api.namecheap.com with the sandbox beside it; the test copy changes only baseUrl and the loopback allowances", () => {
    const original = parse(readFileSync(shipped, "utf8"));
    const copy = parse(readFileSync(path.join(manifestDir, "namecheap.yaml"), "utf8"));
    expect(original.baseUrl).toBe("https://api.namecheap.com");
    expect(original.sandboxBaseUrl).toBe("https://api.sandbox.namecheap.com");
    expect(copy.http).toEqual({ ...original.http, allowPlainHttp: true, allowPrivateNetworks: ["127.0.0.0/8"] });
    expect({ ...copy, baseUrl: original.baseUrl, http: original.http }).toEqual(original);
  });

  it("imports as shipped: the registration is approval-always, not idempotent, irreversible and priced by get_price", async () => {
    const toolctl = await openApi();
    expect((await toolctl.importManifests([shipped])).failed).toEqual([]);
    const tool = (await toolctl.getTool("namecheap"))!;
    expect(tool.name).toBe("namecheap");
    expect(tool.definition).toMatchObject({ baseUrl: "https://api.namecheap.com", sandboxBaseUrl: "https://api.sandbox.namecheap.com" });
    expect((await toolctl.store.tools.action("namecheap", "register_domain", false))!.definition).toMatchObject({
      kind: "create",
      idempotent: false,
      approval: "always",
      rollback: "irreversible",
      cost: { quote: { action: "get_price", input: { tld: "{{ input.tld }}" }, from: PRICE_PATH, scale: 1 } },
      failWhen: { path: "output.ApiResponse.-Status", equals: "ERROR", categories: { "1011150": "authorization" } },
      request: { method: "POST", path: "/xml.response", response: "xml" },
    });
  });
});

describe("namecheap against a fake Namecheap", () => {
  it("check_domain: the credentials go in a POSTed form, the XML comes back as JSON, and no secret is printed", async () => {
    const toolctl = await api();
    const free = await toolctl.run(...check("ada-lovelace-notes.com"));
    expect(free.exitCode).toBe(0);
    expect(free.status).toBe("succeeded");
    expect((free.output as any).ApiResponse).toMatchObject({
      "-Status": "OK",
      Errors: "",
      RequestedCommand: "namecheap.domains.check",
      CommandResponse: {
        "-Type": "namecheap.domains.check",
        DomainCheckResult: { "-Domain": "ada-lovelace-notes.com", "-Available": "true", "-IsPremiumName": "false" },
      },
    });
    expect(namecheap.server.requests.at(-1)!.method).toBe("POST");
    expect(sentParams(namecheap.server.requests.at(-1)!)).toEqual({
      ApiUser: namecheap.apiUser,
      ApiKey: namecheap.apiKey,
      UserName: namecheap.apiUser,
      ClientIp: "203.0.113.7",
      Command: "namecheap.domains.check",
      DomainList: "ada-lovelace-notes.com",
    });
    expectNoSecrets(free, await toolctl.execution(free.executionId));

    const taken = await toolctl.run(...check("google.com"));
    expect(taken.exitCode).toBe(0);
    expect(available(taken)).toBe("false");
  });

  it("check → quote → buy: approval needed, the cost is get_price's one-year price, and the domain is registered once", async () => {
    const toolctl = await api();
    const before = namecheap.registrations.length;
    const checked = await toolctl.run(...check("babbage-engine.com"));
    expect(available(checked)).toBe("true");

    // Without yes (and no human to ask) the run stops at the approval: the quote (a read) ran, the purchase did not.
    const asked = await toolctl.run(...register("babbage-engine"));
    expect(asked.exitCode).toBe(4);
    expect(asked.status).toBe("declined");
    expect(asked.cost).toMatchObject({ usd: 10.28 });
    expect(asked.approval!.required).toBe(true);
    expect(namecheap.commands("namecheap.domains.create").length).toBe(0);

    const pricing = namecheap.commands("namecheap.users.getPricing").length;
    const bought = await toolctl.run(...register("babbage-engine"), { yes: true });
    expect(bought.exitCode).toBe(0);
    expect(bought).toMatchObject({
      status: "succeeded",
      cost: { usd: 10.28, basis: `get_price quote: ${PRICE_PATH}` },
      approval: { required: true },
      output: {
        ApiResponse: {
          "-Status": "OK",
          CommandResponse: { DomainCreateResult: { "-Domain": "babbage-engine.com", "-Registered": "true", "-ChargedAmount": "10.2800" } },
        },
      },
    });
    expect(namecheap.registrations.length).toBe(before + 1);
    expect(namecheap.registrations.at(-1)).toMatchObject({
      domain: "babbage-engine.com",
      years: 1,
      chargedUsd: 10.28,
      registrant: { FirstName: "Ada", Phone: "+44.2079460000", Country: "GB" },
    });
    expect(namecheap.commands("namecheap.users.getPricing").length).toBe(pricing + 1);
    expect(sentParams(namecheap.commands("namecheap.users.getPricing").at(-1)!)).toMatchObject({
      ProductType: "DOMAIN",
      ActionName: "REGISTER",
      ProductName: "com",
    });
    const sent = sentParams(namecheap.commands("namecheap.domains.create").at(-1)!);
    expect(sent).toMatchObject({
      DomainName: "babbage-engine.com",
      Years: "1",
      RegistrantFirstName: "Ada",
      TechEmailAddress: "ada@example.org",
      AdminCountry: "GB",
      AuxBillingPostalCode: "SW1Y 4JH",
    });
    expect(sent.RegistrantOrganizationName).toBeUndefined();
    expectNoSecrets(bought, await toolctl.execution(bought.executionId));
    const budget = await toolctl.budget();
    expect(budget.spend.committedUsd).toBe(10.28);
    expect(budget.entries.find((e) => e.executionId === bought.executionId)).toMatchObject({ amountUsd: 10.28 });

    // Bought: the name is now taken.
    const after = await toolctl.run(...check("babbage-engine.com"));
    expect(available(after)).toBe("false");
  });

  it("register_domain sends the organization under Namecheap's own names for every role, as a POSTed form with nothing in the URL", async () => {
    const toolctl = await api();
    const company = { ...CONTACT, organization: "Analytical Engines Ltd" };
    const bought = await toolctl.run("namecheap.register_domain", { sld: "analytical-engines", tld: "com", contact: company }, { yes: true });
    expect(bought.exitCode, bought.error?.message).toBe(0);
    // Namecheap ignores a name it does not know: a misspelt field would register the domain to the person alone.
    const call = namecheap.calls("namecheap.domains.create").at(-1)!;
    expect(call.ignored).toEqual([]);
    const registration = namecheap.registrations.at(-1)!;
    expect(registration.domain).toBe("analytical-engines.com");
    for (const role of ["Registrant", "Tech", "Admin", "AuxBilling"] as const) {
      expect(registration.contacts[role], role).toEqual({
        OrganizationName: "Analytical Engines Ltd",
        FirstName: "Ada",
        LastName: "Lovelace",
        Address1: "12 St James's Square",
        City: "London",
        StateProvince: "London",
        PostalCode: "SW1Y 4JH",
        Country: "GB",
        Phone: "+44.2079460000",
        EmailAddress: "ada@example.org",
      });
    }
    // The API key, the IP and the contact details travel in the body, never in a URL (proxy and server logs keep URLs).
    expect(call.method).toBe("POST");
    expect(call.inQuery).toEqual([]);
    const request = namecheap.commands("namecheap.domains.create").at(-1)!;
    expect(request.url).toBe("/xml.response");
    expect(request.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(call.params).toMatchObject({
      ApiUser: namecheap.apiUser,
      ApiKey: namecheap.apiKey,
      ClientIp: "203.0.113.7",
      Command: "namecheap.domains.create",
      Years: "1",
    });

    // A person's registration sends no organization at all (an empty one is not sent either).
    const person = await toolctl.run(...register("lovelace-person"), { yes: true });
    expect(person.exitCode, person.error?.message).toBe(0);
    expect(namecheap.calls("namecheap.domains.create").at(-1)!.ignored).toEqual([]);
    expect(namecheap.registrations.at(-1)!.contacts.Registrant.OrganizationName).toBeUndefined();
    expect(namecheap.registrations.at(-1)!.contacts.AuxBilling).toMatchObject({ FirstName: "Ada", EmailAddress: "ada@example.org" });
  });

  it('a taken domain: "Domain not available", exit 1, category validation, nothing registered or spent', async () => {
    const toolctl = await api();
    const before = namecheap.registrations.length;
    const result = await toolctl.run(...register("google"), { yes: true });
    expect(result.exitCode).toBe(1);
    expect(result.status).toBe("failed");
    expect(result.error).toMatchObject({ message: "Domain not available (error 2019166)", category: "validation" });
    // Namecheap's whole answer stays as the output, for scripts.
    expect((result.output as any).ApiResponse.Errors.Error).toEqual({ "-Number": "2019166", "-text": "Domain not available" });
    expect(namecheap.registrations.length).toBe(before);
    expect((await toolctl.budget()).spend).toMatchObject({ committedUsd: 0, reservedUsd: 0 });
    expect(await toolctl.execution(result.executionId)).toMatchObject({
      status: "failed",
      error: { code: "action_failed", message: "Domain not available (error 2019166)" },
    });
  });

  it('a ClientIp that is not whitelisted: "Invalid request IP", exit 1, authorization; a registration stops at the quote', async () => {
    const toolctl = await api({ ...env, NAMECHEAP_CLIENT_IP: "198.51.100.23" });
    const checked = await toolctl.run(...check("lovelace.org"));
    expect(checked.exitCode).toBe(1);
    // The IP is one of the tool's secrets, so even Namecheap's echo of it is scrubbed.
    expect(checked.error).toMatchObject({ message: "Invalid request IP: [REDACTED] (error 1011150)", category: "authorization" });
    expect(JSON.stringify(checked)).not.toContain("198.51.100.23");

    const creates = namecheap.commands("namecheap.domains.create").length;
    const bought = await toolctl.run(...register("lovelace", "org"), { yes: true });
    expect(bought.exitCode).toBe(1);
    expect(bought.error!.category).toBe("authorization");
    expect(bought.error!.message).toBe("the price quote (namecheap.get_price) failed: Invalid request IP: [REDACTED] (error 1011150); nothing was bought");
    expect(namecheap.commands("namecheap.domains.create").length).toBe(creates);

    const malformed = await (await withEnv(toolctl, { ...env, NAMECHEAP_CLIENT_IP: "my-laptop" })).run(...check("lovelace.org"));
    expect(malformed.exitCode).toBe(1);
    expect(malformed.error).toMatchObject({ message: "Parameter RequestIP is invalid (error 1011150)", category: "authorization" });
  });

  it("a wrong API key is authentication (exit 1); a missing secret is named (exit 2) and nothing is sent", async () => {
    const toolctl = await api({ ...env, NAMECHEAP_API_KEY: "0123456789abcdef0123456789abcdef" });
    const wrongKey = await toolctl.run(...check("lovelace.org"));
    expect(wrongKey.exitCode).toBe(1);
    expect(wrongKey.error).toMatchObject({ message: "API Key is invalid or API access has not been enabled (error 1011102)", category: "authentication" });

    const requests = namecheap.server.requests.length;
    const missing = await (
      await withEnv(toolctl, { NAMECHEAP_API_USER: namecheap.apiUser, NAMECHEAP_API_KEY: namecheap.apiKey })
    ).run(...check("lovelace.org"));
    expect(missing.exitCode).toBe(2);
    expect(missing.error!.message).toMatch(/NAMECHEAP_CLIENT_IP/);
    expect(namecheap.server.requests.length).toBe(requests);
  });

  it("a TLD Namecheap does not sell fails at the quote with its message; nothing is bought", async () => {
    const toolctl = await api();
    const creates = namecheap.commands("namecheap.domains.create").length;
    const result = await toolctl.run(...register("lovelace", "dev"), { yes: true });
    expect(result.exitCode).toBe(1);
    expect(result.error!.message).toBe("the price quote (namecheap.get_price) failed: TLD is not supported in API (error 2030280); nothing was bought");
    expect(namecheap.commands("namecheap.domains.create").length).toBe(creates);
  });

  it("a dry run shows the exact requests with every secret redacted; only the price quote (a read) reaches Namecheap", async () => {
    const toolctl = await api();
    const requests = namecheap.server.requests.length;
    const connections = namecheap.server.connections;
    const checked = await toolctl.preview(...check("lovelace.org"));
    expect(checked.exitCode).toBe(0);
    expect(checked.status).toBe("dry_run");
    expect(checked.request).toMatchObject({ method: "POST", url: `${namecheap.url}/xml.response` });
    expect(checked.request!.body).toEqual({
      ApiUser: "[REDACTED]",
      ApiKey: "[REDACTED]",
      UserName: "[REDACTED]",
      ClientIp: "[REDACTED]",
      Command: "namecheap.domains.check",
      DomainList: "lovelace.org",
    });
    expectNoSecrets(checked);
    expect(namecheap.server.requests.length).toBe(requests);
    expect(namecheap.server.connections).toBe(connections);

    const registrations = namecheap.registrations.length;
    const bought = await toolctl.preview(...register("lovelace", "net"));
    expect(bought.exitCode).toBe(0);
    expect(bought).toMatchObject({ status: "dry_run", cost: { usd: 12.98 }, approval: { required: true } });
    expect(bought.request!.url).toBe(`${namecheap.url}/xml.response`);
    expect(bought.request!.body).toMatchObject({
      ApiKey: "[REDACTED]",
      Command: "namecheap.domains.create",
      DomainName: "lovelace.net",
      Years: 1,
      RegistrantFirstName: "Ada",
    });
    expect(bought.request!.encodedBody).toContain("ApiKey=[REDACTED]");
    expectNoSecrets(bought);
    expect(namecheap.server.requests.slice(requests).map((r) => sentParams(r).Command)).toEqual(["namecheap.users.getPricing"]);
    expect(namecheap.registrations.length).toBe(registrations);
  });

  it("TOOLCTL_SANDBOX_APIS=true sends everything to sandboxBaseUrl, production sees nothing", async () => {
    const toolctl = await api({ ...env, NAMECHEAP_API_KEY: sandbox.apiKey, TOOLCTL_SANDBOX_APIS: "true" }, sandboxDir);
    const production = namecheap.server.requests.length;
    const sandboxed = sandbox.server.requests.length;
    const checked = await toolctl.run(...check("sandbox-test.com"));
    expect(checked.exitCode).toBe(0);
    expect((checked.output as any).ApiResponse.Server).toBe("SANDBOX01");
    expect(JSON.stringify(checked)).not.toContain(sandbox.apiKey);
    const bought = await toolctl.run(...register("sandbox-test"), { yes: true });
    expect(bought.exitCode).toBe(0);
    expect(bought.cost!.usd).toBe(8.88);
    expect(sandbox.registrations.map((r) => r.domain)).toEqual(["sandbox-test.com"]);
    expect(sandbox.server.requests.length).toBe(sandboxed + 3);
    expect(namecheap.server.requests.length).toBe(production);

    // Without the setting, the same home talks to production.
    const live = await (await withEnv(toolctl, env)).run(...check("sandbox-test.com"));
    expect((live.output as any).ApiResponse.Server).toBe("PHX01APIEXT01");
    expect(namecheap.server.requests.length).toBe(production + 1);
  });
});

describe("failWhen and response: auto with XML, outside Namecheap", () => {
  it("a JSON 200 that says ok: false fails with the provider's words; auto reads text/xml as XML; broken XML is a clear failure", async () => {
    const server = await new FakeServer((req, res) => {
      if (req.url.startsWith("/slack")) return sendJson(res, 200, { ok: false, error: "channel_not_found" });
      if (req.url.startsWith("/fine")) return sendJson(res, 200, { ok: true, ts: "1" });
      if (req.url.startsWith("/xml")) return sendText(res, 200, `<r a="1"><b>two</b></r>`, "application/xml");
      return sendText(res, 200, "<r><b></r>", "text/xml");
    }).start();
    try {
      const dir = writeFiles({
        "generic.yaml": [
          "apiVersion: toolctl/v1",
          "name: generic",
          "description: generic",
          "runtime: http",
          `baseUrl: ${server.url}`,
          "http: { allowPlainHttp: true, allowPrivateNetworks: [127.0.0.0/8] }",
          "actions:",
          "  post: { description: p, kind: read, request: { path: /slack }, failWhen: { path: output.ok, equals: false, message: output.error, categories: { x: authorization } } }",
          "  fine: { description: f, kind: read, request: { path: /fine }, failWhen: { path: output.ok, equals: false, message: output.error } }",
          "  xml: { description: x, kind: read, request: { path: /xml } }",
          "  broken: { description: b, kind: read, request: { path: /broken } }",
        ].join("\n"),
      });
      const toolctl = await openApi();
      expect((await toolctl.importManifests([dir])).failed).toEqual([]);
      const failed = await toolctl.run("generic.post");
      expect(failed.exitCode).toBe(1);
      expect(failed.error).toMatchObject({ message: "channel_not_found", category: "validation" });
      expect(failed.output).toEqual({ ok: false, error: "channel_not_found" });
      expect(await toolctl.run("generic.fine")).toMatchObject({ status: "succeeded", output: { ok: true } });
      expect((await toolctl.run("generic.xml")).output).toEqual({ r: { "-a": "1", b: "two" } });
      const broken = await toolctl.run("generic.broken");
      expect(broken.exitCode).toBe(1);
      expect(broken.error!.message).toMatch(/^expected an XML response \(not well-formed XML: Expected closing tag 'b'.*\) but got text\/xml: "<r><b><\/r>"$/);
    } finally {
      await server.close();
    }
  });

  it("a failWhen path that is not a path into the output is refused at import", async () => {
    const dir = writeFiles({
      "bad.yaml": [
        "apiVersion: toolctl/v1",
        "name: bad",
        "description: bad",
        "runtime: http",
        "baseUrl: https://api.example.com",
        "actions:",
        '  a: { description: a, kind: read, request: { path: / }, failWhen: { path: "input.ok", equals: false } }',
      ].join("\n"),
    });
    const toolctl = await openApi();
    const report = await toolctl.importManifests([dir]);
    expect(report.imported).toEqual([]);
    expect(report.failed).toHaveLength(1);
    expect(report.failed[0]!.code).toBe("manifest_invalid");
    expect(`${report.failed[0]!.message}\n${report.failed[0]!.problems.join("\n")}`).toContain("a path into the response, such as output.ApiResponse.-Status");
    expect(await toolctl.getTool("bad")).toBeUndefined();
  });
});

describe("the CLI", () => {
  it("prints Namecheap's refusal on stderr (exit 1), a dry run's form body redacted, and refuses a bad manifest with exit 2", async () => {
    const toolctl = await api();
    const run = (sld: string, tld: string, flag: string) =>
      runCli(["run", "namecheap.register_domain", "--params", JSON.stringify({ sld, tld, contact: CONTACT }), flag], { home: toolctl.home, env });
    const refused = await run("google", "com", "--yes");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("error: Domain not available (error 2019166)");

    const registrations = namecheap.registrations.length;
    const human = await run("lovelace", "net", "--dry-run");
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`POST ${namecheap.url}/xml.response\n`);
    expect(human.stdout).toContain("ApiKey=[REDACTED]");
    expectNoSecrets(human.stdout, human.stderr);
    expect(namecheap.registrations.length).toBe(registrations);

    const dir = writeFiles({
      "bad.yaml": [
        "apiVersion: toolctl/v1",
        "name: bad",
        "description: bad",
        "runtime: http",
        "baseUrl: https://api.example.com",
        "actions:",
        '  a: { description: a, kind: read, request: { path: / }, failWhen: { path: "input.ok", equals: false } }',
      ].join("\n"),
    });
    const imported = await runCli(["import", dir], { home: tempDir("toolctl-failwhen-bad-") });
    expect(imported.code).toBe(2);
    expect(imported.stderr).toContain("a path into the response, such as output.ApiResponse.-Status");
  });

  it("toolctl tool test runs the declared check_domain", async () => {
    const toolctl = await api();
    const tested = await runJson(["tool", "test", "namecheap"], { home: toolctl.home, env });
    expect(tested.code).toBe(0);
    expect(tested.json).toMatchObject({ tool: "namecheap", action: "check_domain", status: "healthy" });
    expect(sentParams(namecheap.server.requests.at(-1)!)).toMatchObject({ Command: "namecheap.domains.check", DomainList: "example.com" });
  });
});

describe("xml.ts: XML responses as JSON", () => {
  it("maps attributes to -name, text beside attributes to -text, repeated elements to lists, and keeps every value as text", () => {
    const json = xmlToJson(`<?xml version="1.0" encoding="utf-8"?>
      <!-- a comment -->
      <ApiResponse Status="OK" xmlns="http://api.namecheap.com/xml.response">
        <Errors />
        <Error Number="2019166">Domain not available</Error>
        <Zip>0012</Zip><Exp>1e5</Exp><Flag>true</Flag>
        <Price Duration="1" Price="10.28"/><Price Duration="2" Price="20.56"/>
        <s:Body xmlns:s="urn:soap"><s:Item s:id="7">x</s:Item></s:Body>
        <Text>  a &amp; b &lt;c&gt; &#65;&#x42; &quot;q&quot;  </Text>
        <Cdata><![CDATA[<not> & parsed]]></Cdata>
      </ApiResponse>`);
    expect(json).toEqual({
      ApiResponse: {
        "-Status": "OK",
        Errors: "",
        Error: { "-Number": "2019166", "-text": "Domain not available" },
        Zip: "0012",
        Exp: "1e5",
        Flag: "true",
        Price: [
          { "-Duration": "1", "-Price": "10.28" },
          { "-Duration": "2", "-Price": "20.56" },
        ],
        Body: { Item: { "-id": "7", "-text": "x" } },
        Text: 'a & b <c> AB "q"',
        Cdata: "<not> & parsed",
      },
    });
  });

  it("refuses a billion-laughs document before parsing: no entity is declared or expanded", () => {
    const lol = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<lolz>&lol9;</lolz>`;
    const started = Date.now();
    expect(() => xmlToJson(lol)).toThrow(XmlError);
    expect(() => xmlToJson(lol)).toThrow(/DOCTYPE/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("refuses external entities, any DOCTYPE, and entity declarations however they are cased", () => {
    expect(() => xmlToJson(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>`)).toThrow(/DOCTYPE/);
    expect(() => xmlToJson(`<!doctype r><r/>`)).toThrow(/DOCTYPE/);
    expect(() => xmlToJson(`<r><!ENTITY x "y"></r>`)).toThrow(XmlError);
    // An undeclared entity reference is left as written, never looked up.
    expect(xmlToJson(`<r>&x;</r>`)).toEqual({ r: "&x;" });
  });

  it("refuses malformed XML, text that is not XML, and nesting deeper than 100 elements", () => {
    expect(() => xmlToJson("<a><b></a>")).toThrow(/not well-formed XML: Expected closing tag 'b'/);
    expect(() => xmlToJson("Service Unavailable")).toThrow(/not well-formed XML/);
    expect(() => xmlToJson("<a>".repeat(150) + "</a>".repeat(150))).toThrow(/XML refused: Maximum nested tags exceeded/);
    expect(xmlToJson("<a>".repeat(50) + "</a>".repeat(50))).toBeTypeOf("object");
  });

  it("names that would reach a prototype get a trailing _, and nothing is polluted", () => {
    const json = xmlToJson(`<r><__proto__><polluted>yes</polluted></__proto__><constructor prototype="p">c</constructor></r>`) as Record<string, any>;
    expect(json.r).toEqual({ __proto___: { polluted: "yes" }, constructor_: { "-prototype": "p", "-text": "c" } });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(json.r)).toBe(Object.prototype);
  });

  it("knows XML content types", () => {
    for (const type of ["application/xml", "text/xml; charset=utf-8", "application/atom+xml", "application/soap+xml"])
      expect(isXmlContentType(type)).toBe(true);
    for (const type of ["application/json", "text/plain", "text/html", "application/xhtml", ""]) expect(isXmlContentType(type)).toBe(false);
  });
});
