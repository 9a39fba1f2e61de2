/**
 * Rules that span fields of a manifest. No zod: they read the raw data, so that they also run on a manifest
 * that failed other checks.
 */
import { collectRefs, TemplateError } from "./template.js";
import { BUILTIN_OPERATIONS } from "./runtime-settings.js";
import { clientOwnedHeader } from "../util/owned-headers.js";

type Raw = Record<string, unknown>;
const COST_FORMS = ["fixed", "fromInput", "perUnit", "quote"] as const;
const isRecord = (value: unknown): value is Raw => value !== null && typeof value === "object" && !Array.isArray(value);

/**
 * Rules that span fields (what each runtime requires and forbids). Written against unvalidated data, so that
 * they can also run on a manifest that failed other checks: every problem in a file is reported at once.
 */
export function manifestRuleProblems(manifest: unknown): Array<{ path: PropertyKey[]; message: string }> {
  const problems: Array<{ path: PropertyKey[]; message: string }> = [];
  if (!isRecord(manifest)) return problems;
  const add = (path: PropertyKey[], message: string) => problems.push({ path, message });
  const runtime = typeof manifest.runtime === "string" ? manifest.runtime : undefined;
  const actions = isRecord(manifest.actions) ? manifest.actions : undefined;
  const names = actions ? Object.keys(actions) : [];
  if (actions && names.length === 0) add(["actions"], "at least one action is required");
  if (!runtime) return problems;
  // The vercel runtime calls one HTTP API: it takes baseUrl, auth and the http settings (the outbound guard).
  const speaksHttp = runtime === "http" || runtime === "vercel";
  if (speaksHttp && manifest.baseUrl === undefined) add(["baseUrl"], `baseUrl is required for runtime ${runtime}`);
  if (!speaksHttp) {
    for (const key of ["baseUrl", "sandboxBaseUrl", "http"]) {
      if (manifest[key] !== undefined) add([key], `only valid for runtime http or vercel, not ${runtime}`);
    }
  }
  if (runtime === "vercel" && isRecord(manifest.auth) && manifest.auth.type !== "bearer")
    add(["auth", "type"], "runtime vercel takes auth type bearer (a Vercel access token)");
  if (runtime !== "process" && manifest.process !== undefined) add(["process"], `only valid for runtime process, not ${runtime}`);
  if (runtime === "email" && manifest.email === undefined)
    add(["email"], "required for runtime email, such as email: { host: smtp.example.com, from: bot@example.com }");
  if (runtime !== "email" && manifest.email !== undefined) add(["email"], `only valid for runtime email, not ${runtime}`);
  if (runtime === "email" && isRecord(manifest.auth) && manifest.auth.type !== "none" && manifest.auth.type !== "basic")
    add(["auth", "type"], "runtime email takes auth type basic (SMTP AUTH username and password) or none");
  if (runtime !== "http" && isRecord(manifest.auth) && manifest.auth.passwordOptional !== undefined)
    add(["auth", "passwordOptional"], `only valid for runtime http, not ${runtime}`);
  problems.push(...builtinRuleProblems(runtime, manifest, actions));
  problems.push(...ownedHeaderProblems(manifest, actions));
  const sandboxable = runtime === "process" || runtime === "docker";
  if (runtime === "docker" && manifest.image === undefined) add(["image"], "image is required for runtime docker");
  for (const key of ["image", "permissions"]) {
    if (!sandboxable && manifest[key] !== undefined) add([key], `only valid for runtime docker or process, not ${runtime}`);
  }
  // A process tool's permissions limit its Docker sandbox only: without an image there is none, and a limit written
  // there would do nothing while it reads as if it did (and, above the defaults, would send the tool to pending).
  if (runtime === "process" && manifest.image === undefined && manifest.permissions !== undefined)
    add(
      ["permissions"],
      "only used by --sandbox docker, which needs an image; without one the tool runs confined as process: says (network, readable, writable)",
    );
  const test = isRecord(manifest.test) ? manifest.test : undefined;
  if (test && typeof test.action === "string" && actions) {
    const tested = actions[test.action];
    if (tested === undefined) add(["test", "action"], `no action '${test.action}' in this tool`);
    else if (isRecord(tested) && tested.kind !== "read")
      add(["test", "action"], `'${test.action}' is a ${String(tested.kind)} action; a test must be a harmless read`);
  }
  for (const [name, action] of Object.entries(actions ?? {})) {
    if (!isRecord(action)) continue;
    const at = (field: string) => ["actions", name, field];
    if (runtime === "http" && action.request === undefined) add(at("request"), "required for runtime http");
    if (runtime === "process" && action.command === undefined) add(at("command"), "required for runtime process");
    if (runtime !== "http" && action.request !== undefined) add(at("request"), `only valid for runtime http, not ${runtime}`);
    if (runtime !== "http" && action.auth !== undefined) add(at("auth"), `only valid for runtime http, not ${runtime}`);
    if (!sandboxable) {
      for (const field of ["command", "env"]) if (action[field] !== undefined) add(at(field), `only valid for runtime process or docker, not ${runtime}`);
    }
    problems.push(...rollbackProblems(action.rollback, at("rollback"), names));
    const forms = isRecord(action.cost) ? COST_FORMS.filter((form) => (action.cost as Raw)[form] !== undefined) : [];
    if (forms.length > 1) add(at("cost"), `give one way to find the cost, not ${forms.join(" and ")}: fixed, fromInput, perUnit or quote`);
    const quote = isRecord(action.cost) && isRecord(action.cost.quote) ? action.cost.quote : undefined;
    if (quote) {
      const where = ["actions", name, "cost", "quote"];
      const quoted = typeof quote.action === "string" && actions ? actions[quote.action] : undefined;
      if (typeof quote.action === "string" && !names.includes(quote.action)) {
        add([...where, "action"], `no action '${quote.action}' in this tool`);
      } else if (isRecord(quoted)) {
        // The quote runs before approval, so it must be free of side effects and must not need a quote itself.
        if (quoted.kind !== "read") add([...where, "action"], `'${quote.action}' is a ${String(quoted.kind)} action; a quote must come from a read action`);
        else if (isRecord(quoted.cost) && quoted.cost.quote !== undefined)
          add([...where, "action"], `'${quote.action}' is priced by a quote itself; a quote action must not be`);
      }
      problems.push(...quoteTemplateProblems(quote.input, [...where, "input"]));
    }
  }
  return problems;
}

/**
 * Headers the HTTP client sets itself (Host, Content-Length, Connection, …: util/owned-headers.ts) are dropped when
 * sent: named anywhere a manifest names a header, a dry run would show one that never goes. Refused instead.
 */
function ownedHeaderProblems(manifest: Raw, actions: Raw | undefined): Array<{ path: PropertyKey[]; message: string }> {
  const problems: Array<{ path: PropertyKey[]; message: string }> = [];
  const check = (name: unknown, path: PropertyKey[]) => {
    const owned = typeof name === "string" ? clientOwnedHeader(name) : undefined;
    if (owned !== undefined)
      problems.push({ path, message: `a header the HTTP client sets itself (${owned}): a value written here would never be sent; leave it out` });
  };
  const headerNames = (map: unknown, path: PropertyKey[]) => {
    if (isRecord(map)) for (const name of Object.keys(map)) check(name, [...path, name]);
  };
  const auth = (value: unknown, path: PropertyKey[]) => {
    if (isRecord(value) && value.type === "api_key" && (value.in ?? "header") === "header") check(value.name, [...path, "name"]);
  };
  if (isRecord(manifest.http)) headerNames(manifest.http.headers, ["http", "headers"]);
  auth(manifest.auth, ["auth"]);
  for (const [name, action] of Object.entries(actions ?? {})) {
    if (!isRecord(action)) continue;
    const at = ["actions", name];
    auth(action.auth, [...at, "auth"]);
    if (isRecord(action.idempotencyKey)) check(action.idempotencyKey.header, [...at, "idempotencyKey", "header"]);
    if (!isRecord(action.request)) continue;
    headerNames(action.request.headers, [...at, "request", "headers"]);
    if (isRecord(action.request.sign)) {
      check(action.request.sign.header, [...at, "request", "sign", "header"]);
      check(action.request.sign.timestampHeader, [...at, "request", "sign", "timestampHeader"]);
    }
  }
  return problems;
}

/** Each compensation names an action of the tool; in a list, only the last entry may go without `when`. */
function rollbackProblems(rollback: unknown, where: PropertyKey[], names: string[]): Array<{ path: PropertyKey[]; message: string }> {
  const problems: Array<{ path: PropertyKey[]; message: string }> = [];
  const entries: Array<[unknown, PropertyKey[]]> = Array.isArray(rollback) ? rollback.map((entry, index) => [entry, [...where, index]]) : [[rollback, where]];
  entries.forEach(([entry, at], index) => {
    if (!isRecord(entry)) return;
    if (typeof entry.action === "string" && !names.includes(entry.action))
      problems.push({ path: [...at, "action"], message: `no action '${entry.action}' in this tool` });
    // The entry without `when` is taken whenever the ones before it do not apply: any after it is never used.
    if (Array.isArray(rollback) && entry.when === undefined && index < rollback.length - 1) {
      problems.push({ path: at, message: "only the last compensation may go without when: the entries after this one would never be used" });
    }
  });
  return problems;
}

/** The files and database runtimes: their settings, and an operation on every action that agrees with its kind. */
function builtinRuleProblems(runtime: string, manifest: Raw, actions: Raw | undefined): Array<{ path: PropertyKey[]; message: string }> {
  const problems: Array<{ path: PropertyKey[]; message: string }> = [];
  const add = (path: PropertyKey[], message: string) => problems.push({ path, message });
  const example = {
    files: "files: { roots: [notes] }",
    database: "database: { file: app.db, tables: { items: [read] } }",
    vercel: "vercel: { projectRoot: . }",
  };
  for (const key of ["files", "database", "vercel"] as const) {
    if (runtime === key && manifest[key] === undefined && key !== "vercel") add([key], `required for runtime ${key}, such as ${example[key]}`);
    if (runtime !== key && manifest[key] !== undefined) add([key], `only valid for runtime ${key}, not ${runtime}`);
  }
  const database = isRecord(manifest.database) ? manifest.database : undefined;
  const tables = database && isRecord(database.tables) ? database.tables : undefined;
  if (runtime === "database" && tables && Object.keys(tables).length === 0)
    add(["database", "tables"], "declare at least one table and the operations allowed on it");
  const allowedOn = (operation: string) =>
    Object.values(tables ?? {}).some((access) => {
      const list = isRecord(access) ? access.operations : access;
      return Array.isArray(list) && list.includes(operation);
    });
  for (const [name, action] of Object.entries(actions ?? {})) {
    if (!isRecord(action)) continue;
    const at = ["actions", name, "operation"];
    const operation = typeof action.operation === "string" ? action.operation : undefined;
    if (runtime !== "files" && runtime !== "database" && runtime !== "vercel") {
      if (action.operation !== undefined) add(at, `only valid for runtime files, database or vercel, not ${runtime}`);
      continue;
    }
    const kinds: Record<string, readonly string[]> = BUILTIN_OPERATIONS[runtime];
    if (operation === undefined) {
      if (action.operation === undefined) add(at, `required for runtime ${runtime}: one of ${Object.keys(kinds).join(", ")}`);
      continue;
    }
    const fits = kinds[operation];
    if (!fits) add(at, `'${operation}' is not a ${runtime} operation: one of ${Object.keys(kinds).join(", ")}`);
    else if (typeof action.kind === "string" && !fits.includes(action.kind))
      add(at, `'${operation}' is a ${fits.join(" or ")} action, but kind is ${action.kind}`);
    else if (runtime === "database" && tables && Object.keys(tables).length > 0 && !allowedOn(operation)) {
      add(at, `no table allows '${operation}': add it to a table under database.tables`);
    }
  }
  return problems;
}

/** The quote's input is rendered from the action's input alone: it runs before any secret or output exists for it. */
function quoteTemplateProblems(input: unknown, path: PropertyKey[]): Array<{ path: PropertyKey[]; message: string }> {
  try {
    return collectRefs(input)
      .filter((ref) => ref.root !== "input")
      .map((ref) => ({ path, message: `template '{{ ${ref.path} }}' may only refer to input` }));
  } catch (error) {
    if (error instanceof TemplateError) return [{ path, message: error.message }];
    throw error;
  }
}
