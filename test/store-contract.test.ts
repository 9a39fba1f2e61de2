/**
 * The store's contract, run against both backends: the same inputs give the same observable results from SQLite
 * and from PostgreSQL (tools, executions, approvals, the ledger, the audit log). Then what only a team database
 * has to guarantee: several machines (separate pools, homes and hosts) racing against one daily limit, one
 * approval, one audit chain; a machine holding another audit key; runs of another machine left alone; a database
 * that cannot be reached.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import pg from "pg";
import { describe, expect, it } from "vitest";
import type { ApprovalRequest } from "../src/domain/approval-request.js";
import type { NewExecution } from "../src/domain/records.js";
import { ExitCode, RegistryError, exitCodeFor } from "../src/errors.js";
import { importManifests } from "../src/manifest/import.js";
import { approvalDigest } from "../src/policy/approval.js";
import type { StartedRun } from "../src/store/port.js";
import { openPostgresStore } from "../src/store/postgres/index.js";
import { openPgRegistry } from "../src/store/postgres/db.js";
import { newExecutionId, nowIso } from "../src/util/ids.js";
import { backends, newAuditKey, openMachine, type ContractStore } from "./store-backends.js";
import { havePostgres, newDatabase } from "./pg.js";
import { baseEnv, tempDir, writeFiles } from "./helpers.js";

const shop = `apiVersion: toolctl/v1
name: shop
description: Buys things
runtime: process
tags: [money, shop]
actions:
  buy:
    description: Spend the amount given
    kind: create
    cost: { fromInput: amount }
    inputSchema: { type: object, required: [amount], properties: { amount: { type: number } } }
    command: [node, -e, "process.stdout.write('{}')"]
  refund:
    description: Give the amount back
    kind: delete
    inputSchema: { type: object, properties: { amount: { type: number } } }
    command: [node, -e, "process.stdout.write('{}')"]
`;

const notes = `apiVersion: toolctl/v1
name: notes
description: Keeps notes
runtime: process
tags: [notes]
actions:
  write:
    description: Write a note
    kind: create
    inputSchema: { type: object, properties: { text: { type: string } } }
    command: [node, -e, "process.stdout.write('{}')"]
`;

const manifests = writeFiles({ "shop.yaml": shop, "notes.yaml": notes });

async function importAll(store: ContractStore) {
  const report = await importManifests((input) => store.tools.save(input), { paths: [manifests], actor: "user" });
  expect(report.failed).toEqual([]);
  return report.imported;
}

function requestFor(amount: number): ApprovalRequest {
  return {
    tool: "shop",
    action: "buy",
    description: "Spend the amount given",
    details: { amount },
    target: "process: node",
    cost: { usd: amount, basis: "input.amount" },
    risk: "MEDIUM",
    undo: "none declared",
    needsOtp: false,
  };
}

const DAY = nowIso().slice(0, 10);

/**
 * Runs are listed newest first, then by id; two ids of one millisecond order by their random part. Each run here
 * gets its own millisecond, so the listing is the order the steps created them in, on either backend.
 */
let lastCreated = 0;
function nextCreatedAt(): string {
  lastCreated = Math.max(Date.now(), lastCreated + 1);
  return new Date(lastCreated).toISOString();
}

function intent(digest: string, amount: number, extra: Partial<StartedRun> = {}): StartedRun {
  const execution: NewExecution = {
    id: newExecutionId(),
    tool: "shop",
    action: "buy",
    actor: "ada",
    status: "running",
    input: { amount },
    createdAt: nextCreatedAt(),
    toolDigest: digest,
  };
  return {
    execution,
    update: { costUsd: amount, risk: "MEDIUM" },
    audit: { type: "execution.started", actor: "ada", tool: "shop", action: "buy", executionId: execution.id, status: "running", data: { amount } },
    toolDigest: digest,
    reserve: { amountUsd: amount, day: DAY, dailyLimitUsd: 10 },
    ...extra,
  };
}

const outcome = (id: string, status: string) => ({ type: `execution.${status}`, actor: "ada", tool: "shop", action: "buy", executionId: id, status, data: {} });

/** Times, ids, hashes and signatures differ between two runs of the same steps; the rest must not. */
function normalized(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value)
      .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, "<time>")
      .replace(/\b(ex|ap)_[0-9a-z]+/g, "<$1>")
      .replace(/\b[0-9a-f]{64}\b/g, "<hash>")
      // Compiled validators are numbered by the compiler's own counter.
      .replace(/\b(validate|schema)\d+/g, "$1N")
      .replace(/"keyId":"[^"]*"/g, '"keyId":"<key>"')
      .replace(/"digest":"[^"]*"/g, '"digest":"<digest>"'),
  );
}

const transcripts = new Map<string, unknown[]>();

describe.each(backends)("the store contract on $name", (backend) => {
  const skip = !backend.available();
  const transcript: unknown[] = [];
  transcripts.set(backend.name, transcript);
  const note = <T>(value: T): T => (transcript.push(normalized(value)), value);

  it.skipIf(skip)("a secret's digest is keyed: equal values give equal digests, and it is not the value's plain hash", async () => {
    const { store } = await backend.open();
    const digest = await store.secretDigest("hunter2");
    expect(digest).toMatch(/^hmac-sha256:\w+:[0-9a-f]{64}$/);
    expect(await store.secretDigest("hunter2")).toBe(digest);
    expect(await store.secretDigest("hunter3")).not.toBe(digest);
    expect(digest).not.toContain(createHash("sha256").update("hunter2").digest("hex"));
  });

  it.skipIf(skip)("tools: a preview says what a save would do (added, updated, unchanged, the status, what widened) and writes nothing", async () => {
    const { store } = await backend.open();
    const preview = (paths: string[]) => importManifests((input) => store.tools.preview(input), { paths: [...paths], actor: "user" });
    const empty = await store.tools.fingerprint();
    const first = note(await preview([manifests]));
    expect(first.imported.map((saved) => [saved.tool, saved.change, saved.status])).toEqual([
      ["notes", "added", "active"],
      ["shop", "added", "active"],
    ]);
    expect(await store.tools.names()).toEqual([]);
    expect(await store.audit.query({})).toEqual([]);
    expect(await store.tools.fingerprint()).toBe(empty);

    await importAll(store);
    const imported = await store.tools.fingerprint();
    const events = (await store.audit.query({})).length;
    const stored = await store.tools.manifest("notes");
    // The same files: unchanged. A wider one (the network): updated, and pending until approved, in the preview only.
    expect((await preview([manifests])).imported.map((saved) => saved.change)).toEqual(["unchanged", "unchanged"]);
    const wider = writeFiles({ "notes.yaml": notes.replace("runtime: process\n", "runtime: process\nprocess: { network: true }\n") });
    const widened = note((await preview([wider])).imported.map(({ file: _file, ...saved }) => saved));
    expect(widened).toEqual([{ tool: "notes", change: "updated", status: "pending", actions: { added: [], changed: [], removed: [] }, widened: ["network"] }]);
    expect(await store.tools.get("notes")).toMatchObject({ status: "active" });
    expect(await store.tools.manifest("notes")).toEqual(stored);
    expect((await store.audit.query({})).length).toBe(events);
    expect(await store.tools.fingerprint()).toBe(imported);
  });

  it.skipIf(skip)("tools: import, read back, change status and grants; the fingerprint moves with every change and only then", async () => {
    const { store } = await backend.open();
    const first = await store.tools.fingerprint();
    note(await importAll(store));
    const imported = await store.tools.fingerprint();
    expect(imported).not.toBe(first);
    expect(await store.tools.fingerprint()).toBe(imported);
    expect(note(await store.tools.names())).toEqual(["notes", "shop"]);
    expect((await store.tools.list({ tag: "money" })).map((tool) => tool.name)).toEqual(["shop"]);
    expect((await store.tools.list({ search: "KEEPS" })).map((tool) => tool.name)).toEqual(["notes"]);
    note(await store.tools.list());
    expect(note(await store.tools.rows())).toEqual([
      ["notes", "process", "active", 1, "Keeps notes"],
      ["shop", "process", "active", 2, "Buys things"],
    ]);
    const tool = note(await store.tools.get("shop"))!;
    expect(tool).toMatchObject({ name: "shop", status: "active", tags: ["money", "shop"], actionCount: 2 });
    expect(await store.tools.get("nope")).toBeUndefined();
    expect(note(await store.tools.actionNames("shop"))).toEqual(["buy", "refund"]);
    expect(note(await store.tools.action("shop", "buy"))).toMatchObject({ tool: "shop", name: "buy", kind: "create" });
    expect(await store.tools.action("shop", "buy", false)).toMatchObject({ inputValidator: null, outputValidator: null });
    note(await store.tools.actions("shop"));
    expect(note(await store.tools.catalog({ tag: "notes" })).map((row) => `${row.tool}.${row.action}`)).toEqual(["notes.write"]);
    expect((await store.tools.catalog({ tools: ["shop"] })).map((row) => row.action)).toEqual(["buy", "refund"]);
    expect(note(await store.tools.manifest("shop"))).toMatchObject({ name: "shop", actions: { buy: { kind: "create" }, refund: { kind: "delete" } } });
    note(await store.tools.images());

    // Saving the same files again changes nothing, the fingerprint included.
    expect((await importAll(store)).map((saved) => saved.change)).toEqual(["unchanged", "unchanged"]);
    expect(await store.tools.fingerprint()).toBe(imported);

    const changes: string[] = [imported];
    const moved = async () => {
      const value = await store.tools.fingerprint();
      expect(changes).not.toContain(value);
      changes.push(value);
    };
    expect(note(await store.tools.setStatus("notes", "disabled", "ada"))).toEqual({ previous: "active", changed: true });
    await moved();
    expect(await store.tools.setStatus("notes", "disabled", "ada")).toEqual({ previous: "disabled", changed: false });
    expect(await store.tools.fingerprint()).toBe(changes.at(-1));
    expect((await store.tools.catalog()).map((row) => row.tool)).toEqual(["shop", "shop"]);
    note(await store.tools.revoke("shop", "ada", { reason: "test" }));
    await moved();
    note(await store.tools.approve("shop", tool.digest, "ada"));
    await moved();
    await expect(store.tools.approve("shop", "another digest", "ada")).rejects.toThrow(/re-imported while you were deciding/);
    await store.tools.remove("notes", "ada", { by: "test" });
    await moved();
    expect(await store.tools.names()).toEqual(["shop"]);
    note((await store.audit.query({})).map((event) => [event.type, event.tool, event.status]));
  });

  it.skipIf(skip)("executions: a cut-off attempt superseded by one that succeeded releases its reservation, audited", async () => {
    const { store } = await backend.open();
    await importAll(store);
    const { digest } = (await store.tools.get("shop"))!;
    const cut = intent(digest, 2);
    expect(await store.executions.started(cut)).toEqual({ ok: true });
    await store.executions.finished(cut.execution.id, "unknown", { error: "cut off" }, outcome(cut.execution.id, "unknown"));
    expect(await store.ledger.day(DAY)).toEqual({ day: DAY, committedUsd: 0, reservedUsd: 2 });
    await store.executions.superseded(cut.execution.id, { ...outcome(cut.execution.id, "superseded"), status: "unknown", data: { by: "ex_next" } });
    expect(note(await store.ledger.day(DAY))).toEqual({ day: DAY, committedUsd: 0, reservedUsd: 0 });
    expect((await store.audit.query({ type: "execution.superseded" })).map((e) => [e.executionId, e.data])).toEqual([[cut.execution.id, { by: "ex_next" }]]);
  });

  it.skipIf(skip)("executions: one compensation of an execution at a time, and none once it is rolled back", async () => {
    const { store } = await backend.open();
    await importAll(store);
    const { digest } = (await store.tools.get("shop"))!;
    // An outcome that is unknown keeps its reservation until it is known: rolled back, it acted, and is spent.
    const original = intent(digest, 1);
    expect(await store.executions.started(original)).toEqual({ ok: true });
    await store.executions.finished(original.execution.id, "unknown", { error: "lost" }, outcome(original.execution.id, "unknown"));
    const undo = () => {
      const run = intent(digest, 0, { reserve: undefined });
      return { ...run, execution: { ...run.execution, action: "refund", rollbackOf: original.execution.id } };
    };
    const first = undo();
    expect(await store.executions.started(first)).toEqual({ ok: true });
    const second = note(await store.executions.started(undo()));
    expect(second).toMatchObject({ ok: false, reason: "rollback_taken", message: expect.stringContaining(`is being rolled back by ${first.execution.id}`) });
    // A compensation that failed leaves the way open; one that succeeded closes it.
    await store.executions.finished(first.execution.id, "failed", { error: "declined by the bank" }, outcome(first.execution.id, "failed"));
    const retry = undo();
    expect(await store.executions.started(retry)).toEqual({ ok: true });
    await store.executions.finished(retry.execution.id, "succeeded", { output: {} }, outcome(retry.execution.id, "succeeded"));
    expect(note(await store.executions.started(undo()))).toMatchObject({ ok: false, reason: "rollback_taken" });
    expect(await store.ledger.day(DAY)).toEqual({ day: DAY, committedUsd: 0, reservedUsd: 1 });
    await store.executions.rolledBack(original.execution.id, outcome(original.execution.id, "rolled_back"));
    expect(await store.ledger.day(DAY)).toEqual({ day: DAY, committedUsd: 1, reservedUsd: 0 });
    expect(await store.executions.started(undo())).toMatchObject({
      ok: false,
      reason: "rollback_taken",
      message: expect.stringContaining("was already rolled back"),
    });
    expect((await store.executions.list({ limit: 10, offset: 0 } as never)).items.map((e) => e.status).sort()).toEqual(["failed", "rolled_back", "succeeded"]);
  });

  it.skipIf(skip)("executions: the intent re-reads the tool, uses the approval once and reserves against the daily limit", async () => {
    const { store } = await backend.open();
    await importAll(store);
    const { digest } = (await store.tools.get("shop"))!;

    const a = intent(digest, 4);
    const b = intent(digest, 4);
    expect(note(await store.executions.started(a))).toEqual({ ok: true });
    expect(await store.executions.started(b)).toEqual({ ok: true });
    // $8 reserved of $10: $4 more would overspend.
    const over = note(await store.executions.started(intent(digest, 4)));
    expect(over).toEqual({ ok: false, reason: "over_daily_limit", spend: { day: DAY, committedUsd: 0, reservedUsd: 8 } });
    expect(note(await store.executions.started(intent("not the digest", 1)))).toMatchObject({ ok: false, reason: "tool_changed" });

    await store.executions.finished(a.execution.id, "succeeded", { output: { ok: true }, durationMs: 12 }, outcome(a.execution.id, "succeeded"));
    await store.executions.finished(b.execution.id, "failed", { error: "it broke", errorCategory: "other" }, outcome(b.execution.id, "failed"));
    expect(note(await store.ledger.day(DAY))).toEqual({ day: DAY, committedUsd: 4, reservedUsd: 0 });

    // An unknown outcome keeps its reservation: the money may have been spent.
    const c = intent(digest, 2.5);
    expect(await store.executions.started(c)).toEqual({ ok: true });
    await store.executions.finished(c.execution.id, "unknown", { error: "lost" }, outcome(c.execution.id, "unknown"));
    expect(await store.ledger.day(DAY)).toEqual({ day: DAY, committedUsd: 4, reservedUsd: 2.5 });
    const entries = note(await store.ledger.entries(DAY));
    expect(entries.map((entry) => [entry.executionId, entry.state, entry.amountUsd, entry.executionStatus])).toEqual([
      [a.execution.id, "committed", 4, "succeeded"],
      [c.execution.id, "reserved", 2.5, "unknown"],
    ]);

    // An approval decided elsewhere is used by one run only, and a refusal rolls its use back.
    const request = requestFor(3);
    const filed = note(await store.approvals.file({ request, digest: approvalDigest(request), requestedBy: "ada", timeoutSeconds: 60 }));
    expect(note(await store.approvals.list())).toHaveLength(1);
    expect((await store.approvals.decide(filed.id, "approved", "bob", "another terminal", filed.digest)).ok).toBe(true);
    const tooMuch = intent(digest, 5, { approval: { id: filed.id, digest: filed.digest } });
    expect(await store.executions.started(tooMuch)).toMatchObject({ ok: false, reason: "over_daily_limit" });
    expect((await store.approvals.get(filed.id))!.status).toBe("approved");
    const approved = intent(digest, 3, { approval: { id: filed.id, digest: filed.digest } });
    expect(await store.executions.started(approved)).toEqual({ ok: true });
    const again = note(await store.executions.started(intent(digest, 0.5, { approval: { id: filed.id, digest: filed.digest } })));
    expect(again).toEqual({ ok: false, reason: "approval_unusable", message: `approval request ${filed.id} is used, not approved` });
    expect(note(await store.approvals.get(filed.id))).toMatchObject({ status: "used", executionId: approved.execution.id });
    await store.executions.finished(approved.execution.id, "succeeded", {}, outcome(approved.execution.id, "succeeded"));

    // An attempt that ended before anything ran, and a rollback with its compensation.
    const dry: NewExecution = { ...intent(digest, 0).execution, status: "dry_run" };
    await store.executions.ended({ execution: dry, update: { request: { would: "buy" } }, audit: outcome(dry.id, "dry_run") });
    const undo = intent(digest, 0, { reserve: undefined });
    undo.execution.action = "refund";
    undo.execution.rollbackOf = a.execution.id;
    expect(await store.executions.started(undo)).toEqual({ ok: true });
    await store.executions.finished(undo.execution.id, "succeeded", {}, outcome(undo.execution.id, "succeeded"));
    await store.executions.rolledBack(a.execution.id, outcome(a.execution.id, "rolled_back"));
    expect(await store.executions.compensatedBy(a.execution.id)).toBe(undo.execution.id);
    expect(await store.executions.compensatedBy(b.execution.id)).toBeUndefined();

    const found = note(await store.executions.find(a.execution.id));
    expect(found).toMatchObject({ id: a.execution.id, status: "rolled_back", costUsd: 4, output: { ok: true }, durationMs: 12, input: { amount: 4 } });
    expect(await store.executions.find(a.execution.id.slice(0, -3))).toMatchObject({ id: a.execution.id });
    const ambiguous = await store.executions.find("ex_");
    expect(Array.isArray(ambiguous) && ambiguous.length).toBe(5);
    expect(await store.executions.find("ex_nothing_like_it")).toBeUndefined();
    expect(await store.executions.find("ex%")).toBeUndefined();

    const page = note(await store.executions.list({ limit: 3, offset: 1 }));
    expect(page.total).toBe(6);
    expect(page.items.map((item) => item.id)).toEqual([dry.id, approved.execution.id, c.execution.id]);
    expect(await store.executions.count({ status: "succeeded" })).toBe(2);
    expect(await store.executions.count({ tool: "shop", since: `${DAY}T00:00:00.000Z` })).toBe(6);
    expect(await store.executions.count({ until: "2000-01-01T00:00:00.000Z" })).toBe(0);
    const byStatus = note(await store.executions.stats({ period: "day", by: "status" }));
    expect(byStatus.totals).toMatchObject({ count: 6, succeeded: 2, failed: 1, unknown: 1, dryRuns: 1, spendUsd: 5.5 });
    note(await store.executions.stats({ period: "week", by: "action", since: `${DAY}T00:00:00.000Z` }));
    note(await store.executions.stats({ period: "hour", by: "tool" }));
    note(await store.executions.stats({ period: "month", by: "tool", since: new Date(Date.now() - 3_600_000).toISOString(), until: nowIso() }));

    // Runs of this process are alive: nothing to settle.
    expect(await store.executions.settleAbandoned("ada")).toEqual([]);
  });

  it.skipIf(skip)("approvals: filed, decided once, denied ones stay denied, unknown ids are refused", async () => {
    const { store } = await backend.open();
    const request = requestFor(2);
    const filed = await store.approvals.file({ request, digest: approvalDigest(request), requestedBy: "ada", timeoutSeconds: 60 });
    expect(note(filed)).toMatchObject({ status: "pending", tool: "shop", costUsd: 2, request, problem: null, input: { amount: 2 } });
    const changed = await store.approvals.decide(filed.id, "approved", "bob", "another terminal", "another digest");
    expect(note(changed)).toEqual({
      ok: false,
      reason: `approval request ${filed.id} changed while it was being decided: look at it again (toolctl approve ${filed.id})`,
    });
    expect(note(await store.approvals.decide(filed.id, "denied", "bob", "another terminal"))).toMatchObject({ ok: true, approval: { status: "denied" } });
    expect(await store.approvals.decide(filed.id, "approved", "bob", "another terminal", filed.digest)).toEqual({
      ok: false,
      reason: `approval request ${filed.id} is already denied`,
    });
    expect(await store.approvals.decide("ap_none", "approved", "bob", "x", filed.digest)).toEqual({
      ok: false,
      reason: "no approval request 'ap_none'; see: toolctl approvals",
    });
    const expired = await store.approvals.file({ request, digest: approvalDigest(request), requestedBy: "ada", timeoutSeconds: 0 });
    expect((await store.approvals.get(expired.id))!.status).toBe("expired");
    expect(await store.approvals.list()).toEqual([]);
    expect(note((await store.approvals.list(true)).map((approval) => approval.status))).toEqual(["denied", "expired"]);
  });

  it.skipIf(skip)("approvals: an approval is usable for the request's own time, counted from the decision, and then expires", async () => {
    const { store } = await backend.open();
    await importAll(store);
    const { digest } = (await store.tools.get("shop"))!;
    const request = requestFor(1);
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    // Filed for 0.6 s and approved near its end: still usable after the request's own time has passed.
    const late = await store.approvals.file({ request, digest: approvalDigest(request), requestedBy: "ada", timeoutSeconds: 0.6 });
    await pause(400);
    const decided = note(await store.approvals.decide(late.id, "approved", "bob", "another terminal", late.digest));
    expect(decided).toMatchObject({ ok: true, approval: { status: "approved" } });
    const { decidedAt, expiresAt } = (decided as { approval: { decidedAt: string; expiresAt: string } }).approval;
    expect(Date.parse(expiresAt) - Date.parse(decidedAt)).toBe(600);
    expect(note(await store.approvals.get(late.id))).toMatchObject({ status: "approved", expiresAt });
    await pause(300);
    expect(Date.now()).toBeGreaterThan(Date.parse(late.expiresAt));
    expect(await store.executions.started(intent(digest, 1, { approval: { id: late.id, digest: late.digest } }))).toEqual({ ok: true });
    expect(note(await store.approvals.get(late.id))).toMatchObject({ status: "used" });

    // Approved at once and left unused past its time: expired, and refused to the run that comes too late.
    const unused = await store.approvals.file({ request, digest: approvalDigest(request), requestedBy: "ada", timeoutSeconds: 0.3 });
    expect((await store.approvals.decide(unused.id, "approved", "bob", "another terminal", unused.digest)).ok).toBe(true);
    await pause(400);
    const gone = note(await store.approvals.get(unused.id))!;
    expect(gone).toMatchObject({ status: "expired", decidedBy: "bob" });
    expect(await store.executions.started(intent(digest, 1, { approval: { id: unused.id, digest: unused.digest } }))).toEqual({
      ok: false,
      reason: "approval_unusable",
      message: `approval request ${unused.id} was approved but not used before it expired (${gone.expiresAt}): a new approval is needed`,
    });
    expect(note(await store.approvals.get(unused.id))).toMatchObject({ status: "expired", executionId: null });
    // The decision's audit event says until when it could be used.
    const events = note(await store.audit.query({ type: "approval.approved" }));
    expect(JSON.stringify(events)).toContain(`"usableUntil":"${gone.expiresAt}"`);
  });

  it.skipIf(skip)("audit: appended, queried, streamed and verified", async () => {
    const { store } = await backend.open();
    await importAll(store);
    for (let i = 0; i < 30; i++) await store.audit.append({ type: "test.event", actor: i % 2 ? "ada" : "bob", tool: "shop", data: { i } });
    const appended = await store.audit.append({ type: "test.last", actor: "ada", data: {} });
    expect(appended.seq).toBe(33);
    expect(note((await store.audit.query({ actor: "ada", limit: 3 })).map((event) => [event.seq, event.type, event.data]))).toEqual([
      [30, "test.event", { i: 27 }],
      [32, "test.event", { i: 29 }],
      [33, "test.last", {}],
    ]);
    expect((await store.audit.query({ type: "tool.added" })).map((event) => event.tool)).toEqual(["notes", "shop"]);
    expect(note(await store.audit.query({ since: "2000-01-01T00:00:00.000Z", limit: 2 })).map((event) => event.seq)).toEqual([32, 33]);
    const all: number[] = [];
    let previous = "0".repeat(64);
    for await (const event of store.audit.all()) {
      expect(event.prevHash).toBe(previous);
      previous = event.hash;
      all.push(event.seq);
    }
    expect(all).toEqual(Array.from({ length: 33 }, (_, i) => i + 1));
    const verification = await store.audit.verify();
    expect(verification).toMatchObject({ ok: true, events: 33, head: { seq: 33, hash: appended.hash }, problems: [] });
    note({ ...verification, notes: undefined });
  });
});

describe("both backends", () => {
  it.skipIf(!backends.every((backend) => backend.available()))("give the same results for the same steps", () => {
    const [sqlite, postgres] = [transcripts.get("sqlite")!, transcripts.get("postgres")!];
    expect(postgres.length).toBeGreaterThan(20);
    expect(postgres).toEqual(sqlite);
  });
});

describe.skipIf(!havePostgres())("a team database shared by several machines", () => {
  const deadPid = () => spawnSync(process.execPath, ["-e", ""]).pid!;

  async function team(machines: number, hosts?: string[]) {
    const url = await newDatabase("team");
    const key = newAuditKey();
    const opened = [];
    for (let i = 0; i < machines; i++) opened.push(await openMachine(url, key, { host: hosts?.[i], max: 3 }));
    const stores = opened.map((machine) => machine.store);
    await importAll(stores[0]!);
    return { url, key, stores, digest: (await stores[0]!.tools.get("shop"))!.digest };
  }

  it("runs started from four machines at once never spend past the daily limit", async () => {
    const { stores, digest } = await team(4);
    const runs = stores.flatMap((store) => Array.from({ length: 12 }, () => ({ store, run: intent(digest, 0.75) })));
    const results = await Promise.all(runs.map(({ store, run }) => store.executions.started(run)));
    const started = results.filter((result) => result.ok).length;
    // $10 / $0.75: 13 fit, the 14th would take the day to $10.50.
    expect(started).toBe(13);
    expect(results.filter((result) => !result.ok).every((result) => !result.ok && result.reason === "over_daily_limit")).toBe(true);
    expect(await stores[3]!.ledger.day(DAY)).toEqual({ day: DAY, committedUsd: 0, reservedUsd: 9.75 });
    const rows = await stores[0]!.registry.one<{ n: number; total: number }>("SELECT count(*) AS n, sum(amount_usd) AS total FROM ledger");
    expect(rows).toEqual({ n: 13, total: 9.75 });
    expect(await stores[1]!.executions.count({ status: "running" })).toBe(13);
    expect(await stores[2]!.audit.verify()).toMatchObject({ ok: true, executions: 13 });
  });

  it("an approval is used once, whichever machine gets there first", async () => {
    const { stores, digest } = await team(4);
    const request = requestFor(1);
    const filed = await stores[0]!.approvals.file({ request, digest: approvalDigest(request), requestedBy: "ada", timeoutSeconds: 60 });
    expect((await stores[1]!.approvals.decide(filed.id, "approved", "bob", "another terminal", filed.digest)).ok).toBe(true);
    const runs = stores.flatMap((store) => [0, 1, 2].map(() => ({ store, run: intent(digest, 1, { approval: { id: filed.id, digest: filed.digest } }) })));
    const results = await Promise.all(runs.map(({ store, run }) => store.executions.started(run)));
    expect(results.filter((result) => result.ok)).toHaveLength(1);
    expect(results.filter((result) => !result.ok && result.reason === "approval_unusable")).toHaveLength(11);
    const winner = runs[results.findIndex((result) => result.ok)]!.run.execution.id;
    expect(await stores[3]!.approvals.get(filed.id)).toMatchObject({ status: "used", executionId: winner });
    expect(await stores[2]!.ledger.day(DAY)).toEqual({ day: DAY, committedUsd: 0, reservedUsd: 1 });
  });

  it("the audit chain stays one chain under concurrent appends from two machines, and verifies from either", async () => {
    const { stores } = await team(2);
    await Promise.all(
      stores.flatMap((store, machine) =>
        Array.from({ length: 40 }, (_, i) => store.audit.append({ type: "test.append", actor: `machine${machine}`, data: { i } })),
      ),
    );
    const events = [];
    for await (const event of stores[1]!.audit.all()) events.push(event);
    expect(events.map((event) => event.seq)).toEqual(Array.from({ length: 82 }, (_, i) => i + 1));
    for (const store of stores) expect(await store.audit.verify()).toMatchObject({ ok: true, events: 82, problems: [] });
  });

  it("verification reads one snapshot: appends from another machine during it do not make the log look cut", async () => {
    const { stores } = await team(2);
    for (let i = 0; i < 1200; i++) await stores[0]!.audit.append({ type: "test.bulk", actor: "ada", data: { i } });
    let appending = true;
    const writer = (async () => {
      while (appending) await stores[1]!.audit.append({ type: "test.during", actor: "bob", data: {} });
    })();
    const verification = await stores[0]!.audit.verify();
    appending = false;
    await writer;
    expect(verification.problems).toEqual([]);
    expect(verification.events).toBeGreaterThanOrEqual(1202);
  });

  it("a machine holding another audit key is refused before it writes, and its verification names the key", async () => {
    const { url, stores } = await team(1);
    const intruder = (await openMachine(url, newAuditKey())).store;
    const refused = await intruder.audit.append({ type: "test.forged", actor: "eve", data: {} }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RegistryError);
    expect(exitCodeFor(refused)).toBe(ExitCode.environment);
    expect((refused as Error).message).toMatch(/audit key '.*' \(TOOLCTL_AUDIT_KEY\) is not the team's '.*' that signs/);
    const verification = await intruder.audit.verify();
    expect(verification.ok).toBe(false);
    expect(verification.problems[0]).toMatch(
      /^every event \(\d+\) is signed with audit key '.*', not with this home's key .*: verify with the key the log was signed with$/,
    );
    expect(await stores[0]!.audit.verify()).toMatchObject({ ok: true, events: 2 });
  });

  it("an outcome whose intent the database lost is refused, never recorded as if the run were on record", async () => {
    const { stores, digest } = await team(1);
    const store = stores[0]!;
    const run = intent(digest, 1);
    expect(await store.executions.started(run)).toEqual({ ok: true });
    await store.registry.run("DELETE FROM ledger WHERE execution_id = $1", [run.execution.id]);
    await store.registry.run("DELETE FROM executions WHERE id = $1", [run.execution.id]);
    const events = (await store.audit.verify()).events;
    const refused = await store.executions.finished(run.execution.id, "succeeded", {}, outcome(run.execution.id, "succeeded")).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RegistryError);
    expect((refused as Error).message).toMatch(/is not on record .* its intent was lost/);
    expect((await store.audit.verify()).events).toBe(events);
  });

  it("settling abandoned runs touches only this machine's runs", async () => {
    const { stores, digest } = await team(2, ["machine-a", "machine-b"]);
    const [a, b] = stores as [(typeof stores)[0], (typeof stores)[0]];
    const ofA = intent(digest, 1);
    const ofB = intent(digest, 1);
    expect(await a.executions.started(ofA)).toEqual({ ok: true });
    expect(await b.executions.started(ofB)).toEqual({ ok: true });
    // Both processes died mid-run.
    await a.registry.run("UPDATE executions SET pid = $1", [deadPid()]);
    expect(await a.executions.settleAbandoned("ada")).toEqual([ofA.execution.id]);
    expect(await a.executions.settleAbandoned("ada")).toEqual([]);
    expect(await a.executions.find(ofB.execution.id)).toMatchObject({ status: "running" });
    expect(await b.executions.settleAbandoned("bob")).toEqual([ofB.execution.id]);
    expect(await a.executions.find(ofA.execution.id)).toMatchObject({
      status: "unknown",
      error: { code: "unknown_outcome", exitCode: 5, message: expect.stringMatching(/is gone/) },
    });
    // Unknown outcomes keep their reservations.
    expect(await a.ledger.day(DAY)).toEqual({ day: DAY, committedUsd: 0, reservedUsd: 2 });
    const hosts = await a.registry.query<{ host: string }>("SELECT host FROM executions ORDER BY host");
    expect(hosts.map((row) => row.host)).toEqual(["machine-a", "machine-b"]);
  });

  it("a secret's digest is keyed with the team's audit key: the same on every machine, and no plain hash of the value", async () => {
    const { stores } = await team(2);
    const [a, b] = [await stores[0]!.secretDigest("hunter2"), await stores[1]!.secretDigest("hunter2")];
    expect(a).toMatch(/^hmac-sha256:\w+:[0-9a-f]{64}$/);
    expect(b).toBe(a);
    expect(await stores[1]!.secretDigest("hunter3")).not.toBe(a);
    expect(a).not.toContain(createHash("sha256").update("hunter2").digest("hex"));
  });

  it("a tool changed on one machine moves the fingerprint another machine polls", async () => {
    const { stores } = await team(2);
    const before = await stores[1]!.tools.fingerprint();
    await stores[0]!.tools.setStatus("shop", "disabled", "ada");
    expect(await stores[1]!.tools.fingerprint()).not.toBe(before);
  });

  it("each machine exports the head of each team database to its own file", async () => {
    const { stores } = await team(1);
    const machine = stores[0]!;
    await machine.audit.append({ type: "test.event", actor: "ada", data: {} });
    const { readdirSync } = await import("node:fs");
    const heads = readdirSync(machine.registry.home).filter((name) => name.endsWith(".head"));
    expect(heads).toEqual([expect.stringMatching(/^audit-[0-9a-f]{12}\.head$/)]);
  });

  it("a connection the server drops while a write holds it fails that attempt only: no crash, and the write is run again", async () => {
    const url = await newDatabase("dropped");
    const home = tempDir("toolctl-machine-");
    const registry = await openPgRegistry(url, home, baseEnv({ TOOLCTL_HOME: home, TOOLCTL_AUDIT_KEY: newAuditKey() }));
    try {
      let entered!: (pid: number) => void;
      const inside = new Promise<number>((resolve) => (entered = resolve));
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let attempts = 0;
      const write = registry.write(async (tx) => {
        attempts++;
        entered((await tx.one<{ pid: number }>("SELECT pg_backend_pid() AS pid"))!.pid);
        await held;
        return (await tx.one<{ one: number }>("SELECT 1 AS one"))!.one;
      });
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query("SELECT pg_terminate_backend($1)", [await inside]);
      await admin.end();
      // The checked-out client hears of it now: with nobody listening, its 'error' event ended the process.
      await new Promise((resolve) => setTimeout(resolve, 300));
      release();
      expect(await write).toBe(1);
      expect(attempts).toBe(2);
    } finally {
      await registry.close();
    }
  });

  it("a database that cannot be reached is a registry error (exit 6), and nothing runs", async () => {
    const home = tempDir("toolctl-machine-");
    const error = await openPostgresStore("postgres://toolctl:secret@127.0.0.1:1/none", home, baseEnv({ TOOLCTL_HOME: home })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect(exitCodeFor(error)).toBe(ExitCode.environment);
    expect((error as Error).message).toMatch(/^database postgres:\/\/toolctl@127\.0\.0\.1:1\/none is unreachable/);
    expect((error as Error).message).not.toContain("secret");
  });
});
