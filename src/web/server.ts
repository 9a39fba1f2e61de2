/**
 * The HTTP server behind `toolctl ui`. Every request is checked before any route sees it:
 *
 * - `Host` must name this server (its address or localhost, and its port): DNS rebinding is refused;
 * - a POST must come from this server's own pages (`Origin`, else `Referer`, and `Sec-Fetch-Site` when sent);
 * - everything but the login link, the sign-out page and the two static files needs a live session (cookie);
 * - a POST must carry the session's CSRF token and be a plain form.
 *
 * The checks are in guard.ts. Each refusal answers 401, 403 or 400, runs nothing, and is written to the audit
 * log as `ui.refused` (api/refusals.ts).
 * Every response carries a strict Content-Security-Policy and is never cached.
 *
 * `uiHandler` is the page without a server of its own: `toolctl mcp --http --ui` answers with it every path but
 * /mcp on its own port. The checks are the same: they depend only on the address it is told it listens on.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Toolctl } from "../api/index.js";
import { ToolctlError, UsageError } from "../errors.js";
import { PASSKEY_SCRIPT, SCRIPT, STYLESHEET, webAuthnBundle } from "./assets.js";
import { html, type Html } from "./html.js";
import { page, refusalPage } from "./layout.js";
import { hostPart, ownHosts, type Listen } from "./listen.js";
import type { Reply, Route, RouteContext } from "./route.js";
import { auditRoutes } from "./routes/audit.js";
import { budgetRoutes } from "./routes/budget.js";
import { decideRoutes } from "./routes/decide.js";
import { eventRoutes } from "./routes/events.js";
import { executionRoutes } from "./routes/executions.js";
import { approvalRoutes, isApprovalPage } from "./routes/approval.js";
import { inboxRoutes, loadInbox } from "./routes/inbox.js";
import { passkeyRoutes } from "./routes/passkeys.js";
import { sameSecret, Sessions, type SessionLimits } from "./sessions.js";
import { cookieOf, hostRefusal, originRefusal, readForm, SECURITY_HEADERS } from "./guard.js";
import { refusalLog } from "../api/refusals.js";
import { InboxWatcher } from "./watch.js";

const ROUTES: readonly Route[] = [
  ...inboxRoutes,
  ...approvalRoutes,
  ...decideRoutes,
  ...passkeyRoutes,
  ...eventRoutes,
  ...executionRoutes,
  ...auditRoutes,
  ...budgetRoutes,
];

const STATIC: Record<string, { type: string; body: () => string }> = {
  "/static/app.css": { type: "text/css; charset=utf-8", body: () => STYLESHEET },
  "/static/app.js": { type: "text/javascript; charset=utf-8", body: () => SCRIPT },
  "/static/passkey.js": { type: "text/javascript; charset=utf-8", body: () => PASSKEY_SCRIPT },
  "/static/webauthn.js": { type: "text/javascript; charset=utf-8", body: webAuthnBundle },
};

export interface UiHandlerOptions {
  log: (message: string) => void;
  sessions?: SessionLimits;
  /** How often the inbox is polled for /events (ms). */
  pollMs?: number;
  /** Where the login link leads once signed in (default: the inbox). */
  landing?: string;
}

export interface UiServerOptions extends Listen, UiHandlerOptions {}

/** Where the page is and how to sign in. */
export interface PageAddress {
  /**
   * The page's address: `http://localhost:PORT` when it listens on 127.0.0.1 (the default), since WebAuthn takes no
   * IP address as its relying party; else the address it listens on (`http://[::1]:PORT`), where passkeys do not work.
   */
  origin: string;
  /** The one-time login link: `origin/login?token=…`. */
  loginUrl: string;
}

export interface RunningUi extends PageAddress {
  close(): Promise<void>;
}

/** The page's request handler, for a server that is not its own. */
export interface UiHandler {
  /** Answers one request (any path). Until `listening` is called every request is refused: no Host is its own. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /**
   * Where the server listens (a loopback address and the port it got): the `Host` and `Origin` it answers to,
   * its cookie's name and its links follow from it. Call it once, as soon as the server listens.
   */
  listening(address: Listen): PageAddress;
  /** Stops polling the inbox for open pages; the server's connections are the server's to close. */
  close(): void;
}

function send(res: ServerResponse, reply: Reply): void {
  res.writeHead(reply.status, { "content-type": reply.contentType ?? "text/html; charset=utf-8", ...reply.headers });
  res.end(String(reply.body));
}

export function uiHandler(toolctl: Toolctl, options: UiHandlerOptions): UiHandler {
  const sessions = new Sessions(options.sessions);
  let hosts = new Set<string>();
  let cookieName = "";
  let origin = "";
  const landing = options.landing ?? "/";
  const watcher = new InboxWatcher(
    async () => (await loadInbox(toolctl)).version,
    (error) => options.log(`toolctl ui: cannot read the inbox: ${(error as Error).message}`),
    options.pollMs,
  );

  const audit = refusalLog(toolctl, "ui.refused", (message) => options.log(`toolctl ui: ${message}`));

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    // The path only: a query may hold the login token, which is never written anywhere.
    const url = new URL(req.url ?? "/", "http://localhost");
    const where = { method: req.method ?? "", path: url.pathname, remote: req.socket.remoteAddress ?? null };
    // On record before the answer: whoever was refused cannot outrun the audit log.
    const refuse = async (status: number, reason: string, shown: Html = refusalPage("Refused", reason)) => {
      await audit(reason, where);
      send(res, { status, body: shown });
    };

    const wrongHost = hostRefusal(req, hosts);
    if (wrongHost) return refuse(403, wrongHost);
    const method = req.method === "HEAD" ? "GET" : req.method;
    if (method !== "GET" && method !== "POST") return send(res, { status: 405, body: refusalPage("Not allowed", `${req.method} is not used here`) });

    if (method === "GET") {
      const file = STATIC[url.pathname];
      if (file) return send(res, { status: 200, body: file.body(), contentType: file.type });
      if (url.pathname === "/favicon.ico") return send(res, { status: 204, body: "" });
      if (url.pathname === "/login") return login(url, res, refuse);
      if (url.pathname === "/signed-out") {
        return send(res, { status: 200, body: refusalPage("Signed out", "You are signed out.", "Start toolctl ui again for a new login link.") });
      }
    } else {
      // A form posted by another site, or by a page this server did not serve.
      const foreign = originRefusal(req, hosts);
      if (foreign) return refuse(403, foreign);
    }

    const cookie = cookieOf(req, cookieName);
    const session = sessions.find(cookie);
    if (!session) {
      const end = cookie ? sessions.endOf(cookie) : undefined;
      const [why, said] = !cookie
        ? ["not signed in", "no session"]
        : end === "signed out"
          ? ["the session was signed out", "this browser signed out"]
          : end === "timed out"
            ? ["the session has ended (30 minutes idle, or 12 hours since sign-in)", "your session has ended"]
            : ["the cookie names no session of this server (made up, or from an earlier toolctl ui)", "this browser's session is not one of this server's"];
      // A link to one approval (as an MCP client shows it) carries no secret: signing in is a step of its own.
      const approval = method === "GET" ? isApprovalPage(url.pathname) : undefined;
      return refuse(
        401,
        `unauthorized: ${why}`,
        approval
          ? refusalPage(
              "Sign in to see this approval request",
              `Not signed in: ${said}. Approval request ${approval} is shown here once this browser is signed in.`,
              "Open the login link printed on the terminal that serves this page (by toolctl ui, or toolctl mcp --ui), then open this address again. A link works once: start the server again for a new one.",
            )
          : refusalPage(
              "Not signed in",
              `Not signed in: ${said}.`,
              "Open the login link toolctl ui printed; a link works once, so start toolctl ui again for a new one.",
            ),
      );
    }

    let params: string[] = [];
    const route = ROUTES.find((candidate) => {
      const match = candidate.method === method ? candidate.path.exec(url.pathname) : null;
      if (match) params = match.slice(1);
      return match !== null;
    });
    if (!route) {
      const other = ROUTES.some((candidate) => candidate.path.test(url.pathname));
      return send(res, {
        status: other ? 405 : 404,
        body: page({
          title: "Not found",
          csrf: session.csrf,
          body: html`<h1>Nothing here</h1>
            <p><a href="/">Approvals</a></p>`,
        }),
      });
    }

    let form = new URLSearchParams();
    if (method === "POST") {
      const read = await readForm(req);
      if (typeof read === "string") return refuse(400, `bad request: ${read}`);
      const csrf = read.get("csrf");
      if (!csrf || !sameSecret(csrf, session.csrf)) return refuse(403, `forbidden: ${csrf ? "wrong" : "missing"} CSRF token`);
      form = read;
    }

    const context: RouteContext = {
      toolctl,
      origin,
      url,
      params,
      session,
      form,
      req,
      res,
      refused: (reason, data = {}) => audit(reason, { ...where, ...data }),
      endSession() {
        sessions.end(session);
        res.setHeader("set-cookie", `${cookieName}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
      },
      sessionIsLive: () => sessions.isLive(session),
      watchInbox: (listener) => watcher.subscribe(listener),
    };
    const reply = await route.handle(context);
    if (reply) send(res, reply);
  };

  const login = async (url: URL, res: ServerResponse, refuse: (status: number, reason: string, shown?: Html) => Promise<void>): Promise<void> => {
    const token = url.searchParams.get("token") ?? "";
    const result = token ? sessions.login(token) : ({ ok: false, reason: "wrong" } as const);
    if (!result.ok) {
      const reason = !token ? "login link without a token" : result.reason === "used" ? "login token already used" : "wrong login token";
      return refuse(
        403,
        `forbidden: ${reason}`,
        refusalPage("Sign-in refused", `This login link cannot be used: ${reason}.`, "A login link works once. Start toolctl ui again for a new one."),
      );
    }
    await toolctl.store.audit
      .append({ type: "ui.signed_in", actor: toolctl.actor, status: "ok", data: {} })
      .catch((error: unknown) => options.log(`toolctl ui: cannot write the audit log: ${(error as Error).message}`));
    res.setHeader("set-cookie", `${cookieName}=${result.id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${sessions.maxAgeSeconds}`);
    // A page of our own that moves on to the inbox, not a redirect: a SameSite=Strict cookie is not sent on a
    // redirect that began on another site (a link clicked in a mail or chat), but is on this page's own navigation.
    send(res, {
      status: 200,
      body: html`<!doctype html>
        <html lang="en">
          <head>
            <meta charset="utf-8" />
            <meta http-equiv="refresh" content="0;url=${landing}" />
            <title>Signed in · toolctl</title>
            <link rel="stylesheet" href="/static/app.css" />
          </head>
          <body>
            <main>
              <p>Signed in. <a href="${landing}">Continue</a>.</p>
            </main>
          </body>
        </html>`,
    });
  };

  return {
    handle(req, res) {
      handle(req, res).catch((error: unknown) => {
        const settings = settingsError(error);
        if (settings) {
          options.log(`toolctl ui: ${settings.message}`);
          if (!res.headersSent) send(res, { status: 500, body: refusalPage("Settings cannot be read", settings.message, SETTINGS_HINT) });
          else res.end();
          return;
        }
        options.log(`toolctl ui: ${(error as Error).stack ?? String(error)}`);
        if (!res.headersSent) send(res, { status: 500, body: refusalPage("Error", "Something went wrong; the terminal running toolctl ui says what.") });
        else res.end();
      });
    },
    listening(address) {
      hosts = ownHosts(address);
      // Cookies are kept per host, not per port: a name of its own keeps two pages on this machine apart (and the
      // browser sends it to every localhost port it visits: approval-page.md says what that means).
      cookieName = `toolctl_ui_${address.port}`;
      origin = `http://${address.host === "127.0.0.1" ? "localhost" : hostPart(address.host)}:${address.port}`;
      return { origin, loginUrl: `${origin}/login?token=${sessions.loginToken}` };
    },
    close() {
      watcher.close();
    },
  };
}

/** Said under a config.yaml (or toolctl.yaml) that no longer loads: the page reads the settings on every request. */
const SETTINGS_HINT = "Fix the file (toolctl config unset KEY mends a bad key); this page follows it from the next request, without a restart.";

/** A config.yaml or toolctl.yaml that no longer loads, which every page needing the settings (inbox, budget) fails with. */
function settingsError(error: unknown): ToolctlError | undefined {
  return error instanceof ToolctlError && (error.code === "config_invalid" || error.code === "project_invalid") ? error : undefined;
}

export async function serveUi(toolctl: Toolctl, options: UiServerOptions): Promise<RunningUi> {
  const handler = uiHandler(toolctl, options);
  const server: Server = createServer((req, res) => handler.handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new UsageError(
          error.code === "EADDRINUSE"
            ? `--listen: ${options.host}:${options.port} is already in use; choose another port (0 picks a free one)`
            : `--listen: cannot listen on ${options.host}:${options.port}: ${error.code ?? error.message}`,
        ),
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  const address = handler.listening({ host: options.host, port: (server.address() as { port: number }).port });
  return {
    ...address,
    async close() {
      handler.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
