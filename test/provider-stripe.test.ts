/**
 * manifests/stripe.yaml end to end: the library API against a fake Stripe on 127.0.0.1 that speaks Stripe's
 * wire format (test/fakes/stripe.ts). The test runs a copy of the shipped manifest whose only changes are
 * baseUrl and the loopback settings of the outbound guard (loopbackCopy). Two tests run the built binary, for
 * what the CLI prints.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { inputSources, type Toolctl } from "../src/api/index.js";
import { loopbackCopy } from "./fakes/server.js";
import { FakeStripe } from "./fakes/stripe.js";
import { openApi, repoRoot, runCli, tempDir } from "./helpers.js";

const shipped = path.join(repoRoot, "manifests", "stripe.yaml");
let stripe: FakeStripe;
let manifestDir: string;
let env: Record<string, string>;

beforeAll(async () => {
  stripe = await new FakeStripe().start();
  manifestDir = tempDir("toolctl-stripe-manifest-");
  loopbackCopy(shipped, stripe.url, manifestDir);
  env = { STRIPE_API_KEY: stripe.apiKey };
});
afterAll(() => stripe.close());

/** A fresh home per test (the circuit breaker and the budget are per home), opened with `environment`. */
async function stripeApi(environment: Record<string, string> = env): Promise<Toolctl> {
  const toolctl = await openApi({ env: environment });
  const report = await toolctl.importManifests([manifestDir]);
  expect(report.failed).toEqual([]);
  expect(report.imported.map((i) => i.tool)).toEqual(["stripe"]);
  return toolctl;
}

/** create_payment's input as `-p` would give it. */
const pay = (...params: string[]) => inputSources({ params });
const yes = { yes: true };
const output = (result: { output?: unknown }) => result.output as any;

function decodedForm(body: string): string {
  return decodeURIComponent(body.replace(/\+/g, " "));
}

describe("stripe manifest", () => {
  it("ships pointing at api.stripe.com; the test copy changes only baseUrl and the loopback allowances", () => {
    const original = parse(readFileSync(shipped, "utf8"));
    const copy = parse(readFileSync(path.join(manifestDir, "stripe.yaml"), "utf8"));
    expect(original.baseUrl).toBe("https://api.stripe.com");
    expect(original.sandboxBaseUrl).toBeUndefined();
    expect(copy.http).toEqual({ ...original.http, allowPlainHttp: true, allowPrivateNetworks: ["127.0.0.0/8"] });
    expect({ ...copy, baseUrl: original.baseUrl, http: original.http }).toEqual(original);
  });

  it("imports as shipped, and declares the payment approval-always, keyed, priced from cents, undone by a refund or, if it did not succeed, a cancel", async () => {
    const toolctl = await openApi();
    expect((await toolctl.importManifests([shipped])).failed).toEqual([]);
    const tool = (await toolctl.getTool("stripe"))!;
    expect(tool.name).toBe("stripe");
    expect(tool.definition).toMatchObject({ baseUrl: "https://api.stripe.com", auth: { type: "bearer", secret: "STRIPE_API_KEY" } });
    expect((await toolctl.store.tools.action("stripe", "create_payment", false))!.definition).toMatchObject({
      kind: "create",
      approval: "always",
      idempotencyKey: { header: "Idempotency-Key" },
      cost: { fromInput: "amount_cents", scale: 0.01 },
      rollback: [
        { when: { path: "output.status", equals: "succeeded" }, action: "refund", input: { payment_intent: "{{ output.id }}" } },
        { action: "cancel_payment", input: { id: "{{ output.id }}" } },
      ],
    });
    expect((await toolctl.store.tools.action("stripe", "cancel_payment", false))!.definition).toMatchObject({
      kind: "update",
      approval: "always",
      idempotencyKey: { header: "Idempotency-Key" },
      rollback: "irreversible",
    });
    // How the rollback is described to a human (`toolctl show` prints the same words).
    const preview = await toolctl.preview("stripe.create_payment", pay("amount_cents=500", "payment_method=pm_card_visa"));
    expect(preview.undo).toMatch(/^refund when output\.status is succeeded, else cancel_payment/);
  });
});

describe("stripe.create_payment against a fake Stripe", () => {
  it("charges a saved card: cents on the wire, the Idempotency-Key, the Stripe-Version, and the PaymentIntent back", async () => {
    const toolctl = await stripeApi();
    const before = stripe.charges.length;
    const result = await toolctl.run(
      "stripe.create_payment",
      pay("amount_cents=5000", "payment_method=pm_card_visa", "customer=cus_Q1w2e3r4", "description=Invoice 12345", "metadata.order=A-1"),
      yes,
    );
    expect(result.exitCode).toBe(0);
    expect(result).toMatchObject({
      status: "succeeded",
      cost: { usd: 50, basis: "input.amount_cents × 0.01" },
      risk: "HIGH",
      approval: { required: true },
      output: { object: "payment_intent", amount: 5000, amount_received: 5000, currency: "usd", status: "succeeded", customer: "cus_Q1w2e3r4" },
    });
    expect(output(result).id).toMatch(/^pi_/);
    // Stripe's client_secret is scrubbed like any value under a secret-looking key.
    expect(output(result).client_secret).toBe("[REDACTED]");

    expect(stripe.charges.length).toBe(before + 1);
    expect(stripe.charges.at(-1)).toMatchObject({ amount: 5000, currency: "usd", paymentIntent: output(result).id });
    const sent = stripe.server.requests.at(-1)!;
    expect(sent.method).toBe("POST");
    expect(sent.url).toBe("/v1/payment_intents");
    expect(sent.headers.authorization).toBe(`Bearer ${stripe.apiKey}`);
    expect(sent.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(sent.headers["stripe-version"]).toBe("2024-06-20");
    expect(sent.headers["idempotency-key"]).toBe(result.executionId);
    expect(decodedForm(sent.body)).toBe(
      "amount=5000&currency=usd&payment_method=pm_card_visa&customer=cus_Q1w2e3r4&description=Invoice 12345&metadata[order]=A-1" +
        "&payment_method_types[0]=card&confirm=true&off_session=true",
    );
    const recorded = await toolctl.execution(result.executionId);
    expect(recorded).toMatchObject({ status: "succeeded", costUsd: 50 });
    for (const value of [result, recorded]) expect(JSON.stringify(value)).not.toContain(stripe.apiKey);

    const budget = await toolctl.budget();
    expect(budget.spend.committedUsd).toBe(50);
    expect(budget.entries).toEqual([expect.objectContaining({ executionId: result.executionId, amountUsd: 50 })]);
  });

  it("always asks a human, even for $0.50: without yes a program gets exit 4 and Stripe sees nothing", async () => {
    const toolctl = await stripeApi();
    const before = stripe.server.requests.length;
    const result = await toolctl.run("stripe.create_payment", pay("amount_cents=50", "payment_method=pm_card_visa"));
    expect(result.exitCode).toBe(4);
    expect(result.status).toBe("declined");
    expect(result.risk).toBe("LOW");
    expect(result.error!.message).toMatch(/--yes/);
    expect(stripe.server.requests.length).toBe(before);
  });

  it("a human who approves through an ApprovalChannel is shown the payment, and the charge goes through", async () => {
    const toolctl = await stripeApi();
    const asked: unknown[] = [];
    const result = await toolctl.run("stripe.create_payment", pay("amount_cents=60", "payment_method=pm_card_visa"), {
      approve: async (request) => (asked.push(request), { approved: true }),
    });
    expect(result.exitCode).toBe(0);
    expect(asked).toEqual([expect.objectContaining({ tool: "stripe", action: "create_payment", cost: expect.objectContaining({ usd: 0.6 }), risk: "LOW" })]);
    expect(stripe.charges.at(-1)).toMatchObject({ amount: 60, paymentIntent: output(result).id });
  });

  it("a declined card fails with exit 1 and Stripe's own message; no money moves", async () => {
    const toolctl = await stripeApi();
    const charges = stripe.charges.length;
    const declines = stripe.declines;
    const result = await toolctl.run("stripe.create_payment", pay("amount_cents=2500", "payment_method=pm_card_chargeDeclined"), yes);
    expect(result.exitCode).toBe(1);
    expect(result.status).toBe("failed");
    expect(result.error!.message).toBe("HTTP 402: Your card was declined.");
    // The provider's error object is kept as the output, for scripts that need the decline code.
    expect(output(result).error).toMatchObject({ type: "card_error", code: "card_declined", decline_code: "generic_decline" });
    expect(stripe.charges.length).toBe(charges);
    expect(stripe.declines).toBe(declines + 1);
    // Nothing was spent: the reservation was released.
    expect((await toolctl.budget()).spend).toMatchObject({ committedUsd: 0, reservedUsd: 0 });
  });

  it.each([
    ["dollars given where cents are expected", "amount_cents=4999.99", /input\.amount_cents: must be integer/],
    ["an amount under Stripe's minimum", "amount_cents=10", /input\.amount_cents: must be >= 50/],
  ])("refuses %s: exit 2, nothing sent", async (_name, amount, message) => {
    const toolctl = await stripeApi();
    const before = stripe.server.requests.length;
    const result = await toolctl.run("stripe.create_payment", pay(amount, "payment_method=pm_card_visa"), yes);
    expect(result.exitCode).toBe(2);
    expect(result.error!.code).toBe("input_invalid");
    expect(result.error!.message).toMatch(message);
    expect(stripe.server.requests.length).toBe(before);
  });

  it.each(["order[1]", "a]b", "[x"])(
    "refuses the metadata key %s (Stripe's keys cannot hold [ or ], which its form encoding uses): exit 2, naming the field, nothing sent",
    async (key) => {
      const toolctl = await stripeApi();
      const before = stripe.server.requests.length;
      const input = { amount_cents: 900, payment_method: "pm_card_visa", metadata: { order: "A-1", [key]: "x" } };
      const result = await toolctl.run("stripe.create_payment", input, yes);
      expect(result.exitCode).toBe(2);
      expect(result.error!.code).toBe("input_invalid");
      expect(result.error!.message).toContain(`input.metadata: property name '${key}'`);
      expect(result.error!.message).toMatch(
        new RegExp(`^invalid input for stripe\\.create_payment: input\\.metadata: property name '${key.replace(/[[\]]/g, "\\$&")}'`),
      );
      expect(stripe.server.requests.length).toBe(before);
    },
  );

  it("the fake refuses a bracketed metadata key as Stripe's form parsing sees it (a nested value), so a manifest without the check would fail there", async () => {
    const response = await fetch(`${stripe.url}/v1/payment_intents`, {
      method: "POST",
      headers: { authorization: `Bearer ${stripe.apiKey}`, "content-type": "application/x-www-form-urlencoded" },
      body: "amount=900&currency=usd&metadata[order[1]]=x",
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as any).error).toEqual({
      type: "invalid_request_error",
      param: "metadata",
      message: 'Invalid value type: ["x"] must be a string',
    });
  });

  it("a payment method Stripe does not know is Stripe's 400, exit 1", async () => {
    const toolctl = await stripeApi();
    const result = await toolctl.run("stripe.create_payment", pay("amount_cents=900", "payment_method=pm_nonexistent123"), yes);
    expect(result.exitCode).toBe(1);
    expect(result.error!.message).toBe("HTTP 400: No such PaymentMethod: 'pm_nonexistent123'");
  });

  it("a live key is refused by the test-mode fake: exit 1, authentication, and the key never printed", async () => {
    const live = "sk_live_51HxYzAbCdEfGhIjKlMnOpQr";
    const toolctl = await stripeApi({ STRIPE_API_KEY: live });
    const result = await toolctl.run("stripe.create_payment", pay("amount_cents=900", "payment_method=pm_card_visa"), yes);
    expect(result.exitCode).toBe(1);
    expect(result.error!.category).toBe("authentication");
    expect(result.error!.message).toMatch(/^HTTP 401: Invalid API Key provided: sk_live_\*+OpQr\. This is a test-mode server/);
    expect(JSON.stringify(result)).not.toContain(live);
    expect(JSON.stringify(await toolctl.execution(result.executionId))).not.toContain(live);
  });

  it("names a missing STRIPE_API_KEY: exit 2, nothing sent", async () => {
    const toolctl = await stripeApi({});
    const before = stripe.server.requests.length;
    const result = await toolctl.run("stripe.create_payment", pay("amount_cents=900", "payment_method=pm_card_visa"), yes);
    expect(result.exitCode).toBe(2);
    expect(result.error!.message).toMatch(/STRIPE_API_KEY/);
    expect(stripe.server.requests.length).toBe(before);
  });

  it("over the per-action limit ($250 > $200) is refused before anyone is asked, even with yes: exit 3", async () => {
    const toolctl = await stripeApi();
    const before = stripe.server.requests.length;
    let asked = 0;
    const result = await toolctl.run("stripe.create_payment", pay("amount_cents=25000", "payment_method=pm_card_visa"), {
      yes: true,
      approve: async () => (asked++, { approved: true }),
    });
    expect(result.exitCode).toBe(3);
    expect(result.error!.message).toMatch(/estimated \$250\.00 is over the per-action limit of \$200\.00/);
    expect(asked).toBe(0);
    expect(stripe.server.requests.length).toBe(before);
  });

  it("above $100 the payment is CRITICAL: yes alone is not enough, a TOTP code is needed (exit 3 until 2FA is set up)", async () => {
    const toolctl = await stripeApi();
    const before = stripe.server.requests.length;
    const result = await toolctl.run("stripe.create_payment", pay("amount_cents=15000", "payment_method=pm_card_visa"), yes);
    expect(result.exitCode).toBe(3);
    expect(result.error!.message).toMatch(/CRITICAL \(estimated \$150\.00\) and needs a TOTP code/);
    expect(result.risk).toBe("CRITICAL");
    expect(result.approval!.twoFactor).toBe(true);
    expect(stripe.server.requests.length).toBe(before);
  });

  it("a dry run shows the exact request with the key redacted, and Stripe sees nothing", async () => {
    const toolctl = await stripeApi();
    const requests = stripe.server.requests.length;
    const connections = stripe.server.connections;
    const result = await toolctl.preview("stripe.create_payment", pay("amount_cents=4200", "payment_method=pm_card_visa", "metadata.order=B-7"));
    expect(result.exitCode).toBe(0);
    expect(result.status).toBe("dry_run");
    expect(result.request).toMatchObject({
      runtime: "http",
      method: "POST",
      url: `${stripe.url}/v1/payment_intents`,
      headers: {
        authorization: "[REDACTED]",
        "idempotency-key": result.executionId,
        "stripe-version": "2024-06-20",
        "content-type": "application/x-www-form-urlencoded",
      },
      body: {
        amount: 4200,
        currency: "usd",
        payment_method: "pm_card_visa",
        metadata: { order: "B-7" },
        payment_method_types: ["card"],
        confirm: true,
        off_session: true,
      },
    });
    expect(result).toMatchObject({ cost: { usd: 42, basis: "input.amount_cents × 0.01" }, risk: "HIGH", approval: { required: true, twoFactor: false } });
    expect(JSON.stringify(result)).not.toContain(stripe.apiKey);
    expect(stripe.server.requests.length).toBe(requests);
    expect(stripe.server.connections).toBe(connections);
  });
});

describe("stripe.refund and stripe.get_payment", () => {
  async function paid(toolctl: Toolctl, cents: number): Promise<string> {
    const result = await toolctl.run("stripe.create_payment", pay(`amount_cents=${cents}`, "payment_method=pm_card_visa"), yes);
    expect(result.exitCode).toBe(0);
    return output(result).id as string;
  }

  it("refunds part, then refuses a refund larger than what is left with Stripe's message (exit 1), then refunds the rest", async () => {
    const toolctl = await stripeApi();
    const intent = await paid(toolctl, 5000);
    const partial = await toolctl.run(
      "stripe.refund",
      inputSources({ params: [`payment_intent=${intent}`, "amount_cents=1000", "reason=requested_by_customer"] }),
      yes,
    );
    expect(partial.exitCode).toBe(0);
    expect(partial.output).toMatchObject({ object: "refund", amount: 1000, payment_intent: intent, status: "succeeded" });
    expect(decodedForm(stripe.server.requests.at(-1)!.body)).toBe(`payment_intent=${intent}&amount=1000&reason=requested_by_customer`);

    const tooMuch = await toolctl.run("stripe.refund", inputSources({ params: [`payment_intent=${intent}`, "amount_cents=6000"] }), yes);
    expect(tooMuch.exitCode).toBe(1);
    expect(tooMuch.error!.message).toBe("HTTP 400: Refund amount ($60.00) is greater than unrefunded amount on charge ($40.00)");

    const rest = await toolctl.run("stripe.refund", inputSources({ params: [`payment_intent=${intent}`] }), yes);
    expect(rest.exitCode).toBe(0);
    expect(output(rest).amount).toBe(4000);
    expect(stripe.charges.find((c) => c.paymentIntent === intent)!.amountRefunded).toBe(5000);
  });

  it.each(["pending", "requires_action", "canceled"] as const)(
    "a refund Stripe answers %s is recorded as Stripe said it: exit 0, output.status",
    async (status) => {
      const toolctl = await stripeApi();
      const intent = await paid(toolctl, 1500);
      stripe.nextRefundStatus = status;
      const refund = await toolctl.run("stripe.refund", { payment_intent: intent }, yes);
      expect(refund.exitCode, refund.error?.message).toBe(0);
      expect(refund).toMatchObject({ status: "succeeded", output: { object: "refund", amount: 1500, status } });
      expect(await toolctl.execution(refund.executionId)).toMatchObject({ status: "succeeded", output: { status } });
    },
  );

  it("a refund Stripe answers failed fails the run with Stripe's failure_reason (exit 1), and a rollback through it leaves the payment as it was", async () => {
    const toolctl = await stripeApi();
    const intent = await paid(toolctl, 1600);
    stripe.nextRefundStatus = "failed";
    const refund = await toolctl.run("stripe.refund", { payment_intent: intent }, yes);
    expect(refund.exitCode).toBe(1);
    expect(refund).toMatchObject({ status: "failed", error: { message: "expired_or_canceled_card", category: "validation" }, output: { status: "failed" } });

    const payment = await toolctl.run("stripe.create_payment", pay("amount_cents=1700", "payment_method=pm_card_visa"), yes);
    stripe.nextRefundStatus = "failed";
    const undo = await toolctl.rollback(payment.executionId, yes);
    expect(undo.exitCode).toBe(1);
    expect(undo).toMatchObject({ rollbackOf: payment.executionId, action: "refund", status: "failed" });
    expect(await toolctl.execution(payment.executionId)).toMatchObject({ status: "succeeded" });
  });

  it("a refund asks a human too, and costs nothing from the budget", async () => {
    const toolctl = await stripeApi();
    const intent = await paid(toolctl, 700);
    const before = stripe.server.requests.length;
    const asked = await toolctl.run("stripe.refund", { payment_intent: intent });
    expect(asked.exitCode).toBe(4);
    expect(asked.cost!.usd).toBe(0);
    expect(stripe.server.requests.length).toBe(before);
  });

  it("get_payment reads a PaymentIntent back without approval", async () => {
    const toolctl = await stripeApi();
    const intent = await paid(toolctl, 1200);
    const result = await toolctl.run("stripe.get_payment", { id: intent });
    expect(result.exitCode).toBe(0);
    expect(result.output).toMatchObject({ id: intent, status: "succeeded", amount: 1200 });
    expect(stripe.server.requests.at(-1)!.method).toBe("GET");
    const missing = await toolctl.run("stripe.get_payment", { id: "pi_doesnotexist" });
    expect(missing.exitCode).toBe(1);
    expect(missing.error!.message).toBe("HTTP 400: No such payment_intent: 'pi_doesnotexist'");
  });

  it("rollback refunds a payment through the declared rollback ({{ output.id }} → payment_intent)", async () => {
    const toolctl = await stripeApi();
    const payment = await toolctl.run("stripe.create_payment", pay("amount_cents=3300", "payment_method=pm_card_visa"), yes);
    expect(payment.exitCode).toBe(0);
    const intent = output(payment).id as string;
    const undo = await toolctl.rollback(payment.executionId, yes);
    expect(undo.exitCode).toBe(0);
    expect(undo).toMatchObject({
      rollbackOf: payment.executionId,
      tool: "stripe",
      action: "refund",
      status: "succeeded",
      output: { payment_intent: intent, amount: 3300 },
    });
    const refund = stripe.server.requests.at(-1)!;
    expect(decodedForm(refund.body)).toBe(`payment_intent=${intent}`);
    expect(refund.headers["idempotency-key"]).toBe(undo.executionId);
    expect(stripe.charges.find((c) => c.paymentIntent === intent)!.amountRefunded).toBe(3300);
    expect(await toolctl.execution(payment.executionId)).toMatchObject({ status: "rolled_back" });
  });
});

describe("undoing a payment that did not succeed: a cancel, not a refund", () => {
  it("rollback of a payment Stripe left processing cancels the PaymentIntent; nothing is refunded", async () => {
    const toolctl = await stripeApi();
    stripe.nextPaymentStatus = "processing";
    const payment = await toolctl.run("stripe.create_payment", pay("amount_cents=2100", "payment_method=pm_card_visa"), yes);
    expect(payment.exitCode, payment.error?.message).toBe(0);
    expect(output(payment).status).toBe("processing");
    expect(payment.undo).toBe("refund when output.status is succeeded, else cancel_payment (automatic if the action acts but fails)");
    const intent = output(payment).id as string;
    const refunds = stripe.server.requestsTo("/v1/refunds").length;

    const preview = await toolctl.rollback(payment.executionId, { dryRun: true });
    expect(preview.exitCode, preview.error?.message).toBe(0);
    expect(preview).toMatchObject({
      status: "dry_run",
      action: "cancel_payment",
      request: { method: "POST", url: `${stripe.url}/v1/payment_intents/${intent}/cancel` },
    });

    const undo = await toolctl.rollback(payment.executionId, yes);
    expect(undo.exitCode, undo.error?.message).toBe(0);
    expect(undo).toMatchObject({
      tool: "stripe",
      action: "cancel_payment",
      status: "succeeded",
      output: { id: intent, object: "payment_intent", status: "canceled" },
    });
    expect(stripe.server.requests.at(-1)).toMatchObject({ method: "POST", url: `/v1/payment_intents/${intent}/cancel` });
    expect(stripe.server.requests.at(-1)!.headers["idempotency-key"]).toBe(undo.executionId);
    expect(stripe.server.requestsTo("/v1/refunds")).toHaveLength(refunds);
    expect(stripe.paymentIntents.get(intent)!.status).toBe("canceled");
    expect(await toolctl.execution(payment.executionId)).toMatchObject({ status: "rolled_back" });
  });

  it("a payment answered requires_action (not a result the manifest accepts) is canceled by the automatic rollback, not refunded", async () => {
    const toolctl = await stripeApi();
    stripe.nextPaymentStatus = "requires_action";
    const refunds = stripe.server.requestsTo("/v1/refunds").length;
    const result = await toolctl.run("stripe.create_payment", pay("amount_cents=2200", "payment_method=pm_card_visa"), yes);
    expect(result.exitCode).toBe(1);
    expect(result).toMatchObject({ status: "rolled_back", rollback: { status: "succeeded" } });
    expect(result.error!.message).toMatch(/it was rolled back automatically \(stripe\.cancel_payment, ex_\w+\)$/);
    expect(await toolctl.execution(result.rollback!.executionId)).toMatchObject({ tool: "stripe", action: "cancel_payment", status: "succeeded" });
    const intent = [...stripe.paymentIntents.values()].find((pi) => pi.amount === 2200)!;
    expect(intent.status).toBe("canceled");
    expect(stripe.server.requestsTo("/v1/refunds")).toHaveLength(refunds);
  });

  it("cancel_payment on a payment that succeeded is Stripe's 400: it must be refunded instead", async () => {
    const toolctl = await stripeApi();
    const payment = await toolctl.run("stripe.create_payment", pay("amount_cents=2300", "payment_method=pm_card_visa"), yes);
    const result = await toolctl.run("stripe.cancel_payment", { id: output(payment).id }, yes);
    expect(result.exitCode).toBe(1);
    expect(result.error!.message).toMatch(/^HTTP 400: You cannot cancel this PaymentIntent because it has a status of succeeded\./);
  });
});

describe("the fake's Idempotency-Key semantics (what retries rely on)", () => {
  async function post(pathname: string, body: string, key: string) {
    const response = await fetch(`${stripe.url}${pathname}`, {
      method: "POST",
      headers: { authorization: `Bearer ${stripe.apiKey}`, "content-type": "application/x-www-form-urlencoded", "idempotency-key": key },
      body,
    });
    return { status: response.status, replayed: response.headers.get("idempotent-replayed"), json: (await response.json()) as any };
  }

  it("replays the stored response for the same key and parameters, and refuses the key with other parameters", async () => {
    const key = `test-key-${Date.now()}`;
    const charges = stripe.charges.length;
    const first = await post("/v1/payment_intents", "amount=1500&currency=usd&payment_method=pm_card_visa&confirm=true", key);
    expect(first.status).toBe(200);
    expect(first.replayed).toBeNull();
    // The same parameters in another order are the same parameters.
    const again = await post("/v1/payment_intents", "currency=usd&amount=1500&confirm=true&payment_method=pm_card_visa", key);
    expect(again.status).toBe(200);
    expect(again.replayed).toBe("true");
    expect(again.json.id).toBe(first.json.id);
    expect(stripe.charges.length).toBe(charges + 1);
    const other = await post("/v1/payment_intents", "amount=9900&currency=usd&payment_method=pm_card_visa&confirm=true", key);
    expect(other.status).toBe(400);
    expect(other.json.error.type).toBe("idempotency_error");
    expect(other.json.error.message).toContain(`Try using a key other than '${key}'`);
    expect(stripe.charges.length).toBe(charges + 1);
  });

  it("replays a decline too, but saves nothing for a request that failed validation", async () => {
    const declined = `decline-${Date.now()}`;
    const first = await post("/v1/payment_intents", "amount=1500&currency=usd&payment_method=pm_card_chargeDeclined&confirm=true", declined);
    const second = await post("/v1/payment_intents", "amount=1500&currency=usd&payment_method=pm_card_chargeDeclined&confirm=true", declined);
    expect([first.status, second.status]).toEqual([402, 402]);
    expect(second.replayed).toBe("true");
    expect(second.json.error.charge).toBe(first.json.error.charge);
    const invalid = `invalid-${Date.now()}`;
    expect((await post("/v1/payment_intents", "amount=10&currency=usd", invalid)).status).toBe(400);
    const fixed = await post("/v1/payment_intents", "amount=1000&currency=usd", invalid);
    expect(fixed.status).toBe(200);
    expect(fixed.replayed).toBeNull();
  });
});

describe("a connection dropped after Stripe charged", () => {
  it("retries with the same Idempotency-Key, Stripe replays the charge, and the fake counts exactly one", async () => {
    const toolctl = await stripeApi();
    const charges = stripe.charges.length;
    const requests = stripe.server.requests.length;
    const replays = stripe.replays;
    stripe.dropAfterCharge = 1;
    const result = await toolctl.run("stripe.create_payment", pay("amount_cents=1999", "payment_method=pm_card_visa"), yes);
    stripe.dropAfterCharge = 0;
    expect(result.exitCode, result.error?.message).toBe(0);
    expect(stripe.charges.length).toBe(charges + 1);
    const attempts = stripe.server.requests.slice(requests);
    expect(attempts).toHaveLength(2);
    expect(new Set(attempts.map((r) => r.headers["idempotency-key"]))).toEqual(new Set([result.executionId]));
    expect(stripe.replays).toBe(replays + 1);
    expect(output(result).id).toBe(stripe.charges.at(-1)!.paymentIntent);
    const shown = (await toolctl.execution(result.executionId)) as any;
    expect(shown.request.result).toMatchObject({ attempts: 2 });
  });
});

describe("the CLI", () => {
  it("prints the rollback rule in show, and a failed run's error on stderr with its exit code", async () => {
    const toolctl = await stripeApi();
    const cli = (args: string[]) => runCli(args, { home: toolctl.home, env });
    const shown = await cli(["show", "stripe.create_payment"]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain("rollback: refund when output.status is succeeded, else cancel_payment");

    const declined = await cli(["run", "stripe.create_payment", "-p", "amount_cents=2500", "-p", "payment_method=pm_card_chargeDeclined", "--yes"]);
    expect(declined.code).toBe(1);
    expect(declined.stderr).toContain("error: HTTP 402: Your card was declined.");

    const before = stripe.server.requests.length;
    const input = { amount_cents: 900, payment_method: "pm_card_visa", metadata: { order: "A-1", "order[1]": "x" } };
    const invalid = await cli(["run", "stripe.create_payment", "--params", JSON.stringify(input), "--yes"]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr.trim().split("\n")[0]).toMatch(/^error: invalid input for stripe\.create_payment: input\.metadata: property name 'order\[1\]'/);
    expect(stripe.server.requests.length).toBe(before);
  });

  it("prints a dry run's request, cost, risk and approval, the key redacted", async () => {
    const toolctl = await stripeApi();
    const requests = stripe.server.requests.length;
    const human = await runCli(["run", "stripe.create_payment", "-p", "amount_cents=4200", "-p", "payment_method=pm_card_visa", "--dry-run"], {
      home: toolctl.home,
      env,
    });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`POST ${stripe.url}/v1/payment_intents`);
    expect(human.stdout).toContain("authorization: [REDACTED]");
    expect(human.stdout).toContain("cost $42.00 (input.amount_cents × 0.01), risk HIGH, approval required");
    expect(human.stdout + human.stderr).not.toContain(stripe.apiKey);
    expect(stripe.server.requests.length).toBe(requests);
  });
});
