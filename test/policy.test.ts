/**
 * Cost, risk and the approval gate: PRODUCT.md's table, as pure functions and through the library API in-process.
 */
import { describe, expect, it } from "vitest";
import { approvalNeeded, overDailyLimit, overPerActionLimit } from "../src/policy/approval.js";
import { assessRisk, estimateCost, riskFromCost } from "../src/policy/risk.js";
import { inputSources, type Toolctl } from "../src/api/index.js";
import { openApi, writeFiles } from "./helpers.js";

describe("risk from cost", () => {
  it.each([
    [0, "LOW"],
    [0.99, "LOW"],
    [1, "MEDIUM"],
    [9.99, "MEDIUM"],
    [10, "HIGH"],
    [100, "HIGH"],
    [100.01, "CRITICAL"],
    [5000, "CRITICAL"],
  ] as const)("$%d is %s", (usd, level) => expect(riskFromCost(usd)).toBe(level));

  it("a manifest may raise the level but never lower it", () => {
    expect(assessRisk({ kind: "read", risk: "HIGH" }, { usd: 0, basis: "" })).toBe("HIGH");
    expect(assessRisk({ kind: "read", risk: "LOW" }, { usd: 50, basis: "" })).toBe("HIGH");
  });

  it("a delete is at least MEDIUM", () => {
    expect(assessRisk({ kind: "delete" }, { usd: 0, basis: "" })).toBe("MEDIUM");
    expect(assessRisk({ kind: "delete" }, { usd: 20, basis: "" })).toBe("HIGH");
  });

  it("estimates fixed costs and costs from input with scaling", () => {
    expect(estimateCost({ cost: { fixed: 12.98 } }, {}).usd).toBe(12.98);
    expect(estimateCost({ cost: { fromInput: "amount", scale: 0.01 } }, { amount: 5000 }).usd).toBe(50);
    expect(estimateCost({ cost: { fromInput: "order.total", scale: 1 } }, { order: { total: "7.5" } }).usd).toBe(7.5);
    expect(estimateCost({}, {}).usd).toBe(0);
  });

  it("needs approval from MEDIUM up or when the manifest says always, and 2FA at CRITICAL", () => {
    const defaults = { paidActions: true, twoFactorAboveUsd: 100 };
    expect(approvalNeeded({ approval: "auto" }, "LOW", 0.5, defaults)).toEqual({ required: false, twoFactor: false });
    expect(approvalNeeded({ approval: "always" }, "LOW", 0, defaults)).toEqual({ required: true, twoFactor: false });
    expect(approvalNeeded({ approval: "auto" }, "HIGH", 50, defaults)).toEqual({ required: true, twoFactor: false });
    expect(approvalNeeded({ approval: "auto" }, "CRITICAL", 150, defaults)).toEqual({ required: true, twoFactor: true });
    // A manifest's `risk: CRITICAL` needs 2FA whatever the cost; a lower 2FA threshold adds it to HIGH.
    expect(approvalNeeded({ approval: "auto" }, "CRITICAL", 0, defaults)).toEqual({ required: true, twoFactor: true });
    expect(approvalNeeded({ approval: "auto" }, "HIGH", 60, { paidActions: true, twoFactorAboveUsd: 50 })).toEqual({ required: true, twoFactor: true });
    // With approvals for paid actions switched off, only `approval: always` and 2FA still ask.
    expect(approvalNeeded({ approval: "auto" }, "HIGH", 50, { paidActions: false, twoFactorAboveUsd: 100 })).toEqual({ required: false, twoFactor: false });
    expect(approvalNeeded({ approval: "always" }, "HIGH", 50, { paidActions: false, twoFactorAboveUsd: 100 })).toEqual({ required: true, twoFactor: false });
  });

  it("refuses what would take today's spend over the daily limit, but never a $0 action", () => {
    const limits = { perActionUsd: 200, dailyUsd: 500 };
    expect(overDailyLimit(10, 500, limits)).toBeUndefined();
    expect(overDailyLimit(10, 510, limits)).toMatch(/over the daily limit of \$500\.00/);
    // Free is free: even when today is already over the limit (the limit was lowered), it adds nothing to it.
    expect(overDailyLimit(0, 600, limits)).toBeUndefined();
    expect(overDailyLimit(0.01, 600.01, limits)).toMatch(/over the daily limit/);
  });

  it("refuses an estimate over the per-action limit", () => {
    expect(overPerActionLimit(200, { perActionUsd: 200, dailyUsd: 500 })).toBeUndefined();
    expect(overPerActionLimit(200.01, { perActionUsd: 200, dailyUsd: 500 })).toMatch(/over the per-action limit of \$200\.00/);
  });
});

describe("approval gate", () => {
  async function payHome(): Promise<Toolctl> {
    const toolctl = await openApi();
    const dir = writeFiles({
      "pay.yaml": `apiVersion: toolctl/v1
name: pay
description: Pays (echo)
runtime: echo
actions:
  charge:
    description: Charge dollars
    kind: create
    cost: { fromInput: amount }
    inputSchema: { type: object, required: [amount], properties: { amount: { type: number } } }
  always:
    description: Free but always asks
    kind: create
    approval: always
`,
    });
    expect((await toolctl.importManifests([dir])).failed).toEqual([]);
    return toolctl;
  }

  it("runs LOW without asking, needs --yes for MEDIUM and HIGH (exit 4 otherwise), refuses CRITICAL without 2FA", async () => {
    const toolctl = await payHome();
    expect((await toolctl.run("pay.charge", { amount: 0.5 })).exitCode).toBe(0);
    for (const amount of [5, 50]) {
      const refused = await toolctl.run("pay.charge", { amount });
      expect(refused.exitCode).toBe(4);
      expect(refused.status).toBe("declined");
      expect(refused.error?.message).toMatch(/re-run with --yes, or with --wait/);
      const approved = await toolctl.run("pay.charge", { amount }, { yes: true });
      expect(approved.exitCode).toBe(0);
      expect(approved.status).toBe("succeeded");
    }
    const critical = await toolctl.run("pay.charge", { amount: 150 }, { yes: true });
    expect(critical.exitCode).toBe(3);
    expect(critical.error?.message).toMatch(/CRITICAL .* needs a TOTP code, but 2FA is not set up: run toolctl 2fa enroll first/);
    const always = await toolctl.run("pay.always");
    expect(always.exitCode).toBe(4);
    expect((await toolctl.run("pay.always", {}, { yes: true })).exitCode).toBe(0);
  });

  it("an ApprovalChannel that answers needsHuman gets what no channel gets: needs_human, exit 4, nothing recorded as refused", async () => {
    const toolctl = await payHome();
    let asked = 0;
    const result = await toolctl.run("pay.charge", { amount: 5 }, { approve: async () => (asked++, { needsHuman: true }) });
    expect(asked).toBe(1);
    expect(result).toMatchObject({ status: "declined", exitCode: 4, error: { code: "needs_human" } });
    expect(result.error?.message).toMatch(/nobody can answer a prompt here: re-run with --yes, or with --wait/);
    const events = (await toolctl.audit()).filter((event) => event.type.startsWith("approval."));
    expect(events.map((event) => [event.type, (event.data as { via?: string }).via])).not.toContainEqual(["approval.declined", "prompt"]);
    // Answered no, it is refused (exit 3), as before.
    const no = await toolctl.run("pay.charge", { amount: 5 }, { approve: async () => ({ approved: false }) });
    expect(no).toMatchObject({ status: "declined", exitCode: 3, error: { code: "policy_refused" } });
    expect(no.error?.message).toContain("answered no");
  });

  it("--yes with --wait approves at once what --yes approves: nothing is filed, nobody is waited for", async () => {
    const toolctl = await payHome();
    const started = Date.now();
    const result = await toolctl.run("pay.charge", { amount: 5 }, { yes: true, wait: true, waitSeconds: 3 });
    expect(result).toMatchObject({ status: "succeeded", exitCode: 0, approval: { via: "--yes" } });
    expect(Date.now() - started).toBeLessThan(2500);
    expect(await toolctl.approvals()).toEqual([]);
  });

  it("a HIGH action that needs a code by approvals.twoFactorAboveUsd is said to need one, not called CRITICAL", async () => {
    const toolctl = await openApi({ env: { TOOLCTL_APPROVALS_TWO_FACTOR_ABOVE_USD: "20" } });
    expect(
      (
        await toolctl.importManifests([
          writeFiles({
            "pay.yaml":
              "apiVersion: toolctl/v1\nname: pay\ndescription: Pays\nruntime: echo\nactions:\n  charge:\n    description: Charge\n    kind: create\n    cost: { fromInput: amount }\n    inputSchema: { type: object, properties: { amount: { type: number } } }\n",
          }),
        ])
      ).failed,
    ).toEqual([]);
    const result = await toolctl.run("pay.charge", { amount: 30 }, { yes: true });
    expect(result).toMatchObject({ status: "declined", exitCode: 3, risk: "HIGH" });
    expect(result.error?.message).toBe("pay.charge needs a TOTP code (risk HIGH, estimated $30.00), but 2FA is not set up: run toolctl 2fa enroll first");
  });

  it("audits how a run was approved, and every refusal", async () => {
    const toolctl = await payHome();
    await toolctl.run("pay.charge", { amount: 5 });
    await toolctl.run("pay.charge", { amount: 5 }, { yes: true });
    const events = await toolctl.audit({ limit: 100 });
    expect(events.filter((e) => e.type === "execution.needs_approval")).toHaveLength(1);
    expect(events.find((e) => e.type === "approval.approved")!.data.via).toBe("--yes");
    expect(events.find((e) => e.type === "execution.started")!.data.approval).toBe("--yes");
  });

  it("refuses an action whose cost cannot be read from its input (never free by accident)", async () => {
    const toolctl = await payHome();
    for (const amount of [-5000, "abc"]) {
      const result = await toolctl.run("pay.charge", { amount });
      expect(result.exitCode).toBe(2);
      expect(result.status).toBe("failed");
    }
    const negative = await toolctl.run("pay.charge", inputSources({ params: ["amount=-5000"] }), { yes: true });
    expect(negative.exitCode).toBe(2);
    expect(negative.error?.message).toMatch(/cannot estimate the cost of pay.charge: input.amount is not an amount/);
  });

  it("a $0 action runs even when today's spend is already over the daily limit; a paid one is refused", async () => {
    const toolctl = await payHome();
    expect((await toolctl.run("pay.charge", { amount: 5 }, { yes: true })).exitCode).toBe(0);
    // The limit is lowered below what was already spent today: the same home, opened with it in the environment.
    const lowered = await openApi({ home: toolctl.home, env: { TOOLCTL_LIMITS_DAILY_USD: "2" } });
    expect((await lowered.settings()).limits.dailyUsd).toBe(2);
    const dry = await lowered.run("pay.charge", { amount: 0 }, { dryRun: true });
    expect(dry.exitCode).toBe(0);
    expect(dry.status).toBe("dry_run");
    expect(dry.warnings).toEqual([]);
    const free = await lowered.run("pay.charge", { amount: 0 });
    expect(free.exitCode, JSON.stringify(free)).toBe(0);
    expect(free).toMatchObject({ status: "succeeded", cost: { usd: 0 } });
    const paid = await lowered.run("pay.charge", { amount: 0.5 });
    expect(paid.exitCode).toBe(3);
    expect(paid.error?.message).toMatch(/over the daily limit of \$2\.00/);
  });

  it("a dry run shows cost, risk and whether approval is needed, and needs no --yes", async () => {
    const toolctl = await payHome();
    const result = await toolctl.preview("pay.charge", { amount: 50 });
    expect(result.exitCode).toBe(0);
    expect(result.status).toBe("dry_run");
    expect(result).toMatchObject({ cost: { usd: 50 }, risk: "HIGH", approval: { required: true, twoFactor: false } });
  });
});
