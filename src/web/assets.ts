/**
 * The page's stylesheet and scripts, served from the server itself (`/static/…`): the Content-Security-Policy
 * allows no inline script or style, and nothing is loaded from anywhere else. Ours are strings here so the bundled
 * build ships them without a separate file; @simplewebauthn/browser's bundle is read from its package.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

let bundle: string | undefined;

/**
 * @simplewebauthn/browser's browser bundle (`window.SimpleWebAuthnBrowser`: startRegistration, startAuthentication),
 * read once from the installed package.
 */
export function webAuthnBundle(): string {
  if (bundle === undefined) {
    const main = createRequire(import.meta.url).resolve("@simplewebauthn/browser");
    bundle = readFileSync(path.join(path.dirname(main), "..", "dist", "bundle", "index.umd.min.js"), "utf8");
  }
  return bundle;
}
export const STYLESHEET = `
:root { color-scheme: light dark; --fg: #1d2125; --muted: #5d6670; --line: #d8dde3; --bg: #ffffff; --panel: #f6f8fa;
  --accent: #0b5cad; --danger: #b3261e; --ok: #1a7f37; --warn: #9a6700; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8eb; --muted: #9aa4ae; --line: #343a40; --bg: #15181b; --panel: #1d2125;
  --accent: #6cb0f5; --danger: #f28b82; --ok: #7ee2a8; --warn: #e3b341; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1.5rem; border-bottom: 1px solid var(--line); background: var(--panel); }
header .brand { font-weight: 700; }
header nav { display: flex; gap: 1rem; flex: 1; }
header a { color: var(--fg); text-decoration: none; }
header a[aria-current="page"] { color: var(--accent); font-weight: 600; }
header form { margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.4rem; margin: .6rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 0 0 .5rem; }
a { color: var(--accent); }
code, pre { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: var(--panel); border: 1px solid var(--line); padding: .6rem; overflow: auto; max-height: 28rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: .85rem; }
.muted { color: var(--muted); }
.notice { border: 1px solid var(--line); border-left: 4px solid var(--accent); background: var(--panel); padding: .6rem .9rem; margin: 0 0 1rem; }
.notice.error { border-left-color: var(--danger); }
.notice.ok { border-left-color: var(--ok); }
.notice.warn { border-left-color: var(--warn); }
.request { border: 1px solid var(--line); border-radius: 6px; padding: 1rem; margin: 0 0 1rem; }
.request dl, dl.request { display: grid; grid-template-columns: 9rem 1fr; gap: .25rem .8rem; margin: .5rem 0 1rem; }
.request dt { color: var(--muted); }
.request dd { margin: 0; overflow-wrap: anywhere; }
.risk { display: inline-block; padding: 0 .45rem; border-radius: 4px; font-size: .8rem; font-weight: 700; border: 1px solid currentColor; }
.risk-LOW { color: var(--ok); } .risk-MEDIUM { color: var(--warn); } .risk-HIGH, .risk-CRITICAL { color: var(--danger); }
.decide { display: flex; flex-wrap: wrap; gap: 1rem; align-items: end; }
.decide form { display: flex; gap: .5rem; align-items: end; margin: 0; }
.decide label { display: block; font-size: .85rem; color: var(--muted); }
input, select, button { font: inherit; padding: .3rem .5rem; border: 1px solid var(--line); border-radius: 4px; background: var(--bg); color: var(--fg); }
input[name="otp"] { width: 7.5rem; letter-spacing: .15em; }
button { cursor: pointer; background: var(--panel); }
button.approve { background: var(--ok); color: #fff; border-color: var(--ok); }
button.deny { color: var(--danger); border-color: var(--danger); }
.filters { display: flex; flex-wrap: wrap; gap: .6rem; align-items: end; margin: 0 0 1rem; }
.filters label { display: flex; flex-direction: column; font-size: .85rem; color: var(--muted); }
.status-succeeded { color: var(--ok); } .status-failed, .status-unknown { color: var(--danger); } .status-declined { color: var(--warn); }
.pager { display: flex; gap: 1rem; margin-top: .8rem; }
.chart { width: 100%; height: auto; border: 1px solid var(--line); background: var(--panel); }
.chart text { fill: var(--muted); font: 11px system-ui, sans-serif; }
.chart .axis { stroke: var(--line); }
.legend { display: flex; flex-wrap: wrap; gap: .3rem 1rem; list-style: none; padding: 0; margin: .5rem 0 1rem; }
.legend span { display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem; vertical-align: -1px; }
${[0, 1, 2, 3, 4, 5, 6, 7].map((i) => `.c${i} { fill: var(--c${i}); background: var(--c${i}); }`).join("\n")}
:root { --c0: #0b5cad; --c1: #d9730d; --c2: #1a7f37; --c3: #b3261e; --c4: #8250df; --c5: #9a6700; --c6: #0a7b83; --c7: #6e7781; }
#live { font-size: .85rem; }
.passkey-status { font-size: .85rem; color: var(--danger); margin: 0; }
.passkey-status:empty { display: none; }
.passkeys form { display: inline-flex; gap: .4rem; align-items: end; margin: 0 .6rem 0 0; }
form.add-passkey { display: flex; flex-wrap: wrap; gap: .6rem; align-items: end; margin: 1rem 0; }
form.add-passkey label { display: flex; flex-direction: column; font-size: .85rem; color: var(--muted); }
`;

/**
 * Live updates for the inbox: an EventSource on /events is told the inbox's version whenever the requests or
 * today's spend change; the list is then fetched again (/inbox/list) and swapped in, keeping any code being typed.
 */
export const SCRIPT = `"use strict";
(function () {
  var inbox = document.getElementById("inbox");
  var live = document.getElementById("live");
  if (!inbox || !window.EventSource) return;
  var wanted = inbox.getAttribute("data-version");
  var busy = false;
  var again = false;
  var source = new EventSource("/events");
  function say(text) { if (live) live.textContent = text; }
  source.addEventListener("open", function () { say("Live: this list updates by itself."); });
  source.addEventListener("inbox", function (event) { wanted = event.data; refresh(); });
  source.addEventListener("error", function () {
    if (source.readyState === EventSource.CLOSED) say("Not updating: the session ended. Start toolctl ui again for a new login link.");
    else say("Reconnecting…");
  });
  function refresh() {
    if (busy) return void (again = true);
    if (wanted === inbox.getAttribute("data-version")) return;
    busy = true;
    again = false;
    fetch("/inbox/list", { credentials: "same-origin", headers: { accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (text) {
        var typed = {};
        inbox.querySelectorAll("input[name=otp]").forEach(function (input) { typed[input.id] = input.value; });
        var holder = document.createElement("div");
        holder.innerHTML = text;
        var next = holder.firstElementChild;
        if (!next || next.id !== "inbox") return;
        inbox.replaceWith(next);
        inbox = next;
        inbox.querySelectorAll("input[name=otp]").forEach(function (input) { if (typed[input.id]) input.value = typed[input.id]; });
      })
      .catch(function () { say("Could not refresh the list: reload the page."); })
      .then(function () {
        busy = false;
        if (again) refresh();
      });
  }
})();
`;

/**
 * The passkey ceremonies in the browser, with @simplewebauthn/browser. A form with `data-passkey-challenge` (Approve,
 * Remove) first asks that address for a challenge (sending the form's fields), has the authenticator sign it
 * (`startAuthentication`), puts the answer in the form's `assertion` field and sends the form. The add form
 * (`#add-passkey`) asks for a challenge to prove an existing passkey when it has to, then for the registration
 * options, has the authenticator make the passkey (`startRegistration`), and sends it to be kept. Listening on the
 * document keeps working for the forms the inbox swaps in as it updates.
 */
export const PASSKEY_SCRIPT = `"use strict";
(function () {
  var lib = window.SimpleWebAuthnBrowser;
  function fieldsOf(form) {
    var fields = new URLSearchParams();
    new FormData(form).forEach(function (value, name) { if (name !== "assertion") fields.append(name, String(value)); });
    return fields;
  }
  function post(url, fields) {
    return fetch(url, { method: "POST", credentials: "same-origin", headers: { accept: "application/json" }, body: fields }).then(function (response) {
      return response.json().then(function (answer) {
        if (!response.ok) throw new Error(answer && answer.error ? answer.error : "HTTP " + response.status);
        return answer;
      });
    });
  }
  function say(form, text) {
    var out = form.querySelector(".passkey-status");
    if (out) out.textContent = text;
  }
  function ready(form) {
    if (!lib || !lib.browserSupportsWebAuthn()) return say(form, "This browser cannot use passkeys here."), false;
    if (location.hostname !== "localhost") return say(form, "Passkeys work on this page at http://localhost:" + location.port + " only."), false;
    if (form.getAttribute("data-busy")) return false;
    form.setAttribute("data-busy", "1");
    say(form, "");
    return true;
  }
  function failed(form, error) {
    form.removeAttribute("data-busy");
    var text = error && error.name === "NotAllowedError" ? "the passkey was not used (cancelled, or timed out)" : (error && error.message) || String(error);
    say(form, "Not done: " + text);
  }
  function assert(form) {
    return post(form.getAttribute("data-passkey-challenge"), fieldsOf(form)).then(function (options) {
      return lib.startAuthentication({ optionsJSON: options });
    });
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.hasAttribute("data-passkey-challenge")) {
      event.preventDefault();
      if (!ready(form)) return;
      assert(form)
        .then(function (response) {
          form.querySelector("input[name=assertion]").value = JSON.stringify(response);
          form.submit();
        })
        .catch(function (error) { failed(form, error); });
    } else if (form.id === "add-passkey") {
      event.preventDefault();
      if (!ready(form)) return;
      var fields = fieldsOf(form);
      var proof = form.getAttribute("data-proof") === "passkey" && !fields.get("otp")
        ? post("/2fa/passkeys/challenge", new URLSearchParams({ csrf: fields.get("csrf"), purpose: "add" })).then(function (options) {
            return lib.startAuthentication({ optionsJSON: options });
          })
        : Promise.resolve(undefined);
      proof
        .then(function (assertion) {
          if (assertion) fields.set("assertion", JSON.stringify(assertion));
          return post("/2fa/passkeys/begin", fields);
        })
        .then(function (options) { return lib.startRegistration({ optionsJSON: options }); })
        .then(function (response) {
          return post("/2fa/passkeys/finish", new URLSearchParams({ csrf: fields.get("csrf"), response: JSON.stringify(response) }));
        })
        .then(function (added) { location.assign("/2fa/passkeys?done=added&name=" + encodeURIComponent(added.name)); })
        .catch(function (error) { failed(form, error); });
    }
  });
})();
`;
