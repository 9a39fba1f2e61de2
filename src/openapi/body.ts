/**
 * The request body → the input property `body` and how it is sent: JSON (`application/json`, any `+json`
 * type) or a form (`application/x-www-form-urlencoded`). Swagger 2 spells these `in: body` and
 * `in: formData` parameters, with `consumes` saying the media type. Anything else (multipart, XML, binary)
 * cannot be sent by the http runner: the operation is skipped when the body is required, and imported
 * without it when it is optional.
 */
import { type ConvertContext, isJsonMedia, Unsupported, valueKind } from "./context.js";
import { convertParameter, swaggerSchema, swaggerStyle, type ListStyle, type RawParameter } from "./parameters.js";
import { isRecord, type Located } from "./refs.js";
import { setOwn } from "../util/own.js";
import type { JsonSchema } from "./schema.js";

export interface BodyInput {
  encoding: "json" | "form";
  /** Sent as Content-Type when it is not the runner's own default for the encoding. */
  contentType?: string;
  schema: JsonSchema;
  required: boolean;
  /** Form fields whose arrays or objects need an OpenAPI style. */
  formStyles: Record<string, ListStyle>;
}

const FORM = "application/x-www-form-urlencoded";

function pickMedia(types: string[]): { encoding: "json" | "form"; type: string } | undefined {
  const bare = (type: string) => type.split(";")[0]!.trim().toLowerCase();
  const json = types.find((t) => bare(t) === "application/json") ?? types.find((t) => isJsonMedia(t) && !bare(t).includes("*"));
  if (json) return { encoding: "json", type: json };
  const form = types.find((t) => bare(t) === FORM);
  if (form) return { encoding: "form", type: form };
  const wildcard = types.find((t) => isJsonMedia(t));
  return wildcard ? { encoding: "json", type: "application/json" } : undefined;
}

function declined(what: string, required: boolean, ctx: ConvertContext, identity: string): undefined {
  if (required) throw new Unsupported(what);
  ctx.warn(`the optional request body is left out: ${what}`, identity);
  return undefined;
}

/** Top-level properties of a raw object schema (through `$ref` and `allOf`), for their form styles. */
function formProperties(raw: unknown, url: string, ctx: ConvertContext, depth = 0): Array<[string, unknown, string]> {
  if (!isRecord(raw) || depth > 8) return [];
  if (typeof raw.$ref === "string") {
    const target = ctx.resolver.resolve(raw.$ref, url);
    return formProperties(target.node, target.url, ctx, depth + 1);
  }
  const own = isRecord(raw.properties) ? Object.entries(raw.properties).map(([name, schema]): [string, unknown, string] => [name, schema, url]) : [];
  const inherited = Array.isArray(raw.allOf) ? raw.allOf.flatMap((item) => formProperties(item, url, ctx, depth + 1)) : [];
  return [...own, ...inherited];
}

/** OpenAPI 3 `requestBody`. */
export function openApiBody(requestBody: Located | undefined, identity: string, ctx: ConvertContext): BodyInput | undefined {
  if (requestBody === undefined || requestBody.node === undefined) return undefined;
  const found = ctx.resolver.follow(requestBody.node, requestBody.url, requestBody.pointer);
  if (!isRecord(found.node)) return undefined;
  const body = found.node;
  const required = body.required === true;
  const content = isRecord(body.content) ? body.content : {};
  const types = Object.keys(content);
  if (types.length === 0) return undefined;
  const media = pickMedia(types);
  if (!media) return declined(`request body ${types.join(", ")} is not supported (JSON or ${FORM} only)`, required, ctx, identity);
  const mediaObject = isRecord(content[media.type]) ? (content[media.type] as Record<string, unknown>) : {};
  const site = { url: found.url, pointer: `${found.pointer}/content/${media.type.replace(/~/g, "~0").replace(/\//g, "~1")}/schema` };
  const raw = mediaObject.schema ?? (media.encoding === "form" ? { type: "object" } : {});
  const converted = ctx.schemas.convert(raw, site);
  const schema =
    typeof converted === "object" && typeof body.description === "string" && converted.description === undefined
      ? { ...converted, description: body.description }
      : converted;
  const formStyles: Record<string, ListStyle> = {};
  if (media.encoding === "form") {
    const encoding = isRecord(mediaObject.encoding) ? mediaObject.encoding : {};
    for (const [name, propertySchema, url] of formProperties(raw, site.url, ctx)) {
      const spec = isRecord(encoding[name]) ? (encoding[name] as Record<string, unknown>) : {};
      const style = typeof spec.style === "string" ? spec.style : "form";
      if (!["form", "spaceDelimited", "pipeDelimited", "deepObject"].includes(style))
        throw new Unsupported(`form field "${name}" uses style ${style}, which is not supported`);
      const explode = typeof spec.explode === "boolean" ? spec.explode : style === "form";
      // Without a style, the runner writes nested values with brackets; OpenAPI's default repeats the name.
      if (valueKind(propertySchema, url, ctx) !== "primitive") setOwn(formStyles, name, { style: style as ListStyle["style"], explode });
    }
  }
  const contentType = media.encoding === "json" && media.type.split(";")[0]!.trim().toLowerCase() !== "application/json" ? media.type : undefined;
  return { encoding: media.encoding, contentType, schema, required, formStyles };
}

/** Swagger 2: an `in: body` parameter, or `in: formData` ones, with `consumes` saying how they are sent. */
export function swaggerBody(
  bodyParam: RawParameter | undefined,
  formParams: RawParameter[],
  consumes: string[],
  identity: string,
  ctx: ConvertContext,
): BodyInput | undefined {
  if (bodyParam) {
    const required = bodyParam.node.required === true;
    if (consumes.length > 0 && !consumes.some(isJsonMedia))
      return declined(`request body ${consumes.join(", ")} is not supported (JSON only for an "in: body" parameter)`, required, ctx, identity);
    const converted = ctx.schemas.convert(bodyParam.node.schema ?? {}, { url: bodyParam.url, pointer: `${bodyParam.pointer}/schema` });
    const schema =
      typeof converted === "object" && typeof bodyParam.node.description === "string" && converted.description === undefined
        ? { ...converted, description: bodyParam.node.description }
        : converted;
    const type = consumes.find((t) => t.split(";")[0]!.trim().toLowerCase() === "application/json") ?? consumes.find(isJsonMedia);
    const contentType = type && !type.toLowerCase().startsWith("application/json") && !type.includes("*") ? type : undefined;
    return { encoding: "json", contentType, schema, required, formStyles: {} };
  }
  if (formParams.length === 0) return undefined;
  const required = formParams.some((p) => p.node.required === true);
  const files = formParams.filter((p) => p.node.type === "file").map((p) => String(p.node.name));
  if (files.length > 0) return declined(`file upload (multipart/form-data: ${files.join(", ")}) is not supported`, required, ctx, identity);
  if (consumes.length > 0 && !consumes.some((t) => t.toLowerCase().startsWith(FORM))) {
    return declined(`request body ${consumes.join(", ")} is not supported (${FORM} only for form parameters)`, required, ctx, identity);
  }
  const properties: Record<string, JsonSchema> = {};
  const requiredNames: string[] = [];
  const formStyles: Record<string, ListStyle> = {};
  for (const param of formParams) {
    const name = String(param.node.name);
    setOwn(properties, name, convertParameter({ ...param, node: { ...param.node, in: "query" } }, ctx).schema);
    if (param.node.required === true) requiredNames.push(name);
    if (valueKind(swaggerSchema(param.node), param.url, ctx) !== "primitive") setOwn(formStyles, name, swaggerStyle(param.node, "formData"));
  }
  const schema: Record<string, unknown> = { type: "object", properties };
  if (requiredNames.length > 0) schema.required = requiredNames;
  return { encoding: "form", schema, required, formStyles };
}
