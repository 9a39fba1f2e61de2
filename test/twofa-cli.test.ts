/**
 * `toolctl 2fa` end to end: the built binary through a real pseudo-terminal (node-pty) for the prompts, and
 * through pipes for the non-interactive paths; the rules behind them (which code counts, what is audited) are
 * checked in-process through the API. Every run uses a temporary home, never ~/.toolctl.
 */
import { describe, expect, it } from "vitest";
import { ExitCode } from "../src/api/index.js";
import { generateTotp } from "../src/policy/totp.js";
import { openApi, rejection, runCli, runJson, tempDir } from "./helpers.js";
import { spawnTerminal as spawnPty, type Terminal } from "./pty.js";
import { cells, DARK, decodeTerminal, LIGHT, luminance, modules, qrBlock } from "./qr-grid.js";

const STEP_MS = 30_000;
function spawnTerminal(args: string[], home: string): Terminal {
  return spawnPty(args, home, { cols: 120, rows: 60 });
}

function secretFrom(text: string): string {
  const uri = text.match(/otpauth:\/\/totp\/\S+/)?.[0];
  expect(uri, text).toBeDefined();
  return new URL(uri!).searchParams.get("secret")!;
}

/** A 6-digit code that is not valid anywhere near now. */
function wrongCode(secret: string): string {
  const live = new Set(Array.from({ length: 9 }, (_, i) => generateTotp(secret, Date.now() + (i - 4) * STEP_MS)));
  return ["000000", "123456", "999999", "424242"].find((code) => !live.has(code))!;
}

const PROMPT = /Code from your authenticator app/;

describe("2fa enroll on a terminal", () => {
  it("shows the URI and a QR code, refuses a wrong code, and completes with the right one", async () => {
    const home = tempDir("toolctl-2fa-pty-");
    const term = spawnTerminal(["2fa", "enroll"], home);
    await term.waitFor(PROMPT);
    const shown = term.text();
    expect(shown).toMatch(/otpauth:\/\/totp\/toolctl:[^?\s]+\?secret=[A-Z2-7]{32}/);
    // The QR block: lines of half-block characters.
    expect(shown.split("\n").filter((line) => /[█▀▄]{5}/.test(line)).length).toBeGreaterThan(10);
    const secret = secretFrom(shown);

    term.write(`${wrongCode(secret)}\r`);
    await term.waitFor(/wrong code/);
    await term.waitFor(/try 2 of 3/);
    expect(await runJson(["2fa", "status"], { home }).then((r) => r.json)).toMatchObject({ enrolled: false, pending: true, failuresInWindow: 1 });

    const right = generateTotp(secret, Date.now());
    term.write(`${right}\r`);
    expect((await term.exited).exitCode).toBe(0);
    expect(term.text()).toMatch(/2FA enrolled/);
    // Typed visibly, as a one-time code may be: what was typed is on the screen, not a row of stars.
    expect(term.text()).toContain(`(try 2 of 3): ${right}`);
    expect(term.text()).not.toMatch(/\*{6}/);

    const status = await runJson(["2fa", "status"], { home });
    expect(status.code).toBe(0);
    expect(status.json).toMatchObject({ enrolled: true, pending: false });
    expect(Date.parse(status.json.since)).toBeGreaterThan(Date.now() - 60_000);
    const human = await runCli(["2fa", "status"], { home });
    expect(human.stdout).toMatch(/2FA: enrolled since/);
  });

  it("EOF at the prompt is not a yes: enrolment stays pending (exit 4)", async () => {
    const home = tempDir("toolctl-2fa-pty-");
    const term = spawnTerminal(["2fa", "enroll"], home);
    await term.waitFor(PROMPT);
    term.write("\u0004");
    expect((await term.exited).exitCode).toBe(4);
    expect(term.text()).toMatch(/stays pending.*toolctl 2fa enroll --code/s);
    expect((await runJson(["2fa", "status"], { home })).json).toMatchObject({ enrolled: false, pending: true });
  });

  it("Ctrl-C at the prompt is not a yes either (exit 130)", async () => {
    const home = tempDir("toolctl-2fa-pty-");
    const term = spawnTerminal(["2fa", "enroll"], home);
    await term.waitFor(PROMPT);
    term.write("\u0003");
    expect((await term.exited).exitCode).toBe(130);
    expect((await runJson(["2fa", "status"], { home })).json).toMatchObject({ enrolled: false, pending: true });
  });

  it("three wrong codes leave it pending with a policy refusal (exit 3)", async () => {
    const home = tempDir("toolctl-2fa-pty-");
    const term = spawnTerminal(["2fa", "enroll"], home);
    await term.waitFor(PROMPT);
    const wrong = wrongCode(secretFrom(term.text()));
    for (let i = 1; i <= 3; i++) {
      // Each keystroke redraws the prompt, so the retry label is what marks a new question.
      if (i > 1) await term.waitFor(new RegExp(`try ${i} of 3`));
      term.write(`${wrong}\r`);
      await term.waitFor(/wrong code/, i);
    }
    expect((await term.exited).exitCode).toBe(3);
    expect(term.text()).toMatch(/stays pending/);
    expect((await runJson(["2fa", "status"], { home })).json).toMatchObject({ enrolled: false, pending: true, failuresInWindow: 3 });
  });
});

describe("the enrolment QR code", () => {
  /** Starts `2fa enroll` in a terminal, waits for the code prompt and leaves with Ctrl-C: what was shown. */
  async function enrolmentScreen(env: Record<string, string> = {}, cols = 120): Promise<{ raw: string; text: string; uri: string | undefined }> {
    const term = spawnPty(["2fa", "enroll"], tempDir("toolctl-2fa-qr-"), { cols, rows: 60, env });
    await term.waitFor(PROMPT);
    const shown = { raw: term.raw(), text: term.text(), uri: term.text().match(/otpauth:\/\/totp\/\S+/)?.[0] };
    term.write("\u0003");
    expect((await term.exited).exitCode).toBe(130);
    return shown;
  }

  it("in colour: black on white set explicitly, a 4-module quiet zone, and it decodes on light and dark themes", async () => {
    const { raw, uri } = await enrolmentScreen();
    expect(uri).toBeDefined();
    expect(decodeTerminal(raw, LIGHT)).toBe(uri);
    expect(decodeTerminal(raw, DARK)).toBe(uri);

    // Every line of the code sets its colours itself (the 256-colour cube's pure black and white) and resets them.
    const lines = raw.split(/\r?\n/).filter((line) => /[█▀▄]/u.test(line));
    expect(lines.length).toBeGreaterThan(10);
    for (const line of lines) expect(line).toMatch(/^\u001b\[38;5;16;48;5;231m[ █▀▄]+\u001b\[0m$/u);

    // The quiet zone, read on the dark theme: 4 light modules on every side (and half a row more at the bottom,
    // the symbol's height being odd), then the top-left finder pattern's dark corner.
    const grid = modules(qrBlock(cells(raw, DARK))).map((row) => row.map((colour) => luminance(colour) < 128));
    const size = grid[0]!.length - 8;
    expect(grid.length).toBe(size + 9);
    const ring = (i: number) => [...grid[i]!, ...grid.map((row) => row[i]!)];
    for (let i = 0; i < 4; i++) {
      expect(ring(i).some(Boolean), `module row/column ${i}`).toBe(false);
      expect(grid[grid.length - 1 - i]!.some(Boolean)).toBe(false);
      expect(grid.map((row) => row[row.length - 1 - i]!).some(Boolean)).toBe(false);
    }
    expect(grid[4]!.slice(4, 11)).toEqual([true, true, true, true, true, true, true]);
    expect(grid[5]!.slice(4, 11)).toEqual([true, false, false, false, false, false, true]);
  });

  it("under NO_COLOR: no escape codes, dark modules in the text colour (right on a light theme, inverted on a dark one)", async () => {
    const { raw, uri } = await enrolmentScreen({ NO_COLOR: "1" });
    const block = raw.split(/\r?\n/).filter((line) => /[█▀▄]/u.test(line));
    expect(block.length).toBeGreaterThan(10);
    expect(block.join("")).not.toContain("\u001b");
    expect(decodeTerminal(raw, LIGHT)).toBe(uri);
    // On a dark theme the code is drawn light on dark: read only by a scanner that also tries the inverse, as
    // most phones do (jsQR's "onlyInvert" throws on these images; "attemptBoth" succeeds where "dontInvert" did not).
    expect(decodeTerminal(raw, DARK)).toBeNull();
    expect(decodeTerminal(raw, DARK, "attemptBoth")).toBe(uri);
  });

  it("a terminal too narrow for it gets a note instead; the URI and the key are still shown", async () => {
    const { raw, text } = await enrolmentScreen({}, 40);
    expect(raw).not.toMatch(/[█▀▄]/u);
    expect(text.replace(/\n/g, "")).toMatch(/the terminal is 40 columns wide and the QR code needs \d+: widen it to scan, or add the key below by hand/);
    expect(text.replace(/\n/g, "")).toMatch(/Add this key \(or the URI above\) to your authenticator app: [A-Z2-7]{32}/);
  });
});

describe("2fa without a terminal", () => {
  it("enroll does not prompt: prints the URI, exits 4 naming --code (--json: one document); --code completes it; enroll is then refused; disable needs --code", async () => {
    const home = tempDir("toolctl-2fa-");
    const start = await runCli(["2fa", "enroll"], { home });
    expect(start.code).toBe(4);
    expect(start.stdout).toMatch(/^otpauth:\/\/totp\//);
    expect(start.stderr).toMatch(/toolctl 2fa enroll --code CODE/);
    expect(start.stderr).not.toMatch(/Code from your authenticator app/);
    const secret = secretFrom(start.stdout);

    // JSON mode: one document, with the URI and the secret, still pending.
    const again = await runJson(["2fa", "enroll"], { home });
    expect(again.code).toBe(4);
    expect(again.json).toMatchObject({ pending: true, enrolled: false, next: "toolctl 2fa enroll --code CODE" });
    expect(again.json.uri).toContain(`secret=${again.json.secret}`);
    expect(again.json.secret).not.toBe(secret);
    const current = again.json.secret as string;

    const wrong = await runJson(["2fa", "enroll", "--code", wrongCode(current)], { home });
    expect(wrong.code).toBe(3);
    expect(wrong.json.error).toMatchObject({ code: "policy_refused", reason: "invalid" });
    const done = await runJson(["2fa", "enroll", "--code", generateTotp(current, Date.now())], { home });
    expect(done.code, done.stdout).toBe(0);
    expect(done.json).toMatchObject({ enrolled: true });

    const [refused, noCode] = await Promise.all([runCli(["2fa", "enroll"], { home }), runCli(["2fa", "disable"], { home })]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/already enrolled; disable it first/);
    expect(noCode.code).toBe(4);
    expect(noCode.stderr).toMatch(/--code/);

    // The code that confirmed the enrolment was used; the next step's code is still inside the window.
    const off = await runCli(["2fa", "disable", "--code", generateTotp(current, Date.now() + STEP_MS)], { home });
    expect(off.code, off.stderr).toBe(0);
    expect(off.stdout).toMatch(/2FA disabled/);
    const toolctl = await openApi({ home });
    expect(await toolctl.twoFactorStatus()).toMatchObject({ enrolled: false, pending: false });
    expect(await toolctl.audit({ type: "2fa.disabled" })).toHaveLength(1);
    const log = JSON.stringify(await toolctl.audit({ limit: 100 }));
    expect(log).not.toContain(current);
    expect(log).not.toContain(secret);
  });

  it("enrolment and disable check every code: a malformed one is a usage error, a wrong one a policy refusal; nothing secret is audited", async () => {
    const toolctl = await openApi();
    const first = await toolctl.beginTwoFactor("ada@host");
    const { secret: current, uri } = await toolctl.beginTwoFactor("ada@host");
    expect(uri).toContain(`secret=${current}`);
    expect(current).not.toBe(first.secret);
    expect(await toolctl.twoFactorStatus()).toMatchObject({ pending: true, enrolled: false });

    expect((await rejection(toolctl.confirmTwoFactor("12ab"))).exitCode).toBe(ExitCode.usage);
    const wrong = await rejection(toolctl.confirmTwoFactor(wrongCode(current)));
    expect(wrong.exitCode).toBe(ExitCode.policy);
    expect(wrong).toMatchObject({ code: "policy_refused", details: { reason: "invalid" } });
    expect(await toolctl.confirmTwoFactor(generateTotp(current, Date.now()))).toMatchObject({ enrolled: true });
    expect(await toolctl.twoFactorStatus()).toMatchObject({ enrolled: true });

    const refused = await rejection(toolctl.beginTwoFactor("ada@host"));
    expect(refused.exitCode).toBe(ExitCode.policy);
    expect(refused.message).toMatch(/already enrolled; disable it first/);
    const badDisable = await rejection(toolctl.disableTwoFactor(wrongCode(current)));
    expect(badDisable.exitCode).toBe(ExitCode.policy);
    expect(badDisable.message).toMatch(/wrong code/);
    expect(await toolctl.twoFactorStatus()).toMatchObject({ enrolled: true });

    // The code that confirmed the enrolment was used; the next step's code is still inside the window.
    await toolctl.disableTwoFactor(generateTotp(current, Date.now() + STEP_MS));
    expect(await toolctl.twoFactorStatus()).toMatchObject({ enrolled: false, pending: false });
    expect(await toolctl.audit({ type: "2fa.disabled" })).toHaveLength(1);
    const log = JSON.stringify(await toolctl.audit({ limit: 100 }));
    expect(log).not.toContain(current);
    expect(log).not.toContain(first.secret);
  });

  it("an agent cannot enrol", async () => {
    const result = await runCli(["2fa", "enroll"], { home: tempDir("toolctl-2fa-"), env: { TOOLCTL_ACTOR: "agent" } });
    expect(result.code).toBe(4);
    expect(result.stdout).not.toMatch(/otpauth/);
  });
});
