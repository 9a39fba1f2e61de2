/**
 * The API's administrative half, in-process on temp homes: the tool lifecycle, deciding filed approval requests
 * from a second instance, the secret store and key rotation, and 2FA enrolment (refused to an agent). The CLI
 * commands over them keep their own surface tests (argv, exit codes, prompts) in the CLI test files.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ExitCode, ToolctlError } from "../src/api/index.js";
import { generateTotp } from "../src/policy/totp.js";
import { examplesDir, openApi, writeFiles } from "./helpers.js";

/** The error a call rejects with, checked to be a ToolctlError. */
async function failure(promise: Promise<unknown>): Promise<ToolctlError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ToolctlError);
  return error as ToolctlError;
}

const PENDING_TOOL = `apiVersion: toolctl/v1
name: boxed
description: A process tool asking for more memory than the default
runtime: process
image: toolctl-test/busybox:1
permissions: { memoryMb: 1024 }
actions:
  go:
    description: Print
    kind: read
    inputSchema: { type: object }
    command: [echo, hi]
`;

describe("tool lifecycle through the API", () => {
  it("disables, enables and removes a tool, audits each change, and names an unknown tool with a suggestion", async () => {
    const toolctl = await openApi();
    await toolctl.importManifests([path.join(examplesDir, "echo.yaml")]);
    expect(await toolctl.disableTool("echo")).toEqual({ tool: "echo", action: "disable", status: "disabled", changed: true });
    expect(await toolctl.disableTool("echo")).toMatchObject({ changed: false });
    const refused = await toolctl.run("echo.say", { message: "hi" }, { yes: true });
    expect(refused).toMatchObject({ status: "declined", exitCode: ExitCode.policy });
    expect(refused.error?.message).toBe("tool echo is disabled; run: toolctl tool enable echo");
    expect(await toolctl.enableTool("echo")).toMatchObject({ status: "active", changed: true });
    expect((await toolctl.run("echo.say", { message: "hi" }, { yes: true })).status).toBe("succeeded");

    const unknown = await failure(toolctl.disableTool("ecko"));
    expect(unknown.exitCode).toBe(ExitCode.usage);
    expect(unknown.message).toMatch(/unknown tool 'ecko'.*did you mean 'echo'/);

    expect(await toolctl.removeTool("echo")).toMatchObject({ tool: "echo", removed: false });
    expect(await toolctl.getTool("echo")).toBeUndefined();
    const changes = (await toolctl.audit({ tool: "echo" })).filter((event) => event.type === "tool.status" || event.type === "tool.removed");
    expect(changes.map((event) => [event.type, event.status])).toEqual([
      ["tool.status", "disabled"],
      ["tool.status", "active"],
      ["tool.removed", null],
    ]);
  });

  it("grants what a pending tool asks for only on yes: a no is audited and refused (exit 3), Ctrl-C is exit 130", async () => {
    const toolctl = await openApi();
    const dir = writeFiles({ "boxed.yaml": PENDING_TOOL });
    expect((await toolctl.importManifests([path.join(dir, "boxed.yaml")])).failed).toEqual([]);
    const asks = await toolctl.toolAsks("boxed");
    expect(asks.tool.status).toBe("pending");
    expect(asks.items.map((item) => item.name)).toContain("memoryMb");

    let shown: unknown;
    const no = await failure(toolctl.approveTool("boxed", { confirm: async (given) => ((shown = given.items), "no") }));
    expect(shown).toEqual(asks.items);
    expect(no.exitCode).toBe(ExitCode.policy);
    expect(no.message).toBe("not approved (no); boxed stays pending");
    const interrupted = await failure(toolctl.approveTool("boxed", { confirm: async () => "interrupted" }));
    expect(interrupted.exitCode).toBe(ExitCode.interrupted);
    expect((await toolctl.getTool("boxed"))!.status).toBe("pending");
    const declined = (await toolctl.audit({ type: "tool.approval_declined" })).map((event) => event.data.answer);
    expect(declined).toEqual(["no", "interrupted"]);

    const granted = await toolctl.approveTool("boxed", { confirm: async () => "yes" });
    expect(granted).toMatchObject({ tool: "boxed", previous: "pending", status: "active" });
    expect((await toolctl.revokeTool("boxed")).status).toBe("revoked");
    expect((await failure(toolctl.enableTool("boxed"))).message).toMatch(/was revoked; grant its permissions again/);
  });

  it("refuses to clear the state of a tool that keeps none", async () => {
    const toolctl = await openApi();
    await toolctl.importManifests([path.join(examplesDir, "echo.yaml")]);
    const error = await failure(toolctl.clearToolState("echo"));
    expect(error.exitCode).toBe(ExitCode.policy);
    expect(error.message).toBe("tool echo has no state volume: only Docker tools keep /state");
  });
});

describe("tool health checks through the API", () => {
  it("runs the declared test read and says healthy, with the run; refuses a tool that declares none", async () => {
    const toolctl = await openApi();
    const echo = readFileSync(path.join(examplesDir, "echo.yaml"), "utf8");
    const dir = writeFiles({ "echo.yaml": `${echo}test: { action: say, input: { message: ping } }\n` });
    expect((await toolctl.importManifests([path.join(dir, "echo.yaml")])).failed).toEqual([]);
    const health = await toolctl.testTool("echo");
    expect(health).toMatchObject({ tool: "echo", action: "say", status: "healthy", executionId: health.result.executionId });
    expect(health.result.output).toEqual({ message: "ping" });
    expect((await toolctl.execution(health.executionId!)) as { status: string }).toMatchObject({ status: "succeeded" });

    await toolctl.importManifests([path.join(examplesDir, "piggybank.yaml")]);
    const none = await failure(toolctl.testTool("piggybank"));
    expect(none.exitCode).toBe(ExitCode.usage);
    expect(none.message).toMatch(/^tool piggybank declares no test/);
    expect((await failure(toolctl.testTool("nothing"))).message).toMatch(/^unknown tool 'nothing'/);
  });
});

describe("filed approval requests through the API", () => {
  it("a run waiting on its request proceeds once a second instance approves it, with the digest that was shown", async () => {
    const waiting = await openApi();
    await waiting.importManifests([path.join(examplesDir, "piggybank.yaml")]);
    const run = waiting.run("piggybank.pay", { amount: 2, to: "ada" }, { wait: true });

    const approver = await openApi({ home: waiting.home });
    let filed = (await approver.approvals()).find((approval) => approval.status === "pending");
    for (let tries = 0; !filed && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      filed = (await approver.approvals()).find((approval) => approval.status === "pending");
    }
    const pending = await approver.pendingApproval(filed!.id);
    expect(pending.request).toMatchObject({ tool: "piggybank", action: "pay" });
    const stale = await failure(approver.approve(filed!.id, { digest: "0".repeat(64) }));
    expect(stale.exitCode).toBe(ExitCode.policy);
    const approved = await approver.approve(filed!.id, { digest: pending.digest });
    expect(approved).toMatchObject({ status: "approved", decidedVia: "another terminal" });

    const result = await run;
    expect(result.status).toBe("succeeded");
    expect((await failure(approver.approve(filed!.id))).message).toMatch(/is already (approved|used)/);
    expect((await failure(approver.deny("ap_missing"))).exitCode).toBe(ExitCode.usage);
  });
});

describe("secrets and 2FA through the API", () => {
  it("stores, checks, rotates and removes secrets; an unknown name gets a suggestion", async () => {
    const toolctl = await openApi();
    const first = await toolctl.setSecret("API_TOKEN", "s3cret");
    expect(first).toMatchObject({ name: "API_TOKEN", created: true });
    expect((await toolctl.setSecret("API_TOKEN", "s3cret-2")).created).toBe(false);
    const rotated = await toolctl.rotateKey();
    expect(rotated.keyId).not.toBe(first.keyId);
    expect(rotated.resealed.secrets).toBe(1);
    const checked = await toolctl.secrets({ check: true });
    expect(checked).toEqual([expect.objectContaining({ name: "API_TOKEN", keyId: rotated.keyId, readable: true, source: "store" })]);
    expect(JSON.stringify(checked)).not.toContain("s3cret");

    const unknown = await failure(toolctl.removeSecret("API_TOKN"));
    expect(unknown.message).toMatch(/no secret 'API_TOKN'.*did you mean 'API_TOKEN'/);
    await toolctl.removeSecret("API_TOKEN");
    expect(await toolctl.secrets()).toEqual([]);
  });

  it("enrols 2FA for a person, refuses an agent (exit 4), and checks every code", async () => {
    const agent = await openApi({ actor: "agent" });
    const refused = await failure(agent.beginTwoFactor("agent@host"));
    expect(refused.exitCode).toBe(ExitCode.needsHuman);
    expect((await agent.twoFactorStatus()).pending).toBe(false);

    const person = await openApi({ home: agent.home });
    expect((await failure(person.confirmTwoFactor("123456"))).message).toBe("no 2FA enrolment is pending; start one with: toolctl 2fa enroll");
    const { secret, uri } = await person.beginTwoFactor("ada@host");
    expect(uri).toMatch(/^otpauth:\/\/totp\/toolctl:ada%40host\?secret=/);
    const code = generateTotp(secret, Date.now());
    const wrong = await failure(person.confirmTwoFactor(code === "000000" ? "111111" : "000000"));
    expect(wrong.exitCode).toBe(ExitCode.policy);
    expect(wrong.message).toMatch(/^2FA enrolment not confirmed: wrong code/);
    expect(await person.confirmTwoFactor(code)).toMatchObject({ enrolled: true });
    expect((await person.twoFactorStatus()).enrolled).toBe(true);
    expect((await failure(person.disableTwoFactor("12"))).exitCode).toBe(ExitCode.usage);
    expect((await failure(person.disableTwoFactor(code))).message).toMatch(/already used/);
  });
});

describe("history queries through the API", () => {
  it("a limit or offset that is not a whole number in range is a usage error naming the call and field, never a database error", async () => {
    const toolctl = await openApi();
    const bad: Array<[string, () => Promise<unknown>]> = [
      ["executions: limit", () => toolctl.executions({ limit: 1.5 })],
      ["executions: limit", () => toolctl.executions({ limit: "abc" as unknown as number })],
      ["executions: limit", () => toolctl.executions({ limit: -1 })],
      ["executions: offset", () => toolctl.executions({ offset: "x" as unknown as number })],
      ["audit: limit", () => toolctl.audit({ limit: "abc" as unknown as number })],
      ["audit: limit", () => toolctl.audit({ limit: -5 })],
      ["planRuns: offset", () => toolctl.planRuns({ offset: -1 })],
    ];
    for (const [prefix, call] of bad) {
      const error = await call().then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error, prefix).toBeInstanceOf(ToolctlError);
      expect((error as ToolctlError).exitCode).toBe(ExitCode.usage);
      expect((error as ToolctlError).message).toMatch(new RegExp(`^${prefix}: expected a whole number from [01] to 9007199254740991, got `));
    }
    expect((await toolctl.executions({ limit: 5, offset: 0 })).items).toEqual([]);
  });
});

describe("options a program passes", () => {
  it("a sandbox, waitSeconds or export format the engine cannot honour is a usage error naming the call and option, and nothing runs", async () => {
    const toolctl = await openApi();
    expect((await toolctl.importManifests([path.join(examplesDir, "echo.yaml")])).failed).toEqual([]);
    const input = { message: "hi" };
    const bad: Array<[string, () => Promise<unknown>]> = [
      ['run: sandbox: expected "docker" or "none", got "Docker"', () => toolctl.run("echo.say", input, { sandbox: "Docker" as "docker" })],
      ['run: sandbox: expected "docker" or "none", got true', () => toolctl.run("echo.say", input, { sandbox: true as unknown as "docker" })],
      ['preview: sandbox: expected "docker" or "none", got "bogus"', () => toolctl.preview("echo.say", input, { sandbox: "bogus" as "docker" })],
      ["run: waitSeconds: expected a number of seconds from 0, got NaN", () => toolctl.run("echo.say", input, { wait: true, waitSeconds: Number.NaN })],
      ["run: waitSeconds: expected a number of seconds from 0, got -1", () => toolctl.run("echo.say", input, { wait: true, waitSeconds: -1 })],
      [
        'run: waitSeconds: expected a number of seconds from 0, got "5"',
        () => toolctl.run("echo.say", input, { wait: true, waitSeconds: "5" as unknown as number }),
      ],
      ['exportTool: format: expected "yaml" or "json", got "xml"', () => toolctl.exportTool("echo", { format: "xml" as "yaml" })],
    ];
    for (const [message, call] of bad) {
      const error = await failure(call());
      expect(error.exitCode, message).toBe(ExitCode.usage);
      expect(error.message).toBe(message);
    }
    expect((await toolctl.executions()).items).toEqual([]);
    // What the same calls accept.
    expect((await toolctl.run("echo.say", input, { sandbox: "none" })).status).toBe("succeeded");
    expect((await toolctl.exportTool("echo", { format: "json" })).format).toBe("json");
  });
});
