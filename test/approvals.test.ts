/**
 * Approval from another terminal: `run --wait` files a request and waits; `approve` or `deny` from a second
 * process decides it, and the waiting run proceeds or stops at once. Requests are bound to their input, used
 * once, and expire.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approvalDigest, type ApprovalRequest } from "../src/policy/approval.js";
import { generateTotp } from "../src/policy/totp.js";
import { openRegistry } from "../src/store/sqlite/db.js";
import { beginEnrollment, confirmEnrollment } from "../src/store/sqlite/twofactor.js";
import { loadKeyRing } from "../src/secrets/crypto.js";
import { FakeServer, sendJson } from "./fakes/server.js";
import { baseEnv, binPath, repoRoot, runCli, runJson, tempDir, writeFiles } from "./helpers.js";
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

async function payHome(extraEnv: Record<string, string> = {}): Promise<string> {
  const home = tempDir("toolctl-approve-");
  expect((await runCli(["import", writeFiles({ "pay.yaml": manifest, "shop.yaml": shopManifest() })], { home, env: extraEnv })).code).toBe(0);
  return home;
}

/** Starts `run --wait` in the background and resolves with the id of the request it filed. */
async function startWaiting(home: string, amount: number, env: Record<string, string> = {}, target = "pay.charge", extra: string[] = []) {
  const child = spawn(process.execPath, [binPath, "run", target, "-p", `amount=${amount}`, ...extra, "--wait", "--json"], {
    env: { ...baseEnv(env), TOOLCTL_HOME: home },
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string; ms: number }>((resolve) => {
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - decidedAt }));
  });
  let decidedAt = Date.now();
  for (let i = 0; i < 200; i++) {
    const pending = await runJson(["approvals"], { home });
    if (pending.json.approvals.length) {
      return { id: pending.json.approvals[0].id as string, done, mark: () => (decidedAt = Date.now()), kill: (signal: NodeJS.Signals) => child.kill(signal) };
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill();
  throw new Error(`no approval request was filed: ${stderr}`);
}

describe("approval from another terminal", () => {
  it("a waiting run proceeds at once when a second process approves it", { timeout: 30_000 }, async () => {
    const home = await payHome();
    const waiting = await startWaiting(home, 5);
    waiting.mark();
    const approved = await runJson(["approve", waiting.id, "--yes"], { home });
    expect(approved.code).toBe(0);
    const result = await waiting.done;
    expect(result.code).toBe(0);
    expect(result.ms).toBeLessThan(3000);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: "succeeded", approval: { via: "another terminal" } });
    const events = (await runCli(["audit", "--json"], { home })).stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).type);
    expect(events).toEqual(expect.arrayContaining(["approval.requested", "approval.approved", "execution.started", "execution.succeeded"]));
    // Used once: approving or reusing it again is refused.
    const again = await runJson(["approve", waiting.id, "--yes"], { home });
    expect(again.code).toBe(3);
    expect(again.json.error.message).toMatch(/already used/);
  });

  it("a waiting run stops at once when a second process denies it", { timeout: 30_000 }, async () => {
    const home = await payHome();
    const waiting = await startWaiting(home, 5);
    waiting.mark();
    expect((await runJson(["deny", waiting.id], { home })).code).toBe(0);
    const result = await waiting.done;
    expect(result.code).toBe(3);
    expect(result.ms).toBeLessThan(3000);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: "declined", error: { message: expect.stringMatching(/denied from another terminal/) } });
  });

  it("no decision within the approval timeout counts as no", { timeout: 30_000 }, async () => {
    const home = await payHome();
    const env = { TOOLCTL_APPROVALS_TIMEOUT_SECONDS: "1" };
    const waiting = await startWaiting(home, 5, env);
    const result = await waiting.done;
    expect(result.code).toBe(3);
    expect(JSON.parse(result.stdout).error.message).toMatch(/no decision on approval .* within 1 s/);
    expect((await runJson(["approve", waiting.id, "--yes"], { home })).json.error.message).toMatch(/is already expired/);
  });

  it("an approval is bound to the input and cost: it cannot be used for different input", async () => {
    const home = await payHome();
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

  it("a CRITICAL request needs a TOTP code to be approved from another terminal", { timeout: 30_000 }, async () => {
    const home = await payHome();
    const registry = openRegistry(home);
    const ring = loadKeyRing(home, {}, { create: true })!;
    const { secret } = beginEnrollment(registry, ring);
    expect(confirmEnrollment(registry, ring, generateTotp(secret, Date.now() - 30_000), Date.now()).ok).toBe(true);
    registry.close();
    const env = { TOOLCTL_LIMITS_PER_ACTION_USD: "1000" };
    const waiting = await startWaiting(home, 150, env);
    const noCode = await runJson(["approve", waiting.id], { home, env });
    expect(noCode.code).toBe(4);
    expect(noCode.json.error.message).toMatch(/--yes --otp CODE/);
    const yesNoCode = await runJson(["approve", waiting.id, "--yes"], { home, env });
    expect(yesNoCode.code).toBe(4);
    expect(yesNoCode.json.error.message).toMatch(/--otp CODE/);
    const wrong = await runJson(["approve", waiting.id, "--yes", "--otp", "000000"], { home, env });
    expect(wrong.code).toBe(3);
    waiting.mark();
    const right = await runJson(["approve", waiting.id, "--yes", "--otp", generateTotp(secret, Date.now())], { home, env });
    expect(right.code, right.stdout).toBe(0);
    const result = await waiting.done;
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).approval.via).toMatch(/with TOTP/);
  });

  it("an interrupted --wait withdraws its request: nobody can approve it afterwards", { timeout: 30_000 }, async () => {
    const home = await payHome();
    const waiting = await startWaiting(home, 5);
    waiting.kill("SIGINT");
    const result = await waiting.done;
    expect(result.code).toBe(130);
    const late = await runJson(["approve", waiting.id, "--yes"], { home });
    expect(late.code).toBe(3);
    expect(late.json.error.message).toMatch(/is already denied/);
    const events = (await runCli(["audit", "--json"], { home })).stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events.find((e) => e.type === "approval.denied").data.via).toBe("withdrawn: the waiting run was interrupted");
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

async function pendingIds(home: string): Promise<string[]> {
  return (await runJson(["approvals"], { home })).json.approvals.map((a: { id: string }) => a.id);
}

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

  it("approvals lists the input and where each request goes; --json carries the full request", { timeout: 30_000 }, async () => {
    const home = await payHome();
    const before = shop.requests.length;
    const waiting = await startWaiting(home, 5, {}, "shop.charge", ["-p", "note=lunch"]);
    const listed = await runJson(["approvals"], { home });
    expect(listed.json.approvals).toHaveLength(1);
    expect(listed.json.approvals[0]).toMatchObject({
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
    const human = await runCli(["approvals"], { home, env: { COLUMNS: "250" } });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`POST ${shop.url}/v1/charges`);
    expect(human.stdout).toContain('{"amount":5,"note":"lunch"}');
    expect((await runJson(["deny", waiting.id], { home })).code).toBe(0);
    expect((await waiting.done).code).toBe(3);
    expect(shop.requests.length).toBe(before);
  });

  it("approve without a terminal needs --yes (exit 4, nothing decided); with --yes it shows the request and approves", { timeout: 30_000 }, async () => {
    const home = await payHome();
    const before = shop.requests.length;
    const waiting = await startWaiting(home, 5, {}, "shop.charge");
    const refused = await runCli(["approve", waiting.id], { home });
    expect(refused.code).toBe(4);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    expect(refused.stderr).toMatch(/^error: .*--yes/);
    expect(await pendingIds(home)).toEqual([waiting.id]);

    waiting.mark();
    const approved = await runCli(["approve", waiting.id, "--yes"], { home });
    expect(approved.code, approved.stderr).toBe(0);
    const shown = approved.stdout + approved.stderr;
    expect(shown).toMatch(/Action: shop\.charge/);
    expect(shown).toContain(`Target: POST ${shop.url}/v1/charges`);
    expect(shown).toMatch(/Undo: irreversible: this cannot be undone/);
    const result = await waiting.done;
    expect(result.code, result.stderr).toBe(0);
    expect(shop.requests.length).toBe(before + 1);
  });

  it(
    "approve on a terminal shows the full request before asking: 'y' and 'no' leave it pending, Ctrl-C exits 130, 'yes' approves",
    { timeout: 60_000 },
    async () => {
      const home = await payHome();
      const waiting = await startWaiting(home, 5, {}, "shop.charge", ["-p", "note=lunch"]);
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
        expect(await pendingIds(home)).toEqual([waiting.id]);
      }
      const term = spawnTerminal(["approve", waiting.id], home, { sessionMs: 20_000 });
      await term.waitFor(question);
      waiting.mark();
      term.write("yes\r");
      expect((await term.exited).exitCode, term.text()).toBe(0);
      const result = await waiting.done;
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ status: "succeeded", approval: { via: "another terminal" } });
    },
  );

  /** Files a request from a waiting run, edits its row with `sql`, and returns what approve and approvals make of it. */
  async function tampered(sql: string) {
    const home = await payHome();
    const before = shop.requests.length;
    const waiting = await startWaiting(home, 5, {}, "shop.charge");
    const db = new Database(path.join(home, "registry.db"));
    try {
      expect(db.prepare(sql).run(waiting.id).changes).toBe(1);
    } finally {
      db.close();
    }
    const approve = await runCli(["approve", waiting.id, "--yes"], { home });
    const listed = await runJson(["approvals"], { home });
    const human = await runCli(["approvals"], { home, env: { COLUMNS: "250" } });
    expect((await runJson(["deny", waiting.id], { home })).code).toBe(0);
    expect((await waiting.done).code).toBe(3);
    expect(shop.requests.length).toBe(before);
    return { approve, listed: listed.json.approvals, human };
  }

  it.each([
    ["the input", "UPDATE approvals SET request = json_set(request, '$.details.amount', 0.4321) WHERE id = ?", "0.4321"],
    ["where it goes", "UPDATE approvals SET request = json_set(request, '$.target', 'GET https://harmless.example/') WHERE id = ?", "harmless.example"],
    ["the undo", "UPDATE approvals SET request = json_set(request, '$.undo', 'refund (automatic)') WHERE id = ?", "refund (automatic)"],
    ["the 2FA flag column", "UPDATE approvals SET needs_otp = 1 WHERE id = ?", undefined],
    ["the input column", "UPDATE approvals SET input = '{\"amount\":0.4321}' WHERE id = ?", "0.4321"],
    ["the full request removed, as an older toolctl left it", "UPDATE approvals SET request = NULL WHERE id = ?", undefined],
  ])("a request edited in the database (%s) is refused, not shown (exit 3)", { timeout: 30_000 }, async (_what, sql, planted) => {
    const { approve, listed, human } = await tampered(sql);
    const problem = planted === undefined && sql.includes("request = NULL") ? /does not keep the full request/ : /does not match its digest/;
    expect(approve.code).toBe(3);
    expect(approve.stderr).toMatch(problem);
    expect(approve.stderr.trim().split("\n")).toHaveLength(1);
    expect(listed).toMatchObject([{ request: null, input: null, problem: expect.stringMatching(problem) }]);
    expect(human.stdout).toMatch(problem);
    if (planted) for (const text of [approve.stdout, approve.stderr, JSON.stringify(listed), human.stdout]) expect(text).not.toContain(planted);
  });

  it("a request rewritten together with its digest is approved in vain: the run accepts only the approval of what it does", { timeout: 30_000 }, async () => {
    const home = await payHome();
    const before = shop.requests.length;
    const waiting = await startWaiting(home, 5, {}, "shop.charge");
    const db = new Database(path.join(home, "registry.db"));
    try {
      const row = db.prepare("SELECT request FROM approvals WHERE id = ?").get(waiting.id) as { request: string };
      const forged: ApprovalRequest = { ...JSON.parse(row.request), target: "GET https://harmless.example/" };
      db.prepare("UPDATE approvals SET request = ?, digest = ? WHERE id = ?").run(JSON.stringify(forged), approvalDigest(forged), waiting.id);
    } finally {
      db.close();
    }
    const approved = await runCli(["approve", waiting.id, "--yes"], { home });
    expect(approved.code, approved.stderr).toBe(0);
    const result = await waiting.done;
    expect(result.code).toBe(3);
    expect(JSON.parse(result.stdout).error.message).toMatch(/different request: a new approval is needed/);
    expect(shop.requests.length).toBe(before);
  });
});
