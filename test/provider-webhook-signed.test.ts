/**
 * manifests/webhook.yaml end to end: the built binary POSTs a signed JSON payload to a fake receiver on
 * 127.0.0.1 (test/fakes/receiver.ts) that checks the HMAC over "<timestamp>.<body>" and the clock skew.
 */
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { FakeReceiver } from "./fakes/receiver.js";
import { loopbackCopy } from "./fakes/server.js";
import { repoRoot, runCli, runJson, tempDir } from "./helpers.js";

const shipped = path.join(repoRoot, "manifests", "webhook.yaml");
let receiver: FakeReceiver;
let dir: string;

beforeAll(async () => {
  receiver = await new FakeReceiver().start();
  dir = path.dirname(loopbackCopy(shipped, receiver.url, tempDir("toolctl-signed-manifest-")));
});
afterAll(() => receiver.close());

async function home(): Promise<string> {
  const home = tempDir("toolctl-signed-");
  const imported = await runCli(["import", dir], { home });
  expect(imported.stderr).toBe("");
  expect(imported.code).toBe(0);
  return home;
}

const payload = { event: "deploy.finished", data: { version: "1.4.2", ok: true } };
const env = (secret = receiver.secret) => ({ WEBHOOK_SECRET: secret });

describe("manifests/webhook.yaml as shipped", () => {
  it("names WEBHOOK_SECRET as its one secret, and is free, not idempotent and irreversible", async () => {
    const manifest = parse(readFileSync(shipped, "utf8"));
    expect(manifest.actions.post.request.sign).toEqual({ secret: "WEBHOOK_SECRET", header: "X-Toolctl-Signature", algorithm: "sha256", timestampHeader: "X-Toolctl-Timestamp" });
    const h = tempDir("toolctl-signed-shipped-");
    expect((await runCli(["import", shipped], { home: h })).code).toBe(0);
    const shown = await runJson(["show", "webhook.post"], { home: h });
    expect(shown.json.tool.secrets.map((s: { name: string }) => s.name)).toEqual(["WEBHOOK_SECRET"]);
    expect(shown.json.action).toMatchObject({ kind: "create", idempotent: false, cost: { fixed: 0 }, rollback: "irreversible" });
  });
});

describe("webhook.post against a receiver that checks the signature", () => {
  it("signs the exact body sent; the receiver verifies it and answers 200", async () => {
    const h = await home();
    const before = receiver.delivered.length;
    const result = await runJson(["run", "webhook.post", "--params", JSON.stringify({ payload })], { home: h, env: env() });
    expect(result.code).toBe(0);
    expect(result.json).toMatchObject({ status: "succeeded", output: { received: true }, cost: { usd: 0 }, approval: { required: false } });
    expect(receiver.delivered.slice(before)).toEqual([payload]);
    const sent = receiver.server.requests.at(-1)!;
    const t = String(sent.headers["x-toolctl-timestamp"]);
    expect(Math.abs(Number(t) - Date.now() / 1000)).toBeLessThan(60);
    // The documented scheme, recomputed independently of the receiver.
    expect(sent.headers["x-toolctl-signature"]).toBe(`sha256=${createHmac("sha256", receiver.secret).update(`${t}.${sent.body}`).digest("hex")}`);
    expect(sent.body).toBe(JSON.stringify(payload));
    expect(result.stdout).not.toContain(receiver.secret);
    const audit = await runCli(["audit", "--json"], { home: h });
    expect(audit.stdout).not.toContain(receiver.secret);
    expect(audit.stdout).not.toContain(String(sent.headers["x-toolctl-signature"]));
  });

  it("a wrong secret is the receiver's 401: exit 1 with its message, the secret never printed", async () => {
    const h = await home();
    const wrong = "whsec_wrong_0123456789abcdef";
    const before = receiver.delivered.length;
    const result = await runJson(["run", "webhook.post", "--params", JSON.stringify({ payload })], { home: h, env: env(wrong) });
    expect(result.code).toBe(1);
    expect(result.json.status).toBe("failed");
    expect(result.json.error).toMatchObject({ category: "authentication", message: "HTTP 401: invalid_signature: signature does not match the payload" });
    expect(receiver.delivered.length).toBe(before);
    expect(result.stdout).not.toContain(wrong);
  });

  it("a clock more than 5 minutes off is the receiver's 400: exit 1", async () => {
    const h = await home();
    receiver.clockOffsetSeconds = 301;
    try {
      const result = await runJson(["run", "webhook.post", "--params", JSON.stringify({ payload })], { home: h, env: env() });
      expect(result.code).toBe(1);
      expect(result.json.error.message).toMatch(/^HTTP 400: stale_timestamp: timestamp is 30\ds away/);
    } finally {
      receiver.clockOffsetSeconds = 0;
    }
  });

  it("a missing secret stops the run with exit 2, naming it; nothing is sent", async () => {
    const h = await home();
    const requests = receiver.server.requests.length;
    const result = await runJson(["run", "webhook.post", "--params", JSON.stringify({ payload })], { home: h, env: {} });
    expect(result.code).toBe(2);
    expect(result.json.error.code).toBe("secret_missing");
    expect(result.json.error.message).toContain("WEBHOOK_SECRET");
    expect(receiver.server.requests.length).toBe(requests);
  });

  it("a dry run shows where the signature goes, never the secret or a usable signature, and sends nothing", async () => {
    const h = await home();
    const requests = receiver.server.requests.length;
    const connections = receiver.server.connections;
    const result = await runJson(["run", "webhook.post", "--params", JSON.stringify({ payload }), "--dry-run"], { home: h, env: env() });
    expect(result.code).toBe(0);
    expect(result.json.plan).toMatchObject({
      method: "POST", url: `${receiver.url}/toolctl`, body: payload,
      headers: { "content-type": "application/json", "x-toolctl-timestamp": "<Unix seconds, when sent>" },
    });
    // The header is there; its name says "signature", so the redactor hides even the description of its value.
    expect(Object.keys(result.json.plan.headers)).toContain("x-toolctl-signature");
    expect(result.stdout).not.toContain(receiver.secret);
    expect(result.stdout).not.toMatch(/sha256=[0-9a-f]{64}/);
    const human = await runCli(["run", "webhook.post", "--params", JSON.stringify({ payload }), "--dry-run"], { home: h, env: env() });
    expect(human.stdout).toContain(`POST ${receiver.url}/toolctl`);
    expect(human.stdout).toContain("x-toolctl-signature:");
    expect(human.stdout).not.toContain(receiver.secret);
    expect(receiver.server.requests.length).toBe(requests);
    expect(receiver.server.connections).toBe(connections);
  });
});
