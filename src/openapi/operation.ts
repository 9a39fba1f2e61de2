/**
 * One operation → one action: its input schema (every parameter and the body in one object), the request
 * template that puts each input where the operation wants it, its output schema, kind and risk.
 *
 * Input names: a parameter is its own name with characters a template cannot name turned into `_`
 * (`page[size]` → `page_size`). The body is `body`. When two parameters arrive at the same name, the first in
 * the order path, query, header, cookie keeps it and the other is prefixed with its location (`query_id`).
 */
import { openApiBody, swaggerBody, type BodyInput } from "./body.js";
import { type ConvertContext, Unsupported } from "./context.js";
import type { OperationRef } from "./operations.js";
import { convertParameter, isSuppliedElsewhere, mergeParameters, type ParamInput, type RawParameter } from "./parameters.js";
import { isRecord } from "./refs.js";
import { clientOwnedHeader } from "../util/owned-headers.js";
import { setOwn } from "../util/own.js";
import { outputSchema } from "./responses.js";
import type { JsonSchema } from "./schema.js";
import { serverUrls, type BaseUrlChoice } from "./servers.js";

export interface ActionDraft {
  /** The action without its schemas, which are emitted once every definition is known. */
  action: Record<string, unknown>;
  input: JsonSchema;
  output?: JsonSchema;
}

const KINDS: Record<string, string> = { get: "read", head: "read", options: "read", post: "create", put: "update", patch: "update", delete: "delete" };
const LOCATIONS = ["path", "query", "header", "cookie"] as const;
const MAX_DESCRIPTION = 300;

function describe(op: OperationRef): string {
  const node = op.operation.node;
  const text = [node.summary, node.description].find((t): t is string => typeof t === "string" && t.trim() !== "");
  let line = text
    ? text
        .trim()
        .split(/\n\s*\n/)[0]!
        .replace(/\s+/g, " ")
    : op.identity;
  if (line.length > MAX_DESCRIPTION) line = `${line.slice(0, MAX_DESCRIPTION - 1)}…`;
  return node.deprecated === true ? `(deprecated) ${line}` : line;
}

/** An input property name a template can refer to: `{{ input.<name> }}`. */
function propertyName(wire: string): string {
  return wire.replace(/^[^A-Za-z0-9_-]+|[^A-Za-z0-9_-]+$/g, "").replace(/[^A-Za-z0-9_-]+/g, "_");
}

function listOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** The parameters that are inputs, with the operation's Idempotency-Key header, if it has one, set apart. */
function inputParameters(raw: RawParameter[], identity: string, ctx: ConvertContext): { params: ParamInput[]; idempotencyHeader?: string } {
  const params: ParamInput[] = [];
  let idempotencyHeader: string | undefined;
  for (const param of raw) {
    const where = String(param.node.in);
    if (ctx.spec.dialect === "swagger2" && (where === "body" || where === "formData")) continue; // the body
    if (!(LOCATIONS as readonly string[]).includes(where)) {
      ctx.warn(`parameter "${String(param.node.name)}" in "${where}" is ignored`, identity);
      continue;
    }
    if (isSuppliedElsewhere(param, ctx)) continue;
    const owned = where === "header" ? clientOwnedHeader(String(param.node.name)) : undefined;
    if (owned !== undefined) {
      // An input the client would drop: a dry run would show a header that is never sent.
      ctx.warn(
        `header parameter "${String(param.node.name)}" is left out: the HTTP client sets it itself (${owned}), so a value given here would never be sent`,
        identity,
      );
      continue;
    }
    if (where === "header" && String(param.node.name).toLowerCase() === "idempotency-key") {
      idempotencyHeader = String(param.node.name);
      continue;
    }
    try {
      params.push(convertParameter(param, ctx));
    } catch (error) {
      if (!(error instanceof Unsupported) || param.node.in === "path" || param.node.required === true) throw error;
      ctx.warn(`optional ${error.message}; it is left out`, identity);
    }
  }
  return { params, idempotencyHeader };
}

/** Path parameters as the path names them: undeclared ones become required strings, unused ones are dropped. */
function reconcilePath(op: OperationRef, params: ParamInput[], ctx: ConvertContext): ParamInput[] {
  const inPath = [...op.path.matchAll(/\{([^{}]+)\}/g)].map((m) => m[1]!);
  const declared = new Set(params.filter((p) => p.location === "path").map((p) => p.wire));
  const kept = params.filter((p) => {
    if (p.location !== "path" || inPath.includes(p.wire)) return true;
    ctx.warn(`path parameter "${p.wire}" is not in the path; it is left out`, op.identity);
    return false;
  });
  for (const name of inPath) {
    if (declared.has(name)) continue;
    ctx.warn(`path parameter "${name}" is not declared; it is taken as a required string`, op.identity);
    kept.push({ location: "path", wire: name, schema: { type: "string" }, required: true, style: { style: "form", explode: false }, kind: "primitive" });
  }
  return kept;
}

function requestBody(op: OperationRef, rawParams: RawParameter[], ctx: ConvertContext): BodyInput | undefined {
  if (ctx.spec.dialect !== "swagger2") {
    const node = op.operation.node.requestBody;
    return openApiBody(node === undefined ? undefined : { node, url: op.operation.url, pointer: `${op.operation.pointer}/requestBody` }, op.identity, ctx);
  }
  const consumes = op.operation.node.consumes !== undefined ? listOf(op.operation.node.consumes) : listOf(ctx.spec.root.consumes);
  const bodyParam = rawParams.find((p) => p.node.in === "body");
  const formParams = rawParams.filter((p) => p.node.in === "formData");
  return swaggerBody(bodyParam, formParams, consumes, op.identity, ctx);
}

export function convertOperation(op: OperationRef, toolContext: ConvertContext, base: BaseUrlChoice): ActionDraft {
  // An operation whose `security` differs sends its own auth, and the parameter that one fills in is not an input.
  const own = toolContext.operationAuth?.(op.operation.node.security) ?? {};
  const ctx = own.auth ? { ...toolContext, suppliedParam: own.suppliedParam } : toolContext;
  const kind = KINDS[op.method];
  if (kind === undefined) throw new Unsupported(`${op.method.toUpperCase()} is not supported by the http runner`);
  // Servers of its own: the requests go there, never to the tool's base URL (not even one given on the command line).
  const servers = op.operation.node.servers ?? op.pathItem.node.servers;
  let ownBase: string | undefined;
  if (Array.isArray(servers) && servers.length > 0) {
    const first = serverUrls(servers, ctx.spec)[0];
    if (first === undefined)
      throw new Unsupported(`its own server ${JSON.stringify((servers[0] as Record<string, unknown>)?.url)} is not an absolute http(s) URL`);
    if ("problem" in first) throw new Unsupported(`its own ${first.problem}`);
    if (first.warning) ctx.warn(first.warning, op.identity);
    ownBase = first.url;
    if (ownBase === base.baseUrl || ownBase === base.specBaseUrl) ownBase = undefined;
    else if (base.isGiven) ctx.warn("it has a server of its own and is sent there, not to the given base URL", op.identity);
  }

  const rawParams = mergeParameters(
    [
      { node: op.pathItem.node.parameters, url: op.pathItem.url, pointer: `${op.pathItem.pointer}/parameters` },
      { node: op.operation.node.parameters, url: op.operation.url, pointer: `${op.operation.pointer}/parameters` },
    ],
    ctx,
  );
  const { params: declared, idempotencyHeader } = inputParameters(rawParams, op.identity, ctx);
  const params = reconcilePath(op, declared, ctx);
  const body = requestBody(op, rawParams, ctx);

  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  const taken = new Set<string>(body ? ["body"] : []);
  const request: Record<string, unknown> = { method: op.method.toUpperCase() };
  if (ownBase !== undefined) request.baseUrl = ownBase;
  const query: Record<string, string> = {};
  const headers: Record<string, string> = {};
  const cookies: Record<string, string> = {};
  const styles: Record<string, Record<string, unknown>> = {};
  const pathNames = new Map<string, string>();
  for (const location of LOCATIONS) {
    for (const param of params.filter((p) => p.location === location)) {
      const base = propertyName(param.wire) || location;
      let name = taken.has(base) ? `${location}_${base}` : base;
      for (let n = 2; taken.has(name); n++) name = `${location}_${base}_${n}`;
      taken.add(name);
      setOwn(properties, name, param.schema);
      if (param.required) required.push(name);
      const template = `{{ input.${name} }}`;
      const { style, explode } = param.style;
      const isPrimitive = param.kind === "primitive";
      if (location === "path") pathNames.set(param.wire, name);
      else if (location === "query") {
        setOwn(query, param.wire, template);
        // Without a style the runner repeats an array's name and sends an object as JSON.
        if (!isPrimitive && !(param.kind === "array" && style === "form" && explode)) setOwn((styles.query ??= {}), param.wire, { style, explode });
      } else if (location === "header") {
        setOwn(headers, param.wire, template);
        if (!isPrimitive && explode) setOwn((styles.header ??= {}), param.wire, { explode });
      } else {
        setOwn(cookies, param.wire, template);
        if (!isPrimitive && !explode) setOwn((styles.cookie ??= {}), param.wire, { explode });
      }
    }
  }
  // Some specs tell apart operations on one URL with a fragment (`/#Action=AddTags`): it is never sent.
  request.path = op.path.replace(/#.*$/, "").replace(/\{([^{}]+)\}/g, (_, wire: string) => `{{ input.${pathNames.get(wire)} }}`);
  if (Object.keys(query).length > 0) request.query = query;
  if (body) {
    properties.body = body.schema;
    if (body.required) required.push("body");
    if (body.contentType) headers["Content-Type"] = body.contentType;
    request[body.encoding] = "{{ input.body }}";
    if (Object.keys(body.formStyles).length > 0) styles.form = body.formStyles;
  }
  if (Object.keys(headers).length > 0) request.headers = headers;
  if (Object.keys(cookies).length > 0) request.cookies = cookies;
  if (Object.keys(styles).length > 0) request.styles = styles;

  const input: Record<string, unknown> = { type: "object", properties, additionalProperties: false };
  if (required.length > 0) input.required = required;
  const produces = op.operation.node.produces !== undefined ? listOf(op.operation.node.produces) : listOf(ctx.spec.root.produces);
  const responses = op.operation.node.responses;
  const output =
    op.method === "head" || !isRecord(responses)
      ? undefined
      : outputSchema({ node: responses, url: op.operation.url, pointer: `${op.operation.pointer}/responses` }, produces, ctx);

  const action: Record<string, unknown> = { description: describe(op), kind, request, ...(own.auth ? { auth: own.auth } : {}) };
  // PRODUCT: an imported operation that is not a read is at least MEDIUM until someone sets its cost and risk.
  if (kind !== "read") action.risk = "MEDIUM";
  if (idempotencyHeader) action.idempotencyKey = { header: idempotencyHeader };
  return { action, input, output };
}
