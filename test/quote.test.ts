/**
 * A price quoted by a read action of the same tool (a domain's availability check) before the purchase runs.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, runJson, tempDir, writeFiles } from "./helpers.js";

const purchases: string[] = [];
let server: http.Server;
let port: number;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url!, "http://x");
    res.writeHead(200, { "content-type": "application/json" });
    if (url.pathname === "/check") {
      const domain = url.searchParams.get("domain")!;
      return void res.end(
        JSON.stringify(domain.startsWith("broken") ? { available: true } : { available: true, price: domain.endsWith(".io") ? 45.5 : 12.98 }),
      );
    }
    purchases.push(url.searchParams.get("domain")!);
    res.end(JSON.stringify({ bought: url.searchParams.get("domain") }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function domainsHome(): Promise<string> {
  const home = tempDir("toolctl-quote-");
  const manifest = `apiVersion: toolctl/v1
name: domains
description: Domain registrar on loopback
runtime: http
baseUrl: http://127.0.0.1:${port}
http: { allowPlainHttp: true, allowPrivateNetworks: ["127.0.0.0/8"] }
actions:
  check:
    description: Availability and price
    kind: read
    inputSchema: { type: object, required: [domain], properties: { domain: { type: string } } }
    request: { method: GET, path: /check, query: { domain: "{{ input.domain }}" } }
  buy:
    description: Buy a domain for a year
    kind: create
    inputSchema: { type: object, required: [domain], properties: { domain: { type: string } } }
    cost: { quote: { action: check, input: { domain: "{{ input.domain }}" }, from: output.price } }
    request: { method: POST, path: /buy, query: { domain: "{{ input.domain }}" } }
`;
  expect((await runCli(["import", writeFiles({ "domains.yaml": manifest })], { home })).code).toBe(0);
  return home;
}

describe("quoted prices", () => {
  it("asks the tool for the price first: the quote sets cost and risk, and is audited", async () => {
    const home = await domainsHome();
    const dry = await runJson(["run", "domains.buy", "-p", "domain=example.com", "--dry-run"], { home });
    expect(dry.code).toBe(0);
    expect(dry.json).toMatchObject({ cost: { usd: 12.98 }, risk: "HIGH", approval: { required: true } });
    expect(purchases).not.toContain("example.com");
    const bought = await runJson(["run", "domains.buy", "-p", "domain=example.io", "--yes"], { home });
    expect(bought.code).toBe(0);
    expect(bought.json.cost.usd).toBe(45.5);
    expect(purchases).toContain("example.io");
    const quotes: Array<{ data: { costUsd: number } }> = JSON.parse((await runCli(["audit", "--type", "execution.quote", "--json"], { home })).stdout).items;
    expect(quotes.map((q) => q.data.costUsd)).toEqual([12.98, 45.5]);
    const budget = await runJson(["budget"], { home });
    expect(budget.json.committedUsd).toBe(45.5);
  });

  it("stops before buying when the quote has no price", async () => {
    const home = await domainsHome();
    const before = purchases.length;
    const result = await runJson(["run", "domains.buy", "-p", "domain=broken.com", "--yes"], { home });
    expect(result.code).toBe(1);
    expect(result.json.error.message).toMatch(/price/);
    expect(purchases.length).toBe(before);
  });

  it("records a quote that is refused by the outbound guard, and buys nothing", async () => {
    const home = tempDir("toolctl-quote-blocked-");
    const manifest = `apiVersion: toolctl/v1
name: blocked
description: Registrar on a blocked address
runtime: http
baseUrl: https://127.0.0.1:9
actions:
  check: { description: Price, kind: read, request: { path: /check } }
  buy:
    description: Buy
    kind: create
    cost: { quote: { action: check, from: output.price } }
    request: { method: POST, path: /buy }
`;
    expect((await runCli(["import", writeFiles({ "blocked.yaml": manifest })], { home })).code).toBe(0);
    const result = await runJson(["run", "blocked.buy", "--yes"], { home });
    expect(result.code).toBe(3);
    expect(result.json.error.message).toMatch(/price quote .* could not be taken: URL blocked/);
    const events = (JSON.parse((await runCli(["audit", "--json"], { home })).stdout).items as Array<{ type: string }>).map((e) => e.type);
    expect(events).toEqual(expect.arrayContaining(["execution.quote", "execution.invalid"]));
  });
});
