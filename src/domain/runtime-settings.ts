/**
 * What a tool declares for its runtime: how its requests authenticate, and the settings block of each runtime
 * (http, process, files, database, email, vercel), with the sandbox a process or docker tool asks for.
 */
import { z } from "zod";
import { DEFAULT_PERMISSIONS as P } from "./permissions.js";
import { byteLimit, localPath, localPathRef, secretName, seconds, SECRET_NAME_PATTERN, stringMap } from "./manifest-fields.js";
import { OWN_NAME_PATTERN, OWN_NAME_PROBLEM } from "./name-patterns.js";

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

export const processSettingsSchema = z.strictObject({
  /** Names of environment variables passed through from toolctl's own environment. Nothing else is. */
  env: z
    .array(
      z
        .string()
        .regex(SECRET_NAME_PATTERN, { abort: true })
        .refine((name) => !OWN_NAME_PATTERN.test(name), { error: (issue) => `${String(issue.input)} ${OWN_NAME_PROBLEM}` }),
    )
    .default(["PATH", "LANG", "TZ"]),
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

// Built-in runtimes.
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
    z
      .string()
      .min(1)
      .refine((name) => !/^sqlite_/i.test(name) && !name.includes("\0"), "a table of your own (sqlite_ tables belong to SQLite)"),
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
  host: z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9.:\[\]-]+$/, "a host name or IP address"),
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
  teamId: z
    .string()
    .regex(/^team_[A-Za-z0-9]+$/, "a team id such as team_a1B2c3")
    .optional(),
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

const IMAGE_REFERENCE = "an image reference such as toolctl-examples/calculator:1 or registry.example.com:5000/team/tool:2";

/**
 * Image references as docker accepts them: [registry/]name[:tag][@sha256:digest], with no `..` or empty path
 * component. One problem for a bad reference: the second check runs only when the first passed.
 */
export const imageReference = z
  .string()
  .regex(/^([A-Za-z0-9.-]+(:[0-9]{1,5})?\/)?[a-z0-9][a-z0-9._\/-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/, {
    message: IMAGE_REFERENCE,
    abort: true,
  })
  .refine((image) => !image.includes("..") && !image.includes("//"), IMAGE_REFERENCE);

export type AuthSpec = z.infer<typeof authSchema>;
export type HttpSettings = z.infer<typeof httpSettingsSchema>;
export type ProcessSettings = z.infer<typeof processSettingsSchema>;
export type FilesSettings = z.infer<typeof filesSettingsSchema>;
export type DatabaseSettings = z.infer<typeof databaseSettingsSchema>;
export type EmailSettings = z.infer<typeof emailSettingsSchema>;
export type VercelSettings = z.infer<typeof vercelSettingsSchema>;
