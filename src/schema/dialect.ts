/** Which JSON Schema draft a schema is written in, and the error that lists a schema's problems. No ajv here. */

export type SchemaDialect = "draft-07" | "2019-09" | "2020-12";

export interface SchemaProblem {
  /** JSON pointer inside the schema, "" for the root. */
  path: string;
  message: string;
}

export class InvalidSchemaError extends Error {
  readonly problems: SchemaProblem[];

  constructor(problems: SchemaProblem[]) {
    const first = problems[0];
    const where = first ? (first.path === "" ? "" : `${first.path}: `) : "";
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : "";
    super(`invalid JSON Schema: ${where}${first?.message ?? "unknown problem"}${more}`);
    this.name = "InvalidSchemaError";
    this.problems = problems;
  }
}

export const META_SCHEMA: Record<SchemaDialect, string> = {
  "draft-07": "http://json-schema.org/draft-07/schema",
  "2019-09": "https://json-schema.org/draft/2019-09/schema",
  "2020-12": "https://json-schema.org/draft/2020-12/schema",
};

// Both schemes are seen in the wild for draft-07 and the newer drafts alike; the empty fragment is optional.
function dialectOf(uri: string): SchemaDialect | undefined {
  const normalized = uri
    .trim()
    .replace(/#$/, "")
    .replace(/^https?:\/\//, "");
  for (const [dialect, meta] of Object.entries(META_SCHEMA) as [SchemaDialect, string][]) {
    if (normalized === meta.replace(/^https?:\/\//, "")) return dialect;
  }
  return undefined;
}

/**
 * The dialect a schema is written in, from its `$schema`. Without `$schema`, `fallback` (default
 * 2020-12, the current draft). An unsupported `$schema` throws: validating with the wrong rules would
 * silently accept or reject the wrong data.
 */
export function detectDialect(schema: unknown, fallback: SchemaDialect = "2020-12"): SchemaDialect {
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) return fallback;
  const declared = (schema as Record<string, unknown>).$schema;
  if (declared === undefined) return fallback;
  if (typeof declared !== "string") {
    throw new InvalidSchemaError([{ path: "/$schema", message: "must be a string" }]);
  }
  const dialect = dialectOf(declared);
  if (!dialect) {
    throw new InvalidSchemaError([{ path: "/$schema", message: `unsupported $schema "${declared}" (supported: draft-07, 2019-09, 2020-12)` }]);
  }
  return dialect;
}
