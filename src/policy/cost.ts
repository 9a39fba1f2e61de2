/**
 * Cost estimates: pure functions of an action's `cost` declaration and its input (or, for a quote, the output
 * of the read action that priced it). Amounts are USD, rounded to a millionth so that per-unit prices such as
 * $0.0079 add up without floating-point dust.
 */
import type { ActionSpec, CostSpec, PerUnitCostSpec, QuoteCostSpec } from "../domain/manifest.js";
import { ExitCode, ToolctlError } from "../errors.js";
import type { CostEstimate } from "../domain/approval-request.js";
import { collectRefs, lookup } from "../domain/template.js";

/** Kept in the domain (approvals are stored with it); exported here too, beside the functions that compute it. */
export type { CostEstimate };

/**
 * What `estimateCost` returns for a quoted cost: the price is not known until the quote action has run.
 * `usd` is NaN so that nothing can mistake it for a price (and `riskFromCost(NaN)` is CRITICAL); the engine
 * runs `quote.action`, then replaces this with `costFromQuote(cost, output)`.
 */
export interface PendingQuote extends CostEstimate {
  needsQuote: true;
  quote: QuoteCostSpec["quote"];
}

export function needsQuote(cost: CostEstimate): cost is PendingQuote {
  return (cost as Partial<PendingQuote>).needsQuote === true;
}

const round = (usd: number) => Math.round(usd * 1e6) / 1e6;

export function estimateCost(action: Pick<ActionSpec, "cost">, input: Record<string, unknown>): CostEstimate | PendingQuote {
  const cost: CostSpec | undefined = action.cost;
  if (!cost) return { usd: 0, basis: "no cost declared" };
  if ("fixed" in cost) return { usd: cost.fixed, basis: `fixed $${cost.fixed}` };
  if ("perUnit" in cost) return perUnitCost(cost, input);
  if ("quote" in cost) return { usd: Number.NaN, basis: `quoted by ${cost.quote.action} (not yet quoted)`, needsQuote: true, quote: cost.quote };
  const raw = lookup(input, cost.fromInput);
  const value = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
  // Never free by accident: an amount that cannot be read, or a negative one, has no price (NaN), and the
  // engine refuses to run an action it cannot price.
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    return { usd: Number.NaN, basis: `input.${cost.fromInput} is not an amount (a number, 0 or more): ${JSON.stringify(raw) ?? "absent"}` };
  }
  const usd = round(value * cost.scale);
  return { usd, basis: cost.scale === 1 ? `input.${cost.fromInput}` : `input.${cost.fromInput} × ${cost.scale}` };
}

/**
 * The input fields a cost is read from (paths into the input, as `lookup` takes them): none for no cost or a fixed
 * one, the amount or unit fields, or the fields a quote's input uses; `all` when a quote uses the whole input.
 */
export function costInputFields(cost: CostSpec | undefined): string[] | "all" {
  if (!cost || "fixed" in cost) return [];
  if ("perUnit" in cost) return [cost.units.smsSegments, cost.units.count].filter((field): field is string => field !== undefined);
  if ("quote" in cost) {
    const paths = collectRefs(cost.quote.input)
      .filter((ref) => ref.root === "input")
      .map((ref) => ref.path.slice("input".length).replace(/^\./, ""));
    return paths.includes("") ? "all" : paths;
  }
  return [cost.fromInput];
}

/** The rule itself, for `toolctl show`: what the cost will be computed from, before any input is known. */
export function describeCostRule(cost: CostSpec | undefined): string {
  if (!cost) return "none declared ($0)";
  if ("fixed" in cost) return `fixed $${cost.fixed}`;
  if ("perUnit" in cost) {
    const units = [
      cost.units.smsSegments === undefined ? "" : `SMS segment of input.${cost.units.smsSegments}`,
      cost.units.count === undefined ? "" : `input.${cost.units.count} (count)`,
    ].filter(Boolean);
    return `$${cost.perUnit} per ${units.join(" × ")}`;
  }
  if ("quote" in cost) {
    return `quoted by ${cost.quote.action} before approval: ${cost.quote.from}${cost.quote.scale === 1 ? "" : ` × ${cost.quote.scale}`} (USD)`;
  }
  return `from input.${cost.fromInput}${cost.scale === 1 ? "" : ` × ${cost.scale}`} (USD)`;
}

function perUnitCost(cost: PerUnitCostSpec, input: Record<string, unknown>): CostEstimate {
  let units = 1;
  const parts: string[] = [];
  if (cost.units.smsSegments !== undefined) {
    const field = cost.units.smsSegments;
    const sms = analyzeSms(asText(lookup(input, field)));
    units *= sms.segments;
    parts.push(`input.${field}: ${sms.segments} SMS segment${sms.segments === 1 ? "" : "s"} (${sms.encoding})`);
  }
  if (cost.units.count !== undefined) {
    const field = cost.units.count;
    const raw = lookup(input, field);
    // A single recipient given as text counts as one.
    const count = Array.isArray(raw)
      ? raw.length
      : typeof raw === "string" && raw !== ""
        ? 1
        : typeof raw === "number" && Number.isFinite(raw) && raw >= 0
          ? raw
          : undefined;
    if (count === undefined) return { usd: Number.NaN, units: 0, basis: `input.${field} is not a count (a number, a list, or one text value)` };
    units *= count;
    parts.push(`input.${field}: ${count}`);
  }
  return { usd: round(units * cost.perUnit), units, basis: `${parts.join(" × ")} × $${cost.perUnit}` };
}

/**
 * An absent text still sends (and bills) one message, so it is counted as empty text rather than as nothing;
 * a number or boolean is sent as its string form.
 */
function asText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined || value === null) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

// ---------------------------------------------------------------------------------------------------------
// SMS segments (GSM 03.38 / 3GPP TS 23.038)

/** The GSM-7 default alphabet: one septet each. */
const GSM7_BASIC = new Set(
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà",
);
/** The extension table: sent as ESC plus one septet, so two septets each. */
const GSM7_EXTENSION = new Set("\f^{}\\[~]|€");

export const SMS_LIMITS = {
  "GSM-7": { single: 160, concatenated: 153 },
  "UCS-2": { single: 70, concatenated: 67 },
} as const;

export interface SmsInfo {
  encoding: "GSM-7" | "UCS-2";
  /** Septets for GSM-7, UTF-16 code units for UCS-2. */
  length: number;
  segments: number;
}

/**
 * How many SMS segments a text is sent in. GSM-7 when every character is in the default alphabet or its
 * extension table (which costs two septets), else UCS-2 counted in UTF-16 code units. Concatenated segments
 * lose room to the user data header (153 septets, 67 code units). An escape pair or a surrogate pair is never
 * split across two segments, so a segment may carry one unit less. An empty text is one (empty) message.
 */
export function analyzeSms(text: string): SmsInfo {
  const chars = [...text];
  const gsm = chars.every((c) => GSM7_BASIC.has(c) || GSM7_EXTENSION.has(c));
  const encoding = gsm ? "GSM-7" : "UCS-2";
  const widths = chars.map((c) => (gsm ? (GSM7_EXTENSION.has(c) ? 2 : 1) : c.length));
  const length = widths.reduce((sum, w) => sum + w, 0);
  const limits = SMS_LIMITS[encoding];
  if (length <= limits.single) return { encoding, length, segments: 1 };
  let segments = 1;
  let used = 0;
  for (const width of widths) {
    if (used + width > limits.concatenated) ((segments += 1), (used = 0));
    used += width;
  }
  return { encoding, length, segments };
}

export function smsSegments(text: string): number {
  return analyzeSms(text).segments;
}

// ---------------------------------------------------------------------------------------------------------
// Quotes

/** The quote action's output does not hold a usable price: nothing was bought, and the run stops here. */
export class QuoteError extends ToolctlError {
  constructor(message: string) {
    super("output_invalid", ExitCode.actionFailed, message);
  }
}

/** A price as providers send it: a number, or a decimal string such as "12.99". */
const DECIMAL = /^\s*\d+(\.\d+)?\s*$/;

/**
 * The cost of an action priced by a quote: the value at `quote.from` in the quote action's output, times
 * `quote.scale`. A missing, non-numeric or negative price is an error, never a free action.
 */
export function costFromQuote(cost: QuoteCostSpec, quoteOutput: unknown): CostEstimate {
  const { action, from, scale } = cost.quote;
  const raw = lookup({ output: quoteOutput }, from);
  const where = `the quote from ${action}`;
  if (raw === undefined || raw === null) throw new QuoteError(`${where} has no ${from}: cannot price this action; nothing ran`);
  const value = typeof raw === "string" && DECIMAL.test(raw) ? Number(raw) : raw;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new QuoteError(`${where}: ${from} is not a number (got ${truncated(raw)}); nothing ran`);
  }
  if (value < 0) throw new QuoteError(`${where}: ${from} is negative (${value}); nothing ran`);
  return { usd: round(value * scale), basis: `${action} quote: ${from}${scale === 1 ? "" : ` × ${scale}`}` };
}

function truncated(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length <= 40 ? text : `${text.slice(0, 39)}…`;
}
