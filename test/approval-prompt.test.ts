/**
 * The approval prompt of `toolctl run`, end to end: the built binary through a REAL pseudo-terminal (node-pty),
 * so stdin and stderr are terminals and the @inquirer prompt is what a person would see. Each test imports a
 * small echo manifest into its own temporary home (never ~/.toolctl) and checks three things: the exit code,
 * the execution's status (`toolctl executions --json`) and the audit log (`toolctl audit --json`).
 *
 * 2FA is enrolled in-process with the product's own modules (store/sqlite/twofactor.ts, secrets/crypto.ts) and
 * codes come from policy/totp.ts with the enrolled secret, exactly as an authenticator app would compute them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openRegistry } from "../src/store/sqlite/db.js";
import { beginEnrollment, confirmEnrollment } from "../src/store/sqlite/twofactor.js";
import { loadKeyRing } from "../src/secrets/crypto.js";
import { generateTotp } from "../src/policy/totp.js";
import { baseEnv, binPath, repoRoot, runCli, runJson, tempDir, writeFiles } from "./helpers.js";
import { spawnTerminal as spawnPty, type Terminal } from "./pty.js";
import { FakeServer, sendJson } from "./fakes/server.js";

const STEP_MS = 30_000;
/** A bound on any one terminal session: it is killed after this, so a hang fails the test instead of the run. */
const SESSION_MS = 20_000;

/** Settings for every run: limits high enough for CRITICAL amounts, so a limit never refuses first. */
const LIMITS = { TOOLCTL_LIMITS_PER_ACTION_USD: "100000", TOOLCTL_LIMITS_DAILY_USD: "1000000" };

const MANIFEST = `apiVersion: toolctl/v1
name: pay
description: Pays people (echo)
runtime: echo
actions:
  charge:
    description: Charge a card by the amount given
    kind: create
    approval: always
    cost: { fromInput: amount }
    inputSchema:
      type: object
      required: [amount]
      properties:
        amount: { type: number }
        note: { type: string }
  wire:
    description: Send a fixed wire transfer
    kind: create
    approval: always
    cost: { fixed: 250 }
    rollback: irreversible
    inputSchema:
      type: object
      properties:
        to: { type: string }
`;

// ---------------------------------------------------------------------------------------------------------------
// Setup helpers

async function payHome(): Promise<string> {
  const home = tempDir("toolctl-approval-");
  const dir = writeFiles({ "pay.yaml": MANIFEST });
  const imported = await runCli(["import", dir], { home });
  expect(imported.code, imported.stderr).toBe(0);
  return home;
}

/**
 * Enrolls 2FA in `home` with the product's own functions and returns the base32 secret. The enrolment is
 * confirmed with a code from three steps ago, so the current step's code is still unused for the run.
 */
function enroll2fa(home: string): string {
  const registry = openRegistry(home);
  try {
    const ring = loadKeyRing(home, baseEnv({ TOOLCTL_HOME: home }), { create: true })!;
    const { secret } = beginEnrollment(registry, ring);
    const then = Date.now() - 3 * STEP_MS;
    const confirmed = confirmEnrollment(registry, ring, generateTotp(secret, then), then);
    expect(confirmed.ok).toBe(true);
    return secret;
  } finally {
    registry.close();
  }
}

/** A well-formed 6-digit code that is not valid anywhere near now (so it is "wrong", not "replayed"). */
function wrongCode(secret: string): string {
  const live = new Set(Array.from({ length: 9 }, (_, i) => generateTotp(secret, Date.now() + (i - 4) * STEP_MS)));
  return ["000000", "123456", "999999", "424242", "314159"].find((code) => !live.has(code))!;
}

/**
 * The code for the current step, but not in the last 3 s of it: the run verifies it a moment later with its own
 * clock, and the ±1 step window would cover a boundary anyway; waiting keeps the replay test in one step.
 */
async function freshCode(secret: string): Promise<string> {
  const intoStep = Date.now() % STEP_MS;
  if (intoStep > STEP_MS - 3_000) await sleep(STEP_MS - intoStep + 200);
  return generateTotp(secret, Date.now());
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface AuditEvent {
  seq: number;
  type: string;
  tool: string | null;
  action: string | null;
  executionId: string | null;
  status: string;
  data: Record<string, any>;
}

async function auditEvents(home: string): Promise<AuditEvent[]> {
  const result = await runCli(["audit", "--json"], { home });
  expect(result.code, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { items: AuditEvent[] }).items;
}

async function executions(home: string): Promise<Array<{ id: string; status: string; tool: string; action: string; costUsd: number; risk: string }>> {
  const result = await runJson(["executions"], { home });
  expect(result.code, result.stderr).toBe(0);
  return result.json.items;
}

/** The one execution of pay.<action> in this home (every test makes exactly one per run). */
async function onlyExecution(home: string) {
  const all = await executions(home);
  expect(all, JSON.stringify(all)).toHaveLength(1);
  return all[0]!;
}

// ---------------------------------------------------------------------------------------------------------------
// The terminal

function spawnTerminal(args: string[], home: string, env: Record<string, string> = {}): Terminal {
  return spawnPty(args, home, { env: { ...LIMITS, ...env }, sessionMs: SESSION_MS });
}

/** Waits for the session to end; a session the bound had to kill is a hang and fails loudly. */
async function exitOf(term: Terminal): Promise<number> {
  const { exitCode, killed } = await term.exited;
  if (killed) throw new Error(`toolctl did not exit within ${SESSION_MS / 1000} s (killed); terminal shows:\n${term.text()}`);
  return exitCode;
}

const APPROVE = /Approve this action\? \[yes\/no\]/;
const CODE_PROMPT = /TOTP code:/;

/** Starts `run`, waits for the yes/no question and answers it. */
async function answerYes(args: string[], home: string, env: Record<string, string> = {}): Promise<Terminal> {
  const term = spawnTerminal(["run", ...args], home, env);
  await term.waitFor(APPROVE);
  term.write("yes\r");
  return term;
}

function approvalEvents(events: AuditEvent[]) {
  return events.filter((e) => e.type === "approval.approved" || e.type === "approval.declined");
}

// ---------------------------------------------------------------------------------------------------------------

describe("approval prompt on a terminal (MEDIUM and HIGH)", () => {
  it("shows action, description, cost, risk and details, and typing yes runs it", async () => {
    const home = await payHome();
    const term = spawnTerminal(["run", "pay.charge", "-p", "amount=5", "-p", "note=for the lunch"], home);
    await term.waitFor(APPROVE);
    const shown = term.text();
    expect(shown).toMatch(/Action Approval Required/);
    expect(shown).toMatch(/Action: pay\.charge/);
    expect(shown).toMatch(/Description: Charge a card by the amount given/);
    expect(shown).toMatch(/Cost: \$5\.00 \(input\.amount\)/);
    expect(shown).toMatch(/Risk Level: MEDIUM/);
    expect(shown).toMatch(/Target: echo: returns the input, unchanged/);
    expect(shown).toMatch(/Undo: none declared/);
    expect(shown).toMatch(/Details:\n\s+amount: 5\n\s+note: for the lunch/);
    expect(shown).not.toMatch(/2FA: a TOTP code is required/);
    // The question comes after the message, and nothing ran while it waits.
    expect(shown.indexOf("Details:")).toBeLessThan(shown.search(APPROVE));
    expect((await auditEvents(home)).some((e) => e.type === "execution.started")).toBe(false);

    term.write("yes\r");
    expect(await exitOf(term)).toBe(0);
    expect(term.text()).toMatch(/pay\.charge succeeded/);

    expect(await onlyExecution(home)).toMatchObject({ status: "succeeded", risk: "MEDIUM", costUsd: 5 });
    const events = await auditEvents(home);
    expect(approvalEvents(events)).toMatchObject([{ type: "approval.approved", tool: "pay", action: "charge", data: { via: "prompt" } }]);
    expect(events.find((e) => e.type === "execution.started")?.data.approval).toBe("prompt");
    expect(events.some((e) => e.type === "execution.succeeded")).toBe(true);
  });

  it("shows HIGH for $10–$100, and typing no declines it: exit 3, nothing ran", async () => {
    const home = await payHome();
    const term = spawnTerminal(["run", "pay.charge", "-p", "amount=50"], home);
    await term.waitFor(APPROVE);
    expect(term.text()).toMatch(/Risk Level: HIGH/);
    term.write("no\r");
    expect(await exitOf(term)).toBe(3);
    expect(term.text()).toMatch(/not approved \(answered no\)/);

    expect(await onlyExecution(home)).toMatchObject({ status: "declined", risk: "HIGH" });
    const events = await auditEvents(home);
    expect(approvalEvents(events)).toMatchObject([{ type: "approval.declined", data: { via: "prompt", answer: "no" } }]);
    expect(events.some((e) => e.type === "execution.started")).toBe(false);
    expect(events.some((e) => e.type === "execution.refused")).toBe(true);
  });

  // Terraform's rule: only the exact word approves, so a stray key or a habit from other tools never does.
  it.each(["y", "Y", "YES", "Yes", "yess", " yes"])("anything but exactly yes is a no (typing %j)", async (typed) => {
    const home = await payHome();
    const term = spawnTerminal(["run", "pay.charge", "-p", "amount=5"], home);
    await term.waitFor(APPROVE);
    term.write(`${typed}\r`);
    expect(await exitOf(term)).toBe(3);
    expect(term.text()).toMatch(/not approved \(answered no\)/);
    expect(await onlyExecution(home)).toMatchObject({ status: "declined" });
    expect(approvalEvents(await auditEvents(home))).toMatchObject([{ type: "approval.declined", data: { via: "prompt", answer: "no" } }]);
  });

  it("yes followed by spaces still approves (trailing whitespace is not part of the answer)", async () => {
    const home = await payHome();
    const term = spawnTerminal(["run", "pay.charge", "-p", "amount=5"], home);
    await term.waitFor(APPROVE);
    term.write("yes  \r");
    expect(await exitOf(term)).toBe(0);
    expect(await onlyExecution(home)).toMatchObject({ status: "succeeded" });
  });

  it("no answer within TOOLCTL_APPROVALS_TIMEOUT_SECONDS=2 is a no: exit 3 within a few seconds", async () => {
    const home = await payHome();
    const term = spawnTerminal(["run", "pay.charge", "-p", "amount=5"], home, { TOOLCTL_APPROVALS_TIMEOUT_SECONDS: "2" });
    await term.waitFor(APPROVE);
    const asked = Date.now();
    expect(await exitOf(term)).toBe(3);
    const waited = Date.now() - asked;
    expect(waited).toBeGreaterThanOrEqual(1_500);
    expect(waited).toBeLessThan(8_000);
    expect(term.text()).toMatch(/no answer within 2 s/);

    expect(await onlyExecution(home)).toMatchObject({ status: "declined" });
    const events = await auditEvents(home);
    expect(approvalEvents(events)).toMatchObject([{ type: "approval.declined", data: { via: "prompt", answer: "timeout" } }]);
    expect(events.some((e) => e.type === "execution.started")).toBe(false);
  });

  it("EOF (Ctrl-D) at the prompt is never yes: exit 3 promptly, answer eof", async () => {
    const home = await payHome();
    // The default timeout (300 s): only the end of input may end this session in time.
    const term = spawnTerminal(["run", "pay.charge", "-p", "amount=5"], home);
    await term.waitFor(APPROVE);
    term.write("\x04");
    expect(await exitOf(term)).toBe(3);

    expect(await onlyExecution(home)).toMatchObject({ status: "declined" });
    const events = await auditEvents(home);
    expect(approvalEvents(events)).toMatchObject([{ type: "approval.declined", data: { via: "prompt", answer: "eof" } }]);
    expect(events.some((e) => e.type === "execution.started")).toBe(false);
  });

  it("EOF (Ctrl-D) is never yes, even if it is only noticed when the timeout (3 s) runs out", async () => {
    const home = await payHome();
    const term = spawnTerminal(["run", "pay.charge", "-p", "amount=5"], home, { TOOLCTL_APPROVALS_TIMEOUT_SECONDS: "3" });
    await term.waitFor(APPROVE);
    term.write("\x04");
    // Whatever follows the end of input must not be read as an answer.
    term.write("yes\r");
    expect(await exitOf(term)).toBe(3);

    expect(await onlyExecution(home)).toMatchObject({ status: "declined" });
    const events = await auditEvents(home);
    expect(approvalEvents(events)).toMatchObject([{ type: "approval.declined", data: { via: "prompt" } }]);
    expect(["eof", "timeout"]).toContain(approvalEvents(events)[0]!.data.answer);
    expect(events.some((e) => e.type === "execution.started")).toBe(false);
  });

  it("Ctrl-C at the prompt is never yes: exit 130, recorded declined (answer interrupted), nothing ran", async () => {
    const home = await payHome();
    const term = spawnTerminal(["run", "pay.charge", "-p", "amount=5"], home);
    await term.waitFor(APPROVE);
    term.write("\x03");
    expect(await exitOf(term)).toBe(130);
    expect(term.text()).toMatch(/interrupted/);

    const events = await auditEvents(home);
    expect(events.some((e) => e.type === "execution.started")).toBe(false);
    expect(approvalEvents(events)).toMatchObject([{ type: "approval.declined", data: { via: "prompt", answer: "interrupted" } }]);
    expect(await onlyExecution(home)).toMatchObject({ status: "declined" });
  });
});

describe("the prompt says where the request goes and how it is undone", () => {
  const shop = new FakeServer((req, res) => sendJson(res, 200, { id: "ch_1", path: req.url }));
  beforeAll(async () => void (await shop.start()));
  afterAll(() => shop.close());

  async function shopHome(): Promise<string> {
    const home = tempDir("toolctl-approval-");
    const dir = writeFiles({
      "shop.yaml": `apiVersion: toolctl/v1
name: shop
description: A shop on loopback
runtime: http
baseUrl: ${shop.url}
http: { allowPlainHttp: true, allowPrivateNetworks: ["127.0.0.0/8"] }
actions:
  charge:
    description: Charge a card
    kind: create
    cost: { fromInput: amount }
    inputSchema: { type: object, required: [amount], properties: { amount: { type: number } } }
    request: { method: POST, path: /v1/charges, json: { amount: "{{ input.amount }}" } }
    rollback: { action: refund, input: { charge: "{{ output.id }}" } }
  refund:
    description: Refund a charge
    kind: create
    inputSchema: { type: object, required: [charge], properties: { charge: { type: string } } }
    request: { method: POST, path: "/v1/refunds/{{ input.charge }}" }
`,
    });
    const imported = await runCli(["import", dir], { home });
    expect(imported.code, imported.stderr).toBe(0);
    return home;
  }

  it("an HTTP action: the method and URL, and the declared rollback; yes sends exactly that", async () => {
    const home = await shopHome();
    const before = shop.requests.length;
    const term = spawnTerminal(["run", "shop.charge", "-p", "amount=5"], home);
    await term.waitFor(APPROVE);
    const shown = term.text();
    expect(shown).toContain(`Target: POST ${shop.url}/v1/charges`);
    expect(shown).toMatch(/Undo: refund \(automatic if the action acts but fails\)/);
    expect(shown.indexOf("Target:")).toBeLessThan(shown.search(APPROVE));
    expect(shop.requests.length).toBe(before);
    term.write("yes\r");
    expect(await exitOf(term)).toBe(0);
    expect(shop.requests.slice(before).map((r) => `${r.method} ${r.url}`)).toEqual(["POST /v1/charges"]);
  });
});

describe("every yes/no prompt takes only an exact yes", () => {
  /** A Docker tool asking for more memory than the defaults imports as pending; approving it needs no engine. */
  async function pendingToolHome(): Promise<string> {
    const home = tempDir("toolctl-approval-");
    const dir = writeFiles({
      "big.yaml": `apiVersion: toolctl/v1
name: big
description: Asks for more memory
runtime: docker
image: toolctl-test/busybox:1
permissions: { memoryMb: 1024 }
actions:
  sh: { description: run, kind: read, command: [sh, -c, "true"] }
`,
    });
    const imported = await runCli(["import", dir], { home });
    expect(imported.code, imported.stderr).toBe(0);
    return home;
  }
  const GRANT = /Grant these permissions to big\? \[yes\/no\]/;

  it("tool approve: 'y' is a no (exit 3, still pending); 'yes' grants", async () => {
    const home = await pendingToolHome();
    const no = spawnTerminal(["tool", "approve", "big"], home);
    await no.waitFor(GRANT);
    no.write("y\r");
    expect(await exitOf(no)).toBe(3);
    expect((await runJson(["list"], { home })).json.items).toMatchObject([{ name: "big", status: "pending" }]);

    const yes = spawnTerminal(["tool", "approve", "big"], home);
    await yes.waitFor(GRANT);
    yes.write("yes\r");
    expect(await exitOf(yes)).toBe(0);
    expect((await runJson(["list"], { home })).json.items).toMatchObject([{ name: "big", status: "active" }]);
  });

  it("tool approve: Ctrl-C at the question exits 130 and grants nothing", async () => {
    const home = await pendingToolHome();
    const term = spawnTerminal(["tool", "approve", "big"], home);
    await term.waitFor(GRANT);
    term.write("\x03");
    expect(await exitOf(term)).toBe(130);
    expect((await runJson(["list"], { home })).json.items).toMatchObject([{ name: "big", status: "pending" }]);
  });
});

describe("approval prompt on a terminal (CRITICAL, 2FA)", () => {
  it("CRITICAL with 2FA enrolled: yes, then the right TOTP code runs it (via prompt with TOTP)", async () => {
    const home = await payHome();
    const secret = enroll2fa(home);
    const term = await answerYes(["pay.wire", "-p", "to=alice"], home);
    const before = term.text();
    expect(before).toMatch(/Cost: \$250\.00 \(fixed \$250\)/);
    expect(before).toMatch(/Risk Level: CRITICAL/);
    expect(before).toMatch(/Undo: irreversible: this cannot be undone/);
    expect(before).toMatch(/2FA: a TOTP code is required/);
    await term.waitFor(CODE_PROMPT);
    const code = await freshCode(secret);
    term.write(`${code}\r`);
    expect(await exitOf(term)).toBe(0);
    // A one-time code is typed visibly (it is accepted once and expires in seconds): its digits are echoed.
    expect(term.text()).toContain(`TOTP code: ${code}`);

    expect(await onlyExecution(home)).toMatchObject({ status: "succeeded", risk: "CRITICAL", costUsd: 250 });
    const events = await auditEvents(home);
    expect(approvalEvents(events)).toMatchObject([{ type: "approval.approved", data: { via: "prompt with TOTP" } }]);
    expect(events.find((e) => e.type === "execution.started")?.data.approval).toBe("prompt with TOTP");
    expect(events.filter((e) => e.type === "2fa.verified" && e.data.purpose === "run")).toHaveLength(1);
  });

  it("CRITICAL: a wrong TOTP code declines it: exit 3, nothing ran", async () => {
    const home = await payHome();
    const secret = enroll2fa(home);
    const term = await answerYes(["pay.charge", "-p", "amount=150"], home);
    await term.waitFor(CODE_PROMPT);
    term.write(`${wrongCode(secret)}\r`);
    expect(await exitOf(term)).toBe(3);
    expect(term.text()).toMatch(/TOTP code is wrong/);

    expect(await onlyExecution(home)).toMatchObject({ status: "declined", risk: "CRITICAL" });
    const events = await auditEvents(home);
    expect(events.some((e) => e.type === "execution.started")).toBe(false);
    expect(events.some((e) => e.type === "approval.approved")).toBe(false);
    expect(events.filter((e) => e.type === "2fa.failed" && e.data.purpose === "run")).toMatchObject([{ data: { reason: "invalid" } }]);
    // The human said yes, but the approval as a whole was declined: that decision is audited like any other.
    expect(approvalEvents(events)).toMatchObject([{ type: "approval.declined", data: { via: "prompt with TOTP" } }]);
  });

  it("CRITICAL: EOF (Ctrl-D) at the TOTP code prompt is never yes: exit 3 promptly, answer eof", async () => {
    const home = await payHome();
    enroll2fa(home);
    const term = await answerYes(["pay.charge", "-p", "amount=150"], home);
    await term.waitFor(CODE_PROMPT);
    term.write("\x04");
    expect(await exitOf(term)).toBe(3);

    expect(await onlyExecution(home)).toMatchObject({ status: "declined" });
    const events = await auditEvents(home);
    expect(approvalEvents(events)).toMatchObject([{ type: "approval.declined", data: { via: "prompt", answer: "eof" } }]);
    expect(events.some((e) => e.type === "execution.started")).toBe(false);
  });

  it("CRITICAL: Ctrl-C at the TOTP code prompt exits 130, recorded declined, nothing ran", async () => {
    const home = await payHome();
    enroll2fa(home);
    const term = await answerYes(["pay.charge", "-p", "amount=150"], home);
    await term.waitFor(CODE_PROMPT);
    term.write("\x03");
    expect(await exitOf(term)).toBe(130);

    expect(await onlyExecution(home)).toMatchObject({ status: "declined" });
    const events = await auditEvents(home);
    expect(approvalEvents(events)).toMatchObject([{ type: "approval.declined", data: { via: "prompt", answer: "interrupted" } }]);
    expect(events.some((e) => e.type === "execution.started")).toBe(false);
  });

  it("CRITICAL: the code just accepted, replayed in the same 30 s step, is refused", async () => {
    const home = await payHome();
    const secret = enroll2fa(home);
    const code = await freshCode(secret);

    const first = await answerYes(["pay.charge", "-p", "amount=150"], home);
    await first.waitFor(CODE_PROMPT);
    first.write(`${code}\r`);
    expect(await exitOf(first)).toBe(0);

    const second = await answerYes(["pay.charge", "-p", "amount=150"], home);
    await second.waitFor(CODE_PROMPT);
    second.write(`${code}\r`);
    expect(await exitOf(second)).toBe(3);
    expect(second.text()).toMatch(/already used/);

    const all = await executions(home);
    expect(all.map((e) => e.status).sort()).toEqual(["declined", "succeeded"]);
    const events = await auditEvents(home);
    expect(events.filter((e) => e.type === "execution.started")).toHaveLength(1);
    expect(events.filter((e) => e.type === "2fa.failed" && e.data.purpose === "run")).toMatchObject([{ data: { reason: "replayed" } }]);
    expect(events.filter((e) => e.type === "approval.approved")).toMatchObject([{ data: { via: "prompt with TOTP" } }]);
  });

  it("after 5 wrong codes (5 runs) even the right code is refused, with a 'try again' message", async () => {
    const home = await payHome();
    const secret = enroll2fa(home);
    for (let attempt = 1; attempt <= 5; attempt++) {
      const term = await answerYes(["pay.charge", "-p", "amount=150"], home);
      await term.waitFor(CODE_PROMPT);
      term.write(`${wrongCode(secret)}\r`);
      expect(await exitOf(term), `attempt ${attempt}`).toBe(3);
    }
    const last = await answerYes(["pay.charge", "-p", "amount=150"], home);
    await last.waitFor(CODE_PROMPT);
    last.write(`${await freshCode(secret)}\r`);
    expect(await exitOf(last)).toBe(3);
    expect(last.text()).toMatch(/too many wrong codes: try again in \d+ s/);

    const all = await executions(home);
    expect(all).toHaveLength(6);
    expect(all.every((e) => e.status === "declined")).toBe(true);
    const events = await auditEvents(home);
    expect(events.some((e) => e.type === "execution.started")).toBe(false);
    expect(events.some((e) => e.type === "approval.approved")).toBe(false);
    expect(events.filter((e) => e.type === "2fa.failed" && e.data.purpose === "run")).toHaveLength(5);
    expect(events.filter((e) => e.type === "2fa.throttled")).toHaveLength(1);
  }, 60_000);

  it("CRITICAL without 2FA enrolled: refused with guidance to run toolctl 2fa enroll, no prompt shown", async () => {
    const home = await payHome();
    const term = spawnTerminal(["run", "pay.charge", "-p", "amount=150"], home);
    expect(await exitOf(term)).toBe(3);
    const shown = term.text();
    expect(shown).toMatch(/toolctl 2fa enroll/);
    expect(shown).not.toMatch(APPROVE);
    expect(shown).not.toMatch(/Action Approval Required/);
    expect(shown).not.toMatch(CODE_PROMPT);

    expect(await onlyExecution(home)).toMatchObject({ status: "declined", risk: "CRITICAL" });
    const events = await auditEvents(home);
    expect(events.some((e) => e.type === "execution.started")).toBe(false);
    expect(events.some((e) => e.type === "approval.approved")).toBe(false);
    expect(events.find((e) => e.type === "execution.refused")?.data.error).toMatch(/toolctl 2fa enroll/);
  });
});

describe("without a terminal: never prompt", () => {
  const env = LIMITS;

  it("MEDIUM without --yes exits 4 at once naming --yes and --wait; with --yes it runs", async () => {
    const home = await payHome();
    const started = Date.now();
    const refused = await runCli(["run", "pay.charge", "-p", "amount=5"], { home, env, timeoutMs: 10_000 });
    expect(refused.signal).toBeNull();
    expect(refused.code).toBe(4);
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(refused.stderr).toMatch(/--yes/);
    expect(refused.stderr).toMatch(/--wait/);
    expect(refused.stderr).not.toMatch(APPROVE);
    // Nobody could be asked, so it is over: declined, not left pending.
    expect(await onlyExecution(home)).toMatchObject({ status: "declined" });

    const approved = await runCli(["run", "pay.charge", "-p", "amount=5", "--yes"], { home, env });
    expect(approved.code, approved.stderr).toBe(0);
    const all = await executions(home);
    expect(all.map((e) => e.status).sort()).toEqual(["declined", "succeeded"]);
    const events = await auditEvents(home);
    expect(approvalEvents(events)).toMatchObject([{ type: "approval.approved", data: { via: "--yes" } }]);
    expect(events.filter((e) => e.type === "execution.needs_approval")).toHaveLength(1);
  });

  it("CRITICAL with --yes but no --otp exits 4 naming --otp; with --yes --otp <right code> it runs", async () => {
    const home = await payHome();
    const secret = enroll2fa(home);
    const refused = await runCli(["run", "pay.charge", "-p", "amount=150", "--yes"], { home, env, timeoutMs: 10_000 });
    expect(refused.signal).toBeNull();
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/--otp/);
    expect(await onlyExecution(home)).toMatchObject({ status: "declined", risk: "CRITICAL" });

    const approved = await runCli(["run", "pay.charge", "-p", "amount=150", "--yes", "--otp", await freshCode(secret)], { home, env });
    expect(approved.code, approved.stderr).toBe(0);
    const all = await executions(home);
    expect(all.map((e) => e.status).sort()).toEqual(["declined", "succeeded"]);
    const events = await auditEvents(home);
    expect(approvalEvents(events)).toMatchObject([{ type: "approval.approved", data: { via: "--yes with TOTP" } }]);
    expect(events.filter((e) => e.type === "execution.started")).toHaveLength(1);
  });
});
