/**
 * Security schemes → the tool's auth, and an auth of their own for the operations that ask for something else.
 * The tool's: the first scheme toolctl can send that the spec's global `security` asks for (bearer rather than
 * basic when both are on offer); else the one most operations ask for; else the only one defined. An API key
 * in a header or the query, HTTP bearer and HTTP basic are sent as they are; basic with an optional password,
 * as APIs that take an API key as the username want. OAuth2 and OpenID Connect: an access token obtained
 * elsewhere is sent as a bearer token. Each operation's own `security` is honoured: `[]` sends no credentials,
 * and one that does not accept the tool's scheme gets the scheme it does accept, with a secret named after it.
 * Whatever cannot be sent is a warning.
 */
import type { LoadedSpec } from "./load.js";
import { escapeSegment, isRecord, type RefResolver } from "./refs.js";
import { clientOwnedHeader } from "../util/owned-headers.js";

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
  /** What an operation with this `security` (undefined: none of its own) sends instead of the tool's auth, if anything else. */
  forOperation(security: unknown): OperationAuth;
}

export interface OperationAuth {
  /** This operation's auth, in place of the tool's; undefined when the tool's is right. */
  auth?: Record<string, unknown>;
  suppliedParam?: string;
}

function describeScheme(name: string, raw: Record<string, unknown>, spec: LoadedSpec): Scheme {
  const type = String(raw.type ?? "");
  const where = String(raw.in ?? "");
  if (type === "apiKey") {
    const owned = where === "header" && typeof raw.name === "string" ? clientOwnedHeader(raw.name) : undefined;
    if (owned !== undefined)
      return { name, isToken: false, unsupported: `apiKey in header "${String(raw.name)}": the HTTP client sets that header itself (${owned})` };
    if ((where === "header" || where === "query") && typeof raw.name === "string" && raw.name !== "") {
      return { name, native: { type: "api_key", in: where, name: raw.name }, isToken: false };
    }
    return {
      name,
      isToken: false,
      unsupported: `apiKey in ${where || "an unknown place"}${typeof raw.name === "string" ? ` "${raw.name}"` : ""}: a tool's auth sends a key only in a header or the query`,
    };
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

/** Bearer rather than basic when a spec offers both: a token is scoped and revocable, a password is not. */
function preferBearer(candidates: Scheme[]): Scheme | undefined {
  const first = candidates[0];
  if (first?.native?.type !== "basic") return first;
  return candidates.find((s) => s.native?.type === "bearer") ?? first;
}

/**
 * The auth a scheme becomes. `secret` names a key or token; a username and password are `<prefix>_USERNAME`
 * and `<prefix>_PASSWORD`.
 */
function authOf(scheme: Scheme, prefix: string, secret: string): { auth: Record<string, unknown>; suppliedParam?: string } {
  const native = scheme.native;
  if (native?.type === "api_key") {
    return {
      auth: { type: "api_key", in: native.in, name: native.name, secret },
      suppliedParam: `${native.in}:${native.in === "header" ? native.name.toLowerCase() : native.name}`,
    };
  }
  if (native?.type === "basic")
    return { auth: { type: "basic", username: `{{ secrets.${prefix}_USERNAME }}`, secret: `${prefix}_PASSWORD`, passwordOptional: true } };
  return { auth: { type: "bearer", secret } };
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
  // Operations that can only be called with several schemes at once (every alternative names two or more): a
  // request carries one auth, so the others must be added by hand.
  const together = new Map<string, number>();
  for (const security of operationSecurity) {
    const options = alternatives(security ?? root.security);
    if (options.length > 0 && options.every((names) => names.length > 1)) {
      const key = options[0]!.map((name) => `"${name}"`).join(" and ");
      together.set(key, (together.get(key) ?? 0) + 1);
    }
  }
  for (const [names, count] of together) {
    warnings.push(
      `${count} operation(s) ask for security schemes ${names} together: a request sends one auth, so only one of them is sent; add the others to the manifest (as headers or query values from secrets)`,
    );
  }
  const used = [...schemes.values()].filter((s) => (uses.get(s.name) ?? 0) > 0);
  const byUse = (list: Scheme[]) => [...list].sort((a, b) => (uses.get(b.name) ?? 0) - (uses.get(a.name) ?? 0));

  let chosen = preferBearer(
    alternatives(root.security)
      .map(single)
      .filter((s): s is Scheme => s?.native !== undefined),
  );
  chosen ??= byUse(used.filter((s) => s.native !== undefined))[0];
  const natives = [...schemes.values()].filter((s) => s.native !== undefined);
  if (chosen === undefined && used.length === 0 && natives.length > 0) {
    chosen = natives[0]!;
    warnings.push(`no operation asks for security scheme "${chosen.name}", but the spec defines it: it is sent with every request`);
  }
  chosen ??= byUse(used.filter((s) => s.isToken))[0] ?? [...schemes.values()].find((s) => s.isToken);

  const secret = `${secretPrefix}_API_KEY`;
  const own = chosen && (chosen.native !== undefined || chosen.isToken) ? authOf(chosen, secretPrefix, secret) : undefined;
  const auth = own?.auth ?? { type: "none" };

  for (const scheme of schemes.values()) {
    if (scheme === chosen) {
      if (scheme.unsupported)
        warnings.push(
          `security scheme "${scheme.name}" (${scheme.unsupported}): an access token obtained elsewhere is sent as a bearer token from the secret ${secret}`,
        );
      continue;
    }
    const count = uses.get(scheme.name) ?? 0;
    if (scheme.unsupported && !scheme.isToken)
      warnings.push(`security scheme "${scheme.name}" is not supported (${scheme.unsupported})${count > 0 ? `; ${count} operation(s) ask for it` : ""}`);
    else if (scheme.unsupported && count > 0)
      warnings.push(
        `security scheme "${scheme.name}" (${scheme.unsupported}): the ${count} operation(s) that ask only for it send an access token obtained elsewhere as a bearer token from the secret ${schemeSecretPrefix(secretPrefix, scheme.name)}`,
      );
  }

  const forOperation = (security: unknown): OperationAuth => {
    // Without a `security` of its own, or anywhere, an operation takes the tool's auth.
    if (security === undefined) return {};
    if (Array.isArray(security) && security.length === 0) return { auth: { type: "none" } };
    const options = alternatives(security);
    // `{}` among the alternatives makes credentials optional: the tool's are sent.
    if (options.length === 0 || options.some((names) => names.length === 0 || (chosen !== undefined && names.length === 1 && names[0] === chosen.name)))
      return {};
    const offered = options.map(single).filter((s): s is Scheme => s !== undefined);
    const pick = preferBearer(offered.filter((s) => s.native !== undefined)) ?? offered.find((s) => s.isToken);
    // What it asks for cannot be sent (or only together with another scheme): the tool's auth, and the warning above.
    if (pick === undefined) return {};
    const prefix = schemeSecretPrefix(secretPrefix, pick.name);
    return authOf(pick, prefix, prefix);
  };
  return { auth, suppliedParam: own?.suppliedParam, warnings, forOperation };
}

/** `TOOL_<NAME>_<SCHEME>`: the secrets of a scheme an operation asks for instead of the tool's. */
function schemeSecretPrefix(prefix: string, scheme: string): string {
  return `${prefix}_${scheme.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}
