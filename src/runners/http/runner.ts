/**
 * The `http` runtime: renders the action's request template (path, query, headers, JSON or form body), adds
 * the tool's auth from secrets, checks the URL against the tool's outbound policy, and sends it through the
 * guarded client. Non-2xx statuses and transport failures map to error categories; a failure after the
 * request may have been written is `unknown` unless the action is safe to repeat.
 */
import type { RunContext, RunResult, Runner } from "../types.js";
import type { ErrorCategory } from "../../registry/executions.js";
import { renderText, renderValue, TemplateError } from "../../template/render.js";
import { HttpTransportError, sendHttp, type HttpResponse } from "./client.js";
import { checkUrl, parseAllowedDomains, type OutboundPolicy } from "./guard.js";

/** Stripe-style bracket encoding for nested form values: `metadata[order]=1`, `items[0][price]=p`. */
export function encodeForm(value: Record<string, unknown>): string {
  const params = new URLSearchParams();
  const add = (key: string, item: unknown): void => {
    if (item === undefined || item === null) return;
    if (Array.isArray(item)) item.forEach((entry, index) => add(`${key}[${index}]`, entry));
    else if (typeof item === "object") for (const [k, v] of Object.entries(item)) add(`${key}[${k}]`, v);
    else params.append(key, String(item));
  };
  for (const [key, item] of Object.entries(value)) add(key, item);
  return params.toString();
}

/** A path parameter is one segment: `..` would climb to another endpoint once the URL is normalised. */
function encodePathSegment(value: string): string {
  if (/^(\.|%2e){1,2}$/i.test(value)) throw new TemplateError(`request.path: ${JSON.stringify(value)} is not allowed as a path segment`);
  return encodeURIComponent(value);
}

export function categoryForStatus(status: number): ErrorCategory {
  if (status === 401) return "authentication";
  if (status === 403) return "authorization";
  if (status === 429) return "rate_limit";
  if (status === 408) return "timeout";
  if (status >= 500) return "server_error";
  if (status >= 400) return "validation";
  return "unknown";
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

function headerValue(response: HttpResponse, name: string): string {
  const value = response.headers[name];
  return Array.isArray(value) ? (value[0] ?? "") : (value ?? "");
}

export function outboundPolicy(context: Pick<RunContext, "tool" | "env">): OutboundPolicy {
  const { definition } = context.tool;
  const hosts = [definition.baseUrl, definition.sandboxBaseUrl].filter((u): u is string => !!u).map((u) => new URL(u).hostname);
  return {
    allowPlainHttp: definition.http?.allowPlainHttp ?? false,
    allowedHosts: [...hosts, ...(definition.http?.allowedHosts ?? []), ...parseAllowedDomains(context.env.TOOL_ALLOWED_DOMAINS)],
    allowPrivate: definition.http?.allowPrivateNetworks ?? false,
  };
}

export const httpRunner: Runner = {
  prepare(context) {
    const { tool, action, input, secrets } = context;
    const definition = tool.definition;
    const request = action.definition.request!;
    const scope = { input, secrets };

    const base = (context.sandbox && definition.sandboxBaseUrl ? definition.sandboxBaseUrl : definition.baseUrl!).replace(/\/+$/, "");
    const url = new URL(base + renderText(request.path, scope, "request.path", encodePathSegment));
    const query = renderValue(request.query, scope) as Record<string, unknown>;
    for (const [key, value] of Object.entries(query)) {
      for (const item of Array.isArray(value) ? value : [value]) {
        if (item !== undefined && item !== null) url.searchParams.append(key, typeof item === "object" ? JSON.stringify(item) : String(item));
      }
    }

    const headers: Record<string, string> = { accept: "application/json, text/plain;q=0.9, */*;q=0.5" };
    for (const [name, template] of Object.entries({ ...definition.http?.headers, ...request.headers })) {
      headers[name.toLowerCase()] = renderText(template, scope, `headers.${name}`);
    }
    const auth = definition.auth;
    // Headers that carry a secret: dropped if a redirect leaves the origin, like Authorization.
    const sensitiveHeaders = Object.entries({ ...definition.http?.headers, ...request.headers })
      .filter(([, template]) => /\{\{\s*secrets\./.test(template))
      .map(([name]) => name.toLowerCase());
    if (auth.type === "api_key" && auth.in === "header") sensitiveHeaders.push(auth.name.toLowerCase());
    if (auth.type === "bearer") headers.authorization = `Bearer ${secrets[auth.secret]}`;
    else if (auth.type === "basic") {
      const username = renderText(auth.username, scope, "auth.username");
      headers.authorization = `Basic ${Buffer.from(`${username}:${secrets[auth.secret]}`).toString("base64")}`;
    } else if (auth.type === "api_key") {
      if (auth.in === "query") url.searchParams.set(auth.name, secrets[auth.secret] ?? "");
      else headers[auth.name.toLowerCase()] = secrets[auth.secret] ?? "";
    }
    const idempotencyHeader = action.definition.idempotencyKey?.header;
    if (idempotencyHeader) headers[idempotencyHeader.toLowerCase()] = context.executionId;

    let body: string | undefined;
    let shownBody: unknown;
    if (request.json !== undefined) {
      shownBody = renderValue(request.json, scope);
      body = JSON.stringify(shownBody);
      headers["content-type"] ??= "application/json";
    } else if (request.form !== undefined) {
      shownBody = renderValue(request.form, scope);
      body = encodeForm(shownBody as Record<string, unknown>);
      headers["content-type"] ??= "application/x-www-form-urlencoded";
    } else if (request.body !== undefined) {
      body = renderText(request.body, scope, "request.body");
      shownBody = body;
    }

    const policy = outboundPolicy(context);
    checkUrl(url.toString(), policy);
    const timeoutSeconds = action.definition.timeoutSeconds ?? definition.http?.timeoutSeconds ?? 30;
    const repeatable = action.definition.idempotent ?? action.kind === "read";

    return {
      description: { runtime: "http", method: request.method, url: url.toString(), headers, body: shownBody, timeoutSeconds },
      async run(hooks): Promise<RunResult> {
        const started = Date.now();
        let response: HttpResponse;
        try {
          response = await sendHttp(
            { method: request.method, url: url.toString(), headers, body, timeoutMs: timeoutSeconds * 1000, sensitiveHeaders },
            policy,
            { signal: hooks.signal },
          );
        } catch (error) {
          // Node refuses malformed header names or values before anything is sent.
          if (/^ERR_INVALID_(CHAR|HTTP_TOKEN|HTTP_HEADER)/.test((error as NodeJS.ErrnoException).code ?? "")) {
            return { outcome: "failed", errorCategory: "validation", error: `invalid request: ${(error as Error).message}`, details: { sent: false } };
          }
          if (!(error instanceof HttpTransportError) && (error as Error).name !== "AbortError") throw error;
          const sent = (error as { mayHaveBeenSent?: boolean }).mayHaveBeenSent === true;
          const category: ErrorCategory = error instanceof HttpTransportError ? error.category : "unknown";
          const ambiguous = sent && !repeatable;
          const what = (error as Error).name === "AbortError" ? "interrupted" : (error as Error).message;
          return {
            outcome: ambiguous ? "unknown" : "failed",
            errorCategory: category,
            error: ambiguous
              ? `${what} after the request was sent: the action may have happened; check with the provider before retrying`
              : `${request.method} ${url.host}: ${what}`,
            details: { durationMs: Date.now() - started, sent },
          };
        }
        const details = { status: response.status, durationMs: Date.now() - started, redirects: response.redirects.length || undefined };
        const contentType = headerValue(response, "content-type");
        const text = response.body.toString("utf8");
        const wantsJson = request.response === "json" || (request.response === "auto" && /[/+]json\b/i.test(contentType));
        let parsed: unknown = text;
        if (wantsJson && text.length > 0) {
          try {
            parsed = JSON.parse(text);
          } catch {
            if (response.status < 300) {
              const error = `expected a JSON response but got ${contentType || "no content type"}: ${JSON.stringify(context.redact(text).trim().slice(0, 80))}`;
              // The provider accepted the request: a create that cannot be read back may still have happened.
              return repeatable
                ? { outcome: "failed", errorCategory: "validation", details, error }
                : { outcome: "unknown", errorCategory: "validation", details, error: `HTTP ${response.status}, but ${error}: the action probably happened; check before retrying` };
            }
          }
        }
        if (response.status >= 200 && response.status < 300) return { outcome: "succeeded", output: wantsJson || text.length > 0 ? parsed : null, details };
        const said = providerMessage(parsed);
        const error = `HTTP ${response.status}${said ? `: ${context.redact(said).slice(0, 300)}` : ""}`;
        // A 5xx may come after the provider acted (reliability.md §2.4): without a safe repeat, it is unknown.
        const unknown = response.status >= 500 && !repeatable;
        return {
          outcome: unknown ? "unknown" : "failed", errorCategory: categoryForStatus(response.status), output: parsed, details,
          error: unknown ? `${error}: the provider may have acted before failing; check before retrying` : error,
        };
      },
    };
  },
};
