/**
 * `toolctl ui`: the local approval page. A web server on loopback, over the library API (actor `user`):
 * the approvals inbox (approve with a second factor, or deny), the executions, the audit log and the budget.
 * See server.ts for what every request must pass, and factors.ts for what approving takes. `uiHandler` is the
 * same page for a server that is not its own (`toolctl mcp --http --ui`); served.ts says where a page is served.
 */
import type { Toolctl } from "../api/index.js";
import { parseListen } from "./listen.js";
import { serveUi as serve, uiHandler as handler, type PageAddress, type RunningUi, type UiHandler } from "./server.js";
import type { SessionLimits } from "./sessions.js";

export type { PageAddress, RunningUi, UiHandler };
export { isLoopback } from "./listen.js";
export { announcePage, approvalPageUrl, servedPage, PAGE_FILE, type ServedPage } from "./served.js";
export { SECURITY_HEADERS } from "./guard.js";
export { SESSION_IDLE_MS, SESSION_MAX_MS } from "./sessions.js";

export interface UiHandlerOptions {
  log?: (message: string) => void;
  /** Shorter session limits, for tests. */
  sessions?: SessionLimits;
  pollMs?: number;
  /** Where the login link leads once signed in (default: the inbox); `/2fa/passkeys` for enrolment. */
  landing?: string;
}

export interface UiOptions extends UiHandlerOptions {
  /** `PORT` or `HOST:PORT`, loopback only. Default: 127.0.0.1 and a free port. */
  listen?: string;
}

export function serveUi(toolctl: Toolctl, options: UiOptions = {}): Promise<RunningUi> {
  return serve(toolctl, {
    ...parseListen(options.listen ?? "0"),
    log: options.log ?? (() => undefined),
    sessions: options.sessions,
    pollMs: options.pollMs,
    landing: options.landing,
  });
}

/**
 * The page's request handler, to mount on a server of another front door (every path it does not answer
 * itself). That server must listen on loopback only, and call `listening` with its address before it answers.
 */
export function uiHandler(toolctl: Toolctl, options: UiHandlerOptions = {}): UiHandler {
  return handler(toolctl, { log: options.log ?? (() => undefined), sessions: options.sessions, pollMs: options.pollMs });
}
