/**
 * What the API gives front doors that serve agents: a catalog of the actions an agent may be offered, a cheap
 * registry version to poll for changes, a wait for approval that gives up and leaves the request open, a later
 * run under that request (exactly that call, once), and the front door's origin on the execution and its audit.
 */
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { ExitCode, type Toolctl } from "../src/api/index.js";
import { openApi, rejection, writeFiles } from "./helpers.js";

const manifests = {
  "pay.yaml": `apiVersion: toolctl/v1
name: pay
description: Pays (echo)
runtime: echo
tags: [money]
actions:
  charge:
    description: Charge dollars
    kind: create
    cost: { fromInput: amount }
    rollback: { action: refund, input: { amount: "{{ input.amount }}" } }
    inputSchema: { type: object, required: [amount], properties: { amount: { type: number, minimum: 0 } } }
  refund:
    description: Refund dollars
    kind: update
    inputSchema: { type: object, properties: { amount: { type: number } } }
  balance:
    description: Read the balance
    kind: read
    inputSchema: { type: object, properties: {} }
    outputSchema: { type: object, properties: { message: { type: string } } }
`,
  "notes.yaml": `apiVersion: toolctl/v1
name: notes
description: Notes (echo)
runtime: echo
actions:
  wipe:
    description: Delete every note
    kind: delete
    rollback: irreversible
    inputSchema: { type: object }
`,
};

async function agentApi(): Promise<Toolctl> {
  const dir = writeFiles(manifests);
  const toolctl = await openApi({ actor: "agent" });
  const report = await toolctl.importManifests([dir]);
  expect(report.failed).toEqual([]);
  return toolctl;
}

describe("catalog", () => {
  it("lists the actions of active tools with self-contained schemas, rules in words and undo", async () => {
    const toolctl = await agentApi();
    const entries = await toolctl.catalog();
    expect(entries.map((e) => e.target)).toEqual(["notes.wipe", "pay.balance", "pay.charge", "pay.refund"]);
    const charge = entries.find((e) => e.target === "pay.charge")!;
    expect(charge).toMatchObject({
      tool: "pay",
      action: "charge",
      kind: "create",
      description: "Charge dollars",
      toolDescription: "Pays (echo)",
      tags: ["money"],
      runtime: "echo",
      cost: "from input.amount (USD)",
      approval: "auto",
      idempotent: false,
      undo: "compensated by pay.refund",
      openWorld: false,
      inputSchema: { type: "object", required: ["amount"] },
    });
    expect(charge.outputSchema).toBeUndefined();
    const balance = entries.find((e) => e.target === "pay.balance")!;
    expect(balance).toMatchObject({ kind: "read", idempotent: true, undo: "none declared", outputSchema: { type: "object" } });
    expect(entries.find((e) => e.target === "notes.wipe")).toMatchObject({
      kind: "delete",
      undo: "irreversible",
      risk: expect.stringMatching(/at least MEDIUM/),
    });
  });

  it("narrows by tool and tag, and leaves out tools that are not active", async () => {
    const toolctl = await agentApi();
    expect((await toolctl.catalog({ tag: "money" })).map((e) => e.tool)).toEqual(["pay", "pay", "pay"]);
    expect((await toolctl.catalog({ tools: ["notes"] })).map((e) => e.target)).toEqual(["notes.wipe"]);
    await toolctl.disableTool("pay");
    expect((await toolctl.catalog()).map((e) => e.target)).toEqual(["notes.wipe"]);
  });

  it("registryVersion changes with a status change, a removal and an import, and not otherwise", async () => {
    const toolctl = await agentApi();
    const first = await toolctl.registryVersion();
    await toolctl.run("pay.balance", {});
    expect(await toolctl.registryVersion()).toBe(first);
    await toolctl.disableTool("notes");
    const disabled = await toolctl.registryVersion();
    expect(disabled).not.toBe(first);
    await toolctl.enableTool("notes");
    expect(await toolctl.registryVersion()).toBe(first);
    await toolctl.removeTool("notes");
    const removed = await toolctl.registryVersion();
    expect(removed).not.toBe(first);
    await toolctl.importManifests([writeFiles({ "notes.yaml": manifests["notes.yaml"] })]);
    expect(await toolctl.registryVersion()).toBe(first);
  });

  it("registryVersion sees a change made by another instance (another process's connection)", async () => {
    const toolctl = await agentApi();
    const first = await toolctl.registryVersion();
    const other = await openApi({ home: toolctl.home });
    await other.run("pay.balance", {});
    expect(await toolctl.registryVersion()).toBe(first);
    await other.disableTool("pay");
    expect(await toolctl.registryVersion()).not.toBe(first);
    await other.enableTool("pay");
    expect(await toolctl.registryVersion()).toBe(first);
  });
});

describe("waiting for approval with a limit, then running under the request", () => {
  it("gives up after waitSeconds with approval_pending and the request id, leaving the request open", async () => {
    const toolctl = await agentApi();
    const filed: string[] = [];
    const started = Date.now();
    const result = await toolctl.run("pay.charge", { amount: 40 }, { wait: true, waitSeconds: 0.3, onApprovalFiled: (id) => filed.push(id) });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(result).toMatchObject({ status: "declined", exitCode: ExitCode.needsHuman, error: { code: "approval_pending" } });
    expect(filed).toHaveLength(1);
    expect(result.approval?.requestId).toBe(filed[0]);
    expect(result.error?.message).toContain(`toolctl approve ${filed[0]}`);
    const [open] = await toolctl.approvals();
    expect(open).toMatchObject({ id: filed[0], status: "pending", tool: "pay", action: "charge" });
  });

  it("runs exactly the approved call once; a second run under it, or another input, is refused", async () => {
    const toolctl = await agentApi();
    const first = await toolctl.run("pay.charge", { amount: 40 }, { wait: true, waitSeconds: 0 });
    const id = first.approval!.requestId!;
    // Still pending: the run under it says so again, and nothing runs.
    const early = await toolctl.run("pay.charge", { amount: 40 }, { approvalId: id });
    expect(early).toMatchObject({ status: "declined", error: { code: "approval_pending" } });

    const human = await openApi({ home: toolctl.home });
    await human.approve(id);
    const other = await toolctl.run("pay.charge", { amount: 41 }, { approvalId: id });
    expect(other).toMatchObject({ status: "declined", exitCode: ExitCode.policy });
    expect(other.error?.message).toMatch(/different call/);

    const ran = await toolctl.run("pay.charge", { amount: 40 }, { approvalId: id });
    expect(ran).toMatchObject({ status: "succeeded", approval: { requestId: id, via: expect.stringContaining(`approval ${id}`) } });
    const again = await toolctl.run("pay.charge", { amount: 40 }, { approvalId: id });
    expect(again).toMatchObject({ status: "declined", exitCode: ExitCode.policy });
    expect(again.error?.message).toMatch(/already used/);
    expect((await toolctl.executions({ status: "succeeded" })).items).toHaveLength(1);
  });

  it("an approval for an action that needs none is still used once", async () => {
    const toolctl = await agentApi();
    const first = await toolctl.run("pay.charge", { amount: 40 }, { wait: true, waitSeconds: 0 });
    const id = first.approval!.requestId!;
    await (await openApi({ home: toolctl.home })).approve(id);
    const wrongAction = await toolctl.run("pay.balance", {}, { approvalId: id });
    expect(wrongAction.error?.message).toMatch(/different call/);
    expect((await toolctl.run("pay.charge", { amount: 40 }, { approvalId: id })).status).toBe("succeeded");
  });

  it("the agent never approves: not its own request, not with yes; it may withdraw its request, and a person approves it", async () => {
    const toolctl = await agentApi();
    const first = await toolctl.run("pay.charge", { amount: 40 }, { wait: true, waitSeconds: 0 });
    const id = first.approval!.requestId!;
    const approving = await rejection(toolctl.approve(id));
    expect(approving.exitCode).toBe(ExitCode.needsHuman);
    expect(approving.message).toBe(
      `approval request ${id} is decided by a person, not an agent (TOOLCTL_ACTOR=agent): toolctl approve ${id} in a person's terminal, or the approval page`,
    );
    expect((await toolctl.approvals()).map((a) => [a.id, a.status])).toEqual([[id, "pending"]]);
    const recorded = (await toolctl.executions()).total;
    for (const call of [() => toolctl.run("pay.charge", { amount: 40 }, { yes: true }), () => toolctl.run("pay.balance", {}, { yes: true })]) {
      const yes = await rejection(call());
      expect(yes.exitCode).toBe(ExitCode.needsHuman);
      expect(yes.message).toBe(
        "run: yes (--yes) approves as a person, and the actor is an agent (TOOLCTL_ACTOR=agent): leave it out; what needs approval then asks a person (with wait, --wait, a request for toolctl approve ID)",
      );
    }
    expect((await toolctl.executions()).total).toBe(recorded);
    // A person's approval, and the agent's own withdrawal of another request, go through.
    await (await openApi({ home: toolctl.home, actor: "user" })).approve(id);
    expect((await toolctl.run("pay.charge", { amount: 40 }, { approvalId: id })).status).toBe("succeeded");
    const second = await toolctl.run("pay.charge", { amount: 41 }, { wait: true, waitSeconds: 0 });
    expect((await toolctl.deny(second.approval!.requestId!)).status).toBe("denied");
  });

  it("an approval left unused past its time expires and runs nothing; the page and the list say it was approved", async () => {
    const dir = writeFiles(manifests);
    const env = { TOOLCTL_APPROVALS_TIMEOUT_SECONDS: "1" };
    const toolctl = await openApi({ actor: "agent", env });
    expect((await toolctl.importManifests([dir])).failed).toEqual([]);
    const first = await toolctl.run("pay.charge", { amount: 40 }, { wait: true, waitSeconds: 0 });
    const id = first.approval!.requestId!;
    await (await openApi({ home: toolctl.home, env })).approve(id);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const late = await toolctl.run("pay.charge", { amount: 40 }, { approvalId: id });
    const [expired] = await toolctl.approvals(true);
    expect(expired).toMatchObject({ id, status: "expired", decidedBy: expect.any(String), executionId: null });
    expect(late).toMatchObject({ status: "declined", exitCode: ExitCode.policy, error: { code: "policy_refused" } });
    expect(late.error?.message).toBe(
      `approval request ${id} was approved but not used before it expired (${expired!.expiresAt}): pay.charge does not run; run it again to file a new request`,
    );
    expect((await toolctl.executions({ status: "succeeded" })).items).toHaveLength(0);
  });

  it("a waiting run whose request another run used (an agent's resume) ends declined, naming the run that used it, and runs nothing", async () => {
    const toolctl = await agentApi();
    let filed = "";
    const waiting = toolctl.run("pay.charge", { amount: 40 }, { wait: true, waitSeconds: 20, onApprovalFiled: (id) => (filed = id) });
    for (let waited = 0; !filed; waited += 20) {
      if (waited > 5000) throw new Error("no request filed");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // Approved and used in one step, between two of the waiting run's looks, as a resume in another session does.
    const db = new Database(path.join(toolctl.home, "registry.db"));
    db.prepare("UPDATE approvals SET status = 'used', execution_id = 'ex_elsewhere', decided_by = 'user' WHERE id = ?").run(filed);
    db.close();
    const started = Date.now();
    const result = await waiting;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(result).toMatchObject({ status: "declined", exitCode: ExitCode.policy });
    expect(result.error?.message).toBe(
      `pay.charge: approval ${filed} was used by another run under it (execution ex_elsewhere), which ran the call; this one runs nothing`,
    );
    expect((await toolctl.executions({ status: "succeeded" })).items).toHaveLength(0);
  });

  it("a denied or unknown request runs nothing", async () => {
    const toolctl = await agentApi();
    const first = await toolctl.run("pay.charge", { amount: 40 }, { wait: true, waitSeconds: 0 });
    const id = first.approval!.requestId!;
    await (await openApi({ home: toolctl.home })).deny(id);
    expect((await toolctl.run("pay.charge", { amount: 40 }, { approvalId: id })).error?.message).toMatch(/is denied/);
    expect((await toolctl.run("pay.charge", { amount: 40 }, { approvalId: "nope" })).error?.message).toMatch(/does not exist/);
    expect((await toolctl.executions({ status: "succeeded" })).items).toHaveLength(0);
  });
});

describe("origin", () => {
  const origin = { via: "mcp" as const, client: { name: "claude-code", version: "2.1.0" }, session: "s-123" };

  it("is recorded on the execution and on each of its audit events, and the row still verifies", async () => {
    const toolctl = await agentApi();
    const result = await toolctl.run("pay.balance", {}, { origin });
    const execution = await toolctl.execution(result.executionId);
    expect(execution).toMatchObject({ actor: "agent", origin });
    const events = (await toolctl.audit()).filter((event) => event.executionId === result.executionId);
    expect(events.map((event) => event.type)).toEqual(["execution.started", "execution.succeeded"]);
    for (const event of events) expect(event.data).toMatchObject({ origin });
    expect(await toolctl.verifyAudit()).toMatchObject({ ok: true });
  });

  it("is on the approval events and on a refused unknown target; runs without one record null", async () => {
    const toolctl = await agentApi();
    await toolctl.run("pay.charge", { amount: 40 }, { wait: true, waitSeconds: 0, origin });
    await rejection(toolctl.run("pay.nope", {}, { origin }));
    const plain = await toolctl.run("pay.balance", {});
    expect(await toolctl.execution(plain.executionId)).toMatchObject({ origin: null });
    const events = await toolctl.audit();
    expect(events.find((event) => event.type === "execution.rejected")?.data).toMatchObject({ origin });
    expect(events.find((event) => event.type === "execution.needs_approval" || event.type === "execution.refused")?.data).toMatchObject({ origin });
  });
});
