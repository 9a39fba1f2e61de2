/**
 * A fake Stripe API on 127.0.0.1 that speaks Stripe's wire format: form-encoded bodies in bracket notation
 * (`metadata[order]=A-1`, `payment_method_types[0]=card`), Bearer secret keys, JSON objects and Stripe's error
 * shape (`{"error": {"type", "code", "decline_code", "message", "param"}}`) with its HTTP statuses.
 *
 * - Test mode only: the one configured `sk_test_` key works; any other key, and every live key, is refused (401).
 * - Idempotency-Key exactly as Stripe does it: keys are per account; the first request with a key that began
 *   executing (a success, or a card error) has its response saved; the same key with the same endpoint and
 *   parameters replays that response with `Idempotent-Replayed: true`; the same key with anything different is
 *   `400 idempotency_error`. Requests that fail validation (400) or authentication (401) save nothing.
 * - PaymentIntents (`POST /v1/payment_intents`, `GET /v1/payment_intents/:id`) with Stripe's test payment
 *   methods: `pm_card_visa` succeeds, `pm_card_chargeDeclined` is declined (402 card_declined, generic_decline),
 *   `pm_card_chargeDeclinedInsufficientFunds` too (insufficient_funds); anything else is `No such PaymentMethod`.
 * - `POST /v1/payment_intents/:id/cancel` (optional cancellation_reason) for a PaymentIntent in a status Stripe
 *   cancels (requires_payment_method, requires_capture, requires_confirmation, requires_action, processing);
 *   any other is `400 payment_intent_unexpected_state`. `nextPaymentStatus` makes the next payment stop at
 *   `processing` or `requires_action` (200, nothing charged).
 * - Refunds (`POST /v1/refunds` with payment_intent, optional amount), checked against what was charged;
 *   `nextRefundStatus` makes the next one come back `pending`, `requires_action`, `failed` or `canceled`.
 * - `charges` lists the charges actually made (money moved), `dropAfterCharge` makes the next N charges
 *   succeed and then destroys the connection without answering (for tests of retries and unknown outcomes).
 */
import type http from "node:http";
import { FakeProvider, randomId, sendJson, type SeenRequest } from "./server.js";

type Params = Record<string, unknown>;

export interface StripeCharge {
  id: string;
  paymentIntent: string;
  amount: number;
  currency: string;
  amountRefunded: number;
}

interface StoredResponse {
  fingerprint: string;
  status: number;
  body: unknown;
  requestId: string;
}

interface PaymentIntent {
  id: string;
  object: "payment_intent";
  amount: number;
  amount_received: number;
  currency: string;
  customer: string | null;
  description: string | null;
  metadata: Record<string, string>;
  payment_method: string | null;
  payment_method_types: string[];
  status: string;
  latest_charge: string | null;
  last_payment_error: unknown;
  client_secret: string;
  capture_method: "automatic";
  confirmation_method: "automatic";
  created: number;
  livemode: false;
}

const PAYMENT_INTENT_PARAMS = new Set([
  "amount",
  "currency",
  "customer",
  "payment_method",
  "payment_method_types",
  "confirm",
  "off_session",
  "description",
  "metadata",
  "receipt_email",
  "statement_descriptor",
  "statement_descriptor_suffix",
  "capture_method",
  "expand",
]);
const REFUND_PARAMS = new Set(["payment_intent", "charge", "amount", "reason", "metadata", "expand"]);
const CANCEL_PARAMS = new Set(["cancellation_reason", "expand"]);
const CANCELABLE = new Set(["requires_payment_method", "requires_capture", "requires_confirmation", "requires_action", "processing"]);
const CURRENCIES = new Set(["usd", "eur", "gbp", "cad", "aud", "jpy"]);
const TEST_CARDS: Record<string, { brand: string; last4: string; decline?: { code: string; decline_code: string; message: string } }> = {
  pm_card_visa: { brand: "visa", last4: "4242" },
  pm_card_mastercard: { brand: "mastercard", last4: "4444" },
  pm_card_chargeDeclined: {
    brand: "visa",
    last4: "0002",
    decline: { code: "card_declined", decline_code: "generic_decline", message: "Your card was declined." },
  },
  pm_card_chargeDeclinedInsufficientFunds: {
    brand: "visa",
    last4: "9995",
    decline: { code: "card_declined", decline_code: "insufficient_funds", message: "Your card has insufficient funds." },
  },
};

/** `a[b][0]=c` pairs → nested objects and arrays, as Stripe reads them. */
export function parseBracketForm(body: string): Params {
  const root: Params = {};
  for (const [rawKey, value] of new URLSearchParams(body)) {
    const parts = rawKey.replace(/\]/g, "").split("[");
    let node: Record<string, unknown> | unknown[] = root;
    parts.forEach((part, index) => {
      const last = index === parts.length - 1;
      const key = part === "" && Array.isArray(node) ? String(node.length) : part;
      const nextIsIndex = !last && /^\d*$/.test(parts[index + 1]!);
      const container = node as Record<string, unknown>;
      if (last) container[key] = value;
      else {
        container[key] ??= nextIsIndex ? [] : {};
        // `a=1&a[b]=2`: one name used both as a value and as a hash, which Stripe refuses.
        if (typeof container[key] !== "object") throw invalid("Invalid hash", parts[0]);
        node = container[key] as Record<string, unknown>;
      }
    });
  }
  return root;
}

/** The same parameters, whatever their order: what Stripe compares when a key is reused. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Params)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

class StripeError {
  constructor(
    readonly status: number,
    readonly error: Record<string, unknown>,
    readonly saved = false,
  ) {}
}

const invalid = (message: string, param?: string, code?: string) =>
  new StripeError(400, {
    type: "invalid_request_error",
    message,
    ...(param ? { param } : {}),
    ...(code ? { code, doc_url: `https://stripe.com/docs/error-codes/${code.replace(/_/g, "-")}` } : {}),
  });

export class FakeStripe extends FakeProvider {
  readonly paymentIntents = new Map<string, PaymentIntent>();
  readonly charges: StripeCharge[] = [];
  readonly refunds: Array<{ id: string; charge: string; paymentIntent: string; amount: number }> = [];
  /** Declined attempts (no money moved). */
  declines = 0;
  /** The next N successful charges happen, and then the connection is destroyed before any answer. */
  dropAfterCharge = 0;
  /** Responses sent as replays of a saved idempotent result. */
  replays = 0;
  /**
   * The next refund is created with this status instead of `succeeded`, as Stripe answers for payment methods
   * whose refunds settle later (`pending`), need the customer (`requires_action`), or do not go through
   * (`failed`, with a `failure_reason`; `canceled`). Cleared once used.
   */
  nextRefundStatus: "pending" | "requires_action" | "failed" | "canceled" | undefined;
  /**
   * The next confirmed PaymentIntent that would succeed stays `processing` (as one paid by a method that
   * settles later) or stops at `requires_action` (as one that needs the customer), answered 200 either way;
   * nothing is charged yet. Cleared once used.
   */
  nextPaymentStatus: "processing" | "requires_action" | undefined;
  private readonly idempotent = new Map<string, StoredResponse>();

  constructor(readonly apiKey = `sk_test_${randomId(24)}`) {
    super();
    if (!apiKey.startsWith("sk_test_")) throw new Error("the fake Stripe runs in test mode only: give it an sk_test_ key");
  }

  /** Money actually taken: charged minus refunded, in cents. */
  get netCents(): number {
    return this.charges.reduce((sum, c) => sum + c.amount - c.amountRefunded, 0);
  }

  protected handle(req: SeenRequest, res: http.ServerResponse): void | "drop" {
    const requestId = `req_${randomId(14)}`;
    const headers: Record<string, string> = { "request-id": requestId, "stripe-version": String(req.headers["stripe-version"] ?? "2024-06-20") };
    const answer = (status: number, body: unknown, extra: Record<string, string> = {}) => sendJson(res, status, body, { ...headers, ...extra });

    const authError = this.authenticate(req.headers.authorization);
    if (authError) return answer(authError.status, { error: authError.error });

    const url = new URL(req.url, "http://x");
    const key = req.headers["idempotency-key"];
    const idempotencyKey = req.method === "POST" && typeof key === "string" ? key : undefined;
    if (idempotencyKey !== undefined) headers["idempotency-key"] = idempotencyKey;

    let params: Params;
    if (req.method === "POST") {
      const type = String(req.headers["content-type"] ?? "");
      if (req.body !== "" && !type.startsWith("application/x-www-form-urlencoded")) {
        return answer(400, {
          error: {
            type: "invalid_request_error",
            message: `Invalid request: unsupported Content-Type ${type}. If error persists and you need assistance, please contact support@stripe.com.`,
          },
        });
      }
    }
    try {
      params = parseBracketForm(req.method === "POST" ? req.body : url.search.slice(1));
    } catch (error) {
      if (!(error instanceof StripeError)) throw error;
      return answer(error.status, { error: error.error });
    }

    const fingerprint = `${req.method} ${url.pathname} ${canonical(params)}`;
    if (idempotencyKey !== undefined) {
      const stored = this.idempotent.get(`${this.apiKey} ${idempotencyKey}`);
      if (stored && stored.fingerprint !== fingerprint) {
        return answer(400, {
          error: {
            type: "idempotency_error",
            message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`,
          },
        });
      }
      if (stored) {
        this.replays++;
        return answer(stored.status, stored.body, { "idempotent-replayed": "true", "original-request": stored.requestId });
      }
    }

    let status = 200;
    let body: unknown;
    let charged = false;
    try {
      if (req.method === "POST" && url.pathname === "/v1/payment_intents") {
        const before = this.charges.length;
        body = this.createPaymentIntent(params);
        charged = this.charges.length > before;
      } else if (req.method === "GET" && url.pathname.startsWith("/v1/payment_intents/")) {
        const id = decodeURIComponent(url.pathname.slice("/v1/payment_intents/".length));
        const intent = this.paymentIntents.get(id);
        if (!intent) throw invalid(`No such payment_intent: '${id}'`, "intent", "resource_missing");
        body = intent;
      } else if (req.method === "POST" && /^\/v1\/payment_intents\/[^/]+\/cancel$/.test(url.pathname)) {
        body = this.cancelPaymentIntent(decodeURIComponent(url.pathname.split("/")[3]!), params);
      } else if (req.method === "POST" && url.pathname === "/v1/refunds") {
        body = this.createRefund(params);
      } else {
        throw new StripeError(404, {
          type: "invalid_request_error",
          message: `Unrecognized request URL (${req.method}: ${url.pathname}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
        });
      }
    } catch (error) {
      if (!(error instanceof StripeError)) throw error;
      status = error.status;
      body = { error: error.error };
      if (error.saved && idempotencyKey !== undefined) this.idempotent.set(`${this.apiKey} ${idempotencyKey}`, { fingerprint, status, body, requestId });
      return answer(status, body);
    }
    if (idempotencyKey !== undefined) this.idempotent.set(`${this.apiKey} ${idempotencyKey}`, { fingerprint, status, body, requestId });
    if (charged && this.dropAfterCharge > 0) {
      this.dropAfterCharge--;
      return "drop";
    }
    return answer(status, body);
  }

  private authenticate(header: string | undefined): StripeError | undefined {
    const match = /^Bearer (\S+)$/.exec(header ?? "");
    if (!match) {
      return new StripeError(401, {
        type: "invalid_request_error",
        message:
          "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
      });
    }
    const key = match[1]!;
    const masked = `${key.slice(0, key.indexOf("_", 3) + 1)}${"*".repeat(Math.max(0, key.length - key.indexOf("_", 3) - 5))}${key.slice(-4)}`;
    if (!key.startsWith("sk_test_")) {
      return new StripeError(401, {
        type: "invalid_request_error",
        message: `Invalid API Key provided: ${masked}. This is a test-mode server: only sk_test_ keys are accepted.`,
      });
    }
    if (key !== this.apiKey) return new StripeError(401, { type: "invalid_request_error", message: `Invalid API Key provided: ${masked}` });
    return undefined;
  }

  private checkUnknown(params: Params, allowed: Set<string>): void {
    for (const name of Object.keys(params)) if (!allowed.has(name)) throw invalid(`Received unknown parameter: ${name}`, name, "parameter_unknown");
  }

  /**
   * Metadata as Stripe takes it: at most 50 keys of at most 40 characters, string values of at most 500. A key
   * with `[` or `]` cannot be sent: `metadata[a[1]]=x` reads as a nested value, which Stripe refuses.
   */
  private checkMetadata(raw: unknown): Record<string, string> {
    if (raw === undefined || raw === "") return {};
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw invalid("Invalid object", "metadata");
    const entries = Object.entries(raw as Params);
    if (entries.length > 50) throw invalid("Invalid metadata: metadata cannot have more than 50 keys", "metadata");
    for (const [key, value] of entries) {
      if (typeof value !== "string") throw invalid(`Invalid value type: ${JSON.stringify(Object.values(value as object))} must be a string`, "metadata");
      if (key.length > 40) throw invalid(`Invalid metadata: metadata key ${key} is longer than 40 characters`, "metadata");
      if (value.length > 500) throw invalid(`Invalid metadata: the value of ${key} is longer than 500 characters`, "metadata");
    }
    return raw as Record<string, string>;
  }

  private createPaymentIntent(params: Params): PaymentIntent {
    this.checkUnknown(params, PAYMENT_INTENT_PARAMS);
    if (params.amount === undefined) throw invalid("Missing required param: amount.", "amount", "parameter_missing");
    if (!/^\d+$/.test(String(params.amount))) throw invalid(`Invalid integer: ${String(params.amount)}`, "amount");
    const amount = Number(params.amount);
    if (params.currency === undefined) throw invalid("Missing required param: currency.", "currency", "parameter_missing");
    const currency = String(params.currency);
    if (!CURRENCIES.has(currency))
      throw invalid(`Invalid currency: ${currency}. Stripe currently supports these currencies: ${[...CURRENCIES].join(", ")}`, "currency");
    if (amount < 50 && currency === "usd") throw invalid("Amount must be at least $0.50 usd", "amount", "amount_too_small");
    if (amount > 99_999_999) throw invalid("Amount must be no more than $999,999.99", "amount", "amount_too_large");
    for (const flag of ["confirm", "off_session"]) {
      if (params[flag] !== undefined && params[flag] !== "true" && params[flag] !== "false") throw invalid(`Invalid boolean: ${String(params[flag])}`, flag);
    }
    const customer = params.customer === undefined ? null : String(params.customer);
    if (customer !== null && !/^cus_[A-Za-z0-9]+$/.test(customer)) throw invalid(`No such customer: '${customer}'`, "customer", "resource_missing");
    const paymentMethod = params.payment_method === undefined ? null : String(params.payment_method);
    const card = paymentMethod === null ? undefined : TEST_CARDS[paymentMethod];
    if (paymentMethod !== null && !card) throw invalid(`No such PaymentMethod: '${paymentMethod}'`, "payment_method", "resource_missing");
    const confirm = params.confirm === "true";
    if (confirm && paymentMethod === null) {
      throw invalid(
        "You cannot confirm this PaymentIntent because it's missing a payment method. You can either update the PaymentIntent with a payment method and then confirm it again, or confirm it again directly with a payment method.",
        undefined,
        "payment_intent_unexpected_state",
      );
    }
    const metadata = this.checkMetadata(params.metadata);

    const id = `pi_${randomId(24)}`;
    const intent: PaymentIntent = {
      id,
      object: "payment_intent",
      amount,
      amount_received: 0,
      currency,
      customer,
      description: params.description === undefined ? null : String(params.description),
      metadata,
      payment_method: paymentMethod,
      payment_method_types: Array.isArray(params.payment_method_types) ? (params.payment_method_types as string[]) : ["card"],
      status: paymentMethod === null ? "requires_payment_method" : "requires_confirmation",
      latest_charge: null,
      last_payment_error: null,
      client_secret: `${id}_secret_${randomId(25)}`,
      capture_method: "automatic",
      confirmation_method: "automatic",
      created: Math.floor(Date.now() / 1000),
      livemode: false,
    };
    this.paymentIntents.set(id, intent);
    if (!confirm) return intent;

    const chargeId = `ch_${randomId(24)}`;
    intent.latest_charge = chargeId;
    if (card!.decline) {
      this.declines++;
      const paymentMethodObject = { id: paymentMethod, object: "payment_method", type: "card", card: { brand: card!.brand, last4: card!.last4 } };
      intent.status = "requires_payment_method";
      intent.last_payment_error = { type: "card_error", charge: chargeId, ...card!.decline, payment_method: paymentMethodObject };
      // A decline began executing: Stripe saves it under the idempotency key like a success.
      throw new StripeError(
        402,
        {
          type: "card_error",
          charge: chargeId,
          ...card!.decline,
          doc_url: "https://stripe.com/docs/error-codes/card-declined",
          payment_intent: intent,
          payment_method: paymentMethodObject,
          request_log_url: `https://dashboard.stripe.com/test/logs/req_${randomId(14)}`,
        },
        true,
      );
    }
    const held = this.nextPaymentStatus;
    this.nextPaymentStatus = undefined;
    if (held === "requires_action") {
      intent.latest_charge = null;
      Object.assign(intent, {
        next_action: { type: "redirect_to_url", redirect_to_url: { url: `https://hooks.stripe.com/3d_secure_2/hosted/${id}`, return_url: null } },
      });
    }
    intent.status = held ?? "succeeded";
    if (held !== undefined) return intent;
    intent.amount_received = amount;
    this.charges.push({ id: chargeId, paymentIntent: id, amount, currency, amountRefunded: 0 });
    return intent;
  }

  /** Stripe cancels only a PaymentIntent that has not succeeded (or been canceled): nothing more can be charged. */
  private cancelPaymentIntent(id: string, params: Params): PaymentIntent {
    this.checkUnknown(params, CANCEL_PARAMS);
    const intent = this.paymentIntents.get(id);
    if (!intent) throw invalid(`No such payment_intent: '${id}'`, "intent", "resource_missing");
    const reason = params.cancellation_reason;
    if (reason !== undefined && !["duplicate", "fraudulent", "requested_by_customer", "abandoned"].includes(String(reason))) {
      throw invalid("Invalid cancellation_reason: must be one of duplicate, fraudulent, requested_by_customer, or abandoned", "cancellation_reason");
    }
    if (!CANCELABLE.has(intent.status)) {
      throw invalid(
        `You cannot cancel this PaymentIntent because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be canceled: ${[...CANCELABLE].join(", ")}.`,
        undefined,
        "payment_intent_unexpected_state",
      );
    }
    intent.status = "canceled";
    Object.assign(intent, { canceled_at: Math.floor(Date.now() / 1000), cancellation_reason: reason ?? null, next_action: null });
    return intent;
  }

  private createRefund(params: Params): Record<string, unknown> {
    this.checkUnknown(params, REFUND_PARAMS);
    if (params.payment_intent === undefined && params.charge === undefined) {
      throw invalid("One of the following params should be provided for this request: payment_intent or charge.", undefined, "parameter_missing");
    }
    let charge: StripeCharge | undefined;
    if (params.payment_intent !== undefined) {
      const id = String(params.payment_intent);
      const intent = this.paymentIntents.get(id);
      if (!intent) throw invalid(`No such payment_intent: '${id}'`, "payment_intent", "resource_missing");
      charge = this.charges.find((c) => c.paymentIntent === id);
      if (!charge) throw invalid(`This PaymentIntent (${id}) does not have a successful charge to refund.`, "payment_intent", "charge_not_refundable");
    } else {
      const id = String(params.charge);
      charge = this.charges.find((c) => c.id === id);
      if (!charge) throw invalid(`No such charge: '${id}'`, "charge", "resource_missing");
    }
    const remaining = charge.amount - charge.amountRefunded;
    if (remaining === 0) throw invalid(`Charge ${charge.id} has already been refunded.`, undefined, "charge_already_refunded");
    let amount = remaining;
    if (params.amount !== undefined) {
      if (!/^\d+$/.test(String(params.amount))) throw invalid(`Invalid integer: ${String(params.amount)}`, "amount");
      amount = Number(params.amount);
      if (amount > remaining) {
        const dollars = (cents: number) => `$${(cents / 100).toFixed(2)}`;
        throw invalid(`Refund amount (${dollars(amount)}) is greater than unrefunded amount on charge (${dollars(remaining)})`, "amount");
      }
    }
    const reason = params.reason === undefined ? null : String(params.reason);
    if (reason !== null && !["duplicate", "fraudulent", "requested_by_customer"].includes(reason)) {
      throw invalid(`Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer`, "reason");
    }
    const status = this.nextRefundStatus ?? "succeeded";
    this.nextRefundStatus = undefined;
    // A refund that failed or was canceled gives nothing back; one under way holds its amount already.
    if (status !== "failed" && status !== "canceled") charge.amountRefunded += amount;
    const refund = {
      id: `re_${randomId(24)}`,
      object: "refund",
      amount,
      charge: charge.id,
      currency: charge.currency,
      payment_intent: charge.paymentIntent,
      reason,
      status,
      metadata: params.metadata ?? {},
      created: Math.floor(Date.now() / 1000),
      ...(status === "failed" ? { failure_reason: "expired_or_canceled_card" } : {}),
      ...(status === "requires_action"
        ? { next_action: { type: "display_details", display_details: { expires_at: Math.floor(Date.now() / 1000) + 86_400 } } }
        : {}),
    };
    this.refunds.push({ id: refund.id, charge: charge.id, paymentIntent: charge.paymentIntent, amount });
    return refund;
  }
}
