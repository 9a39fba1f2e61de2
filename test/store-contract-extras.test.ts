/**
 * The Store port's two-factor, passkey, call-limit, plan-run and secret parts: one contract run against both
 * backends (a home's SQLite registry, and a PostgreSQL database through the team adapter's factories), then what
 * only a shared database shows: two machines (two pools, two homes, two host names) racing for the same code,
 * throttle, passkey counter, trial call and rate slots.
 */
import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import type { Store } from "../src/store/port.js";
import { openSqliteStore } from "../src/store/sqlite/index.js";
import { openPgRegistry, type PgRegistry } from "../src/store/postgres/db.js";
import { pgTwoFactor } from "../src/store/postgres/twofactor.js";
import { pgPasskeys } from "../src/store/postgres/passkeys.js";
import { pgCallLimits } from "../src/store/postgres/call-limits.js";
import { pgPlanRuns } from "../src/store/postgres/plan-runs.js";
import { pgSecrets } from "../src/store/postgres/secrets.js";
import { generateTotpForStep, timeStep } from "../src/policy/totp.js";
import { loadKeyRing, readKeyFile, seal, sealedKeyId, unseal, type KeyRing } from "../src/secrets/crypto.js";
import { isOrphaned } from "../src/plan/orphaned.js";
import { MAX_FAILURES, THROTTLE_WINDOW_MS } from "../src/store/shared/totp.js";
import { havePostgres, newDatabase } from "./pg.js";
import { tempDir } from "./helpers.js";

type Parts = Pick<Store, "twoFactor" | "passkeys" | "callLimits" | "planRuns" | "secrets">;

interface Machine {
  parts: Parts;
  home: string;
  env: NodeJS.ProcessEnv;
  /** The host recorded on plan runs and trial calls: null in a home's own registry. */
  host: string | null;
  /** The audit events of one type, oldest first. */
  events(type: string): Promise<Array<{ status: string | null; tool: string | null; data: Record<string, unknown> }>>;
  /** A statement on the backend's own database, for what the port does not expose (a holder's pid). */
  exec(sql: string, values: unknown[]): Promise<void>;
  close(): Promise<void>;
}

const AUDIT_KEY = randomBytes(32).toString("base64");
const opened: Machine[] = [];
afterEach(async () => {
  for (const machine of opened.splice(0)) await machine.close();
});

const machineEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ TOOLCTL_KEY_STORE: "file", TOOLCTL_AUDIT_KEY: AUDIT_KEY, ...extra });

function openSqlite(): Machine {
  const home = tempDir("toolctl-extras-sqlite-");
  const env = machineEnv();
  const store = openSqliteStore(home, env);
  const machine: Machine = {
    parts: store,
    home,
    env,
    host: null,
    events: async (type) => (await store.audit.query({ type })).sort((a, b) => a.seq - b.seq),
    exec: async (sql, values) => {
      store.registry.db.prepare(sql.replace(/\$\d+/g, "?")).run(...values);
    },
    close: () => store.close(),
  };
  opened.push(machine);
  return machine;
}

/** One machine of a team: its own home and pool, named `host`, on the database at `url`. */
async function openPg(url: string, host: string, extraEnv: Record<string, string> = {}): Promise<Machine> {
  const home = tempDir(`toolctl-extras-${host}-`);
  const env = machineEnv(extraEnv);
  const registry: PgRegistry = Object.assign(await openPgRegistry(url, home, env, { max: 6 }), { host });
  const secrets = pgSecrets(home, env, registry);
  const machine: Machine = {
    parts: {
      twoFactor: pgTwoFactor(registry),
      passkeys: pgPasskeys(registry),
      callLimits: pgCallLimits(registry),
      planRuns: pgPlanRuns(registry),
      secrets,
    },
    home,
    env,
    host,
    events: async (type) =>
      (
        await registry.query<{ status: string | null; tool: string | null; data: string }>(
          "SELECT status, tool, data FROM audit_events WHERE type = $1 ORDER BY seq",
          [type],
        )
      ).map((row) => ({ ...row, data: JSON.parse(row.data) as Record<string, unknown> })),
    exec: async (sql, values) => {
      await registry.run(sql, values);
    },
    close: async () => {
      await secrets.close();
      await registry.close();
    },
  };
  opened.push(machine);
  return machine;
}

const pgAvailable = havePostgres();
const BACKENDS = [
  { name: "sqlite", skip: false, open: async () => openSqlite() },
  { name: "postgres", skip: !pgAvailable, open: async () => openPg(await newDatabase("extras"), "machine-a") },
];

const STEP_MS = 30_000;
/** The middle of a step, so that ±30 s lands exactly one step away. */
const NOW = 1_750_000_000_000 - (1_750_000_000_000 % STEP_MS) + 15_000;
const STEP = timeStep(NOW);
const codeAt = (secret: string, offset: number) => generateTotpForStep(secret, STEP + offset);
const ctx = { actor: "user", purpose: "run" as const, executionId: "ex_test" };
const ringOf = (machine: Machine): KeyRing => loadKeyRing(machine.home, machine.env, { create: true })!;

/** A confirmed enrolment whose last accepted step is STEP - 5, so the whole window around NOW is fresh. */
async function enrol(machine: Machine, ring = ringOf(machine)): Promise<{ secret: string; ring: KeyRing }> {
  const { secret } = await machine.parts.twoFactor.begin(ring, "user");
  expect(await machine.parts.twoFactor.confirm(ring, codeAt(secret, -5), NOW - 5 * STEP_MS, "user")).toEqual({ ok: true, step: STEP - 5 });
  return { secret, ring };
}

/** Codes that are not valid anywhere in the window around NOW. */
const wrongCodes = (secret: string) => {
  const valid = new Set([-1, 0, 1].map((o) => codeAt(secret, o)));
  return ["000000", "111111", "222222", "333333", "444444", "555555", "666666"].filter((c) => !valid.has(c));
};

const PHONE = { id: "cred-phone", name: "phone", publicKey: "pk-phone", counter: 0, transports: ["hybrid"] };
const KEY = { id: "cred-key", name: "yubikey", publicKey: "pk-key", counter: 10, transports: ["usb"] };
const TRIP = { failures: 3, halfOpenAfterSeconds: 0 };

describe.each(BACKENDS)("$name: the contract of two-factor, passkeys, call limits, plan runs and secrets", ({ skip, open }) => {
  describe.skipIf(skip)("two-factor", () => {
    it("enrols in two steps, refuses a second enrolment, and reports its state", async () => {
      const machine = await open();
      const ring = ringOf(machine);
      expect(await machine.parts.twoFactor.isEnrolled()).toBe(false);
      expect(await machine.parts.twoFactor.verify(ring, "123456", NOW, ctx)).toEqual({ ok: false, reason: "not_enrolled" });
      const { secret } = await machine.parts.twoFactor.begin(ring, "user");
      expect(await machine.parts.twoFactor.status(NOW)).toMatchObject({ enrolled: false, pending: true, passkeys: [] });
      // A pending enrolment does not count for checks.
      expect(await machine.parts.twoFactor.verify(ring, codeAt(secret, 0), NOW, ctx)).toEqual({ ok: false, reason: "not_enrolled" });
      expect(await machine.parts.twoFactor.confirm(ring, codeAt(secret, 0), NOW, "user")).toEqual({ ok: true, step: STEP });
      expect(await machine.parts.twoFactor.isEnrolled()).toBe(true);
      expect(await machine.parts.twoFactor.status(NOW)).toMatchObject({
        enrolled: true,
        pending: false,
        since: new Date(NOW).toISOString(),
        failuresInWindow: 0,
        maxFailures: MAX_FAILURES,
        windowMinutes: THROTTLE_WINDOW_MS / 60_000,
        throttledUntil: null,
      });
      await expect(machine.parts.twoFactor.begin(ring, "user")).rejects.toThrow(/already enrolled; disable it first/);
      await expect(machine.parts.twoFactor.confirm(ring, codeAt(secret, 1), NOW, "user")).rejects.toThrow(/already enrolled/);
      expect((await machine.events("2fa.enrollment_started")).map((e) => e.data)).toEqual([{ replacedPending: false }]);
      expect((await machine.events("2fa.enrolled")).map((e) => e.status)).toEqual(["enrolled"]);
    });

    it("accepts a code once, and refuses older steps once a newer one was used", async () => {
      const machine = await open();
      const { secret, ring } = await enrol(machine);
      expect(await machine.parts.twoFactor.verify(ring, codeAt(secret, 0), NOW, ctx)).toEqual({ ok: true, step: STEP });
      expect(await machine.parts.twoFactor.verify(ring, codeAt(secret, 0), NOW + 1_000, ctx)).toEqual({ ok: false, reason: "replayed" });
      expect(await machine.parts.twoFactor.verify(ring, codeAt(secret, -1), NOW, ctx)).toEqual({ ok: false, reason: "replayed" });
      expect(await machine.parts.twoFactor.verify(ring, codeAt(secret, 1), NOW, ctx)).toEqual({ ok: true, step: STEP + 1 });
      const verified = await machine.events("2fa.verified");
      expect(verified.map((e) => e.data)).toEqual([
        { purpose: "enroll", step: STEP - 5 },
        { purpose: "run", step: STEP },
        { purpose: "run", step: STEP + 1 },
      ]);
      expect((await machine.events("2fa.failed")).map((e) => e.data)).toEqual([
        { purpose: "run", reason: "replayed", failuresInWindow: 1 },
        { purpose: "run", reason: "replayed", failuresInWindow: 2 },
      ]);
    });

    it("throttles after 5 refused codes without looking at the code, and says until when", async () => {
      const machine = await open();
      const { secret, ring } = await enrol(machine);
      const wrong = wrongCodes(secret);
      for (let i = 0; i < MAX_FAILURES; i++) {
        const result = await machine.parts.twoFactor.verify(ring, wrong[i]!, NOW + i * 1000, ctx);
        expect(result).toEqual({
          ok: false,
          reason: "invalid",
          ...(i === MAX_FAILURES - 1 ? { retryAfterSeconds: (THROTTLE_WINDOW_MS - i * 1000) / 1000 } : {}),
        });
      }
      expect(await machine.parts.twoFactor.verify(ring, codeAt(secret, 0), NOW + 60_000, ctx)).toEqual({
        ok: false,
        reason: "throttled",
        retryAfterSeconds: (THROTTLE_WINDOW_MS - 60_000) / 1000,
      });
      expect(await machine.parts.twoFactor.status(NOW + 60_000)).toMatchObject({
        failuresInWindow: MAX_FAILURES,
        throttledUntil: new Date(NOW + THROTTLE_WINDOW_MS).toISOString(),
      });
      // Once the oldest failure ages out there is room for one attempt: the right code passes.
      const later = NOW + THROTTLE_WINDOW_MS;
      expect(await machine.parts.twoFactor.verify(ring, generateTotpForStep(secret, timeStep(later)), later, ctx)).toMatchObject({ ok: true });
      expect(await machine.events("2fa.throttled")).toHaveLength(1);
    });

    it("disables with a valid code only", async () => {
      const machine = await open();
      const { secret, ring } = await enrol(machine);
      expect(await machine.parts.twoFactor.disable(ring, wrongCodes(secret)[0]!, NOW, "user")).toMatchObject({ ok: false, reason: "invalid" });
      expect(await machine.parts.twoFactor.isEnrolled()).toBe(true);
      expect(await machine.parts.twoFactor.disable(ring, codeAt(secret, 0), NOW, "user")).toEqual({ ok: true, step: STEP });
      expect(await machine.parts.twoFactor.isEnrolled()).toBe(false);
      expect(await machine.parts.twoFactor.status(NOW)).toMatchObject({ enrolled: false, pending: false, since: null });
      expect((await machine.events("2fa.disabled")).map((e) => e.status)).toEqual(["disabled"]);
    });
  });

  describe.skipIf(skip)("passkeys", () => {
    it("adds, refuses a taken name or credential, lists oldest first, and removes, auditing both", async () => {
      const machine = await open();
      const added = await machine.parts.passkeys.add(PHONE, "user");
      expect(added).toMatchObject({ ok: true, passkey: { ...PHONE, lastUsedAt: null } });
      expect(await machine.parts.passkeys.add({ ...KEY, name: "phone" }, "user")).toEqual({
        ok: false,
        reason: "a passkey named 'phone' is already registered: choose another name",
      });
      expect(await machine.parts.passkeys.add({ ...PHONE, name: "other" }, "user")).toEqual({ ok: false, reason: "this passkey is already registered" });
      await new Promise((resolve) => setTimeout(resolve, 5));
      await machine.parts.passkeys.add(KEY, "user");
      expect((await machine.parts.passkeys.list()).map((p) => p.name)).toEqual(["phone", "yubikey"]);
      expect((await machine.parts.twoFactor.status(NOW)).passkeys.map((p) => p.name)).toEqual(["phone", "yubikey"]);
      expect(await machine.parts.passkeys.remove(PHONE.id, "user", "passkey")).toMatchObject({ id: PHONE.id, name: "phone" });
      expect(await machine.parts.passkeys.remove(PHONE.id, "user", "passkey")).toBeUndefined();
      expect((await machine.events("2fa.passkey_added")).map((e) => e.data)).toEqual([
        { passkey: PHONE.id, name: "phone", transports: ["hybrid"] },
        { passkey: KEY.id, name: "yubikey", transports: ["usb"] },
      ]);
      expect((await machine.events("2fa.passkey_removed")).map((e) => e.data)).toEqual([{ passkey: PHONE.id, name: "phone", via: "passkey" }]);
    });

    it("records a use only when the counter moves forward (or stays 0 for an authenticator that keeps none)", async () => {
      const machine = await open();
      await machine.parts.passkeys.add(PHONE, "user");
      await machine.parts.passkeys.add(KEY, "user");
      expect(await machine.parts.passkeys.recordUse(PHONE.id, 0, NOW)).toMatchObject({
        ok: true,
        passkey: { counter: 0, lastUsedAt: new Date(NOW).toISOString() },
      });
      expect(await machine.parts.passkeys.recordUse(KEY.id, 11, NOW)).toMatchObject({ ok: true, passkey: { counter: 11 } });
      for (const stale of [11, 3, 0]) {
        expect(await machine.parts.passkeys.recordUse(KEY.id, stale, NOW + 1)).toEqual({
          ok: false,
          reason: `the passkey's signature counter did not advance (${stale} after 11): a cloned authenticator or a replayed signature`,
        });
      }
      expect((await machine.parts.passkeys.list()).find((p) => p.id === KEY.id)).toMatchObject({ counter: 11, lastUsedAt: new Date(NOW).toISOString() });
      expect(await machine.parts.passkeys.recordUse("cred-gone", 1, NOW)).toEqual({ ok: false, reason: "the passkey is no longer registered" });
    });
  });

  describe.skipIf(skip)("call limits", () => {
    it("opens after the threshold, lets one trial through, reopens when it fails and closes when it succeeds", async () => {
      const machine = await open();
      const limits = machine.parts.callLimits;
      expect(await limits.admit("t", TRIP, 5_000)).toEqual({ admitted: true });
      // A success with nothing to reset changes nothing.
      await limits.record("t", "user", TRIP, { admitted: true }, "succeeded");
      for (let i = 0; i < TRIP.failures; i++) await limits.record("t", "user", TRIP, { admitted: true }, "failed");
      expect((await machine.events("tool.circuit_opened")).map((e) => ({ tool: e.tool, failures: e.data.failures }))).toEqual([{ tool: "t", failures: 3 }]);

      const trial = await limits.admit("t", TRIP, 5_000);
      expect(trial).toMatchObject({ admitted: true, trial: expect.stringMatching(/^[0-9a-f]{16}$/) });
      const refused = await limits.admit("t", TRIP, 5_000);
      expect(refused).toMatchObject({ admitted: false, trialUntil: expect.any(Number) });
      expect(await limits.circuitRefusal("t", TRIP)).toMatchObject({ trialUntil: expect.any(Number) });
      // A call admitted before the circuit opened does not close it.
      await limits.record("t", "user", TRIP, { admitted: true }, "succeeded");
      expect(await limits.circuitRefusal("t", TRIP)).toBeDefined();
      // Nothing learnt: the trial is handed back.
      await limits.record("t", "user", TRIP, trial, "none");
      const second = await limits.admit("t", TRIP, 5_000);
      expect(second).toMatchObject({ admitted: true, trial: expect.any(String) });
      await limits.record("t", "user", TRIP, second, "failed");
      expect((await machine.events("tool.circuit_opened")).map((e) => e.data)).toEqual([
        { failures: 3, reopensAt: expect.any(String) },
        { failures: 4, trial: "failed", reopensAt: expect.any(String) },
      ]);
      const third = await limits.admit("t", TRIP, 5_000);
      await limits.record("t", "user", TRIP, third, "succeeded");
      expect((await machine.events("tool.circuit_closed")).map((e) => e.data)).toEqual([{ trial: "succeeded", failuresBefore: 4 }]);
      expect(await limits.circuitRefusal("t", TRIP)).toBeUndefined();
      expect(await limits.admit("t", TRIP, 5_000)).toEqual({ admitted: true });
    });

    it("refuses every call during the pause, saying when it ends", async () => {
      const machine = await open();
      const settings = { failures: 1, halfOpenAfterSeconds: 60 };
      const before = Date.now();
      await machine.parts.callLimits.record("p", "user", settings, { admitted: true }, "failed");
      const refusal = await machine.parts.callLimits.admit("p", settings, 5_000);
      expect(refusal).toMatchObject({ admitted: false });
      const reopensAt = (refusal as { reopensAt: number }).reopensAt;
      expect(reopensAt).toBeGreaterThanOrEqual(before + 60_000);
      expect(reopensAt).toBeLessThanOrEqual(Date.now() + 60_000);
      expect(await machine.parts.callLimits.circuitRefusal("p", settings)).toEqual({ reopensAt });
      // Another tool is not affected.
      expect(await machine.parts.callLimits.admit("q", settings, 5_000)).toEqual({ admitted: true });
    });

    it("frees a trial whose holder on this machine is gone", async () => {
      const machine = await open();
      for (let i = 0; i < TRIP.failures; i++) await machine.parts.callLimits.record("d", "user", TRIP, { admitted: true }, "failed");
      expect(await machine.parts.callLimits.admit("d", TRIP, 60_000)).toMatchObject({ admitted: true, trial: expect.any(String) });
      await machine.exec("UPDATE circuits SET trial_pid = $1 WHERE tool = $2", [2 ** 22 + 12_345, "d"]);
      expect(await machine.parts.callLimits.admit("d", TRIP, 60_000)).toMatchObject({ admitted: true, trial: expect.any(String) });
    });

    it("hands out at most perMinute slots in a sliding minute", async () => {
      const machine = await open();
      const limits = machine.parts.callLimits;
      expect(await limits.takeSlot("r", 2, NOW)).toBe(0);
      expect(await limits.takeSlot("r", 2, NOW + 10_000)).toBe(0);
      expect(await limits.takeSlot("r", 2, NOW + 20_000)).toBe(40_001);
      expect(await limits.takeSlot("other", 2, NOW + 20_000)).toBe(0);
      expect(await limits.takeSlot("r", 2, NOW + 60_001)).toBe(0);
      expect(await limits.takeSlot("r", 2, NOW + 60_002)).toBe(10_000 - 1);
    });
  });

  describe.skipIf(skip)("plan runs", () => {
    it("creates a run with its steps, finds it by prefix, updates steps and status, and audits the run", async () => {
      const machine = await open();
      const runs = machine.parts.planRuns;
      await runs.create({ id: "pr_alpha1", planId: "pl_1", name: "launch", plan: { steps: ["a", "b"] }, actor: "user", steps: ["a", "b"] });
      await runs.create({ id: "pr_alpha2", planId: "pl_2", name: "other", plan: {}, actor: "user", steps: [] });
      expect(await runs.ofPlan("pl_1")).toEqual({ id: "pr_alpha1", status: "running" });
      expect(await runs.ofPlan("pl_none")).toBeUndefined();
      await expect(runs.get("pr_alpha")).rejects.toThrow("'pr_alpha' matches several plan runs (pr_alpha1, pr_alpha2); give more of the id");
      await expect(runs.get("pr_zz")).rejects.toThrow("no plan run 'pr_zz'; see: toolctl plan-runs list");
      await expect(runs.get("pr_%")).rejects.toThrow("no plan run 'pr_%'");

      const run = await runs.get("pr_alpha1");
      expect(run).toMatchObject({
        id: "pr_alpha1",
        planId: "pl_1",
        name: "launch",
        status: "running",
        plan: { steps: ["a", "b"] },
        actor: "user",
        pid: process.pid,
        host: machine.host,
        error: null,
      });
      expect(run.steps.map((s) => [s.id, s.position, s.status, s.finishedAt])).toEqual([
        ["a", 0, "pending", null],
        ["b", 1, "pending", null],
      ]);
      await runs.updateStep("pr_alpha1", "a", { status: "running", executionId: "ex_1" });
      await runs.updateStep("pr_alpha1", "a", { status: "succeeded" });
      const finished = (await runs.get("pr_alpha1")).steps[0]!;
      expect(finished).toMatchObject({ status: "succeeded", executionId: "ex_1", finishedAt: expect.any(String) });
      await runs.updateStep("pr_alpha1", "a", { status: "rolled_back", rollbackExecutionId: "ex_2", note: "undone" });
      expect((await runs.get("pr_alpha1")).steps[0]).toMatchObject({
        status: "rolled_back",
        executionId: "ex_1",
        rollbackExecutionId: "ex_2",
        note: "undone",
        finishedAt: finished.finishedAt,
      });
      const error = { code: "input_invalid", exitCode: 2, category: "validation" as const, message: "step b failed", problems: ["input.x: is required"] };
      await runs.setStatus("pr_alpha1", "failed", "user", error);
      expect((await runs.get("pr_alpha1")).error).toEqual(error);
      expect((await runs.list({ limit: 10 })).items.find((r) => r.id === "pr_alpha1")!.error).toEqual(error);
      expect((await runs.list({ limit: 10 })).items.map((r) => r.id).sort()).toEqual(["pr_alpha1", "pr_alpha2"]);
      expect(await runs.list({ limit: 1 })).toMatchObject({ total: 2, items: [expect.anything()] });
      expect((await runs.list({ limit: 10, offset: 1 })).items).toHaveLength(1);
      expect((await machine.events("plan.started")).map((e) => e.data)).toEqual([
        { planRun: "pr_alpha1", plan: "pl_1", name: "launch", steps: ["a", "b"] },
        { planRun: "pr_alpha2", plan: "pl_2", name: "other", steps: [] },
      ]);
      expect((await machine.events("plan.failed")).map((e) => e.data)).toEqual([{ planRun: "pr_alpha1", error: "step b failed" }]);
    });

    it("runs a plan once: a second run of it, or two at once, creates nothing more and names the run there is", async () => {
      const machine = await open();
      const runs = machine.parts.planRuns;
      const run = (id: string, planId: string) => ({ id, planId, name: "once", plan: {}, actor: "user", steps: ["a"] });
      expect(await runs.create(run("pr_once1", "pl_once"))).toBeUndefined();
      expect(await runs.create(run("pr_once2", "pl_once"))).toEqual({ id: "pr_once1", status: "running" });
      await expect(runs.get("pr_once2")).rejects.toThrow("no plan run 'pr_once2'");
      const raced = await Promise.all([run("pr_race1", "pl_race"), run("pr_race2", "pl_race"), run("pr_race3", "pl_race")].map((r) => runs.create(r)));
      expect(raced.filter((r) => r === undefined)).toHaveLength(2 - 1);
      const winner = (await runs.ofPlan("pl_race"))!;
      expect(raced.filter((r) => r !== undefined)).toEqual([winner, winner].map(() => ({ id: winner.id, status: "running" })));
      expect((await machine.events("plan.started")).map((e) => e.data.planRun)).toEqual(["pr_once1", winner.id]);
    });
  });

  describe.skipIf(skip)("secrets", () => {
    it("puts, lists, reads sealed and removes, auditing each change", async () => {
      const machine = await open();
      const ring = ringOf(machine);
      const sealWith = (value: string) => () => ({ sealed: seal(ring, value, "secrets:API_TOKEN"), keyId: ring.current });
      expect(await machine.parts.secrets.put("API_TOKEN", sealWith("one"), "user")).toEqual({ created: true, keyId: ring.current });
      expect(await machine.parts.secrets.put("API_TOKEN", sealWith("two"), "user")).toEqual({ created: false, keyId: ring.current });
      expect(await machine.parts.secrets.list()).toEqual([
        { name: "API_TOKEN", createdAt: expect.any(String), updatedAt: expect.any(String), keyId: ring.current },
      ]);
      expect(unseal(ring, (await machine.parts.secrets.sealed("API_TOKEN"))!, "secrets:API_TOKEN")).toBe("two");
      expect([...(await machine.parts.secrets.allSealed()).keys()]).toEqual(["API_TOKEN"]);
      expect(await machine.parts.secrets.sealed("NOPE")).toBeUndefined();
      expect(await machine.parts.secrets.remove("API_TOKEN", "user")).toBe(true);
      expect(await machine.parts.secrets.remove("API_TOKEN", "user")).toBe(false);
      expect(await machine.parts.secrets.list()).toEqual([]);
      const host = machine.host ? { host: machine.host } : {};
      expect((await machine.events("secret.set")).map((e) => [e.status, e.data])).toEqual([
        ["created", { name: "API_TOKEN", ...host }],
        ["updated", { name: "API_TOKEN", ...host }],
      ]);
      expect((await machine.events("secret.removed")).map((e) => e.data)).toEqual([{ name: "API_TOKEN", ...host }]);
    });

    it("rotates the master key: secrets and the TOTP secret re-sealed, the old key dropped, codes still accepted", async () => {
      const machine = await open();
      const { secret, ring } = await enrol(machine);
      await machine.parts.secrets.put("API_TOKEN", () => ({ sealed: seal(ring, "value", "secrets:API_TOKEN"), keyId: ring.current }), "user");
      const result = await machine.parts.secrets.rotateKey(machine.home, machine.env, { actor: "user" });
      expect(result).toEqual({ keyId: expect.any(String), source: "file", resealed: { secrets: 1, totp: 1 }, droppedKeyIds: [ring.current] });
      expect(Object.keys(readKeyFile(machine.home)!.keys)).toEqual([result.keyId]);
      const fresh = ringOf(machine);
      const sealed = (await machine.parts.secrets.sealed("API_TOKEN"))!;
      expect(sealedKeyId(sealed)).toBe(result.keyId);
      expect(unseal(fresh, sealed, "secrets:API_TOKEN")).toBe("value");
      expect(await machine.parts.twoFactor.verify(fresh, codeAt(secret, 0), NOW, ctx)).toEqual({ ok: true, step: STEP });
      expect((await machine.events("secret.key_rotated")).map((e) => e.data)).toEqual([{ ...result }]);
      // Nothing left to re-seal: a second rotation re-seals both again under the newer key.
      expect((await machine.parts.secrets.rotateKey(machine.home, machine.env, { actor: "user" })).resealed).toEqual({ secrets: 1, totp: 1 });
    });
  });
});

describe.skipIf(!pgAvailable)("postgres: several machines on one database", () => {
  /** Two machines sharing the team's master key (TOOLCTL_MASTER_KEY), as machines that check codes must. */
  async function team(extraEnv: Record<string, string> = { TOOLCTL_MASTER_KEY: randomBytes(32).toString("base64") }) {
    const url = await newDatabase("team");
    return Promise.all([openPg(url, "machine-a", extraEnv), openPg(url, "machine-b", extraEnv)]);
  }

  it("accepts one TOTP code once, whichever machines present it at the same time", async () => {
    const [a, b] = await team();
    const { secret, ring } = await enrol(a);
    const code = codeAt(secret, 0);
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? b : a).parts.twoFactor.verify(ring, code, NOW, ctx)));
    expect(results.filter((r) => r.ok)).toEqual([{ ok: true, step: STEP }]);
    // Every other attempt is a replay, counted as a failure, until the throttle refuses the rest unseen.
    const refusals = results.flatMap((r) => (r.ok ? [] : [r.reason])).sort();
    expect(refusals).toEqual([...Array<string>(MAX_FAILURES).fill("replayed"), ...Array<string>(11 - MAX_FAILURES).fill("throttled")]);
    expect(await a.events("2fa.verified")).toHaveLength(2);
  });

  it("counts wrong codes from every machine against one throttle", async () => {
    const [a, b] = await team();
    const { secret, ring } = await enrol(a);
    const wrong = wrongCodes(secret);
    await Promise.all(wrong.slice(0, MAX_FAILURES).map((code, i) => (i % 2 ? b : a).parts.twoFactor.verify(ring, code, NOW, ctx)));
    expect(await b.parts.twoFactor.status(NOW)).toMatchObject({
      failuresInWindow: MAX_FAILURES,
      throttledUntil: new Date(NOW + THROTTLE_WINDOW_MS).toISOString(),
    });
    expect(await b.parts.twoFactor.verify(ring, codeAt(secret, 0), NOW + 1_000, ctx)).toMatchObject({ ok: false, reason: "throttled" });
    expect(await a.parts.twoFactor.verify(ring, codeAt(secret, 0), NOW + 1_000, ctx)).toMatchObject({ ok: false, reason: "throttled" });
  });

  it("moves a passkey's counter forward once when two machines record the same signature", async () => {
    const [a, b] = await team();
    await a.parts.passkeys.add(KEY, "user");
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? b : a).parts.passkeys.recordUse(KEY.id, 42, NOW)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect((await b.parts.passkeys.list())[0]).toMatchObject({ counter: 42 });
  });

  it("lets one process on one machine take the trial call, and leaves another machine's trial to its lease", async () => {
    const [a, b] = await team();
    await Promise.all(
      Array.from({ length: TRIP.failures }, (_, i) => (i % 2 ? b : a).parts.callLimits.record("api", "user", TRIP, { admitted: true }, "failed")),
    );
    expect(await a.events("tool.circuit_opened")).toHaveLength(1);
    const admissions = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? b : a).parts.callLimits.admit("api", TRIP, 60_000)));
    expect(admissions.filter((x) => x.admitted)).toHaveLength(1);

    // The holder's pid is dead on this machine, but the trial is machine-b's: machine-a cannot see its processes.
    const deadPid = 2 ** 22 + 54_321;
    await a.exec("UPDATE circuits SET trial_pid = $1, trial_host = 'machine-b' WHERE tool = 'api'", [deadPid]);
    expect(await a.parts.callLimits.admit("api", TRIP, 60_000)).toMatchObject({ admitted: false, trialUntil: expect.any(Number) });
    // machine-b sees its own holder is gone and takes the trial over.
    const taken = await b.parts.callLimits.admit("api", TRIP, 60_000);
    expect(taken).toMatchObject({ admitted: true, trial: expect.any(String) });
    // A lease that expired frees the trial whatever machine held it.
    await a.exec("UPDATE circuits SET trial_expires_at = $1 WHERE tool = 'api'", [Date.now() - 1]);
    const expired = await a.parts.callLimits.admit("api", TRIP, 60_000);
    expect(expired).toMatchObject({ admitted: true, trial: expect.any(String) });
    // The old holder's outcome no longer decides; the new holder's does.
    await b.parts.callLimits.record("api", "user", TRIP, taken, "succeeded");
    expect(await b.parts.callLimits.circuitRefusal("api", TRIP)).toMatchObject({ trialUntil: expect.any(Number) });
    await a.parts.callLimits.record("api", "user", TRIP, expired, "succeeded");
    expect(await b.parts.callLimits.circuitRefusal("api", TRIP)).toBeUndefined();
  });

  it("shares one rate limit across machines", async () => {
    const [a, b] = await team();
    const waits = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? b : a).parts.callLimits.takeSlot("api", 5, NOW + i)));
    expect(waits.filter((w) => w === 0)).toHaveLength(5);
    expect(waits.filter((w) => w > 0).every((w) => w <= 60_001)).toBe(true);
  });

  it("records each plan run's host: only that machine may find it orphaned", async () => {
    const [a, b] = await team();
    await b.parts.planRuns.create({ id: "pr_b", planId: "pl_b", name: "b", plan: {}, actor: "user", steps: [] });
    await a.exec("UPDATE plan_runs SET pid = $1, pid_start = NULL WHERE id = 'pr_b'", [2 ** 22 + 777]);
    const run = await a.parts.planRuns.get("pr_b");
    expect(run.host).toBe("machine-b");
    expect(isOrphaned(run, "machine-a")).toBe(false);
    expect(isOrphaned(run, "machine-b")).toBe(true);
    // Resuming on machine-a makes the run machine-a's.
    await a.parts.planRuns.setStatus("pr_b", "running", "user");
    expect(await a.parts.planRuns.get("pr_b")).toMatchObject({ host: "machine-a", pid: process.pid });
  });

  it("a run is claimed by one machine at a time: held by a live process (or by any on another machine), it is refused", async () => {
    const [a, b] = await team();
    await a.parts.planRuns.create({ id: "pr_c", planId: "pl_c", name: "c", plan: {}, actor: "user", steps: [] });
    // Running on machine-a under this live process: neither machine may take it.
    expect(await b.parts.planRuns.claim("pr_c", "user")).toEqual({ ok: false, pid: process.pid, host: "machine-a" });
    expect(await a.parts.planRuns.claim("pr_c", "user")).toEqual({ ok: false, pid: process.pid, host: "machine-a" });
    // Its process gone: machine-a may take it back; machine-b cannot tell, and is refused.
    await a.exec("UPDATE plan_runs SET pid = $1, pid_start = NULL WHERE id = 'pr_c'", [2 ** 22 + 778]);
    expect(await b.parts.planRuns.claim("pr_c", "user")).toMatchObject({ ok: false, host: "machine-a" });
    expect(await a.parts.planRuns.claim("pr_c", "user")).toEqual({ ok: true });
    // Ended, it is anyone's to claim.
    await a.parts.planRuns.setStatus("pr_c", "failed", "user");
    const claims = await Promise.all([a.parts.planRuns.claim("pr_c", "user"), b.parts.planRuns.claim("pr_c", "user")]);
    expect(claims.filter((c) => c.ok)).toHaveLength(1);
  });

  it("keeps each machine's secrets in its own home, and records their changes in the team's log", async () => {
    const [a, b] = await team({});
    const ring = ringOf(a);
    await a.parts.secrets.put("TOKEN", () => ({ sealed: seal(ring, "a-only", "secrets:TOKEN"), keyId: ring.current }), "user");
    expect(await a.parts.secrets.list()).toHaveLength(1);
    expect(await b.parts.secrets.list()).toEqual([]);
    expect(await b.parts.secrets.sealed("TOKEN")).toBeUndefined();
    expect((await b.events("secret.set")).map((e) => e.data)).toEqual([{ name: "TOKEN", host: "machine-a" }]);
  });

  it("re-seals the team's TOTP secret on the machine whose key sealed it, and leaves it to that machine otherwise", async () => {
    const [a, b] = await team({});
    const { secret, ring } = await enrol(a);
    // machine-b holds another master key: its rotation cannot open the team's secret, and does not touch it.
    await b.parts.secrets.put("B", () => ({ sealed: seal(ringOf(b), "b", "secrets:B"), keyId: ringOf(b).current }), "user");
    expect((await b.parts.secrets.rotateKey(b.home, b.env, {})).resealed).toEqual({ secrets: 1, totp: 0 });
    expect(await a.parts.twoFactor.verify(ring, codeAt(secret, 0), NOW, ctx)).toEqual({ ok: true, step: STEP });
    // machine-a's rotation re-seals it and drops the old key; codes still pass.
    const rotated = await a.parts.secrets.rotateKey(a.home, a.env, {});
    expect(rotated).toMatchObject({ resealed: { secrets: 0, totp: 1 }, droppedKeyIds: [ring.current] });
    expect(await a.parts.twoFactor.verify(ringOf(a), codeAt(secret, 1), NOW, ctx)).toEqual({ ok: true, step: STEP + 1 });
    await expect(b.parts.twoFactor.verify(ringOf(b), codeAt(secret, 1), NOW + STEP_MS, ctx)).rejects.toThrow(/not in the key ring/);
  });
});
