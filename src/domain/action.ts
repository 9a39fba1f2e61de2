/**
 * What an action declares: its kind and schemas, the request or command it runs, its cost (fixed, from input,
 * per unit or quoted), its minimum risk, its approval and its rollback.
 */
import { z } from "zod";
import { ACTION_NAME_PATTERN, jsonSchema, seconds, stringMap } from "./manifest-fields.js";
import { httpRequestSchema } from "./http-request.js";
import { authSchema } from "./runtime-settings.js";

const inputField = z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+|\[\d+\])*$/, "a dotted path of an input field, such as message or order.total");

/** How many units a per-unit cost counts. Both may be given: an SMS to a list of numbers is segments × recipients. */
export const costUnitsSchema = z
  .strictObject({
    smsSegments: inputField.optional().describe("the SMS segments of this text field (GSM-7 or UCS-2)"),
    count: inputField.optional().describe("this number field, or the length of this list field"),
  })
  .refine((units) => units.smsSegments !== undefined || units.count !== undefined, {
    message: "say how units are counted: smsSegments: <field> or count: <field>",
    // A misspelt key is reported once, as an unknown field, rather than again as "nothing counted".
    when: (payload) => payload.issues.length === 0,
  });

export const costQuoteSchema = z.strictObject({
  action: z.string().regex(ACTION_NAME_PATTERN).describe("a read action of the same tool, run first to get the price"),
  /** The quote action's input: templates over `input` only. */
  input: z.record(z.string(), z.unknown()).default({}),
  from: z
    .string()
    .regex(/^output(\.[A-Za-z0-9_-]+|\[\d+\])*$/, "a path into the quote's output, such as output.price")
    .describe("where the price is in the quote action's output"),
  /** Multiplies the quoted price to get USD: 0.01 when the quote is in cents. */
  scale: z.number().positive().default(1),
});

export const costSchema = z.union([
  z.strictObject({ fixed: z.number().nonnegative().describe("USD per run") }),
  z.strictObject({
    fromInput: z.string().min(1).describe("dotted path of an input field"),
    /** Multiplies the input value to get USD: 0.01 when the input is in cents. */
    scale: z.number().positive().default(1),
  }),
  z.strictObject({ perUnit: z.number().nonnegative().describe("USD per unit"), units: costUnitsSchema }),
  z.strictObject({ quote: costQuoteSchema }),
]);

export const riskLevels = ["LOW", "MEDIUM", "HIGH", "CRITICAL"] as const;
export const riskSchema = z.enum(riskLevels);

const OUTPUT_PATH = /^output(\.[A-Za-z0-9_-]+|\[\d+\])*$/;

/** A compensating action of the same tool; its input is templates over the original's `input` and `output`. */
const compensationShape = { action: z.string().regex(ACTION_NAME_PATTERN), input: z.record(z.string(), z.unknown()).default({}) };

/**
 * `irreversible`, one compensation, or a list to choose from by the original's output: the first entry whose
 * `when` holds (its value at `path`, compared as text, equals `equals`), else the entry without `when`.
 */
export const rollbackSchema = z.union([
  z.literal("irreversible"),
  z.strictObject(compensationShape),
  z
    .array(
      z.strictObject({
        when: z
          .strictObject({
            path: z.string().regex(OUTPUT_PATH, "a path into the original's output, such as output.status"),
            equals: z.union([z.string(), z.number(), z.boolean()]).describe("the value (compared as text) for which this compensation is the one"),
          })
          .optional(),
        ...compensationShape,
      }),
    )
    .min(1, "list at least one compensation"),
]);

export const actionSchema = z.strictObject({
  description: z.string().min(1),
  kind: z.enum(["read", "create", "update", "delete"]),
  inputSchema: jsonSchema.default({ type: "object" }),
  outputSchema: jsonSchema.optional(),
  /** false: the outputSchema documents the result but is not enforced (an imported operation whose schema is too large to compile quickly). */
  validateOutput: z.boolean().optional(),
  /** http runtime: the request to send. Strings are templates. */
  request: httpRequestSchema.optional(),
  /** http runtime: this action's auth, in place of the tool's (an imported operation whose `security` differs). */
  auth: authSchema.optional(),
  /** process and docker runtimes: the argv, no shell. Each element is a template. Docker defaults to the image's own. */
  command: z.array(z.string()).min(1).optional(),
  /** process and docker runtimes: extra environment variables, as templates (secrets allowed). */
  env: stringMap.optional(),
  stdin: z.enum(["json", "none"]).default("json"),
  output: z.enum(["json", "text"]).default("json"),
  /** files, database and vercel runtimes: the built-in operation this action performs. */
  operation: z.enum(["read", "list", "write", "create", "update", "delete", "deploy", "remove", "inspect", "whoami"]).optional(),
  timeoutSeconds: seconds.optional(),
  /** Safe to repeat with the same input. Defaults to true for reads. */
  idempotent: z.boolean().optional(),
  idempotencyKey: z.strictObject({ header: z.string().min(1) }).optional(),
  cost: costSchema.optional(),
  /** A minimum risk level: it can raise the level computed from cost, never lower it. */
  risk: riskSchema.optional(),
  approval: z.enum(["auto", "always"]).default("auto"),
  rollback: rollbackSchema.optional(),
  /**
   * http runtime: when a 2xx answer is really the provider's error (APIs that always answer 200 and say
   * `Status="ERROR"` in the body). The run fails with the text at `message` (a list of errors is joined), and
   * the category `categories` gives the provider's error code at `code`, `validation` otherwise. Paths are
   * read from the parsed response, like a quote's `from`; a path through a list reads every item.
   */
  failWhen: z
    .strictObject({
      path: z.string().regex(/^output(\.[A-Za-z0-9_-]+|\[\d+\])*$/, "a path into the response, such as output.ApiResponse.-Status"),
      equals: z.union([z.string(), z.number(), z.boolean()]).describe("the value (compared as text) that means the call failed"),
      message: z
        .string()
        .regex(/^output(\.[A-Za-z0-9_-]+|\[\d+\])*$/, "a path into the response, such as output.ApiResponse.Errors.Error")
        .optional(),
      code: z
        .string()
        .regex(/^output(\.[A-Za-z0-9_-]+|\[\d+\])*$/, "a path into the response, such as output.ApiResponse.Errors.Error.-Number")
        .optional(),
      categories: z
        .record(z.string().min(1), z.enum(["authentication", "authorization", "validation", "rate_limit", "server_error"]))
        .optional()
        .describe("the provider's error code → error category; default validation"),
    })
    .optional(),
});

export type ActionSpec = z.infer<typeof actionSchema>;
export type BuiltinOperation = NonNullable<ActionSpec["operation"]>;
export type CostSpec = z.infer<typeof costSchema>;
export type RollbackSpec = z.infer<typeof rollbackSchema>;
export type PerUnitCostSpec = Extract<CostSpec, { perUnit: number }>;
export type QuoteCostSpec = Extract<CostSpec, { quote: unknown }>;
export type RiskLevel = z.infer<typeof riskSchema>;
export type ActionKind = ActionSpec["kind"];
