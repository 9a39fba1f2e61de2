/**
 * manifests/namecheap.yaml end to end: the built binary against a fake Namecheap on 127.0.0.1 that speaks its
 * XML wire format (test/fakes/namecheap.ts), always HTTP 200 with `Status="ERROR"` for failures. The test runs a
 * copy of the shipped manifest whose only changes are baseUrl (and, for the sandbox test, sandboxBaseUrl) and the
 * loopback settings of the outbound guard. Also: unit tests of runners/http/xml.ts, the XML → JSON mapping.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseDocument } from "yaml";
import { isXmlContentType, xmlToJson, XmlError } from "../src/runners/http/xml.js";
import { FakeNamecheap } from "./fakes/namecheap.js";
import { FakeServer, loopbackCopy, sendJson, sendText } from "./fakes/server.js";
import { repoRoot, runCli, runJson, tempDir, writeFiles } from "./helpers.js";

const shipped = path.join(repoRoot, "manifests", "namecheap.yaml");
let namecheap: FakeNamecheap;
let sandbox: FakeNamecheap;
let manifestDir: string;
let sandboxDir: string;
let env: Record<string, string>;

const CONTACT = {
  first_name: "Ada", last_name: "Lovelace", address1: "12 St James's Square", city: "London", state_province: "London",
  postal_code: "SW1Y 4JH", country: "GB", phone: "+44.2079460000", email: "ada@example.org",
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

/** A fresh home per test: the circuit breaker and the budget are per home. */
async function home(dir = manifestDir): Promise<string> {
  const h = tempDir("toolctl-namecheap-");
  const imported = await runCli(["import", dir], { home: h });
  expect(imported.stderr).toBe("");
  expect(imported.code).toBe(0);
  return h;
}

const check = (domain: string) => ["run", "namecheap.check_domain", "--params", JSON.stringify({ domain })];
const register = (sld: string, tld = "com") => ["run", "namecheap.register_domain", "--params", JSON.stringify({ sld, tld, contact: CONTACT })];
/** A call's parameters as Namecheap reads them (a POST's form body); the URL carries none. */
const sentParams = (req: { url: string; body: string }) => {
  expect(req.url).toBe("/xml.response");
  return Object.fromEntries(new URLSearchParams(req.body));
};

function expectNoSecrets(...texts: string[]): void {
  for (const text of texts) {
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
    const h = tempDir("toolctl-namecheap-shipped-");
    expect((await runCli(["import", shipped], { home: h })).code).toBe(0);
    const shown = await runJson(["show", "namecheap.register_domain"], { home: h });
    expect(shown.code).toBe(0);
    expect(shown.json.tool).toMatchObject({ name: "namecheap", baseUrl: "https://api.namecheap.com", sandboxBaseUrl: "https://api.sandbox.namecheap.com" });
    expect(shown.json.action).toMatchObject({
      kind: "create", idempotent: false, approval: "always", rollback: "irreversible",
      cost: { quote: { action: "get_price", input: { tld: "{{ input.tld }}" }, from: PRICE_PATH, scale: 1 } },
      failWhen: { path: "output.ApiResponse.-Status", equals: "ERROR", categories: { "1011150": "authorization" } },
      request: { method: "POST", path: "/xml.response", response: "xml" },
    });
  });
});

describe("namecheap against a fake Namecheap", () => {
  it("check_domain: the credentials go in a POSTed form, the XML comes back as JSON, and no secret is printed", async () => {
    const h = await home();
    const free = await runJson(check("ada-lovelace-notes.com"), { home: h, env });
    expect(free.code).toBe(0);
    expect(free.json.status).toBe("succeeded");
    expect(free.json.output.ApiResponse).toMatchObject({
      "-Status": "OK",
      Errors: "",
      RequestedCommand: "namecheap.domains.check",
      CommandResponse: { "-Type": "namecheap.domains.check", DomainCheckResult: { "-Domain": "ada-lovelace-notes.com", "-Available": "true", "-IsPremiumName": "false" } },
    });
    expect(namecheap.server.requests.at(-1)!.method).toBe("POST");
    expect(sentParams(namecheap.server.requests.at(-1)!)).toEqual({
      ApiUser: namecheap.apiUser, ApiKey: namecheap.apiKey, UserName: namecheap.apiUser, ClientIp: "203.0.113.7",
      Command: "namecheap.domains.check", DomainList: "ada-lovelace-notes.com",
    });
    expectNoSecrets(free.stdout, free.stderr);

    const taken = await runJson(check("google.com"), { home: h, env });
    expect(taken.code).toBe(0);
    expect(taken.json.output.ApiResponse.CommandResponse.DomainCheckResult["-Available"]).toBe("false");
  });

  it("check → quote → buy: approval needed, the cost is get_price's one-year price, and the domain is registered once", async () => {
    const h = await home();
    const before = namecheap.registrations.length;
    const checked = await runJson(check("babbage-engine.com"), { home: h, env });
    expect(checked.json.output.ApiResponse.CommandResponse.DomainCheckResult["-Available"]).toBe("true");

    // Without --yes a script is stopped at the approval: the quote (a read) ran, the purchase did not.
    const asked = await runJson(register("babbage-engine"), { home: h, env });
    expect(asked.code).toBe(4);
    expect(asked.json.cost).toMatchObject({ usd: 10.28 });
    expect(asked.json.approval.required).toBe(true);
    expect(namecheap.commands("namecheap.domains.create").length).toBe(0);

    const pricing = namecheap.commands("namecheap.users.getPricing").length;
    const bought = await runJson([...register("babbage-engine"), "--yes"], { home: h, env });
    expect(bought.code).toBe(0);
    expect(bought.json).toMatchObject({
      status: "succeeded",
      cost: { usd: 10.28, basis: `get_price quote: ${PRICE_PATH}` },
      approval: { required: true },
      output: { ApiResponse: { "-Status": "OK", CommandResponse: { DomainCreateResult: { "-Domain": "babbage-engine.com", "-Registered": "true", "-ChargedAmount": "10.2800" } } } },
    });
    expect(namecheap.registrations.length).toBe(before + 1);
    expect(namecheap.registrations.at(-1)).toMatchObject({ domain: "babbage-engine.com", years: 1, chargedUsd: 10.28, registrant: { FirstName: "Ada", Phone: "+44.2079460000", Country: "GB" } });
    expect(namecheap.commands("namecheap.users.getPricing").length).toBe(pricing + 1);
    expect(sentParams(namecheap.commands("namecheap.users.getPricing").at(-1)!)).toMatchObject({ ProductType: "DOMAIN", ActionName: "REGISTER", ProductName: "com" });
    const sent = sentParams(namecheap.commands("namecheap.domains.create").at(-1)!);
    expect(sent).toMatchObject({ DomainName: "babbage-engine.com", Years: "1", RegistrantFirstName: "Ada", TechEmailAddress: "ada@example.org", AdminCountry: "GB", AuxBillingPostalCode: "SW1Y 4JH" });
    expect(sent.RegistrantOrganizationName).toBeUndefined();
    expectNoSecrets(bought.stdout, bought.stderr);
    expect((await runJson(["budget"], { home: h })).json.committedUsd).toBe(10.28);

    // Bought: the name is now taken.
    const after = await runJson(check("babbage-engine.com"), { home: h, env });
    expect(after.json.output.ApiResponse.CommandResponse.DomainCheckResult["-Available"]).toBe("false");
  });

  it("register_domain sends the organization under Namecheap's own names for every role, as a POSTed form with nothing in the URL", async () => {
    const h = await home();
    const company = { ...CONTACT, organization: "Analytical Engines Ltd" };
    const bought = await runJson(["run", "namecheap.register_domain", "--params", JSON.stringify({ sld: "analytical-engines", tld: "com", contact: company }), "--yes"], { home: h, env });
    expect(bought.code, bought.stderr).toBe(0);
    // Namecheap ignores a name it does not know: a misspelt field would register the domain to the person alone.
    const call = namecheap.calls("namecheap.domains.create").at(-1)!;
    expect(call.ignored).toEqual([]);
    const registration = namecheap.registrations.at(-1)!;
    expect(registration.domain).toBe("analytical-engines.com");
    for (const role of ["Registrant", "Tech", "Admin", "AuxBilling"] as const) {
      expect(registration.contacts[role], role).toEqual({
        OrganizationName: "Analytical Engines Ltd", FirstName: "Ada", LastName: "Lovelace", Address1: "12 St James's Square", City: "London",
        StateProvince: "London", PostalCode: "SW1Y 4JH", Country: "GB", Phone: "+44.2079460000", EmailAddress: "ada@example.org",
      });
    }
    // The API key, the IP and the contact details travel in the body, never in a URL (proxy and server logs keep URLs).
    expect(call.method).toBe("POST");
    expect(call.inQuery).toEqual([]);
    const request = namecheap.commands("namecheap.domains.create").at(-1)!;
    expect(request.url).toBe("/xml.response");
    expect(request.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(call.params).toMatchObject({ ApiUser: namecheap.apiUser, ApiKey: namecheap.apiKey, ClientIp: "203.0.113.7", Command: "namecheap.domains.create", Years: "1" });

    // A person's registration sends no organization at all (an empty one is not sent either).
    const person = await runJson([...register("lovelace-person"), "--yes"], { home: h, env });
    expect(person.code, person.stderr).toBe(0);
    expect(namecheap.calls("namecheap.domains.create").at(-1)!.ignored).toEqual([]);
    expect(namecheap.registrations.at(-1)!.contacts.Registrant.OrganizationName).toBeUndefined();
    expect(namecheap.registrations.at(-1)!.contacts.AuxBilling).toMatchObject({ FirstName: "Ada", EmailAddress: "ada@example.org" });
  });

  it("a taken domain: \"Domain not available\", exit 1, category validation, nothing registered or spent", async () => {
    const h = await home();
    const before = namecheap.registrations.length;
    const result = await runJson([...register("google"), "--yes"], { home: h, env });
    expect(result.code).toBe(1);
    expect(result.json.status).toBe("failed");
    expect(result.json.error).toMatchObject({ message: "Domain not available (error 2019166)", category: "validation" });
    // Namecheap's whole answer stays as the output, for scripts.
    expect(result.json.output.ApiResponse.Errors.Error).toEqual({ "-Number": "2019166", "-text": "Domain not available" });
    expect(namecheap.registrations.length).toBe(before);
    expect((await runJson(["budget"], { home: h })).json.committedUsd).toBe(0);
    const human = await runCli([...register("google"), "--yes"], { home: h, env });
    expect(human.code).toBe(1);
    expect(human.stderr).toContain("error: Domain not available (error 2019166)");
  });

  it("a ClientIp that is not whitelisted: \"Invalid request IP\", exit 1, authorization; a registration stops at the quote", async () => {
    const h = await home();
    const wrongIp = { ...env, NAMECHEAP_CLIENT_IP: "198.51.100.23" };
    const checked = await runJson(check("lovelace.org"), { home: h, env: wrongIp });
    expect(checked.code).toBe(1);
    // The IP is one of the tool's secrets, so even Namecheap's echo of it is scrubbed.
    expect(checked.json.error).toMatchObject({ message: "Invalid request IP: [REDACTED] (error 1011150)", category: "authorization" });
    expect(checked.stdout).not.toContain("198.51.100.23");

    const creates = namecheap.commands("namecheap.domains.create").length;
    const bought = await runJson([...register("lovelace", "org"), "--yes"], { home: h, env: wrongIp });
    expect(bought.code).toBe(1);
    expect(bought.json.error.category).toBe("authorization");
    expect(bought.json.error.message).toBe("the price quote (namecheap.get_price) failed: Invalid request IP: [REDACTED] (error 1011150); nothing was bought");
    expect(namecheap.commands("namecheap.domains.create").length).toBe(creates);

    const malformed = await runJson(check("lovelace.org"), { home: h, env: { ...env, NAMECHEAP_CLIENT_IP: "my-laptop" } });
    expect(malformed.code).toBe(1);
    expect(malformed.json.error).toMatchObject({ message: "Parameter RequestIP is invalid (error 1011150)", category: "authorization" });
  });

  it("a wrong API key is authentication (exit 1); a missing secret is named (exit 2) and nothing is sent", async () => {
    const h = await home();
    const wrongKey = await runJson(check("lovelace.org"), { home: h, env: { ...env, NAMECHEAP_API_KEY: "0123456789abcdef0123456789abcdef" } });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.json.error).toMatchObject({ message: "API Key is invalid or API access has not been enabled (error 1011102)", category: "authentication" });

    const requests = namecheap.server.requests.length;
    const missing = await runJson(check("lovelace.org"), { home: h, env: { NAMECHEAP_API_USER: namecheap.apiUser, NAMECHEAP_API_KEY: namecheap.apiKey } });
    expect(missing.code).toBe(2);
    expect(missing.json.error.message).toMatch(/NAMECHEAP_CLIENT_IP/);
    expect(namecheap.server.requests.length).toBe(requests);
  });

  it("a TLD Namecheap does not sell fails at the quote with its message; nothing is bought", async () => {
    const h = await home();
    const creates = namecheap.commands("namecheap.domains.create").length;
    const result = await runJson([...register("lovelace", "dev"), "--yes"], { home: h, env });
    expect(result.code).toBe(1);
    expect(result.json.error.message).toBe("the price quote (namecheap.get_price) failed: TLD is not supported in API (error 2030280); nothing was bought");
    expect(namecheap.commands("namecheap.domains.create").length).toBe(creates);
  });

  it("a dry run shows the exact requests with every secret redacted; only the price quote (a read) reaches Namecheap", async () => {
    const h = await home();
    const requests = namecheap.server.requests.length;
    const connections = namecheap.server.connections;
    const checked = await runJson([...check("lovelace.org"), "--dry-run"], { home: h, env });
    expect(checked.code).toBe(0);
    expect(checked.json.status).toBe("dry_run");
    expect(checked.json.plan).toMatchObject({ method: "POST", url: `${namecheap.url}/xml.response` });
    expect(checked.json.plan.body).toEqual({
      ApiUser: "[REDACTED]", ApiKey: "[REDACTED]", UserName: "[REDACTED]", ClientIp: "[REDACTED]", Command: "namecheap.domains.check", DomainList: "lovelace.org",
    });
    expectNoSecrets(checked.stdout, checked.stderr);
    expect(namecheap.server.requests.length).toBe(requests);
    expect(namecheap.server.connections).toBe(connections);

    const registrations = namecheap.registrations.length;
    const bought = await runJson([...register("lovelace", "net"), "--dry-run"], { home: h, env });
    expect(bought.code).toBe(0);
    expect(bought.json).toMatchObject({ status: "dry_run", cost: { usd: 12.98 }, approval: { required: true } });
    expect(bought.json.plan.url).toBe(`${namecheap.url}/xml.response`);
    expect(bought.json.plan.body).toMatchObject({ ApiKey: "[REDACTED]", Command: "namecheap.domains.create", DomainName: "lovelace.net", Years: 1, RegistrantFirstName: "Ada" });
    expect(namecheap.server.requests.slice(requests).map((r) => sentParams(r).Command)).toEqual(["namecheap.users.getPricing"]);
    expect(namecheap.registrations.length).toBe(registrations);
    const human = await runCli([...register("lovelace", "net"), "--dry-run"], { home: h, env });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`POST ${namecheap.url}/xml.response\n`);
    expect(human.stdout).toContain("ApiKey=[REDACTED]");
    expectNoSecrets(human.stdout, human.stderr);
    expect(namecheap.registrations.length).toBe(registrations);
  });

  it("TOOLCTL_SANDBOX_APIS=true sends everything to sandboxBaseUrl, production sees nothing", async () => {
    const h = await home(sandboxDir);
    const production = namecheap.server.requests.length;
    const sandboxed = sandbox.server.requests.length;
    const sandboxEnv = { ...env, NAMECHEAP_API_KEY: sandbox.apiKey, TOOLCTL_SANDBOX_APIS: "true" };
    const checked = await runJson(check("sandbox-test.com"), { home: h, env: sandboxEnv });
    expect(checked.code).toBe(0);
    expect(checked.json.output.ApiResponse.Server).toBe("SANDBOX01");
    expect(checked.stdout).not.toContain(sandbox.apiKey);
    const bought = await runJson([...register("sandbox-test"), "--yes"], { home: h, env: sandboxEnv });
    expect(bought.code).toBe(0);
    expect(bought.json.cost.usd).toBe(8.88);
    expect(sandbox.registrations.map((r) => r.domain)).toEqual(["sandbox-test.com"]);
    expect(sandbox.server.requests.length).toBe(sandboxed + 3);
    expect(namecheap.server.requests.length).toBe(production);

    // Without the setting, the same home talks to production.
    const live = await runJson(check("sandbox-test.com"), { home: h, env });
    expect(live.json.output.ApiResponse.Server).toBe("PHX01APIEXT01");
    expect(namecheap.server.requests.length).toBe(production + 1);
  });

  it("toolctl tool test runs the declared check_domain", async () => {
    const h = await home();
    const tested = await runJson(["tool", "test", "namecheap"], { home: h, env });
    expect(tested.code).toBe(0);
    expect(sentParams(namecheap.server.requests.at(-1)!)).toMatchObject({ Command: "namecheap.domains.check", DomainList: "example.com" });
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
          "apiVersion: toolctl/v1", "name: generic", "description: generic", "runtime: http", `baseUrl: ${server.url}`,
          "http: { allowPlainHttp: true, allowPrivateNetworks: [127.0.0.0/8] }",
          "actions:",
          "  post: { description: p, kind: read, request: { path: /slack }, failWhen: { path: output.ok, equals: false, message: output.error, categories: { x: authorization } } }",
          "  fine: { description: f, kind: read, request: { path: /fine }, failWhen: { path: output.ok, equals: false, message: output.error } }",
          "  xml: { description: x, kind: read, request: { path: /xml } }",
          "  broken: { description: b, kind: read, request: { path: /broken } }",
        ].join("\n"),
      });
      const h = tempDir("toolctl-failwhen-");
      expect((await runCli(["import", dir], { home: h })).code).toBe(0);
      const failed = await runJson(["run", "generic.post"], { home: h });
      expect(failed.code).toBe(1);
      expect(failed.json.error).toMatchObject({ message: "channel_not_found", category: "validation" });
      expect(failed.json.output).toEqual({ ok: false, error: "channel_not_found" });
      expect((await runJson(["run", "generic.fine"], { home: h })).json).toMatchObject({ status: "succeeded", output: { ok: true } });
      expect((await runJson(["run", "generic.xml"], { home: h })).json.output).toEqual({ r: { "-a": "1", b: "two" } });
      const broken = await runJson(["run", "generic.broken"], { home: h });
      expect(broken.code).toBe(1);
      expect(broken.json.error.message).toMatch(/^expected an XML response \(not well-formed XML: Expected closing tag 'b'.*\) but got text\/xml: "<r><b><\/r>"$/);
    } finally {
      await server.close();
    }
  });

  it("a failWhen path that is not a path into the output is refused at import", async () => {
    const dir = writeFiles({
      "bad.yaml": [
        "apiVersion: toolctl/v1", "name: bad", "description: bad", "runtime: http", "baseUrl: https://api.example.com",
        "actions:",
        "  a: { description: a, kind: read, request: { path: / }, failWhen: { path: \"input.ok\", equals: false } }",
      ].join("\n"),
    });
    const result = await runCli(["import", dir], { home: tempDir("toolctl-failwhen-bad-") });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("a path into the response, such as output.ApiResponse.-Status");
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
        Zip: "0012", Exp: "1e5", Flag: "true",
        Price: [{ "-Duration": "1", "-Price": "10.28" }, { "-Duration": "2", "-Price": "20.56" }],
        Body: { Item: { "-id": "7", "-text": "x" } },
        Text: "a & b <c> AB \"q\"",
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
    for (const type of ["application/xml", "text/xml; charset=utf-8", "application/atom+xml", "application/soap+xml"]) expect(isXmlContentType(type)).toBe(true);
    for (const type of ["application/json", "text/plain", "text/html", "application/xhtml", ""]) expect(isXmlContentType(type)).toBe(false);
  });
});
