/**
 * manifests/twilio.yaml end to end: the library API against a fake Twilio on 127.0.0.1 that speaks Twilio's
 * wire format (test/fakes/twilio.ts): Basic auth with the Account SID, form bodies, the 201 Message resource,
 * and Twilio's error objects (21211, 21608, 20003). One test runs the built binary, for what the CLI prints.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { inputSources, ToolctlError, type Toolctl } from "../src/api/index.js";
import { loopbackCopy } from "./fakes/server.js";
import { FakeTwilio, twilioSegments } from "./fakes/twilio.js";
import { openApi, repoRoot, runCli, tempDir } from "./helpers.js";

const shipped = path.join(repoRoot, "manifests", "twilio.yaml");
const VERIFIED = "+14155552671";
const OUR_NUMBER = "+15005550006";

/** A trial account (the fake's default) and a paid one, each with its own copy of the manifest. */
let trial: FakeTwilio;
let paid: FakeTwilio;
const dirs = new Map<FakeTwilio, string>();

beforeAll(async () => {
  trial = await new FakeTwilio({ verified: [VERIFIED], owned: [OUR_NUMBER] }).start();
  paid = await new FakeTwilio({ trial: false, owned: [OUR_NUMBER] }).start();
  for (const fake of [trial, paid]) dirs.set(fake, path.dirname(loopbackCopy(shipped, fake.url, tempDir("toolctl-twilio-manifest-"))));
});
afterAll(async () => {
  await trial.close();
  await paid.close();
});

const envFor = (fake: FakeTwilio, token = fake.authToken) => ({ TWILIO_ACCOUNT_SID: fake.accountSid, TWILIO_AUTH_TOKEN: token });

/** A fresh home with the copy pointing at `fake` imported, opened with its credentials (or `env`). */
async function twilioApi(fake: FakeTwilio, env = envFor(fake)): Promise<Toolctl> {
  const toolctl = await openApi({ env });
  const report = await toolctl.importManifests([dirs.get(fake)!]);
  expect(report.failed).toEqual([]);
  expect(report.imported.map((i) => i.tool)).toEqual(["twilio"]);
  return toolctl;
}

const sms = (to: string, body: string, from = OUR_NUMBER) => inputSources({ params: [`to=${to}`, `from=${from}`, `body=${body}`] });

describe("twilio manifest", () => {
  it("ships pointing at api.twilio.com; the test copy changes only baseUrl and the loopback allowances", () => {
    const original = parse(readFileSync(shipped, "utf8"));
    const copy = parse(readFileSync(path.join(dirs.get(trial)!, "twilio.yaml"), "utf8"));
    expect(original.baseUrl).toBe("https://api.twilio.com");
    expect({ ...copy, baseUrl: original.baseUrl, http: original.http }).toEqual(original);
    expect(copy.http).toEqual({ ...original.http, allowPlainHttp: true, allowPrivateNetworks: ["127.0.0.0/8"] });
  });

  it("imports as shipped: send_sms is per segment, not idempotent, has no idempotency key, and is irreversible", async () => {
    const toolctl = await openApi();
    expect((await toolctl.importManifests([shipped])).failed).toEqual([]);
    expect((await toolctl.getTool("twilio"))!.definition.auth).toEqual({
      type: "basic",
      username: "{{ secrets.TWILIO_ACCOUNT_SID }}",
      secret: "TWILIO_AUTH_TOKEN",
    });
    const action = (await toolctl.store.tools.action("twilio", "send_sms", false))!.definition;
    expect(action).toMatchObject({ kind: "create", idempotent: false, rollback: "irreversible", cost: { perUnit: 0.0079, units: { smsSegments: "body" } } });
    expect(action.idempotencyKey).toBeUndefined();
  });
});

describe("twilio.send_sms against a fake Twilio", () => {
  it("sends an SMS: Basic auth, the form body, 201 with the queued Message resource, priced per segment without approval", async () => {
    const toolctl = await twilioApi(trial);
    const before = trial.messages.length;
    const result = await toolctl.run("twilio.send_sms", sms(VERIFIED, "Your verification code is 123456"));
    expect(result.exitCode).toBe(0);
    expect(result).toMatchObject({
      status: "succeeded",
      cost: { usd: 0.0079, units: 1 },
      risk: "LOW",
      approval: { required: false },
      output: { status: "queued", to: VERIFIED, from: OUR_NUMBER, price: null, num_segments: "1", direction: "outbound-api" },
    });
    const output = result.output as any;
    expect(output.sid).toMatch(/^SM[0-9a-f]{32}$/);
    // The Account SID is a secret: scrubbed wherever the provider echoes it.
    expect(output.account_sid).toBe("[REDACTED]");
    expect(output.uri).toBe(`/2010-04-01/Accounts/[REDACTED]/Messages/${output.sid}.json`);

    expect(trial.messages.length).toBe(before + 1);
    const sent = trial.server.requests.at(-1)!;
    expect(sent.method).toBe("POST");
    expect(sent.url).toBe(`/2010-04-01/Accounts/${trial.accountSid}/Messages.json`);
    expect(sent.headers.authorization).toBe(`Basic ${Buffer.from(`${trial.accountSid}:${trial.authToken}`).toString("base64")}`);
    expect(sent.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(sent.body).toBe("To=%2B14155552671&From=%2B15005550006&Body=Your+verification+code+is+123456");
    expect(sent.headers["idempotency-key"]).toBeUndefined();
    for (const text of [JSON.stringify(result), JSON.stringify(await toolctl.execution(result.executionId))]) {
      expect(text).not.toContain(trial.authToken);
      expect(text).not.toContain(trial.accountSid);
    }
  });

  it.each([
    ["one GSM-7 segment", "a".repeat(160), 1],
    ["two GSM-7 segments", "a".repeat(161), 2],
    ["GSM-7 extension characters count twice: 160 septets", "{".repeat(80), 1],
    ["GSM-7 extension characters count twice: 161 septets", `a${"{".repeat(80)}`, 2],
    ["UCS-2 because of an emoji", `${"b".repeat(69)}👍`, 2],
    ["UCS-2 at 70 units", "€ü".repeat(10) + "ж".repeat(50), 1],
    ["three UCS-2 segments", "ж".repeat(135), 3],
  ])("the estimate is what Twilio bills: %s", async (_name, body, segments) => {
    const toolctl = await twilioApi(paid);
    const result = await toolctl.run("twilio.send_sms", sms("+442071838750", body));
    expect(result.exitCode).toBe(0);
    expect(twilioSegments(body)).toBe(segments);
    expect(result.cost!.units).toBe(segments);
    expect((result.output as any).num_segments).toBe(String(segments));
    expect(result.cost!.usd).toBeCloseTo(segments * 0.0079, 6);
  });

  it("a number that is not E.164 is caught by the input schema: exit 2, nothing sent", async () => {
    const toolctl = await twilioApi(trial);
    const before = trial.server.requests.length;
    const result = await toolctl.run("twilio.send_sms", sms("415-555-2671", "hello"));
    expect(result.exitCode).toBe(2);
    expect(result.error!.code).toBe("input_invalid");
    expect(result.error!.message).toMatch(/input\.to: must match pattern/);
    expect(trial.server.requests.length).toBe(before);
  });

  it("a number Twilio finds invalid is Twilio's 21211: exit 1 with its message", async () => {
    const toolctl = await twilioApi(trial);
    const result = await toolctl.run("twilio.send_sms", sms("+15005550001", "hello"));
    expect(result.exitCode).toBe(1);
    expect(result.status).toBe("failed");
    expect(result.error!.message).toBe("HTTP 400: The 'To' number +15005550001 is not a valid phone number.");
    expect(result.output).toMatchObject({ code: 21211, more_info: "https://www.twilio.com/docs/errors/21211", status: 400 });
  });

  it("a trial account sending to an unverified number gets Twilio's 21608: exit 1, nothing queued", async () => {
    const toolctl = await twilioApi(trial);
    const before = trial.messages.length;
    const result = await toolctl.run("twilio.send_sms", sms("+14155550100", "hello"));
    expect(result.exitCode).toBe(1);
    expect(result.error!.message).toBe(
      "HTTP 400: The number +14155550100 is unverified. Trial accounts cannot send messages to unverified numbers; " +
        "verify +14155550100 at twilio.com/user/account/phone-numbers/verified, or purchase a Twilio number to send messages to unverified numbers.",
    );
    expect((result.output as any).code).toBe(21608);
    expect(trial.messages.length).toBe(before);
  });

  it("a wrong auth token is Twilio's 20003: exit 1, authentication, and neither credential printed", async () => {
    const wrong = "0123456789abcdef0123456789abcdef";
    const toolctl = await twilioApi(trial, envFor(trial, wrong));
    const result = await toolctl.run("twilio.send_sms", sms(VERIFIED, "hello"));
    expect(result.exitCode).toBe(1);
    expect(result.error!.category).toBe("authentication");
    expect(result.error!.message).toBe("HTTP 401: Authenticate");
    expect(JSON.stringify(result)).not.toContain(wrong);
    expect(JSON.stringify(result)).not.toContain(trial.accountSid);
  });

  it("a 5xx after Twilio queued the message is unknown (exit 5) and never resent; list_messages shows what happened", async () => {
    const toolctl = await twilioApi(paid);
    const to = "+61291234567";
    const requests = paid.server.requests.length;
    paid.failNext = 1;
    const result = await toolctl.run("twilio.send_sms", sms(to, "Deploy finished"));
    paid.failNext = 0;
    expect(result.exitCode).toBe(5);
    expect(result.status).toBe("unknown");
    expect(result.error!.message).toMatch(/^HTTP 500: An internal server error has occurred: the provider may have acted/);
    expect(await toolctl.execution(result.executionId)).toMatchObject({ status: "unknown" });
    // Exactly one request: Twilio has no idempotency key, so a resend could send the SMS twice.
    expect(paid.server.requests.length).toBe(requests + 1);
    expect(paid.messages.filter((m) => m.to === to)).toHaveLength(1);

    const lookup = await toolctl.run("twilio.list_messages", inputSources({ params: [`to=${to}`, "limit=5"] }));
    expect(lookup.exitCode).toBe(0);
    const messages = (lookup.output as any).messages;
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ to, body: "Deploy finished", status: "queued" });
    expect(paid.server.requests.at(-1)!.url).toBe(`/2010-04-01/Accounts/${paid.accountSid}/Messages.json?To=%2B61291234567&PageSize=5`);
  });

  it("cannot be rolled back: toolctl rollback refuses an SMS (exit 3)", async () => {
    const toolctl = await twilioApi(trial);
    const sent = await toolctl.run("twilio.send_sms", sms(VERIFIED, "cannot unsend"));
    expect(sent.exitCode).toBe(0);
    const before = trial.server.requests.length;
    const undo = toolctl.rollback(sent.executionId);
    await expect(undo).rejects.toBeInstanceOf(ToolctlError);
    await expect(undo).rejects.toMatchObject({ exitCode: 3, message: expect.stringMatching(/irreversible/) });
    expect(trial.server.requests.length).toBe(before);
    expect(await toolctl.execution(sent.executionId)).toMatchObject({ status: "succeeded" });
  });

  it("a dry run shows the exact request with the SID and token redacted, the segments and price, and Twilio sees nothing", async () => {
    const toolctl = await twilioApi(trial);
    const requests = trial.server.requests.length;
    const connections = trial.server.connections;
    const body = "x".repeat(200);
    const result = await toolctl.preview("twilio.send_sms", sms(VERIFIED, body));
    expect(result.exitCode).toBe(0);
    expect(result.status).toBe("dry_run");
    expect(result.request).toMatchObject({
      method: "POST",
      url: `${trial.url}/2010-04-01/Accounts/[REDACTED]/Messages.json`,
      headers: { authorization: "[REDACTED]", "content-type": "application/x-www-form-urlencoded" },
      body: { To: VERIFIED, From: OUR_NUMBER, Body: body },
    });
    expect((result.request!.headers as Record<string, string>)["idempotency-key"]).toBeUndefined();
    expect(result.cost).toEqual({ usd: 0.0158, units: 2, basis: "input.body: 2 SMS segments (GSM-7) × $0.0079" });
    expect(JSON.stringify(result)).not.toContain(trial.accountSid);
    expect(JSON.stringify(result)).not.toContain(trial.authToken);
    expect(trial.server.requests.length).toBe(requests);
    expect(trial.server.connections).toBe(connections);
  });
});

describe("the CLI", () => {
  it("prints Twilio's refusal on stderr (exit 1), and a dry run's request, cost and approval without the credentials", async () => {
    const toolctl = await twilioApi(trial);
    const run = (...args: string[]) =>
      runCli(["run", "twilio.send_sms", "-p", `to=${args[0]}`, "-p", `from=${OUR_NUMBER}`, "-p", `body=${args[1]}`, ...args.slice(2)], {
        home: toolctl.home,
        env: envFor(trial),
      });
    const refused = await run("+14155550100", "hello");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: HTTP 400: The number \+14155550100 is unverified\. Trial accounts cannot send/m);

    const requests = trial.server.requests.length;
    const human = await run(VERIFIED, "hi", "--dry-run");
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`POST ${trial.url}/2010-04-01/Accounts/[REDACTED]/Messages.json`);
    expect(human.stdout).toContain("authorization: [REDACTED]");
    expect(human.stdout).toContain("cost $0.01 (input.body: 1 SMS segment (GSM-7) × $0.0079), risk LOW, no approval needed");
    expect(human.stdout + human.stderr).not.toContain(trial.authToken);
    expect(trial.server.requests.length).toBe(requests);
  });
});
