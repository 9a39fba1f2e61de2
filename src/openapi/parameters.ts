/**
 * Parameters → input properties and where the request puts them. Path-item parameters apply unless the
 * operation redefines the same name and location. Swagger 2 parameters describe their schema inline and
 * lists through `collectionFormat`; OpenAPI 3 ones through `schema`, `style` and `explode`.
 */
import { isRecord, type Located } from "./refs.js";
import { type ConvertContext, Unsupported, valueKind, type ValueKind } from "./context.js";
import type { JsonSchema } from "./schema.js";

export type Location = "path" | "query" | "header" | "cookie";
export type ListStyle = { style: "form" | "spaceDelimited" | "pipeDelimited" | "deepObject"; explode: boolean };

export interface ParamInput {
  location: Location;
  /** The name on the wire. */
  wire: string;
  schema: JsonSchema;
  required: boolean;
  /** Serialisation, for query parameters and form fields (style) or headers and cookies (explode). */
  style: ListStyle;
  kind: ValueKind;
}

/** Headers OpenAPI says to ignore as parameters: the request itself sets them. */
const IGNORED_HEADERS = new Set(["accept", "content-type", "authorization"]);
const SWAGGER_SCHEMA_KEYS = [
  "type",
  "format",
  "items",
  "enum",
  "default",
  "maximum",
  "exclusiveMaximum",
  "minimum",
  "exclusiveMinimum",
  "maxLength",
  "minLength",
  "pattern",
  "maxItems",
  "minItems",
  "uniqueItems",
  "multipleOf",
  "x-nullable",
];

export interface RawParameter extends Located {
  node: Record<string, unknown>;
}

/** Path-item parameters, then the operation's, which replace those with the same name and location. */
export function mergeParameters(lists: Array<Located>, ctx: ConvertContext): RawParameter[] {
  const merged = new Map<string, RawParameter>();
  for (const list of lists) {
    if (!Array.isArray(list.node)) continue;
    list.node.forEach((item, index) => {
      const found = ctx.resolver.follow(item, list.url, `${list.pointer}/${index}`);
      if (!isRecord(found.node) || typeof found.node.name !== "string" || typeof found.node.in !== "string") {
        ctx.warn(`${ctx.spec.show(found.url)}#${found.pointer}: a parameter without "name" or "in" is ignored`);
        return;
      }
      const where = found.node.in;
      const name = where === "header" ? found.node.name.toLowerCase() : found.node.name;
      merged.set(`${where}:${name}`, found as RawParameter);
    });
  }
  return [...merged.values()];
}

/** A header the request sets itself, or the parameter the tool's auth fills in: not an input. */
export function isSuppliedElsewhere(param: RawParameter, ctx: ConvertContext): boolean {
  const where = String(param.node.in);
  const name = String(param.node.name);
  const key = `${where}:${where === "header" ? name.toLowerCase() : name}`;
  return (where === "header" && IGNORED_HEADERS.has(name.toLowerCase())) || key === ctx.suppliedParam;
}

/** A Swagger 2 non-body parameter's own fields, as a schema; `items` are the same shape, recursively. */
export function swaggerSchema(node: Record<string, unknown>): Record<string, unknown> {
  const schema: Record<string, unknown> = {};
  for (const key of SWAGGER_SCHEMA_KEYS) if (node[key] !== undefined) schema[key] = node[key];
  if (isRecord(node.items)) schema.items = swaggerSchema(node.items);
  if (typeof node.description === "string") schema.description = node.description;
  return schema;
}

/** Swagger 2 `collectionFormat` as an OpenAPI 3 style. */
export function swaggerStyle(node: Record<string, unknown>, where: string): ListStyle {
  const format = typeof node.collectionFormat === "string" ? node.collectionFormat : "csv";
  if (format === "multi") {
    if (where !== "query" && where !== "formData")
      throw new Unsupported(`collectionFormat multi is only for query and form parameters ("${String(node.name)}" is in ${where})`);
    return { style: "form", explode: true };
  }
  if (format === "ssv") return { style: "spaceDelimited", explode: false };
  if (format === "pipes") return { style: "pipeDelimited", explode: false };
  if (format === "csv") return { style: "form", explode: false };
  throw new Unsupported(`collectionFormat ${format} of "${String(node.name)}" is not supported`);
}

function openApiStyle(node: Record<string, unknown>, where: Location): ListStyle {
  const defaults: Record<Location, string> = { path: "simple", query: "form", header: "simple", cookie: "form" };
  const style = typeof node.style === "string" ? node.style : defaults[where];
  const explode = typeof node.explode === "boolean" ? node.explode : style === "form";
  const allowed: Record<Location, string[]> = {
    path: ["simple"],
    query: ["form", "spaceDelimited", "pipeDelimited", "deepObject"],
    header: ["simple"],
    cookie: ["form"],
  };
  if (!allowed[where].includes(style)) throw new Unsupported(`${where} parameter "${String(node.name)}" uses style ${style}, which is not supported`);
  return { style: style === "simple" ? "form" : (style as ListStyle["style"]), explode };
}

/** One path, query, header or cookie parameter. */
export function convertParameter(param: RawParameter, ctx: ConvertContext): ParamInput {
  const { node, url, pointer } = param;
  const location = node.in as Location;
  const required = location === "path" || node.required === true;
  let raw: unknown;
  let style: ListStyle;
  if (ctx.spec.dialect === "swagger2") {
    raw = swaggerSchema(node);
    style = swaggerStyle(node, location);
  } else {
    if (node.schema === undefined && isRecord(node.content)) {
      throw new Unsupported(`${location} parameter "${String(node.name)}" is serialised by media type (content), which is not supported`);
    }
    raw = node.schema ?? {};
    style = openApiStyle(node, location);
  }
  const where = { url, pointer: ctx.spec.dialect === "swagger2" ? pointer : `${pointer}/schema` };
  const converted = ctx.schemas.convert(raw, where);
  const schema = typeof converted === "boolean" ? converted : { ...converted };
  if (typeof schema === "object") {
    if (typeof node.description === "string" && schema.description === undefined) schema.description = node.description;
    if (node.deprecated === true) schema.deprecated = true;
  }
  const kind = valueKind(raw, url, ctx);
  // Simple style exploded sends an object as `a=1,b=2`; a path template renders `a,1,b,2`: skipped, and said so,
  // rather than sent as the spec does not ask.
  if (location === "path" && kind === "object" && style.explode) {
    throw new Unsupported(`path parameter "${String(node.name)}" is an object with explode: true, which is not supported`);
  }
  return { location, wire: String(node.name), schema, required, style, kind };
}
