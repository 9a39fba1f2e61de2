/**
 * Cost estimates: SMS segments by the GSM 03.38 rules, per-unit prices, input scaling, quotes, and the
 * manifest errors (file:line) for cost declarations that cannot work.
 */
import { describe, expect, it } from "vitest";
import type { QuoteCostSpec } from "../src/domain/manifest.js";
import { ValidationError } from "../src/errors.js";
import { parseManifest } from "../src/manifest/load.js";
import { analyzeSms, costFromQuote, describeCostRule, estimateCost, needsQuote, QuoteError, smsSegments } from "../src/policy/cost.js";
import { assessRisk, estimateCost as estimateCostFromRisk, riskFromCost } from "../src/policy/risk.js";

const a = (n: number) => "a".repeat(n);
const repeat = (text: string, n: number) => text.repeat(n);
const GSM7_BASIC_TABLE = [
  "@£$¥èéùìòÇ\nØø\rÅå",
  "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ",
  " !\"#¤%&'()*+,-./",
  "0123456789:;<=>?",
  "¡ABCDEFGHIJKLMNO",
  "PQRSTUVWXYZÄÖÑÜ§",
  "¿abcdefghijklmno",
  "pqrstuvwxyzäöñüà",
].join("");

describe("smsSegments: GSM-7", () => {
  it.each([
    ["empty text (still one message)", "", 1, 0],
    ["one character", "a", 1, 1],
    ["160 characters fit one segment", a(160), 1, 160],
    ["161 characters need two (153 each)", a(161), 2, 161],
    ["153 × 2 = 306 fit two", a(306), 2, 306],
    ["153 × 2 + 1 = 307 need three", a(307), 3, 307],
    ["153 × 3 = 459 fit three", a(459), 3, 459],
    ["the whole basic table (127 characters, ESC aside) is GSM-7", GSM7_BASIC_TABLE, 1, 127],
  ] as const)("%s", (_, text, segments, length) => {
    expect(analyzeSms(text)).toEqual({ encoding: "GSM-7", length, segments });
    expect(smsSegments(text)).toBe(segments);
  });

  it.each([
    ["each extension character is two septets", "^{}\\[~]|€\f", 1, 20],
    ["80 euro signs are 160 septets: one segment", repeat("€", 80), 1, 160],
    ["81 euro signs are 162 septets: two segments of 76", repeat("€", 81), 2, 162],
    ["159 + an extension character = 161 septets: two segments", `${a(159)}€`, 2, 161],
    ["158 + an extension character = 160 septets: one segment", `${a(158)}€`, 1, 160],
    // 306 septets would fit two segments, but the escape pair cannot straddle the boundary after 152.
    ["an escape pair is never split across segments", `${a(152)}€${a(152)}`, 3, 306],
    ["an escape pair that ends exactly on the boundary fits", `${a(151)}€${a(153)}`, 2, 306],
    ["152 + 154 septets of euro signs", `${a(152)}${repeat("€", 77)}`, 3, 306],
  ] as const)("%s", (_, text, segments, length) => {
    expect(analyzeSms(text)).toEqual({ encoding: "GSM-7", length, segments });
  });
});

describe("smsSegments: UCS-2", () => {
  const zhe = "ж";
  it.each([
    ["70 Cyrillic characters fit one segment", repeat(zhe, 70), 1, 70],
    ["71 need two (67 each)", repeat(zhe, 71), 2, 71],
    ["67 × 2 = 134 fit two", repeat(zhe, 134), 2, 134],
    ["67 × 2 + 1 = 135 need three", repeat(zhe, 135), 3, 135],
    ["one character outside GSM-7 makes the whole text UCS-2", `${a(100)}${zhe}`, 2, 101],
    ["a lower-case c-cedilla is not GSM-7 (only Ç is)", "ç", 1, 1],
    ["a backtick is not GSM-7", "`", 1, 1],
    ["an extension character in UCS-2 is one code unit", `€${zhe}`, 1, 2],
    ["an emoji is two UTF-16 code units", "😀", 1, 2],
    ["35 emoji are 70 units: one segment", repeat("😀", 35), 1, 70],
    ["36 emoji are 72 units: two segments of 33 emoji", repeat("😀", 36), 2, 72],
    ["66 emoji need two segments of 33", repeat("😀", 66), 2, 132],
    ["67 emoji need three", repeat("😀", 67), 3, 134],
    // 134 units would fit two segments, but a surrogate pair cannot straddle the boundary after 66.
    ["a surrogate pair is never split across segments", `${a(66)}😀${a(66)}`, 3, 134],
  ] as const)("%s", (_, text, segments, length) => {
    expect(analyzeSms(text)).toEqual({ encoding: "UCS-2", length, segments });
  });
});

describe("estimateCost", () => {
  const sms = { cost: { perUnit: 0.0079, units: { smsSegments: "message" } } };

  it("prices SMS per segment", () => {
    expect(estimateCost(sms, { message: "hi" })).toEqual({ usd: 0.0079, units: 1, basis: "input.message: 1 SMS segment (GSM-7) × $0.0079" });
    expect(estimateCost(sms, { message: a(161) })).toMatchObject({ usd: 0.0158, units: 2 });
    expect(estimateCost(sms, { message: repeat("😀", 67) })).toEqual({ usd: 0.0237, units: 3, basis: "input.message: 3 SMS segments (UCS-2) × $0.0079" });
  });

  it("counts an absent text as one empty message, never as free", () => {
    expect(estimateCost(sms, {})).toMatchObject({ usd: 0.0079, units: 1 });
  });

  it("finds the text at a dotted path", () => {
    expect(estimateCost({ cost: { perUnit: 0.05, units: { smsSegments: "sms.body" } } }, { sms: { body: a(200) } })).toMatchObject({ usd: 0.1, units: 2 });
  });

  it("prices per counted unit: a number or the length of a list", () => {
    const perRecipient = { cost: { perUnit: 0.01, units: { count: "to" } } };
    expect(estimateCost(perRecipient, { to: ["+15550001", "+15550002", "+15550003"] })).toEqual({ usd: 0.03, units: 3, basis: "input.to: 3 × $0.01" });
    expect(estimateCost(perRecipient, { to: [] })).toMatchObject({ usd: 0, units: 0 });
    expect(estimateCost({ cost: { perUnit: 12.5, units: { count: "order.years" } } }, { order: { years: 2 } })).toMatchObject({ usd: 25, units: 2 });
  });

  it("multiplies segments by recipients when both are declared", () => {
    const bulk = { cost: { perUnit: 0.0079, units: { smsSegments: "message", count: "to" } } };
    const estimate = estimateCost(bulk, { message: a(200), to: ["a", "b", "c"] });
    expect(estimate).toEqual({ usd: 0.0474, units: 6, basis: "input.message: 2 SMS segments (GSM-7) × input.to: 3 × $0.0079" });
  });

  it("counts one text recipient as one, and has no price (never $0) when the field is not a count", () => {
    const perRecipient = { cost: { perUnit: 0.01, units: { count: "to" } } };
    expect(estimateCost(perRecipient, { to: "+15551234567" })).toMatchObject({ usd: 0.01, units: 1 });
    for (const to of [-1, Number.NaN, undefined, { n: 1 }, ""]) {
      const estimate = estimateCost(perRecipient, { to });
      expect(estimate.usd).toBeNaN();
      expect(estimate.basis).toBe("input.to is not a count (a number, a list, or one text value)");
    }
  });

  it("scales an input amount both ways: cents to dollars, dollars as they are", () => {
    expect(estimateCost({ cost: { fromInput: "amount", scale: 0.01 } }, { amount: 1999 })).toEqual({ usd: 19.99, basis: "input.amount × 0.01" });
    expect(estimateCost({ cost: { fromInput: "amount", scale: 1 } }, { amount: 19.99 })).toEqual({ usd: 19.99, basis: "input.amount" });
    expect(estimateCost({ cost: { fromInput: "amount", scale: 0.01 } }, { amount: "250" }).usd).toBe(2.5);
    // An amount that cannot be read, or a negative one, has no price: the engine refuses to run it.
    for (const amount of ["lots", "50000abc", "", -5000, undefined]) {
      const estimate = estimateCost({ cost: { fromInput: "amount", scale: 1 } }, { amount });
      expect(estimate.usd).toBeNaN();
      expect(estimate.basis).toMatch(/^input.amount is not an amount \(a number, 0 or more\)/);
    }
  });

  it("keeps fixed prices and no declaration as they were; risk.ts still exports estimateCost", () => {
    expect(estimateCost({ cost: { fixed: 2 } }, {})).toEqual({ usd: 2, basis: "fixed $2" });
    expect(estimateCost({}, {})).toEqual({ usd: 0, basis: "no cost declared" });
    expect(estimateCostFromRisk).toBe(estimateCost);
  });

  it("marks a quoted price as not yet known, and treats it as CRITICAL until it is quoted", () => {
    const quote = { action: "check", input: { domain: "{{ input.domain }}" }, from: "output.price", scale: 1 };
    const estimate = estimateCost({ cost: { quote } }, { domain: "example.com" });
    expect(needsQuote(estimate)).toBe(true);
    expect(estimate).toMatchObject({ needsQuote: true, quote, basis: "quoted by check (not yet quoted)" });
    expect(estimate.usd).toBeNaN();
    expect(riskFromCost(estimate.usd)).toBe("CRITICAL");
    expect(assessRisk({ kind: "create" }, estimate)).toBe("CRITICAL");
    expect(needsQuote(estimateCost({ cost: { fixed: 1 } }, {}))).toBe(false);
  });
});

describe("costFromQuote", () => {
  const spec = (from: string, scale = 1): QuoteCostSpec => ({ quote: { action: "check", input: {}, from, scale } });

  it("takes the price from the quote's output and scales it", () => {
    expect(costFromQuote(spec("output.price"), { available: true, price: 12.98 })).toEqual({ usd: 12.98, basis: "check quote: output.price" });
    expect(costFromQuote(spec("output.price.amount", 0.01), { price: { amount: 1298, currency: "usd" } })).toEqual({
      usd: 12.98,
      basis: "check quote: output.price.amount × 0.01",
    });
    expect(costFromQuote(spec("output.offers[1].price"), { offers: [{ price: 1 }, { price: 3.5 }] }).usd).toBe(3.5);
    expect(costFromQuote(spec("output"), 7).usd).toBe(7);
    expect(costFromQuote(spec("output.price"), { price: 0 }).usd).toBe(0);
  });

  it("accepts a decimal string, as some providers send prices", () => {
    expect(costFromQuote(spec("output.price"), { price: "12.99" }).usd).toBe(12.99);
    expect(costFromQuote(spec("output.price", 0.01), { price: " 1299 " }).usd).toBe(12.99);
  });

  it.each([
    ["a missing field", { available: true }, /^the quote from check has no output\.price: cannot price this action; nothing ran$/],
    ["a null field", { price: null }, /has no output\.price/],
    ["an output that is not an object", "sold out", /has no output\.price/],
    ["no output at all", undefined, /has no output\.price/],
    ["a word", { price: "free" }, /^the quote from check: output\.price is not a number \(got "free"\); nothing ran$/],
    ["an empty string", { price: "" }, /is not a number \(got ""\)/],
    ["an object", { price: { amount: 1 } }, /is not a number \(got \{"amount":1\}\)/],
    ["a boolean", { price: true }, /is not a number \(got true\)/],
    ["infinity as text", { price: "Infinity" }, /is not a number/],
    ["a negative price", { price: -5 }, /output\.price is negative \(-5\)/],
    ["a negative price as text", { price: "-5" }, /is not a number \(got "-5"\)/],
  ])("refuses %s with a clear error", (_, output, message) => {
    let thrown: unknown;
    try {
      costFromQuote(spec("output.price"), output);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(QuoteError);
    expect((thrown as QuoteError).message).toMatch(message);
    expect((thrown as QuoteError).code).toBe("output_invalid");
    expect((thrown as QuoteError).exitCode).toBe(1);
  });
});

describe("describeCostRule (toolctl show)", () => {
  it.each([
    [undefined, "none declared ($0)"],
    [{ fixed: 2 }, "fixed $2"],
    [{ fromInput: "amount", scale: 0.01 }, "from input.amount × 0.01 (USD)"],
    [{ perUnit: 0.0079, units: { smsSegments: "body" } }, "$0.0079 per SMS segment of input.body"],
    [{ perUnit: 0.0079, units: { smsSegments: "body", count: "to" } }, "$0.0079 per SMS segment of input.body × input.to (count)"],
    [{ quote: { action: "check", input: {}, from: "output.price", scale: 1 } }, "quoted by check before approval: output.price (USD)"],
  ] as const)("%j", (cost, text) => expect(describeCostRule(cost)).toBe(text));
});

// ---------------------------------------------------------------------------------------------------------
// Manifest validation

/** Joins lines, so that line N of the manifest is the Nth argument. */
const lines = (...text: string[]) => `${text.join("\n")}\n`;

/** A tool whose `buy` action (line 9) declares the cost given from line 12 on; `check` (line 5) is a read. */
const shop = (...cost: string[]) =>
  lines(
    "apiVersion: toolctl/v1", // 1
    "name: shop", // 2
    "description: A shop", // 3
    "runtime: echo", // 4
    "actions:", // 5
    "  check:", // 6
    "    description: Check a price", // 7
    "    kind: read", // 8
    "  buy:", // 9
    "    description: Buy", // 10
    "    kind: create", // 11
    ...cost, // 12…
  );

function problemsOf(text: string, file = "shop.yaml"): string[] {
  let thrown: unknown;
  try {
    parseManifest(text, file);
  } catch (error) {
    thrown = error;
  }
  expect(thrown, "parseManifest accepted the manifest").toBeInstanceOf(ValidationError);
  const problems = (thrown as ValidationError).details.problems ?? [];
  for (const problem of problems) expect(problem).toMatch(new RegExp(`^${file}:\\d+:\\d+: \\S`));
  return problems;
}

describe("manifest: cost declarations", () => {
  it("accepts every form and fills the defaults", () => {
    const { manifest } = parseManifest(
      lines(
        "apiVersion: toolctl/v1",
        "name: shop",
        "description: A shop",
        "runtime: echo",
        "actions:",
        "  check: { description: Check, kind: read }",
        "  fixed: { description: F, kind: create, cost: { fixed: 2 } }",
        "  cents: { description: C, kind: create, cost: { fromInput: amount, scale: 0.01 } }",
        "  dollars: { description: D, kind: create, cost: { fromInput: amount } }",
        "  sms: { description: S, kind: create, cost: { perUnit: 0.0079, units: { smsSegments: message } } }",
        "  bulk: { description: B, kind: create, cost: { perUnit: 0.0079, units: { smsSegments: body, count: to } } }",
        "  seats: { description: T, kind: create, cost: { perUnit: 5, units: { count: order.seats } } }",
        "  buy:",
        "    description: Buy",
        "    kind: create",
        "    cost:",
        "      quote:",
        "        action: check",
        "        input: { domain: '{{ input.domain }}' }",
        "        from: output.price",
      ),
      "shop.yaml",
    );
    expect(manifest.actions.dollars!.cost).toEqual({ fromInput: "amount", scale: 1 });
    expect(manifest.actions.cents!.cost).toEqual({ fromInput: "amount", scale: 0.01 });
    expect(manifest.actions.bulk!.cost).toEqual({ perUnit: 0.0079, units: { smsSegments: "body", count: "to" } });
    expect(manifest.actions.buy!.cost).toEqual({ quote: { action: "check", input: { domain: "{{ input.domain }}" }, from: "output.price", scale: 1 } });
  });

  it.each([
    ["per unit without units", ["    cost: { perUnit: 0.01 }"], 12, /actions\.buy\.cost\.units: is required/],
    [
      "units that count nothing",
      ["    cost: { perUnit: 0.01, units: {} }"],
      12,
      /actions\.buy\.cost\.units: say how units are counted: smsSegments: <field> or count: <field>/,
    ],
    [
      "a misspelt unit",
      ["    cost:", "      perUnit: 0.01", "      units: { smsSegment: message }"],
      14,
      /actions\.buy\.cost\.units\.smsSegment: unknown field 'smsSegment' \(did you mean 'smsSegments'\?\)/,
    ],
    ["a negative unit price", ["    cost:", "      perUnit: -1", "      units: { count: to }"], 13, /actions\.buy\.cost\.perUnit: .*>=0/],
    [
      "a unit field that is not a path",
      ["    cost:", "      perUnit: 1", "      units: { count: 'to recipients' }"],
      14,
      /actions\.buy\.cost\.units\.count: a dotted path of an input field/,
    ],
    [
      "an unknown key beside perUnit",
      ["    cost:", "      perUnit: 1", "      units: { count: to }", "      currency: eur"],
      15,
      /actions\.buy\.cost\.currency: unknown field 'currency'/,
    ],
    ["a quote without from", ["    cost:", "      quote: { action: check }"], 13, /actions\.buy\.cost\.quote\.from: is required/],
    [
      "a quote path outside the output",
      ["    cost:", "      quote: { action: check, from: price }"],
      13,
      /actions\.buy\.cost\.quote\.from: a path into the quote's output, such as output\.price/,
    ],
    ["a quote scale of zero", ["    cost:", "      quote: { action: check, from: output.price, scale: 0 }"], 13, /actions\.buy\.cost\.quote\.scale: .*>0/],
    [
      "an unknown key in a quote",
      ["    cost:", "      quote:", "        action: check", "        from: output.price", "        cache: true"],
      16,
      /actions\.buy\.cost\.quote\.cache: unknown field 'cache'/,
    ],
  ])("reports %s at its line", (_, cost, line, message) => {
    const problems = problemsOf(shop(...cost));
    const found = problems.filter((p) => p.startsWith(`shop.yaml:${line}:`) && message.test(p));
    expect(found, problems.join("\n")).toHaveLength(1);
  });

  it("reports a misspelt unit once, not again as 'nothing counted'", () => {
    expect(problemsOf(shop("    cost: { perUnit: 0.01, units: { smsSegment: message } }"))).toEqual([
      "shop.yaml:12:37: actions.buy.cost.units.smsSegment: unknown field 'smsSegment' (did you mean 'smsSegments'?)",
    ]);
  });

  it("refuses two ways of finding the cost at once", () => {
    const problems = problemsOf(shop("    cost: { fixed: 1, perUnit: 0.01, units: { count: to } }"));
    expect(problems).toContain("shop.yaml:12:11: actions.buy.cost: give one way to find the cost, not fixed and perUnit: fixed, fromInput, perUnit or quote");
  });

  it("requires the quote action to exist in the tool", () => {
    const problems = problemsOf(shop("    cost:", "      quote:", "        action: chek", "        from: output.price"));
    expect(problems).toEqual([expect.stringMatching(/^shop\.yaml:14:\d+: actions\.buy\.cost\.quote\.action: no action 'chek' in this tool$/)]);
  });

  it("requires the quote action to be a read (it runs before approval)", () => {
    const text = shop(
      "    cost:",
      "      quote:",
      "        action: sell",
      "        from: output.price",
      "  sell:",
      "    description: Sell",
      "    kind: create",
    );
    expect(problemsOf(text)).toEqual([
      expect.stringMatching(/^shop\.yaml:14:\d+: actions\.buy\.cost\.quote\.action: 'sell' is a create action; a quote must come from a read action$/),
    ]);
  });

  it("refuses a quote action that is itself priced by a quote, including an action quoting itself", () => {
    const chained = shop(
      "    cost: { quote: { action: check, from: output.price } }", // 12
      "  check2:", // 13
      "    description: Check again", // 14
      "    kind: read", // 15
      "    cost: { quote: { action: check2, from: output.price } }", // 16
    );
    const problems = problemsOf(chained.replace("action: check,", "action: check2,"));
    expect(problems).toEqual([
      expect.stringMatching(/^shop\.yaml:12:\d+: actions\.buy\.cost\.quote\.action: 'check2' is priced by a quote itself; a quote action must not be$/),
      expect.stringMatching(/^shop\.yaml:16:\d+: actions\.check2\.cost\.quote\.action: 'check2' is priced by a quote itself; a quote action must not be$/),
    ]);
  });

  it("lets the quote's input refer to the action's input only", () => {
    const problems = problemsOf(
      shop(
        "    cost:",
        "      quote:",
        "        action: check",
        "        input: { key: '{{ secrets.API_KEY }}', id: '{{ output.id }}', d: '{{ input.domain }}' }",
        "        from: output.price",
      ),
    );
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^shop\.yaml:15:\d+: actions\.buy\.cost\.quote\.input: template '\{\{ secrets\.API_KEY \}\}' may only refer to input$/);
    expect(problems[1]).toMatch(/template '\{\{ output\.id \}\}' may only refer to input$/);
  });

  it("reports a broken template in the quote's input", () => {
    const problems = problemsOf(
      shop("    cost:", "      quote:", "        action: check", "        input: { d: '{{ input.domain + 1 }}' }", "        from: output.price"),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^shop\.yaml:15:\d+: actions\.buy\.cost\.quote\.input: '\{\{ input\.domain \+ 1 \}\}' is not a valid reference/),
    ]);
  });

  it("reports cost problems together with other problems in the file", () => {
    const problems = problemsOf(shop("    cost: { quote: { action: nope, from: output.price } }", "    kind2: read"));
    expect(problems.some((p) => /^shop\.yaml:12:.*no action 'nope'/.test(p))).toBe(true);
    expect(problems.some((p) => /^shop\.yaml:13:.*unknown field 'kind2'/.test(p))).toBe(true);
  });
});
