/**
 * `toolctl mcp`: serves the registry's actions to AI agents over MCP, on stdio or Streamable HTTP, through the
 * library API (actor `agent`). See server.ts for what is exposed and how approvals reach a human.
 */
import { randomUUID } from "node:crypto";
import type { Toolctl } from "../api/index.js";
import { UsageError } from "../errors.js";
import { isLoopback, parseListen, serveHttp, type MountedHandler, type RunningHttp } from "./http.js";
import { McpHost, type McpOptions } from "./server.js";
import { CheckedStdioServerTransport } from "./stdio.js";
import { bearerToken, TOKEN_ENV } from "./token.js";

export { McpHost, type McpOptions } from "./server.js";
export { mcpToolName, MCP_NAME_PATTERN } from "./names.js";
export { MAX_OUTPUT_BYTES } from "./results.js";
export type { MountedHandler } from "./http.js";

export interface StdioHandle {
  /** Resolves when the client goes away (stdin closes) or `close()` is called. */
  closed: Promise<void>;
  close(): Promise<void>;
}

export async function serveStdio(toolctl: Toolctl, options: McpOptions): Promise<StdioHandle> {
  const host = new McpHost(toolctl, options);
  // One session for the life of the process: its calls' origin and its refusals' records carry this id.
  const session = randomUUID();
  const transport = new CheckedStdioServerTransport();
  // A line the SDK could not take is answered by the transport (see stdio.ts), once on record as HTTP's are.
  transport.onrefused = (refusal) => host.refusedRequest(`malformed message: ${refusal.reason}`, { session });
  const server = host.createServer(() => session);
  let done!: () => void;
  const closed = new Promise<void>((resolve) => (done = resolve));
  transport.onclose = () => done();
  process.stdin.once("end", () => void transport.refusalsAnswered().then(() => host.close().then(done)));
  await host.connect(server, transport, () => session);
  host.start();
  return {
    closed,
    async close() {
      await transport.refusalsAnswered();
      await host.close();
      done();
    },
  };
}

export interface HttpServeOptions extends McpOptions {
  /** `PORT` or `HOST:PORT`. */
  listen: string;
  /** Bind an address other than loopback (other machines reach the server). */
  allowRemote: boolean;
  /** Replace the stored bearer token with a new one (printed once). */
  newToken: boolean;
  /** Where TOOLCTL_MCP_TOKEN is read from. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** See http.ts MAX_SESSIONS and SESSION_IDLE_MS. */
  maxSessions?: number;
  sessionIdleMs?: number;
  /**
   * The approval page, served on the same port at every path but /mcp (`--ui`). Loopback only: with it, an
   * address that is not loopback is refused, --allow-remote or not.
   */
  page?: MountedHandler;
}

export async function serveHttpMcp(toolctl: Toolctl, options: HttpServeOptions): Promise<RunningHttp & { token: ReturnType<typeof bearerToken> }> {
  const listen = parseListen(options.listen);
  if (options.page && !isLoopback(listen.host)) {
    throw new UsageError(
      `--ui: the approval page is served to this machine only, and --http ${options.listen} binds ${listen.host}: use a loopback address (127.0.0.1), or serve the page with toolctl ui`,
    );
  }
  if (!isLoopback(listen.host) && !options.allowRemote) {
    throw new UsageError(
      `--http ${options.listen}: ${listen.host} is not a loopback address; other machines could reach this registry's actions: add --allow-remote if that is what you want`,
    );
  }
  const token = bearerToken(toolctl.home, options.env ?? process.env, options.newToken);
  const host = new McpHost(toolctl, options);
  const log = options.log ?? (() => undefined);
  const running = await serveHttp(host, {
    ...listen,
    tokenHash: token.hash,
    log,
    maxSessions: options.maxSessions,
    sessionIdleMs: options.sessionIdleMs,
    mount: options.page,
  });
  try {
    token.save();
  } catch (error) {
    await running.close();
    throw error;
  }
  return {
    ...running,
    token,
    async close() {
      await running.close();
      await host.close();
    },
  };
}

export { TOKEN_ENV };
