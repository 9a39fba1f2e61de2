/**
 * The `toolctl/v1` manifest: the single source of truth for what a tool may declare.
 * Types used across the code base are inferred from these schemas; nothing is hand-written beside them.
 * Only the import path loads this module (zod is heavy); the run path works on the stored, already-validated JSON.
 */
import { z } from "zod";

export const TOOL_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;
export const ACTION_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
export const SECRET_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

const secretName = z
  .string()
  .regex(SECRET_NAME_PATTERN, "a secret name: letters, digits and underscores, such as STRIPE_API_KEY");
const seconds = z.number().positive().max(3600);
const jsonSchema = z.record(z.string(), z.unknown());
const stringMap = z.record(z.string(), z.string());

/** How a request authenticates. Secrets are named here and resolved only at run time. */
export const authSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("none") }),
  z.strictObject({
    type: z.literal("api_key"),
    secret: secretName,
    in: z.enum(["header", "query"]).default("header"),
    name: z.string().min(1).default("X-API-Key"),
  }),
  z.strictObject({ type: z.literal("bearer"), secret: secretName }),
  z.strictObject({
    type: z.literal("basic"),
    username: z.string().min(1).describe("a template, e.g. '{{ secrets.TWILIO_ACCOUNT_SID }}'"),
    secret: secretName.describe("the password's secret name"),
  }),
]);

export const httpSettingsSchema = z.strictObject({
  timeoutSeconds: seconds.default(30),
  allowPlainHttp: z.boolean().default(false),
  /** true, or the CIDR ranges that may be reached although they are loopback, private or link-local. */
  allowPrivateNetworks: z.union([z.boolean(), z.array(z.string().min(1))]).default(false),
  /** Hosts this tool may call besides its baseUrl hosts; `*.example.com` matches subdomains. */
  allowedHosts: z.array(z.string().min(1)).default([]),
  headers: stringMap.default({}),
});

export const processSettingsSchema = z.strictObject({
  /** Names of environment variables passed through from toolctl's own environment. Nothing else is. */
  env: z.array(z.string().regex(SECRET_NAME_PATTERN)).default(["PATH", "HOME", "LANG", "TZ"]),
  timeoutSeconds: seconds.default(30),
  cwd: z.string().min(1).optional(),
});

export const httpRequestSchema = z
  .strictObject({
    method: z.enum(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]).default("GET"),
    path: z.string().startsWith("/", "a path starting with '/'").default("/"),
    query: z.record(z.string(), z.unknown()).default({}),
    headers: stringMap.default({}),
    json: z.unknown().optional(),
    form: z.record(z.string(), z.unknown()).optional(),
    body: z.string().optional(),
    /** How to read the response. `auto` follows its Content-Type. */
    response: z.enum(["auto", "json", "text"]).default("auto"),
  })
  .refine((r) => [r.json, r.form, r.body].filter((b) => b !== undefined).length <= 1, {
    message: "only one of json, form or body may be given",
  });

export const costSchema = z.union([
  z.strictObject({ fixed: z.number().nonnegative().describe("USD per run") }),
  z.strictObject({
    fromInput: z.string().min(1).describe("dotted path of an input field"),
    /** Multiplies the input value to get USD: 0.01 when the input is in cents. */
    scale: z.number().positive().default(1),
  }),
]);

export const riskLevels = ["LOW", "MEDIUM", "HIGH", "CRITICAL"] as const;
export const riskSchema = z.enum(riskLevels);

export const rollbackSchema = z.union([
  z.literal("irreversible"),
  z.strictObject({ action: z.string().regex(ACTION_NAME_PATTERN), input: z.record(z.string(), z.unknown()).default({}) }),
]);

export const actionSchema = z.strictObject({
  description: z.string().min(1),
  kind: z.enum(["read", "create", "update", "delete"]),
  inputSchema: jsonSchema.default({ type: "object" }),
  outputSchema: jsonSchema.optional(),
  /** http runtime: the request to send. Strings are templates. */
  request: httpRequestSchema.optional(),
  /** process runtime: the argv, no shell. Each element is a template. */
  command: z.array(z.string()).min(1).optional(),
  /** process runtime: extra environment variables, as templates (secrets allowed). */
  env: stringMap.optional(),
  stdin: z.enum(["json", "none"]).default("json"),
  output: z.enum(["json", "text"]).default("json"),
  timeoutSeconds: seconds.optional(),
  /** Safe to repeat with the same input. Defaults to true for reads. */
  idempotent: z.boolean().optional(),
  idempotencyKey: z.strictObject({ header: z.string().min(1) }).optional(),
  cost: costSchema.optional(),
  /** A minimum risk level: it can raise the level computed from cost, never lower it. */
  risk: riskSchema.optional(),
  approval: z.enum(["auto", "always"]).default("auto"),
  rollback: rollbackSchema.optional(),
});

export const runtimes = ["http", "process", "echo"] as const;

export const manifestSchema = z
  .strictObject({
    apiVersion: z.literal("toolctl/v1"),
    name: z.string().regex(TOOL_NAME_PATTERN, "a lowercase identifier (a-z, 0-9, '_' or '-'), at most 63 characters"),
    version: z.string().min(1).default("0.0.0"),
    description: z.string().min(1),
    tags: z.array(z.string().min(1)).default([]),
    runtime: z.enum(runtimes),
    baseUrl: z.url({ protocol: /^https?$/ }).optional(),
    sandboxBaseUrl: z.url({ protocol: /^https?$/ }).optional(),
    auth: authSchema.default({ type: "none" }),
    http: httpSettingsSchema.optional(),
    process: processSettingsSchema.optional(),
    actions: z.record(z.string().regex(ACTION_NAME_PATTERN, "an action name: a letter, then letters, digits or '_'"), actionSchema),
  })
  .superRefine((m, ctx) => {
    const names = Object.keys(m.actions);
    if (names.length === 0) ctx.addIssue({ code: "custom", path: ["actions"], message: "at least one action is required" });
    if (m.runtime === "http" && !m.baseUrl) {
      ctx.addIssue({ code: "custom", path: ["baseUrl"], message: "baseUrl is required for runtime http" });
    }
    if (m.runtime !== "http") {
      for (const key of ["baseUrl", "sandboxBaseUrl", "http"] as const) {
        if (m[key] !== undefined) ctx.addIssue({ code: "custom", path: [key], message: `only valid for runtime http, not ${m.runtime}` });
      }
    }
    if (m.runtime !== "process" && m.process !== undefined) {
      ctx.addIssue({ code: "custom", path: ["process"], message: `only valid for runtime process, not ${m.runtime}` });
    }
    for (const [name, action] of Object.entries(m.actions)) {
      const at = (field: string) => ["actions", name, field];
      if (m.runtime === "http" && !action.request) ctx.addIssue({ code: "custom", path: at("request"), message: "required for runtime http" });
      if (m.runtime === "process" && !action.command) ctx.addIssue({ code: "custom", path: at("command"), message: "required for runtime process" });
      if (m.runtime !== "http" && action.request) ctx.addIssue({ code: "custom", path: at("request"), message: `only valid for runtime http, not ${m.runtime}` });
      if (m.runtime !== "process") {
        for (const field of ["command", "env"] as const) {
          if (action[field]) ctx.addIssue({ code: "custom", path: at(field), message: `only valid for runtime process, not ${m.runtime}` });
        }
      }
      if (action.rollback && action.rollback !== "irreversible" && !names.includes(action.rollback.action)) {
        ctx.addIssue({ code: "custom", path: [...at("rollback"), "action"], message: `no action '${action.rollback.action}' in this tool` });
      }
    }
  });

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestInput = z.input<typeof manifestSchema>;
export type ActionSpec = z.infer<typeof actionSchema>;
export type AuthSpec = z.infer<typeof authSchema>;
export type HttpSettings = z.infer<typeof httpSettingsSchema>;
export type ProcessSettings = z.infer<typeof processSettingsSchema>;
export type HttpRequestSpecTemplate = z.infer<typeof httpRequestSchema>;
export type CostSpec = z.infer<typeof costSchema>;
export type RiskLevel = z.infer<typeof riskSchema>;
export type Runtime = (typeof runtimes)[number];
export type ActionKind = ActionSpec["kind"];
