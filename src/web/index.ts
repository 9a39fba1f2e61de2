/**
 * `toolctl ui`: the local approval page. A web server on loopback, over the library API (actor `user`):
 * the approvals inbox (approve with a second factor, or deny), the executions, the audit log and the budget.
 * See server.ts for what every request must pass, and factors.ts for what approving takes.
 */
import type { Toolctl } from "../api/index.js";
import { parseListen } from "./listen.js";
import { serveUi as serve, type RunningUi } from "./server.js";
import type { SessionLimits } from "./sessions.js";

export type { RunningUi };
export { SECURITY_HEADERS } from "./guard.js";
export { SESSION_IDLE_MS, SESSION_MAX_MS } from "./sessions.js";

export interface UiOptions {
  /** `PORT` or `HOST:PORT`, loopback only. Default: 127.0.0.1 and a free port. */
  listen?: string;
  log?: (message: string) => void;
  /** Shorter session limits, for tests. */
  sessions?: SessionLimits;
  pollMs?: number;
  /** Where the login link leads once signed in (default: the inbox); `/2fa/passkeys` for enrolment. */
  landing?: string;
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
