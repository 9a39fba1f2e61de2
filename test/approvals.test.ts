/**
 * Approval from another terminal: `run --wait` files a request and waits; `approve` or `deny` from a second
 * process decides it, and the waiting run proceeds or stops at once. Requests are bound to their input, used
 * once, and expire.
 */
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { generateTotp } from "../src/policy/totp.js";
import { openRegistry } from "../src/registry/db.js";
import { beginEnrollment, confirmEnrollment } from "../src/registry/twofactor.js";
import { loadKeyRing } from "../src/secrets/crypto.js";
import { baseEnv, binPath, repoRoot, runCli, runJson, tempDir, writeFiles } from "./helpers.js";

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

async function payHome(extraEnv: Record<string, string> = {}): Promise<string> {
  const home = tempDir("toolctl-approve-");
  expect((await runCli(["import", writeFiles({ "pay.yaml": manifest })], { home, env: extraEnv })).code).toBe(0);
  return home;
}

/** Starts `run --wait` in the background and resolves with the id of the request it filed. */
async function startWaiting(home: string, amount: number, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [binPath, "run", "pay.charge", "-p", `amount=${amount}`, "--wait", "--json"], {
    env: { ...baseEnv(env), TOOLCTL_HOME: home }, cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"],
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
    const approved = await runJson(["approve", waiting.id], { home });
    expect(approved.code).toBe(0);
    const result = await waiting.done;
    expect(result.code).toBe(0);
    expect(result.ms).toBeLessThan(3000);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: "succeeded", approval: { via: "another terminal" } });
    const events = (await runCli(["audit", "--json"], { home })).stdout.trim().split("\n").map((l) => JSON.parse(l).type);
    expect(events).toEqual(expect.arrayContaining(["approval.requested", "approval.approved", "execution.started", "execution.succeeded"]));
    // Used once: approving or reusing it again is refused.
    const again = await runJson(["approve", waiting.id], { home });
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
    expect((await runJson(["approve", waiting.id], { home })).json.error.message).toMatch(/is already expired/);
  });

  it("an approval is bound to the input and cost: it cannot be used for different input", async () => {
    const home = await payHome();
    const { consumeApproval, decideApproval, fileApproval } = await import("../src/registry/approvals.js");
    const registry = openRegistry(home);
    try {
      const filed = fileApproval(registry, { tool: "pay", action: "charge", digest: "digest-of-5", input: { amount: 5 }, costUsd: 5, risk: "MEDIUM", needsOtp: false, requestedBy: "user", timeoutSeconds: 60 });
      decideApproval(registry, filed.id, "approved", "user", "another terminal");
      expect(consumeApproval(registry, filed.id, "digest-of-6", "ex_1")).toMatch(/different input or cost: a new approval is needed/);
      expect(consumeApproval(registry, filed.id, "digest-of-5", "ex_1")).toBeUndefined();
      expect(consumeApproval(registry, filed.id, "digest-of-5", "ex_2")).toMatch(/is used, not approved/);
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
    expect(noCode.json.error.message).toMatch(/--otp CODE/);
    const wrong = await runJson(["approve", waiting.id, "--otp", "000000"], { home, env });
    expect(wrong.code).toBe(3);
    waiting.mark();
    const right = await runJson(["approve", waiting.id, "--otp", generateTotp(secret, Date.now())], { home, env });
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
    const late = await runJson(["approve", waiting.id], { home });
    expect(late.code).toBe(3);
    expect(late.json.error.message).toMatch(/is already denied/);
    const events = (await runCli(["audit", "--json"], { home })).stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(events.find((e) => e.type === "approval.denied").data.via).toBe("withdrawn: the waiting run was interrupted");
  });
});
