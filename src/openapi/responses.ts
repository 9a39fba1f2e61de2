/**
 * Success responses → the action's output schema. It must hold for every 2xx answer the runner can get:
 * with one JSON schema it is that schema, several are alternatives, a 2xx without a body adds `null` (the
 * runner's output for an empty answer), and a 2xx that is not JSON means no output schema at all.
 */
import { type ConvertContext, isJsonMedia } from "./context.js";
import { isRecord, type Located } from "./refs.js";
import type { JsonSchema, SchemaSite } from "./schema.js";

type Outcome = { kind: "json"; raw: unknown; site: SchemaSite } | { kind: "empty" } | { kind: "other" };

function successCodes(responses: Record<string, unknown>): string[] {
  const exact = Object.keys(responses)
    .filter((code) => /^2\d\d$/.test(code))
    .sort();
  const range = Object.keys(responses).filter((code) => /^2xx$/i.test(code));
  return [...exact, ...range];
}

function outcomeOf(response: Located, produces: string[], ctx: ConvertContext): Outcome {
  const found = ctx.resolver.follow(response.node, response.url, response.pointer);
  if (!isRecord(found.node)) return { kind: "empty" };
  const node = found.node;
  if (ctx.spec.dialect === "swagger2") {
    if (node.schema === undefined) return { kind: "empty" };
    if (isRecord(node.schema) && node.schema.type === "file") return { kind: "other" };
    if (produces.length > 0 && !produces.some(isJsonMedia)) return { kind: "other" };
    return { kind: "json", raw: node.schema, site: { url: found.url, pointer: `${found.pointer}/schema` } };
  }
  const content = isRecord(node.content) ? node.content : {};
  const types = Object.keys(content);
  if (types.length === 0) return { kind: "empty" };
  const type = types.find((t) => t.split(";")[0]!.trim().toLowerCase() === "application/json") ?? types.find(isJsonMedia);
  if (type === undefined) return { kind: "other" };
  const media = content[type];
  const raw = isRecord(media) && media.schema !== undefined ? media.schema : {};
  return { kind: "json", raw, site: { url: found.url, pointer: `${found.pointer}/content/${type.replace(/~/g, "~0").replace(/\//g, "~1")}/schema` } };
}

/** The output schema (converted, not yet emitted), or undefined when the answers cannot be described. */
export function outputSchema(responses: Located, produces: string[], ctx: ConvertContext): JsonSchema | undefined {
  if (!isRecord(responses.node)) return undefined;
  const node = responses.node;
  const outcomes = successCodes(node).map((code) =>
    outcomeOf({ node: node[code], url: responses.url, pointer: `${responses.pointer}/${code}` }, produces, ctx),
  );
  if (outcomes.length === 0 || outcomes.some((o) => o.kind === "other")) return undefined;
  const json = outcomes.filter((o): o is Extract<Outcome, { kind: "json" }> => o.kind === "json");
  if (json.length === 0) return undefined;
  // The same schema answered under two codes (200 and 201) is one alternative.
  const distinct = json.filter(
    (o, i) =>
      json.findIndex(
        (p) => p.raw === o.raw || (isRecord(p.raw) && isRecord(o.raw) && p.raw.$ref !== undefined && p.raw.$ref === o.raw.$ref && p.site.url === o.site.url),
      ) === i,
  );
  const schemas = distinct.map((o) => ctx.schemas.convert(o.raw, o.site));
  const withNull = outcomes.some((o) => o.kind === "empty") ? [...schemas, { type: "null" }] : schemas;
  return withNull.length === 1 ? withNull[0] : { anyOf: withNull };
}
