/**
 * Plan and apply end to end through the library API: the shipped example plan (manifests/examples/launch) against fake
 * Namecheap, Vercel and Twilio servers on 127.0.0.1, and a small process tool whose steps append to a log (for
 * rollback order, failures and a SIGKILL in the middle of an apply, which runs the built binary). A few tests run
 * the binary for what the CLI adds: the plan table, --out, --detailed-exitcode and the plan-run view.
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { FakeNamecheap } from "./fakes/namecheap.js";
import { FakeServer, loopbackCopy, sendJson } from "./fakes/server.js";
import { FakeTwilio } from "./fakes/twilio.js";
import { FakeVercel } from "./fakes/vercel.js";
import type { PlanPreview, Toolctl } from "../src/api/index.js";
import { withDigest } from "../src/plan/preview.js";
import { generateTotp } from "../src/policy/totp.js";
import { binPath, examplesDir, loopbackTool, openApi, PAY_ECHO, rejection, repoRoot, runCli, tempDir, writeFiles } from "./helpers.js";

const OWNER = "+14155552671";
const FROM = "+15005550006";
const FORM_KEY = "form-key-7f3a9c2e51d8";
let namecheap: FakeNamecheap;
let vercel: FakeVercel;
let twilio: FakeTwilio;
let manifests: string;
let env: Record<string, string>;

beforeAll(async () => {
  [namecheap, vercel, twilio] = await Promise.all([
    new FakeNamecheap().start(),
    new FakeVercel().start(),
    new FakeTwilio({ verified: [OWNER], owned: [FROM] }).start(),
  ]);
  manifests = tempDir("toolctl-plan-manifests-");
  loopbackCopy(path.join(repoRoot, "manifests", "namecheap.yaml"), namecheap.url, manifests);
  loopbackCopy(path.join(repoRoot, "manifests", "vercel.yaml"), vercel.url, manifests);
  loopbackCopy(path.join(repoRoot, "manifests", "twilio.yaml"), twilio.url, manifests);
  env = {
    NAMECHEAP_API_USER: namecheap.apiUser,
    NAMECHEAP_API_KEY: namecheap.apiKey,
    NAMECHEAP_CLIENT_IP: "203.0.113.7",
    VERCEL_TOKEN: vercel.token,
    TWILIO_ACCOUNT_SID: twilio.accountSid,
    TWILIO_AUTH_TOKEN: twilio.authToken,
    SITE_CONTACT_FORM_KEY: FORM_KEY,
    SITE_SLD: "launch-test",
    SITE_TLD: "com",
    OWNER_PHONE: OWNER,
    SMS_FROM: FROM,
  };
});
afterAll(async () => {
  await Promise.all([namecheap.close(), vercel.close(), twilio.close()]);
});

/** A fresh home with the three providers imported, opened in a copy of the example's directory to run in. */
async function launchSetup(extraEnv: Record<string, string> = {}): Promise<{ toolctl: Toolctl; home: string; dir: string }> {
  const home = tempDir("toolctl-plan-home-");
  const dir = tempDir("toolctl-plan-launch-");
  cpSync(path.join(examplesDir, "launch"), dir, { recursive: true });
  const toolctl = await openApi({ home, cwd: dir, env: { ...env, ...extraEnv } });
  const imported = await toolctl.importManifests([manifests]);
  expect(imported.failed).toEqual([]);
  return { toolctl, home, dir };
}

/** A plan as `plan --out` saves it and `apply` reads it back. */
const savedCopy = (preview: PlanPreview): PlanPreview => JSON.parse(JSON.stringify(preview));

const sideEffects = () => ({
  registrations: namecheap.registrations.length,
  deployments: vercel.deployments.size,
  sms: twilio.messages.length,
  uploads: vercel.uploads.length,
});

const READS_PLAN =
  "apiVersion: toolctl/v1\nkind: Plan\nname: reads\nsteps:\n  - id: check\n    action: namecheap.check_domain\n    input: { domain: free-name.com }\n" +
  '  - id: later\n    action: twilio.send_sms\n    condition: "{{ env.NEVER_SET }}"\n    input: { to: "+14155552671", from: "+15005550006", body: hi }\n';
const CYCLE_PLAN =
  'apiVersion: toolctl/v1\nkind: Plan\nname: cycle\nsteps:\n  - id: a\n    action: echo.say\n    input: { message: "{{ steps.b.output.message }}" }\n  - id: b\n    action: echo.say\n    input: { message: "{{ steps.a.output.message }}" }\n';

const OVER_BUDGET = "limits:\n  dailyUsd: 10\n  perActionUsd: 100\n";

describe("toolctl plan", () => {
  it("shows each step's request, cost, risk, approval and rollback, and the total, touching nothing", async () => {
    const { toolctl } = await launchSetup();
    const before = sideEffects();
    const plan = await toolctl.plan("launch-site.plan.yaml");
    expect(plan.format).toBe("toolctl-plan/1");
    expect(plan.name).toBe("launch-site");
    expect(plan.order).toEqual(["domain", "site", "notify"]);
    expect(plan.steps.map((s: any) => [s.id, s.needs, s.risk, s.approval.required, s.reversible, s.cost.quoted])).toEqual([
      ["domain", [], "HIGH", true, false, true],
      ["site", ["domain"], "MEDIUM", true, true, false],
      ["notify", ["site"], "LOW", false, false, false],
    ]);
    const [domain, site, notify] = plan.steps as any[];
    expect(domain.cost.usd).toBe(10.28);
    expect(site.cost.usd).toBe(0);
    expect(notify.cost.usd).toBeGreaterThan(0);
    expect(domain.request).toMatchObject({ runtime: "http", method: "POST" });
    expect(domain.request.body).toMatchObject({ Command: "namecheap.domains.create" });
    expect(domain.request.url).not.toContain(namecheap.apiKey);
    expect(JSON.stringify(plan)).toContain("steps.domain.output.ApiResponse.CommandResponse.DomainCreateResult.-Domain");
    expect(plan.total).toMatchObject({ acting: 3, needApproval: 2, needTwoFactor: 0, irreversible: 2 });
    expect(plan.total.usd).toBeGreaterThan(10.28);
    expect(plan.willAct).toBe(true);
    expect(plan.overBudget).toBeUndefined();
    // Only the price check ran: nothing registered, deployed, uploaded or sent.
    expect(sideEffects()).toEqual(before);
    // What `plan --out` saves: secret references, never secret values.
    const text = JSON.stringify(plan, null, 2);
    expect(text).toContain("{{ secrets.SITE_CONTACT_FORM_KEY }}");
    for (const secret of [namecheap.apiKey, namecheap.apiUser, vercel.token, twilio.accountSid, twilio.authToken, FORM_KEY, "203.0.113.7"])
      expect(text).not.toContain(secret);
  });

  it("the CLI prints the plan as a table and --out saves it, with secret references, never secret values", async () => {
    const { home, dir } = await launchSetup();
    const before = sideEffects();
    const table = await runCli(["plan", "launch-site.plan.yaml"], { home, cwd: dir, env });
    expect(table.stderr).toBe("");
    expect(table.code).toBe(0);
    expect(table.stdout).toContain("Plan launch-site");
    expect(table.stdout).toMatch(/\+ domain +namecheap\.register_domain +\$10\.28 +HIGH +approval, irreversible, price quoted \(a read ran\)/);
    expect(table.stdout).toMatch(/\+ site +vercel\.deploy +\$0\.00 +MEDIUM +approval, undo: remove/);
    expect(table.stdout).toMatch(/\+ notify +twilio\.send_sms +\$0\.0079 \(estimate\)|\+ notify +twilio\.send_sms +\$0\.01 \(estimate\)/);
    expect(table.stdout).toContain("(known after apply: steps.domain.output.ApiResponse.CommandResponse.DomainCreateResult.-Domain)");
    expect(table.stdout).toContain("Plan: 3 steps will act");
    expect(table.stdout).toContain("2 cannot be rolled back");
    for (const secret of [namecheap.apiKey, vercel.token, twilio.authToken, FORM_KEY]) expect(table.stdout).not.toContain(secret);

    const saved = await runCli(["plan", "launch-site.plan.yaml", "--out", "launch.json"], { home, cwd: dir, env });
    expect(saved.code).toBe(0);
    expect(saved.stderr).toContain("saved plan pl_");
    const text = readFileSync(path.join(dir, "launch.json"), "utf8");
    expect(JSON.parse(text)).toMatchObject({ format: "toolctl-plan/1", name: "launch-site" });
    expect(text).toContain("{{ secrets.SITE_CONTACT_FORM_KEY }}");
    for (const secret of [namecheap.apiKey, namecheap.apiUser, vercel.token, twilio.accountSid, twilio.authToken, FORM_KEY, "203.0.113.7"])
      expect(text).not.toContain(secret);
    expect(sideEffects()).toEqual(before);
  });

  it("says when nothing would act, refuses a cycle, and says when the total is over budget", async () => {
    const { toolctl, home, dir } = await launchSetup();
    writeFiles({ "reads.plan.yaml": READS_PLAN, "cycle.plan.yaml": CYCLE_PLAN }, dir);
    const reads = await toolctl.plan("reads.plan.yaml");
    expect(reads.willAct).toBe(false);
    expect(reads.total.acting).toBe(0);
    const cycle = await rejection(toolctl.plan("cycle.plan.yaml"));
    expect(cycle.exitCode).toBe(2);
    expect([cycle.message, ...(cycle.details.problems ?? [])].join("\n")).toContain(
      "cycle.plan.yaml:5:5: steps.0: steps depend on each other in a cycle: a → b → a",
    );
    writeFiles({ "config.yaml": OVER_BUDGET }, home);
    const capped = await openApi({ home, cwd: dir, env });
    const over = await capped.plan("launch-site.plan.yaml");
    expect(over.overBudget).toMatch(/^the plan's total of \$10\.\d+: .*over the daily limit of \$10\.00/);
  });

  it("--detailed-exitcode: 2 when it would act, 0 when it would not, 1 on error, 3 over budget", async () => {
    const { home, dir } = await launchSetup();
    expect((await runCli(["plan", "launch-site.plan.yaml", "--detailed-exitcode"], { home, cwd: dir, env })).code).toBe(2);
    writeFiles({ "reads.plan.yaml": READS_PLAN, "cycle.plan.yaml": CYCLE_PLAN }, dir);
    const reads = await runCli(["plan", "reads.plan.yaml", "--detailed-exitcode"], { home, cwd: dir, env });
    expect(reads.stdout).toContain("Plan: no changes");
    expect(reads.code).toBe(0);
    const cycle = await runCli(["plan", "cycle.plan.yaml", "--detailed-exitcode"], { home, cwd: dir, env });
    expect(cycle.code).toBe(1);
    expect(cycle.stderr).toContain("cycle.plan.yaml:5:5: steps.0: steps depend on each other in a cycle: a → b → a");
    expect((await runCli(["plan", "cycle.plan.yaml"], { home, cwd: dir, env })).code).toBe(2);
    writeFiles({ "config.yaml": OVER_BUDGET }, home);
    const over = await runCli(["plan", "launch-site.plan.yaml", "--detailed-exitcode"], { home, cwd: dir, env });
    expect(over.stdout).toMatch(/Over budget: the plan's total of \$10\.\d+: .*over the daily limit of \$10\.00/);
    expect(over.code).toBe(3);
  });

  it("names the file, line and field of a bad plan", async () => {
    const dir = writeFiles({
      "bad.plan.yaml":
        'apiVersion: toolctl/v1\nkind: Plan\nname: bad\nsteps:\n  - id: a\n    action: echo\n    inputs: {}\n  - id: b\n    action: echo.say\n    input: { message: "{{ steps.zz.output.x }}" }\n',
    });
    const toolctl = await openApi({ cwd: dir });
    const error = await rejection(toolctl.plan("bad.plan.yaml"));
    expect(error).toMatchObject({ code: "plan_invalid", exitCode: 2 });
    expect(error.message).toMatch(/(^|\/)bad\.plan\.yaml: 2 problems in plan$/);
    const problems = (error.details.problems ?? []).map((problem) => problem.slice(problem.indexOf("bad.plan.yaml")));
    expect(problems).toContain("bad.plan.yaml:6:13: steps.0.action: tool.action, such as namecheap.register_domain");
    expect(problems.some((problem) => problem.startsWith("bad.plan.yaml:7:5: steps.0.inputs: unknown field 'inputs'"))).toBe(true);
  });

  it("a whole number in a step's input past 2^53 - 1 is refused at its line and field, as run refuses it", async () => {
    const dir = writeFiles({
      "big.plan.yaml":
        "apiVersion: toolctl/v1\nkind: Plan\nname: big\nsteps:\n  - id: a\n    action: echo.say\n    input: { message: hi, n: { amount: 9007199254740993 } }\n",
    });
    const toolctl = await openApi({ cwd: dir });
    const error = await rejection(toolctl.plan("big.plan.yaml"));
    expect(error).toMatchObject({ code: "plan_invalid", exitCode: 2 });
    expect(error.message.slice(error.message.indexOf("big.plan.yaml"))).toBe(
      "big.plan.yaml:7:40: steps.0.input.n.amount: a whole number larger than a number can hold exactly (9007199254740991); it would be sent as 9007199254740992: write it as a string if the field takes one",
    );
  });

  it("a step naming an unknown tool or action, or with input its schema refuses, is named at its line and field too", async () => {
    const dir = writeFiles({ "echo.yaml": readFileSync(path.join(examplesDir, "echo.yaml"), "utf8") });
    const toolctl = await openApi({ cwd: dir });
    expect((await toolctl.importManifests([path.join(dir, "echo.yaml")])).failed).toEqual([]);
    const step = (action: string, input: string) =>
      `apiVersion: toolctl/v1\nkind: Plan\nname: bad\nsteps:\n  - id: first\n    action: ${action}\n    input: ${input}\n`;
    for (const [text, expected] of [
      [step("echo.nope", "{}"), "bad.plan.yaml:6:13: steps.0.action: step first (echo.nope): tool echo has no action 'nope'; see: toolctl show echo"],
      [step("nosuch.tool", "{}"), "bad.plan.yaml:6:13: steps.0.action: step first (nosuch.tool): unknown tool 'nosuch'; import it first (toolctl import)"],
      [
        step("echo.say", "{ message: 5 }"),
        "bad.plan.yaml:7:12: steps.0.input: step first (echo.say): invalid input for echo.say: input.message: must be string",
      ],
    ]) {
      writeFileSync(path.join(dir, "bad.plan.yaml"), text);
      const error = await rejection(toolctl.plan("bad.plan.yaml"));
      expect(error).toMatchObject({ code: "plan_invalid", exitCode: 2 });
      expect(error.message.slice(error.message.indexOf("bad.plan.yaml"))).toBe(expected);
    }
  });
});

describe("toolctl apply", () => {
  it("applies the example plan once: one approval, three linked executions, outputs flowing between steps", async () => {
    const { toolctl } = await launchSetup();
    const saved = savedCopy(await toolctl.plan("launch-site.plan.yaml"));
    const before = sideEffects();
    const applied = await toolctl.apply(saved, { saved: true, yes: true });
    expect(applied).toMatchObject({ name: "launch-site", status: "succeeded", exitCode: 0 });
    expect(applied.error).toBeNull();
    expect(applied.steps.map((s) => [s.id, s.status])).toEqual([
      ["domain", "succeeded"],
      ["site", "succeeded"],
      ["notify", "succeeded"],
    ]);
    expect(sideEffects()).toMatchObject({ registrations: before.registrations + 1, deployments: before.deployments + 1, sms: before.sms + 1 });
    const deployment = [...vercel.deployments.values()].at(-1)!;
    expect(deployment.alias).toEqual(["launch-test.vercel.app", "launch-test.com"]);
    expect(twilio.messages.at(-1)!.body).toContain(`launch-test.com is live: https://${deployment.url}`);
    expect(vercel.projects.get("launch-test")!.env.map((e) => e.key)).toEqual(["CONTACT_FORM_KEY"]);

    const run = await toolctl.planRun(applied.id);
    expect(run.status).toBe("succeeded");
    expect(run.steps).toHaveLength(3);
    for (const step of run.steps) {
      const execution = await toolctl.execution(step.executionId!);
      expect(execution).toMatchObject({ status: "succeeded", planRunId: applied.id });
      expect(JSON.stringify(execution)).not.toContain(FORM_KEY);
    }
    // The plan's quote (made while planning) and its approval name no execution row; the log still verifies.
    expect(await toolctl.verifyAudit()).toMatchObject({ ok: true, problems: [] });
    // A saved plan is applied once.
    const again = await rejection(toolctl.apply(savedCopy(saved), { saved: true, yes: true }));
    expect(again.exitCode).toBe(3);
    expect(again.message).toContain(`was already applied (plan run ${applied.id}, succeeded)`);
  });

  it("refuses a stale saved plan: a manifest re-imported, an input changed, or a budget that no longer allows it", async () => {
    const { toolctl, home, dir } = await launchSetup();
    const saved = savedCopy(await toolctl.plan("launch-site.plan.yaml"));
    const before = sideEffects();
    // Edited after it was saved (a step's input, or its digest dropped): refused, whatever else holds.
    const tampered = savedCopy(saved);
    (tampered.steps[0]!.input as Record<string, unknown>).sld = "tampered";
    const edited = await rejection(toolctl.apply(tampered, { saved: true, yes: true }));
    expect(edited).toMatchObject({ code: "plan_stale", exitCode: 3 });
    expect(edited.message).toContain("saved plan is stale: the saved plan was edited after it was saved");
    const { digest: _digest, ...undigested } = savedCopy(saved);
    expect((await rejection(toolctl.apply(undigested as typeof saved, { saved: true, yes: true }))).message).toContain(
      "the saved plan has no digest (an earlier toolctl saved it)",
    );
    const otherEnv = await openApi({ home, cwd: dir, env: { ...env, SITE_SLD: "other-name" } });
    const changedEnv = await rejection(otherEnv.apply(savedCopy(saved), { saved: true, yes: true }));
    expect(changedEnv.exitCode).toBe(3);
    expect(changedEnv.message).toContain("saved plan is stale: environment variable SITE_SLD changed");

    writeFiles({ "config.yaml": OVER_BUDGET }, home);
    const capped = await openApi({ home, cwd: dir, env });
    const broke = await rejection(capped.apply(savedCopy(saved), { saved: true, yes: true }));
    expect(broke.exitCode).toBe(3);
    expect(broke.message).toContain("the budget does not allow it now");

    const copy = path.join(manifests, "vercel.yaml");
    const document = parseDocument(readFileSync(copy, "utf8"));
    const editedDir = tempDir("toolctl-plan-edited-");
    document.set("description", "Deploy, changed since the plan");
    writeFileSync(path.join(editedDir, "vercel.yaml"), document.toString());
    expect((await capped.importManifests([editedDir])).failed).toEqual([]);
    const changedTool = await rejection(capped.apply(savedCopy(saved), { saved: true, yes: true }));
    expect(changedTool.exitCode).toBe(3);
    expect(changedTool.message).toContain("the manifest of vercel changed (re-imported since the plan was made)");
    expect(sideEffects()).toEqual(before);
  });

  it("asks for one approval and refuses (exit 4) when nobody can answer", async () => {
    const { toolctl } = await launchSetup();
    const before = sideEffects();
    const error = await rejection(toolctl.plan("launch-site.plan.yaml").then((plan) => toolctl.apply(plan)));
    expect(error.exitCode).toBe(4);
    // apply takes no --wait, so the hint names only what it takes.
    expect(error.message).toMatch(/^plan launch-site needs approval \(risk \w+, estimated \$[\d.]+\) and nobody can answer a prompt here: re-run with --yes$/);
    expect(sideEffects()).toEqual(before);
  });
});

/**
 * `toolctl apply four.plan.yaml --yes` in a process of its own, SIGKILLed (with the step's own process) once the
 * step that waits for `waitFor` runs, as a crash would leave it.
 */
async function applyKilledAt(dir: string, home: string, waitFor: string, args = ["apply", "four.plan.yaml", "--yes"]): Promise<void> {
  const child = spawn(process.execPath, [binPath, ...args], {
    cwd: dir,
    env: { ...process.env, TOOLCTL_HOME: home, CI: "true" },
    stdio: "ignore",
  });
  // The waiting step runs (its process waits for the file) once its pid file exists.
  const pidFile = path.join(dir, `${waitFor}.pid`);
  for (let waited = 0; !existsSync(pidFile); waited += 50) {
    if (waited > 20_000) throw new Error(`the step waiting for ${waitFor} never started`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill("SIGKILL");
  await new Promise((resolve) => child.on("close", resolve));
  process.kill(Number(readFileSync(pidFile, "utf8")), "SIGKILL");
}

/** Two steps, the second paid ($0.70, idempotent) and cut off by a SIGKILL of `apply` while it waits for `go`. */
async function paidStepCutOff(prefix: string) {
  const dir = stepsTool(tempDir(prefix));
  const manifest = path.join(dir, "steps.yaml");
  writeFileSync(manifest, readFileSync(manifest, "utf8").replace("    idempotent: true\n", "    idempotent: true\n    cost: { fixed: 0.7 }\n"));
  const toolctl = await stepsHome(dir);
  stepsPlan(dir, [{ id: "one" }, { id: "two", after: "one", waitFor: "go" }]);
  await applyKilledAt(dir, toolctl.home, "go");
  return { dir, toolctl, runId: (await toolctl.planRuns()).items[0]!.id };
}

/** Lets the cut-off step finish and resumes the run: it succeeds, and both steps are spent once, nothing held. */
async function resumedSpentOnce(dir: string, toolctl: Toolctl, runId: string) {
  writeFileSync(path.join(dir, "go"), "");
  const resumed = await toolctl.resumePlanRun(runId, { yes: true });
  expect(resumed.status).toBe("succeeded");
  const { spend, entries } = await toolctl.budget();
  expect(spend).toMatchObject({ committedUsd: 1.4, reservedUsd: 0 });
  expect(entries.map((e) => [e.state, e.executionStatus])).toEqual([
    ["committed", "succeeded"],
    ["committed", "succeeded"],
  ]);
  return resumed;
}

/** A process tool whose steps append to a log; `waitFor` makes a step wait for a file before acting. */
function stepsTool(dir: string): string {
  const script = [
    'log="$1"; name="$2"; wait="$3"; fail="$4"',
    'if [ -n "$wait" ]; then echo $$ > "$wait.pid"; while [ ! -e "$wait" ]; do sleep 0.05; done; fi',
    'if [ "$fail" = "yes" ]; then echo "step $name refuses" >&2; exit 1; fi',
    'echo "$name" >> "$log"; printf \'{"name":"%s"}\' "$name"',
  ].join("\n");
  writeFiles(
    {
      "steps.yaml":
        [
          "apiVersion: toolctl/v1",
          "name: steps",
          "description: Steps that append to a log",
          "runtime: process",
          // Confined like every process tool: the log (in the tool's own directory) is the one thing it may write.
          "process: { timeoutSeconds: 60, writable: [.] }",
          "actions:",
          "  mark:",
          "    description: Append a name to the log",
          "    kind: update",
          "    idempotent: true",
          "    inputSchema: { type: object, required: [log, name], properties: { log: { type: string }, name: { type: string }, waitFor: { type: string }, fail: { type: string } } }",
          `    command: ["sh", "-c", ${JSON.stringify(script)}, "mark", "{{ input.log }}", "{{ input.name }}", "{{ input.waitFor }}", "{{ input.fail }}"]`,
          '    rollback: { action: unmark, input: { log: "{{ input.log }}", name: "{{ input.name }}" } }',
          "  stamp:",
          "    description: Append a name to the log, for good (no rollback)",
          "    kind: update",
          "    idempotent: true",
          "    inputSchema: { type: object, required: [log, name], properties: { log: { type: string }, name: { type: string }, waitFor: { type: string }, fail: { type: string } } }",
          `    command: ["sh", "-c", ${JSON.stringify(script)}, "stamp", "{{ input.log }}", "{{ input.name }}", "{{ input.waitFor }}", "{{ input.fail }}"]`,
          "  receipt:",
          "    description: Append a name to the log, answering without the receipt its output promises (not safe to repeat)",
          "    kind: update",
          "    idempotent: false",
          "    inputSchema: { type: object, required: [log, name], properties: { log: { type: string }, name: { type: string }, waitFor: { type: string }, fail: { type: string } } }",
          "    outputSchema: { type: object, required: [receipt] }",
          `    command: ["sh", "-c", ${JSON.stringify(script)}, "receipt", "{{ input.log }}", "{{ input.name }}", "{{ input.waitFor }}", "{{ input.fail }}"]`,
          '    rollback: { action: unmark, input: { log: "{{ input.log }}", name: "{{ input.name }}" } }',
          "  unmark:",
          "    description: Append 'undo name' to the log",
          "    kind: delete",
          "    idempotent: true",
          "    inputSchema: { type: object, required: [log, name], properties: { log: { type: string }, name: { type: string } } }",
          // Fails while a file named unmark-fails is beside the log: a compensation that can fail on demand.
          `    command: ["sh", "-c", "if [ -e \\"$(dirname \\"$1\\")/unmark-fails\\" ]; then echo 'cannot undo' >&2; exit 1; fi; echo \\"undo $2\\" >> \\"$1\\"; echo '{}'", "unmark", "{{ input.log }}", "{{ input.name }}"]`,
        ].join("\n") + "\n",
    },
    dir,
  );
  return dir;
}

function stepsPlan(dir: string, steps: Array<{ id: string; after?: string; fail?: boolean; waitFor?: string; action?: string }>): void {
  const log = path.join(dir, "log");
  const lines = ["apiVersion: toolctl/v1", "kind: Plan", "name: four", "steps:"];
  for (const step of steps) {
    lines.push(
      `  - id: ${step.id}`,
      `    action: ${step.action ?? "steps.mark"}`,
      `    input: { log: ${JSON.stringify(log)}, name: ${step.id}, fail: ${step.fail ? "'yes'" : "'no'"}, waitFor: ${JSON.stringify(step.waitFor ? path.join(dir, step.waitFor) : "")} }`,
    );
    if (step.after) lines.push(`    dependsOn: [${step.after}]`);
  }
  writeFiles({ "four.plan.yaml": `${lines.join("\n")}\n` }, dir);
}

const logOf = (dir: string) => (existsSync(path.join(dir, "log")) ? readFileSync(path.join(dir, "log"), "utf8").trim().split("\n") : []);

/** A home with the steps tool imported, opened in `dir`. */
async function stepsHome(dir: string, home = tempDir("toolctl-plan-steps-home-")): Promise<Toolctl> {
  const toolctl = await openApi({ home, cwd: dir });
  expect((await toolctl.importManifests([path.join(dir, "steps.yaml")])).failed).toEqual([]);
  return toolctl;
}

/** A new steps tool and home, with `steps` planned and applied (--yes). */
async function appliedSteps(prefix: string, steps: Parameters<typeof stepsPlan>[1]) {
  const dir = stepsTool(tempDir(prefix));
  const toolctl = await stepsHome(dir);
  stepsPlan(dir, steps);
  return { dir, toolctl, applied: await toolctl.apply(await toolctl.plan("four.plan.yaml"), { yes: true }) };
}

describe("failure, rollback and resume", () => {
  it("a failure in step 3 of 4 rolls back steps 2 and 1, in that order; step 4 never starts", async () => {
    const { dir, toolctl, applied } = await appliedSteps("toolctl-plan-steps-", [
      { id: "one" },
      { id: "two", after: "one" },
      { id: "three", after: "two", fail: true },
      { id: "four", after: "three" },
    ]);
    expect(applied.exitCode).toBe(1);
    expect(applied.status).toBe("rolled_back");
    expect(applied.steps.map((s) => [s.id, s.status])).toEqual([
      ["one", "rolled_back"],
      ["two", "rolled_back"],
      ["three", "failed"],
      ["four", "not_started"],
    ]);
    expect(applied.error?.message).toMatch(/^step three \(steps\.mark\): .*; the completed steps were rolled back$/);
    expect(logOf(dir)).toEqual(["one", "two", "undo two", "undo one"]);
    const shown = await toolctl.planRun(applied.id);
    const two = shown.steps.find((step) => step.id === "two")!;
    expect(two).toMatchObject({ status: "rolled_back", executionId: expect.stringMatching(/^ex_/), rollbackExecutionId: expect.stringMatching(/^ex_/) });
    expect(await toolctl.execution(two.rollbackExecutionId!)).toMatchObject({ tool: "steps", action: "unmark", status: "succeeded" });
  });

  it("a step whose output fails its schema is rolled back automatically, then the completed steps: nothing left in place", async () => {
    const { dir, toolctl, applied } = await appliedSteps("toolctl-plan-auto-", [
      { id: "one" },
      { id: "two", after: "one" },
      { id: "three", after: "two", action: "steps.receipt" },
    ]);
    expect(applied.exitCode).toBe(1);
    expect(applied.status).toBe("rolled_back");
    expect(applied.steps.map((s) => [s.id, s.status])).toEqual([
      ["one", "rolled_back"],
      ["two", "rolled_back"],
      ["three", "rolled_back"],
    ]);
    expect(applied.error?.message).toMatch(
      /^step three \(steps\.receipt\): output does not match .*; the action itself ran: check before retrying; it was rolled back automatically \(steps\.unmark, ex_\w+\); the completed steps were rolled back$/,
    );
    expect(logOf(dir)).toEqual(["one", "two", "three", "undo three", "undo two", "undo one"]);
    const three = (await toolctl.planRun(applied.id)).steps.find((step) => step.id === "three")!;
    expect(three.rollbackExecutionId).toMatch(/^ex_/);
    expect(three.rollbackExecutionId).not.toBe(three.executionId);
    expect(await toolctl.execution(three.executionId!)).toMatchObject({ status: "rolled_back" });
    expect(await toolctl.execution(three.rollbackExecutionId!)).toMatchObject({ tool: "steps", action: "unmark", status: "succeeded" });
    expect((await toolctl.verifyAudit()).ok).toBe(true);
  });

  it("the same saved plan applied by several processes at once runs once; the others are refused naming that run (exit 3)", async () => {
    const dir = stepsTool(tempDir("toolctl-plan-twice-"));
    const home = tempDir("toolctl-plan-twice-home-");
    const first = await stepsHome(dir, home);
    stepsPlan(dir, [{ id: "one" }, { id: "two", after: "one" }]);
    const saved = savedCopy(await first.plan("four.plan.yaml"));
    // Each its own instance, with its own connection to the registry, as separate processes have.
    const others = await Promise.all([1, 2, 3].map(() => openApi({ home, cwd: dir })));
    const outcomes = await Promise.allSettled([first, ...others].map((toolctl) => toolctl.apply(saved, { yes: true, saved: true })));
    const applied = outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
    expect(applied).toHaveLength(1);
    expect(applied[0]!.status).toBe("succeeded");
    for (const outcome of outcomes.filter((o) => o.status === "rejected")) {
      const error = (outcome as PromiseRejectedResult).reason as { exitCode: number; message: string };
      expect(error.exitCode, error.message).toBe(3);
      expect(error.message).toMatch(
        new RegExp(`^plan ${saved.id} was already applied \\(plan run ${applied[0]!.id}, (running|succeeded)\\); a saved plan is applied once`),
      );
    }
    expect(logOf(dir)).toEqual(["one", "two"]);
    expect((await first.planRuns()).total).toBe(1);
  });

  it("plan-runs rollback retries a compensation that failed, and reports failed while anything is left in place", async () => {
    const dir = stepsTool(tempDir("toolctl-plan-undo-"));
    const toolctl = await stepsHome(dir);
    stepsPlan(dir, [{ id: "one" }, { id: "two", after: "one", fail: true }]);
    writeFileSync(path.join(dir, "unmark-fails"), "");
    const applied = await toolctl.apply(await toolctl.plan("four.plan.yaml"), { yes: true });
    expect(applied).toMatchObject({ status: "failed", exitCode: 1 });
    expect(applied.steps.map((s) => [s.id, s.status])).toEqual([
      ["one", "rollback_failed"],
      ["two", "failed"],
    ]);
    // Still failing: still failed, and the run can be rolled back again.
    const still = await toolctl.rollbackPlanRun(applied.id, { yes: true });
    expect(still).toMatchObject({ status: "failed", exitCode: 1 });
    expect(still.steps[0]).toMatchObject({ id: "one", status: "rollback_failed" });
    rmSync(path.join(dir, "unmark-fails"));
    const undone = await toolctl.rollbackPlanRun(applied.id, { yes: true });
    expect(undone).toMatchObject({ status: "rolled_back", exitCode: 0, error: null });
    expect(undone.steps[0]).toMatchObject({ id: "one", status: "rolled_back", rollbackExecutionId: expect.stringMatching(/^ex_/) });
    expect(logOf(dir)).toEqual(["one", "undo one"]);

    // A step with no rollback stays in place: never reported as rolled back, however often asked.
    const kept = stepsTool(tempDir("toolctl-plan-kept-"));
    const keeper = await stepsHome(kept);
    stepsPlan(kept, [
      { id: "one", action: "steps.stamp" },
      { id: "two", after: "one", fail: true },
    ]);
    const left = await keeper.apply(await keeper.plan("four.plan.yaml"), { yes: true });
    expect(left.steps[0]).toMatchObject({ id: "one", status: "left_in_place" });
    const again = await keeper.rollbackPlanRun(left.id, { yes: true });
    expect(again).toMatchObject({ status: "failed", exitCode: 1 });
    expect(again.steps[0]).toMatchObject({ id: "one", status: "left_in_place" });
    expect(again.error?.message).toContain("one (steps.stamp)");
  });

  it("a step that ended unknown on a 5xx is said so when the run is rolled back, not as cut off mid-run", async () => {
    const till = new FakeServer((req, res) => (req.url.startsWith("/boom") ? sendJson(res, 502, { error: "upstream" }) : sendJson(res, 200, { id: "t_1" })));
    await till.start();
    try {
      const dir = writeFiles({
        "till.yaml": loopbackTool(
          "till",
          till.url,
          "  boom: { description: Always answers 502, kind: create, request: { method: POST, path: /boom }, rollback: irreversible }\n",
          "retry: { attempts: 1 }",
        ),
        "p.plan.yaml": "apiVersion: toolctl/v1\nkind: Plan\nname: p\nsteps:\n  - id: one\n    action: till.boom\n    input: {}\n",
      });
      const toolctl = await openApi({ cwd: dir });
      expect((await toolctl.importManifests([path.join(dir, "till.yaml")])).failed).toEqual([]);
      const applied = await toolctl.apply(await toolctl.plan("p.plan.yaml"), { yes: true });
      expect(applied.steps[0]).toMatchObject({ id: "one", status: "unknown" });
      const undone = await toolctl.rollbackPlanRun(applied.id, { yes: true });
      expect(undone).toMatchObject({ status: "failed", exitCode: 1 });
      expect(undone.steps[0]!.note).toMatch(/^its outcome is unknown: .*502.* \(execution ex_\w+\)$/);
      expect((await toolctl.planRun(applied.id)).steps[0]!.note).toBe(undone.steps[0]!.note);
      expect(undone.error?.message).toContain("a step's outcome is unknown (it may or may not have acted): one (till.boom)");
    } finally {
      await till.close();
    }
  });

  it("a step undone on its own (toolctl rollback) counts as rolled back when the run is", async () => {
    const dir = stepsTool(tempDir("toolctl-plan-alone-"));
    const toolctl = await stepsHome(dir);
    stepsPlan(dir, [{ id: "one" }, { id: "two", after: "one" }]);
    const applied = await toolctl.apply(await toolctl.plan("four.plan.yaml"), { yes: true });
    expect(applied.status).toBe("succeeded");
    const alone = await toolctl.rollback(applied.steps[0]!.executionId!, { yes: true });
    expect(alone.status).toBe("succeeded");
    const undone = await toolctl.rollbackPlanRun(applied.id, { yes: true });
    expect(undone).toMatchObject({ status: "rolled_back", exitCode: 0 });
    expect(undone.steps.map((s) => [s.id, s.status])).toEqual([
      ["one", "rolled_back"],
      ["two", "rolled_back"],
    ]);
    expect(logOf(dir)).toEqual(["one", "two", "undo one", "undo two"]);
  });

  it("a saved plan rewritten with a matching digest but malformed is refused naming the field: nothing runs, no plan run", async () => {
    const dir = stepsTool(tempDir("toolctl-plan-forged-"));
    const toolctl = await stepsHome(dir);
    stepsPlan(dir, [{ id: "one" }, { id: "two", after: "one" }]);
    const planned = await toolctl.plan("four.plan.yaml");
    const cases: Array<[(plan: Record<string, any>) => void, RegExp]> = [
      [(plan) => delete plan.steps[0].action, /: steps\.0\.action: /],
      [(plan) => (plan.env = null), /: env: /],
      [(plan) => (plan.order = ["one", "ghost"]), /: order\.1: no step "ghost"/],
      [(plan) => (plan.order = ["two", "one"]), /: order\.0: step "two" comes before a step it needs/],
    ];
    for (const [edit, field] of cases) {
      const copy = savedCopy(planned) as unknown as Record<string, any>;
      edit(copy);
      delete copy.digest;
      const forged = withDigest(copy as Omit<PlanPreview, "digest">);
      const file = path.join(dir, "forged.json");
      writeFileSync(file, JSON.stringify(forged));
      const cli = await runCli(["apply", file, "--yes"], { home: toolctl.home, cwd: dir });
      expect(cli.code, cli.stderr).toBe(2);
      expect(cli.stderr).toMatch(/^error: /);
      expect(cli.stderr).not.toMatch(/\n\s+at /);
      expect(cli.stderr).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}${field.source}`));
      const api = await rejection(toolctl.apply(savedCopy(forged), { saved: true, yes: true }));
      expect(api.exitCode).toBe(2);
      expect((api.details.problems as string[]).some((problem) => new RegExp(`^saved plan${field.source}`).test(problem))).toBe(true);
    }
    expect((await toolctl.planRuns()).total).toBe(0);
    expect(logOf(dir)).toEqual([]);
  });

  it("the CLI shows a plan run with each step's outcome and what rolled it back", async () => {
    const dir = stepsTool(tempDir("toolctl-plan-steps-"));
    const toolctl = await stepsHome(dir);
    stepsPlan(dir, [{ id: "one" }, { id: "two", after: "one", fail: true }]);
    const applied = await toolctl.apply(await toolctl.plan("four.plan.yaml"), { yes: true });
    expect(applied.status).toBe("rolled_back");
    const shown = await runCli(["plan-runs", "show", applied.id], { home: toolctl.home });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/one +steps\.mark +rolled back ex_\S+ · rolled back by steps\.unmark/);
  });

  it("a step that will need a TOTP code, with 2FA not set up, refuses the apply before any step acts", async () => {
    const dir = writeFiles({
      "pay.yaml": PAY_ECHO,
      "two.plan.yaml": [
        "apiVersion: toolctl/v1",
        "kind: Plan",
        "name: two",
        "steps:",
        "  - { id: small, action: pay.charge, input: { amount: 0.5 } }",
        "  - { id: big, action: pay.charge, input: { amount: 150 }, dependsOn: [small] }",
        "",
      ].join("\n"),
    });
    const toolctl = await openApi({ cwd: dir });
    expect((await toolctl.importManifests([path.join(dir, "pay.yaml")])).failed).toEqual([]);
    const error = await rejection(toolctl.plan("two.plan.yaml").then((plan) => toolctl.apply(plan, { yes: true })));
    expect(error.exitCode).toBe(3);
    expect(error.message).toBe(
      "plan two refused: step big (pay.charge) will need a TOTP code, but 2FA is not set up: run toolctl 2fa enroll first; nothing ran",
    );
    expect((await toolctl.executions()).total).toBe(0);
    expect((await toolctl.planRuns()).items).toEqual([]);
  });

  it("two steps that each need a TOTP code and one --otp: refused before any step acts, since a code is accepted once", async () => {
    const dir = writeFiles({
      "pay.yaml": PAY_ECHO,
      "big.plan.yaml":
        "apiVersion: toolctl/v1\nkind: Plan\nname: big\nsteps:\n  - { id: first, action: pay.charge, input: { amount: 150 } }\n  - { id: second, action: pay.charge, input: { amount: 160 }, dependsOn: [first] }\n",
    });
    const toolctl = await openApi({ cwd: dir });
    expect((await toolctl.importManifests([path.join(dir, "pay.yaml")])).failed).toEqual([]);
    const { secret } = await toolctl.beginTwoFactor("ada@host");
    await toolctl.confirmTwoFactor(generateTotp(secret, Date.now() - 30_000));
    const error = await rejection(toolctl.plan("big.plan.yaml").then((plan) => toolctl.apply(plan, { yes: true, otp: generateTotp(secret, Date.now()) })));
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(
      "plan big: steps first (pay.charge), second (pay.charge) each need a TOTP code, and --otp gives one, which is accepted once: apply it in a terminal without --otp, where each step asks for its own when it runs; nothing ran",
    );
    expect((await toolctl.executions()).total).toBe(0);
    expect((await toolctl.planRuns()).items).toEqual([]);
  });

  it("apply --quiet prints nothing on stderr when nobody is asked, even without --yes", async () => {
    const dir = stepsTool(tempDir("toolctl-plan-quiet-"));
    const toolctl = await stepsHome(dir);
    stepsPlan(dir, [{ id: "one" }, { id: "two", after: "one" }]);
    const preview = await toolctl.plan("four.plan.yaml");
    expect(preview.total.needApproval).toBe(0);
    const quiet = await runCli(["apply", "four.plan.yaml", "-q"], { home: toolctl.home, cwd: dir });
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe("");
    expect(logOf(dir)).toEqual(["one", "two"]);
  });

  it("reports an irreversible step as left in place when a later one fails", async () => {
    const { toolctl } = await launchSetup({ SITE_SLD: "left-in-place", OWNER_PHONE: "+14155550100" });
    const applied = await toolctl.apply(await toolctl.plan("launch-site.plan.yaml"), { yes: true });
    expect(applied.exitCode).toBe(1);
    expect(applied.steps.map((s) => [s.id, s.status])).toEqual([
      ["domain", "left_in_place"],
      ["site", "rolled_back"],
      ["notify", "failed"],
    ]);
    expect(applied.steps[0]!.note).toBe("irreversible: left in place");
    expect(applied.status).toBe("failed");
    const site = applied.steps[1]!;
    const deployment = (await toolctl.execution(site.executionId!)) as { output: { id: string } };
    expect(vercel.deleted).toContain(deployment.output.id);
  });

  it("resume does not report success when steps after a rolled-back or left-in-place step could not run: it names them", async () => {
    const dir = stepsTool(tempDir("toolctl-plan-blocked-"));
    const toolctl = await stepsHome(dir);
    stepsPlan(dir, [
      { id: "one", action: "steps.stamp" },
      { id: "two", after: "one" },
      { id: "three", after: "two", fail: true },
      { id: "four", after: "three" },
    ]);
    const applied = await toolctl.apply(await toolctl.plan("four.plan.yaml"), { yes: true });
    expect(applied.exitCode).toBe(1);
    expect(applied.status).toBe("failed");
    expect(applied.steps.map((s) => s.status)).toEqual(["left_in_place", "rolled_back", "failed", "not_started"]);

    const resumed = await toolctl.resumePlanRun(applied.id, { yes: true });
    expect(resumed.exitCode).toBe(1);
    expect(resumed.status).toBe("failed");
    const steps = Object.fromEntries(resumed.steps.map((s) => [s.id, s]));
    expect(steps.three).toMatchObject({ status: "not_started", note: "not started: it needs step two, which was rolled back" });
    // Step two keeps what rolled it back, as plan-runs show gives it.
    const two = applied.steps.find((s) => s.id === "two")!;
    expect(steps.two).toMatchObject({ status: "rolled_back", rollbackExecutionId: two.rollbackExecutionId });
    expect(two.rollbackExecutionId).toMatch(/^ex_/);
    expect(steps.four).toMatchObject({ status: "not_started", note: "not started: it needs step three, which did not run" });
    expect(resumed.error?.message).toBe(
      `plan run ${applied.id} did not complete: 2 steps did not run: three (it needs step two, which was rolled back), four (it needs step three, which did not run)`,
    );
    expect(logOf(dir)).toEqual(["one", "two", "undo two"]);
    expect((await toolctl.planRun(applied.id)).status).toBe("failed");

    // A step after one left in place (irreversible, or with no rollback) does not run either, and is named.
    const other = stepsTool(tempDir("toolctl-plan-left-"));
    stepsPlan(other, [
      { id: "first", action: "steps.stamp" },
      { id: "second", after: "first", fail: true },
    ]);
    const elsewhere = await openApi({ home: toolctl.home, cwd: other });
    const left = await elsewhere.apply(await elsewhere.plan("four.plan.yaml"), { yes: true });
    expect(left.steps.map((s) => s.status)).toEqual(["left_in_place", "failed"]);
    const again = await elsewhere.resumePlanRun(left.id, { yes: true });
    expect(again.exitCode).toBe(1);
    expect(again.status).toBe("failed");
    expect(again.steps[1]).toMatchObject({ id: "second", status: "not_started", note: "not started: it needs step first, which was left in place" });
    expect(again.error?.message).toMatch(/did not complete: 1 step did not run: second \(it needs step first, which was left in place\)$/);
  });

  it("rolling back a run cut off by a SIGKILL records the cut-off step as unknown, and says that is why it is not clean", async () => {
    const dir = stepsTool(tempDir("toolctl-plan-kill-undo-"));
    const toolctl = await stepsHome(dir);
    stepsPlan(dir, [{ id: "one" }, { id: "two", after: "one", waitFor: "go" }]);
    await applyKilledAt(dir, toolctl.home, "go");
    const runId = (await toolctl.planRuns()).items[0]!.id;
    const undone = await toolctl.rollbackPlanRun(runId, { yes: true });
    expect(undone.status).toBe("failed");
    expect(undone.error?.message).toBe(
      `a step's outcome is unknown (it may or may not have acted): two (steps.mark); look it up before anything more (toolctl plan-runs show ${runId})`,
    );
    expect((await toolctl.planRun(runId)).steps.map((s) => [s.id, s.status])).toEqual([
      ["one", "rolled_back"],
      ["two", "unknown"],
    ]);
    expect(logOf(dir)).toEqual(["one", "undo one"]);
  });

  it("a step cut off by a SIGKILL and run again by resume is spent once: the cut-off attempt's reservation is released", async () => {
    const { dir, toolctl, runId } = await paidStepCutOff("toolctl-plan-kill-paid-");
    await resumedSpentOnce(dir, toolctl, runId);
    expect((await toolctl.audit()).filter((e) => e.type === "execution.superseded")).toHaveLength(1);
  });

  it("a step cut off twice (apply, then resume, each SIGKILLed) and then run to the end is spent once: both cut-off attempts are released", async () => {
    const { dir, toolctl, runId } = await paidStepCutOff("toolctl-plan-kill-twice-");
    rmSync(path.join(dir, "go.pid"));
    await applyKilledAt(dir, toolctl.home, "go", ["plan-runs", "resume", runId, "--yes"]);
    expect((await toolctl.budget()).spend).toMatchObject({ committedUsd: 0.7, reservedUsd: 1.4 });
    const resumed = await resumedSpentOnce(dir, toolctl, runId);
    const superseded = (await toolctl.audit()).filter((e) => e.type === "execution.superseded");
    expect(superseded).toHaveLength(2);
    const last = resumed.steps.find((s) => s.id === "two")!.executionId;
    expect(superseded.map((e) => (e.data as { by: string }).by)).toEqual([last, last]);
  });

  it("after a SIGKILL mid-apply, resume runs only what was not done: no step runs twice", async () => {
    const dir = stepsTool(tempDir("toolctl-plan-kill-"));
    const toolctl = await stepsHome(dir);
    const home = toolctl.home;
    stepsPlan(dir, [{ id: "one" }, { id: "two", after: "one" }, { id: "three", after: "two", waitFor: "go" }, { id: "four", after: "three" }]);
    await applyKilledAt(dir, home, "go");
    expect(logOf(dir)).toEqual(["one", "two"]);

    const runs = (await toolctl.planRuns()).items;
    const runId = runs[0]!.id;
    const shown = await toolctl.planRun(runId);
    expect(shown).toMatchObject({ status: "running", interrupted: true });
    expect(shown.steps.map((s) => s.status)).toEqual(["succeeded", "succeeded", "running", "pending"]);

    // Two resumes at once (two terminals; here two instances): one takes the run, the other is refused before it
    // runs a step, so nothing runs twice.
    setTimeout(() => writeFileSync(path.join(dir, "go"), ""), 1500);
    const other = await openApi({ home, cwd: dir });
    const both = await Promise.allSettled([toolctl.resumePlanRun(runId, { yes: true }), other.resumePlanRun(runId, { yes: true })]);
    const done = both.filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<Toolctl["resumePlanRun"]>>> => r.status === "fulfilled");
    const refused = both.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(done).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect((refused[0]!.reason as Error).message).toBe(`plan run ${runId} is still running (process ${process.pid}); wait for it, or stop it first`);
    const resumed = done[0]!.value;
    expect(resumed.exitCode).toBe(0);
    expect(resumed.status).toBe("succeeded");
    expect(logOf(dir)).toEqual(["one", "two", "three", "four"]);
    const again = await rejection(toolctl.resumePlanRun(runId, { yes: true }));
    expect(again.exitCode).toBe(2);
    expect(again.message).toContain(`plan run ${runId} is succeeded: there is nothing to resume`);
  });
});
