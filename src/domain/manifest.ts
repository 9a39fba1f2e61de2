/**
 * The `toolctl/v1` manifest: the single source of truth for what a tool may declare.
 * Types used across the code base are inferred from these schemas; nothing is hand-written beside them.
 * Only the import path loads this module (zod is heavy); the run path works on the stored, already-validated JSON.
 */
import { z } from "zod";
import { ACTION_NAME_PATTERN, baseUrl, jsonSchema, TOOL_NAME_PATTERN } from "./manifest-fields.js";
import { actionSchema } from "./action.js";
import { manifestRuleProblems } from "./manifest-rules.js";
import {
  authSchema,
  databaseSettingsSchema,
  emailSettingsSchema,
  filesSettingsSchema,
  httpSettingsSchema,
  imageReference,
  permissionsSchema,
  processSettingsSchema,
  vercelSettingsSchema,
} from "./runtime-settings.js";
import { runtimes } from "./runtimes.js";

// The parts of the manifest live beside it; every name stays importable from here.
export { ACTION_NAME_PATTERN, SECRET_NAME_PATTERN, TOOL_NAME_PATTERN } from "./manifest-fields.js";
export {
  authSchema,
  BUILTIN_OPERATIONS,
  databaseSettingsSchema,
  emailSettingsSchema,
  filesSettingsSchema,
  httpSettingsSchema,
  permissionsSchema,
  processSettingsSchema,
  vercelSettingsSchema,
  type AuthSpec,
  type DatabaseSettings,
  type EmailSettings,
  type FilesSettings,
  type HttpSettings,
  type ProcessSettings,
  type VercelSettings,
} from "./runtime-settings.js";
export { httpRequestSchema, type HttpRequestSpecTemplate } from "./http-request.js";
export {
  actionSchema,
  costQuoteSchema,
  costSchema,
  costUnitsSchema,
  riskLevels,
  riskSchema,
  rollbackSchema,
  type ActionKind,
  type ActionSpec,
  type BuiltinOperation,
  type CostSpec,
  type PerUnitCostSpec,
  type QuoteCostSpec,
  type RiskLevel,
  type RollbackSpec,
} from "./action.js";
export { manifestRuleProblems } from "./manifest-rules.js";

export { runtimes };

export const manifestSchema = z
  .strictObject({
    apiVersion: z.literal("toolctl/v1"),
    name: z.string().regex(TOOL_NAME_PATTERN, "a lowercase identifier (a-z, 0-9, '_' or '-'), at most 63 characters"),
    version: z.string().min(1).default("0.0.0"),
    description: z.string().min(1),
    tags: z.array(z.string().min(1)).default([]),
    runtime: z.enum(runtimes),
    baseUrl: baseUrl.optional(),
    sandboxBaseUrl: baseUrl.optional(),
    auth: authSchema.default({ type: "none" }),
    http: httpSettingsSchema.optional(),
    process: processSettingsSchema.optional(),
    files: filesSettingsSchema.optional(),
    database: databaseSettingsSchema.optional(),
    email: emailSettingsSchema.optional(),
    vercel: vercelSettingsSchema.optional(),
    /** docker runtime: the image every action runs in; process runtime: the image used under `--sandbox docker`. */
    image: imageReference.optional(),
    permissions: permissionsSchema.optional(),
    /** `toolctl tool test`: a harmless read that shows whether the tool is reachable and its credentials work. */
    test: z
      .strictObject({
        action: z.string().regex(ACTION_NAME_PATTERN).describe("a read action of this tool"),
        input: z.record(z.string(), z.unknown()).default({}),
        /** Slower than this (but working) is "degraded". */
        degradedAfterMs: z.number().int().positive().default(2000),
      })
      .optional(),
    /** JSON Schemas shared by the actions' schemas, which refer to them as `{ $ref: "#/$defs/<name>" }`. */
    definitions: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,200}$/, "a definition name: letters, digits, '_', '.' or '-'"), jsonSchema).optional(),
    actions: z.record(z.string().regex(ACTION_NAME_PATTERN, "an action name: a letter, then letters, digits or '_'"), actionSchema),
  })
  .superRefine((manifest, ctx) => {
    for (const problem of manifestRuleProblems(manifest)) ctx.addIssue({ code: "custom", ...problem });
  });

/** The one name no map in a manifest may hold: zod's records leave it out of what they return, without a word. */
const RESERVED_KEY = "__proto__";

/**
 * Every map in a raw manifest (the actions, an http tool's headers, a request's query or cookies, a JSON Schema's
 * keywords, ...) holding a `__proto__` key, found by walking the schema beside the data. Validation would drop the
 * key in silence (the action, the header or the query value would simply not be there), so it is refused instead:
 * each problem names the map (`path`) and the key (`atKey`).
 */
export function reservedKeyProblems(manifest: unknown): Array<{ path: PropertyKey[]; atKey: string; message: string }> {
  const found = new Map<string, { path: PropertyKey[]; atKey: string; message: string }>();
  const isMap = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value);
  const visit = (schema: z.core.$ZodType, value: unknown, path: PropertyKey[], depth: number): void => {
    if (value === undefined || depth > 64) return;
    const def = schema._zod.def as unknown as { type: string } & Record<string, unknown>;
    const inner = (key: string) => def[key] as z.core.$ZodType;
    switch (def.type) {
      case "optional":
      case "nullable":
      case "default":
      case "prefault":
      case "readonly":
      case "catch":
      case "nonoptional":
        return visit(inner("innerType"), value, path, depth + 1);
      case "pipe":
        return visit(inner(inner("in")._zod.def.type === "transform" ? "out" : "in"), value, path, depth + 1);
      case "lazy":
        return visit((def.getter as () => z.core.$ZodType)(), value, path, depth + 1);
      case "union":
        return (def.options as z.core.$ZodType[]).forEach((option) => visit(option, value, path, depth + 1));
      case "intersection":
        return (visit(inner("left"), value, path, depth + 1), visit(inner("right"), value, path, depth + 1));
      case "array":
        return void (Array.isArray(value) && value.forEach((item, index) => visit(inner("element"), item, [...path, index], depth + 1)));
      case "object": {
        if (!isMap(value)) return;
        // An object's own fields are known by name: a `__proto__` among them is reported as an unknown field.
        for (const [key, field] of Object.entries(def.shape as Record<string, z.core.$ZodType>)) {
          if (Object.hasOwn(value, key)) visit(field, value[key], [...path, key], depth + 1);
        }
        return;
      }
      case "record": {
        if (!isMap(value)) return;
        if (Object.hasOwn(value, RESERVED_KEY)) {
          found.set([...path, RESERVED_KEY].map(String).join("\u0000"), { path, atKey: RESERVED_KEY, message: "this name is not allowed" });
        }
        for (const key of Object.keys(value)) {
          if (key !== RESERVED_KEY) visit(inner("valueType"), value[key], [...path, key], depth + 1);
        }
        return;
      }
      default:
        return;
    }
  };
  visit(manifestSchema, manifest, [], 0);
  return [...found.values()];
}

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestInput = z.input<typeof manifestSchema>;
export type Runtime = (typeof runtimes)[number];
