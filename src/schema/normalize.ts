/** The rewrites a schema gets before ajv compiles it, where ajv differs from the spec or from what OpenAPI needs. */
import type { SchemaDialect } from "./dialect.js";
import { walkSchema } from "./walk.js";

// Draft-07 keywords ajv would evaluate next to a `$ref`, though draft-07 says to ignore them.
// `definitions`/`$defs` and annotations stay: `$ref`s elsewhere may point into them.
const DRAFT7_REF_IGNORED = [
  "$id",
  "type",
  "enum",
  "const",
  "multipleOf",
  "maximum",
  "exclusiveMaximum",
  "minimum",
  "exclusiveMinimum",
  "maxLength",
  "minLength",
  "pattern",
  "format",
  "items",
  "additionalItems",
  "maxItems",
  "minItems",
  "uniqueItems",
  "contains",
  "maxProperties",
  "minProperties",
  "required",
  "properties",
  "patternProperties",
  "additionalProperties",
  "dependencies",
  "propertyNames",
  "if",
  "then",
  "else",
  "allOf",
  "anyOf",
  "oneOf",
  "not",
  "nullable",
];

/**
 * Annotations do not change what validates, but ajv's standalone code embeds the schema objects it refers to, so
 * an API's long descriptions would be copied into every validator (megabytes for a Stripe-sized spec).
 */
const ANNOTATIONS = ["title", "description", "examples", "example", "$comment", "deprecated", "externalDocs", "xml", "discriminator"];

/**
 * Rewrites (a copy of) the schema where ajv's behaviour differs from the spec or from what OpenAPI
 * documents need, before it is compiled:
 * - draft-07 ignores every keyword beside `$ref`; ajv applies them.
 * - ajv implements OpenAPI 3.0's `nullable` and throws on two spellings OpenAPI documents do contain:
 *   `nullable` without `type`, and `nullable: false` with a null type. Both mean nothing in OpenAPI, so
 *   the keyword is dropped there; `type` + `nullable: true` keeps ajv's OpenAPI meaning (null allowed).
 * - ajv refuses `enum: []`, which the meta-schemas allow (nothing is valid); `false` says the same.
 */
export function normalizeForAjv(schema: unknown, dialect: SchemaDialect): void {
  walkSchema(schema, dialect, (node) => {
    for (const key of ANNOTATIONS) delete node[key];
    for (const key of Object.keys(node)) if (key.startsWith("x-")) delete node[key];
    if (dialect === "draft-07" && typeof node.$ref === "string") {
      for (const key of DRAFT7_REF_IGNORED) delete node[key];
    }
    if ("nullable" in node) {
      const types = Array.isArray(node.type) ? node.type : node.type === undefined ? [] : [node.type];
      if (typeof node.nullable !== "boolean" || types.length === 0 || (types.includes("null") && node.nullable === false)) {
        delete node.nullable;
      }
    }
    if (Array.isArray(node.enum) && node.enum.length === 0) {
      delete node.enum;
      node.allOf = [...(Array.isArray(node.allOf) ? node.allOf : []), false];
    }
  });
}
