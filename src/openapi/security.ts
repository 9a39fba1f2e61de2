/**
 * Security schemes → the tool's one auth. The first scheme toolctl can send that the spec's global `security`
 * asks for; else the one most operations ask for; else the only one defined. An API key in a header or the
 * query, HTTP bearer and HTTP basic are sent as they are. When the spec offers only OAuth2 or OpenID Connect,
 * an access token obtained elsewhere is sent as a bearer token. Whatever cannot be sent is a warning.
 */
import type { LoadedSpec } from "./load.js";
import { escapeSegment, isRecord, type RefResolver } from "./refs.js";

type Native = { type: "api_key"; in: "header" | "query"; name: string } | { type: "bearer" } | { type: "basic" };

interface Scheme {
  name: string;
  native?: Native;
  /** OAuth2 and OpenID Connect: a bearer token, if nothing better is on offer. */
  isToken: boolean;
  /** What cannot be done with this scheme, for the warning. */
  unsupported?: string;
}

export interface AuthChoice {
  auth: Record<string, unknown>;
  /** The parameter the auth fills in, which is then not an input: `header:x-api-key`, `query:key`. */
  suppliedParam?: string;
  warnings: string[];
}

function describeScheme(name: string, raw: Record<string, unknown>, spec: LoadedSpec): Scheme {
  const type = String(raw.type ?? "");
  const where = String(raw.in ?? "");
  if (type === "apiKey") {
    if ((where === "header" || where === "query") && typeof raw.name === "string" && raw.name !== "") {
      return { name, native: { type: "api_key", in: where, name: raw.name }, isToken: false };
    }
    return { name, isToken: false, unsupported: `apiKey in ${where || "an unknown place"}${typeof raw.name === "string" ? ` "${raw.name}"` : ""}: a tool's auth sends a key only in a header or the query` };
  }
  if (type === "basic" && spec.dialect === "swagger2") return { name, native: { type: "basic" }, isToken: false };
  if (type === "http") {
    const scheme = String(raw.scheme ?? "").toLowerCase();
    if (scheme === "bearer") return { name, native: { type: "bearer" }, isToken: false };
    if (scheme === "basic") return { name, native: { type: "basic" }, isToken: false };
    return { name, isToken: false, unsupported: `http "${scheme}": only the bearer and basic HTTP schemes are supported` };
  }
  if (type === "oauth2") return { name, isToken: true, unsupported: "oauth2: toolctl does not run OAuth2 flows or refresh tokens" };
  if (type === "openIdConnect") return { name, isToken: true, unsupported: "openIdConnect: toolctl does not run OpenID Connect flows or refresh tokens" };
  if (type === "mutualTLS") return { name, isToken: false, unsupported: "mutualTLS: toolctl does not send client certificates" };
  return { name, isToken: false, unsupported: `type "${type}" is not a security scheme toolctl knows` };
}

/** The scheme names of each alternative in a `security` list; `{}` (no auth needed) is an empty alternative. */
function alternatives(security: unknown): string[][] {
  return Array.isArray(security) ? security.filter(isRecord).map((requirement) => Object.keys(requirement)) : [];
}

export function chooseAuth(spec: LoadedSpec, resolver: RefResolver, operationSecurity: unknown[], secretPrefix: string): AuthChoice {
  const root = spec.root;
  const defined = spec.dialect === "swagger2" ? root.securityDefinitions : isRecord(root.components) ? root.components.securitySchemes : undefined;
  const where = spec.dialect === "swagger2" ? "/securityDefinitions" : "/components/securitySchemes";
  const schemes = new Map<string, Scheme>();
  for (const [name, value] of Object.entries(isRecord(defined) ? defined : {})) {
    const raw = resolver.follow(value, spec.rootUrl, `${where}/${escapeSegment(name)}`).node;
    if (isRecord(raw)) schemes.set(name, describeScheme(name, raw, spec));
  }
  const warnings: string[] = [];
  const single = (names: string[]): Scheme | undefined => (names.length === 1 ? schemes.get(names[0]!) : undefined);

  // Uses per scheme, counting an operation once, through its own `security` or the global one.
  const uses = new Map<string, number>();
  for (const security of operationSecurity) {
    const names = new Set(alternatives(security ?? root.security).flat());
    for (const name of names) uses.set(name, (uses.get(name) ?? 0) + 1);
  }
  const used = [...schemes.values()].filter((s) => (uses.get(s.name) ?? 0) > 0);
  const byUse = (list: Scheme[]) => [...list].sort((a, b) => (uses.get(b.name) ?? 0) - (uses.get(a.name) ?? 0));

  let chosen = alternatives(root.security).map(single).find((s) => s?.native !== undefined);
  chosen ??= byUse(used.filter((s) => s.native !== undefined))[0];
  const natives = [...schemes.values()].filter((s) => s.native !== undefined);
  if (chosen === undefined && used.length === 0 && natives.length > 0) {
    chosen = natives[0]!;
    warnings.push(`no operation asks for security scheme "${chosen.name}", but the spec defines it: it is sent with every request`);
  }
  chosen ??= byUse(used.filter((s) => s.isToken))[0] ?? [...schemes.values()].find((s) => s.isToken);

  const secret = `${secretPrefix}_API_KEY`;
  let auth: Record<string, unknown> = { type: "none" };
  let suppliedParam: string | undefined;
  const native = chosen?.native;
  if (native?.type === "api_key") {
    auth = { type: "api_key", in: native.in, name: native.name, secret };
    suppliedParam = `${native.in}:${native.in === "header" ? native.name.toLowerCase() : native.name}`;
  } else if (native?.type === "bearer") auth = { type: "bearer", secret };
  else if (native?.type === "basic") auth = { type: "basic", username: `{{ secrets.${secretPrefix}_USERNAME }}`, secret: `${secretPrefix}_PASSWORD` };
  else if (chosen?.isToken) auth = { type: "bearer", secret };

  for (const scheme of schemes.values()) {
    if (scheme === chosen) {
      if (scheme.unsupported) warnings.push(`security scheme "${scheme.name}" (${scheme.unsupported}): an access token obtained elsewhere is sent as a bearer token from the secret ${secret}`);
      continue;
    }
    const count = uses.get(scheme.name) ?? 0;
    if (scheme.unsupported) warnings.push(`security scheme "${scheme.name}" is not supported (${scheme.unsupported})${count > 0 ? `; ${count} operation(s) ask for it` : ""}`);
    else if (count > 0 && chosen) warnings.push(`security scheme "${scheme.name}" is not used: a tool has one auth, and "${chosen.name}" was chosen; ${count} operation(s) ask for "${scheme.name}"`);
  }
  return { auth, suppliedParam, warnings };
}
