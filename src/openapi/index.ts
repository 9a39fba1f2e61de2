/**
 * OpenAPI (Swagger 2.0, OpenAPI 3.0 and 3.1) → one toolctl/v1 manifest with an http runtime, and a report of
 * what was imported, what was skipped and why. Reads the spec (and the files it refers to) and writes nothing.
 */
import path from "node:path";
import { TOOL_NAME_PATTERN } from "../domain/manifest.js";
import { PolicyError, ToolctlError, UsageError } from "../errors.js";
import { type ConvertContext, Unsupported } from "./context.js";
import { DefinitionRegistry } from "./definitions.js";
import { loadSpec } from "./load.js";
import { assignActionNames, candidateActionName, secretPrefix, toolSlug } from "./names.js";
import { checkFilters, filterReason } from "./filters.js";
import { convertOperation, type ActionDraft } from "./operation.js";
import { collectOperations, type OperationRef } from "./operations.js";
import { specError } from "./parse.js";
import { isRecord, RefResolver } from "./refs.js";
import { SchemaConverter, type SchemaNoteKind, type SchemaSite } from "./schema.js";
import { chooseAuth } from "./security.js";
import { chooseBaseUrl } from "./servers.js";

export interface OpenApiImportOptions {
  /** The tool's name; default: a slug of info.title. */
  name?: string;
  /** Overrides the spec's servers. */
  baseUrl?: string;
  /** Only operations with one of these tags. */
  tags?: string[];
  /** Only these operations, by operationId or action name. */
  operations?: string[];
  /** Only operations whose path starts with this. */
  pathPrefix?: string;
  /** Refuse the spec when a selected operation cannot be imported, instead of leaving it out. */
  strict?: boolean;
  /** Copied into the tool's http settings; also needed to fetch an http:// spec. */
  allowPlainHttp?: boolean;
  /** Copied into the tool's http settings; also needed to fetch a spec from a loopback or private address. */
  allowPrivateNetworks?: boolean;
  /**
   * Where a local spec's references may lead: only to files inside `root` (by their real paths, so a symbolic
   * link out of it counts as outside), and never inside one of `except`. `toolctl sync` gives the project's root,
   * without its `.toolctl/`. An operation that needs a file elsewhere is left out (refused under `strict`).
   */
  confineRefs?: { root: string; except?: string[] };
  env: NodeJS.ProcessEnv;
  cwd: string;
  signal?: AbortSignal;
}

export interface ImportedOperation {
  action: string;
  method: string;
  path: string;
  operationId?: string;
}

export interface SkippedOperation {
  method: string;
  path: string;
  operationId?: string;
  reason: string;
}

export interface ConvertReport {
  title: string;
  specVersion: string;
  source: string;
  /** Operations in the spec. */
  operations: number;
  imported: ImportedOperation[];
  skipped: SkippedOperation[];
  warnings: string[];
}

export interface ConvertedSpec {
  /** A toolctl/v1 manifest (runtime http), as plain data. */
  manifest: Record<string, unknown>;
  report: ConvertReport;
}

const NOTES: Record<SchemaNoteKind, string> = {
  pattern: '"pattern" regular expression(s) that are not valid with the u flag were dropped',
  type: 'unknown "type" value(s) were dropped',
  value: "schema keyword(s) with a value of the wrong type were dropped",
  ref: '"$ref"(s) that are not strings were ignored',
  cycle: "schema(s) that contain themselves (YAML aliases) accept anything instead",
};

export async function convertOpenApi(source: string, options: OpenApiImportOptions): Promise<ConvertedSpec> {
  if (options.name !== undefined && !TOOL_NAME_PATTERN.test(options.name)) {
    throw new UsageError(`tool name '${options.name}' is not a lowercase identifier (a-z, 0-9, '_' or '-', at most 63 characters)`);
  }
  const spec = await loadSpec(source, options);
  const shown = spec.show(spec.rootUrl);
  const resolver = new RefResolver(spec);
  const info = isRecord(spec.root.info) ? spec.root.info : {};
  const title = typeof info.title === "string" && info.title.trim() !== "" ? info.title.trim() : path.basename(shown).replace(/\.[^.]*$/, "");
  const name = options.name ?? toolSlug(title);
  const warnings: string[] = [];

  const { operations, webhooks } = collectOperations(spec, resolver);
  if (webhooks > 0) warnings.push(`${webhooks} webhook(s) not imported: webhooks are requests the API sends, not operations to call`);
  if (operations.length === 0) throw specError(shown, `no operations to import${webhooks > 0 ? ` (only ${webhooks} webhook(s))` : ""}`);
  let names: string[];
  try {
    names = assignActionNames(
      operations.map((op) => ({ method: op.method, path: op.path, candidate: candidateActionName(op.method, op.path, op.operationId) })),
    );
  } catch (error) {
    throw specError(shown, (error as Error).message);
  }
  // `cause`: why a selected operation could not be converted (the filters' reasons have none).
  const skipped: Array<SkippedOperation & { index: number; cause?: Error }> = [];
  const skip = (index: number, reason: string, cause?: Error) => {
    const op = operations[index]!;
    skipped.push({ index, method: op.method.toUpperCase(), path: op.path, ...(op.operationId ? { operationId: op.operationId } : {}), reason, cause });
  };
  const selected: number[] = [];
  operations.forEach((op, index) => {
    const reason = filterReason(op, names[index]!, options);
    if (reason === undefined) selected.push(index);
    else skip(index, reason);
  });
  checkFilters(operations, names, selected.length, options, shown);

  const base = chooseBaseUrl(spec, options.baseUrl, options.allowPlainHttp ?? false);
  warnings.push(...base.warnings);
  const auth = chooseAuth(
    spec,
    resolver,
    selected.filter((i) => !operations[i]!.unresolved).map((i) => operations[i]!.operation.node.security),
    secretPrefix(name),
  );
  warnings.push(...auth.warnings);

  const notes = new Map<SchemaNoteKind, { count: number; first: SchemaSite }>();
  const definitions = new DefinitionRegistry(resolver, spec.rootUrl);
  const schemas = new SchemaConverter({
    dialect: spec.dialect,
    refer: (ref, url) => definitions.refer(ref, url),
    note: (kind, site) => {
      const seen = notes.get(kind);
      if (seen) seen.count++;
      else notes.set(kind, { count: 1, first: site });
    },
  });
  const byMessage = new Map<string, string[]>();
  // An operation's warnings count only if it is imported.
  let operationWarnings: Array<[string, string]> = [];
  const warn = (message: string, operation?: string) => {
    if (operation === undefined) warnings.push(message);
    else operationWarnings.push([message, operation]);
  };
  const context: ConvertContext = { spec, resolver, schemas, suppliedParam: auth.suppliedParam, operationAuth: auth.forOperation, warn };

  const drafts: Array<{ name: string; op: OperationRef; draft: ActionDraft }> = [];
  for (const index of selected) {
    const op = operations[index]!;
    const checkpoint = definitions.checkpoint();
    operationWarnings = [];
    try {
      if (op.unresolved) throw op.unresolved;
      const draft = convertOperation(op, context, base);
      // The definitions it reaches are converted now, so that one that cannot be is this operation's failure.
      definitions.drain((raw, site) => schemas.convert(raw, site));
      drafts.push({ name: names[index]!, op, draft });
      for (const [message, operation] of operationWarnings) byMessage.set(message, [...(byMessage.get(message) ?? []), operation]);
    } catch (error) {
      if (!(error instanceof Unsupported || error instanceof ToolctlError)) throw error;
      definitions.rollback(checkpoint);
      skip(index, error.message, error);
    }
  }
  const failed = skipped.filter((s) => s.cause !== undefined);
  if (drafts.length === 0) throw refusal(shown, `none of the ${selected.length} selected operation(s) can be imported`, failed[0]);
  if (options.strict && failed.length > 0)
    throw refusal(shown, `${failed.length} of the ${selected.length} selected operation(s) cannot be imported (--strict)`, failed[0]);
  for (const [message, ops] of byMessage) {
    warnings.push(`${ops.slice(0, 3).join(", ")}${ops.length > 3 ? ` and ${ops.length - 3} more` : ""}: ${message}`);
  }
  for (const [kind, { count, first }] of notes) warnings.push(`${count} ${NOTES[kind]} (first at ${spec.show(first.url)}#${first.pointer})`);

  const emitter = definitions.emitter((message) => warnings.push(message));
  const emitted = drafts.map(({ draft }) => ({ input: emitter.emit(draft.input, "input"), output: draft.output && emitter.emit(draft.output, "output") }));
  const shared = emitter.finish();
  const actions: Record<string, unknown> = {};
  drafts.forEach(({ name: action, draft }, i) => {
    const { input, output } = emitted[i]!;
    actions[action] = { ...draft.action, inputSchema: input, ...(output !== undefined ? { outputSchema: output } : {}) };
  });

  // Operations with servers of their own call those hosts too; with private networks allowed, each at its origin
  // (a private address is reached only at the origins a tool lists, and a bare host name opens none).
  const ownHosts = drafts.flatMap(({ draft }) => {
    const own = (draft.action.request as Record<string, unknown>).baseUrl;
    if (typeof own !== "string") return [];
    const url = new URL(own);
    return options.allowPrivateNetworks ? [url.hostname, url.origin] : [url.hostname];
  });
  const http: Record<string, unknown> = { allowedHosts: [...new Set([...base.allowedHosts, ...ownHosts])] };
  if (options.allowPlainHttp) http.allowPlainHttp = true;
  if (options.allowPrivateNetworks) http.allowPrivateNetworks = true;
  const manifest: Record<string, unknown> = {
    apiVersion: "toolctl/v1",
    name,
    version: info.version !== undefined && String(info.version).trim() !== "" ? String(info.version).trim() : "0.0.0",
    description: title,
    runtime: "http",
    baseUrl: base.baseUrl,
    auth: auth.auth,
    http,
    ...(Object.keys(shared).length > 0 ? { definitions: shared } : {}),
    actions,
  };
  return {
    manifest,
    report: {
      title,
      specVersion: spec.dialect === "swagger2" ? "swagger 2.0" : `openapi ${spec.version}`,
      source,
      operations: operations.length,
      imported: drafts.map(({ name: action, op }) => ({
        action,
        method: op.method.toUpperCase(),
        path: op.path,
        ...(op.operationId ? { operationId: op.operationId } : {}),
      })),
      skipped: skipped.sort((a, b) => a.index - b.index).map(({ index: _index, cause: _cause, ...rest }) => rest),
      warnings,
    },
  };
}

/** The spec refused because of an operation that cannot be imported: a reference the guard refused is exit 3. */
function refusal(shown: string, summary: string, first: (SkippedOperation & { cause?: Error }) | undefined): ToolctlError {
  const reason =
    first === undefined
      ? ""
      : `: ${first.method} ${first.path}: ${first.reason.startsWith(`${shown}: `) ? first.reason.slice(shown.length + 2) : first.reason}`;
  const message = `${summary}${reason}`;
  return first?.cause instanceof PolicyError ? new PolicyError("url_blocked", `${shown}: ${message}`, { file: shown }) : specError(shown, message);
}
