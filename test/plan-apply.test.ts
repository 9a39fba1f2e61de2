/**
 * Plan and apply end to end: the built binary, the shipped example plan (manifests/examples/launch) against fake
 * Namecheap, Vercel and Twilio servers on 127.0.0.1, and a small process tool whose steps append to a log (for
 * rollback order, failures and a SIGKILL in the middle of an apply).
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { FakeNamecheap } from "./fakes/namecheap.js";
import { loopbackCopy } from "./fakes/server.js";
import { FakeTwilio } from "./fakes/twilio.js";
import { FakeVercel } from "./fakes/vercel.js";
import { binPath, examplesDir, repoRoot, runCli, runJson, tempDir, writeFiles } from "./helpers.js";

const OWNER = "+14155552671";
const FROM = "+15005550006";
const FORM_KEY = "form-key-7f3a9c2e51d8";
let namecheap: FakeNamecheap;
let vercel: FakeVercel;
let twilio: FakeTwilio;
let manifests: string;
let env: Record<string, string>;

beforeAll(async () => {
  [namecheap, vercel, twilio] = await Promise.all([new FakeNamecheap().start(), new FakeVercel().start(), new FakeTwilio({ verified: [OWNER], owned: [FROM] }).start()]);
  manifests = tempDir("toolctl-plan-manifests-");
  loopbackCopy(path.join(repoRoot, "manifests", "namecheap.yaml"), namecheap.url, manifests);
  loopbackCopy(path.join(repoRoot, "manifests", "vercel.yaml"), vercel.url, manifests);
  loopbackCopy(path.join(repoRoot, "manifests", "twilio.yaml"), twilio.url, manifests);
  env = {
    NAMECHEAP_API_USER: namecheap.apiUser, NAMECHEAP_API_KEY: namecheap.apiKey, NAMECHEAP_CLIENT_IP: "203.0.113.7",
    VERCEL_TOKEN: vercel.token, TWILIO_ACCOUNT_SID: twilio.accountSid, TWILIO_AUTH_TOKEN: twilio.authToken, SITE_CONTACT_FORM_KEY: FORM_KEY,
    SITE_SLD: "launch-test", SITE_TLD: "com", OWNER_PHONE: OWNER, SMS_FROM: FROM,
  };
});
afterAll(async () => {
  await Promise.all([namecheap.close(), vercel.close(), twilio.close()]);
});

/** A fresh home with the three providers imported, and a copy of the example's directory to run in. */
async function launchSetup(): Promise<{ home: string; dir: string }> {
  const home = tempDir("toolctl-plan-home-");
  const imported = await runCli(["import", manifests], { home });
  expect(imported.stderr).toBe("");
  const dir = tempDir("toolctl-plan-launch-");
  cpSync(path.join(examplesDir, "launch"), dir, { recursive: true });
  return { home, dir };
}

const sideEffects = () => ({ registrations: namecheap.registrations.length, deployments: vercel.deployments.size, sms: twilio.messages.length, uploads: vercel.uploads.length });

describe("toolctl plan", () => {
  it("shows each step's request, cost, risk, approval and rollback, and the total, touching nothing (table and JSON)", async () => {
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

    const json = await runJson(["plan", "launch-site.plan.yaml"], { home, cwd: dir, env });
    expect(json.code).toBe(0);
    const plan = json.json;
    expect(plan.format).toBe("toolctl-plan/1");
    expect(plan.order).toEqual(["domain", "site", "notify"]);
    expect(plan.steps.map((s: any) => [s.id, s.needs, s.risk, s.approval.required, s.reversible, s.cost.quoted])).toEqual([
      ["domain", [], "HIGH", true, false, true],
      ["site", ["domain"], "MEDIUM", true, true, false],
      ["notify", ["site"], "LOW", false, false, false],
    ]);
    expect(plan.steps[0].request).toMatchObject({ runtime: "http", method: "POST" });
    expect(plan.steps[0].request.body).toMatchObject({ Command: "namecheap.domains.create" });
    expect(plan.steps[0].request.url).not.toContain(namecheap.apiKey);
    expect(plan.total).toMatchObject({ acting: 3, needApproval: 2, needTwoFactor: 0, irreversible: 2 });
    expect(plan.total.usd).toBeGreaterThan(10.28);
    expect(plan.willAct).toBe(true);
    // Only the price check ran: nothing registered, deployed, uploaded or sent.
    expect(sideEffects()).toEqual(before);
    for (const secret of [namecheap.apiKey, vercel.token, twilio.authToken, FORM_KEY]) {
      expect(table.stdout + json.stdout).not.toContain(secret);
    }
  });

  it("--out saves a plan with secret references, never secret values", async () => {
    const { home, dir } = await launchSetup();
    const saved = await runCli(["plan", "launch-site.plan.yaml", "--out", "launch.json"], { home, cwd: dir, env });
    expect(saved.code).toBe(0);
    expect(saved.stderr).toContain("saved plan pl_");
    const text = readFileSync(path.join(dir, "launch.json"), "utf8");
    expect(text).toContain("{{ secrets.SITE_CONTACT_FORM_KEY }}");
    for (const secret of [namecheap.apiKey, namecheap.apiUser, vercel.token, twilio.accountSid, twilio.authToken, FORM_KEY, "203.0.113.7"]) expect(text).not.toContain(secret);
  });

  it("--detailed-exitcode: 2 when it would act, 0 when it would not, 1 on error, 3 over budget", async () => {
    const { home, dir } = await launchSetup();
    expect((await runCli(["plan", "launch-site.plan.yaml", "--detailed-exitcode"], { home, cwd: dir, env })).code).toBe(2);
    writeFiles({
      "reads.plan.yaml": "apiVersion: toolctl/v1\nkind: Plan\nname: reads\nsteps:\n  - id: check\n    action: namecheap.check_domain\n    input: { domain: free-name.com }\n"
        + "  - id: later\n    action: twilio.send_sms\n    condition: \"{{ env.NEVER_SET }}\"\n    input: { to: \"+14155552671\", from: \"+15005550006\", body: hi }\n",
      "cycle.plan.yaml": "apiVersion: toolctl/v1\nkind: Plan\nname: cycle\nsteps:\n  - id: a\n    action: echo.say\n    input: { message: \"{{ steps.b.output.message }}\" }\n  - id: b\n    action: echo.say\n    input: { message: \"{{ steps.a.output.message }}\" }\n",
    }, dir);
    const reads = await runCli(["plan", "reads.plan.yaml", "--detailed-exitcode"], { home, cwd: dir, env });
    expect(reads.stdout).toContain("Plan: no changes");
    expect(reads.code).toBe(0);
    const cycle = await runCli(["plan", "cycle.plan.yaml", "--detailed-exitcode"], { home, cwd: dir, env });
    expect(cycle.code).toBe(1);
    expect(cycle.stderr).toContain("cycle.plan.yaml:5:5: steps.0: steps depend on each other in a cycle: a → b → a");
    expect((await runCli(["plan", "cycle.plan.yaml"], { home, cwd: dir, env })).code).toBe(2);
    writeFiles({ "config.yaml": "limits:\n  dailyUsd: 10\n  perActionUsd: 100\n" }, home);
    const over = await runCli(["plan", "launch-site.plan.yaml", "--detailed-exitcode"], { home, cwd: dir, env });
    expect(over.stdout).toMatch(/Over budget: the plan's total of \$10\.\d+: .*over the daily limit of \$10\.00/);
    expect(over.code).toBe(3);
  });

  it("names the file, line and field of a bad plan", async () => {
    const dir = writeFiles({
      "bad.plan.yaml": "apiVersion: toolctl/v1\nkind: Plan\nname: bad\nsteps:\n  - id: a\n    action: echo\n    inputs: {}\n  - id: b\n    action: echo.say\n    input: { message: \"{{ steps.zz.output.x }}\" }\n",
    });
    const result = await runCli(["plan", "bad.plan.yaml"], { cwd: dir, home: tempDir() });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("bad.plan.yaml: 2 problems in plan");
    expect(result.stderr).toContain("bad.plan.yaml:6:13: steps.0.action: tool.action, such as namecheap.register_domain");
    expect(result.stderr).toContain("bad.plan.yaml:7:5: steps.0.inputs: unknown field 'inputs'");
  });
});

describe("toolctl apply", () => {
  it("applies the example plan once: one approval, three linked executions, outputs flowing between steps", async () => {
    const { home, dir } = await launchSetup();
    await runCli(["plan", "launch-site.plan.yaml", "--out", "launch.json"], { home, cwd: dir, env });
    const before = sideEffects();
    const applied = await runJson(["apply", "launch.json", "--yes"], { home, cwd: dir, env });
    expect(applied.stderr).toBe("");
    expect(applied.code).toBe(0);
    expect(applied.json).toMatchObject({ name: "launch-site", status: "succeeded", exitCode: 0 });
    expect(applied.json.steps.map((s: any) => [s.id, s.status])).toEqual([["domain", "succeeded"], ["site", "succeeded"], ["notify", "succeeded"]]);
    expect(sideEffects()).toMatchObject({ registrations: before.registrations + 1, deployments: before.deployments + 1, sms: before.sms + 1 });
    const deployment = [...vercel.deployments.values()].at(-1)!;
    expect(deployment.alias).toEqual(["launch-test.vercel.app", "launch-test.com"]);
    expect(twilio.messages.at(-1)!.body).toContain(`launch-test.com is live: https://${deployment.url}`);
    expect(vercel.projects.get("launch-test")!.env.map((e) => e.key)).toEqual(["CONTACT_FORM_KEY"]);

    const run = await runJson(["plan-runs", "show", applied.json.runId], { home });
    expect(run.json.status).toBe("succeeded");
    for (const step of run.json.steps) {
      const execution = await runJson(["executions", "show", step.executionId], { home });
      expect(execution.json).toMatchObject({ status: "succeeded", planRunId: applied.json.runId });
      expect(JSON.stringify(execution.json)).not.toContain(FORM_KEY);
    }
    // A saved plan is applied once.
    const again = await runCli(["apply", "launch.json", "--yes"], { home, cwd: dir, env });
    expect(again.code).toBe(3);
    expect(again.stderr).toContain(`was already applied (plan run ${applied.json.runId}, succeeded)`);
  });

  it("refuses a stale saved plan: a manifest re-imported, an input changed, or a budget that no longer allows it", async () => {
    const { home, dir } = await launchSetup();
    await runCli(["plan", "launch-site.plan.yaml", "--out", "launch.json"], { home, cwd: dir, env });
    const before = sideEffects();
    const changedEnv = await runCli(["apply", "launch.json", "--yes"], { home, cwd: dir, env: { ...env, SITE_SLD: "other-name" } });
    expect(changedEnv.code).toBe(3);
    expect(changedEnv.stderr).toContain("saved plan is stale: environment variable SITE_SLD changed");

    writeFiles({ "config.yaml": "limits:\n  dailyUsd: 10\n  perActionUsd: 100\n" }, home);
    const broke = await runCli(["apply", "launch.json", "--yes"], { home, cwd: dir, env });
    expect(broke.code).toBe(3);
    expect(broke.stderr).toContain("the budget no longer allows it");

    const copy = path.join(manifests, "vercel.yaml");
    const document = parseDocument(readFileSync(copy, "utf8"));
    const edited = tempDir("toolctl-plan-edited-");
    document.set("description", "Deploy, changed since the plan");
    writeFileSync(path.join(edited, "vercel.yaml"), document.toString());
    expect((await runCli(["import", edited], { home })).code).toBe(0);
    const changedTool = await runCli(["apply", "launch.json", "--yes"], { home, cwd: dir, env });
    expect(changedTool.code).toBe(3);
    expect(changedTool.stderr).toContain("the manifest of vercel changed (re-imported since the plan was made)");
    expect(sideEffects()).toEqual(before);
  });

  it("asks for one approval and exits 4 when nobody can answer", async () => {
    const { home, dir } = await launchSetup();
    const result = await runCli(["apply", "launch-site.plan.yaml"], { home, cwd: dir, env });
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/plan\.launch-site needs approval .*re-run with --yes/);
  });
});

/** A process tool whose steps append to a log; `waitFor` makes a step wait for a file before acting. */
function stepsTool(dir: string): string {
  const script = [
    'log="$1"; name="$2"; wait="$3"; fail="$4"',
    'if [ -n "$wait" ]; then echo $$ > "$wait.pid"; while [ ! -e "$wait" ]; do sleep 0.05; done; fi',
    'if [ "$fail" = "yes" ]; then echo "step $name refuses" >&2; exit 1; fi',
    'echo "$name" >> "$log"; printf \'{"name":"%s"}\' "$name"',
  ].join("\n");
  writeFiles({
    "steps.yaml": [
      "apiVersion: toolctl/v1", "name: steps", "description: Steps that append to a log", "runtime: process",
      // Confined like every process tool: the log (in the tool's own directory) is the one thing it may write.
      "process: { timeoutSeconds: 60, writable: [.] }", "actions:",
      "  mark:", "    description: Append a name to the log", "    kind: update", "    idempotent: true",
      "    inputSchema: { type: object, required: [log, name], properties: { log: { type: string }, name: { type: string }, waitFor: { type: string }, fail: { type: string } } }",
      `    command: ["sh", "-c", ${JSON.stringify(script)}, "mark", "{{ input.log }}", "{{ input.name }}", "{{ input.waitFor }}", "{{ input.fail }}"]`,
      "    rollback: { action: unmark, input: { log: \"{{ input.log }}\", name: \"{{ input.name }}\" } }",
      "  stamp:", "    description: Append a name to the log, for good (no rollback)", "    kind: update", "    idempotent: true",
      "    inputSchema: { type: object, required: [log, name], properties: { log: { type: string }, name: { type: string }, waitFor: { type: string }, fail: { type: string } } }",
      `    command: ["sh", "-c", ${JSON.stringify(script)}, "stamp", "{{ input.log }}", "{{ input.name }}", "{{ input.waitFor }}", "{{ input.fail }}"]`,
      "  unmark:", "    description: Append 'undo name' to the log", "    kind: delete", "    idempotent: true",
      "    inputSchema: { type: object, required: [log, name], properties: { log: { type: string }, name: { type: string } } }",
      `    command: ["sh", "-c", "echo \\"undo $2\\" >> \\"$1\\"; echo '{}'", "unmark", "{{ input.log }}", "{{ input.name }}"]`,
    ].join("\n") + "\n",
  }, dir);
  return dir;
}

function stepsPlan(dir: string, steps: Array<{ id: string; after?: string; fail?: boolean; waitFor?: string; action?: string }>): void {
  const log = path.join(dir, "log");
  const lines = ["apiVersion: toolctl/v1", "kind: Plan", "name: four", "steps:"];
  for (const step of steps) {
    lines.push(`  - id: ${step.id}`, `    action: ${step.action ?? "steps.mark"}`, `    input: { log: ${JSON.stringify(log)}, name: ${step.id}, fail: ${step.fail ? "'yes'" : "'no'"}, waitFor: ${JSON.stringify(step.waitFor ? path.join(dir, step.waitFor) : "")} }`);
    if (step.after) lines.push(`    dependsOn: [${step.after}]`);
  }
  writeFiles({ "four.plan.yaml": `${lines.join("\n")}\n` }, dir);
}

const logOf = (dir: string) => (existsSync(path.join(dir, "log")) ? readFileSync(path.join(dir, "log"), "utf8").trim().split("\n") : []);

describe("failure, rollback and resume", () => {
  it("a failure in step 3 of 4 rolls back steps 2 and 1, in that order; step 4 never starts", async () => {
    const dir = stepsTool(tempDir("toolctl-plan-steps-"));
    const home = tempDir("toolctl-plan-steps-home-");
    expect((await runCli(["import", path.join(dir, "steps.yaml")], { home })).code).toBe(0);
    stepsPlan(dir, [{ id: "one" }, { id: "two", after: "one" }, { id: "three", after: "two", fail: true }, { id: "four", after: "three" }]);
    const applied = await runJson(["apply", "four.plan.yaml", "--yes"], { home, cwd: dir });
    expect(applied.code).toBe(1);
    expect(applied.json.status).toBe("rolled_back");
    expect(applied.json.steps.map((s: any) => [s.id, s.status])).toEqual([["one", "rolled_back"], ["two", "rolled_back"], ["three", "failed"], ["four", "not_started"]]);
    expect(applied.json.error.message).toMatch(/^step three \(steps\.mark\): .*; the completed steps were rolled back$/);
    expect(logOf(dir)).toEqual(["one", "two", "undo two", "undo one"]);
    const shown = await runCli(["plan-runs", "show", applied.json.runId], { home });
    expect(shown.stdout).toMatch(/two +steps\.mark +rolled back ex_\S+ · rolled back by steps\.unmark/);
  });

  it("reports an irreversible step as left in place when a later one fails", async () => {
    const { home, dir } = await launchSetup();
    const applied = await runJson(["apply", "launch-site.plan.yaml", "--yes"], { home, cwd: dir, env: { ...env, SITE_SLD: "left-in-place", OWNER_PHONE: "+14155550100" } });
    expect(applied.code).toBe(1);
    expect(applied.json.steps.map((s: any) => [s.id, s.status])).toEqual([["domain", "left_in_place"], ["site", "rolled_back"], ["notify", "failed"]]);
    expect(applied.json.steps[0].note).toBe("irreversible: left in place");
    expect(applied.json.status).toBe("failed");
    const site = applied.json.steps[1];
    const deployment = await runJson(["executions", "show", site.executionId], { home });
    expect(vercel.deleted).toContain(deployment.json.output.id);
  });

  it("resume does not report success when steps after a rolled-back or left-in-place step could not run: it names them", async () => {
    const dir = stepsTool(tempDir("toolctl-plan-blocked-"));
    const home = tempDir("toolctl-plan-blocked-home-");
    expect((await runCli(["import", path.join(dir, "steps.yaml")], { home })).code).toBe(0);
    stepsPlan(dir, [{ id: "one", action: "steps.stamp" }, { id: "two", after: "one" }, { id: "three", after: "two", fail: true }, { id: "four", after: "three" }]);
    const applied = await runJson(["apply", "four.plan.yaml", "--yes"], { home, cwd: dir });
    expect(applied.code).toBe(1);
    expect(applied.json.status).toBe("failed");
    expect(applied.json.steps.map((s: any) => s.status)).toEqual(["left_in_place", "rolled_back", "failed", "not_started"]);

    const resumed = await runJson(["plan-runs", "resume", applied.json.runId, "--yes"], { home, cwd: dir });
    expect(resumed.code).toBe(1);
    expect(resumed.json.status).toBe("failed");
    const steps = Object.fromEntries(resumed.json.steps.map((s: any) => [s.id, s]));
    expect(steps.three).toMatchObject({ status: "not_started", note: "not started: it needs step two, which was rolled back" });
    expect(steps.four).toMatchObject({ status: "not_started", note: "not started: it needs step three, which did not run" });
    expect(resumed.json.error.message).toBe(
      `plan run ${applied.json.runId} did not complete: 2 steps did not run: three (it needs step two, which was rolled back), four (it needs step three, which did not run)`,
    );
    expect(logOf(dir)).toEqual(["one", "two", "undo two"]);
    expect((await runJson(["plan-runs", "show", applied.json.runId], { home })).json.status).toBe("failed");

    // A step after one left in place (irreversible, or with no rollback) does not run either, and is named.
    const other = stepsTool(tempDir("toolctl-plan-left-"));
    stepsPlan(other, [{ id: "first", action: "steps.stamp" }, { id: "second", after: "first", fail: true }]);
    const left = await runJson(["apply", "four.plan.yaml", "--yes"], { home, cwd: other });
    expect(left.json.steps.map((s: any) => s.status)).toEqual(["left_in_place", "failed"]);
    const again = await runJson(["plan-runs", "resume", left.json.runId, "--yes"], { home, cwd: other });
    expect(again.code).toBe(1);
    expect(again.json.status).toBe("failed");
    expect(again.json.steps[1]).toMatchObject({ id: "second", status: "not_started", note: "not started: it needs step first, which was left in place" });
    expect(again.json.error.message).toMatch(/did not complete: 1 step did not run: second \(it needs step first, which was left in place\)$/);
  });

  it("after a SIGKILL mid-apply, resume runs only what was not done: no step runs twice", async () => {
    const dir = stepsTool(tempDir("toolctl-plan-kill-"));
    const home = tempDir("toolctl-plan-kill-home-");
    expect((await runCli(["import", path.join(dir, "steps.yaml")], { home })).code).toBe(0);
    stepsPlan(dir, [{ id: "one" }, { id: "two", after: "one" }, { id: "three", after: "two", waitFor: "go" }, { id: "four", after: "three" }]);
    const child = spawn(process.execPath, [binPath, "apply", "four.plan.yaml", "--yes"], { cwd: dir, env: { ...process.env, TOOLCTL_HOME: home, CI: "true" }, stdio: "ignore" });
    // Step three is running (its process waits for the go file) once its pid file exists.
    const pidFile = path.join(dir, "go.pid");
    for (let waited = 0; !existsSync(pidFile); waited += 50) {
      if (waited > 20_000) throw new Error("step three never started");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill("SIGKILL");
    await new Promise((resolve) => child.on("close", resolve));
    process.kill(Number(readFileSync(pidFile, "utf8")), "SIGKILL");
    expect(logOf(dir)).toEqual(["one", "two"]);

    const runs = await runJson(["plan-runs", "list"], { home });
    const runId = runs.json[0].id;
    const shown = await runJson(["plan-runs", "show", runId], { home });
    expect(shown.json).toMatchObject({ status: "running", interrupted: true });
    expect(shown.json.steps.map((s: any) => s.status)).toEqual(["succeeded", "succeeded", "running", "pending"]);

    writeFileSync(path.join(dir, "go"), "");
    const resumed = await runJson(["plan-runs", "resume", runId, "--yes"], { home, cwd: dir });
    expect(resumed.code).toBe(0);
    expect(resumed.json.status).toBe("succeeded");
    expect(logOf(dir)).toEqual(["one", "two", "three", "four"]);
    const again = await runCli(["plan-runs", "resume", runId, "--yes"], { home, cwd: dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`plan run ${runId} is succeeded: there is nothing to resume`);
  });
});
