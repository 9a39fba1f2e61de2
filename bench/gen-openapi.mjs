// A synthetic OpenAPI 3.0 spec the size and shape of Stripe's: ~450 operations on ~90 resources, several MB,
// every resource a component schema that others refer to (expandable `anyOf: [id, $ref]` fields, lists of
// $refs, circular chains such as customer → subscription → invoice → customer), form bodies with deepObject
// encoding, nullable fields and long descriptions. Deterministic: the same options give the same bytes.
// Usage: node bench/gen-openapi.mjs [out.json] [--resources N]   (stdout without a file)
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const WORDS = (
  "the a an of to for with on by from this that object account customer charge invoice payment method intent " +
  "subscription price product balance transfer payout refund dispute session amount currency status created " +
  "livemode metadata description identifier unique returned when list contains used attached value set can be " +
  "will only if not is are has have more details see documentation field request response api key"
).split(" ");
const NOUNS = [
  "account",
  "application_fee",
  "balance_transaction",
  "bank_account",
  "capability",
  "card",
  "cash_balance",
  "charge",
  "checkout_session",
  "country_spec",
  "coupon",
  "credit_note",
  "customer",
  "customer_balance_transaction",
  "discount",
  "dispute",
  "event",
  "exchange_rate",
  "file",
  "file_link",
  "invoice",
  "invoice_item",
  "issuing_authorization",
  "issuing_card",
  "issuing_cardholder",
  "issuing_dispute",
  "issuing_transaction",
  "line_item",
  "login_link",
  "mandate",
  "payment_intent",
  "payment_link",
  "payment_method",
  "payout",
  "person",
  "plan",
  "price",
  "product",
  "promotion_code",
  "quote",
  "radar_review",
  "refund",
  "reporting_report_run",
  "setup_attempt",
  "setup_intent",
  "shipping_rate",
  "sigma_query_run",
  "source",
  "subscription",
  "subscription_item",
  "subscription_schedule",
  "tax_code",
  "tax_id",
  "tax_rate",
  "terminal_configuration",
  "terminal_location",
  "terminal_reader",
  "test_clock",
  "topup",
  "transfer",
  "transfer_reversal",
  "treasury_credit_reversal",
  "treasury_debit_reversal",
  "treasury_financial_account",
  "treasury_inbound_transfer",
  "treasury_outbound_payment",
  "treasury_outbound_transfer",
  "treasury_received_credit",
  "treasury_received_debit",
  "treasury_transaction",
  "usage_record",
  "webhook_endpoint",
  "apple_pay_domain",
  "climate_order",
  "climate_product",
  "climate_supplier",
  "billing_meter",
  "billing_alert",
  "entitlement_feature",
  "forwarding_request",
  "identity_verification_report",
  "identity_verification_session",
  "financial_connections_account",
  "financial_connections_session",
  "tax_calculation",
  "tax_transaction",
  "tax_registration",
  "payment_method_domain",
  "payment_method_configuration",
  "customer_session",
  "billing_portal_session",
];

/** A small seeded generator (mulberry32), so output does not depend on Math.random. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function generateStripeLikeSpec({ resources = 90, seed = 42 } = {}) {
  const rand = random(seed);
  const pick = (list) => list[Math.floor(rand() * list.length)];
  const sentence = (min, max) => {
    const n = min + Math.floor(rand() * (max - min));
    const words = Array.from({ length: n }, () => pick(WORDS));
    return `${words.join(" ")}.`.replace(/^./, (c) => c.toUpperCase());
  };
  const names = Array.from({ length: resources }, (_, i) => NOUNS[i % NOUNS.length] + (i >= NOUNS.length ? `_v${Math.floor(i / NOUNS.length) + 1}` : ""));
  const schemas = {};
  const ref = (name) => ({ $ref: `#/components/schemas/${name}` });
  const expandable = (name) => ({
    anyOf: [{ maxLength: 5000, type: "string" }, ref(name)],
    description: sentence(8, 30),
    "x-expansionResources": { oneOf: [ref(name)] },
  });

  schemas.error = { type: "object", required: ["error"], properties: { error: ref("api_errors") } };
  schemas.api_errors = {
    type: "object",
    properties: {
      code: { type: "string", maxLength: 5000, description: sentence(10, 30) },
      message: { type: "string", maxLength: 40000, description: sentence(10, 30) },
      param: { type: "string", maxLength: 5000 },
      type: { type: "string", enum: ["api_error", "card_error", "idempotency_error", "invalid_request_error"] },
    },
    required: ["type"],
  };
  schemas.metadata = { type: "object", additionalProperties: { type: "string", maxLength: 500 }, description: sentence(10, 20) };
  schemas.address = {
    type: "object",
    properties: Object.fromEntries(
      ["city", "country", "line1", "line2", "postal_code", "state"].map((k) => [
        k,
        { type: "string", maxLength: 5000, nullable: true, description: sentence(5, 15) },
      ]),
    ),
    title: "Address",
  };

  names.forEach((name, i) => {
    // Circular: each resource refers to the next two, and the last ones wrap around to the first.
    const next = names[(i + 1) % names.length];
    const other = names[(i + 7) % names.length];
    const properties = {
      id: { type: "string", maxLength: 5000, description: "Unique identifier for the object." },
      object: { type: "string", enum: [name], description: "String representing the object's type." },
      created: { type: "integer", format: "unix-time", description: sentence(8, 20) },
      livemode: { type: "boolean", description: sentence(8, 20) },
      metadata: { allOf: [ref("metadata")], nullable: true },
      [next]: expandable(next),
      [`${other}_list`]: { type: "array", items: ref(other), description: sentence(10, 30) },
      address: { anyOf: [ref("address")], nullable: true, description: sentence(5, 15) },
      status: { type: "string", enum: ["active", "canceled", "incomplete", "past_due", "trialing"], "x-stripeBypassValidation": true },
      amount: { type: "integer", minimum: 0, description: sentence(10, 40) },
      currency: { type: "string", format: "currency", description: sentence(10, 30) },
      readonly_total: { type: "integer", readOnly: true, description: sentence(5, 10) },
    };
    for (let k = 0; k < 48; k++) {
      const field = `${pick(WORDS)}_${pick(WORDS)}_${k}`;
      const kind = k % 5;
      properties[field] =
        kind === 0
          ? { type: "string", maxLength: 5000, nullable: true, description: sentence(15, 60) }
          : kind === 1
            ? { type: "integer", nullable: true, description: sentence(15, 60) }
            : kind === 2
              ? {
                  type: "object",
                  properties: { enabled: { type: "boolean" }, reason: { type: "string", nullable: true, enum: ["a", "b", "c"] } },
                  required: ["enabled"],
                  description: sentence(15, 60),
                  title: `${name}_${field}`,
                }
              : kind === 3
                ? { type: "array", items: { type: "string", maxLength: 5000 }, description: sentence(15, 60) }
                : { type: "number", exclusiveMinimum: true, minimum: 0, description: sentence(15, 60), example: 12.5 };
    }
    schemas[name] = {
      type: "object",
      title: name,
      description: sentence(60, 160),
      properties,
      required: ["id", "object", "created", "livemode", "readonly_total"],
      "x-resourceId": name,
      "x-expandableFields": [next],
      discriminator: { propertyName: "object" },
    };
    schemas[`${name}_list`] = {
      type: "object",
      title: `${name}List`,
      properties: {
        data: { type: "array", items: ref(name) },
        has_more: { type: "boolean" },
        object: { type: "string", enum: ["list"] },
        url: { type: "string", maxLength: 5000, pattern: "^/v1/" },
      },
      required: ["data", "has_more", "object", "url"],
    };
  });

  const errorResponses = { default: { description: "Error response.", content: { "application/json": { schema: ref("error") } } } };
  const ok = (schema) => ({ 200: { description: "Successful response.", content: { "application/json": { schema } } }, ...errorResponses });
  const expandParam = {
    name: "expand",
    in: "query",
    description: "Specifies which fields in the response should be expanded.",
    explode: true,
    style: "deepObject",
    required: false,
    schema: { type: "array", items: { type: "string", maxLength: 5000 } },
  };
  const idParam = (name) => ({ name, in: "path", required: true, style: "simple", schema: { type: "string", maxLength: 5000 } });
  const formBody = (name, required) => ({
    required,
    content: {
      "application/x-www-form-urlencoded": {
        encoding: {
          expand: { explode: true, style: "deepObject" },
          metadata: { explode: true, style: "deepObject" },
          address: { explode: true, style: "deepObject" },
        },
        schema: {
          type: "object",
          additionalProperties: false,
          properties: {
            amount: { type: "integer", description: sentence(10, 30) },
            description: { type: "string", maxLength: 5000, description: sentence(10, 30) },
            expand: { type: "array", items: { type: "string", maxLength: 5000 } },
            metadata: {
              anyOf: [
                { type: "object", additionalProperties: { type: "string" } },
                { type: "string", enum: [""] },
              ],
            },
            address: { type: "object", properties: { city: { type: "string" }, line1: { type: "string" } }, title: "optional_fields_address" },
            ...Object.fromEntries(
              Array.from({ length: 24 }, (_, k) => [
                `${pick(WORDS)}_${k}`,
                k % 3 === 0
                  ? { type: "boolean", description: sentence(15, 50) }
                  : k % 3 === 1
                    ? { type: "string", maxLength: 5000, description: sentence(15, 50) }
                    : {
                        type: "object",
                        properties: { enabled: { type: "boolean" }, value: { type: "integer" } },
                        required: ["enabled"],
                        title: `param_${k}`,
                        description: sentence(10, 30),
                      },
              ]),
            ),
          },
          ...(required ? { required: ["amount"] } : {}),
        },
      },
    },
  });

  const paths = {};
  for (const name of names) {
    const base = `/v1/${name}s`;
    paths[base] = {
      get: {
        operationId: `Get${name}s`,
        summary: `List all ${name}s`,
        description: sentence(20, 60),
        parameters: [
          { name: "limit", in: "query", required: false, schema: { type: "integer" }, description: sentence(10, 20) },
          { name: "starting_after", in: "query", required: false, schema: { type: "string", maxLength: 5000 } },
          {
            name: "created",
            in: "query",
            explode: true,
            style: "deepObject",
            schema: { anyOf: [{ type: "object", properties: { gt: { type: "integer" }, lt: { type: "integer" } } }, { type: "integer" }] },
          },
          expandParam,
        ],
        requestBody: { required: false, content: { "application/x-www-form-urlencoded": { schema: { type: "object", properties: {} } } } },
        responses: ok(ref(`${name}_list`)),
      },
      post: {
        operationId: `Post${name}s`,
        summary: `Create a ${name}`,
        description: sentence(20, 60),
        requestBody: formBody(name, true),
        responses: ok(ref(name)),
      },
    };
    paths[`${base}/{id}`] = {
      get: { operationId: `Get${name}sId`, summary: `Retrieve a ${name}`, parameters: [idParam("id"), expandParam], responses: ok(ref(name)) },
      post: {
        operationId: `Post${name}sId`,
        summary: `Update a ${name}`,
        parameters: [idParam("id")],
        requestBody: formBody(name, false),
        responses: ok(ref(name)),
      },
      delete: {
        operationId: `Delete${name}sId`,
        summary: `Delete a ${name}`,
        parameters: [idParam("id")],
        responses: ok({ type: "object", properties: { id: { type: "string" }, deleted: { type: "boolean", enum: [true] } }, required: ["id", "deleted"] }),
      },
    };
  }

  return {
    openapi: "3.0.0",
    info: { title: "Stripe-like API (synthetic)", version: "2024-06-20", description: sentence(30, 60) },
    servers: [{ url: "https://api.stripe.example.com/" }],
    security: [{ basicAuth: [] }, { bearerAuth: [] }],
    components: {
      securitySchemes: {
        basicAuth: { type: "http", scheme: "basic", description: "Basic HTTP authentication." },
        bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "auth-scheme" },
      },
      schemas,
    },
    paths,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--resources");
  const resources = at >= 0 ? Number(args.splice(at, 2)[1]) : undefined;
  const text = JSON.stringify(generateStripeLikeSpec({ resources }), null, 2);
  if (args[0]) writeFileSync(args[0], text);
  else process.stdout.write(text);
}
