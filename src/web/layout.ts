/**
 * The frame of every page: the head (one stylesheet, one script, both from this server; pages that use passkeys
 * add the WebAuthn bundle and the passkey script), the menu and sign-out.
 */
import { html, type Html } from "./html.js";

export interface PageOptions {
  title: string;
  /** The menu entry to mark as current. */
  current?: "inbox" | "executions" | "audit" | "budget" | "passkeys";
  /** The session's CSRF token, for the sign-out form; absent on pages shown without a session. */
  csrf?: string;
  body: Html;
  /** Loads @simplewebauthn/browser and the page's passkey script. */
  passkeys?: boolean;
}

const MENU = [
  { key: "inbox", href: "/", label: "Approvals" },
  { key: "executions", href: "/executions", label: "Executions" },
  { key: "audit", href: "/audit", label: "Audit" },
  { key: "budget", href: "/budget", label: "Budget" },
  { key: "passkeys", href: "/2fa/passkeys", label: "Passkeys" },
] as const;

export function page(options: PageOptions): Html {
  const menu = MENU.map((entry) => html`<a href="${entry.href}" ${options.current === entry.key ? html` aria-current="page"` : ""}>${entry.label}</a>`);
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${options.title} · toolctl</title>
        <link rel="stylesheet" href="/static/app.css" />
        <script src="/static/app.js" defer></script>
        ${
          options.passkeys &&
          html`<script src="/static/webauthn.js" defer></script>
            <script src="/static/passkey.js" defer></script>`
        }
      </head>
      <body>
        <header>
          <span class="brand">toolctl</span>
          ${options.csrf ? html`<nav>${menu}</nav>` : html`<nav></nav>`}
          ${options.csrf && html`<form method="post" action="/logout"><input type="hidden" name="csrf" value="${options.csrf}" /><button type="submit">Sign out</button></form>`}
        </header>
        <main>${options.body}</main>
      </body>
    </html> `;
}

/** A page that says why a request was refused, and what to do instead. */
export function refusalPage(title: string, message: string, hint?: string): Html {
  return page({
    title,
    body: html`<h1>${title}</h1>
      <p class="notice error">${message}</p>
      ${hint && html`<p>${hint}</p>`}`,
  });
}
