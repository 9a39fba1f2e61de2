/**
 * The `http` runtime: renders the action's request template (path, query, headers, cookies, JSON or form body;
 * arrays and objects in their OpenAPI styles), adds the tool's auth from secrets, checks the URL against the
 * tool's outbound policy, and sends it through the guarded client. Non-2xx statuses and transport failures map
 * to error categories; a failure after the request may have been written is `unknown` unless the action is
 * safe to repeat.
 */
import type { RunContext, RunResult, Runner } from "../types.js";
import type { ErrorCategory } from "../../domain/records.js";
import type { ActionSpec, HttpRequestSpecTemplate } from "../../domain/manifest.js";
import { lookup, parseRefs, renderText, renderValue, TemplateError } from "../../domain/template.js";
import { EnvironmentError, PolicyError } from "../../errors.js";
import { HttpTransportError, sendHttp, type HttpResponse } from "../../net/client.js";
import { CircuitOpenError, circuitMessage, DEFAULT_BREAKER, DEFAULT_RETRY, RateLimitedError, sendResilient } from "./resilience.js";
import { checkUrl, parseAllowedDomains, type OutboundPolicy } from "../../net/outbound-policy.js";
import { joinBase, mergeQuery } from "./base-url.js";
import { pathSegmentProblem } from "./path-segment.js";
import { shownSigningHeaders, signingHeaders } from "./sign.js";
import { clientOwnedHeader } from "../../util/owned-headers.js";
import { decodeBody } from "./decode.js";
import { isXmlContentType, XML_TEXT_KEY, XmlError } from "./xml.js";
import { hasLoneSurrogate } from "../../util/unicode.js";

type ListStyle = NonNullable<NonNullable<HttpRequestSpecTemplate["styles"]>["query"]>[string];

/** One name=value pair of a query string or form before encoding; `values` are joined by `delimiter`. */
interface Pair {
  key: string;
  values: string[];
  delimiter: string;
}

const present = (value: unknown): boolean => value !== undefined && value !== null;
const scalarText = (value: unknown): string => (typeof value === "string" ? value : typeof value === "object" ? JSON.stringify(value) : String(value));
const DELIMITERS = { form: ",", spaceDelimited: " ", pipeDelimited: "|" } as const;

/** The style a manifest gives `name`, its own entry only: a field named `constructor` or `toString` has none. */
function styleOf<Style>(styles: Record<string, Style> | undefined, name: string): Style | undefined {
  return styles !== undefined && Object.hasOwn(styles, name) ? styles[name] : undefined;
}

/**
 * Text about to be percent-encoded as UTF-8. A lone UTF-16 surrogate (from a secret: the input is checked before)
 * is not valid Unicode: encodeURIComponent throws on it and URLSearchParams sends U+FFFD in its place. Refused,
 * naming where it would go; the value is not shown, as it may hold a secret.
 */
function encodable(text: string, where: string): string {
  if (hasLoneSurrogate(text)) throw new TemplateError(`${where}: the value has a lone UTF-16 surrogate, which is not valid Unicode text`);
  return text;
}

/** Bracket pairs for nested values: `metadata[order]=1`, `items[0][price]=p` (Stripe style, OpenAPI deepObject). */
function bracketPairs(key: string, value: unknown, into: Pair[] = []): Pair[] {
  if (!present(value)) return into;
  if (Array.isArray(value)) value.forEach((item, index) => bracketPairs(`${key}[${index}]`, item, into));
  else if (typeof value === "object") for (const [k, v] of Object.entries(value as object)) bracketPairs(`${key}[${k}]`, v, into);
  else into.push({ key, values: [String(value)], delimiter: "" });
  return into;
}

/** Without a style, a query array repeats its name and anything else that is not text goes as JSON. */
function plainQueryPairs(key: string, value: unknown): Pair[] {
  return (Array.isArray(value) ? value : [value]).filter(present).map((item) => ({ key, values: [scalarText(item)], delimiter: "" }));
}

/**
 * The pairs one value becomes in an OpenAPI style (form, spaceDelimited, pipeDelimited, deepObject).
 * Absent values, and empty lists that are not exploded, give no pair at all.
 */
function styledPairs(key: string, value: unknown, style: ListStyle | undefined, unstyled: (key: string, value: unknown) => Pair[]): Pair[] {
  if (!present(value)) return [];
  if (style === undefined) return unstyled(key, value);
  if (style.style === "deepObject") return bracketPairs(key, value);
  const explode = style.explode ?? style.style === "form";
  const delimiter = DELIMITERS[style.style];
  if (Array.isArray(value)) {
    const items = value.filter(present).map(scalarText);
    if (explode) return items.map((item) => ({ key, values: [item], delimiter }));
    return items.length > 0 ? [{ key, values: items, delimiter }] : [];
  }
  if (typeof value === "object") {
    const entries = Object.entries(value as object).filter(([, v]) => present(v));
    if (explode) return entries.map(([k, v]) => ({ key: k, values: [scalarText(v)], delimiter }));
    return entries.length > 0 ? [{ key, values: entries.flatMap(([k, v]) => [k, scalarText(v)]), delimiter }] : [];
  }
  return [{ key, values: [scalarText(value)], delimiter }];
}

/** application/x-www-form-urlencoded, as URLSearchParams writes it (a form of every secret the redactor knows). */
function formEncode(text: string, where: string): string {
  return encodeURIComponent(encodable(text, where))
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, "+");
}

/** A query pair: a style's delimiters stay literal between encoded items, and so do the brackets of deepObject names. */
function queryPair(pair: Pair, where: string): string {
  const key = formEncode(pair.key, where).replace(/%5B/g, "[").replace(/%5D/g, "]");
  return `${key}=${pair.values.map((value) => formEncode(value, where)).join(pair.delimiter === " " ? "%20" : pair.delimiter)}`;
}

/** A form body: values without a style use bracket encoding (`metadata[order]=1`, `items[0][price]=p`). */
export function encodeForm(value: Record<string, unknown>, styles: Record<string, ListStyle> = {}): string {
  const params = new URLSearchParams();
  for (const [key, item] of Object.entries(value)) {
    for (const pair of styledPairs(key, item, styleOf(styles, key), (k, v) => bracketPairs(k, v))) {
      const where = `request.form.${key}`;
      params.append(encodable(pair.key, where), encodable(pair.values.join(pair.delimiter), where));
    }
  }
  return params.toString();
}

/** A path parameter is one segment: `..` in any form a server may decode would climb to another endpoint. */
function pathSegmentEncoder(template: string, field: string): (value: string) => string {
  return (value) => {
    const problem = pathSegmentProblem(value);
    if (problem !== undefined)
      throw new TemplateError(`request.path ${JSON.stringify(template)}: ${field} ${JSON.stringify(value)} is not allowed as a path segment: ${problem}`);
    return encodeURIComponent(encodable(value, `request.path ${JSON.stringify(template)}: ${field}`));
  };
}

/** OpenAPI simple style (paths, headers): arrays `a,b`; objects `k,v`, or `k=v` exploded. Each piece goes through `encode`. */
function simpleText(value: unknown, explode: boolean, encode: (text: string) => string): string {
  if (Array.isArray(value))
    return value
      .filter(present)
      .map((item) => encode(scalarText(item)))
      .join(",");
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as object).filter(([, v]) => present(v));
    return entries.map(([k, v]) => `${encode(k)}${explode ? "=" : ","}${encode(scalarText(v))}`).join(",");
  }
  return encode(scalarText(value));
}

const EXPRESSION = /\{\{\s*([^{}]*?)\s*\}\}/g;
const WHOLE_EXPRESSION = /^\{\{\s*([^{}]*?)\s*\}\}$/;

function renderPath(template: string, scope: Record<string, unknown>): string {
  parseRefs(template);
  const rendered = template.replace(EXPRESSION, (_, path: string) => {
    const value = lookup(scope, path);
    const text = present(value) ? simpleText(value, false, pathSegmentEncoder(template, path)) : "";
    // An empty list would leave an empty segment, which addresses another endpoint (`/items/` for `/items/{ids}`).
    if (!present(value) || (text === "" && typeof value === "object")) throw new TemplateError(`request.path: '{{ ${path} }}' has no value`);
    return text;
  });
  // A value is one encoded segment (its `/` escaped), so the segments line up with the template's. One made of
  // parameters that came out empty, `.` or `..` (`{{ id }}` as "", `{{ a }}.{{ b }}` as ".") addresses another
  // endpoint: `/items/` for `/items/{{ id }}`.
  const wanted = template.split("/");
  rendered.split("/").forEach((segment, i) => {
    const source = wanted[i] ?? "";
    if (source.includes("{{") && (segment === "" || segment === "." || segment === "..")) {
      throw new TemplateError(
        `request.path ${JSON.stringify(template)}: the segment ${JSON.stringify(source)} came out ${segment === "" ? "empty" : JSON.stringify(segment)}, which addresses another endpoint`,
      );
    }
  });
  return rendered;
}

/** A header that is one `{{ ... }}` keeps its value's type: absent leaves the header out, a list is `a,b`. */
function renderHeader(name: string, template: string, scope: Record<string, unknown>, explode: boolean): string | undefined {
  const whole = WHOLE_EXPRESSION.exec(template);
  if (!whole) return renderText(template, scope, `headers.${name}`);
  parseRefs(template);
  const value = lookup(scope, whole[1]!);
  return present(value) ? simpleText(value, explode, (text) => text) : undefined;
}

/**
 * RFC 6265 cookie octets go as they are (a base64 token keeps its `=`); any other value is percent-encoded
 * whole, so that it takes a form the secret redactor knows.
 */
function cookieText(text: string, where: string): string {
  return /^[\x21\x23\x24\x26-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$/.test(text) ? text : encodeURIComponent(encodable(text, where));
}

/** OpenAPI form style for cookies: exploded, a list is one cookie per item and an object one cookie per field. */
function cookiePairs(name: string, value: unknown, explode: boolean): string[] {
  if (!present(value)) return [];
  const where = `request.cookies.${name}`;
  if (explode && Array.isArray(value)) return value.filter(present).map((item) => `${name}=${cookieText(scalarText(item), where)}`);
  if (explode && typeof value === "object")
    return Object.entries(value as object)
      .filter(([, v]) => present(v))
      .map(([k, v]) => `${k}=${cookieText(scalarText(v), where)}`);
  return [`${name}=${simpleText(value, false, (text) => cookieText(text, where))}`];
}

/** What HTTP/1.1 can carry in a header value (what Node sends): tab, printable ASCII and Latin-1. */
function headerCarries(value: string): boolean {
  return !/[^\t\x20-\x7e\x80-\xff]/.test(value);
}

export function categoryForStatus(status: number): ErrorCategory {
  if (status === 401) return "authentication";
  if (status === 403) return "authorization";
  if (status === 429) return "rate_limit";
  if (status === 408) return "timeout";
  if (status >= 500) return "server_error";
  if (status >= 400) return "validation";
  return "other";
}

/** The provider's own words, from the error shapes APIs commonly use. */
function providerMessage(body: unknown): string | undefined {
  if (typeof body === "string") return body.trim().split("\n")[0] || undefined;
  if (body === null || typeof body !== "object") return undefined;
  const record = body as Record<string, unknown>;
  const error = record.error;
  if (typeof error === "string") return typeof record.message === "string" ? `${error}: ${record.message}` : error;
  if (error && typeof error === "object" && typeof (error as Record<string, unknown>).message === "string") {
    return (error as Record<string, unknown>).message as string;
  }
  for (const key of ["message", "detail", "error_description", "title"]) {
    if (typeof record[key] === "string") return record[key] as string;
  }
  return undefined;
}

type FailWhen = NonNullable<ActionSpec["failWhen"]>;

/** Every value at a dotted path; a path through a list reads each item (XML elements that repeat are lists). */
function valuesAt(root: unknown, path: string): unknown[] {
  let current: unknown[] = [root];
  for (const segment of path.replace(/\[(\d+)\]/g, ".$1").split(".")) {
    const index = /^\d+$/.test(segment);
    current = current
      .flatMap((node) => (Array.isArray(node) && !index ? node : [node]))
      .map((node) => lookup({ node }, `node.${segment}`))
      .filter(present);
  }
  return current.flatMap((value) => (Array.isArray(value) ? value : [value]));
}

/** Text of a value: an XML element with attributes keeps its text under `-text`; JSON error objects say `message`. */
function textOf(value: unknown): string | undefined {
  if (typeof value === "string") return value.trim() || undefined;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    for (const key of [XML_TEXT_KEY, "message"]) if (typeof record[key] === "string") return (record[key] as string).trim() || undefined;
  }
  return undefined;
}

/** When `failWhen` matches the parsed answer: the provider's message, code and the category its code maps to. */
function providerFailure(failWhen: FailWhen, parsed: unknown): { message?: string; code?: string; category: ErrorCategory } | undefined {
  const scope = { output: parsed };
  if (!valuesAt(scope, failWhen.path).some((value) => textOf(value) === String(failWhen.equals))) return undefined;
  const messages = failWhen.message
    ? valuesAt(scope, failWhen.message)
        .map(textOf)
        .filter((m): m is string => m !== undefined)
    : [];
  const code = failWhen.code
    ? valuesAt(scope, failWhen.code)
        .map(textOf)
        .find((c) => c !== undefined)
    : undefined;
  return {
    message: messages.length > 0 ? messages.join("; ") : undefined,
    code,
    category: (code !== undefined ? failWhen.categories?.[code] : undefined) ?? "validation",
  };
}

function headerValue(response: HttpResponse, name: string): string {
  const value = response.headers[name];
  return Array.isArray(value) ? (value[0] ?? "") : (value ?? "");
}

/**
 * `Basic base64(user:password)`. The base64 text is registered with the redactor (with `user:password` itself)
 * before anything is sent: a server that echoes the header must not print a credential whose base64 does not
 * contain the password's own base64 (it does only for one username length in three). A username made from a
 * secret is registered too.
 */
function basicAuthorization(username: string, password: string, context: Pick<RunContext, "addSecret">, secretUsername: boolean): string {
  const pair = `${username}:${password}`;
  const token = Buffer.from(pair).toString("base64");
  if (secretUsername) context.addSecret(username);
  context.addSecret(pair);
  context.addSecret(token);
  return `Basic ${token}`;
}

/** The signature header's value (`sha256=<hex>`) and its hex alone, which a receiver may echo without the prefix. */
function registerSignature(value: string, context: Pick<RunContext, "addSecret">): void {
  context.addSecret(value);
  context.addSecret(value.slice(value.indexOf("=") + 1));
}

export function outboundPolicy(context: Pick<RunContext, "tool" | "env">): OutboundPolicy {
  const { definition } = context.tool;
  const bases = [definition.baseUrl, definition.sandboxBaseUrl].filter((u): u is string => !!u).map((u) => new URL(u));
  return {
    allowPlainHttp: definition.http?.allowPlainHttp ?? false,
    // The hosts on any port (for public addresses), and the origins: the only place a private address is reached.
    allowedHosts: [
      ...bases.map((u) => u.hostname),
      ...bases.map((u) => u.origin),
      ...(definition.http?.allowedHosts ?? []),
      ...parseAllowedDomains(context.env.TOOL_ALLOWED_DOMAINS),
    ],
    allowPrivate: definition.http?.allowPrivateNetworks ?? false,
  };
}

export const httpRunner: Runner = {
  prepare(context) {
    const { tool, action, input, secrets } = context;
    const definition = tool.definition;
    const request = action.definition.request!;
    const scope = { input, secrets };

    const styles = request.styles ?? {};

    // An action with a server of its own (an OpenAPI operation's `servers`) goes there, sandbox or not.
    const base = request.baseUrl ?? (context.sandbox && definition.sandboxBaseUrl ? definition.sandboxBaseUrl : definition.baseUrl!);
    // The base URL's own query goes after the path (below), not the path into it.
    const { url, baseQuery } = joinBase(base, renderPath(request.path, scope));
    const query = renderValue(request.query, scope) as Record<string, unknown>;
    let pairs: string[] = [];
    for (const [key, value] of Object.entries(query)) {
      for (const pair of styledPairs(key, value, styleOf(styles.query, key), plainQueryPairs)) pairs.push(queryPair(pair, `request.query.${key}`));
    }

    const headers: Record<string, string> = { accept: "application/json, text/plain;q=0.9, */*;q=0.5" };
    for (const [name, template] of Object.entries({ ...definition.http?.headers, ...request.headers })) {
      const value = renderHeader(name, template, scope, styleOf(styles.header, name)?.explode ?? false);
      if (value === undefined) continue;
      // Refused at import; a tool imported before may still name one, which a dry run would show and the client drop.
      const owned = clientOwnedHeader(name);
      if (owned !== undefined) {
        throw new TemplateError(
          `request.headers.${name}: a header the HTTP client sets itself (${owned}): a value given here would never be sent; remove it from the manifest and import it again`,
        );
      }
      // What HTTP/1.1 cannot carry in a header (what Node refuses to send): found here, so a dry run says it too,
      // and nothing is sent. The value is not shown: it may hold a secret.
      if (!headerCarries(value)) {
        throw new TemplateError(
          `request.headers.${name}: the value has characters a header cannot carry (a line break, a control character, or one beyond Latin-1 such as an emoji or CJK text); percent-encode it, or send it in the body`,
        );
      }
      headers[name.toLowerCase()] = value;
    }
    const cookies = Object.entries((renderValue(request.cookies ?? {}, scope) ?? {}) as Record<string, unknown>).flatMap(([name, value]) =>
      cookiePairs(name, value, styleOf(styles.cookie, name)?.explode ?? true),
    );
    if (cookies.length > 0) headers.cookie = [headers.cookie, ...cookies].filter((c) => c !== undefined && c !== "").join("; ");
    // An imported operation whose `security` differs from the tool's has an auth of its own (none included).
    const auth = action.definition.auth ?? definition.auth;
    // Headers that carry a secret: dropped if a redirect leaves the origin, like Authorization.
    const sensitiveHeaders = Object.entries({ ...definition.http?.headers, ...request.headers })
      .filter(([, template]) => /\{\{\s*secrets\./.test(template))
      .map(([name]) => name.toLowerCase());
    if (auth.type === "api_key" && auth.in === "header") sensitiveHeaders.push(auth.name.toLowerCase());
    // A credential a header cannot carry (a line break pasted with the key) is refused as a templated header is,
    // naming the secret and not its value.
    const authHeader = (name: string, value: string, secret: string): string => {
      if (headerCarries(value)) return value;
      throw new TemplateError(
        `auth: the value of the ${name} header has characters a header cannot carry (a line break, a control character, or one beyond Latin-1 such as an emoji or CJK text): check the secret ${secret}`,
      );
    };
    if (auth.type === "bearer") headers.authorization = authHeader("authorization", `Bearer ${secrets[auth.secret]}`, auth.secret);
    else if (auth.type === "basic") {
      const username = renderText(auth.username, scope, "auth.username");
      const password = auth.passwordOptional ? (context.optionalSecret(auth.secret) ?? "") : (secrets[auth.secret] ?? "");
      headers.authorization = basicAuthorization(username, password, context, /\{\{\s*secrets\./.test(auth.username));
    } else if (auth.type === "api_key") {
      if (auth.in === "query") {
        const key = queryPair({ key: auth.name, values: [""], delimiter: "" }, "auth.name");
        pairs = [
          ...pairs.filter((pair) => !pair.startsWith(key)),
          queryPair({ key: auth.name, values: [secrets[auth.secret] ?? ""], delimiter: "" }, `auth: the secret ${auth.secret}`),
        ];
      } else headers[auth.name.toLowerCase()] = authHeader(auth.name.toLowerCase(), secrets[auth.secret] ?? "", auth.secret);
    }
    // Built here rather than through searchParams, which would re-encode a style's literal delimiters.
    url.search = mergeQuery(baseQuery, [...url.search.slice(1).split("&"), ...pairs]);
    const idempotencyHeader = action.definition.idempotencyKey?.header;
    if (idempotencyHeader) headers[idempotencyHeader.toLowerCase()] = context.executionId;

    let body: string | undefined;
    let shownBody: unknown;
    // A form is shown as fields and, since its encoding depends on the styles, as the exact bytes sent.
    let encodedBody: string | undefined;
    // An optional body that the input leaves out is not sent, and neither is its content type.
    if (request.json !== undefined) {
      shownBody = renderValue(request.json, scope);
      if (shownBody !== undefined) {
        body = JSON.stringify(shownBody);
        headers["content-type"] ??= "application/json";
      }
    } else if (request.form !== undefined) {
      const fields = renderValue(request.form, scope);
      if (fields !== undefined) {
        if (fields === null || typeof fields !== "object" || Array.isArray(fields)) throw new TemplateError("request.form: must render to a mapping of fields");
        shownBody = fields;
        body = encodeForm(fields as Record<string, unknown>, styles.form);
        encodedBody = body;
        headers["content-type"] ??= "application/x-www-form-urlencoded";
      }
    } else if (request.body !== undefined) {
      body = renderText(request.body, scope, "request.body");
      shownBody = body;
    }

    // request.sign: the body is final here; each attempt is signed when it is sent (./sign.ts has the scheme).
    const sign = request.sign;
    const signed = sign
      ? () => {
          const signing = signingHeaders(sign, secrets[sign.secret]!, body ?? "");
          // A valid signature is a credential for as long as the receiver accepts its timestamp: never shown.
          registerSignature(signing[sign.header.toLowerCase()]!, context);
          return { ...headers, ...signing };
        }
      : undefined;
    if (sign) sensitiveHeaders.push(sign.header.toLowerCase());
    const shownHeaders = sign ? { ...headers, ...shownSigningHeaders(sign) } : headers;

    const policy = outboundPolicy(context);
    checkUrl(url.toString(), policy);
    const timeoutSeconds = action.definition.timeoutSeconds ?? definition.http?.timeoutSeconds ?? 30;
    const repeatable = action.definition.idempotent ?? action.kind === "read";

    const safeToRepeat = repeatable || idempotencyHeader !== undefined;
    const retrySettings = { ...DEFAULT_RETRY, ...definition.http?.retry };
    const breakerSettings = { ...DEFAULT_BREAKER, ...definition.http?.circuitBreaker };

    return {
      description: {
        runtime: "http",
        method: request.method,
        url: url.toString(),
        headers: shownHeaders,
        body: shownBody,
        ...(encodedBody !== undefined ? { encodedBody } : {}),
        timeoutSeconds,
        retries: safeToRepeat
          ? `up to ${retrySettings.attempts - 1} on network errors, 429 and 5xx${idempotencyHeader ? `, with the same ${idempotencyHeader}` : ""}`
          : "none (not idempotent and no idempotency key)",
      },
      async preflight() {
        // An open circuit refuses before anyone is asked and before anything is sent.
        const refusal = await context.callLimits?.circuitRefusal(breakerSettings);
        if (refusal) throw new PolicyError("policy_refused", circuitMessage(tool.name, breakerSettings, refusal));
      },
      async run(hooks): Promise<RunResult> {
        const started = Date.now();
        let response: HttpResponse;
        let attempts = 1;
        let record: (() => Promise<void>) | undefined;
        let warnings: string[] = [];
        const after = async () => {
          try {
            await record?.();
          } catch (error) {
            throw new Error(`the circuit breaker of tool ${tool.name} could not count this call: ${(error as Error).message}`, { cause: error });
          }
        };
        try {
          ({ response, attempts, warnings, record } = await sendResilient({
            send: (signal) =>
              sendHttp(
                { method: request.method, url: url.toString(), headers: signed ? signed() : headers, body, timeoutMs: timeoutSeconds * 1000, sensitiveHeaders },
                policy,
                { signal },
              ),
            safeToRepeat,
            retry: retrySettings,
            breaker: breakerSettings,
            timeoutMs: timeoutSeconds * 1000,
            callLimits: context.callLimits,
            signal: hooks.signal,
            tool: tool.name,
          }));
        } catch (error) {
          ({ attempts = attempts, warnings = warnings, record } = error as { attempts?: number; warnings?: string[]; record?: () => Promise<void> });
          if (error instanceof CircuitOpenError || error instanceof RateLimitedError) {
            return {
              outcome: "failed",
              errorCategory: error instanceof RateLimitedError ? "rate_limit" : "server_error",
              error: error.message,
              details: { sent: false },
              declined: true,
              after,
            };
          }
          // The registry could not take the trial lease or the first rate slot: nothing was sent.
          if (error instanceof EnvironmentError) {
            return {
              outcome: "failed",
              errorCategory: "environment",
              error: `${request.method} ${url.host}: nothing was sent: ${error.message}`,
              details: { sent: false },
              nothingRan: true,
              after,
            };
          }
          // Node refuses malformed header names or values before anything is sent.
          if (/^ERR_INVALID_(CHAR|HTTP_TOKEN|HTTP_HEADER)/.test((error as NodeJS.ErrnoException).code ?? "")) {
            return { outcome: "failed", errorCategory: "validation", error: `invalid request: ${(error as Error).message}`, details: { sent: false }, after };
          }
          if (!(error instanceof HttpTransportError) && (error as Error).name !== "AbortError") throw Object.assign(error as Error, { after });
          const sent = (error as { mayHaveBeenSent?: boolean }).mayHaveBeenSent === true;
          const category: ErrorCategory = error instanceof HttpTransportError ? error.category : "other";
          const ambiguous = sent && !repeatable;
          const what = (error as Error).name === "AbortError" ? "interrupted" : (error as Error).message;
          return {
            outcome: ambiguous ? "unknown" : "failed",
            errorCategory: category,
            error: ambiguous
              ? `${what} after the request was sent: the action may have happened; check with the provider before retrying`
              : `${request.method} ${url.host}: ${what}`,
            details: { durationMs: Date.now() - started, sent, attempts },
            warnings,
            after,
          };
        }
        // What the answer means; the call is counted (after) whatever it says, once the outcome is on record.
        const interpret = (): RunResult => {
          const details = {
            status: response.status,
            durationMs: Date.now() - started,
            redirects: response.redirects.length || undefined,
            attempts: attempts > 1 ? attempts : undefined,
          };
          const contentType = headerValue(response, "content-type");
          const wantsJson = request.response === "json" || (request.response === "auto" && /[/+]json\b/i.test(contentType));
          const wantsXml = request.response === "xml" || (request.response === "auto" && isXmlContentType(contentType));
          // In the charset the answer declares; what cannot be read so is said in a warning.
          const decoded = decodeBody(response.body, contentType, wantsXml);
          const text = decoded.text;
          warnings = [...warnings, ...decoded.warnings];
          // No body (a 204, a HEAD, an empty 200 under any content type, or a byte order mark alone) is no output:
          // null, never "".
          let parsed: unknown = text === "" ? null : text;
          if ((wantsJson || wantsXml) && text.length > 0) {
            try {
              parsed = wantsXml ? xmlToJson!(text) : JSON.parse(text);
            } catch (parseError) {
              if (!wantsXml || parseError instanceof XmlError) {
                if (response.status < 300) {
                  const expected = wantsXml ? `an XML response (${(parseError as Error).message})` : "a JSON response";
                  const error = `expected ${expected} but got ${contentType || "no content type"}: ${JSON.stringify(context.redact(text).trim().slice(0, 80))}`;
                  // The provider accepted the request: a create that cannot be read back may still have happened.
                  return repeatable
                    ? { outcome: "failed", errorCategory: "validation", details, error }
                    : {
                        outcome: "unknown",
                        errorCategory: "validation",
                        details,
                        error: `HTTP ${response.status}, but ${error}: the action probably happened; check before retrying`,
                      };
                }
              } else throw parseError;
            }
          }
          const failWhen = action.definition.failWhen;
          const failure = failWhen ? providerFailure(failWhen, parsed) : undefined;
          if (response.status >= 200 && response.status < 300) {
            if (!failure) return { outcome: "succeeded", output: parsed, details };
            // The provider answered 2xx but said in the body that it refused: a definite failure, in its own words.
            return {
              outcome: "failed",
              errorCategory: failure.category,
              output: parsed,
              details,
              error: context
                .redact(
                  `${failure.message ?? `${failWhen!.path} is ${JSON.stringify(failWhen!.equals)}`}${failure.code !== undefined ? ` (error ${failure.code})` : ""}`,
                )
                .slice(0, 300),
            };
          }
          const said = failure?.message ?? providerMessage(parsed);
          const error = `HTTP ${response.status}${said ? `: ${context.redact(said).slice(0, 300)}` : ""}`;
          // A 5xx may come after the provider acted (reliability.md §2.4): without a safe repeat, it is unknown.
          const unknown = response.status >= 500 && !repeatable;
          return {
            outcome: unknown ? "unknown" : "failed",
            errorCategory: categoryForStatus(response.status),
            output: parsed,
            details,
            error: unknown ? `${error}: the provider may have acted before failing; check before retrying` : error,
          };
        };
        // The XML parser is loaded only for an XML answer.
        const xmlToJson =
          request.response === "xml" || (request.response === "auto" && isXmlContentType(headerValue(response, "content-type")))
            ? (await import("./xml-parse.js")).xmlToJson
            : undefined;
        try {
          // interpret() adds what reading the body warns of.
          const result = interpret();
          return { ...result, warnings, after };
        } catch (error) {
          throw Object.assign(error as Error, { after });
        }
      },
    };
  },
};
