/**
 * `toolctl ui`, the approval page, served by the built binary and used the two ways it can be: through a real
 * browser (the system's Chromium driven by playwright-core, headless) for what a person does (sign in, watch the
 * inbox update, approve with a TOTP code, deny, browse), and through plain `fetch` and `node:http` for what an
 * attacker tries (no session, no or a wrong CSRF token, a foreign Origin or Host, a used login link, no code or a
 * wrong one): each refused, audited as `ui.refused`, and nothing decided. The runs waiting on the requests are
 * started in-process through the API, on the same home.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode, type Toolctl } from "../src/api/index.js";
import { generateTotp } from "../src/policy/totp.js";
import { html } from "../src/web/html.js";
import { servedPage } from "../src/web/served.js";
import { Sessions } from "../src/web/sessions.js";
import { openApi, runCli, tempDir, writeFiles } from "./helpers.js";
import { spawnTerminal } from "./pty.js";
import {
  CHROMIUM,
  getWithHost,
  hasChromium,
  homeWithTwoFactor,
  inCI,
  manifest,
  post,
  refusals,
  signIn,
  startUi,
  statusOf,
  waitingRun,
  type Signed,
  type Ui,
} from "./ui-pages.js";

describe.skipIf(!hasChromium && !inCI)("the approval page in a browser", () => {
  let toolctl: Toolctl;
  let secret: string;
  let ui: Ui;
  let browser: Browser;
  let page: Page;
  const shots = tempDir("toolctl-ui-shots-");
  /** Content-Security-Policy violations and script errors: there must be none. */
  const problems: string[] = [];
  const leftovers: Array<() => void> = [];

  beforeAll(async () => {
    ({ toolctl, secret } = await homeWithTwoFactor());
    ui = await startUi(toolctl.home);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    page.on("console", (message) => message.type() === "error" && problems.push(message.text()));
    page.on("pageerror", (error) => problems.push(error.message));
  }, 60_000);

  afterAll(async () => {
    for (const abort of leftovers) abort();
    await browser?.close();
    if (ui) expect(await ui.stop()).toBe(0);
  });

  it("signs in with the login link; a request filed elsewhere appears live with what a terminal shows; approving it with a TOTP code lets the run succeed", async () => {
    await page.goto(ui.loginUrl);
    await page.waitForURL(`${ui.origin}/`);
    await expect(page.locator("#count").textContent()).resolves.toBe("No pending approval requests.");
    const cookies = await page.context().cookies();
    expect(cookies).toEqual([expect.objectContaining({ httpOnly: true, sameSite: "Strict", path: "/" })]);
    await page.locator("#live").getByText("Live").waitFor();

    // Filed after the page was loaded: it appears without a reload. Its note is markup, shown as text.
    const run = await waitingRun(toolctl, { amount: 5, note: "<img src=x onerror=alert(1)>" });
    leftovers.push(run.abort);
    const card = page.locator(`section#${run.id}`);
    await card.waitFor();
    const text = await card.innerText();
    for (const shown of [
      "pay.charge",
      "MEDIUM",
      "Charge dollars",
      "echo: returns the input, unchanged",
      "$5.00",
      "input.amount",
      "irreversible",
      "needs a yes",
      "$0.00 spent or reserved today of $500.00; with this $5.00",
      "<img src=x onerror=alert(1)>",
    ]) {
      expect(text).toContain(shown);
    }
    const pending = await toolctl.pendingApproval(run.id);
    expect(text).toContain(pending.digest);
    expect(await card.locator("img").count()).toBe(0);
    await page.screenshot({ path: path.join(shots, "inbox.png"), fullPage: true });

    await card.locator("input[name=otp]").fill(generateTotp(secret, Date.now()));
    await card.getByRole("button", { name: "Approve" }).click();
    await page.waitForURL(/\/\?done=approved/);
    await expect(page.locator("#message").textContent()).resolves.toBe(`Approved ${run.id}: the waiting run goes ahead.`);
    const result = await run.done;
    expect(result).toMatchObject({ status: "succeeded", approval: { via: "approval page with TOTP" } });
    expect((await toolctl.approvals(true)).find((approval) => approval.id === run.id)).toMatchObject({
      decidedBy: "user",
      decidedVia: "approval page with TOTP",
    });
    await page.locator(`section#${run.id}`).waitFor({ state: "detached" });
    expect(existsSync(path.join(shots, "inbox.png"))).toBe(true);
  });

  it("denies a request, which stops its run; a request decided in a terminal leaves the page by itself", async () => {
    await page.goto(`${ui.origin}/`);
    const first = await waitingRun(toolctl, { amount: 3 });
    const second = await waitingRun(toolctl, { amount: 4 });
    leftovers.push(first.abort, second.abort);
    await page.locator(`section#${first.id}`).waitFor();
    await page.locator(`section#${second.id}`).waitFor();

    await page.locator(`section#${first.id}`).getByRole("button", { name: "Deny" }).click();
    await page.waitForURL(/\/\?done=denied/);
    const denied = await first.done;
    expect(denied.exitCode).toBe(ExitCode.policy);
    expect(denied).toMatchObject({ status: "declined", error: { message: expect.stringMatching(/was denied/) } });
    const audit = (await toolctl.audit({ type: "approval.denied" })).map((event) => event.data.via);
    expect(audit).toEqual(["approval page"]);

    const approver = await openApi({ home: toolctl.home });
    await approver.deny(second.id);
    await page.locator(`section#${second.id}`).waitFor({ state: "detached" });
    expect((await second.done).status).toBe("declined");
    await expect(page.locator("#count").textContent()).resolves.toBe("No pending approval requests.");
  });

  it("shows the executions, one in full, the audit log and the budget with its spend chart", async () => {
    await page.goto(`${ui.origin}/executions?tool=pay&status=succeeded`);
    const rows = page.locator("#executions tbody tr");
    await expect(rows.count()).resolves.toBe(1);
    await rows.first().locator("a").click();
    await page.waitForURL(/\/executions\/ex_/);
    const detail = await page.locator("main").innerText();
    expect(detail).toMatch(/pay\.charge succeeded/);
    expect(detail).toContain("<img src=x onerror=alert(1)>");

    await page.goto(`${ui.origin}/audit?type=approval.approved`);
    await expect(page.locator("#audit tbody tr").count()).resolves.toBe(1);
    expect(await page.locator("#audit").innerText()).toContain("approval page with TOTP");

    await page.goto(`${ui.origin}/budget`);
    expect(await page.locator("#today").innerText()).toMatch(/Spent\s+\$5\.00/);
    await expect(page.locator("#spend-chart rect.c0").count()).resolves.toBe(1);
    expect(await page.locator("#legend").innerText()).toBe("pay: $5.00");
    await page.screenshot({ path: path.join(shots, "budget.png"), fullPage: true });
    expect(existsSync(path.join(shots, "budget.png"))).toBe(true);
    expect(problems).toEqual([]);
  });

  it("one request's own page, /approvals/ID (the address an MCP client is given): shown as in the inbox, approved there; then it says it was used", async () => {
    const other = await waitingRun(toolctl, { amount: 1 });
    const run = await waitingRun(toolctl, { amount: 7 });
    leftovers.push(other.abort, run.abort);
    const response = await page.goto(`${ui.origin}/approvals/${run.id}`);
    expect(response!.status()).toBe(200);
    // This request only, with what the inbox shows of it.
    await expect(page.locator("section.request").count()).resolves.toBe(1);
    const card = page.locator(`section#${run.id}`);
    const text = await card.innerText();
    for (const shown of ["pay.charge", "MEDIUM", "Charge dollars", "$7.00", "irreversible", (await toolctl.pendingApproval(run.id)).digest])
      expect(text).toContain(shown);
    await page.screenshot({ path: path.join(shots, "approval.png"), fullPage: true });

    await card.locator("input[name=otp]").fill(generateTotp(secret, Date.now() + 30_000));
    await card.getByRole("button", { name: "Approve" }).click();
    await page.waitForURL(/\/\?done=approved/);
    expect(await run.done).toMatchObject({ status: "succeeded", approval: { via: "approval page with TOTP" } });
    expect(await statusOf(toolctl, other.id)).toBe("pending");

    await page.goto(`${ui.origin}/approvals/${run.id}`);
    const decided = await page.locator("#decided").innerText();
    expect(decided).toMatch(
      new RegExp(`^Approval request ${run.id} was approved by user \\(approval page with TOTP\\), [\\d-]+ [\\d:]+ UTC, and its run has used it\\.`),
    );
    await expect(page.locator("main form").count()).resolves.toBe(0);
    const execution = (await run.done).executionId;
    await page.getByRole("link", { name: execution }).click();
    await page.waitForURL(`${ui.origin}/executions/${execution}`);
    expect(problems).toEqual([]);
    await toolctl.deny(other.id);
  });

  it("signs out: the session is gone, and the login link does not work again", async () => {
    await page.goto(`${ui.origin}/`);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${ui.origin}/signed-out`);
    const after = await page.goto(`${ui.origin}/`);
    expect(after!.status()).toBe(401);
    const again = await page.goto(ui.loginUrl);
    expect(again!.status()).toBe(403);
    expect(await page.locator("main").innerText()).toContain("login token already used");
  });

  it.runIf(inCI)("has Chromium in CI", () => {
    expect(hasChromium, `${CHROMIUM} is missing: .ci/run installs Debian's chromium, and CI must run the browser tests`).toBe(true);
  });
});

describe("what the approval page refuses", () => {
  let toolctl: Toolctl;
  let secret: string;
  let ui: Ui;
  let signed: Signed;
  const leftovers: Array<() => void> = [];

  beforeAll(async () => {
    ({ toolctl, secret } = await homeWithTwoFactor());
    ui = await startUi(toolctl.home);
    signed = await signIn(ui);
  });

  afterAll(async () => {
    for (const abort of leftovers) abort();
    if (ui) expect(await ui.stop()).toBe(0);
  });

  /** The ui.refused events written while `fn` ran. */
  async function refusedDuring(fn: () => Promise<void>): Promise<Array<Record<string, unknown>>> {
    const before = (await refusals(toolctl)).length;
    await fn();
    return (await refusals(toolctl)).slice(before);
  }

  it("serves every page with a strict Content-Security-Policy, no caching and no inline script or style", async () => {
    const response = await fetch(`${ui.origin}/`, { headers: { cookie: signed.cookie } });
    expect(response.status).toBe(200);
    expect(Object.fromEntries(response.headers)).toMatchObject({
      "content-security-policy":
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
      "x-content-type-options": "nosniff",
      "referrer-policy": "same-origin",
      "cache-control": "no-store",
      "x-frame-options": "DENY",
    });
    const text = await response.text();
    expect(text.match(/<script\b[^>]*>/g)).toEqual(['<script src="/static/app.js" defer>']);
    expect(text).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=/i);
    for (const [file, type] of [
      ["/static/app.js", "text/javascript"],
      ["/static/app.css", "text/css"],
    ]) {
      const asset = await fetch(`${ui.origin}${file}`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get("content-type")).toMatch(type!);
      expect(asset.headers.get("content-security-policy")).toMatch(/^default-src 'none'/);
    }
  });

  it("the login link works once: a second use and a wrong token are refused (403) and audited, never the token itself", async () => {
    const audited = await refusedDuring(async () => {
      const again = await fetch(ui.loginUrl, { redirect: "manual" });
      expect(again.status).toBe(403);
      expect(again.headers.getSetCookie()).toEqual([]);
      expect(await again.text()).toContain("login token already used");
      expect((await fetch(`${ui.origin}/login?token=${"A".repeat(43)}`)).status).toBe(403);
      expect((await fetch(`${ui.origin}/login`)).status).toBe(403);
    });
    expect(audited.map((event) => event.reason)).toEqual([
      "forbidden: login token already used",
      "forbidden: wrong login token",
      "forbidden: login link without a token",
    ]);
    expect(audited[0]).toMatchObject({ method: "GET", path: "/login", remote: "127.0.0.1" });
    const token = new URL(ui.loginUrl).searchParams.get("token")!;
    expect(JSON.stringify(await toolctl.audit())).not.toContain(token);
  });

  it("without a session, pages and events are 401 and a decision is refused: nothing is decided", async () => {
    const run = await waitingRun(toolctl, { amount: 2 });
    leftovers.push(run.abort);
    const audited = await refusedDuring(async () => {
      expect((await fetch(`${ui.origin}/`, { redirect: "manual" })).status).toBe(401);
      expect((await fetch(`${ui.origin}/events`)).status).toBe(401);
      expect((await fetch(`${ui.origin}/executions`, { headers: { cookie: "toolctl_ui_1=forged" } })).status).toBe(401);
      const name = signed.cookie.split("=")[0]!;
      expect((await fetch(`${ui.origin}/`, { headers: { cookie: `${name}=${"x".repeat(43)}` } })).status).toBe(401);
      const denied = await post(ui, `/approvals/${run.id}/deny`, { csrf: signed.csrf });
      expect(denied.status).toBe(401);
    });
    expect(audited.map((event) => event.reason)).toEqual([
      "unauthorized: not signed in",
      "unauthorized: not signed in",
      "unauthorized: not signed in",
      "unauthorized: the cookie names no session of this server (made up, or from an earlier toolctl ui)",
      "unauthorized: not signed in",
    ]);
    expect(await statusOf(toolctl, run.id)).toBe("pending");
    await toolctl.deny(run.id);
  });

  it("one request's page without a session says how to sign in (401, audited), with no token anywhere; signed in, it shows the request, or says it was decided or never filed", async () => {
    const run = await waitingRun(toolctl, { amount: 2 });
    leftovers.push(run.abort);
    const token = new URL(ui.loginUrl).searchParams.get("token")!;
    const audited = await refusedDuring(async () => {
      const response = await fetch(`${ui.origin}/approvals/${run.id}`, { redirect: "manual" });
      expect(response.status).toBe(401);
      const text = await response.text();
      expect(text).toContain(`Not signed in: no session. Approval request ${run.id} is shown here once this browser is signed in.`);
      expect(text).toContain("Open the login link printed on the terminal that serves this page (by toolctl ui, or toolctl mcp --ui)");
      expect(text).not.toContain("token=");
      expect(text).not.toContain(token);
      expect(text).not.toContain(`action="/approvals/${run.id}`);
    });
    expect(audited).toEqual([expect.objectContaining({ reason: "unauthorized: not signed in", method: "GET", path: `/approvals/${run.id}` })]);

    const shown = await fetch(`${ui.origin}/approvals/${run.id}`, { headers: { cookie: signed.cookie } });
    expect(shown.status).toBe(200);
    const text = await shown.text();
    expect(text).toContain(`action="/approvals/${run.id}/approve"`);
    expect(text).toContain(`action="/approvals/${run.id}/deny"`);
    expect(text).toContain((await toolctl.pendingApproval(run.id)).digest);
    expect(text.match(/<section class="request"/g)).toHaveLength(1);

    await toolctl.deny(run.id);
    const denied = await (await fetch(`${ui.origin}/approvals/${run.id}`, { headers: { cookie: signed.cookie } })).text();
    expect(denied).toContain(`Approval request ${run.id} was denied by user`);
    expect(denied).not.toContain(`action="/approvals/${run.id}`);
    const unknown = await fetch(`${ui.origin}/approvals/ap_00000000`, { headers: { cookie: signed.cookie } });
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain("There is no approval request ap_00000000");

    // Approved, then left unused until it expired: the page says both.
    const brief = await openApi({ home: toolctl.home, env: { TOOLCTL_APPROVALS_TIMEOUT_SECONDS: "1" } });
    const filed = (await brief.run("pay.charge", { amount: 1 }, { wait: true, waitSeconds: 0 })).approval!.requestId!;
    await brief.approve(filed);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const lapsed = await (await fetch(`${ui.origin}/approvals/${filed}`, { headers: { cookie: signed.cookie } })).text();
    expect(lapsed).toMatch(new RegExp(`Approval request ${filed} was approved by user \\(another terminal\\), [^<]*, and expired unused \\(`));
    expect(lapsed).not.toContain(`action="/approvals/${filed}`);
  });

  it("shows the characters that would reorder a request's text (Trojan Source) instead of obeying them", async () => {
    // U+202E reverses what follows: "moc.live@bob" would read "bob@evil.com".
    const run = await waitingRun(toolctl, { amount: 2, note: "pay \u202emoc.live@bob\u2066 x" });
    leftovers.push(run.abort);
    const text = await (await fetch(`${ui.origin}/approvals/${run.id}`, { headers: { cookie: signed.cookie } })).text();
    expect(text).toContain("pay &lt;U+202E&gt;moc.live@bob&lt;U+2066&gt; x");
    expect(text).not.toMatch(/[\u202a-\u202e\u2066-\u2069]/);
    await toolctl.deny(run.id);
  });

  it("a form without the session's CSRF token, or with a wrong one, is refused (403): nothing is decided", async () => {
    const run = await waitingRun(toolctl, { amount: 2 });
    leftovers.push(run.abort);
    const audited = await refusedDuring(async () => {
      expect((await post(ui, `/approvals/${run.id}/deny`, {}, { cookie: signed.cookie })).status).toBe(403);
      expect((await post(ui, `/approvals/${run.id}/deny`, { csrf: "wrong" }, { cookie: signed.cookie })).status).toBe(403);
      // A JSON body is not a form: no CSRF token can be read from it.
      const json = await post(ui, `/approvals/${run.id}/deny`, {}, { cookie: signed.cookie, "content-type": "application/json" });
      expect(json.status).toBe(400);
    });
    expect(audited.map((event) => event.reason)).toEqual([
      "forbidden: missing CSRF token",
      "forbidden: wrong CSRF token",
      'bad request: not a form (Content-Type "application/json")',
    ]);
    expect(await statusOf(toolctl, run.id)).toBe("pending");
    await toolctl.deny(run.id);
  });

  it("a form from another origin is refused (403), whatever it carries: nothing is decided", async () => {
    const run = await waitingRun(toolctl, { amount: 2 });
    leftovers.push(run.abort);
    const form = { csrf: signed.csrf };
    const audited = await refusedDuring(async () => {
      expect((await post(ui, `/approvals/${run.id}/deny`, form, { cookie: signed.cookie, origin: "http://evil.example" })).status).toBe(403);
      expect((await post(ui, `/approvals/${run.id}/deny`, form, { cookie: signed.cookie, origin: "null" })).status).toBe(403);
      expect((await post(ui, `/approvals/${run.id}/deny`, form, { cookie: signed.cookie, origin: undefined })).status).toBe(403);
      const other = `http://localhost:${Number(new URL(ui.origin).port) + 1}`;
      expect((await post(ui, `/approvals/${run.id}/deny`, form, { cookie: signed.cookie, origin: other })).status).toBe(403);
      const crossSite = await post(ui, `/approvals/${run.id}/deny`, form, { cookie: signed.cookie, "sec-fetch-site": "cross-site" });
      expect(crossSite.status).toBe(403);
    });
    expect(audited.map((event) => event.reason)).toEqual([
      `forbidden: a form may be sent only from this server's pages (Origin "http://evil.example")`,
      `forbidden: a form may be sent only from this server's pages (Origin "null")`,
      "forbidden: a form may be sent only from this server's pages (Origin null)",
      `forbidden: a form may be sent only from this server's pages (Origin "${`http://localhost:${Number(new URL(ui.origin).port) + 1}`}")`,
      "forbidden: a form may be sent only from this server's pages (Sec-Fetch-Site cross-site)",
    ]);
    expect(await statusOf(toolctl, run.id)).toBe("pending");
    // Without Origin, a Referer from one of this server's pages is accepted: the form reaches its check.
    const referred = await post(
      ui,
      `/approvals/${run.id}/approve`,
      { ...form, factor: "totp", digest: "0" },
      { cookie: signed.cookie, origin: undefined, referer: `${ui.origin}/` },
    );
    expect(referred.status).toBe(400);
    await toolctl.deny(run.id);
  });

  it("a Host that is not this server is refused (403): DNS rebinding", async () => {
    const port = new URL(ui.origin).port;
    const audited = await refusedDuring(async () => {
      expect(await getWithHost(ui, `rebind.example:${port}`, signed.cookie)).toBe(403);
      expect(await getWithHost(ui, "127.0.0.1", signed.cookie)).toBe(403);
    });
    expect(audited.map((event) => event.reason)).toEqual([
      `forbidden: Host "rebind.example:${port}" is not this server`,
      `forbidden: Host "127.0.0.1" is not this server`,
    ]);
    expect(await getWithHost(ui, `localhost:${port}`, signed.cookie)).toBe(200);
  });

  it("approving takes a well-formed, right TOTP code and the digest shown; otherwise it is refused and the request stays pending", async () => {
    const run = await waitingRun(toolctl, { amount: 6 });
    leftovers.push(run.abort);
    const { digest } = await toolctl.pendingApproval(run.id);
    const approve = (fields: Record<string, string>) =>
      post(ui, `/approvals/${run.id}/approve`, { csrf: signed.csrf, factor: "totp", digest, ...fields }, { cookie: signed.cookie });
    const failedBefore = (await toolctl.audit({ type: "2fa.failed" })).length;
    const code = generateTotp(secret, Date.now());
    const audited = await refusedDuring(async () => {
      const none = await approve({});
      expect(none.status).toBe(400);
      expect(await none.text()).toContain(`${run.id} was not approved: enter the 6-digit code from your authenticator app`);
      expect((await approve({ otp: "12ab56" })).status).toBe(400);
      expect((await approve({ otp: "123456", factor: "password" })).status).toBe(400);
      const wrong = await approve({ otp: generateTotp(secret, Date.now() + 10 * 60_000) });
      expect(wrong.status).toBe(403);
      expect(await wrong.text()).toContain(`${run.id} was not approved: the TOTP code is wrong`);
      const stale = await approve({ otp: code, digest: "0".repeat(64) });
      expect(stale.status).toBe(403);
      expect(await stale.text()).toContain(`approval request ${run.id} changed while it was being decided`);
    });
    expect(audited.map((event) => [event.decision, event.approval, event.reason])).toEqual([
      ["approve", run.id, `${run.id} was not approved: enter the 6-digit code from your authenticator app`],
      ["approve", run.id, `${run.id} was not approved: a TOTP code is 6 digits`],
      ["approve", run.id, `${run.id} was not approved: approving here needs a second factor (a passkey, or a TOTP code)`],
      ["approve", run.id, `${run.id} was not approved: the TOTP code is wrong`],
      ["approve", run.id, expect.stringContaining("changed while it was being decided")],
    ]);
    // Only the wrong code was checked against the enrolment (and counted against the throttle).
    expect((await toolctl.audit({ type: "2fa.failed" })).length).toBe(failedBefore + 1);
    expect(await statusOf(toolctl, run.id)).toBe("pending");

    // The code given with the stale digest was not used up: the request was refused before the code was checked.
    const approved = await approve({ otp: code });
    expect(approved.status).toBe(303);
    expect(approved.headers.get("location")).toBe(`/?done=approved&id=${run.id}`);
    expect(await run.done).toMatchObject({ status: "succeeded", approval: { via: "approval page with TOTP" } });
  });

  it("without 2FA enrolled the inbox says so and offers Deny only; an approval is refused", async () => {
    const bare = await openApi();
    await bare.importManifests([path.join(writeFiles({ "pay.yaml": manifest }), "pay.yaml")]);
    const page = await startUi(bare.home);
    try {
      const session = await signIn(page);
      const run = await waitingRun(bare, { amount: 2 });
      leftovers.push(run.abort);
      const inbox = await (await fetch(`${page.origin}/`, { headers: { cookie: session.cookie } })).text();
      expect(inbox).toContain("2FA is not enrolled");
      expect(inbox).toContain("<code>toolctl 2fa enroll</code>");
      expect(inbox).toContain(`action="/approvals/${run.id}/deny"`);
      expect(inbox).not.toContain(`action="/approvals/${run.id}/approve"`);
      const { digest } = await bare.pendingApproval(run.id);
      const refused = await post(
        page,
        `/approvals/${run.id}/approve`,
        { csrf: session.csrf, factor: "totp", digest, otp: "123456" },
        { cookie: session.cookie },
      );
      expect(refused.status).toBe(403);
      expect(await refused.text()).toContain("2FA is not enrolled");
      expect(await statusOf(bare, run.id)).toBe("pending");
      const denied = await post(page, `/approvals/${run.id}/deny`, { csrf: session.csrf }, { cookie: session.cookie });
      expect(denied.status).toBe(303);
      expect((await run.done).status).toBe("declined");
    } finally {
      expect(await page.stop()).toBe(0);
    }
  });

  it("signing out ends the session's event stream within seconds, not at the next keepalive", async () => {
    const page = await startUi(toolctl.home);
    try {
      const session = await signIn(page);
      const response = await fetch(`${page.origin}/events`, { headers: { cookie: session.cookie } });
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      await reader.read();
      const ended = (async () => {
        for (;;) if ((await reader.read()).done) return Date.now();
      })();
      const out = Date.now();
      expect((await post(page, "/logout", { csrf: session.csrf }, { cookie: session.cookie })).status).toBe(303);
      expect((await ended) - out).toBeLessThan(5_000);
      // The cookie after sign-out: refused, and said so on the page and in the audit log.
      const audited = await refusedDuring(async () => {
        const after = await fetch(`${page.origin}/`, { headers: { cookie: session.cookie }, redirect: "manual" });
        expect(after.status).toBe(401);
        expect(await after.text()).toContain("Not signed in: this browser signed out.");
      });
      expect(audited.map((event) => event.reason)).toEqual(["unauthorized: the session was signed out"]);
    } finally {
      expect(await page.stop()).toBe(0);
    }
  });

  it("the event stream needs a session and says the inbox's version, again when a request is filed", async () => {
    const controller = new AbortController();
    const response = await fetch(`${ui.origin}/events`, { headers: { cookie: signed.cookie }, signal: controller.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = response.body!.getReader();
    let text = "";
    const versions = async (count: number) => {
      while ((text.match(/^event: inbox$/gm) ?? []).length < count) text += new TextDecoder().decode((await reader.read()).value);
      return [...text.matchAll(/^data: (\w+)$/gm)].map((match) => match[1]);
    };
    const [first] = await versions(1);
    const run = await waitingRun(toolctl, { amount: 1.5 });
    leftovers.push(run.abort);
    const [, second] = await versions(2);
    expect(second).not.toBe(first);
    controller.abort();
    await toolctl.deny(run.id);
  });
});

describe("toolctl ui's flags", () => {
  it.runIf(process.platform === "linux")(
    "on a terminal it opens the login link with xdg-open (not with --no-open), and Ctrl-C stops it with exit 0",
    async () => {
      const home = tempDir("toolctl-home-");
      // Written aside and renamed: the file appears whole, never created empty before printf fills it.
      const bin = writeFiles({ "xdg-open": '#!/bin/sh\nprintf "%s\\n" "$@" > "$OPENED_FILE.tmp" && mv "$OPENED_FILE.tmp" "$OPENED_FILE"\n' });
      chmodSync(path.join(bin, "xdg-open"), 0o755);
      for (const noOpen of [false, true]) {
        const opened = path.join(tempDir(), "opened.txt");
        const env = { PATH: `${bin}:${process.env.PATH}`, OPENED_FILE: opened };
        const terminal = spawnTerminal(["ui", "--listen", "127.0.0.1:0", ...(noOpen ? ["--no-open"] : [])], home, { env, cols: 200 });
        const link = (await terminal.waitFor(/toolctl ui: http:\/\/localhost:\d+\/login\?token=[\w-]+/)).replace("toolctl ui: ", "");
        if (!noOpen) {
          for (let waited = 0; !existsSync(opened) && waited < 5000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
          expect(readFileSync(opened, "utf8")).toBe(`${link}\n`);
        } else {
          await new Promise((resolve) => setTimeout(resolve, 300));
          expect(existsSync(opened)).toBe(false);
        }
        terminal.write("\u0003");
        expect(await terminal.exited).toMatchObject({ exitCode: 0, killed: false });
      }
    },
  );

  it("while it runs, ui.json in the home names its address and process, and no secret; it is removed when it stops", async () => {
    const home = tempDir("toolctl-home-");
    const ui = await startUi(home);
    const file = path.join(home, "ui.json");
    const text = readFileSync(file, "utf8");
    const served = JSON.parse(text) as Record<string, unknown>;
    expect(served).toMatchObject({ url: ui.origin, port: Number(new URL(ui.origin).port), pid: expect.any(Number) });
    expect(served.pid).not.toBe(process.pid);
    expect(text).not.toContain(new URL(ui.loginUrl).searchParams.get("token")!);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(servedPage(home)?.url).toBe(ui.origin);
    expect(await ui.stop()).toBe(0);
    expect(existsSync(file)).toBe(false);
    expect(servedPage(home)).toBeUndefined();
    // A file left by a process that is gone names no page.
    writeFileSync(file, JSON.stringify({ ...served, pid: 2 ** 22 + 1 }));
    expect(servedPage(home)).toBeUndefined();
  });

  it("refuses a --listen host that is not loopback, or a malformed one: exit 2 on one line naming the flag, nothing served", async () => {
    const home = tempDir("toolctl-home-");
    for (const [listen, message] of [
      ["0.0.0.0:8809", "error: --listen 0.0.0.0:8809: 0.0.0.0 is not a loopback address; the approval page is served to this machine only (use 127.0.0.1)"],
      [
        "example.com:80",
        "error: --listen example.com:80: example.com is not a loopback address; the approval page is served to this machine only (use 127.0.0.1)",
      ],
      ["eighty", 'error: --listen: expected PORT or HOST:PORT (such as 8809 or 127.0.0.1:8809), got "eighty"'],
    ]) {
      const result = await runCli(["--home", home, "ui", "--listen", listen!, "--no-open"]);
      expect(result.code, result.stderr).toBe(ExitCode.usage);
      expect(result.stderr.trimEnd().split("\n")).toEqual([message]);
    }
  });
});

describe("the page's parts", () => {
  it("html escapes every value it is given, except fragments built with it", () => {
    const note = `<script>alert("x")</script> & 'y'`;
    expect(String(html`<p title="${note}">${note}</p>`)).toBe(
      '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;</p>',
    );
    const items = ["<a>", html`<li>${"<b>"}</li>`];
    expect(String(html`<p>${items}</p>`)).toBe("<p>&lt;a&gt;<li>&lt;b&gt;</li></p>");
    expect(String(html`${undefined}${null}${false}${0}`)).toBe("0");
  });

  it("a session ends after its idle time or its longest life, and the login token signs in once", () => {
    let now = 0;
    const sessions = new Sessions({ idleMs: 1000, maxMs: 5000, now: () => now });
    expect(sessions.login("wrong")).toEqual({ ok: false, reason: "wrong" });
    const first = sessions.login(sessions.loginToken);
    expect(first.ok).toBe(true);
    expect(sessions.login(sessions.loginToken)).toEqual({ ok: false, reason: "used" });
    const id = (first as { id: string }).id;
    expect(id).toMatch(/^[\w-]{43}$/);
    expect(id).not.toBe(sessions.loginToken);
    // Active every 900 ms: it lives until its longest life, then ends however active.
    for (now = 900; now <= 4500; now += 900) expect(sessions.find(id), `at ${now} ms`).toBeDefined();
    now = 5001;
    expect(sessions.find(id)).toBeUndefined();
    // How it ended is remembered for the refusal's reason; a value no session had is not one of them.
    expect(sessions.endOf(id)).toBe("timed out");
    expect(sessions.endOf("x".repeat(43))).toBeUndefined();

    const idle = new Sessions({ idleMs: 1000, maxMs: 5000, now: () => now });
    const second = idle.login(idle.loginToken) as { id: string };
    now += 1001;
    expect(idle.find(second.id)).toBeUndefined();
    // Looking without counting as activity does not extend it.
    const third = new Sessions({ idleMs: 1000, now: () => now });
    const signed = third.login(third.loginToken) as { id: string; session: Parameters<Sessions["isLive"]>[0] };
    now += 600;
    expect(third.find(signed.id, false)).toBeDefined();
    now += 600;
    expect(third.isLive(signed.session)).toBe(false);
    expect(third.find(signed.id)).toBeUndefined();
    expect(third.endOf(signed.id)).toBe("timed out");
    const fourth = new Sessions({ now: () => now });
    const out = fourth.login(fourth.loginToken) as { id: string; session: Parameters<Sessions["end"]>[0] };
    fourth.end(out.session);
    expect(fourth.find(out.id)).toBeUndefined();
    expect(fourth.endOf(out.id)).toBe("signed out");
  });
});
