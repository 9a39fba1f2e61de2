/**
 * `toolctl.yaml`: a project's tools (manifests and OpenAPI specs, paths from the project root) and the limits and
 * settings it asks for. Strict like config.yaml: an unknown key is an error with a suggestion. It is committed
 * with the code, so it holds no secrets and cannot widen what a tool may reach (no `--allow-*` for specs).
 */
import { z } from "zod";
import { TOOL_NAME_PATTERN } from "../domain/name-patterns.js";

const usd = z.number().nonnegative();
const seconds = z.number().int().positive().max(86_400);

const isInside = (file: string) => !file.startsWith("/") && !file.split(/[\\/]/).includes("..");
const isUrl = (file: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(file);

/** Inside the project: relative, without `..`, so a checkout imports the same files wherever it is. */
const projectPath = z
  .string()
  .min(1)
  .refine((file) => !isUrl(file), "a path inside the project (manifests are not fetched from URLs)")
  .refine((file) => isUrl(file) || isInside(file), "a path inside the project (relative, without '..')");

const specSchema = z.strictObject({
  /** A spec file in the project, or an https:// URL. */
  openapi: z
    .string()
    .min(1)
    .superRefine((source, context) => {
      if (/^https:\/\/\S+$/.test(source)) return;
      if (isUrl(source)) context.addIssue({ code: "custom", message: "only https:// URLs are fetched" });
      else if (!isInside(source)) context.addIssue({ code: "custom", message: "a path inside the project (relative, without '..'), or an https:// URL" });
    }),
  name: z.string().regex(TOOL_NAME_PATTERN, "a tool name").optional(),
  baseUrl: z
    .string()
    .regex(/^https?:\/\/\S+$/, "an http(s):// URL")
    .optional(),
  tags: z.array(z.string().min(1)).optional(),
  operations: z.array(z.string().min(1)).optional(),
  pathPrefix: z.string().min(1).optional(),
  strict: z.boolean().optional(),
});

export const projectSchema = z.strictObject({
  version: z.literal(1, { error: "must be the number 1 (version: 1)" }).default(1),
  /** Manifest files, or directories of them. */
  manifests: z.array(projectPath).default([]),
  specs: z.array(specSchema).default([]),
  limits: z.strictObject({ perActionUsd: usd.optional(), dailyUsd: usd.optional() }).optional(),
  settings: z
    .strictObject({
      approvals: z.strictObject({ paidActions: z.boolean().optional(), twoFactorAboveUsd: usd.optional(), timeoutSeconds: seconds.optional() }).optional(),
      rollback: z.strictObject({ auto: z.boolean().optional(), timeoutSeconds: seconds.optional() }).optional(),
      sandboxApis: z.boolean().optional(),
      audit: z.strictObject({ dryRuns: z.boolean().optional() }).optional(),
      docker: z.strictObject({ pull: z.boolean().optional(), sandboxProcesses: z.boolean().optional() }).optional(),
      process: z.strictObject({ confinement: z.enum(["auto", "required", "optional", "off"]).optional() }).optional(),
    })
    .optional(),
});

export type ProjectFile = z.infer<typeof projectSchema>;
export type ProjectSpec = z.infer<typeof specSchema>;
