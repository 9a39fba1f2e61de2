/**
 * The MCP server: registry actions as MCP tools, called through the same pipeline as `toolctl run` with actor
 * `agent`. One `McpHost` serves every session of a process (one for stdio, one per client over HTTP): it holds
 * the exposed tool list (rebuilt when the registry changes, which it polls), the calls waiting on a human's
 * approval (for `resume`), and the sessions to tell when the list changes.
 *
 * Approvals never come from the agent: a call that needs one files a request bound to the call's digest and
 * waits; a human decides it with `toolctl approve` in their own terminal (with a TOTP code when CRITICAL), or on
 * the approval page when one is served for this home. A client that supports URL-mode elicitation is asked to
 * show its user that request's page (an address with no secret in it); its answer decides nothing, and the call
 * waits for the decision all the same. No code, `--yes` or decision is ever taken from the client.
 */
import { randomUUID } from "node:crypto";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  type CallToolResult,
  type JSONRPCMessage,
  type ServerNotification,
  type ServerRequest,
  type Task,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { InMemoryTaskStore } from "@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import type { JsonSchemaType } from "@modelcontextprotocol/sdk/validation";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { CatalogEntry, ExecuteResult, ExecutionOrigin, RunOptions, Toolctl } from "../api/index.js";
import { ToolctlError } from "../api/index.js";
import { refusalLog, type RefusalLog } from "../api/refusals.js";
import { isExposed, PREVIEW_TOOL, RESUME_TOOL, toolOf, type ExposureOptions } from "./exposure.js";
import { mcpToolName } from "./names.js";
import { McpSettings, SettingsUnavailable } from "./policy.js";
import { errorResult, filedText, handOffText, MAX_OUTPUT_BYTES, previewResult, runResult } from "./results.js";

/**
 * `allow`, `approvalWaitSeconds` and `elicit` are what the command line (or the program) gives; config.yaml's
 * `mcp` settings, read on every call, add to them or fill them in (policy.ts).
 */
export interface McpOptions extends ExposureOptions {
  /**
   * How long a call that needs approval waits for the decision before returning the pending request; default
   * config.yaml's `mcp.approvalWaitSeconds`, as it is at each call.
   */
  approvalWaitSeconds?: number;
  /** The largest text content a call returns (default MAX_OUTPUT_BYTES). */
  maxOutputBytes?: number;
  /** How often the registry is checked for changes, in milliseconds (default 1,000). */
  pollMs?: number;
  /** toolctl's version, announced to clients. */
  version: string;
  /** Where the server's own notes go (stderr for stdio: stdout is the protocol). */
  log?: (message: string) => void;
  /**
   * Off by default, and weaker: a MEDIUM-risk call that needs approval asks the user through the client (form
   * elicitation) before a request is filed for a terminal. The answer then passes through the client. On when
   * true; otherwise as config.yaml's `mcp.elicit` says at each call.
   */
  elicit?: boolean;
  /**
   * The page where a human can decide this approval request, when one is served for this home (`toolctl ui`,
   * or this server with --ui); undefined otherwise. Asked each time a request is filed or named: a page may
   * start or stop while the server runs. The address must hold no secret.
   */
  approvalPage?: (approvalId: string) => string | undefined;
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

interface Exposed {
  entry: CatalogEntry;
  tool: Tool;
}

interface Snapshot {
  /** The registry's version and the allow list it was built for. */
  version: string;
  byName: Map<string, Exposed>;
  tools: Tool[];
  /** Changes when what a client sees changes (names, schemas, descriptions), not with every registry write. */
  digest: string;
}

/** A call that waited for approval in vain: `resume` runs exactly it once the human approved. */
interface Waiting {
  target: string;
  input: Record<string, unknown>;
}

const INSTRUCTIONS =
  "toolctl runs real-world actions under the user's policy: cost estimates, spending limits, risk levels, approvals by a human and an audit log. " +
  "Use `preview` to see what a call would do (exact request, cost, risk, approval need) before making it. A call that needs approval waits " +
  "for a human, who decides in their own terminal or on toolctl's approval page; if it returns a pending approval id, tell the user where to decide it " +
  "(the result says) and call `resume` with that id once they approved.";

/** Why a message is a `tools/call` the SDK would fail on as an internal error, if it is one. */
/** How many call ids a session remembers (the oldest are forgotten past this). */
const MAX_IDS_KEPT = 100_000;

/**
 * Where `value` holds a whole number too large to be exact (past 2^53 - 1), e.g. `arguments.id`: its JSON text was
 * rounded when it was read, as the CLI refuses it for `--params`.
 */
function inexactNumber(value: unknown, where: string): string | undefined {
  // Walked with a stack of its own: arguments nested however deep never overflow the call stack.
  const pending: Array<[unknown, string]> = [[value, where]];
  while (pending.length > 0) {
    const [item, path] = pending.pop()!;
    if (typeof item === "number" && Number.isInteger(item) && !Number.isSafeInteger(item)) return `${path} (${item})`;
    if (typeof item !== "object" || item === null) continue;
    const entries = Object.entries(item);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, inner] = entries[i]!;
      pending.push([inner, Array.isArray(item) ? `${path}[${key}]` : `${path}.${key}`]);
    }
  }
  return undefined;
}

function malformedCall(message: JSONRPCMessage): string | undefined {
  if (!("method" in message) || message.method !== "tools/call") return undefined;
  // A list or other non-object `params` never gets here: malformed.ts refuses it first.
  const params = message.params as Record<string, unknown> | undefined;
  if (typeof params !== "object" || params === null) return "needs params: the tool's name and its arguments";
  if (typeof params.name !== "string") return "the tool's name must be text";
  const args = params.arguments;
  if (args !== undefined && (typeof args !== "object" || args === null || Array.isArray(args))) return "arguments must be an object (the tool's input)";
  const task = params.task;
  if (task !== undefined && (typeof task !== "object" || task === null || Array.isArray(task))) return "task must be an object (its ttl, in milliseconds)";
  const ttl = (task as { ttl?: unknown } | undefined)?.ttl;
  if (ttl !== undefined && typeof ttl !== "number") return "task.ttl must be a number (milliseconds)";
  // Anything else the SDK's schema would fail on, named by where it is.
  const parsed = CallToolRequestSchema.safeParse(message);
  if (!parsed.success) {
    const where = parsed.error.issues[0]?.path.map(String).join(".") ?? "";
    return `params do not fit the protocol${where ? ` (at ${where})` : ""}`;
  }
  return undefined;
}

export class McpHost {
  private snapshot?: Snapshot;
  private building?: { version: string; snapshot: Promise<Snapshot> };
  /** What is offered and how calls wait, as config.yaml says now. */
  private readonly settings: McpSettings;
  /** The last failure to build the tool list that was logged: a broken config.yaml is said once, not every second. */
  private pollFailure?: string;
  /** Every name listed by this process, to its action: a call for a name listed earlier gets the engine's reason, not "unknown". */
  private readonly listed = new Map<string, string>();
  private readonly waiting = new Map<string, Waiting>();
  private readonly servers = new Set<Server>();
  private timer?: NodeJS.Timeout;
  private polling = false;
  /** Tasks of every session (each task is bound to the session that made it). */
  private readonly tasks = new InMemoryTaskStore();

  constructor(
    readonly toolctl: Toolctl,
    readonly options: McpOptions,
  ) {
    this.refusedRequest = refusalLog(toolctl, "mcp.refused", (message) => options.log?.(`toolctl mcp: ${message}`));
    this.settings = new McpSettings(toolctl, options);
  }

  /** How many sessions' servers this host holds (each is told when the tool list changes): one per live session. */
  get serverCount(): number {
    return this.servers.size;
  }

  /** Watches the registry and tells every session when its tool list changes. */
  start(): void {
    this.timer ??= setInterval(() => void this.poll(), this.options.pollMs ?? 1000);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.tasks.cleanup();
    await Promise.allSettled([...this.servers].map((server) => server.close()));
  }

  private async poll(): Promise<void> {
    if (this.polling || this.servers.size === 0) return;
    this.polling = true;
    try {
      const before = this.snapshot?.digest;
      const now = await this.current();
      this.pollFailure = undefined;
      if (before !== undefined && now.digest !== before) {
        await Promise.allSettled([...this.servers].map((server) => server.sendToolListChanged()));
      }
    } catch (error) {
      const message = (error as Error).message;
      if (message !== this.pollFailure) this.options.log?.(`toolctl mcp: cannot build the tool list: ${message}`);
      this.pollFailure = message;
    } finally {
      this.polling = false;
    }
  }

  /** The exposed tools, rebuilt only when the registry or the allow list (config.yaml's `mcp.allow`) changed. */
  async current(): Promise<Snapshot> {
    const [registry, { allow }] = await Promise.all([this.toolctl.registryVersion(), this.settings.now()]);
    const version = `${registry} ${[...allow].sort().join(",")}`;
    if (this.snapshot?.version === version) return this.snapshot;
    if (this.building?.version !== version) {
      const building = { version, snapshot: this.build(version, allow) };
      this.building = building;
      const done = () => void (this.building === building && (this.building = undefined));
      building.snapshot.then(done, done);
    }
    return this.building.snapshot;
  }

  private async build(version: string, allow: readonly string[]): Promise<Snapshot> {
    const { tools, tag } = this.options;
    const entries = (await this.toolctl.catalog({ tools, tag })).filter((entry) => isExposed(entry, allow));
    const byName = new Map<string, Exposed>();
    for (const entry of entries) {
      const tool = toolOf(entry);
      byName.set(tool.name, { entry, tool });
      this.listed.set(tool.name, entry.target);
    }
    const list = [...byName.values()].map((exposed) => exposed.tool);
    const { createHash } = await import("node:crypto");
    const digest = createHash("sha256").update(JSON.stringify(list)).digest("hex");
    this.snapshot = { version, byName, tools: list, digest };
    return this.snapshot;
  }

  /** A server for one session; `sessionId` is read when a call is recorded (HTTP assigns it after initialize). */
  createServer(sessionId: () => string | undefined): Server {
    const server = new Server(
      { name: "toolctl", title: "toolctl", version: this.options.version },
      {
        capabilities: { tools: { listChanged: true }, logging: {}, tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } },
        instructions: INSTRUCTIONS,
        taskStore: this.tasks,
      },
    );
    const fallbackSession = randomUUID();
    const origin = (): ExecutionOrigin => {
      const client = server.getClientVersion();
      return { via: "mcp", ...(client ? { client: { name: client.name, version: client.version } } : {}), session: sessionId() ?? fallbackSession };
    };
    server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: [...(await this.current()).tools, PREVIEW_TOOL, RESUME_TOOL] }));
    server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const args = request.params.arguments ?? {};
      const context: CallContext = { server, origin: origin(), extra };
      try {
        if (request.params.task && extra.taskStore) return await this.startTask(request.params.name, args, context, extra.taskStore, extra.taskRequestedTtl);
        return await this.dispatch(request.params.name, args, context);
      } catch (error) {
        // A config.yaml that no longer loads: the call fails with its error, as a run in a new process would (a
        // task that could not start is the request's error instead).
        if (error instanceof SettingsUnavailable && !request.params.task) return error.result(request.params.name);
        throw error;
      }
    });
    this.servers.add(server);
    server.onclose = () => this.servers.delete(server);
    // A message the transport could not parse or route never reaches a handler: it is refused, and on record.
    server.onerror = (error) => this.track(this.refusedRequest(`malformed message: ${error.message}`, { session: sessionId() ?? fallbackSession }));
    return server;
  }

  /**
   * Connects `server` to `transport`, with the checks the SDK leaves out, each answered as an error and put on
   * record as `mcp.refused`: a `tools/call` whose name is not text or whose arguments are not an object (-32602,
   * rather than an internal error with the validator's dump, unrecorded); one whose id this session already used
   * (-32600: sent again, it would run again); and one whose arguments hold a whole number past 2^53 - 1, which
   * reading the JSON rounded (-32602, as the CLI refuses it).
   */
  async connect(server: Server, transport: Transport, sessionId: () => string | undefined): Promise<void> {
    await server.connect(transport);
    const handle = transport.onmessage!;
    // The ids of this session's calls: an id is used once in a session (JSON-RPC and MCP say so), and a call sent
    // again under one would run again, its answer overwriting the first's (a retry paying twice).
    const used = new Set<string | number>();
    // Those not answered yet. The transport routes an answer by its id, one per id: a second call under an id still
    // running is refused on record but not answered, so that the answer its client gets is the first call's.
    const unanswered = new Set<string | number>();
    const send = transport.send.bind(transport);
    transport.send = (message, options) => {
      if ("id" in message && ("result" in message || "error" in message)) unanswered.delete(message.id as string | number);
      return send(message, options);
    };
    const refuse = (id: string | number, code: number, reason: string, message: string) => {
      void this.refusedRequest(reason, { session: sessionId() ?? null })
        .then(() => transport.send({ jsonrpc: "2.0", id, error: { code, message } }, { relatedRequestId: id }))
        .catch((error: unknown) => this.options.log?.(`toolctl mcp: cannot answer a refused call: ${(error as Error).message}`));
    };
    transport.onmessage = (message, extra) => {
      if (!("id" in message) || !("method" in message) || message.method !== "tools/call") return handle(message, extra);
      const id = message.id;
      const why = malformedCall(message);
      if (why !== undefined) return refuse(id, ErrorCode.InvalidParams, `malformed message: tools/call ${why}`, `Invalid params: ${why}`);
      if (used.has(id)) {
        const said = `request id ${JSON.stringify(id)} was already used in this session: a call sent again needs a new id (the first may have run)`;
        if (unanswered.has(id)) {
          void this.refusedRequest(`malformed message: tools/call ${said}`, { session: sessionId() ?? null }).catch(() => {});
          return;
        }
        return refuse(id, ErrorCode.InvalidRequest, `malformed message: tools/call ${said}`, `Invalid request: ${said}`);
      }
      used.add(id);
      unanswered.add(id);
      if (used.size > MAX_IDS_KEPT) used.delete(used.values().next().value!);
      const inexact = inexactNumber((message.params as { arguments?: unknown }).arguments, "arguments");
      if (inexact !== undefined) {
        const said = `${inexact} is a whole number past 2^53 - 1, which a JSON number does not hold exactly, so the call would act on another value: send it as text; nothing ran`;
        return refuse(id, ErrorCode.InvalidParams, `malformed message: tools/call ${said}`, `Invalid params: ${said}`);
      }
      return handle(message, extra);
    };
  }

  /**
   * Records a request refused before it was a call (no token, a foreign Origin or Host, a malformed message),
   * rate-limited as api/refusals.ts says. The HTTP transport awaits it before answering.
   */
  readonly refusedRequest: RefusalLog;

  /** Refusals the SDK reported (a malformed message), still being written. */
  private readonly writing = new Set<Promise<void>>();

  private track(write: Promise<void>): void {
    this.writing.add(write);
    void write.finally(() => this.writing.delete(write));
  }

  /** Resolves once every refusal reported so far is on record: an error answer waits for it. */
  async refusalsWritten(): Promise<void> {
    await Promise.all(this.writing);
  }

  private dispatch(name: string, args: Record<string, unknown>, context: CallContext): Promise<CallToolResult> {
    if (name === PREVIEW_TOOL.name) return this.preview(args, context);
    if (name === RESUME_TOOL.name) return this.resume(args, context);
    return this.call(name, args, context);
  }

  /**
   * A call the client asked to run as a task (MCP tasks): it is answered at once with the task, runs in the
   * background, and waits for a human's approval as long as the request is open (not just --approval-wait); the
   * client polls tasks/get and fetches tasks/result. tasks/cancel aborts it as notifications/cancelled would.
   */
  private async startTask(
    name: string,
    args: Record<string, unknown>,
    context: CallContext,
    store: NonNullable<Extra["taskStore"]>,
    ttl: number | undefined,
  ): Promise<{ task: Task }> {
    if (name !== PREVIEW_TOOL.name && name !== RESUME_TOOL.name && !(await this.current()).byName.has(name) && !this.listed.has(name)) {
      await this.refused(context, `unknown tool ${name}`);
      throw unknownTool(name);
    }
    const task = await store.createTask({ ttl: taskTtl(ttl), pollInterval: 1000 });
    const controller = new AbortController();
    const status = (message: string) => void store.updateTaskStatus(task.taskId, "working", message).catch(() => undefined);
    const detached: CallContext = { ...context, extra: { ...context.extra, signal: controller.signal, _meta: undefined }, untilDecided: true, status };
    const watch = setInterval(() => {
      void store
        .getTask(task.taskId)
        .then((current) => current.status === "cancelled" && controller.abort())
        .catch(() => controller.abort());
    }, 500);
    watch.unref();
    void (async () => {
      let result: CallToolResult;
      try {
        result = await this.dispatch(name, args, detached);
      } catch (error) {
        result = errorResult(`${name}: ${(error as Error).message}`);
      } finally {
        clearInterval(watch);
      }
      if (controller.signal.aborted) return;
      // Its last status line says how it ended: the store keeps the last one given, such as "waiting for a human".
      const ended = (result._meta?.["toolctl/execution"] as { status?: unknown } | undefined)?.status;
      await store
        .updateTaskStatus(
          task.taskId,
          "working",
          `${typeof ended === "string" ? `the run ended ${ended}` : result.isError ? "the call failed" : "the call returned"}; its result is ready`,
        )
        .catch(() => undefined);
      await store.storeTaskResult(task.taskId, result.isError ? "failed" : "completed", result).catch((error: unknown) => {
        this.options.log?.(`toolctl mcp: cannot store the result of task ${task.taskId}: ${(error as Error).message}`);
      });
    })();
    return { task };
  }

  /** Records a call refused before it reached the engine: the audit log has every attempt. */
  /** A call refused in a session: on record through the same capped log as every refusal (a flood buries nothing). */
  private async refused(context: CallContext, reason: string, target?: string): Promise<void> {
    const [tool, action] = target ? [target.slice(0, target.indexOf(".")), target.slice(target.indexOf(".") + 1)] : [null, null];
    await this.refusedRequest(reason, { origin: context.origin }, { tool, action });
  }

  private async call(name: string, args: Record<string, unknown>, context: CallContext): Promise<CallToolResult> {
    const snapshot = await this.current();
    const exposed = snapshot.byName.get(name);
    if (!exposed) {
      const target = this.listed.get(name);
      if (!target) {
        await this.refused(context, `unknown tool ${name}`);
        throw unknownTool(name);
      }
      // Listed earlier, gone from the list since: a tool disabled, revoked, pending or removed gets the engine's
      // own refusal (and audit record); an active one whose action is not offered is refused here.
      const withheld = await this.withheld(target, context);
      if (withheld) return errorResult(`${withheld}; nothing ran`);
      return this.run(target, args, context, {});
    }
    return this.run(exposed.entry.target, args, context, { outputSchema: exposed.tool.outputSchema });
  }

  /**
   * Why `target`, which is not in the current tool list, is refused here, once on record; undefined when its tool
   * is not active (disabled, revoked, pending, removed), whose refusal is the engine's own (and its audit record).
   */
  private async withheld(target: string, context: CallContext): Promise<string | undefined> {
    const tool = await this.toolctl.getTool(target.slice(0, target.indexOf(".")));
    if (tool?.status !== "active") return undefined;
    const reason = `${target} is not offered to agents (a create, update or delete action needs toolctl mcp --allow ${target}, or ${target} in config mcp.allow)`;
    await this.refused(context, reason, target);
    return reason;
  }

  private async run(
    target: string,
    input: Record<string, unknown>,
    context: CallContext,
    how: { outputSchema?: Tool["outputSchema"] },
    approvalId?: string,
  ): Promise<CallToolResult> {
    const { approvalWaitSeconds, elicit: elicits } = await this.settings.now();
    const report = progressOf(context);
    let filed: string | undefined;
    /** The URL elicitation sent for the filed request: it ends with the call. */
    let handOff: HandOffState | undefined;
    // Form mode only: a client that declared URL mode alone cannot answer a form.
    const elicit = elicits && context.server.getClientCapabilities()?.elicitation?.form !== undefined;
    const options: RunOptions = {
      origin: context.origin,
      signal: context.extra.signal,
      progress: report.progress,
      ...(elicit ? { approve: elicitation(context, approvalWaitSeconds), askFirst: { via: "MCP elicitation" } } : {}),
      ...(approvalId
        ? { approvalId }
        : {
            wait: true,
            // A task waits as long as the request is open; a plain call until --approval-wait, then says it is pending.
            waitSeconds: context.untilDecided ? undefined : approvalWaitSeconds,
            onApprovalFiled: (id: string, expiresAt: string) => {
              filed = id;
              this.waiting.set(id, { target, input });
              const page = this.pageOf(id);
              const message = filedText(target, id, expiresAt, page);
              this.options.log?.(`toolctl mcp: ${message}`);
              void context.server.sendLoggingMessage({ level: "warning", logger: "toolctl", data: message }, context.extra.sessionId).catch(() => undefined);
              report.waitingFor(id, page);
              context.status?.(`waiting for a human to approve ${id}: toolctl approve ${id}${page ? ` or ${page}` : ""}`);
              // Not for a call that returns the pending request at once: its result names the page.
              const waits = context.untilDecided === true || approvalWaitSeconds > 0;
              if (page && waits && context.server.getClientCapabilities()?.elicitation?.url) {
                handOff = { id, controller: new AbortController(), open: true };
                void this.handOff(context, target, handOff, page, expiresAt);
              }
            },
          }),
    };
    let result: ExecuteResult;
    try {
      result = await this.toolctl.run(target, input, options);
    } catch (error) {
      if (filed) this.waiting.delete(filed);
      await this.endHandOff(context, handOff, true);
      if (error instanceof ToolctlError)
        return errorResult(`${target}: ${error.message}${error.details.problems ? `\n${error.details.problems.map((p) => `- ${p}`).join("\n")}` : ""}`);
      throw error;
    } finally {
      report.stop();
    }
    const pending = result.error?.code === "approval_pending" ? result.approval?.requestId : undefined;
    if (pending) this.waiting.set(pending, { target, input });
    else if (filed) this.waiting.delete(filed);
    await this.endHandOff(context, handOff, !pending);
    const schema = how.outputSchema;
    return runResult(result, {
      maxOutputBytes: this.options.maxOutputBytes ?? MAX_OUTPUT_BYTES,
      structured: schema !== undefined,
      misfit: schema ? (output) => this.misfit(schema, output) : undefined,
      page: pending ? this.pageOf(pending) : undefined,
    });
  }

  /** Output schemas compiled as clients compile them (the SDK's own validator), once per listed schema. */
  private readonly validators = new WeakMap<object, (value: unknown) => { valid: boolean; errorMessage?: string }>();
  /** One Ajv for them all (made when first needed): an instance compiles its meta-schemas when made. */
  private compiler?: AjvJsonSchemaValidator;

  /**
   * Why a run's output does not fit the output schema the tool is listed with, if it does not. The engine checks
   * the output before redacting it; a secret's "[REDACTED]" in place of a number (or in a pattern) no longer fits,
   * and a client refuses such a result as a whole.
   */
  private misfit(schema: NonNullable<Tool["outputSchema"]>, output: unknown): string | undefined {
    let validate = this.validators.get(schema);
    if (!validate) {
      validate = (this.compiler ??= new AjvJsonSchemaValidator()).getValidator(schema as JsonSchemaType);
      this.validators.set(schema, validate);
    }
    const verdict = validate(output);
    return verdict.valid ? undefined : (verdict.errorMessage ?? "it does not match the output schema");
  }

  /** The approval page of a request, when one is served; a failure to find out is logged, never the call's. */
  private pageOf(id: string): string | undefined {
    try {
      return this.options.approvalPage?.(id);
    } catch (error) {
      this.options.log?.(`toolctl mcp: cannot tell whether an approval page is served: ${(error as Error).message}`);
      return undefined;
    }
  }

  /**
   * Asks the client to show its user the request's page (URL-mode elicitation, protocol 2025-11-25). The answer
   * decides nothing: `accept` means only that the user opened it. The call goes on waiting for the decision
   * meanwhile; the elicitation ends with the call (`signal`).
   */
  private async handOff(context: CallContext, target: string, state: HandOffState, url: string, expiresAt: string): Promise<void> {
    const { id, controller } = state;
    const signal = controller.signal;
    const approval = await this.toolctl.store.approvals.get(id).catch(() => undefined);
    const request = approval?.request;
    const message = handOffText({
      id,
      target,
      description: request?.description,
      costUsd: request?.cost.usd ?? approval?.costUsd ?? 0,
      costBasis: request?.cost.basis,
      risk: request?.risk ?? approval?.risk ?? "unknown",
      undo: request?.undo,
      twoFactor: request?.needsOtp ?? approval?.needsOtp ?? false,
    });
    try {
      const answer = await context.server.elicitInput(
        { mode: "url", message, url, elicitationId: id },
        {
          signal,
          // The user may take until the request expires to open it.
          timeout: Math.max(1000, Date.parse(expiresAt) - Date.now()),
          // On the call's own response stream over HTTP; a task's call has returned, so its own stream is gone.
          ...(context.untilDecided ? {} : { relatedRequestId: context.extra.requestId }),
        },
      );
      const said = { accept: "opened the approval page", decline: "declined to open the approval page", cancel: "dismissed the approval page" }[answer.action];
      this.options.log?.(`toolctl mcp: approval ${id}: the client's user ${said}`);
    } catch (error) {
      if (!signal.aborted) this.options.log?.(`toolctl mcp: approval ${id}: the client did not show the approval page: ${(error as Error).message}`);
    } finally {
      state.open = false;
    }
  }

  /**
   * The call is ending: a request that was decided (or withdrawn) has its page's interaction complete, which the
   * client is told (`notifications/elicitation/complete`); an elicitation still unanswered is cancelled either
   * way, on the call's own stream while it is open (the result names the page when the request is still pending).
   */
  private async endHandOff(context: CallContext, handOff: HandOffState | undefined, decided: boolean): Promise<void> {
    if (!handOff) return;
    if (decided) {
      const options = context.untilDecided ? undefined : { relatedRequestId: context.extra.requestId };
      try {
        await context.server.createElicitationCompletionNotifier(handOff.id, options)();
      } catch {
        // A client gone, or a stream closed: there is nobody left to tell.
      }
    }
    if (handOff.open) handOff.controller.abort();
  }

  private async preview(args: Record<string, unknown>, context: CallContext): Promise<CallToolResult> {
    const { action, input = {} } = args as { action?: unknown; input?: unknown };
    if (typeof action !== "string" || action === "") return errorResult('preview: give "action", a tool name from the list (or tool.action)');
    if (input === null || typeof input !== "object" || Array.isArray(input))
      return errorResult('preview: "input" must be an object of the action\'s arguments');
    const snapshot = await this.current();
    const exposed = snapshot.byName.get(action) ?? (action.includes(".") ? snapshot.byName.get(mcpToolName(...split(action))) : undefined);
    if (!exposed) {
      await this.refused(context, `preview of ${action}, which is not offered`);
      return errorResult(`preview: ${action} is not one of this server's tools; see tools/list`);
    }
    try {
      const result = await this.toolctl.preview(exposed.entry.target, input as Record<string, unknown>, {
        origin: context.origin,
        signal: context.extra.signal,
      });
      return previewResult(result);
    } catch (error) {
      if (error instanceof ToolctlError) return errorResult(`preview of ${exposed.entry.target}: ${error.message}`);
      throw error;
    }
  }

  private async resume(args: Record<string, unknown>, context: CallContext): Promise<CallToolResult> {
    const id = args.approval;
    if (typeof id !== "string" || id === "") return errorResult('resume: give "approval", the approval id an earlier call returned');
    const waiting = this.waiting.get(id);
    if (!waiting) {
      await this.refused(context, `resume of approval ${id}, which no call of this server is waiting on`);
      return errorResult(`resume: no call of this server is waiting on approval ${id} (it ran or ended already, or another server filed it); nothing ran`);
    }
    // Claimed before it runs: a second resume of the same id, even a concurrent one, finds nothing.
    this.waiting.delete(id);
    try {
      // Offered as a direct call would be, now: an action withdrawn from agents since it was filed (`mcp.allow`
      // emptied, say) is refused as that call is, and stays waiting, should it be offered again.
      const exposed = (await this.current()).byName.get(mcpToolName(...split(waiting.target)));
      if (!exposed) {
        const withheld = await this.withheld(waiting.target, context);
        if (withheld) {
          this.waiting.set(id, waiting);
          return errorResult(`resume: ${withheld}; nothing ran (approval ${id} was not used)`);
        }
      }
      return await this.run(waiting.target, waiting.input, context, { outputSchema: exposed?.tool.outputSchema }, id);
    } catch (error) {
      // Nothing ran: the call can be resumed once config.yaml loads again.
      if (error instanceof SettingsUnavailable) this.waiting.set(id, waiting);
      throw error;
    }
  }
}

/**
 * The yes/no for a MEDIUM-risk action, asked through the client (form elicitation). Anything else, a client that
 * cancels, or one that does not answer in time is `needsHuman`: a request is filed for a terminal instead.
 */
function elicitation(context: CallContext, waitSeconds: number): NonNullable<RunOptions["approve"]> {
  return async (request) => {
    if (request.risk !== "MEDIUM" || request.needsOtp) return { needsHuman: true };
    const message = [
      `Approve ${request.tool}.${request.action}? ${request.description}`,
      `Where it goes: ${request.target}`,
      `Cost: $${request.cost.usd.toFixed(2)} (${request.cost.basis}). Risk: ${request.risk}. Undo: ${request.undo}.`,
      `Input: ${JSON.stringify(request.details)}`,
    ].join("\n");
    try {
      const answer = await context.server.elicitInput(
        {
          message,
          requestedSchema: {
            type: "object",
            properties: { approve: { type: "boolean", title: "Approve", description: "yes runs this action now, as shown" } },
            required: ["approve"],
          },
        },
        { signal: context.extra.signal, timeout: Math.max(1, waitSeconds) * 1000 },
      );
      if (answer.action === "accept") return answer.content?.approve === true ? { approved: true } : { approved: false, reason: "answered no" };
      if (answer.action === "decline") return { approved: false, reason: "declined" };
      return { needsHuman: true };
    } catch {
      return { needsHuman: true };
    }
  };
}

/** A URL elicitation of one call: its id is the approval's; `open` until the client answered or it ended. */
interface HandOffState {
  id: string;
  controller: AbortController;
  open: boolean;
}

interface CallContext {
  server: Server;
  origin: ExecutionOrigin;
  extra: Extra;
  /** A task: wait for the approval until the request is decided or expires. */
  untilDecided?: boolean;
  /** A task's status line. */
  status?: (message: string) => void;
}

/** How long a finished task's result is kept when the client does not say. */
const TASK_TTL_MS = 60 * 60_000;
/** The longest a client may ask for: a day (a timer cannot hold much past 24 days, and fires at once then). */
const MAX_TASK_TTL_MS = 24 * 60 * 60_000;

/** The ttl a task gets: the client's, within 1 s and a day (MCP lets a receiver grant another than asked). */
function taskTtl(asked: number | undefined): number {
  if (asked === undefined || !Number.isFinite(asked)) return TASK_TTL_MS;
  return Math.min(Math.max(Math.round(asked), 1_000), MAX_TASK_TTL_MS);
}

/**
 * The protocol error for a tool that does not exist. Not an McpError: its message already carries the
 * "MCP error -32602:" prefix, which the client would add a second time.
 */
function unknownTool(name: string): Error {
  return Object.assign(new Error(`Unknown tool: ${name}`), { code: ErrorCode.InvalidParams });
}

function split(target: string): [string, string] {
  const dot = target.indexOf(".");
  return [target.slice(0, dot), target.slice(dot + 1)];
}

/**
 * Progress notifications for a call whose client asked for them (a progress token): the action's own progress
 * (an image pull, a deploy) and, while it waits for a human, a note every few seconds naming the approval.
 */
function progressOf(context: CallContext): { progress?: RunOptions["progress"]; waitingFor(id: string, page?: string): void; stop(): void } {
  const token = context.extra._meta?.progressToken;
  let count = 0;
  let timer: NodeJS.Timeout | undefined;
  const send = (message: string) => {
    if (token === undefined) return;
    void context.extra
      .sendNotification({ method: "notifications/progress", params: { progressToken: token, progress: ++count, message } })
      .catch(() => undefined);
  };
  return {
    progress: token === undefined ? undefined : { start: (label) => send(label), stop: () => undefined, status: (text) => send(text) },
    waitingFor(id, page) {
      send(`waiting for a human to approve ${id} (${page ? `on ${page}, or ` : ""}toolctl approve ${id})`);
      if (token !== undefined) timer = setInterval(() => send(`still waiting for approval ${id}`), 5000);
    },
    stop() {
      clearInterval(timer);
    },
  };
}
