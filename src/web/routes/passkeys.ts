/**
 * `/2fa/passkeys`: the registered passkeys (name, when added, when last used), adding one and removing one.
 * Adding needs a second factor once one exists (a passkey, or a TOTP code): otherwise whoever reached the page
 * could add an authenticator of their own. Removing always needs one. The WebAuthn steps are answered as JSON to
 * the page's script (`/2fa/passkeys/challenge`, `/begin`, `/finish`); removing is a form, sent with the
 * assertion or the code. Every refusal is audited as `ui.refused`.
 */
import type { FactorProof, PasskeyInfo } from "../../api/index.js";
import { OTP_DIGITS } from "../../api/index.js";
import { ToolctlError, UsageError } from "../../errors.js";
import { parseAssertion, VIA } from "../factors.js";
import { when } from "../format.js";
import { html, type Html } from "../html.js";
import { page } from "../layout.js";
import { json, redirect, type Reply, type Route, type RouteContext } from "../route.js";
import { refusalStatus, refusedJson } from "./decide.js";

export interface PasskeyMessage {
  kind: "ok" | "error";
  text: string;
}

function codeField(id: string, required: boolean): Html {
  return html`<label for="${id}"
    >TOTP code${required ? "" : " (or leave empty to use a passkey)"}
    <input
      id="${id}"
      name="otp"
      inputmode="numeric"
      autocomplete="one-time-code"
      pattern="[0-9 ]{${OTP_DIGITS},${OTP_DIGITS + 1}}"
      maxlength="${OTP_DIGITS + 1}"
      ${required ? html` required` : ""}
  /></label>`;
}

function removeForms(passkey: PasskeyInfo, csrf: string, totp: boolean): Html {
  const action = `/2fa/passkeys/${encodeURIComponent(passkey.id)}/remove`;
  return html`<form method="post" action="${action}" data-passkey-challenge="/2fa/passkeys/challenge" class="remove-passkey">
      <input type="hidden" name="csrf" value="${csrf}" />
      <input type="hidden" name="purpose" value="remove" />
      <input type="hidden" name="passkey" value="${passkey.id}" />
      <input type="hidden" name="factor" value="passkey" />
      <input type="hidden" name="assertion" value="" />
      <button type="submit" class="deny">Remove (confirm with a passkey)</button>
      <p class="passkey-status" role="status"></p>
    </form>
    ${
      totp &&
      html`<form method="post" action="${action}" class="remove-passkey-code">
        <input type="hidden" name="csrf" value="${csrf}" />
        <input type="hidden" name="factor" value="totp" />
        ${codeField(`otp-remove-${passkey.id.slice(0, 16)}`, true)}
        <button type="submit" class="deny">Remove with the code</button>
      </form>`
    }`;
}

export async function passkeysPage(
  context: Pick<RouteContext, "toolctl" | "session" | "origin">,
  status: number,
  message?: PasskeyMessage,
  suggest = "",
): Promise<Reply> {
  const csrf = context.session.csrf;
  const twoFactor = await context.toolctl.twoFactorStatus();
  const { passkeys, enrolled: totp } = twoFactor;
  const proof = passkeys.length > 0 ? "passkey" : totp ? "otp" : "none";
  const local = context.origin.startsWith("http://localhost:");
  const list =
    passkeys.length === 0
      ? html`<p class="muted" id="passkey-count">No passkey is registered.${totp ? " The page approves with a TOTP code until you add one." : ""}</p>`
      : html`<p class="muted" id="passkey-count">${passkeys.length} passkey${passkeys.length === 1 ? "" : "s"}: approving on this page asks for one.</p>
          <table class="passkeys" id="passkeys">
            <thead>
              <tr>
                <th>Name</th>
                <th>Added</th>
                <th>Last used</th>
                <th>Transports</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              ${passkeys.map(
                (passkey) =>
                  html`<tr data-id="${passkey.id}">
                    <td>${passkey.name}</td>
                    <td>${when(passkey.createdAt)}</td>
                    <td>${passkey.lastUsedAt ? when(passkey.lastUsedAt) : "never"}</td>
                    <td>${passkey.transports.join(", ") || "—"}</td>
                    <td>${removeForms(passkey, csrf, totp)}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`;
  const add = html`<h2>Add a passkey</h2>
    ${!local && html`<p class="notice warn">Passkeys work on this page at <code>http://localhost:PORT</code> only: WebAuthn refuses IP addresses.</p>`}
    <form class="add-passkey" id="add-passkey" data-proof="${proof}" method="post" action="/2fa/passkeys">
      <input type="hidden" name="csrf" value="${csrf}" />
      <label for="passkey-name">Name <input id="passkey-name" name="name" required maxlength="64" placeholder="laptop" value="${suggest}" /></label>
      ${proof === "otp" ? codeField("otp-add", true) : passkeys.length > 0 && totp ? codeField("otp-add", false) : ""}
      <button type="submit" class="approve">Add a passkey</button>
      <p class="passkey-status" role="status"></p>
    </form>
    <p class="muted">
      ${
        proof === "passkey"
          ? "Adding one asks for one of your passkeys first, then for the new one."
          : proof === "otp"
            ? "Adding one needs a TOTP code: once 2FA is set up, only its owner adds factors."
            : "Your first passkey needs nothing else; from then on, adding or removing one needs a passkey (or a TOTP code)."
      }
    </p>`;
  const body = html`<h1>Passkeys</h1>
    ${message && html`<p class="notice ${message.kind}" role="status" id="message">${message.text}</p>`} ${list} ${add}`;
  return { status, body: page({ title: "Passkeys", current: "passkeys", csrf, body, passkeys: true }) };
}

const DONE: Record<string, (name: string) => string> = {
  added: (name) => `Added the passkey ${name}.`,
  removed: (name) => `Removed the passkey ${name}.`,
};

/** What confirms adding one: a TOTP code typed, or an assertion made for the "add" challenge. */
function proofOf(context: RouteContext): FactorProof | undefined {
  const otp = (context.form.get("otp") ?? "").trim();
  if (otp) return { otp };
  const sent = context.form.get("assertion") ?? "";
  return sent.trim() ? { passkey: { origin: context.origin, response: parseAssertion("passkey", sent) } } : undefined;
}

export const passkeyRoutes: Route[] = [
  {
    method: "GET",
    path: /^\/2fa\/passkeys$/,
    handle(context) {
      const done = DONE[context.url.searchParams.get("done") ?? ""];
      const name = context.url.searchParams.get("name") ?? "";
      const suggest = (context.url.searchParams.get("suggest") ?? "").slice(0, 64);
      return passkeysPage(context, 200, done && name.length <= 64 ? { kind: "ok", text: done(name) } : undefined, suggest);
    },
  },
  {
    // A challenge to prove a passkey, for adding another (`purpose=add`) or removing one (`purpose=remove&passkey=ID`).
    method: "POST",
    path: /^\/2fa\/passkeys\/challenge$/,
    async handle(context) {
      const purpose = context.form.get("purpose");
      const target = context.form.get("passkey") ?? "";
      try {
        if (purpose === "add") return json(200, await context.toolctl.passkeyChallenge(context.origin, { add: true }));
        if (purpose === "remove") return json(200, await context.toolctl.passkeyChallenge(context.origin, { remove: target }));
        throw new UsageError(`no passkey challenge for ${JSON.stringify(purpose)}: expected add or remove`);
      } catch (error) {
        return refusedJson(context, error, { passkeys: "challenge", purpose });
      }
    },
  },
  {
    method: "POST",
    path: /^\/2fa\/passkeys\/begin$/,
    async handle(context) {
      try {
        return json(200, await context.toolctl.beginPasskeyRegistration(context.origin, context.form.get("name") ?? "", proofOf(context)));
      } catch (error) {
        return refusedJson(context, error, { passkeys: "begin" });
      }
    },
  },
  {
    method: "POST",
    path: /^\/2fa\/passkeys\/finish$/,
    async handle(context) {
      try {
        const response = parseAssertion("passkey", context.form.get("response") ?? "");
        const added = await context.toolctl.finishPasskeyRegistration(context.origin, response);
        return json(200, { name: added.name, id: added.id });
      } catch (error) {
        return refusedJson(context, error, { passkeys: "finish" });
      }
    },
  },
  {
    method: "POST",
    path: /^\/2fa\/passkeys\/([\w-]{1,1366})\/remove$/,
    async handle(context) {
      const id = context.params[0]!;
      try {
        let proof: FactorProof;
        if (context.form.get("factor") === "totp") proof = { otp: context.form.get("otp") ?? "" };
        else {
          const sent = context.form.get("assertion") ?? "";
          if (sent.trim() === "") throw new UsageError("the passkey was not removed: removing it needs a passkey (no assertion was sent) or a TOTP code");
          proof = { passkey: { origin: context.origin, response: parseAssertion("passkey", sent) } };
        }
        const removed = await context.toolctl.removePasskey(id, proof, { via: VIA });
        return redirect(`/2fa/passkeys?done=removed&name=${encodeURIComponent(removed.name)}`);
      } catch (error) {
        if (!(error instanceof ToolctlError)) throw error;
        await context.refused(error.message, { passkeys: "remove", passkey: id, code: error.code });
        return passkeysPage(context, refusalStatus(error), { kind: "error", text: error.message });
      }
    },
  },
];
