/**
 * Passkeys on the approval page, in the system's Chromium (playwright-core, headless) with a WebAuthn virtual
 * authenticator (Chrome DevTools Protocol) standing in for the person's: enrolment with `toolctl 2fa enroll
 * --passkey`, `2fa status`, approving a waiting run's request with the passkey, and removing passkeys (on the page
 * with a passkey, and with `toolctl 2fa passkey rm` and a TOTP code). Then what an attacker tries with a session
 * or without one: no assertion, a replayed assertion, an assertion made for another request, a foreign Origin, an
 * assertion whose signed origin was changed, and curl from another process: each refused, audited, nothing runs.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode, type Toolctl } from "../src/api/index.js";
import { generateTotp } from "../src/policy/totp.js";
import { openApi, rejection, runCli, runJson, tempDir } from "./helpers.js";
import { CHROMIUM, hasChromium, homeWithTwoFactor, inCI, post, refusals, startUi, statusOf, waitingRun, type Ui } from "./ui-pages.js";

/** A platform authenticator that verifies its user (a fingerprint, say) and answers at once. */
async function virtualAuthenticator(page: Page): Promise<{ cdp: CDPSession; id: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  });
  return { cdp, id: authenticatorId };
}

const credentialsOf = async (authenticator: { cdp: CDPSession; id: string }) =>
  (await authenticator.cdp.send("WebAuthn.getCredentials", { authenticatorId: authenticator.id })).credentials;

/** The session's cookie (for the page's port) and CSRF token, as the browser holds them. */
async function sessionOf(page: Page, ui: Ui): Promise<{ cookie: string; csrf: string }> {
  // Cookies are kept per host: the one for this port is this server's.
  const [cookie] = (await page.context().cookies(ui.origin)).filter((entry) => entry.name === `toolctl_ui_${new URL(ui.origin).port}`);
  const csrf = await page.locator('input[name="csrf"]').first().getAttribute("value");
  return { cookie: `${cookie!.name}=${cookie!.value}`, csrf: csrf! };
}

const auditOf = async (toolctl: Toolctl, type: string) => (await toolctl.audit({ type })).map((event) => event.data as Record<string, unknown>);

/**
 * A TOTP code for a time step not used yet. A home from homeWithTwoFactor used the previous step; the current one
 * and the next (one step of drift is allowed) are left, so two codes at most.
 */
let step = -1;
function nextCode(secret: string): string {
  step += 1;
  if (step > 1) throw new Error("no unused TOTP step left: the test needs fewer codes");
  return generateTotp(secret, Date.now() + 30_000 * step);
}

const execute = (command: string, args: string[]) =>
  new Promise<string>((resolve, reject) => execFile(command, args, (error, stdout) => (error ? reject(error) : resolve(stdout))));

describe.skipIf(!hasChromium && !inCI)("passkeys on the approval page", () => {
  let toolctl: Toolctl;
  let secret: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let laptop: { cdp: CDPSession; id: string };
  let ui: Ui;
  const leftovers: Array<() => void> = [];
  const shots = tempDir("toolctl-passkey-shots-");
  const problems: string[] = [];

  beforeAll(async () => {
    ({ toolctl, secret } = await homeWithTwoFactor());
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    context = await browser.newContext();
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on("pageerror", (error) => problems.push(error.message));
    page.on("console", (message) => message.type() === "error" && problems.push(message.text()));
    laptop = await virtualAuthenticator(page);
  }, 60_000);

  afterAll(async () => {
    for (const abort of leftovers) abort();
    await browser?.close();
    if (ui) expect(await ui.stop()).toBe(0);
  });

  it("toolctl 2fa enroll --passkey serves the passkey page; the passkey is added there (with a TOTP code, since 2FA exists) and the command exits 0; 2fa status lists it", async () => {
    const enroll = await startUi(toolctl.home, ["2fa", "enroll", "--passkey", "--name", "laptop", "--no-open"], "toolctl 2fa");
    try {
      await page.goto(enroll.loginUrl);
      await page.waitForURL(`${enroll.origin}/2fa/passkeys?suggest=laptop`);
      await expect(page.locator("#passkey-count").textContent()).resolves.toContain("No passkey is registered.");
      await expect(page.locator("#passkey-name").inputValue()).resolves.toBe("laptop");
      await page.locator("#otp-add").fill(nextCode(secret));
      await page.getByRole("button", { name: "Add a passkey" }).click();
      await page.waitForURL(/\/2fa\/passkeys\?done=added&name=laptop$/);
      await expect(page.locator("#message").textContent()).resolves.toBe("Added the passkey laptop.");
      expect(await enroll.exited).toBe(0);
    } finally {
      await enroll.stop();
    }
    expect(enroll.stdout()).toContain("Passkey 'laptop' added");
    expect(await credentialsOf(laptop)).toEqual([expect.objectContaining({ isResidentCredential: true, rpId: "localhost" })]);

    const status = await runJson(["2fa", "status"], { home: toolctl.home });
    expect(status.code).toBe(0);
    expect(status.json).toMatchObject({ enrolled: true, passkeys: [{ name: "laptop", lastUsedAt: null, transports: ["internal"] }] });
    expect(status.json.passkeys[0].id).toBe((await credentialsOf(laptop))[0]!.credentialId.replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_"));
    const human = await runCli(["2fa", "status"], { home: toolctl.home });
    expect(human.stdout).toMatch(/Passkeys \(1\):\n {2}laptop {2}added \S+ {2}last used never/);
    expect(await auditOf(toolctl, "2fa.passkey_added")).toEqual([{ passkey: status.json.passkeys[0].id, name: "laptop", transports: ["internal"] }]);
    // The add was confirmed with the TOTP code: checked like any other, for its purpose.
    expect((await auditOf(toolctl, "2fa.verified")).at(-1)).toMatchObject({ purpose: "passkey-add" });
  });

  it("approves a waiting run's request with the passkey (the inbox asks for it, not for a code); the run succeeds, recorded with the passkey's name", async () => {
    ui = await startUi(toolctl.home);
    await page.goto(ui.loginUrl);
    await page.waitForURL(`${ui.origin}/`);
    const run = await waitingRun(toolctl, { amount: 7 });
    leftovers.push(run.abort);
    const card = page.locator(`section#${run.id}`);
    await card.waitFor();
    expect(await card.locator("input[name=otp]").count()).toBe(0);
    expect(await card.innerText()).toContain("Approve asks for your passkey.");
    await page.screenshot({ path: path.join(shots, "inbox-passkey.png"), fullPage: true });

    await card.getByRole("button", { name: "Approve" }).click();
    await page.waitForURL(/\/\?done=approved/);
    expect(await run.done).toMatchObject({ status: "succeeded", approval: { via: "approval page with passkey laptop" } });
    expect((await toolctl.approvals(true)).find((approval) => approval.id === run.id)).toMatchObject({
      status: "used",
      decidedBy: "user",
      decidedVia: "approval page with passkey laptop",
    });
    expect((await auditOf(toolctl, "approval.approved")).at(-1)).toMatchObject({ approval: run.id, via: "approval page with passkey laptop" });
    expect((await auditOf(toolctl, "2fa.passkey_verified")).at(-1)).toMatchObject({ purpose: "approve", approvalId: run.id, name: "laptop" });
    const [used] = (await toolctl.twoFactorStatus()).passkeys;
    expect(Date.parse(used!.lastUsedAt!)).toBeGreaterThan(Date.now() - 60_000);
    expect(problems).toEqual([]);
  });

  it("refuses, audits and runs nothing for: no assertion, a TOTP code, an assertion for another request, a foreign Origin, a changed signed origin, a replay, and curl from another process", async () => {
    const charged = async () => (await toolctl.executions({ tool: "pay" })).total;
    const runsBefore = await charged();
    const first = await waitingRun(toolctl, { amount: 8 });
    const other = await waitingRun(toolctl, { amount: 9 });
    leftovers.push(first.abort, other.abort);
    await page.goto(`${ui.origin}/`);
    await page.locator(`section#${first.id}`).waitFor();
    await page.locator(`section#${other.id}`).waitFor();

    const session = await sessionOf(page, ui);
    // An assertion the person made for the first request, taken off the wire before it reached the server.
    let captured: string | undefined;
    await page.route(`**/approvals/${first.id}/approve`, (route) => {
      captured = route.request().postData() ?? "";
      return route.abort();
    });
    await page.locator(`section#${first.id}`).getByRole("button", { name: "Approve" }).click();
    for (let waited = 0; captured === undefined && waited < 10_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    await page.unroute(`**/approvals/${first.id}/approve`);
    const fields = Object.fromEntries(new URLSearchParams(captured!));
    expect(fields).toMatchObject({ factor: "passkey", digest: (await toolctl.pendingApproval(first.id)).digest });
    const assertion = JSON.parse(fields.assertion!) as { response: { clientDataJSON: string } };
    const approve = (id: string, extra: Record<string, string> = {}, headers: Record<string, string | undefined> = {}) =>
      post(ui, `/approvals/${id}/approve`, { ...fields, csrf: session.csrf, ...extra }, { cookie: session.cookie, ...headers });
    const otherDigest = (await toolctl.pendingApproval(other.id)).digest;

    const before = (await refusals(toolctl)).length;
    const passkeyRefusalsBefore = (await auditOf(toolctl, "2fa.passkey_refused")).length;
    // No assertion at all.
    const none = await approve(first.id, { assertion: "" });
    expect(none.status).toBe(400);
    expect(await none.text()).toContain(`${first.id} was not approved: approving here needs your passkey (no assertion was sent)`);
    // A TOTP code: once a passkey is registered, the page takes the passkey only.
    const code = await approve(first.id, { factor: "totp", otp: "123456" });
    expect(code.status).toBe(403);
    // The first request's assertion, sent for the other one (whose challenge is open).
    const challenge = await post(ui, `/approvals/${other.id}/challenge`, { csrf: session.csrf, digest: otherDigest }, { cookie: session.cookie });
    expect(challenge.status).toBe(200);
    expect(await challenge.json()).toMatchObject({ rpId: "localhost", userVerification: "required", allowCredentials: [{ type: "public-key" }] });
    const elsewhere = await approve(other.id, { digest: otherDigest });
    expect(elsewhere.status).toBe(403);
    expect(await elsewhere.text()).toContain(`${other.id} was not approved: the passkey was refused: it was signed for another challenge`);
    // From another site's page: the Origin check stops it before any route.
    expect((await approve(first.id, {}, { origin: "http://evil.example" })).status).toBe(403);
    // The signed origin changed to the page's IP address: the browser's signature covers it.
    const clientData = JSON.parse(Buffer.from(assertion.response.clientDataJSON, "base64url").toString("utf8")) as Record<string, unknown>;
    const forged = {
      ...assertion,
      response: {
        ...assertion.response,
        clientDataJSON: Buffer.from(JSON.stringify({ ...clientData, origin: `http://127.0.0.1:${new URL(ui.origin).port}` })).toString("base64url"),
      },
    };
    const moved = await approve(first.id, { assertion: JSON.stringify(forged) });
    expect(moved.status).toBe(403);
    expect(await moved.text()).toContain("the passkey was refused: it was made on another origin");
    // The genuine assertion, now: its challenge was used up by the attempt before, so it is a replay.
    const replayed = await approve(first.id);
    expect(replayed.status).toBe(403);
    expect(await replayed.text()).toContain("the passkey was refused: no passkey challenge is open for it");
    // curl in another process, with the genuine body (and this page's Origin) but no session.
    const status = await execute("curl", [
      "-s",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "-H",
      `origin: ${ui.origin}`,
      "--data",
      captured!,
      `${ui.origin}/approvals/${first.id}/approve`,
    ]);
    expect(status).toBe("401");

    expect((await refusals(toolctl)).slice(before).map((event) => [event.approval ?? null, event.reason])).toEqual([
      [first.id, `${first.id} was not approved: approving here needs your passkey (no assertion was sent)`],
      [first.id, `${first.id} was not approved: a passkey is registered, and this page approves with it`],
      [other.id, `${other.id} was not approved: the passkey was refused: it was signed for another challenge`],
      [null, `forbidden: a form may be sent only from this server's pages (Origin "http://evil.example")`],
      [first.id, `${first.id} was not approved: the passkey was refused: it was made on another origin`],
      [first.id, expect.stringContaining(`${first.id} was not approved: the passkey was refused: no passkey challenge is open for it`)],
      [null, "unauthorized: not signed in"],
    ]);
    expect((await auditOf(toolctl, "2fa.passkey_refused")).slice(passkeyRefusalsBefore).map((event) => [event.approvalId, event.reason])).toEqual([
      [other.id, "it was signed for another challenge"],
      [first.id, "it was made on another origin"],
      [first.id, expect.stringContaining("no passkey challenge is open")],
    ]);
    expect(await statusOf(toolctl, first.id)).toBe("pending");
    expect(await statusOf(toolctl, other.id)).toBe("pending");
    expect(await charged()).toBe(runsBefore);

    // Approved for real on the page, with a new challenge; the assertion that did it is no good a second time.
    let sent: string | undefined;
    const listen = (request: { url(): string; method(): string; postData(): string | null }) => {
      if (request.method() === "POST" && request.url().endsWith(`/approvals/${first.id}/approve`)) sent = request.postData() ?? "";
    };
    page.on("request", listen);
    await page.goto(`${ui.origin}/`);
    await page.locator(`section#${first.id}`).getByRole("button", { name: "Approve" }).click();
    await page.waitForURL(/\/\?done=approved/);
    page.off("request", listen);
    expect((await first.done).status).toBe("succeeded");
    const again = await post(ui, `/approvals/${first.id}/approve`, { ...Object.fromEntries(new URLSearchParams(sent!)) }, { cookie: session.cookie });
    expect(again.status).toBe(403);
    expect(await again.text()).toContain(`approval request ${first.id} is already used`);
    const onto = await post(
      ui,
      `/approvals/${other.id}/approve`,
      { ...Object.fromEntries(new URLSearchParams(sent!)), digest: otherDigest },
      { cookie: session.cookie },
    );
    expect(onto.status).toBe(403);
    expect(await statusOf(toolctl, other.id)).toBe("pending");
    expect(await charged()).toBe(runsBefore + 1);
    await toolctl.deny(other.id);
    expect((await other.done).status).toBe("declined");
  });

  it("removes the passkey on the page, confirmed with it; the inbox then asks for a TOTP code again", async () => {
    await page.goto(`${ui.origin}/2fa/passkeys`);
    const rows = page.locator("#passkeys tbody tr");
    await expect(rows.count()).resolves.toBe(1);
    expect(await rows.first().innerText()).toMatch(/laptop\s+\S.*\s+internal/);
    await page.screenshot({ path: path.join(shots, "passkeys.png"), fullPage: true });
    await rows.first().getByRole("button", { name: "Remove (confirm with a passkey)" }).click();
    await page.waitForURL(/\/2fa\/passkeys\?done=removed&name=laptop$/);
    await expect(page.locator("#message").textContent()).resolves.toBe("Removed the passkey laptop.");
    expect((await toolctl.twoFactorStatus()).passkeys).toEqual([]);
    expect(await auditOf(toolctl, "2fa.passkey_removed")).toEqual([{ passkey: expect.any(String), name: "laptop", via: "approval page with passkey laptop" }]);

    const run = await waitingRun(toolctl, { amount: 1 });
    leftovers.push(run.abort);
    await page.goto(`${ui.origin}/`);
    await page.locator(`section#${run.id} input[name=otp]`).fill(nextCode(secret));
    await page.locator(`section#${run.id}`).getByRole("button", { name: "Approve" }).click();
    await page.waitForURL(/\/\?done=approved/);
    expect(await run.done).toMatchObject({ status: "succeeded", approval: { via: "approval page with TOTP" } });
    expect(problems).toEqual([]);
  });
});

/** A passkey row as a registration would leave it (the key is not a real one: nothing here can sign with it). */
const PHONE = { id: "Y3JlZC1waG9uZQ", name: "phone", publicKey: Buffer.from("not a key").toString("base64url"), counter: 0, transports: ["usb"] };

describe("toolctl 2fa passkey rm", () => {
  it("needs a TOTP code (--code when not on a terminal): without one exit 4, a wrong one exit 3, an unknown name exit 2; the right one removes it, audited", async () => {
    const { toolctl, secret } = await homeWithTwoFactor();
    expect(await toolctl.store.passkeys.add(PHONE, "user")).toMatchObject({ ok: true });
    const home = toolctl.home;

    const none = await runCli(["2fa", "passkey", "rm", "phone"], { home });
    expect(none.code).toBe(ExitCode.needsHuman);
    expect(none.stderr).toContain("removing a passkey needs a code: pass --code CODE");
    const wrong = await runCli(["2fa", "passkey", "rm", "phone", "--code", generateTotp(secret, Date.now() + 10 * 60_000)], { home });
    expect(wrong.code, wrong.stderr).toBe(ExitCode.policy);
    expect(wrong.stderr).toContain("the passkey was not removed: the TOTP code is wrong");
    const unknown = await runCli(["2fa", "passkey", "rm", "tablet", "--code", "123456"], { home });
    expect(unknown.code).toBe(ExitCode.usage);
    expect(unknown.stderr).toContain("no passkey named 'tablet' (registered: phone)");
    expect((await toolctl.twoFactorStatus()).passkeys.map((passkey) => passkey.name)).toEqual(["phone"]);

    const removed = await runJson(["2fa", "passkey", "rm", "phone", "--code", generateTotp(secret, Date.now())], { home });
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.json).toMatchObject({ removed: { id: PHONE.id, name: "phone", transports: ["usb"] } });
    expect(await auditOf(toolctl, "2fa.passkey_removed")).toEqual([{ passkey: PHONE.id, name: "phone", via: "the command line with TOTP" }]);
    expect((await runCli(["2fa", "status"], { home })).stdout).toContain("Passkeys: none (toolctl 2fa enroll --passkey)");
  });

  it("without 2FA enrolled a terminal cannot remove one (exit 4): the page, with a passkey, can", async () => {
    const toolctl = await openApi();
    await toolctl.store.passkeys.add(PHONE, "user");
    const result = await runCli(["2fa", "passkey", "rm", "phone", "--code", "123456"], { home: toolctl.home });
    expect(result.code).toBe(ExitCode.needsHuman);
    expect(result.stderr).toContain("remove it on the approval page with another passkey");
    expect((await toolctl.passkeys()).length).toBe(1);
  });

  it("with a passkey registered, a TOTP secret is not enrolled from a terminal (exit 4): adding a factor takes an existing one", async () => {
    const toolctl = await openApi();
    // Begun before the passkey was added, and confirmed after: refused at the confirmation too.
    const begun = await toolctl.beginTwoFactor("ada@host");
    await toolctl.store.passkeys.add(PHONE, "user");
    const confirming = await rejection(toolctl.confirmTwoFactor(generateTotp(begun.secret, Date.now())));
    expect(confirming.exitCode).toBe(ExitCode.needsHuman);
    expect(confirming.message).toBe(
      "2FA was not enrolled: this home has a passkey (phone), and adding a factor takes an existing one, which a terminal cannot ask for; remove the passkey on the approval page (confirmed with it), enroll 2FA, then add the passkey again with a TOTP code",
    );
    const enroll = await runJson(["2fa", "enroll"], { home: toolctl.home });
    expect(enroll.code).toBe(ExitCode.needsHuman);
    expect(enroll.json).toMatchObject({ error: { message: confirming.message } });
    expect((await toolctl.twoFactorStatus()).enrolled).toBe(false);
  });

  it("2fa enroll --passkey is refused to an agent (exit 4) and with --code (exit 2), --name without --passkey too (exit 2)", async () => {
    const home = tempDir("toolctl-home-");
    const agent = await runCli(["2fa", "enroll", "--passkey", "--no-open"], { home, env: { TOOLCTL_ACTOR: "agent" } });
    expect(agent.code).toBe(ExitCode.needsHuman);
    expect(agent.stderr).toContain("passkeys are added by a person, not an agent");
    expect((await runCli(["2fa", "enroll", "--passkey", "--code", "123456"], { home })).code).toBe(ExitCode.usage);
    expect((await runCli(["2fa", "enroll", "--name", "laptop"], { home })).code).toBe(ExitCode.usage);
  });
});

describe("a passkey registration begun before any second factor existed", () => {
  it("is refused at its finish once one exists (TOTP enrolled meanwhile): it was never proved, audited", async () => {
    const toolctl = await openApi();
    const origin = "http://localhost:9";
    expect(await toolctl.beginPasskeyRegistration(origin, "sneaky")).toMatchObject({ rp: { id: "localhost" } });
    const { secret } = await toolctl.beginTwoFactor("ada@host");
    expect(await toolctl.confirmTwoFactor(generateTotp(secret, Date.now() - 30_000))).toMatchObject({ enrolled: true });
    const answer = { id: "AAAA", rawId: "AAAA", type: "public-key", response: {}, clientExtensionResults: {} } as never;
    await expect(toolctl.finishPasskeyRegistration(origin, answer)).rejects.toMatchObject({
      exitCode: ExitCode.policy,
      message:
        "the passkey was not added: a second factor was set up after this registration began without one: start again, confirming it with a TOTP code or a passkey",
    });
    expect(await toolctl.passkeys()).toEqual([]);
    expect((await auditOf(toolctl, "2fa.passkey_refused")).at(-1)).toMatchObject({ stage: "registration" });
  });
});

describe("the library API cannot approve with a passkey without its assertion", () => {
  it("approve(id, { passkey }) refuses an answer to no challenge, or one that does not verify: nothing is approved, each refusal audited", async () => {
    const { toolctl } = await homeWithTwoFactor();
    await toolctl.store.passkeys.add(PHONE, "user");
    const run = await waitingRun(toolctl, { amount: 3 });
    const { digest } = await toolctl.pendingApproval(run.id);
    // Another process on the same home (an agent with the library), claiming the passkey was used.
    const agent = await openApi({ home: toolctl.home });
    const claim = { origin: "http://localhost:9", response: { id: PHONE.id, rawId: PHONE.id, type: "public-key", response: {}, clientExtensionResults: {} } };
    await expect(agent.approve(run.id, { digest, passkey: claim })).rejects.toMatchObject({
      exitCode: ExitCode.policy,
      message: expect.stringContaining(`${run.id} was not approved: the passkey was refused: no passkey challenge is open for it`),
    });
    // With a challenge of its own: the answer still has to be signed by the passkey, for that challenge.
    const options = await agent.passkeyChallenge(claim.origin, { approve: run.id, digest });
    expect(options).toMatchObject({ rpId: "localhost", userVerification: "required", allowCredentials: [{ id: PHONE.id, type: "public-key" }] });
    await expect(agent.approve(run.id, { digest, passkey: claim })).rejects.toMatchObject({ exitCode: ExitCode.policy });
    await expect(agent.approve(run.id, { digest, passkey: claim })).rejects.toMatchObject({
      message: expect.stringContaining("no passkey challenge is open for it"),
    });
    expect(await statusOf(toolctl, run.id)).toBe("pending");
    expect((await auditOf(toolctl, "2fa.passkey_refused")).map((event) => event.approvalId)).toEqual([run.id, run.id, run.id]);

    // Passkeys need a page at localhost; adding one needs a factor once one exists, and a person.
    await expect(agent.passkeyChallenge("http://127.0.0.1:9", { approve: run.id })).rejects.toMatchObject({
      exitCode: ExitCode.usage,
      message: expect.stringContaining("passkeys work on a page at http://localhost:PORT"),
    });
    await expect(agent.beginPasskeyRegistration(claim.origin, "mine")).rejects.toMatchObject({
      exitCode: ExitCode.needsHuman,
      message: "the passkey was not added: adding one needs one of your passkeys or a TOTP code",
    });
    const asAgent = await openApi({ home: toolctl.home, actor: "agent" });
    await expect(asAgent.beginPasskeyRegistration(claim.origin, "mine", { otp: "123456" })).rejects.toMatchObject({ exitCode: ExitCode.needsHuman });
    await expect(asAgent.finishPasskeyRegistration(claim.origin, {})).rejects.toMatchObject({ exitCode: ExitCode.needsHuman });
    expect((await toolctl.passkeys()).map((passkey) => passkey.name)).toEqual(["phone"]);
    await toolctl.deny(run.id);
    expect((await run.done).status).toBe("declined");
  });
});
