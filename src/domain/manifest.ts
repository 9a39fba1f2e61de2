/**
 * The `toolctl/v1` manifest: the single source of truth for what a tool may declare.
 * Types used across the code base are inferred from these schemas; nothing is hand-written beside them.
 * Only the import path loads this module (zod is heavy); the run path works on the stored, already-validated JSON.
 */
import { z } from "zod";
import { collectRefs, TemplateError } from "../template/render.js";
import { DEFAULT_PERMISSIONS as P } from "./permissions.js";
import { runtimes } from "./runtimes.js";

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
    /** APIs that take an API key as the username: the password secret may be unset, and an empty one is sent. */
    passwordOptional: z.boolean().optional(),
  }),
]);

export const httpSettingsSchema = z.strictObject({
  timeoutSeconds: seconds.default(30),
  allowPlainHttp: z.boolean().default(false),
  /** true, or the CIDR ranges that may be reached although they are loopback, private or link-local. */
  allowPrivateNetworks: z.union([z.boolean(), z.array(z.string().min(1))]).default(false),
  /**
   * Hosts this tool may call besides its baseUrl hosts; `*.example.com` matches subdomains. An origin
   * (`http://127.0.0.1:9000`) allows that scheme, host and port only: the way to reach another private origin.
   */
  allowedHosts: z.array(z.string().min(1)).default([]),
  headers: stringMap.default({}),
  /**
   * Transient failures (network, 429, 5xx) are retried with exponential backoff and full jitter, honouring
   * Retry-After, only for actions that are idempotent or carry an idempotency key.
   */
  retry: z
    .strictObject({
      attempts: z.number().int().min(1).max(10).default(3).describe("attempts in all, the first included"),
      initialDelayMs: z.number().int().min(1).max(60_000).default(250),
      maxDelayMs: z.number().int().min(1).max(300_000).default(10_000).describe("longest wait, Retry-After included"),
    })
    .optional(),
  /** Opens after this many failed calls in a row (across processes); half-opens after the pause. */
  circuitBreaker: z
    .strictObject({
      failures: z.number().int().min(1).max(1000).default(5),
      halfOpenAfterSeconds: z.number().positive().max(86_400).default(30),
    })
    .optional(),
  /** At most this many requests per minute to this tool, across every toolctl process of the home. */
  requestsPerMinute: z.number().int().positive().max(100_000).optional(),
});

/** A local path in a manifest: relative to the manifest's directory, or absolute. */
function localPathRef() {
  return z.string().min(1).refine((text) => !text.includes("\0"), "a path without NUL bytes");
}

export const processSettingsSchema = z.strictObject({
  /** Names of environment variables passed through from toolctl's own environment. Nothing else is. */
  env: z.array(z.string().regex(SECRET_NAME_PATTERN)).default(["PATH", "LANG", "TZ"]),
  timeoutSeconds: seconds.default(30),
  cwd: z.string().min(1).optional(),
  /**
   * Confined (see README): the whole file system read-only, /tmp private, the toolctl home, the user's home and
   * key material hidden, no network. These widen it: the host network, and paths (relative to the manifest's
   * directory, or absolute) readable or writable again.
   */
  network: z.boolean().default(false).describe("share the host's network (and its abstract unix sockets)"),
  readable: z.array(localPathRef()).default([]),
  writable: z.array(localPathRef()).default([]),
});

// Built-in runtimes. A file path is relative to the manifest's directory, or absolute.
const localPath = z.string().min(1).refine((text) => !text.includes("\0"), "a path without NUL bytes");
const byteLimit = z.number().int().positive().max(64 * 1024 * 1024);

/** files runtime: the directories its actions may touch, and how much they may read or write at once. */
export const filesSettingsSchema = z.strictObject({
  /** A relative input path is taken from the first root; an absolute one must lie inside one of them. */
  roots: z.array(localPath).min(1),
  maxReadBytes: byteLimit.default(1024 * 1024),
  maxWriteBytes: byteLimit.default(1024 * 1024),
  /** Entries a list returns at most; it says when it left some out. */
  maxEntries: z.number().int().positive().max(100_000).default(1000),
});

const tableOperations = z.array(z.enum(["read", "create", "update", "delete"])).min(1);

/** database runtime: one SQLite file, and per table the operations (and optionally the only columns) allowed. */
export const databaseSettingsSchema = z.strictObject({
  file: localPath,
  /** An SQL script run once, to create the file when it does not exist yet. */
  setup: localPath.optional(),
  tables: z.record(
    z.string().min(1).refine((name) => !/^sqlite_/i.test(name) && !name.includes("\0"), "a table of your own (sqlite_ tables belong to SQLite)"),
    z.union([tableOperations, z.strictObject({ operations: tableOperations, columns: z.array(z.string().min(1)).min(1).optional() })]),
  ),
  /** Rows a read returns at most (an input `limit` may ask for fewer). */
  maxRows: z.number().int().positive().max(10_000).default(100),
  /** An update or delete that would change more rows than this is refused, and nothing changes. */
  maxChanges: z.number().int().positive().max(1_000_000).default(100),
  foreignKeys: z.boolean().default(true),
  busyTimeoutSeconds: seconds.default(5),
});

/**
 * email runtime: one SMTP server and one sender. The password comes from `auth: { type: basic, username, secret }`
 * (username a template over secrets). STARTTLS is required unless `allowPlainSmtp` (a relay on this machine).
 */
export const emailSettingsSchema = z.strictObject({
  host: z.string().min(1).regex(/^[A-Za-z0-9.:\[\]-]+$/, "a host name or IP address"),
  port: z.number().int().min(1).max(65535).default(587),
  /** starttls: plain connect, then STARTTLS (required); tls: TLS from the first byte (port 465). */
  tls: z.enum(["starttls", "tls"]).default("starttls"),
  /** Allows a server without STARTTLS (credentials and mail then cross the network in clear). */
  allowPlainSmtp: z.boolean().default(false),
  /** The fixed sender: `addr@example.com` or `Name <addr@example.com>`. */
  from: z.string().min(3),
  /** Recipients (to, cc, bcc) must be in one of these domains; `*.example.com` matches subdomains. Any domain when left out. */
  allowedRecipientDomains: z.array(z.string().min(1)).min(1).optional(),
  maxMessageBytes: byteLimit.default(10 * 1024 * 1024),
  timeoutSeconds: seconds.default(30),
});

/**
 * vercel runtime: deploys a local directory through Vercel's REST API (at the tool's baseUrl, with a bearer
 * token), optionally pushing the same files to a new GitHub repository first. A directory to deploy must lie
 * inside `projectRoot` (relative to the manifest's directory; the working directory when left out).
 */
export const vercelSettingsSchema = z.strictObject({
  projectRoot: localPath.optional(),
  /** Deploys into this team (`?teamId=`); the token's own account when left out. */
  teamId: z.string().regex(/^team_[A-Za-z0-9]+$/, "a team id such as team_a1B2c3").optional(),
  /** Files a deployment may hold at most, and their total size; anything bigger is refused before upload. */
  maxFiles: z.number().int().positive().max(100_000).default(15_000),
  maxBytes: byteLimit.default(64 * 1024 * 1024),
  /** How long to wait for the deployment to be READY before the outcome is unknown. */
  readyTimeoutSeconds: seconds.default(600),
  github: z
    .strictObject({
      apiUrl: z.url({ protocol: /^https?$/ }).default("https://api.github.com"),
      /** The personal access token's secret name (scope `repo`), needed only when a deploy asks for a repository. */
      tokenSecret: secretName.default("GITHUB_TOKEN"),
    })
    .default({ apiUrl: "https://api.github.com", tokenSecret: "GITHUB_TOKEN" }),
});

/** What each built-in operation is, as a kind: the kind decides risk, so the two must agree. */
export const BUILTIN_OPERATIONS = {
  files: { read: ["read"], list: ["read"], write: ["create", "update"], create: ["create"], delete: ["delete"] },
  database: { read: ["read"], create: ["create"], update: ["update"], delete: ["delete"] },
  vercel: { deploy: ["create"], remove: ["delete"], inspect: ["read"], whoami: ["read"] },
} as const satisfies Record<string, Record<string, readonly string[]>>;

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
    baseUrl: z.url({ protocol: /^https?$/ }).optional(),
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

const inputField = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+|\[\d+\])*$/, "a dotted path of an input field, such as message or order.total");

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
      message: z.string().regex(/^output(\.[A-Za-z0-9_-]+|\[\d+\])*$/, "a path into the response, such as output.ApiResponse.Errors.Error").optional(),
      code: z.string().regex(/^output(\.[A-Za-z0-9_-]+|\[\d+\])*$/, "a path into the response, such as output.ApiResponse.Errors.Error.-Number").optional(),
      categories: z
        .record(z.string().min(1), z.enum(["authentication", "authorization", "validation", "rate_limit", "server_error"]))
        .optional()
        .describe("the provider's error code → error category; default validation"),
    })
    .optional(),
});

export { runtimes };

/**
 * What a sandboxed tool may use. Anything above DEFAULT_PERMISSIONS needs a grant (`toolctl tool approve`):
 * until then the tool is `pending`.
 */
export const permissionsSchema = z.strictObject({
  network: z.boolean().default(P.network).describe("a bridge network with outbound access; none otherwise"),
  memoryMb: z.number().int().min(6).max(65536).default(P.memoryMb),
  cpus: z.number().positive().max(64).default(P.cpus),
  pids: z.number().int().min(8).max(32768).default(P.pids),
  storageMb: z.number().int().min(0).max(102400).default(P.storageMb).describe("quota of the tool's /state volume; 0 mounts none"),
  timeoutSeconds: seconds.default(P.timeoutSeconds),
});

/** Image references as docker accepts them: [registry/]name[:tag][@sha256:digest]. */
const imageReference = z
  .string()
  .regex(/^([A-Za-z0-9.-]+(:[0-9]{1,5})?\/)?[a-z0-9][a-z0-9._\/-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/, "an image reference such as toolctl-examples/calculator:1 or registry.example.com:5000/team/tool:2")
  .refine((image) => !image.includes("..") && !image.includes("//"), "an image reference such as toolctl-examples/calculator:1");

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

type Raw = Record<string, unknown>;
const COST_FORMS = ["fixed", "fromInput", "perUnit", "quote"] as const;
const isRecord = (value: unknown): value is Raw => value !== null && typeof value === "object" && !Array.isArray(value);

/**
 * Rules that span fields (what each runtime requires and forbids). Written against unvalidated data, so that
 * they can also run on a manifest that failed other checks: every problem in a file is reported at once.
 */
export function manifestRuleProblems(manifest: unknown): Array<{ path: PropertyKey[]; message: string }> {
  const problems: Array<{ path: PropertyKey[]; message: string }> = [];
  if (!isRecord(manifest)) return problems;
  const add = (path: PropertyKey[], message: string) => problems.push({ path, message });
  const runtime = typeof manifest.runtime === "string" ? manifest.runtime : undefined;
  const actions = isRecord(manifest.actions) ? manifest.actions : undefined;
  const names = actions ? Object.keys(actions) : [];
  if (actions && names.length === 0) add(["actions"], "at least one action is required");
  if (!runtime) return problems;
  // The vercel runtime calls one HTTP API: it takes baseUrl, auth and the http settings (the outbound guard).
  const speaksHttp = runtime === "http" || runtime === "vercel";
  if (speaksHttp && manifest.baseUrl === undefined) add(["baseUrl"], `baseUrl is required for runtime ${runtime}`);
  if (!speaksHttp) {
    for (const key of ["baseUrl", "sandboxBaseUrl", "http"]) {
      if (manifest[key] !== undefined) add([key], `only valid for runtime http or vercel, not ${runtime}`);
    }
  }
  if (runtime === "vercel" && isRecord(manifest.auth) && manifest.auth.type !== "bearer") add(["auth", "type"], "runtime vercel takes auth type bearer (a Vercel access token)");
  if (runtime !== "process" && manifest.process !== undefined) add(["process"], `only valid for runtime process, not ${runtime}`);
  if (runtime === "email" && manifest.email === undefined) add(["email"], "required for runtime email, such as email: { host: smtp.example.com, from: bot@example.com }");
  if (runtime !== "email" && manifest.email !== undefined) add(["email"], `only valid for runtime email, not ${runtime}`);
  if (runtime === "email" && isRecord(manifest.auth) && manifest.auth.type !== "none" && manifest.auth.type !== "basic") add(["auth", "type"], "runtime email takes auth type basic (SMTP AUTH username and password) or none");
  if (runtime !== "http" && isRecord(manifest.auth) && manifest.auth.passwordOptional !== undefined) add(["auth", "passwordOptional"], `only valid for runtime http, not ${runtime}`);
  problems.push(...builtinRuleProblems(runtime, manifest, actions));
  const sandboxable = runtime === "process" || runtime === "docker";
  if (runtime === "docker" && manifest.image === undefined) add(["image"], "image is required for runtime docker");
  for (const key of ["image", "permissions"]) {
    if (!sandboxable && manifest[key] !== undefined) add([key], `only valid for runtime docker or process, not ${runtime}`);
  }
  const test = isRecord(manifest.test) ? manifest.test : undefined;
  if (test && typeof test.action === "string" && actions) {
    const tested = actions[test.action];
    if (tested === undefined) add(["test", "action"], `no action '${test.action}' in this tool`);
    else if (isRecord(tested) && tested.kind !== "read") add(["test", "action"], `'${test.action}' is a ${String(tested.kind)} action; a test must be a harmless read`);
  }
  for (const [name, action] of Object.entries(actions ?? {})) {
    if (!isRecord(action)) continue;
    const at = (field: string) => ["actions", name, field];
    if (runtime === "http" && action.request === undefined) add(at("request"), "required for runtime http");
    if (runtime === "process" && action.command === undefined) add(at("command"), "required for runtime process");
    if (runtime !== "http" && action.request !== undefined) add(at("request"), `only valid for runtime http, not ${runtime}`);
    if (runtime !== "http" && action.auth !== undefined) add(at("auth"), `only valid for runtime http, not ${runtime}`);
    if (!sandboxable) {
      for (const field of ["command", "env"]) if (action[field] !== undefined) add(at(field), `only valid for runtime process or docker, not ${runtime}`);
    }
    problems.push(...rollbackProblems(action.rollback, at("rollback"), names));
    const forms = isRecord(action.cost) ? COST_FORMS.filter((form) => (action.cost as Raw)[form] !== undefined) : [];
    if (forms.length > 1) add(at("cost"), `give one way to find the cost, not ${forms.join(" and ")}: fixed, fromInput, perUnit or quote`);
    const quote = isRecord(action.cost) && isRecord(action.cost.quote) ? action.cost.quote : undefined;
    if (quote) {
      const where = ["actions", name, "cost", "quote"];
      const quoted = typeof quote.action === "string" && actions ? actions[quote.action] : undefined;
      if (typeof quote.action === "string" && !names.includes(quote.action)) {
        add([...where, "action"], `no action '${quote.action}' in this tool`);
      } else if (isRecord(quoted)) {
        // The quote runs before approval, so it must be free of side effects and must not need a quote itself.
        if (quoted.kind !== "read") add([...where, "action"], `'${quote.action}' is a ${String(quoted.kind)} action; a quote must come from a read action`);
        else if (isRecord(quoted.cost) && quoted.cost.quote !== undefined) add([...where, "action"], `'${quote.action}' is priced by a quote itself; a quote action must not be`);
      }
      problems.push(...quoteTemplateProblems(quote.input, [...where, "input"]));
    }
  }
  return problems;
}

/** Each compensation names an action of the tool; in a list, only the last entry may go without `when`. */
function rollbackProblems(rollback: unknown, where: PropertyKey[], names: string[]): Array<{ path: PropertyKey[]; message: string }> {
  const problems: Array<{ path: PropertyKey[]; message: string }> = [];
  const entries: Array<[unknown, PropertyKey[]]> = Array.isArray(rollback) ? rollback.map((entry, index) => [entry, [...where, index]]) : [[rollback, where]];
  entries.forEach(([entry, at], index) => {
    if (!isRecord(entry)) return;
    if (typeof entry.action === "string" && !names.includes(entry.action)) problems.push({ path: [...at, "action"], message: `no action '${entry.action}' in this tool` });
    // The entry without `when` is taken whenever the ones before it do not apply: any after it is never used.
    if (Array.isArray(rollback) && entry.when === undefined && index < rollback.length - 1) {
      problems.push({ path: at, message: "only the last compensation may go without when: the entries after this one would never be used" });
    }
  });
  return problems;
}

/** The files and database runtimes: their settings, and an operation on every action that agrees with its kind. */
function builtinRuleProblems(runtime: string, manifest: Raw, actions: Raw | undefined): Array<{ path: PropertyKey[]; message: string }> {
  const problems: Array<{ path: PropertyKey[]; message: string }> = [];
  const add = (path: PropertyKey[], message: string) => problems.push({ path, message });
  const example = { files: "files: { roots: [notes] }", database: "database: { file: app.db, tables: { items: [read] } }", vercel: "vercel: { projectRoot: . }" };
  for (const key of ["files", "database", "vercel"] as const) {
    if (runtime === key && manifest[key] === undefined && key !== "vercel") add([key], `required for runtime ${key}, such as ${example[key]}`);
    if (runtime !== key && manifest[key] !== undefined) add([key], `only valid for runtime ${key}, not ${runtime}`);
  }
  const database = isRecord(manifest.database) ? manifest.database : undefined;
  const tables = database && isRecord(database.tables) ? database.tables : undefined;
  if (runtime === "database" && tables && Object.keys(tables).length === 0) add(["database", "tables"], "declare at least one table and the operations allowed on it");
  const allowedOn = (operation: string) =>
    Object.values(tables ?? {}).some((access) => {
      const list = isRecord(access) ? access.operations : access;
      return Array.isArray(list) && list.includes(operation);
    });
  for (const [name, action] of Object.entries(actions ?? {})) {
    if (!isRecord(action)) continue;
    const at = ["actions", name, "operation"];
    const operation = typeof action.operation === "string" ? action.operation : undefined;
    if (runtime !== "files" && runtime !== "database" && runtime !== "vercel") {
      if (action.operation !== undefined) add(at, `only valid for runtime files, database or vercel, not ${runtime}`);
      continue;
    }
    const kinds: Record<string, readonly string[]> = BUILTIN_OPERATIONS[runtime];
    if (operation === undefined) {
      if (action.operation === undefined) add(at, `required for runtime ${runtime}: one of ${Object.keys(kinds).join(", ")}`);
      continue;
    }
    const fits = kinds[operation];
    if (!fits) add(at, `'${operation}' is not a ${runtime} operation: one of ${Object.keys(kinds).join(", ")}`);
    else if (typeof action.kind === "string" && !fits.includes(action.kind)) add(at, `'${operation}' is a ${fits.join(" or ")} action, but kind is ${action.kind}`);
    else if (runtime === "database" && tables && Object.keys(tables).length > 0 && !allowedOn(operation)) {
      add(at, `no table allows '${operation}': add it to a table under database.tables`);
    }
  }
  return problems;
}

/** The quote's input is rendered from the action's input alone: it runs before any secret or output exists for it. */
function quoteTemplateProblems(input: unknown, path: PropertyKey[]): Array<{ path: PropertyKey[]; message: string }> {
  try {
    return collectRefs(input)
      .filter((ref) => ref.root !== "input")
      .map((ref) => ({ path, message: `template '{{ ${ref.path} }}' may only refer to input` }));
  } catch (error) {
    if (error instanceof TemplateError) return [{ path, message: error.message }];
    throw error;
  }
}

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestInput = z.input<typeof manifestSchema>;
export type ActionSpec = z.infer<typeof actionSchema>;
export type AuthSpec = z.infer<typeof authSchema>;
export type HttpSettings = z.infer<typeof httpSettingsSchema>;
export type ProcessSettings = z.infer<typeof processSettingsSchema>;
export type FilesSettings = z.infer<typeof filesSettingsSchema>;
export type DatabaseSettings = z.infer<typeof databaseSettingsSchema>;
export type EmailSettings = z.infer<typeof emailSettingsSchema>;
export type VercelSettings = z.infer<typeof vercelSettingsSchema>;
export type BuiltinOperation = NonNullable<ActionSpec["operation"]>;
export type HttpRequestSpecTemplate = z.infer<typeof httpRequestSchema>;
export type CostSpec = z.infer<typeof costSchema>;
export type RollbackSpec = z.infer<typeof rollbackSchema>;
export type PerUnitCostSpec = Extract<CostSpec, { perUnit: number }>;
export type QuoteCostSpec = Extract<CostSpec, { quote: unknown }>;
export type RiskLevel = z.infer<typeof riskSchema>;
export type Runtime = (typeof runtimes)[number];
export type ActionKind = ActionSpec["kind"];
