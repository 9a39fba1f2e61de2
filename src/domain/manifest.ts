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

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestInput = z.input<typeof manifestSchema>;
export type Runtime = (typeof runtimes)[number];
