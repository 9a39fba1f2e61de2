/** An http action's request: method, path, query, headers, cookies, body, signing, and how to read the answer. */
import { z } from "zod";
import { baseUrl, secretName, stringMap } from "./manifest-fields.js";

// OpenAPI `style` and `explode` for one query parameter or form field whose value is an array or object.
const listStyle = z.strictObject({
  style: z.enum(["form", "spaceDelimited", "pipeDelimited", "deepObject"]).default("form"),
  /** Default: true for form, false otherwise (as in OpenAPI). */
  explode: z.boolean().optional(),
});

export const httpRequestSchema = z
  .strictObject({
    method: z.enum(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]).default("GET"),
    path: z.string().startsWith("/", "a path starting with '/'").default("/"),
    /** This request's base URL in place of the tool's (an OpenAPI operation with servers of its own); its host must be allowed. */
    baseUrl: baseUrl.optional(),
    query: z.record(z.string(), z.unknown()).default({}),
    /** A header whose template is one `{{ ... }}` with no value is left out; an array becomes `a,b`. */
    headers: stringMap.default({}),
    /** Sent as one Cookie header; like query values, a template with no value leaves its cookie out. */
    cookies: z.record(z.string(), z.unknown()).optional(),
    /**
     * How array and object values are written, per name (OpenAPI style/explode). Without an entry, a query
     * array repeats its name and a query object goes as JSON, a form value uses brackets (`a[0]`, `a[b]`),
     * header and path arrays are comma lists, and cookies are exploded (form style).
     */
    styles: z
      .strictObject({
        query: z.record(z.string(), listStyle).optional(),
        form: z.record(z.string(), listStyle).optional(),
        header: z.record(z.string(), z.strictObject({ explode: z.boolean() })).optional(),
        cookie: z.record(z.string(), z.strictObject({ explode: z.boolean() })).optional(),
      })
      .optional(),
    json: z.unknown().optional(),
    /** Fields as a mapping of templates, or one template (`{{ input.body }}`) that renders to an object. */
    form: z.union([z.record(z.string(), z.unknown()), z.string()]).optional(),
    body: z.string().optional(),
    /**
     * Signs the request (webhook receivers check it): `<header>: sha256=<hex HMAC of "<timestamp>.<body>">` with
     * the secret named here, and `<timestampHeader>: <Unix seconds>`, computed when each attempt is sent.
     */
    sign: z
      .strictObject({
        secret: secretName.describe("the HMAC key's secret name"),
        header: z.string().min(1).default("X-Toolctl-Signature"),
        algorithm: z.enum(["sha256", "sha512"]).default("sha256"),
        timestampHeader: z.string().min(1).default("X-Toolctl-Timestamp"),
      })
      .optional(),
    /**
     * How to read the response. `auto` follows its Content-Type (JSON for `application/json` and `+json`, XML for
     * `application/xml`, `text/xml` and `+xml`, text otherwise); `xml` parses XML into JSON (see runners/http/xml.ts).
     */
    response: z.enum(["auto", "json", "xml", "text"]).default("auto"),
  })
  .refine((r) => [r.json, r.form, r.body].filter((b) => b !== undefined).length <= 1, {
    message: "only one of json, form or body may be given",
  });

export type HttpRequestSpecTemplate = z.infer<typeof httpRequestSchema>;
