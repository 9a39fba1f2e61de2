/**
 * Messages the SDK cannot route, and the JSON-RPC 2.0 error each gets. The SDK's transports parse every message
 * against its JSON-RPC schema: over stdio, one that fails is dropped before any handler (the client waits until its
 * own timeout); over HTTP, it is answered -32700 (parse error) although it was JSON. Both doors check a message
 * here first and answer as JSON-RPC says:
 *
 * - not JSON: -32700 (parse error), id null;
 * - JSON, but not a JSON-RPC 2.0 request, notification or response: -32600 (invalid request), with the message's id
 *   when it has one that can be read (a string or a number), else id null;
 * - a request valid but for `params` that is a list: -32602 (invalid params), since every MCP method takes its
 *   parameters by name (an object). A notification so made is valid JSON-RPC, which never answers a notification.
 *
 * Every one is refused and on record (`mcp.refused`, reason "malformed message: ..."); nothing runs.
 */
import { ErrorCode, JSONRPCMessageSchema, type JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

/** A message refused before the SDK saw it. */
export interface Refusal {
  /** The JSON-RPC error code: ParseError, InvalidRequest or InvalidParams. */
  code: number;
  /** The error's message, for the client. */
  message: string;
  /** The id the answer carries: the message's own when it can be read, else null. */
  id: string | number | null;
  /** False for a notification: JSON-RPC never answers one (it is still on record). */
  answer: boolean;
  /** Why, for the audit log (after "malformed message: "). */
  reason: string;
}

const REQUEST_KEYS = new Set(["jsonrpc", "id", "method", "params"]);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** As the SDK's schema reads an id: text, or an integer a double holds exactly (within ±(2^53 − 1)). */
function isRequestId(value: unknown): boolean {
  return typeof value === "string" || Number.isSafeInteger(value);
}

/** The refusal of a message that is not JSON. */
export function notJson(what: string): Refusal {
  return { code: ErrorCode.ParseError, message: `Parse error: ${what} is not JSON`, id: null, answer: true, reason: `${what} is not JSON` };
}

/** The refusal of a message over `limit` bytes. */
export function tooLarge(what: string, limit: number): Refusal {
  return {
    code: ErrorCode.InvalidRequest,
    message: `Invalid Request: ${what} is over ${limit} bytes`,
    id: null,
    answer: true,
    reason: `${what} is over the size limit`,
  };
}

function invalidRequest(why: string, id: string | number | null = null): Refusal {
  return { code: ErrorCode.InvalidRequest, message: `Invalid Request: ${why}`, id, answer: true, reason: why };
}

/** Why `value`, an object the SDK's schema refused, is not a JSON-RPC 2.0 message. */
function whyInvalid(value: Record<string, unknown>): string {
  if (value.jsonrpc !== "2.0") return '"jsonrpc" must be "2.0"';
  if ("method" in value) {
    if (typeof value.method !== "string") return '"method" must be text';
    if ("id" in value && !isRequestId(value.id)) return '"id" must be text or an integer (within ±9007199254740991)';
    if ("params" in value && !isObject(value.params)) return '"params" must be an object';
    const other = Object.keys(value).find((key) => !REQUEST_KEYS.has(key));
    if (other !== undefined) return `a request has no member ${JSON.stringify(other)}`;
    return '"params" does not fit the protocol (its "_meta")';
  }
  if ("result" in value || "error" in value) return "not a valid response (an id, and a result object or an error)";
  return 'not a request, a notification nor a response: it has no "method"';
}

/**
 * Why a parsed JSON value is not a message the SDK would route, with the answer it gets; undefined when it is one.
 * `batch` says whether a JSON array (a batch) may hold messages; an empty one, or one holding a message that is
 * not one, is refused as a whole.
 */
export function checkMessage(value: unknown, batch: boolean): Refusal | undefined {
  if (Array.isArray(value)) {
    if (!batch) return invalidRequest("a batch (a JSON array) is not accepted here: send one message per line");
    if (value.length === 0) return invalidRequest("an empty batch");
    for (const [index, item] of value.entries()) {
      const refusal = checkMessage(item, false);
      if (refusal) return invalidRequest(`message ${index + 1} of the batch: ${refusal.reason}`);
    }
    return undefined;
  }
  if (!isObject(value)) return invalidRequest("a message must be a JSON object");
  if (JSONRPCMessageSchema.safeParse(value).success) return undefined;
  // A response's id names a request of this server's own: an answer to it could be taken for another answer.
  const isResponse = !("method" in value) && ("result" in value || "error" in value);
  const id = !isResponse && (typeof value.id === "string" || (typeof value.id === "number" && Number.isFinite(value.id))) ? value.id : null;
  if (Array.isArray(value.params) && JSONRPCMessageSchema.safeParse({ ...value, params: {} }).success) {
    const why = '"params" must be an object (MCP takes parameters by name), not a list';
    return { code: ErrorCode.InvalidParams, message: `Invalid params: ${why}`, id, answer: "id" in value, reason: why };
  }
  return invalidRequest(whyInvalid(value), id);
}

/** The JSON-RPC error response to a refused message (id null when it had none that could be read). */
export function errorResponse(refusal: Refusal): JSONRPCMessage {
  // JSON-RPC's id null: the SDK's type has the id optional instead, and its schema is not what the client reads.
  return { jsonrpc: "2.0", id: refusal.id, error: { code: refusal.code, message: refusal.message } } as unknown as JSONRPCMessage;
}
