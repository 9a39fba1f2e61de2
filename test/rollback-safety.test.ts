/**
 * Rollbacks and the money they concern. Two rollbacks of one execution at once (two terminals, or two machines of a team): exactly one runs the
 * compensation. The other is refused when it records its intent, in the same transaction that reserves spend and
 * uses approvals, so a payment is never refunded twice. Through the library API, with a refund endpoint on
 * loopback that takes a moment to answer, so that both rollbacks are past their first checks before either ends.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeServer, sendJson } from "./fakes/server.js";
import { openApi, writeFiles } from "./helpers.js";

/** What the refund endpoint answers: 200 after a moment, else this status at once. */
let refundStatus = 200;
const bank = new FakeServer((req, res) => {
  const path = new URL(req.url, "http://x").pathname;
  if (path === "/payments") return void sendJson(res, 200, { id: `pay_${bank.requests.length}` });
  if (path.startsWith("/refunds/") && refundStatus !== 200) return void sendJson(res, refundStatus, { error: "refund not processed" });
  if (path.startsWith("/refunds/")) return void setTimeout(() => sendJson(res, 200, { refunded: path.slice("/refunds/".length) }), 600);
  sendJson(res, 404, { error: "not found" });
});
beforeAll(() => bank.start());
afterAll(() => bank.close());

const manifest = () => `apiVersion: toolctl/v1
name: bank
description: Pays and refunds
runtime: http
baseUrl: ${bank.url}
http: { allowPlainHttp: true, allowPrivateNetworks: ["127.0.0.0/8"] }
actions:
  pay:
    description: Pay
    kind: create
    request: { method: POST, path: /payments }
    rollback: { action: refund, input: { id: "{{ output.id }}" } }
  refund:
    description: Refund a payment
    kind: create
    inputSchema: { type: object, required: [id], properties: { id: { type: string } } }
    request: { method: POST, path: "/refunds/{{ input.id }}" }
    rollback: irreversible
`;

describe("two rollbacks of one execution at once", () => {
  it("one refunds; the other is refused before it sends anything, and names the one running", async () => {
    const first = await openApi();
    expect((await first.importManifests([writeFiles({ "bank.yaml": manifest() })])).failed).toEqual([]);
    const second = await openApi({ home: first.home });
    for (let round = 0; round < 3; round++) {
      const paid = await first.run("bank.pay", {}, { yes: true });
      expect(paid.status).toBe("succeeded");
      const refundsBefore = bank.requests.filter((r) => r.url.startsWith("/refunds/")).length;
      const results = await Promise.all([first.rollback(paid.executionId, { yes: true }), second.rollback(paid.executionId, { yes: true })]);
      expect(bank.requests.filter((r) => r.url.startsWith("/refunds/")).length - refundsBefore).toBe(1);
      const done = results.filter((r) => r.status === "succeeded");
      const refused = results.filter((r) => r.status !== "succeeded");
      expect(done).toHaveLength(1);
      expect(refused).toHaveLength(1);
      expect(refused[0]).toMatchObject({ status: "declined", exitCode: 3, error: { code: "policy_refused" } });
      expect(refused[0]!.error?.message).toMatch(
        new RegExp(`^execution ${paid.executionId} is being rolled back by ex_\\w+, started by another process; nothing ran$`),
      );
      expect(await first.execution(paid.executionId)).toMatchObject({ status: "rolled_back" });
      // Once undone, a third rollback is refused as before.
      await expect(second.rollback(paid.executionId, { yes: true })).rejects.toThrow(`execution ${paid.executionId} (bank.pay) was already rolled back by`);
    }
  });
});

describe("a rollback after a compensation that ended unknown", () => {
  it("is refused before it sends anything, naming the compensation; after one that failed, it may be tried again", async () => {
    const toolctl = await openApi();
    expect((await toolctl.importManifests([writeFiles({ "bank.yaml": manifest() })])).failed).toEqual([]);
    const refunds = () => bank.requests.filter((r) => r.url.startsWith("/refunds/")).length;
    try {
      const paid = await toolctl.run("bank.pay", {}, { yes: true });
      // A 5xx after the refund was sent: it may have happened.
      refundStatus = 503;
      const unknown = await toolctl.rollback(paid.executionId, { yes: true });
      expect(unknown).toMatchObject({ status: "unknown", exitCode: 5 });
      refundStatus = 200;
      const before = refunds();
      const again = await toolctl.rollback(paid.executionId, { yes: true });
      expect(again).toMatchObject({ status: "declined", exitCode: 3, error: { code: "policy_refused" } });
      expect(again.error?.message).toBe(
        `execution ${unknown.executionId} (bank.refund), a rollback of ${paid.executionId}, ended unknown: it may have happened, so it is not sent again; check with the provider, and if it did not happen, run bank.refund yourself; nothing ran`,
      );
      expect(refunds()).toBe(before);
      expect(await toolctl.execution(paid.executionId)).toMatchObject({ status: "succeeded" });

      // A refund refused outright (a 4xx) did not happen: a second rollback goes ahead.
      const other = await toolctl.run("bank.pay", {}, { yes: true });
      refundStatus = 409;
      expect(await toolctl.rollback(other.executionId, { yes: true })).toMatchObject({ status: "failed" });
      refundStatus = 200;
      expect(await toolctl.rollback(other.executionId, { yes: true })).toMatchObject({ status: "succeeded" });
      expect(await toolctl.execution(other.executionId)).toMatchObject({ status: "rolled_back" });
    } finally {
      refundStatus = 200;
    }
  });
});

describe("an action undone automatically", () => {
  it("settles its reservation: the day's reserved spend is not held for it, as for a payment rolled back by hand", async () => {
    const toolctl = await openApi();
    const dir = writeFiles({
      "shop.yaml": `apiVersion: toolctl/v1
name: shop
description: Pays (echo), and its output never validates
runtime: echo
actions:
  pay:
    description: Pay
    kind: create
    cost: { fromInput: amount }
    inputSchema: { type: object, properties: { amount: { type: number } } }
    outputSchema: { type: object, required: [receipt] }
    rollback: { action: refund, input: { amount: "{{ input.amount }}" } }
  refund:
    description: Refund
    kind: update
    inputSchema: { type: object, properties: { amount: { type: number } } }
    rollback: irreversible
`,
    });
    expect((await toolctl.importManifests([dir])).failed).toEqual([]);
    const paid = await toolctl.run("shop.pay", { amount: 3 }, { yes: true });
    expect(paid).toMatchObject({ status: "rolled_back", exitCode: 1 });
    const { spend, entries } = await toolctl.budget();
    expect(spend.reservedUsd).toBe(0);
    expect(entries).toEqual([expect.objectContaining({ executionId: paid.executionId, state: "committed", amountUsd: 3, executionStatus: "rolled_back" })]);
  });
});

describe("an action safe to repeat that acted but answered wrongly", () => {
  const dir = () =>
    writeFiles({
      "dns.yaml": `apiVersion: toolctl/v1
name: dns
description: Sets a record (echo), and its output never validates
runtime: echo
actions:
  put:
    description: Set the record
    kind: update
    idempotent: true
    cost: { fixed: 2 }
    inputSchema: { type: object, properties: { value: { type: string } } }
    outputSchema: { type: object, required: [record] }
    rollback: { action: clear, input: { value: "{{ input.value }}" } }
  clear:
    description: Clear the record
    kind: delete
    idempotent: true
    inputSchema: { type: object, properties: { value: { type: string } } }
    rollback: irreversible
  look:
    description: Read the record
    kind: read
    inputSchema: { type: object, properties: { value: { type: string } } }
    outputSchema: { type: object, required: [record] }
`,
    });

  it("is rolled back automatically and its spend is kept, as for any action that acted; a read that answered wrongly fails", async () => {
    const toolctl = await openApi();
    expect((await toolctl.importManifests([dir()])).failed).toEqual([]);
    const put = await toolctl.run("dns.put", { value: "a" }, { yes: true });
    expect(put).toMatchObject({ status: "rolled_back", exitCode: 1, error: { code: "output_invalid" }, rollback: { status: "succeeded" } });
    expect(put.error?.message).toMatch(/; it was rolled back automatically \(dns\.clear, ex_\w+\)$/);
    const { spend, entries } = await toolctl.budget();
    expect(spend).toMatchObject({ reservedUsd: 0, committedUsd: 2 });
    expect(entries).toEqual([expect.objectContaining({ executionId: put.executionId, state: "committed", amountUsd: 2 })]);

    // A read has no side effect: an answer that does not validate is a failure, and there is nothing to undo.
    const look = await toolctl.run("dns.look", { value: "a" }, { yes: true });
    expect(look).toMatchObject({ status: "failed", exitCode: 1, error: { code: "output_invalid" } });
  });

  it("with rollback.auto off, ends unknown (safe to repeat, said so) and can be rolled back by hand", async () => {
    const toolctl = await openApi({ env: { TOOLCTL_ROLLBACK_AUTO: "false" } });
    expect((await toolctl.importManifests([dir()])).failed).toEqual([]);
    const put = await toolctl.run("dns.put", { value: "a" }, { yes: true });
    expect(put).toMatchObject({ status: "unknown", exitCode: 5, error: { code: "output_invalid" } });
    expect(put.error?.message).toMatch(/; the action itself ran \(it is safe to repeat\)$/);
    expect((await toolctl.budget()).spend).toMatchObject({ reservedUsd: 2 });
    const undone = await toolctl.rollback(put.executionId, { yes: true });
    expect(undone).toMatchObject({ status: "succeeded" });
    expect(await toolctl.execution(put.executionId)).toMatchObject({ status: "rolled_back" });
  });
});
