/**
 * Approval from another terminal: `run --wait` files a request and waits; `approve` or `deny` from a second
 * process decides it, and the waiting run proceeds or stops at once. Requests are bound to their input, used
 * once, and expire. The behaviour runs in-process through the API (a second instance on the same home is the
 * other terminal); the CLI's own surface (exit codes, one-line errors, --json, the terminal prompt) is spawned.
 */
import { spawn } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approvalDigest, type ApprovalRequest } from "../src/policy/approval.js";
import { ExitCode, type Toolctl } from "../src/api/index.js";
import { generateTotp } from "../src/policy/totp.js";
import { openRegistry } from "../src/store/sqlite/db.js";
import { FakeServer, sendJson } from "./fakes/server.js";
import { baseEnv, binPath, openApi, rejection, repoRoot, runCli, runJson, writeFiles } from "./helpers.js";
import { spawnTerminal } from "./pty.js";

const manifest = `apiVersion: toolctl/v1
name: pay
description: Pays (echo)
runtime: echo
actions:
  charge:
    description: Charge dollars
    kind: create
    cost: { fromInput: amount }
    inputSchema: { type: object, required: [amount], properties: { amount: { type: number } } }
`;

/** A shop on loopback: the charge is a real POST, so "where it goes" is a method and a URL. */
const shop = new FakeServer((req, res) => sendJson(res, 200, { id: "ch_1", seen: req.url }));
beforeAll(async () => void (await shop.start()));
afterAll(() => shop.close());

const shopManifest = () => `apiVersion: toolctl/v1
name: shop
description: A shop on loopback
runtime: http
baseUrl: ${shop.url}
http: { allowPlainHttp: true, allowPrivateNetworks: ["127.0.0.0/8"] }
actions:
  charge:
    description: Charge a card, for real
    kind: create
    cost: { fromInput: amount }
    rollback: irreversible
    inputSchema: { type: object, required: [amount], properties: { amount: { type: number }, note: { type: string } } }
    request: { method: POST, path: /v1/charges, json: { amount: "{{ input.amount }}", note: "{{ input.note }}" } }
`;

/** A home with both tools imported, opened in-process; `env` holds settings such as the approval timeout. */
async function payApi(env: Record<string, string> = {}): Promise<Toolctl> {
  const toolctl = await openApi({ env });
  const dir = writeFiles({ "pay.yaml": manifest, "shop.yaml": shopManifest() });
  const report = await toolctl.importManifests([path.join(dir, "pay.yaml"), path.join(dir, "shop.yaml")]);
  expect(report.failed).toEqual([]);
  return toolctl;
}

/**
 * Starts a run with `wait: true` on `toolctl` and resolves with the id of the request it filed, as a second
 * instance on the same home (the approver) lists it. `done` resolves with the run's result and the time since `mark()`.
 */
async function startWaiting(toolctl: Toolctl, input: Record<string, unknown>, target = "pay.charge") {
  const approver = await openApi({ home: toolctl.home });
  const known = new Set((await approver.approvals(true)).map((approval) => approval.id));
  const controller = new AbortController();
  let decidedAt = Date.now();
  const done = toolctl.run(target, input, { wait: true, signal: controller.signal }).then((result) => ({ result, ms: Date.now() - decidedAt }));
  for (let i = 0; i < 200; i++) {
    const filed = (await approver.approvals()).find((approval) => !known.has(approval.id));
    if (filed) return { id: filed.id, done, mark: () => (decidedAt = Date.now()), abort: () => controller.abort() };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  controller.abort();
  throw new Error(`no approval request was filed: ${JSON.stringify(await done)}`);
}

/** A second instance on the same home: the person deciding from another terminal. */
const approverOf = (toolctl: Toolctl, env: Record<string, string> = {}) => openApi({ home: toolctl.home, env });

const eventTypes = async (toolctl: Toolctl) => (await toolctl.audit()).map((event) => event.type);

describe("approval from another terminal", () => {
  it("a waiting run proceeds at once when a second instance approves it", async () => {
    const toolctl = await payApi();
    const waiting = await startWaiting(toolctl, { amount: 5 });
    const approver = await approverOf(toolctl);
    waiting.mark();
    expect(await approver.approve(waiting.id)).toMatchObject({
      id: waiting.id,
      status: "approved",
      decidedBy: "user",
      decidedAt: expect.stringMatching(/^\d{4}-/),
    });
    const { result, ms } = await waiting.done;
    expect(result.exitCode).toBe(ExitCode.ok);
    expect(ms).toBeLessThan(3000);
    expect(result).toMatchObject({ status: "succeeded", approval: { via: "another terminal" } });
    expect(await eventTypes(toolctl)).toEqual(expect.arrayContaining(["approval.requested", "approval.approved", "execution.started", "execution.succeeded"]));
    // Used once: approving or reusing it again is refused.
    const again = await rejection(approver.approve(waiting.id));
    expect(again.exitCode).toBe(ExitCode.policy);
    expect(again.message).toMatch(/already used/);
  });

  it("a waiting run stops at once when a second instance denies it", async () => {
    const toolctl = await payApi();
    const waiting = await startWaiting(toolctl, { amount: 5 });
    waiting.mark();
    expect(await (await approverOf(toolctl)).deny(waiting.id)).toMatchObject({ id: waiting.id, status: "denied" });
    const { result, ms } = await waiting.done;
    expect(result.exitCode).toBe(ExitCode.policy);
    expect(ms).toBeLessThan(3000);
    expect(result).toMatchObject({ status: "declined", error: { message: expect.stringMatching(/denied from another terminal/) } });
  });

  it("no decision within the approval timeout counts as no", async () => {
    const toolctl = await payApi({ TOOLCTL_APPROVALS_TIMEOUT_SECONDS: "1" });
    const waiting = await startWaiting(toolctl, { amount: 5 });
    const { result } = await waiting.done;
    expect(result.exitCode).toBe(ExitCode.policy);
    expect(result.error!.message).toMatch(/no decision on approval .* within 1 s/);
    const late = await rejection((await approverOf(toolctl)).approve(waiting.id));
    expect(late.exitCode).toBe(ExitCode.policy);
    expect(late.message).toMatch(/is already expired/);
  });

  it("an approval is bound to the input and cost: it cannot be used for different input", async () => {
    const home = (await payApi()).home;
    const { consumeApproval, decideApproval, fileApproval } = await import("../src/store/sqlite/approvals.js");
    const registry = openRegistry(home);
    try {
      const request = requestFor(5);
      const filed = fileApproval(registry, { request, digest: approvalDigest(request), requestedBy: "user", timeoutSeconds: 60 });
      expect(decideApproval(registry, filed.id, "approved", "user", "another terminal", filed.digest)).toMatchObject({ ok: true });
      expect(consumeApproval(registry, filed.id, approvalDigest(requestFor(6)), "ex_1")).toMatch(/different request: a new approval is needed/);
      expect(consumeApproval(registry, filed.id, filed.digest, "ex_1")).toBeUndefined();
      expect(consumeApproval(registry, filed.id, filed.digest, "ex_2")).toMatch(/is used, not approved/);
    } finally {
      registry.close();
    }
  });

  it("a CRITICAL request needs a TOTP code to be approved from another terminal", async () => {
    const env = { TOOLCTL_LIMITS_PER_ACTION_USD: "1000" };
    const toolctl = await payApi(env);
    const { secret } = await toolctl.beginTwoFactor("ada@host");
    expect(await toolctl.confirmTwoFactor(generateTotp(secret, Date.now() - 30_000))).toMatchObject({ enrolled: true });
    const waiting = await startWaiting(toolctl, { amount: 150 });
    const approver = await approverOf(toolctl, env);
    expect((await approver.pendingApproval(waiting.id)).request).toMatchObject({ risk: "CRITICAL", needsOtp: true });
    const noCode = await rejection(approver.approve(waiting.id));
    expect(noCode.exitCode).toBe(ExitCode.needsHuman);
    expect(noCode.message).toMatch(/--otp CODE/);
    const wrong = await rejection(approver.approve(waiting.id, { otp: "000000" }));
    expect(wrong.exitCode).toBe(ExitCode.policy);
    // A machine that cannot read the TOTP secret (no master key) says so, rather than "2FA is not enrolled".
    const keyFile = path.join(toolctl.home, "master.key");
    const key = readFileSync(keyFile);
    rmSync(keyFile);
    const keyless = await rejection(approver.approve(waiting.id, { otp: "123456" }));
    expect(keyless.exitCode).toBe(ExitCode.environment);
    expect(keyless.message).toMatch(/2FA is enrolled, but this machine has no master key to read its TOTP secret: set TOOLCTL_MASTER_KEY/);
    writeFileSync(keyFile, key, { mode: 0o600 });
    waiting.mark();
    expect(await approver.approve(waiting.id, { otp: generateTotp(secret, Date.now()) })).toMatchObject({ status: "approved" });
    const { result } = await waiting.done;
    expect(result.exitCode).toBe(ExitCode.ok);
    expect(result.approval!.via).toMatch(/with TOTP/);
  });

  it("requireCode asks for a TOTP code for any request, even one a terminal approves without; via names the factor", async () => {
    const toolctl = await payApi();
    const waiting = await startWaiting(toolctl, { amount: 5 });
    const approver = await approverOf(toolctl);
    const pending = await approver.pendingApproval(waiting.id);
    expect(pending.request).toMatchObject({ risk: "MEDIUM", needsOtp: false });
    const noCode = await rejection(approver.approve(waiting.id, { digest: pending.digest, requireCode: true, via: "approval page" }));
    expect(noCode.exitCode).toBe(ExitCode.needsHuman);
    expect(noCode.message).toBe(`${waiting.id}: approving through approval page needs a TOTP code`);
    // Not enrolled: no code can be checked, so nothing is approved.
    const unenrolled = await rejection(approver.approve(waiting.id, { digest: pending.digest, otp: "123456", requireCode: true }));
    expect(unenrolled.exitCode).toBe(ExitCode.policy);
    expect(unenrolled.message).toMatch(/was not approved: 2FA is not enrolled/);
    const { secret } = await toolctl.beginTwoFactor("ada@host");
    await toolctl.confirmTwoFactor(generateTotp(secret, Date.now() - 30_000));
    const wrong = await rejection(approver.approve(waiting.id, { digest: pending.digest, otp: "000000", requireCode: true }));
    expect(wrong.exitCode).toBe(ExitCode.policy);
    expect((await approver.pendingApproval(waiting.id)).status).toBe("pending");
    waiting.mark();
    const approved = await approver.approve(waiting.id, {
      digest: pending.digest,
      otp: generateTotp(secret, Date.now()),
      requireCode: true,
      via: "approval page",
    });
    expect(approved).toMatchObject({ status: "approved", decidedVia: "approval page with TOTP" });
    const { result } = await waiting.done;
    expect(result).toMatchObject({ status: "succeeded", approval: { via: "approval page with TOTP" } });
    const verified = (await toolctl.audit({ type: "2fa.verified" })).map((event) => event.data);
    expect(verified).toContainEqual(expect.objectContaining({ purpose: "approve", approvalId: waiting.id }));
  });

  it("deny records how it was decided", async () => {
    const toolctl = await payApi();
    const waiting = await startWaiting(toolctl, { amount: 5 });
    expect(await (await approverOf(toolctl)).deny(waiting.id, { via: "approval page" })).toMatchObject({ status: "denied", decidedVia: "approval page" });
    expect((await waiting.done).result.status).toBe("declined");
    const denied = (await toolctl.audit({ type: "approval.denied" })).map((event) => event.data.via);
    expect(denied).toEqual(["approval page"]);
  });

  it("an interrupted wait withdraws its request: nobody can approve it afterwards", async () => {
    const toolctl = await payApi();
    const waiting = await startWaiting(toolctl, { amount: 5 });
    waiting.abort();
    const { result } = await waiting.done;
    expect(result.exitCode).toBe(ExitCode.interrupted);
    expect(result.error!.message).toMatch(/interrupted while waiting for approval .*; the request was withdrawn/);
    const late = await rejection((await approverOf(toolctl)).approve(waiting.id));
    expect(late.exitCode).toBe(ExitCode.policy);
    expect(late.message).toMatch(/is already denied/);
    const denied = (await toolctl.audit()).find((event) => event.type === "approval.denied");
    expect(denied!.data.via).toBe("withdrawn: the waiting run was interrupted");
  });

  it("the CLI: run --wait files a request and waits; Ctrl-C (SIGINT) exits 130 and withdraws it", { timeout: 30_000 }, async () => {
    const toolctl = await payApi();
    const child = spawn(process.execPath, [binPath, "run", "pay.charge", "-p", "amount=5", "--wait", "--json"], {
      env: baseEnv({ TOOLCTL_HOME: toolctl.home }),
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    let filed = (await toolctl.approvals())[0];
    for (let i = 0; !filed && i < 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      filed = (await toolctl.approvals())[0];
    }
    expect(filed).toMatchObject({ status: "pending", request: { tool: "pay", action: "charge", details: { amount: 5 } } });
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(JSON.parse(stdout)).toMatchObject({ status: "declined", exitCode: 130, error: { message: expect.stringMatching(/the request was withdrawn/) } });
    expect(await toolctl.approvals(true)).toMatchObject([{ id: filed.id, status: "denied", decidedVia: "withdrawn: the waiting run was interrupted" }]);
  });
});

/** The request the engine files for pay.charge with this amount (for the in-process registry tests). */
function requestFor(amount: number): ApprovalRequest {
  return {
    tool: "pay",
    action: "charge",
    description: "Charge dollars",
    details: { amount },
    target: "echo: returns the input, unchanged",
    cost: { usd: amount, basis: "input.amount" },
    risk: "MEDIUM",
    undo: "none declared",
    needsOtp: false,
  };
}

const pendingIds = async (toolctl: Toolctl): Promise<string[]> => (await toolctl.approvals()).map((approval) => approval.id);

describe("the approver sees what they approve", () => {
  it("the digest covers everything shown: tool, action, description, input, where it goes, cost, risk, undo and 2FA", () => {
    const base = requestFor(5);
    const changed: Array<Partial<ApprovalRequest>> = [
      { tool: "pey" },
      { action: "refund" },
      { description: "Charge less" },
      { details: { amount: 5, to: "mallory" } },
      { target: "POST https://elsewhere.example/v1/charges" },
      { cost: { usd: 5, basis: "fixed $5" } },
      { cost: { usd: 5.01, basis: "input.amount" } },
      { risk: "HIGH" },
      { undo: "irreversible: this cannot be undone" },
      { needsOtp: true },
    ];
    const digests = new Set([approvalDigest(base), ...changed.map((change) => approvalDigest({ ...base, ...change }))]);
    expect(digests.size).toBe(changed.length + 1);
    // Key order is not part of it: the same request always has the same digest.
    expect(approvalDigest(JSON.parse(JSON.stringify({ ...base, details: { amount: 5 } })))).toBe(approvalDigest(base));
  });

  it("approvals lists the input and where each request goes, with the full request", async () => {
    const toolctl = await payApi();
    const before = shop.requests.length;
    const waiting = await startWaiting(toolctl, { amount: 5, note: "lunch" }, "shop.charge");
    const approver = await approverOf(toolctl);
    const listed = await approver.approvals();
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      id: waiting.id,
      status: "pending",
      problem: null,
      request: {
        tool: "shop",
        action: "charge",
        description: "Charge a card, for real",
        details: { amount: 5, note: "lunch" },
        target: `POST ${shop.url}/v1/charges`,
        cost: { usd: 5, basis: "input.amount" },
        risk: "MEDIUM",
        undo: "irreversible: this cannot be undone",
        needsOtp: false,
      },
    });
    await approver.deny(waiting.id);
    expect((await waiting.done).result.exitCode).toBe(ExitCode.policy);
    expect(shop.requests.length).toBe(before);
  });

  it(
    "the CLI: approvals prints the input and target and --json carries the API's list; approve without a terminal needs --yes (exit 4, one line, nothing decided), with --yes it shows the request and approves; deny exits 0",
    { timeout: 30_000 },
    async () => {
      const env = { TOOLCTL_LIMITS_PER_ACTION_USD: "1000" };
      const toolctl = await payApi(env);
      const home = toolctl.home;
      const { secret } = await toolctl.beginTwoFactor("ada@host");
      expect(await toolctl.confirmTwoFactor(generateTotp(secret, Date.now() - 30_000))).toMatchObject({ enrolled: true });
      const before = shop.requests.length;
      const waiting = await startWaiting(toolctl, { amount: 5, note: "lunch" }, "shop.charge");
      const critical = await startWaiting(toolctl, { amount: 150 });

      const [json, human, refused, refusedCritical] = await Promise.all([
        runJson(["approvals"], { home }),
        runCli(["approvals"], { home, env: { COLUMNS: "250" } }),
        runCli(["approve", waiting.id], { home }),
        runJson(["approve", critical.id], { home, env }),
      ]);
      expect(json.code).toBe(0);
      expect(json.json.items).toEqual(JSON.parse(JSON.stringify(await toolctl.approvals())));
      expect(human.code).toBe(0);
      expect(human.stdout).toContain(`POST ${shop.url}/v1/charges`);
      expect(human.stdout).toContain('{"amount":5,"note":"lunch"}');
      expect(refused.code).toBe(4);
      expect(refused.stderr.trim().split("\n")).toHaveLength(1);
      expect(refused.stderr).toMatch(/^error: .*--yes/);
      expect(refusedCritical.code).toBe(4);
      expect(refusedCritical.json.error.message).toMatch(/--yes --otp CODE/);
      expect((await pendingIds(toolctl)).sort()).toEqual([waiting.id, critical.id].sort());

      waiting.mark();
      const [approved, denied] = await Promise.all([runCli(["approve", waiting.id, "--yes"], { home }), runJson(["deny", critical.id], { home })]);
      expect(approved.code, approved.stderr).toBe(0);
      const shown = approved.stdout + approved.stderr;
      expect(shown).toMatch(/Action: shop\.charge/);
      expect(shown).toContain(`Target: POST ${shop.url}/v1/charges`);
      expect(shown).toMatch(/Undo: irreversible: this cannot be undone/);
      expect((await waiting.done).result).toMatchObject({ status: "succeeded", exitCode: ExitCode.ok });
      expect(shop.requests.length).toBe(before + 1);
      expect(denied.code).toBe(0);
      expect((await critical.done).result).toMatchObject({ status: "declined", exitCode: ExitCode.policy });
    },
  );

  it(
    "approve on a terminal shows the full request before asking: 'y' and 'no' leave it pending, Ctrl-C exits 130, 'yes' approves",
    { timeout: 60_000 },
    async () => {
      const toolctl = await payApi();
      const home = toolctl.home;
      const waiting = await startWaiting(toolctl, { amount: 5, note: "lunch" }, "shop.charge");
      const question = new RegExp(`Approve request ${waiting.id}\\? \\[yes\\/no\\]`);
      for (const [answer, code] of [
        ["y\r", 3],
        ["no\r", 3],
        ["\x03", 130],
      ] as const) {
        const term = spawnTerminal(["approve", waiting.id], home, { sessionMs: 20_000 });
        await term.waitFor(question);
        const shown = term.text();
        expect(shown).toMatch(/Action: shop\.charge/);
        expect(shown).toMatch(/Description: Charge a card, for real/);
        expect(shown).toContain(`Target: POST ${shop.url}/v1/charges`);
        expect(shown).toMatch(/Cost: \$5\.00 \(input\.amount\)/);
        expect(shown).toMatch(/Risk Level: MEDIUM/);
        expect(shown).toMatch(/Undo: irreversible: this cannot be undone/);
        expect(shown).toMatch(/Details:\n\s+amount: 5\n\s+note: lunch/);
        expect(shown.indexOf("Details:")).toBeLessThan(shown.search(question));
        term.write(answer);
        expect((await term.exited).exitCode, term.text()).toBe(code);
        expect(await pendingIds(toolctl)).toEqual([waiting.id]);
      }
      const term = spawnTerminal(["approve", waiting.id], home, { sessionMs: 20_000 });
      await term.waitFor(question);
      waiting.mark();
      term.write("yes\r");
      expect((await term.exited).exitCode, term.text()).toBe(0);
      const { result } = await waiting.done;
      expect(result).toMatchObject({ status: "succeeded", exitCode: ExitCode.ok, approval: { via: "another terminal" } });
    },
  );

  const tamperings = [
    ["the input", "UPDATE approvals SET request = json_set(request, '$.details.amount', 0.4321) WHERE id = ?", "0.4321"],
    ["where it goes", "UPDATE approvals SET request = json_set(request, '$.target', 'GET https://harmless.example/') WHERE id = ?", "harmless.example"],
    ["the undo", "UPDATE approvals SET request = json_set(request, '$.undo', 'refund (automatic)') WHERE id = ?", "refund (automatic)"],
    ["the 2FA flag column", "UPDATE approvals SET needs_otp = 1 WHERE id = ?", undefined],
    ["the input column", "UPDATE approvals SET input = '{\"amount\":0.4321}' WHERE id = ?", "0.4321"],
    ["the full request removed, as an older toolctl left it", "UPDATE approvals SET request = NULL WHERE id = ?", undefined],
  ] as const;
  const problemOf = (sql: string) => (sql.includes("request = NULL") ? /does not keep the full request/ : /does not match its digest/);

  /** Edits the row of a filed request with `sql`. */
  function tamper(home: string, id: string, sql: string): void {
    const db = new Database(path.join(home, "registry.db"));
    try {
      expect(db.prepare(sql).run(id).changes).toBe(1);
    } finally {
      db.close();
    }
  }

  it.each(tamperings)("a request edited in the database (%s) is refused, not shown (exit 3)", async (_what, sql, planted) => {
    const toolctl = await payApi();
    const before = shop.requests.length;
    const waiting = await startWaiting(toolctl, { amount: 5 }, "shop.charge");
    tamper(toolctl.home, waiting.id, sql);
    const approver = await approverOf(toolctl);
    const problem = problemOf(sql);
    const refused = await rejection(approver.approve(waiting.id));
    expect(refused.exitCode).toBe(ExitCode.policy);
    expect(refused.message).toMatch(problem);
    expect(refused.message).not.toContain("\n");
    expect((await rejection(approver.pendingApproval(waiting.id))).message).toBe(refused.message);
    const listed = await approver.approvals();
    expect(listed).toMatchObject([{ request: null, input: null, problem: expect.stringMatching(problem) }]);
    if (planted) for (const text of [refused.message, JSON.stringify(listed)]) expect(text).not.toContain(planted);
    await approver.deny(waiting.id);
    expect((await waiting.done).result.exitCode).toBe(ExitCode.policy);
    expect(shop.requests.length).toBe(before);
  });

  it("the CLI refuses an edited request on one line (exit 3) and approvals names the problem, never what was planted", { timeout: 30_000 }, async () => {
    const toolctl = await payApi();
    const home = toolctl.home;
    const before = shop.requests.length;
    const filed: Array<{ id: string; sql: string; planted: string | undefined; done: Promise<unknown> }> = [];
    for (const [, sql, planted] of tamperings) {
      const waiting = await startWaiting(toolctl, { amount: 5 }, "shop.charge");
      tamper(home, waiting.id, sql);
      filed.push({ id: waiting.id, sql, planted, done: waiting.done });
    }
    const [human, ...approves] = await Promise.all([
      runCli(["approvals"], { home, env: { COLUMNS: "250" } }),
      ...filed.map(({ id }) => runCli(["approve", id, "--yes"], { home })),
    ]);
    expect(human.code).toBe(0);
    filed.forEach(({ sql, planted }, i) => {
      const approve = approves[i];
      expect(approve.code).toBe(3);
      expect(approve.stderr).toMatch(problemOf(sql));
      expect(approve.stderr.trim().split("\n")).toHaveLength(1);
      expect(human.stdout).toMatch(problemOf(sql));
      if (planted) for (const text of [approve.stdout, approve.stderr, human.stdout]) expect(text).not.toContain(planted);
    });
    expect(human.stdout.match(/does not match its digest/g)).toHaveLength(5);
    const approver = await approverOf(toolctl);
    for (const { id } of filed) await approver.deny(id);
    await Promise.all(filed.map(({ done }) => done));
    expect(shop.requests.length).toBe(before);
  });

  it("a request rewritten together with its digest is approved in vain: the run accepts only the approval of what it does", async () => {
    const toolctl = await payApi();
    const before = shop.requests.length;
    const waiting = await startWaiting(toolctl, { amount: 5 }, "shop.charge");
    const db = new Database(path.join(toolctl.home, "registry.db"));
    try {
      const row = db.prepare("SELECT request FROM approvals WHERE id = ?").get(waiting.id) as { request: string };
      const forged: ApprovalRequest = { ...JSON.parse(row.request), target: "GET https://harmless.example/" };
      db.prepare("UPDATE approvals SET request = ?, digest = ? WHERE id = ?").run(JSON.stringify(forged), approvalDigest(forged), waiting.id);
    } finally {
      db.close();
    }
    expect(await (await approverOf(toolctl)).approve(waiting.id)).toMatchObject({ status: "approved" });
    const { result } = await waiting.done;
    expect(result.exitCode).toBe(ExitCode.policy);
    expect(result.error!.message).toMatch(/different request: a new approval is needed/);
    expect(shop.requests.length).toBe(before);
  });
});
