/**
 * manifests/webhook.yaml end to end: the library API POSTs a signed JSON payload to a fake receiver on
 * 127.0.0.1 (test/fakes/receiver.ts) that checks the HMAC over "<timestamp>.<body>" and the clock skew. One test
 * runs the built binary, for what the CLI prints.
 */
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { AuditEvent, Toolctl } from "../src/api/index.js";
import { FakeReceiver } from "./fakes/receiver.js";
import { loopbackCopy } from "./fakes/server.js";
import { openApi, repoRoot, runCli, tempDir } from "./helpers.js";

const shipped = path.join(repoRoot, "manifests", "webhook.yaml");
let receiver: FakeReceiver;
let dir: string;

beforeAll(async () => {
  receiver = await new FakeReceiver().start();
  dir = path.dirname(loopbackCopy(shipped, receiver.url, tempDir("toolctl-signed-manifest-")));
});
afterAll(() => receiver.close());

const payload = { event: "deploy.finished", data: { version: "1.4.2", ok: true } };
const env = (secret = receiver.secret) => ({ WEBHOOK_SECRET: secret });

/** A fresh home with the test copy imported, opened with `environment`. */
async function api(environment: Record<string, string> = env()): Promise<Toolctl> {
  const toolctl = await openApi({ env: environment });
  const report = await toolctl.importManifests([dir]);
  expect(report.failed).toEqual([]);
  expect(report.imported.map((i) => i.tool)).toEqual(["webhook"]);
  return toolctl;
}

async function allEvents(toolctl: Toolctl): Promise<AuditEvent[]> {
  const events: AuditEvent[] = [];
  for await (const event of toolctl.auditEvents()) events.push(event);
  return events;
}

describe("manifests/webhook.yaml as shipped", () => {
  it("names WEBHOOK_SECRET as its one secret, and is free, not idempotent and irreversible", async () => {
    const manifest = parse(readFileSync(shipped, "utf8"));
    expect(manifest.actions.post.request.sign).toEqual({
      secret: "WEBHOOK_SECRET",
      header: "X-Toolctl-Signature",
      algorithm: "sha256",
      timestampHeader: "X-Toolctl-Timestamp",
    });
    const toolctl = await openApi();
    expect((await toolctl.importManifests([shipped])).failed).toEqual([]);
    expect((await toolctl.getTool("webhook"))!.secrets).toEqual(["WEBHOOK_SECRET"]);
    const action = await toolctl.store.tools.action("webhook", "post", false);
    expect(action!.definition).toMatchObject({ kind: "create", idempotent: false, cost: { fixed: 0 }, rollback: "irreversible" });
  });
});

describe("webhook.post against a receiver that checks the signature", () => {
  it("signs the exact body sent; the receiver verifies it and answers 200", async () => {
    const toolctl = await api();
    const before = receiver.delivered.length;
    const result = await toolctl.run("webhook.post", { payload });
    expect(result.exitCode).toBe(0);
    expect(result).toMatchObject({ status: "succeeded", output: { received: true }, cost: { usd: 0 }, approval: { required: false } });
    expect(receiver.delivered.slice(before)).toEqual([payload]);
    const sent = receiver.server.requests.at(-1)!;
    const t = String(sent.headers["x-toolctl-timestamp"]);
    expect(Math.abs(Number(t) - Date.now() / 1000)).toBeLessThan(60);
    // The documented scheme, recomputed independently of the receiver.
    const signature = String(sent.headers["x-toolctl-signature"]);
    expect(signature).toBe(`sha256=${createHmac("sha256", receiver.secret).update(`${t}.${sent.body}`).digest("hex")}`);
    expect(sent.body).toBe(JSON.stringify(payload));
    expect(JSON.stringify(result)).not.toContain(receiver.secret);
    const audit = await allEvents(toolctl);
    expect(audit.filter((e) => e.executionId === result.executionId).length).toBeGreaterThan(0);
    expect(JSON.stringify(audit)).not.toContain(receiver.secret);
    expect(JSON.stringify(audit)).not.toContain(signature);
    expect(JSON.stringify(await toolctl.execution(result.executionId))).not.toContain(signature);
  });

  it("a wrong secret is the receiver's 401: exit 1 with its message, the secret never printed", async () => {
    const wrong = "whsec_wrong_0123456789abcdef";
    const toolctl = await api(env(wrong));
    const before = receiver.delivered.length;
    const result = await toolctl.run("webhook.post", { payload });
    expect(result.exitCode).toBe(1);
    expect(result.status).toBe("failed");
    expect(result.error).toMatchObject({ category: "authentication", message: "HTTP 401: invalid_signature: signature does not match the payload" });
    expect(receiver.delivered.length).toBe(before);
    expect(JSON.stringify(result)).not.toContain(wrong);
  });

  it("a clock more than 5 minutes off is the receiver's 400: exit 1", async () => {
    const toolctl = await api();
    receiver.clockOffsetSeconds = 301;
    try {
      const result = await toolctl.run("webhook.post", { payload });
      expect(result.exitCode).toBe(1);
      expect(result.error!.message).toMatch(/^HTTP 400: stale_timestamp: timestamp is 30\ds away/);
    } finally {
      receiver.clockOffsetSeconds = 0;
    }
  });

  it("a missing secret stops the run with exit 2, naming it; nothing is sent", async () => {
    const toolctl = await api({});
    const requests = receiver.server.requests.length;
    const result = await toolctl.run("webhook.post", { payload });
    expect(result.exitCode).toBe(2);
    expect(result.error!.code).toBe("secret_missing");
    expect(result.error!.message).toContain("WEBHOOK_SECRET");
    expect(receiver.server.requests.length).toBe(requests);
  });

  it("a dry run shows where the signature goes, never the secret or a usable signature, and sends nothing", async () => {
    const toolctl = await api();
    const requests = receiver.server.requests.length;
    const connections = receiver.server.connections;
    const result = await toolctl.preview("webhook.post", { payload });
    expect(result.exitCode).toBe(0);
    expect(result.request).toMatchObject({
      method: "POST",
      url: `${receiver.url}/toolctl`,
      body: payload,
      headers: { "content-type": "application/json", "x-toolctl-timestamp": "<Unix seconds, when sent>" },
    });
    // The header is there; its name says "signature", so the redactor hides even the description of its value.
    expect(Object.keys(result.request!.headers as object)).toContain("x-toolctl-signature");
    expect(JSON.stringify(result)).not.toContain(receiver.secret);
    expect(JSON.stringify(result)).not.toMatch(/sha256=[0-9a-f]{64}/);
    expect(receiver.server.requests.length).toBe(requests);
    expect(receiver.server.connections).toBe(connections);
  });
});

describe("the CLI", () => {
  it("prints a dry run's request with the signature header, never the secret", async () => {
    const toolctl = await api();
    const requests = receiver.server.requests.length;
    const connections = receiver.server.connections;
    const human = await runCli(["run", "webhook.post", "--params", JSON.stringify({ payload }), "--dry-run"], { home: toolctl.home, env: env() });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`POST ${receiver.url}/toolctl`);
    expect(human.stdout).toContain("x-toolctl-signature:");
    expect(human.stdout).not.toContain(receiver.secret);
    expect(human.stdout).not.toMatch(/sha256=[0-9a-f]{64}/);
    expect(receiver.server.requests.length).toBe(requests);
    expect(receiver.server.connections).toBe(connections);
  });
});
