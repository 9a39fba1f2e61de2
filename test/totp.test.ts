/**
 * TOTP: the RFC 6238 Appendix B vectors, the ±1 step window, the replay guard and the throttle, first with an
 * injected clock against a real SQLite registry, then with 8 toolctl processes guessing at once.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { generateTotp, generateTotpForStep, otpauthUri, timeStep, verifyTotp, type TotpAlgorithm } from "../src/policy/totp.js";
import { queryAudit } from "../src/store/sqlite/audit.js";
import { openRegistry, type Registry } from "../src/store/sqlite/db.js";
import { beginEnrollment, confirmEnrollment, disable, MAX_FAILURES, THROTTLE_WINDOW_MS, twoFactorStatus, verifyCode } from "../src/store/sqlite/twofactor.js";
import { loadKeyRing, type KeyRing } from "../src/secrets/crypto.js";
import { runJson, tempDir } from "./helpers.js";

const ascii = (text: string, bytes: number) => new TextEncoder().encode(text.repeat(4).slice(0, bytes));
const KEYS: Record<TotpAlgorithm, Uint8Array> = {
  sha1: ascii("12345678901234567890", 20),
  sha256: ascii("12345678901234567890", 32),
  sha512: ascii("12345678901234567890", 64),
};
const VECTORS: [number, string, string, string][] = [
  [59, "94287082", "46119246", "90693936"],
  [1111111109, "07081804", "68084774", "25091201"],
  [1111111111, "14050471", "67062674", "99943326"],
  [1234567890, "89005924", "91819424", "93441116"],
  [2000000000, "69279037", "90698825", "38618901"],
  [20000000000, "65353130", "77737706", "47863826"],
];
const CASES = VECTORS.flatMap(([t, sha1, sha256, sha512]) =>
  (
    [
      ["sha1", sha1],
      ["sha256", sha256],
      ["sha512", sha512],
    ] as const
  ).map(([algorithm, code]) => ({ t, algorithm, code })),
);

describe("RFC 6238 Appendix B", () => {
  it("has all 18 vectors", () => expect(CASES).toHaveLength(18));
  it.each(CASES)("T=$t $algorithm → $code", ({ t, algorithm, code }) => {
    const options = { digits: 8, algorithm };
    expect(generateTotp(KEYS[algorithm], t * 1000, options)).toBe(code);
    expect(verifyTotp(KEYS[algorithm], code, t * 1000, options)).toEqual({ ok: true, step: Math.floor(t / 30) });
  });
  it("the 20-byte key is not reused for SHA-256 (the common bug gives 32247374)", () => {
    expect(generateTotp(KEYS.sha1, 59_000, { digits: 8, algorithm: "sha256" })).toBe("32247374");
    expect(verifyTotp(KEYS.sha256, "32247374", 59_000, { digits: 8, algorithm: "sha256" }).ok).toBe(false);
  });
});

const SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const STEP_MS = 30_000;
/** The middle of a step, so that ±30 s lands exactly one step away. */
const NOW = 1_750_000_000_000 - (1_750_000_000_000 % STEP_MS) + 15_000;
const STEP = timeStep(NOW);
const codeAt = (stepOffset: number, secret = SECRET) => generateTotpForStep(secret, STEP + stepOffset);

describe("the window and the replay rule (pure)", () => {
  it.each([-1, 0, 1])("accepts the code of step %i relative to now", (offset) => {
    expect(verifyTotp(SECRET, codeAt(offset), NOW)).toEqual({ ok: true, step: STEP + offset });
  });
  it.each([-2, 2, -3, 3])("refuses the code of step %i relative to now", (offset) => {
    expect(verifyTotp(SECRET, codeAt(offset), NOW)).toEqual({ ok: false, reason: "invalid" });
  });
  it("refuses malformed codes, accepts spaces", () => {
    for (const bad of ["", "12345", "1234567", "abcdef", "12345a"]) expect(verifyTotp(SECRET, bad, NOW).ok).toBe(false);
    const code = codeAt(0);
    expect(verifyTotp(SECRET, `${code.slice(0, 3)} ${code.slice(3)}`, NOW).ok).toBe(true);
  });
  it("reports a used step as a replay", () => {
    expect(verifyTotp(SECRET, codeAt(0), NOW, { afterStep: STEP })).toEqual({ ok: false, reason: "replayed" });
    expect(verifyTotp(SECRET, codeAt(-1), NOW, { afterStep: STEP })).toEqual({ ok: false, reason: "replayed" });
    expect(verifyTotp(SECRET, codeAt(1), NOW, { afterStep: STEP })).toEqual({ ok: true, step: STEP + 1 });
  });
  it("builds an otpauth URI for authenticator apps", () => {
    const uri = otpauthUri(SECRET, "ana@host", "toolctl");
    expect(uri).toMatch(/^otpauth:\/\/totp\/toolctl:ana%40host\?/);
    expect(new URL(uri).searchParams.get("secret")).toBe(SECRET);
    expect(new URL(uri).searchParams.get("issuer")).toBe("toolctl");
  });
});

/** A registry with a confirmed enrolment whose last accepted step is STEP - 5 (so the whole window is fresh). */
function enrolled(): { registry: Registry; ring: KeyRing; secret: string; home: string } {
  const home = tempDir("toolctl-totp-");
  const registry = openRegistry(home);
  const ring = loadKeyRing(home, {}, { create: true })!;
  const { secret } = beginEnrollment(registry, ring);
  const earlier = NOW - 5 * STEP_MS;
  expect(confirmEnrollment(registry, ring, generateTotp(secret, earlier), earlier)).toEqual({ ok: true, step: STEP - 5 });
  return { registry, ring, secret, home };
}
const ctx = { actor: "user", purpose: "run" as const, executionId: "ex_test" };

describe("the registry: enrolment, replay and throttle", () => {
  it("stores the secret sealed, and refuses a second enrolment", () => {
    const { registry, ring, secret, home } = enrolled();
    const row = registry.db.prepare("SELECT sealed_secret FROM totp").get() as { sealed_secret: string };
    expect(row.sealed_secret).not.toContain(secret);
    expect(readFileSync(path.join(home, "registry.db")).includes(Buffer.from(secret))).toBe(false);
    expect(() => beginEnrollment(registry, ring)).toThrow(/already enrolled; disable it first/);
    expect(twoFactorStatus(registry, NOW)).toMatchObject({ enrolled: true, pending: false, failuresInWindow: 0, throttledUntil: null });
    registry.close();
  });

  it("accepts a code once: a replay in the same step and in the next step is refused", () => {
    const { registry, ring, secret } = enrolled();
    const code = codeAt(0, secret);
    expect(verifyCode(registry, ring, code, NOW, ctx)).toEqual({ ok: true, step: STEP });
    expect(verifyCode(registry, ring, code, NOW + 1_000, ctx)).toEqual({ ok: false, reason: "replayed" });
    expect(verifyCode(registry, ring, code, NOW + STEP_MS, ctx)).toEqual({ ok: false, reason: "replayed" });
    // The previous step's code is inside the window but older than the accepted one.
    expect(verifyCode(registry, ring, codeAt(-1, secret), NOW, ctx)).toEqual({ ok: false, reason: "replayed" });
    const next = codeAt(1, secret);
    expect(verifyCode(registry, ring, next, NOW, ctx)).toEqual({ ok: true, step: STEP + 1 });
    expect(verifyCode(registry, ring, next, NOW + STEP_MS, ctx)).toEqual({ ok: false, reason: "replayed" });
    registry.close();
  });

  it("throttles after 5 failures for 15 minutes, without checking codes or extending the lockout", () => {
    const { registry, ring, secret } = enrolled();
    const valid = new Set([-1, 0, 1].map((o) => codeAt(o, secret)));
    const wrong = ["000000", "111111", "222222", "333333", "444444", "555555"].filter((c) => !valid.has(c));
    for (let i = 0; i < MAX_FAILURES; i++) {
      const result = verifyCode(registry, ring, wrong[i % wrong.length]!, NOW + i * 1000, ctx);
      expect(result).toMatchObject({ ok: false, reason: "invalid" });
      // The failure that starts the lockout says when it ends.
      expect(result.ok === false && result.retryAfterSeconds).toBe(i === MAX_FAILURES - 1 ? (THROTTLE_WINDOW_MS - i * 1000) / 1000 : undefined);
    }
    const firstFailure = NOW;
    for (const offset of [5_000, 60_000, 14 * 60_000]) {
      const result = verifyCode(registry, ring, codeAt(0, secret), NOW + offset, ctx);
      expect(result).toEqual({ ok: false, reason: "throttled", retryAfterSeconds: Math.ceil((firstFailure + THROTTLE_WINDOW_MS - NOW - offset) / 1000) });
    }
    expect(twoFactorStatus(registry, NOW + 60_000)).toMatchObject({
      failuresInWindow: 5,
      throttledUntil: new Date(firstFailure + THROTTLE_WINDOW_MS).toISOString(),
    });
    // Once the oldest failure ages out, one more attempt is allowed: a right code now passes.
    const later = NOW + THROTTLE_WINDOW_MS + 1;
    expect(verifyCode(registry, ring, generateTotp(secret, later), later, ctx)).toMatchObject({ ok: true });
    registry.close();
  });

  it("audits every verification, never with the code or the secret", () => {
    const { registry, ring, secret } = enrolled();
    const code = codeAt(0, secret);
    verifyCode(registry, ring, code, NOW, { ...ctx, approvalId: "ap_1" });
    verifyCode(registry, ring, code, NOW, ctx);
    const wrong = code === "123456" ? "654321" : "123456";
    verifyCode(registry, ring, wrong, NOW, ctx);
    const events = queryAudit(registry, {});
    expect(events.map((e) => `${e.type}:${e.status}`)).toEqual([
      "2fa.enrollment_started:pending",
      "2fa.verified:ok",
      "2fa.enrolled:enrolled",
      "2fa.verified:ok",
      "2fa.failed:replayed",
      "2fa.failed:invalid",
    ]);
    expect(events[3]).toMatchObject({ executionId: "ex_test", data: { purpose: "run", approvalId: "ap_1", step: STEP } });
    for (const event of events) {
      const values = Object.values(event.data).map(String);
      expect(values).not.toContain(code);
      expect(values).not.toContain(wrong);
      expect(JSON.stringify(event)).not.toContain(secret);
    }
    registry.close();
  });

  it("disable needs a valid code, and then 2FA is gone", () => {
    const { registry, ring, secret } = enrolled();
    expect(disable(registry, ring, codeAt(0, secret) === "000000" ? "111111" : "000000", NOW)).toMatchObject({ ok: false, reason: "invalid" });
    expect(disable(registry, ring, codeAt(0, secret), NOW)).toEqual({ ok: true, step: STEP });
    expect(twoFactorStatus(registry, NOW)).toMatchObject({ enrolled: false, pending: false });
    expect(verifyCode(registry, ring, codeAt(1, secret), NOW, ctx)).toEqual({ ok: false, reason: "not_enrolled" });
    registry.close();
  });
});

describe("throttling across processes", () => {
  it("8 processes guessing at once: 5 failures are counted in total, then everything is throttled", async () => {
    const home = tempDir("toolctl-totp-race-");
    const registry = openRegistry(home);
    const ring = loadKeyRing(home, {}, { create: true })!;
    const { secret } = beginEnrollment(registry, ring);
    expect(confirmEnrollment(registry, ring, generateTotp(secret, Date.now()), Date.now()).ok).toBe(true);
    registry.close();

    const live = new Set(Array.from({ length: 9 }, (_, i) => generateTotp(secret, Date.now() + (i - 4) * STEP_MS)));
    const wrongCodes = Array.from({ length: 40 }, (_, i) => String(100000 + i * 7919)).filter((c) => !live.has(c));
    const workers = 8;
    const attemptsPerWorker = 3;
    const results = (
      await Promise.all(
        Array.from({ length: workers }, async (_, w) => {
          const out = [];
          for (let i = 0; i < attemptsPerWorker; i++) out.push(await runJson(["2fa", "disable", "--code", wrongCodes[w * attemptsPerWorker + i]!], { home }));
          return out;
        }),
      )
    ).flat();
    for (const result of results) {
      expect(result.code, result.stdout + result.stderr).toBe(3);
      expect(result.stderr).not.toMatch(/locked|busy/i);
    }
    const reasons = results.map((r) => r.json.error.reason as string);
    expect(reasons.filter((r) => r === "invalid")).toHaveLength(MAX_FAILURES);
    expect(reasons.filter((r) => r === "throttled")).toHaveLength(workers * attemptsPerWorker - MAX_FAILURES);

    // The lockout holds for a right code too, in yet another process, and status reports it.
    const right = await runJson(["2fa", "disable", "--code", generateTotp(secret, Date.now() + STEP_MS)], { home });
    expect(right.code).toBe(3);
    expect(right.json.error).toMatchObject({ reason: "throttled" });
    expect(right.json.error.retryAfterSeconds).toBeGreaterThan(800);
    const status = await runJson(["2fa", "status"], { home });
    expect(status.json).toMatchObject({ enrolled: true, failuresInWindow: MAX_FAILURES });
    expect(status.json.throttledUntil).not.toBeNull();

    const check = openRegistry(home);
    expect(check.db.prepare("SELECT COUNT(*) FROM totp_failures").pluck().get()).toBe(MAX_FAILURES);
    const types = queryAudit(check, { limit: 1000 }).map((e) => e.type);
    expect(types.filter((t) => t === "2fa.failed")).toHaveLength(MAX_FAILURES);
    expect(types.filter((t) => t === "2fa.throttled")).toHaveLength(workers * attemptsPerWorker - MAX_FAILURES + 1);
    check.close();
    expect((await runJson(["audit", "verify"], { home })).json.ok).toBe(true);
  });
});
