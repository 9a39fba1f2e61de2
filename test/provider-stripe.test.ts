/**
 * manifests/stripe.yaml end to end: the built binary against a fake Stripe on 127.0.0.1 that speaks Stripe's
 * wire format (test/fakes/stripe.ts). The test runs a copy of the shipped manifest whose only changes are
 * baseUrl and the loopback settings of the outbound guard (loopbackCopy).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loopbackCopy } from "./fakes/server.js";
import { FakeStripe } from "./fakes/stripe.js";
import { repoRoot, runCli, runJson, tempDir } from "./helpers.js";

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

/** A fresh home per test: the circuit breaker and the budget are per home, and each test starts clean. */
async function stripeHome(): Promise<string> {
  const home = tempDir("toolctl-stripe-");
  const imported = await runCli(["import", manifestDir], { home });
  expect(imported.stderr).toBe("");
  expect(imported.code).toBe(0);
  return home;
}

const pay = (...params: string[]) => ["run", "stripe.create_payment", ...params.flatMap((p) => ["-p", p])];

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
    const home = tempDir("toolctl-stripe-shipped-");
    const imported = await runCli(["import", shipped], { home });
    expect(imported.code).toBe(0);
    const shown = await runJson(["show", "stripe.create_payment"], { home });
    expect(shown.code).toBe(0);
    expect(shown.json.tool).toMatchObject({ name: "stripe", baseUrl: "https://api.stripe.com", auth: { type: "bearer", secret: "STRIPE_API_KEY" } });
    expect(shown.json.action).toMatchObject({
      kind: "create",
      approval: "always",
      idempotencyKey: { header: "Idempotency-Key" },
      cost: { fromInput: "amount_cents", scale: 0.01 },
      rollback: [
        { when: { path: "output.status", equals: "succeeded" }, action: "refund", input: { payment_intent: "{{ output.id }}" } },
        { action: "cancel_payment", input: { id: "{{ output.id }}" } },
      ],
    });
    const cancel = await runJson(["show", "stripe.cancel_payment"], { home });
    expect(cancel.json.action).toMatchObject({ kind: "update", approval: "always", idempotencyKey: { header: "Idempotency-Key" }, rollback: "irreversible" });
    const human = await runCli(["show", "stripe.create_payment"], { home });
    expect(human.stdout).toContain("rollback: refund when output.status is succeeded, else cancel_payment");
  });
});

describe("stripe.create_payment against a fake Stripe", () => {
  it("charges a saved card: cents on the wire, the Idempotency-Key, the Stripe-Version, and the PaymentIntent back", async () => {
    const home = await stripeHome();
    const before = stripe.charges.length;
    const result = await runJson([...pay("amount_cents=5000", "payment_method=pm_card_visa", "customer=cus_Q1w2e3r4", "description=Invoice 12345", "metadata.order=A-1"), "--yes"], { home, env });
    expect(result.code).toBe(0);
    expect(result.json).toMatchObject({
      status: "succeeded",
      cost: { usd: 50, basis: "input.amount_cents × 0.01" },
      risk: "HIGH",
      approval: { required: true },
      output: { object: "payment_intent", amount: 5000, amount_received: 5000, currency: "usd", status: "succeeded", customer: "cus_Q1w2e3r4" },
    });
    expect(result.json.output.id).toMatch(/^pi_/);
    // Stripe's client_secret is scrubbed like any value under a secret-looking key.
    expect(result.json.output.client_secret).toBe("[REDACTED]");

    expect(stripe.charges.length).toBe(before + 1);
    expect(stripe.charges.at(-1)).toMatchObject({ amount: 5000, currency: "usd", paymentIntent: result.json.output.id });
    const sent = stripe.server.requests.at(-1)!;
    expect(sent.method).toBe("POST");
    expect(sent.url).toBe("/v1/payment_intents");
    expect(sent.headers.authorization).toBe(`Bearer ${stripe.apiKey}`);
    expect(sent.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(sent.headers["stripe-version"]).toBe("2024-06-20");
    expect(sent.headers["idempotency-key"]).toBe(result.json.executionId);
    expect(decodedForm(sent.body)).toBe(
      "amount=5000&currency=usd&payment_method=pm_card_visa&customer=cus_Q1w2e3r4&description=Invoice 12345&metadata[order]=A-1" +
      "&payment_method_types[0]=card&confirm=true&off_session=true",
    );
    for (const text of [result.stdout, result.stderr]) expect(text).not.toContain(stripe.apiKey);

    const budget = await runJson(["budget"], { home });
    expect(budget.json.committedUsd).toBe(50);
  });

  it("always asks a human, even for $0.50: without --yes a script gets exit 4 and Stripe sees nothing", async () => {
    const home = await stripeHome();
    const before = stripe.server.requests.length;
    const result = await runJson(pay("amount_cents=50", "payment_method=pm_card_visa"), { home, env });
    expect(result.code).toBe(4);
    expect(result.json.risk).toBe("LOW");
    expect(result.json.error.message).toMatch(/--yes/);
    expect(stripe.server.requests.length).toBe(before);
  });

  it("a declined card fails with exit 1 and Stripe's own message; no money moves", async () => {
    const home = await stripeHome();
    const charges = stripe.charges.length;
    const declines = stripe.declines;
    const result = await runJson([...pay("amount_cents=2500", "payment_method=pm_card_chargeDeclined"), "--yes"], { home, env });
    expect(result.code).toBe(1);
    expect(result.json.status).toBe("failed");
    expect(result.json.error.message).toBe("HTTP 402: Your card was declined.");
    // The provider's error object is kept as the output, for scripts that need the decline code.
    expect(result.json.output.error).toMatchObject({ type: "card_error", code: "card_declined", decline_code: "generic_decline" });
    expect(stripe.charges.length).toBe(charges);
    expect(stripe.declines).toBe(declines + 1);
    const human = await runCli([...pay("amount_cents=2500", "payment_method=pm_card_chargeDeclined"), "--yes"], { home, env });
    expect(human.code).toBe(1);
    expect(human.stderr).toContain("error: HTTP 402: Your card was declined.");
    // Nothing was spent: the reservation was released.
    const budget = await runJson(["budget"], { home });
    expect(budget.json.committedUsd).toBe(0);
  });

  it.each([
    ["dollars given where cents are expected", "amount_cents=4999.99", /input\.amount_cents: must be integer/],
    ["an amount under Stripe's minimum", "amount_cents=10", /input\.amount_cents: must be >= 50/],
  ])("refuses %s: exit 2, nothing sent", async (_name, amount, message) => {
    const home = await stripeHome();
    const before = stripe.server.requests.length;
    const result = await runJson([...pay(amount, "payment_method=pm_card_visa"), "--yes"], { home, env });
    expect(result.code).toBe(2);
    expect(result.json.error.code).toBe("input_invalid");
    expect(result.json.error.message).toMatch(message);
    expect(stripe.server.requests.length).toBe(before);
  });

  it.each(["order[1]", "a]b", "[x"])("refuses the metadata key %s (Stripe's keys cannot hold [ or ], which its form encoding uses): exit 2, naming the field, nothing sent", async (key) => {
    const home = await stripeHome();
    const before = stripe.server.requests.length;
    const input = { amount_cents: 900, payment_method: "pm_card_visa", metadata: { order: "A-1", [key]: "x" } };
    const result = await runJson(["run", "stripe.create_payment", "--params", JSON.stringify(input), "--yes"], { home, env });
    expect(result.code).toBe(2);
    expect(result.json.error.code).toBe("input_invalid");
    expect(result.json.error.message).toContain(`input.metadata: property name '${key}'`);
    const human = await runCli(["run", "stripe.create_payment", "--params", JSON.stringify(input), "--yes"], { home, env });
    expect(human.code).toBe(2);
    expect(human.stderr.trim().split("\n")[0]).toMatch(new RegExp(`^error: invalid input for stripe\\.create_payment: input\\.metadata: property name '${key.replace(/[[\]]/g, "\\$&")}'`));
    expect(stripe.server.requests.length).toBe(before);
  });

  it("the fake refuses a bracketed metadata key as Stripe's form parsing sees it (a nested value), so a manifest without the check would fail there", async () => {
    const response = await fetch(`${stripe.url}/v1/payment_intents`, {
      method: "POST",
      headers: { authorization: `Bearer ${stripe.apiKey}`, "content-type": "application/x-www-form-urlencoded" },
      body: "amount=900&currency=usd&metadata[order[1]]=x",
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as any).error).toEqual({ type: "invalid_request_error", param: "metadata", message: 'Invalid value type: ["x"] must be a string' });
  });

  it("a payment method Stripe does not know is Stripe's 400, exit 1", async () => {
    const home = await stripeHome();
    const result = await runJson([...pay("amount_cents=900", "payment_method=pm_nonexistent123"), "--yes"], { home, env });
    expect(result.code).toBe(1);
    expect(result.json.error.message).toBe("HTTP 400: No such PaymentMethod: 'pm_nonexistent123'");
  });

  it("a live key is refused by the test-mode fake: exit 1, authentication, and the key never printed", async () => {
    const home = await stripeHome();
    const live = "sk_live_51HxYzAbCdEfGhIjKlMnOpQr";
    const result = await runJson([...pay("amount_cents=900", "payment_method=pm_card_visa"), "--yes"], { home, env: { STRIPE_API_KEY: live } });
    expect(result.code).toBe(1);
    expect(result.json.error.category).toBe("authentication");
    expect(result.json.error.message).toMatch(/^HTTP 401: Invalid API Key provided: sk_live_\*+OpQr\. This is a test-mode server/);
    expect(result.stdout).not.toContain(live);
  });

  it("names a missing STRIPE_API_KEY: exit 2, nothing sent", async () => {
    const home = await stripeHome();
    const before = stripe.server.requests.length;
    const result = await runJson([...pay("amount_cents=900", "payment_method=pm_card_visa"), "--yes"], { home });
    expect(result.code).toBe(2);
    expect(result.json.error.message).toMatch(/STRIPE_API_KEY/);
    expect(stripe.server.requests.length).toBe(before);
  });

  it("over the per-action limit ($250 > $200) is refused before anyone is asked, even with --yes: exit 3", async () => {
    const home = await stripeHome();
    const before = stripe.server.requests.length;
    const result = await runJson([...pay("amount_cents=25000", "payment_method=pm_card_visa"), "--yes"], { home, env });
    expect(result.code).toBe(3);
    expect(result.json.error.message).toMatch(/estimated \$250\.00 is over the per-action limit of \$200\.00/);
    expect(stripe.server.requests.length).toBe(before);
  });

  it("above $100 the payment is CRITICAL: --yes alone is not enough, a TOTP code is needed (exit 3 until 2FA is set up)", async () => {
    const home = await stripeHome();
    const before = stripe.server.requests.length;
    const result = await runJson([...pay("amount_cents=15000", "payment_method=pm_card_visa"), "--yes"], { home, env });
    expect(result.code).toBe(3);
    expect(result.json.error.message).toMatch(/CRITICAL \(estimated \$150\.00\) and needs a TOTP code/);
    expect(result.json.risk).toBe("CRITICAL");
    expect(result.json.approval.twoFactor).toBe(true);
    expect(stripe.server.requests.length).toBe(before);
  });

  it("a dry run shows the exact request with the key redacted, and Stripe sees nothing", async () => {
    const home = await stripeHome();
    const requests = stripe.server.requests.length;
    const connections = stripe.server.connections;
    const result = await runJson([...pay("amount_cents=4200", "payment_method=pm_card_visa", "metadata.order=B-7"), "--dry-run"], { home, env });
    expect(result.code).toBe(0);
    expect(result.json.status).toBe("dry_run");
    expect(result.json.plan).toMatchObject({
      runtime: "http",
      method: "POST",
      url: `${stripe.url}/v1/payment_intents`,
      headers: {
        authorization: "[REDACTED]",
        "idempotency-key": result.json.executionId,
        "stripe-version": "2024-06-20",
        "content-type": "application/x-www-form-urlencoded",
      },
      body: {
        amount: 4200, currency: "usd", payment_method: "pm_card_visa", metadata: { order: "B-7" },
        payment_method_types: ["card"], confirm: true, off_session: true,
      },
    });
    expect(result.json).toMatchObject({ cost: { usd: 42 }, risk: "HIGH", approval: { required: true, twoFactor: false } });
    expect(result.stdout).not.toContain(stripe.apiKey);
    expect(stripe.server.requests.length).toBe(requests);
    expect(stripe.server.connections).toBe(connections);

    const human = await runCli([...pay("amount_cents=4200", "payment_method=pm_card_visa"), "--dry-run"], { home, env });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`POST ${stripe.url}/v1/payment_intents`);
    expect(human.stdout).toContain("authorization: [REDACTED]");
    expect(human.stdout).toContain("cost $42.00 (input.amount_cents × 0.01), risk HIGH, approval required");
    expect(human.stdout + human.stderr).not.toContain(stripe.apiKey);
    expect(stripe.server.requests.length).toBe(requests);
  });
});

describe("stripe.refund and stripe.get_payment", () => {
  async function paid(home: string, cents: number): Promise<string> {
    const result = await runJson([...pay(`amount_cents=${cents}`, "payment_method=pm_card_visa"), "--yes"], { home, env });
    expect(result.code).toBe(0);
    return result.json.output.id as string;
  }

  it("refunds part, then refuses a refund larger than what is left with Stripe's message (exit 1), then refunds the rest", async () => {
    const home = await stripeHome();
    const intent = await paid(home, 5000);
    const partial = await runJson(["run", "stripe.refund", "-p", `payment_intent=${intent}`, "-p", "amount_cents=1000", "-p", "reason=requested_by_customer", "--yes"], { home, env });
    expect(partial.code).toBe(0);
    expect(partial.json.output).toMatchObject({ object: "refund", amount: 1000, payment_intent: intent, status: "succeeded" });
    expect(decodedForm(stripe.server.requests.at(-1)!.body)).toBe(`payment_intent=${intent}&amount=1000&reason=requested_by_customer`);

    const tooMuch = await runJson(["run", "stripe.refund", "-p", `payment_intent=${intent}`, "-p", "amount_cents=6000", "--yes"], { home, env });
    expect(tooMuch.code).toBe(1);
    expect(tooMuch.json.error.message).toBe("HTTP 400: Refund amount ($60.00) is greater than unrefunded amount on charge ($40.00)");

    const rest = await runJson(["run", "stripe.refund", "-p", `payment_intent=${intent}`, "--yes"], { home, env });
    expect(rest.code).toBe(0);
    expect(rest.json.output.amount).toBe(4000);
    expect(stripe.charges.find((c) => c.paymentIntent === intent)!.amountRefunded).toBe(5000);
  });

  it.each(["pending", "requires_action", "canceled"] as const)("a refund Stripe answers %s is recorded as Stripe said it: exit 0, output.status", async (status) => {
    const home = await stripeHome();
    const intent = await paid(home, 1500);
    stripe.nextRefundStatus = status;
    const refund = await runJson(["run", "stripe.refund", "-p", `payment_intent=${intent}`, "--yes"], { home, env });
    expect(refund.code, refund.stderr).toBe(0);
    expect(refund.json).toMatchObject({ status: "succeeded", output: { object: "refund", amount: 1500, status } });
  });

  it("a refund Stripe answers failed fails the run with Stripe's failure_reason (exit 1), and a rollback through it leaves the payment as it was", async () => {
    const home = await stripeHome();
    const intent = await paid(home, 1600);
    stripe.nextRefundStatus = "failed";
    const refund = await runJson(["run", "stripe.refund", "-p", `payment_intent=${intent}`, "--yes"], { home, env });
    expect(refund.code).toBe(1);
    expect(refund.json).toMatchObject({ status: "failed", error: { message: "expired_or_canceled_card", category: "validation" }, output: { status: "failed" } });

    const payment = await runJson([...pay("amount_cents=1700", "payment_method=pm_card_visa"), "--yes"], { home, env });
    stripe.nextRefundStatus = "failed";
    const undo = await runJson(["rollback", payment.json.executionId, "--yes"], { home, env });
    expect(undo.code).toBe(1);
    expect((await runJson(["executions", "show", payment.json.executionId], { home })).json.status).toBe("succeeded");
  });

  it("a refund asks a human too, and costs nothing from the budget", async () => {
    const home = await stripeHome();
    const intent = await paid(home, 700);
    const before = stripe.server.requests.length;
    const asked = await runJson(["run", "stripe.refund", "-p", `payment_intent=${intent}`], { home, env });
    expect(asked.code).toBe(4);
    expect(asked.json.cost.usd).toBe(0);
    expect(stripe.server.requests.length).toBe(before);
  });

  it("get_payment reads a PaymentIntent back without approval", async () => {
    const home = await stripeHome();
    const intent = await paid(home, 1200);
    const result = await runJson(["run", "stripe.get_payment", "-p", `id=${intent}`], { home, env });
    expect(result.code).toBe(0);
    expect(result.json.output).toMatchObject({ id: intent, status: "succeeded", amount: 1200 });
    expect(stripe.server.requests.at(-1)!.method).toBe("GET");
    const missing = await runJson(["run", "stripe.get_payment", "-p", "id=pi_doesnotexist"], { home, env });
    expect(missing.code).toBe(1);
    expect(missing.json.error.message).toBe("HTTP 400: No such payment_intent: 'pi_doesnotexist'");
  });

  it("toolctl rollback refunds a payment through the declared rollback ({{ output.id }} → payment_intent)", async () => {
    const home = await stripeHome();
    const payment = await runJson([...pay("amount_cents=3300", "payment_method=pm_card_visa"), "--yes"], { home, env });
    expect(payment.code).toBe(0);
    const intent = payment.json.output.id as string;
    const undo = await runJson(["rollback", payment.json.executionId, "--yes"], { home, env });
    expect(undo.code).toBe(0);
    expect(undo.json).toMatchObject({ tool: "stripe", action: "refund", status: "succeeded", output: { payment_intent: intent, amount: 3300 } });
    const refund = stripe.server.requests.at(-1)!;
    expect(decodedForm(refund.body)).toBe(`payment_intent=${intent}`);
    expect(refund.headers["idempotency-key"]).toBe(undo.json.executionId);
    expect(stripe.charges.find((c) => c.paymentIntent === intent)!.amountRefunded).toBe(3300);
  });
});

describe("undoing a payment that did not succeed: a cancel, not a refund", () => {
  it("toolctl rollback of a payment Stripe left processing cancels the PaymentIntent; nothing is refunded", async () => {
    const home = await stripeHome();
    stripe.nextPaymentStatus = "processing";
    const payment = await runJson([...pay("amount_cents=2100", "payment_method=pm_card_visa"), "--yes"], { home, env });
    expect(payment.code, payment.stderr).toBe(0);
    expect(payment.json.output.status).toBe("processing");
    expect(payment.json.undo).toBe("refund when output.status is succeeded, else cancel_payment (automatic if the action acts but fails)");
    const intent = payment.json.output.id as string;
    const refunds = stripe.server.requestsTo("/v1/refunds").length;

    const preview = await runJson(["rollback", payment.json.executionId, "--dry-run"], { home, env });
    expect(preview.code, preview.stderr).toBe(0);
    expect(preview.json).toMatchObject({ action: "cancel_payment", plan: { method: "POST", url: `${stripe.url}/v1/payment_intents/${intent}/cancel` } });

    const undo = await runJson(["rollback", payment.json.executionId, "--yes"], { home, env });
    expect(undo.code, undo.stderr).toBe(0);
    expect(undo.json).toMatchObject({ tool: "stripe", action: "cancel_payment", status: "succeeded", output: { id: intent, object: "payment_intent", status: "canceled" } });
    expect(stripe.server.requests.at(-1)).toMatchObject({ method: "POST", url: `/v1/payment_intents/${intent}/cancel` });
    expect(stripe.server.requests.at(-1)!.headers["idempotency-key"]).toBe(undo.json.executionId);
    expect(stripe.server.requestsTo("/v1/refunds")).toHaveLength(refunds);
    expect(stripe.paymentIntents.get(intent)!.status).toBe("canceled");
    expect((await runJson(["executions", "show", payment.json.executionId], { home })).json.status).toBe("rolled_back");
  });

  it("a payment answered requires_action (not a result the manifest accepts) is canceled by the automatic rollback, not refunded", async () => {
    const home = await stripeHome();
    stripe.nextPaymentStatus = "requires_action";
    const refunds = stripe.server.requestsTo("/v1/refunds").length;
    const result = await runJson([...pay("amount_cents=2200", "payment_method=pm_card_visa"), "--yes"], { home, env });
    expect(result.code).toBe(1);
    expect(result.json).toMatchObject({ status: "rolled_back", rollback: { status: "succeeded" } });
    expect(result.json.error.message).toMatch(/it was rolled back automatically \(stripe\.cancel_payment, ex_\w+\)$/);
    const intent = [...stripe.paymentIntents.values()].find((pi) => pi.amount === 2200)!;
    expect(intent.status).toBe("canceled");
    expect(stripe.server.requestsTo("/v1/refunds")).toHaveLength(refunds);
  });

  it("cancel_payment on a payment that succeeded is Stripe's 400: it must be refunded instead", async () => {
    const home = await stripeHome();
    const payment = await runJson([...pay("amount_cents=2300", "payment_method=pm_card_visa"), "--yes"], { home, env });
    const result = await runJson(["run", "stripe.cancel_payment", "-p", `id=${payment.json.output.id}`, "--yes"], { home, env });
    expect(result.code).toBe(1);
    expect(result.json.error.message).toMatch(/^HTTP 400: You cannot cancel this PaymentIntent because it has a status of succeeded\./);
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
    const home = await stripeHome();
    const charges = stripe.charges.length;
    const requests = stripe.server.requests.length;
    const replays = stripe.replays;
    stripe.dropAfterCharge = 1;
    const result = await runJson([...pay("amount_cents=1999", "payment_method=pm_card_visa"), "--yes"], { home, env });
    stripe.dropAfterCharge = 0;
    expect(result.code, result.stderr).toBe(0);
    expect(stripe.charges.length).toBe(charges + 1);
    const attempts = stripe.server.requests.slice(requests);
    expect(attempts).toHaveLength(2);
    expect(new Set(attempts.map((r) => r.headers["idempotency-key"]))).toEqual(new Set([result.json.executionId]));
    expect(stripe.replays).toBe(replays + 1);
    expect(result.json.output.id).toBe(stripe.charges.at(-1)!.paymentIntent);
    const shown = await runJson(["executions", "show", result.json.executionId], { home });
    expect(shown.json.plan.result).toMatchObject({ attempts: 2 });
  });
});
