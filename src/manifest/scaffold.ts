/**
 * `toolctl new http|process|docker NAME`: a commented manifest to start from, which imports as it is; with a
 * curl command line (http only), its one action makes the request that line makes. Every credential found in
 * the curl line (the Authorization header, -u's password, API-key headers, query parameters, form and JSON fields
 * and cookies named like key, token, secret or password) becomes a `{{ secrets.NAME }}` reference and its value
 * is never written: the caller is told which secrets to set. The text is parsed back as a manifest before it
 * is returned, so what is written is known to import.
 */
import { isMap, isPair, isScalar, type Pair, type YAMLMap } from "yaml";
import { TOOL_NAME_PATTERN } from "../domain/name-patterns.js";
import { EXPRESSION } from "../domain/template.js";
import { UsageError } from "../errors.js";
import { curlMethod, parseCurl } from "./curl.js";
import { parseManifest } from "./load.js";
import { manifestYaml } from "./yaml-text.js";
import { clientOwnedHeader } from "../util/owned-headers.js";

export const SCAFFOLD_RUNTIMES = ["http", "process", "docker"] as const;
export type ScaffoldRuntime = (typeof SCAFFOLD_RUNTIMES)[number];

export interface ScaffoldOptions {
  runtime: string;
  name: string;
  /** A curl command line (http only). */
  fromCurl?: string;
  /** The file it will be written to, named in messages. */
  file?: string;
}

export interface Scaffold {
  /** The manifest, as YAML with comments. */
  text: string;
  /** The secrets its runs need, by name: to set with `toolctl secret set NAME` (or the environment, or .env). */
  secrets: string[];
  /** What the conversion left out or changed, for the person to check. */
  notes: string[];
}

/** Words of a name that mark a credential: `X-Api-Key`, `access_token`, `clientSecret`, `password`. */
const CREDENTIAL_WORDS = new Set([
  "key",
  "apikey",
  "token",
  "secret",
  "password",
  "passwd",
  "pwd",
  "pass",
  "passphrase",
  "auth",
  "authorization",
  "session",
  "sessionid",
  "sid",
  "sig",
  "signature",
  "credential",
  "credentials",
  "cookie",
  "jwt",
  "bearer",
  "otp",
]);

export function isCredentialName(name: string): boolean {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .some((word) => CREDENTIAL_WORDS.has(word));
}

/** Secret names for the values found, one per distinct value; `$VAR` in the curl line names its own. */
class Secrets {
  private readonly byValue = new Map<string, string>();
  readonly names: string[] = [];
  constructor(private readonly prefix: string) {}

  /** The secret standing for `value`, named `PREFIX_<what>` unless the value is a shell variable. */
  name(value: string, what: string): string {
    const known = this.byValue.get(value);
    if (known) return known;
    const variable = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$/.exec(value)?.[1];
    const base =
      variable ??
      `${this.prefix}_${
        what
          .toUpperCase()
          .replace(/[^A-Z0-9]+/g, "_")
          .replace(/^_+|_+$/g, "") || "SECRET"
      }`;
    let name = base;
    for (let n = 2; this.names.includes(name); n++) name = `${base}_${n}`;
    this.byValue.set(value, name);
    this.names.push(name);
    return name;
  }

  ref(value: string, what: string): string {
    return `{{ secrets.${this.name(value, what)} }}`;
  }
}

/** A Postman-style placeholder's name: `{{userId}}`. */
const PLACEHOLDER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Whether text holds a `{{ … }}` the template engine would read. */
const hasTemplate = (text: string) => new RegExp(EXPRESSION.source).test(text);

/**
 * A user name that must become a secret reference (auth.username takes text or secrets only): a `{{name}}`
 * placeholder, or a shell variable, which curl's shell would have expanded (`-u "$API_USER:$API_PASS"`).
 */
const unwrittenUser = (user: string) => hasTemplate(user) || /^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$/.test(user);

/**
 * Text from the curl line that goes where a manifest reads templates. Templates have no escape, so text is never
 * copied into one as it is: a Postman-style `{{name}}` becomes the input `{{ input.name }}` (a required string),
 * and any other `{{ … }}` is refused, since the manifest would fill it in where curl sends it as written.
 */
class Inputs {
  readonly names: string[] = [];

  /** Refuses any `{{ … }}` in `value` that is not a placeholder. */
  check(value: string): void {
    for (const match of value.matchAll(EXPRESSION)) if (!PLACEHOLDER.test(match[1] ?? "")) throw notPlaceholder();
  }

  text(value: string): string {
    return value.replace(EXPRESSION, (_, inner: string) => {
      if (!PLACEHOLDER.test(inner)) throw notPlaceholder();
      if (!this.names.includes(inner)) this.names.push(inner);
      return `{{ input.${inner} }}`;
    });
  }
}

const notPlaceholder = () =>
  new UsageError(
    "--from-curl: the curl line has {{ … }} text that is not a {{name}} placeholder: in a manifest it would be a template (templates have no escape), not the text curl sends; take it out of the line",
  );

/** A header's credential name, without an X- prefix: X-Api-Key → API_KEY. */
const headerWhat = (name: string) => name.replace(/^x-/i, "");

function pairs(text: string): Array<[string, string]> {
  return text
    .split("&")
    .filter((part) => part !== "")
    .map((part) => {
      const equals = part.indexOf("=");
      const decode = (s: string) => {
        try {
          return decodeURIComponent(s.replace(/\+/g, " "));
        } catch {
          return s;
        }
      };
      return equals === -1 ? [decode(part), ""] : [decode(part.slice(0, equals)), decode(part.slice(equals + 1))];
    });
}

/** Form pairs as a mapping: `a[b]=c` nests, a repeated name becomes a list. Anything ambiguous stays flat. */
function formObject(fields: Array<[string, string]>): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, value] of fields) {
    const path = /^([^[\]]+)((?:\[[^[\]]+\])+)$/.exec(key);
    const keys = path ? [path[1]!, ...[...path[2]!.matchAll(/\[([^[\]]+)\]/g)].map((m) => m[1]!)] : [key];
    let node: Record<string, unknown> = result;
    let flat = false;
    for (const part of keys.slice(0, -1)) {
      const next = node[part];
      if (next === undefined) node = node[part] = {} as Record<string, unknown>;
      else if (typeof next === "object" && next !== null && !Array.isArray(next)) node = next as Record<string, unknown>;
      else {
        flat = true;
        break;
      }
    }
    if (flat) node = result;
    const last = flat ? key : keys[keys.length - 1]!;
    const existing = node[last];
    if (existing === undefined) node[last] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else if (typeof existing === "string") node[last] = [existing, value];
    else node[key] = value;
  }
  return result;
}

/** Replaces every value under a credential-named key with a secret reference, at any depth; other text goes through `inputs`. */
function hideCredentials(value: unknown, secrets: Secrets, inputs: Inputs): unknown {
  if (Array.isArray(value)) return value.map((item) => hideCredentials(item, secrets, inputs));
  if (typeof value === "string") return inputs.text(value);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => {
      const hide = (one: unknown) => ((typeof one === "string" || typeof one === "number") && String(one) !== "" ? secrets.ref(String(one), key) : one);
      if (isCredentialName(key) && (typeof item === "string" || typeof item === "number")) return [key, hide(item)];
      // A repeated credential field (token=a&token=b) is a list: each value is hidden.
      if (isCredentialName(key) && Array.isArray(item))
        return [key, item.map((one) => (Array.isArray(one) || typeof one === "object" ? hideCredentials(one, secrets, inputs) : hide(one)))];
      return [key, hideCredentials(item, secrets, inputs)];
    }),
  );
}

/** Data that is url-encoded name=value pairs: `a=1&b=2`. */
const FORM_PAIRS = /^[^=&\s]+=[^&]*(&[^=&\s]+=[^&]*)*$/;

const KINDS: Record<string, string> = { GET: "read", HEAD: "read", OPTIONS: "read", POST: "create", PUT: "update", PATCH: "update", DELETE: "delete" };

function actionName(method: string, pathname: string): string {
  const segment = pathname
    .split("/")
    .filter((s) => s !== "" && !/^\d+$/.test(s) && !/^[0-9a-f-]{16,}$/i.test(s) && !hasTemplate(s))
    .pop();
  const words = (segment ? `${method}_${decodeURIComponentSafe(segment)}` : method).toLowerCase().replace(/[^a-z0-9]+/g, "_");
  return words.replace(/^_+|_+$/g, "").slice(0, 64) || "call";
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const isLoopbackOrPrivate = (host: string) =>
  host === "localhost" ||
  host.endsWith(".localhost") ||
  /^127\./.test(host) ||
  /^10\./.test(host) ||
  /^192\.168\./.test(host) ||
  /^172\.(1[6-9]|2\d|3[01])\./.test(host) ||
  host === "[::1]";

interface Built {
  manifest: Record<string, unknown>;
  comments: Array<[path: string[], text: string]>;
  header: string;
  notes: string[];
}

function fromCurl(name: string, line: string): Built {
  const request = parseCurl(line);
  const secrets = new Secrets(name.toUpperCase().replace(/[^A-Z0-9]+/g, "_"));
  const inputs = new Inputs();
  const notes = [...request.notes];
  const method = curlMethod(request);
  if (!KINDS[method]) {
    // Named only when it looks like a method: -X's value could be anything pasted there.
    const named = /^[A-Z][A-Z-]{0,19}$/.test(method) ? `method ${method}` : "the -X/--request method";
    throw new UsageError(`--from-curl: ${named}: toolctl sends GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS`);
  }
  const { url } = request;
  // The URL parser escapes braces in a path (`{{id}}` is `%7B%7Bid%7D%7D`): a placeholder there is read back.
  const pathname = url.pathname || "/";
  // Any other {{ … }} there is refused as it is elsewhere, though escaped it would be sent as written.
  inputs.check(pathname.replace(/%7B/gi, "{").replace(/%7D/gi, "}").replace(/%20/g, " "));
  const path = inputs.text(pathname.replace(/%7B%7B([A-Za-z_][A-Za-z0-9_]*)%7D%7D/gi, "{{$1}}"));
  let auth: Record<string, unknown> | undefined;
  const headers: Record<string, string> = {};
  const query: Record<string, unknown> = {};
  const cookies: Record<string, unknown> = {};
  let contentType: string | undefined;

  if (request.user !== undefined) {
    const colon = request.user.indexOf(":");
    const user = colon === -1 ? request.user : request.user.slice(0, colon);
    const password = colon === -1 ? undefined : request.user.slice(colon + 1);
    if (user === "") throw new UsageError("--from-curl: -u/--user (or the URL) gives an empty user name: toolctl's basic auth needs one");
    if (password === "") {
      // `-u KEY:` is an API key sent as the username (Stripe's examples): the username is the credential.
      auth = { type: "basic", username: secrets.ref(user, "api_key"), secret: secrets.name(`${user}\0password`, "password"), passwordOptional: true };
    } else {
      // Without a password curl would ask for one; either way it is a secret. auth.username takes only secrets:
      // a user name with {{ … }} in it (a placeholder) becomes one too.
      const username = unwrittenUser(user) ? secrets.ref(user, "username") : user;
      auth = { type: "basic", username, secret: secrets.name(password ?? `${user}\0password`, "password") };
    }
  }
  if (request.bearer !== undefined) auth ??= { type: "bearer", secret: secrets.name(request.bearer, "token") };

  for (const [header, value] of request.headers) {
    const lower = header.toLowerCase();
    const owned = clientOwnedHeader(header);
    if (owned !== undefined) {
      // A manifest may not name it: toolctl's client sets it (curl sets most of these itself too).
      notes.push(`the ${header} header is left out: toolctl's HTTP client sets it itself (${owned})`);
      continue;
    }
    if (lower === "content-type") {
      contentType = value;
      continue;
    }
    if (lower === "authorization" || lower === "proxy-authorization") {
      const [scheme, ...rest] = value.split(/\s+/);
      const credential = rest.join(" ");
      if (/^bearer$/i.test(scheme!) && credential !== "" && auth === undefined) {
        auth = { type: "bearer", secret: secrets.name(credential, "token") };
        continue;
      }
      if (/^basic$/i.test(scheme!) && credential !== "" && auth === undefined) {
        const decoded = Buffer.from(credential, "base64").toString("utf8");
        const colon = decoded.indexOf(":");
        if (colon > 0 && Buffer.from(decoded, "utf8").toString("base64").replace(/=+$/, "") === credential.replace(/=+$/, "")) {
          const username = decoded.slice(0, colon);
          auth = {
            type: "basic",
            username: unwrittenUser(username) ? secrets.ref(username, "username") : username,
            secret: secrets.name(decoded.slice(colon + 1), "password"),
          };
          continue;
        }
      }
      headers[header] =
        credential === ""
          ? secrets.ref(value, "authorization")
          : `${inputs.text(scheme!)} ${secrets.ref(credential, scheme!.toLowerCase() === "bearer" ? "token" : "authorization")}`;
      continue;
    }
    if (lower === "cookie") {
      request.cookies.push(value);
      continue;
    }
    if (isCredentialName(header) && value !== "") {
      if (auth === undefined) auth = { type: "api_key", in: "header", name: header, secret: secrets.name(value, headerWhat(header)) };
      else headers[header] = secrets.ref(value, headerWhat(header));
      continue;
    }
    headers[header] = inputs.text(value);
  }
  for (const text of request.cookies) {
    for (const part of text.split(";")) {
      const equals = part.indexOf("=");
      if (equals <= 0) continue;
      const cookie = part.slice(0, equals).trim();
      const value = part.slice(equals + 1).trim();
      // A cookie is how a session is carried: every value is treated as a credential.
      cookies[cookie] = value === "" ? "" : secrets.ref(value, `cookie_${cookie}`);
    }
  }

  const addQuery = (key: string, value: string) => {
    const hidden = isCredentialName(key) && value !== "";
    if (hidden && auth === undefined) {
      auth = { type: "api_key", in: "query", name: key, secret: secrets.name(value, key) };
      return;
    }
    const text = hidden ? secrets.ref(value, key) : inputs.text(value);
    const existing = query[key];
    query[key] = existing === undefined ? text : Array.isArray(existing) ? [...existing, text] : [existing, text];
  };
  for (const [key, value] of url.searchParams) addQuery(key, value);

  const request_: Record<string, unknown> = { method, path };
  const data = request.data.join(request.json ? "" : "&");
  if (request.data.length > 0 && request.get) {
    // curl appends -G data to the query as it is; only name=value pairs can become query parameters (whose
    // credentials are found by name). Anything else (JSON, text) is refused without repeating it.
    if (!FORM_PAIRS.test(data))
      throw new UsageError("--from-curl: -G/--get puts the data in the query, and only name=value pairs (a=1&b=2) can go there: this data is not");
    for (const [key, value] of pairs(data)) addQuery(key, value);
  } else if (request.data.length > 0) {
    const looksJson = request.json || /json/i.test(contentType ?? "") || (contentType === undefined && /^\s*[[{]/.test(data));
    let parsed: unknown;
    let isJson = false;
    if (looksJson) {
      try {
        parsed = JSON.parse(data);
        isJson = true;
      } catch {
        if (request.json) throw new UsageError("--from-curl: the --json body is not JSON");
      }
    }
    if (isJson) {
      request_.json = hideCredentials(parsed, secrets, inputs);
      if (contentType !== undefined && !/^application\/json\b/i.test(contentType)) headers["Content-Type"] = inputs.text(contentType);
      if (!request.json && contentType === undefined)
        notes.push("the body is JSON: it is sent as application/json (curl -d would have said application/x-www-form-urlencoded)");
    } else if ((contentType === undefined || /^application\/x-www-form-urlencoded\b/i.test(contentType)) && FORM_PAIRS.test(data)) {
      const form = hideCredentials(formObject(pairs(data)), secrets, inputs) as Record<string, unknown>;
      request_.form = form;
      // A repeated name goes as curl sent it, name=a&name=b, not in the brackets a form list gets by default.
      const repeated = Object.keys(form).filter((key) => Array.isArray(form[key]));
      if (repeated.length > 0) request_.styles = { form: Object.fromEntries(repeated.map((key) => [key, { style: "form", explode: true }])) };
    } else {
      request_.body = inputs.text(data);
      if (contentType !== undefined) headers["Content-Type"] = inputs.text(contentType);
      else headers["Content-Type"] = "application/x-www-form-urlencoded";
      notes.push("the body is sent as text, as written: check it for credentials, which are found only in JSON, forms, headers and the query");
    }
  } else if (contentType !== undefined) {
    headers["Content-Type"] = inputs.text(contentType);
  }
  if (request.json && headers.Accept === undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "accept")) headers.Accept = "application/json";
  if (Object.keys(query).length > 0) request_.query = query;
  if (Object.keys(headers).length > 0) request_.headers = headers;
  if (Object.keys(cookies).length > 0) request_.cookies = cookies;
  // Order as the manifest reference lists them: method, path, query, headers, cookies, then the body.
  const ordered: Record<string, unknown> = {};
  for (const key of ["method", "path", "query", "headers", "cookies", "styles", "json", "form", "body"])
    if (request_[key] !== undefined) ordered[key] = request_[key];

  const http: Record<string, unknown> = {};
  if (request.maxTime !== undefined) http.timeoutSeconds = request.maxTime;
  else http.timeoutSeconds = 30;
  if (url.protocol === "http:") http.allowPlainHttp = true;
  const host = url.hostname;
  if (isLoopbackOrPrivate(host)) {
    http.allowPrivateNetworks = true;
    notes.push(`${host} is a loopback or private address: http.allowPrivateNetworks is set for it`);
  }
  const action = actionName(method, path);
  if (inputs.names.length > 0)
    notes.push(
      `the line's {{name}} placeholders are the action's inputs: toolctl run ${name}.${action} ${inputs.names.map((input) => `-p ${input}=…`).join(" ")}`,
    );
  const manifest: Record<string, unknown> = {
    apiVersion: "toolctl/v1",
    name,
    version: "0.1.0",
    description: `${name}: calls ${url.host}`,
    tags: [],
    runtime: "http",
    baseUrl: url.origin,
    ...(auth ? { auth } : {}),
    http,
    actions: {
      [action]: {
        description: `${method} ${path}`,
        kind: KINDS[method],
        inputSchema:
          inputs.names.length > 0
            ? { type: "object", required: inputs.names, properties: Object.fromEntries(inputs.names.map((input) => [input, { type: "string" }])) }
            : { type: "object", properties: {} },
        request: ordered,
      },
    },
  };
  const comments: Array<[string[], string]> = [
    [["description"], " Say what the tool does, for the people who approve and run it."],
    [["runtime"], " http: every action is one HTTPS request to baseUrl (docs/runtimes.md)."],
    [["http"], " Calls go only to baseUrl's host (and http.allowedHosts); a slower answer fails after timeoutSeconds."],
    [
      ["actions", action, "inputSchema"],
      ' The input this action takes (JSON Schema). Refer to a field in the request as "{{ input.NAME }}" to\n make it a parameter: toolctl run NAME.ACTION --param NAME=value'.replace(
        /NAME\.ACTION/,
        `${name}.${action}`,
      ),
    ],
    [
      ["actions", action, "request"],
      ` The request the curl line made, sent as written here. A body goes under json: (an object), form: (fields)\n or body: (text); credentials are {{ secrets.NAME }} references${inputs.names.length > 0 ? ", the line's {{name}} placeholders inputs" : ""}.`,
    ],
  ];
  if (auth)
    comments.push([
      ["auth"],
      " The credential from the curl line: its value is not in this file. Set it with toolctl secret set (or the environment, or .env).",
    ]);
  return {
    manifest,
    comments,
    header: ` ${name}: an http tool made by \`toolctl new http ${name} --from-curl\` from a curl command line.\n Import it with: toolctl import <this file>; see docs/manifest.md for every field.`,
    notes,
  };
}

function template(runtime: ScaffoldRuntime, name: string): Built {
  const secret = `${name.toUpperCase().replace(/[^A-Z0-9]+/g, "_")}_TOKEN`;
  const base = { apiVersion: "toolctl/v1", name, version: "0.1.0", description: `${name}: what it does, for the people who approve and run it`, tags: [] };
  const echoSchema = { type: "object", required: ["message"], additionalProperties: false, properties: { message: { type: "string" } } };
  if (runtime === "http") {
    return {
      manifest: {
        ...base,
        runtime: "http",
        baseUrl: "https://api.example.com",
        auth: { type: "bearer", secret },
        http: { timeoutSeconds: 30 },
        actions: {
          get_item: {
            description: "Read one item by id",
            kind: "read",
            inputSchema: { type: "object", required: ["id"], additionalProperties: false, properties: { id: { type: "string" } } },
            request: { method: "GET", path: "/v1/items/{{ input.id }}" },
          },
          create_item: {
            description: "Create an item",
            kind: "create",
            inputSchema: { type: "object", required: ["name"], properties: { name: { type: "string" } } },
            request: { method: "POST", path: "/v1/items", json: { name: "{{ input.name }}" } },
            idempotencyKey: { header: "Idempotency-Key" },
          },
        },
      },
      comments: [
        [["runtime"], " http: every action is one HTTPS request to baseUrl (docs/runtimes.md)."],
        [["baseUrl"], " The API's address; calls go to its host only (add more in http.allowedHosts)."],
        [
          ["auth"],
          ` How each request proves who it is: bearer, basic, api_key (header or query) or none. The value is a\n secret, never written here: toolctl secret set ${secret} (or the environment, or .env).`,
        ],
        [["actions"], " One entry per thing the tool does; kind (read, create, update, delete) sets its default risk and retries."],
        [["actions", "get_item", "request"], " The request: method, path, query, headers and a body (json, form or body); {{ input.x }} is the input's x."],
        [["actions", "create_item", "idempotencyKey"], " Sent with the execution id, so a retried create is not done twice by APIs that honour it."],
      ],
      header: ` ${name}: an http tool, made by \`toolctl new http ${name}\`. Replace the example address and actions with the\n API's; see docs/manifest.md for every field. Import it with: toolctl import <this file>`,
      notes: [],
    };
  }
  const action = {
    description: "Echo the message back (replace with what your program does)",
    kind: "read",
    inputSchema: echoSchema,
    command: ["cat"],
  };
  if (runtime === "process") {
    return {
      manifest: { ...base, runtime: "process", process: { env: ["PATH", "LANG", "TZ"], timeoutSeconds: 30 }, actions: { run: action } },
      comments: [
        [["runtime"], " process: a program on this machine, run without a shell and confined (docs/runtimes.md)."],
        [["process", "env"], " Variables passed through from toolctl's environment; nothing else is, not even HOME."],
        [
          ["actions", "run", "command"],
          " The argv, each element a template: {{ input.x }}, and {{ tool.dir }} for this file's directory. The input\n arrives as JSON on stdin (stdin: none to send nothing); the program prints JSON (output: text for plain text).\n cat echoes the input back, so the tool runs as it is: toolctl run NAME.run --param message=hi".replace(
            "NAME",
            name,
          ),
        ],
      ],
      header: ` ${name}: a process tool, made by \`toolctl new process ${name}\`. Put your program in command; see\n docs/manifest.md for every field. Import it with: toolctl import <this file>`,
      notes: [],
    };
  }
  return {
    manifest: {
      ...base,
      runtime: "docker",
      image: "busybox:1.36",
      permissions: { network: false, memoryMb: 512, cpus: 0.5, pids: 256, storageMb: 100, timeoutSeconds: 30 },
      actions: { run: action },
    },
    comments: [
      [["runtime"], " docker: every run is a fresh, locked-down container of image (docs/runtimes.md)."],
      [["image"], " The image every action runs in, pulled when missing (unless docker.pull is false). Pin a tag or a digest."],
      [["permissions"], " The defaults: asking for more (network, memory, CPUs) leaves the tool pending until toolctl tool approve."],
      [
        ["actions", "run", "command"],
        " The argv inside the container (default: the image's own command); the input arrives as JSON on stdin,\n and the program prints JSON. cat echoes the input back.",
      ],
    ],
    header: ` ${name}: a docker tool, made by \`toolctl new docker ${name}\`. Put your image and command in; see\n docs/manifest.md for every field. Import it with: toolctl import <this file>`,
    notes: [],
  };
}

function render(built: Built): string {
  return manifestYaml(built.manifest, (doc) => {
    doc.commentBefore = built.header;
    for (const [path, text] of built.comments) {
      const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
      if (!isMap(parent)) continue;
      const pair = (parent as YAMLMap).items.find((item): item is Pair => isPair(item) && isScalar(item.key) && item.key.value === path[path.length - 1]);
      if (pair && isScalar(pair.key)) pair.key.commentBefore = text;
    }
  });
}

export function scaffoldManifest(options: ScaffoldOptions): Scaffold {
  if (!(SCAFFOLD_RUNTIMES as readonly string[]).includes(options.runtime)) {
    throw new UsageError(`RUNTIME: '${options.runtime}' is not one toolctl new writes; one of: ${SCAFFOLD_RUNTIMES.join(", ")}`);
  }
  const runtime = options.runtime as ScaffoldRuntime;
  if (!TOOL_NAME_PATTERN.test(options.name)) {
    throw new UsageError(
      `NAME: ${JSON.stringify(options.name)} is not a tool name: a lowercase letter, then lowercase letters, digits, '_' or '-', at most 63 characters`,
    );
  }
  if (options.fromCurl !== undefined && runtime !== "http") throw new UsageError(`--from-curl makes an http tool: it does not apply to ${runtime}`);
  const built = options.fromCurl !== undefined ? fromCurl(options.name, options.fromCurl) : template(runtime, options.name);
  const text = render(built);
  // What is written imports as it is: checked here, with the importer's own parser, which also lists the secrets
  // its runs need (an optional password is not one of them).
  const { secrets } = parseManifest(text, options.file ?? `${options.name}.yaml`);
  return { text, secrets, notes: built.notes };
}
