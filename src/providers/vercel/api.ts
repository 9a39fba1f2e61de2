/**
 * One JSON call to Vercel's or GitHub's REST API through the guarded HTTP client (net/client.ts: the
 * outbound policy, pinned DNS, no credential on a cross-origin redirect). A refusal becomes an ApiFailure in
 * the provider's own words: Vercel says `{"error": {"code", "message"}}`, GitHub `{"message", "errors": [...]}`.
 */
import type { ErrorCategory } from "../../domain/records.js";
import { HttpTransportError, sendHttp, type HttpResponse } from "../../net/client.js";
import type { OutboundPolicy } from "../../net/outbound-policy.js";
import { categoryForStatus } from "../../runners/http/runner.js";

export class ApiFailure extends Error {
  constructor(
    message: string,
    readonly category: ErrorCategory,
    /** The request may have reached the provider (a lost answer): what it did is unknown. */
    readonly mayHaveActed: boolean,
    readonly status?: number,
    readonly code?: string,
    readonly body?: unknown,
  ) {
    super(message);
  }
}

export interface ApiCall {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  url: string;
  headers: Record<string, string>;
  json?: unknown;
  body?: Buffer;
}

export interface ApiClient {
  policy: OutboundPolicy;
  timeoutMs: number;
  signal: AbortSignal;
}

function parse(response: HttpResponse): unknown {
  const text = response.body.toString("utf8");
  if (text === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    return text.trim().split("\n")[0];
  }
}

/** The provider's words and error code, from Vercel's and GitHub's error shapes. */
function providerError(body: unknown): { message?: string; code?: string } {
  if (typeof body === "string") return { message: body || undefined };
  if (body === null || typeof body !== "object") return {};
  const record = body as Record<string, unknown>;
  const error = record.error;
  if (error && typeof error === "object") {
    const { message, code } = error as Record<string, unknown>;
    return { message: typeof message === "string" ? message : undefined, code: typeof code === "string" ? code : undefined };
  }
  if (typeof record.message === "string") {
    // GitHub puts the reason for a 422 in errors[]: "name already exists on this account".
    const details = Array.isArray(record.errors)
      ? record.errors
          .map((e) => (e && typeof e === "object" ? ((e as Record<string, unknown>).message ?? (e as Record<string, unknown>).code) : e))
          .filter((e) => typeof e === "string")
      : [];
    return { message: details.length > 0 ? `${record.message} (${details.join("; ")})` : record.message };
  }
  return {};
}

export async function callApi(client: ApiClient, call: ApiCall): Promise<unknown> {
  const headers: Record<string, string> = { accept: "application/json", ...call.headers };
  let body: Buffer | string | undefined = call.body;
  if (call.json !== undefined) {
    body = JSON.stringify(call.json);
    headers["content-type"] = "application/json";
  }
  let response: HttpResponse;
  try {
    response = await sendHttp({ method: call.method, url: call.url, headers, body, timeoutMs: client.timeoutMs }, client.policy, { signal: client.signal });
  } catch (error) {
    if (error instanceof HttpTransportError) {
      throw new ApiFailure(`${call.method} ${new URL(call.url).pathname}: ${error.message}`, error.category, error.mayHaveBeenSent);
    }
    throw error;
  }
  const parsed = parse(response);
  if (response.status >= 200 && response.status < 300) return parsed;
  const { message, code } = providerError(parsed);
  const words = [code, message].filter((part) => part !== undefined && part !== "").join(": ") || `HTTP ${response.status}`;
  // Vercel refuses a bad token with 403 (not 401) and says so with `invalidToken: true`: that is authentication.
  const invalidToken = field(field(parsed, "error"), "invalidToken") === true;
  throw new ApiFailure(words, invalidToken ? "authentication" : categoryForStatus(response.status), response.status >= 500, response.status, code, parsed);
}

/** True when a JSON value is an object (a provider's answer) and reads one field of it. */
export function field<T = unknown>(value: unknown, key: string): T | undefined {
  return value !== null && typeof value === "object" ? ((value as Record<string, unknown>)[key] as T | undefined) : undefined;
}
