/**
 * The names and small field schemas every part of a manifest uses: tool, action and secret names, durations,
 * JSON Schemas, string maps, local paths and byte limits.
 */
import { z } from "zod";
import { OWN_NAME_PATTERN, OWN_NAME_PROBLEM, SECRET_NAME_PATTERN } from "./name-patterns.js";

export { ACTION_NAME_PATTERN, SECRET_NAME_PATTERN, TOOL_NAME_PATTERN } from "./name-patterns.js";

export const secretName = z
  .string()
  .regex(SECRET_NAME_PATTERN, { message: "a secret name: letters, digits and underscores, such as STRIPE_API_KEY", abort: true })
  .refine((name) => !OWN_NAME_PATTERN.test(name), { error: (issue) => `${String(issue.input)} ${OWN_NAME_PROBLEM}` });
export const seconds = z.number().positive().max(3600);
export const jsonSchema = z.record(z.string(), z.unknown());
export const stringMap = z.record(z.string(), z.string());
/**
 * Where an http tool's requests go: each request's path goes after its path, and its query (Azure's
 * `?api-version=...`) is sent with every request; a fragment is never sent, so it is refused.
 */
export const baseUrl = z
  .url({ protocol: /^https?$/ })
  .refine((text) => !text.includes("#"), "a base URL without a #fragment: a fragment is never sent, so leave it out");

/** A local path in a manifest: relative to the manifest's directory, or absolute. */
export function localPathRef() {
  return z
    .string()
    .min(1)
    .refine((text) => !text.includes("\0"), "a path without NUL bytes");
}

// A file path is relative to the manifest's directory, or absolute.
export const localPath = z
  .string()
  .min(1)
  .refine((text) => !text.includes("\0"), "a path without NUL bytes");
export const byteLimit = z
  .number()
  .int()
  .positive()
  .max(64 * 1024 * 1024);
