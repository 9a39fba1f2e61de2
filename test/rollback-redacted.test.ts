/**
 * A rollback never sends a redaction placeholder. Stored outputs (and inputs) are redacted, so a value that was a
 * secret (a declared secret's value, or anything under a secret-looking key) is `[REDACTED]` in the record; a
 * compensation rendered from it would act on the placeholder. Every path that renders a rollback input refuses
 * instead, before anything runs: `toolctl rollback` (and its dry run), the automatic rollback of an action whose
 * output did not validate, and a plan's rollback of its completed steps. Through the built binary and the library
 * API, with a real process tool whose compensation appends its argv and input to a file.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { openApi, runCli, runJson, tempDir, writeFiles } from "./helpers.js";

const KEY = "sk-thing-9f8e7d6c5b4a";
const env = { THING_KEY: KEY };

const SCRIPT = `import { appendFileSync } from "node:fs";
let text = "";
for await (const chunk of process.stdin) text += chunk;
const input = JSON.parse(text || "{}");
const [verb, ...rest] = process.argv.slice(2);
const key = process.env.THING_KEY;
const outputs = {
  make: { id: "thing-1", token: "tok-abc-12345" },
  make_note: { id: "thing-2", note: "made with " + key },
  make_whole: { id: "thing-3", ref: key },
  make_login: { id: "thing-4" },
  make_checked: { id: "thing-5", token: "tok-abc-12345" },
  make_plain: { id: "thing-6" },
};
if (verb === "unmake") {
  appendFileSync(process.env.CALLS, JSON.stringify({ argv: rest, input }) + "\\n");
  process.stdout.write(JSON.stringify({ undone: true }));
} else if (verb === "break") {
  process.stderr.write("broken on purpose\\n");
  process.exit(1);
} else process.stdout.write(JSON.stringify(outputs[verb]));
`;

const manifest = (dir: string) => `apiVersion: toolctl/v1
name: things
description: Makes and unmakes things
runtime: process
process: { writable: [${JSON.stringify(path.join(dir, "log"))}] }
actions:
  make:
    description: make a thing (its output has a token)
    kind: create
    command: [node, "{{ tool.dir }}/tool.mjs", make]
    rollback: { action: unmake, input: { id: "{{ output.id }}", token: "{{ output.token }}" } }
  make_note:
    description: make a thing (its output has the secret inside a text)
    kind: create
    command: [node, "{{ tool.dir }}/tool.mjs", make_note]
    env: { THING_KEY: "{{ secrets.THING_KEY }}" }
    rollback: { action: unmake, input: { id: "{{ output.id }}", reason: "undo {{ output.note }}" } }
  make_whole:
    description: make a thing (its whole output is passed on)
    kind: create
    command: [node, "{{ tool.dir }}/tool.mjs", make_whole]
    env: { THING_KEY: "{{ secrets.THING_KEY }}" }
    rollback: { action: unmake, input: { thing: { all: "{{ output }}" } } }
  make_login:
    description: make a thing with a password
    kind: create
    inputSchema: { type: object, properties: { password: { type: string } } }
    command: [node, "{{ tool.dir }}/tool.mjs", make_login]
    rollback: { action: unmake, input: { id: "{{ output.id }}", pw: "{{ input.password }}" } }
  make_checked:
    description: make a thing whose output never validates
    kind: create
    outputSchema: { type: object, required: [receipt] }
    command: [node, "{{ tool.dir }}/tool.mjs", make_checked]
    rollback: { action: unmake, input: { id: "{{ output.id }}", token: "{{ output.token }}" } }
  make_plain:
    description: make a thing with nothing secret
    kind: create
    command: [node, "{{ tool.dir }}/tool.mjs", make_plain]
    rollback: { action: unmake, input: { id: "{{ output.id }}" } }
  break:
    description: fail
    kind: create
    command: [node, "{{ tool.dir }}/tool.mjs", break]
    rollback: irreversible
  unmake:
    description: undo a thing
    kind: delete
    inputSchema: { type: object }
    command: [node, "{{ tool.dir }}/tool.mjs", unmake, "--input={{ input }}"]
    env: { CALLS: "{{ tool.dir }}/log/calls" }
    rollback: irreversible
`;

function thingsTool(): string {
  const dir = tempDir("toolctl-rollback-redacted-");
  writeFiles({ "tool.mjs": SCRIPT, "log/.keep": "", "things.yaml": manifest(dir) }, dir);
  return dir;
}

async function homeWith(dir: string): Promise<string> {
  const home = tempDir("toolctl-rollback-redacted-home-");
  const imported = await runCli(["import", path.join(dir, "things.yaml")], { home });
  expect(imported.code, imported.stderr).toBe(0);
  return home;
}

const callsOf = (dir: string) => {
  const file = path.join(dir, "log", "calls");
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
};

const advice = (id: string, from: string) =>
  `Let things.unmake take it from a secret of its own ({{ secrets.NAME }} in its command, env or request) rather than from the original's ${from}, or undo it by hand (see toolctl executions show ${id})`;

describe("toolctl rollback refuses a rollback input that would be a redaction placeholder", () => {
  it("a field from an output key that looks secret: one line naming the execution, the input field and the output field; exit 3; nothing runs or is recorded", async () => {
    const dir = thingsTool();
    const home = await homeWith(dir);
    const made = await runJson(["run", "things.make", "--yes"], { home, env });
    expect(made.code, made.stderr).toBe(0);
    expect(made.json.output).toEqual({ id: "thing-1", token: "[REDACTED]" });
    const id = made.json.executionId as string;
    const expected =
      `cannot roll back ${id} (things.make): rollback input token comes from output.token, which was a secret and is not kept ` +
      `(it is stored as [REDACTED]), so things.unmake would get the placeholder; nothing ran. ${advice(id, "output")}`;

    const dry = await runCli(["rollback", id, "--dry-run"], { home, env });
    expect(dry.code).toBe(3);
    expect(dry.stderr.trim()).toBe(`error: ${expected}`);
    expect(dry.stdout).toBe("");

    const refused = await runJson(["rollback", id, "--yes"], { home, env });
    expect(refused.code).toBe(3);
    expect(refused.json.error).toMatchObject({ code: "policy_refused", message: expected });
    const human = await runCli(["rollback", id, "--yes"], { home, env });
    expect(human.code).toBe(3);
    expect(human.stderr.trim().split("\n")).toEqual([`error: ${expected}`]);

    expect(callsOf(dir)).toEqual([]);
    expect((await runJson(["executions", "show", id], { home })).json.status).toBe("succeeded");
    const executions = (await runJson(["executions"], { home })).json.items as Array<{ action: string }>;
    expect(executions.map((e) => e.action)).toEqual(["make"]);
    // What is stored does not change: the output stays redacted.
    expect((await runJson(["executions", "show", id], { home })).json.output).toEqual({ id: "thing-1", token: "[REDACTED]" });
  });

  it("a declared secret's value inside a text, a whole output passed on, and a redacted input field: each refused, naming where it came from", async () => {
    const dir = thingsTool();
    const home = await homeWith(dir);
    const note = await runJson(["run", "things.make_note", "--yes"], { home, env });
    expect(note.json.output).toEqual({ id: "thing-2", note: "made with [REDACTED]" });
    const noted = await runJson(["rollback", note.json.executionId, "--yes"], { home, env });
    expect(noted.code).toBe(3);
    expect(noted.json.error.message).toContain(`(things.make_note): rollback input reason comes from output.note, which was a secret and is not kept`);

    const whole = await runJson(["run", "things.make_whole", "--yes"], { home, env });
    expect(whole.json.output).toEqual({ id: "thing-3", ref: "[REDACTED]" });
    const wholeRefused = await runJson(["rollback", whole.json.executionId, "--yes"], { home, env });
    expect(wholeRefused.code).toBe(3);
    expect(wholeRefused.json.error.message).toContain(`rollback input thing.all comes from output.ref, which was a secret and is not kept`);

    const login = await runJson(["run", "things.make_login", "-p", "password=hunter2-correct-horse", "--yes"], { home, env });
    expect(login.json.input).toEqual({ password: "[REDACTED]" });
    const loginRefused = await runJson(["rollback", login.json.executionId, "--yes"], { home, env });
    expect(loginRefused.code).toBe(3);
    expect(loginRefused.json.error.message).toBe(
      `cannot roll back ${login.json.executionId} (things.make_login): rollback input pw comes from input.password, which was a secret and is not kept ` +
        `(it is stored as [REDACTED]), so things.unmake would get the placeholder; nothing ran. ${advice(login.json.executionId, "input")}`,
    );
    expect(callsOf(dir)).toEqual([]);

    // A rollback with nothing secret still runs, and its compensation gets the real values.
    const plain = await runJson(["run", "things.make_plain", "--yes"], { home, env });
    const undone = await runJson(["rollback", plain.json.executionId, "--yes"], { home, env });
    expect(undone.code, undone.stderr).toBe(0);
    expect(callsOf(dir).map((line) => JSON.parse(line))).toEqual([{ argv: ['--input={"id":"thing-6"}'], input: { id: "thing-6" } }]);
  });
});

describe("automatic rollbacks refuse it too", () => {
  it("an action whose output did not validate is left as it is, and the result says why it was not undone", async () => {
    const dir = thingsTool();
    const home = await homeWith(dir);
    const run = await runJson(["run", "things.make_checked", "--yes"], { home, env });
    expect(run.code).toBe(5);
    expect(run.json.status).toBe("unknown");
    expect(run.json.rollback).toBeUndefined();
    expect(run.json.error.message).toContain(
      `; the automatic rollback was refused: cannot roll back ${run.json.executionId} (things.make_checked): rollback input token comes from output.token, which was a secret and is not kept`,
    );
    expect(callsOf(dir)).toEqual([]);
    const executions = (await runJson(["executions"], { home })).json.items as Array<{ action: string }>;
    expect(executions.map((e) => e.action)).toEqual(["make_checked"]);
  });

  it("a plan's completed step is not undone with a placeholder when a later step fails: rollback_failed, with the reason", async () => {
    const dir = thingsTool();
    writeFiles(
      {
        "undo.plan.yaml": [
          "apiVersion: toolctl/v1",
          "kind: Plan",
          "name: undo",
          "steps:",
          "  - { id: first, action: things.make }",
          "  - { id: second, action: things.break, dependsOn: [first] }",
          "",
        ].join("\n"),
      },
      dir,
    );
    const toolctl = await openApi({ cwd: dir, env });
    expect((await toolctl.importManifests([path.join(dir, "things.yaml")])).failed).toEqual([]);
    const applied = await toolctl.apply(await toolctl.plan("undo.plan.yaml"), { yes: true });
    expect(applied.status).toBe("failed");
    const first = applied.steps.find((step) => step.id === "first")!;
    expect(first.status).toBe("rollback_failed");
    expect(first.rollbackExecutionId ?? null).toBeNull();
    expect(first.note).toBe(
      `rollback refused: cannot roll back ${first.executionId} (things.make): rollback input token comes from output.token, which was a secret and is not kept ` +
        `(it is stored as [REDACTED]), so things.unmake would get the placeholder; nothing ran. ${advice(first.executionId!, "output")}`,
    );
    expect(callsOf(dir)).toEqual([]);
    // Rolling the run back by hand later refuses the same way.
    const again = await toolctl.rollbackPlanRun(applied.id, { yes: true });
    expect(again.steps.find((step) => step.id === "first")).toMatchObject({ status: "rollback_failed" });
    expect(callsOf(dir)).toEqual([]);
  });
});
