/**
 * A plan run has one JSON shape, through the built binary and the library: `apply --json`, `plan-runs list
 * --json` (its items) and `plan-runs show --json` name the run `id`, each step `id`, and give the run's `error` as
 * the error object executions have (`{ code, exitCode, category, message, problems? }`), or null.
 */
import path from "node:path";
import Database from "better-sqlite3";
import { beforeAll, describe, expect, it } from "vitest";
import type { ExecutionError } from "../src/domain/records.js";
import { homeWithExamples, openApi, runJson, writeFiles } from "./helpers.js";

const PLANS = {
  "ok.plan.yaml": "apiVersion: toolctl/v1\nkind: Plan\nname: ok\nsteps:\n  - id: one\n    action: echo.say\n    input: { message: hi }\n",
  // Step two's input names a field step one's output does not have: it fails validation when it runs.
  "bad.plan.yaml":
    "apiVersion: toolctl/v1\nkind: Plan\nname: bad\nsteps:\n  - id: one\n    action: echo.say\n    input: { message: hi }\n" +
    '  - id: two\n    action: echo.say\n    input: { message: "{{ steps.one.output.nope }}" }\n',
};

const STEP_KEYS = ["action", "executionId", "finishedAt", "id", "note", "position", "rollbackExecutionId", "status"];

let home: string;
let dir: string;

beforeAll(async () => {
  home = await homeWithExamples();
  dir = writeFiles(PLANS);
});

describe("a plan run's JSON", () => {
  it("is the same in apply --json, plan-runs list --json and plan-runs show --json, failed or not", async () => {
    for (const [file, code] of [
      ["ok.plan.yaml", 0],
      ["bad.plan.yaml", 2],
    ] as const) {
      const applied = await runJson(["apply", path.join(dir, file), "--yes"], { home });
      expect(applied.code, applied.stderr).toBe(code);
      const run = applied.json;
      expect(run.runId).toBeUndefined();
      expect(run.id).toMatch(/^pr_/);
      const listed = await runJson(["plan-runs", "list"], { home });
      const item = listed.json.items.find((i: { id: string }) => i.id === run.id);
      expect(item).toBeDefined();
      const shown = (await runJson(["plan-runs", "show", run.id], { home })).json;
      expect(shown.id).toBe(run.id);
      for (const view of [run, item, shown]) expect(view).toMatchObject({ id: run.id, planId: run.planId, name: run.name, status: run.status });
      // The steps: the same keys, the same values (the time a step finished aside, which both have).
      for (const steps of [run.steps, shown.steps]) for (const step of steps) expect(Object.keys(step).sort()).toEqual(STEP_KEYS);
      const strip = (steps: Array<Record<string, unknown>>) => steps.map(({ finishedAt: _f, ...rest }) => rest);
      expect(strip(shown.steps)).toEqual(strip(run.steps));
      // The error: one object, the same in all three, with the exit code apply ended with.
      expect(item.error).toEqual(run.error);
      expect(shown.error).toEqual(run.error);
      if (code === 0) expect(run.error).toBeNull();
      else {
        const error = run.error as ExecutionError;
        expect(error).toEqual({
          code: "input_invalid",
          exitCode: 2,
          category: "validation",
          message: expect.stringMatching(/^step two \(echo\.say\): invalid input for echo\.say: .*; the completed steps were rolled back$/),
          problems: ["input.message: is required"],
        });
        // The failed step's own execution has the error object the run's is made from.
        const failed = run.steps.find((s: { id: string }) => s.id === "two");
        const execution = (await runJson(["executions", "show", failed.executionId], { home })).json;
        expect(execution.error).toMatchObject({ code: error.code, exitCode: error.exitCode, category: error.category, problems: error.problems });
      }
    }
  });

  it("is the same through the library: apply's result, planRun and planRuns", async () => {
    const toolctl = await openApi({ home, cwd: dir });
    const applied = await toolctl.apply(await toolctl.plan("bad.plan.yaml"), { yes: true });
    expect(applied.status).toBe("rolled_back");
    const shown = await toolctl.planRun(applied.id);
    const listed = (await toolctl.planRuns()).items.find((r) => r.id === applied.id)!;
    expect(shown.error).toEqual(applied.error);
    expect(listed.error).toEqual(applied.error);
    expect(applied.error).toMatchObject({ code: "input_invalid", exitCode: 2, category: "validation" });
    expect(shown.steps.map((s) => [s.id, s.action, s.status])).toEqual(applied.steps.map((s) => [s.id, s.action, s.status]));
  });
});

describe("a plan run recorded before its error's code was kept", () => {
  it("shows an error object derived from its status", async () => {
    const old = await homeWithExamples();
    const failed = await runJson(["apply", path.join(dir, "bad.plan.yaml"), "--yes"], { home: old });
    const finished = await runJson(["apply", path.join(dir, "ok.plan.yaml"), "--yes"], { home: old });
    expect([failed.code, finished.code]).toEqual([2, 0]);
    // As an older toolctl left the rows: the message alone, one run interrupted.
    const db = new Database(path.join(old, "registry.db"));
    db.prepare("UPDATE plan_runs SET error_code = NULL, error_exit_code = NULL, error_category = NULL, error_problems = NULL").run();
    db.prepare("UPDATE plan_runs SET status = 'interrupted', error = 'stopped before every step ran' WHERE id = ?").run(finished.json.id);
    db.close();
    const shown = (await runJson(["plan-runs", "show", failed.json.id], { home: old })).json;
    expect(shown.error).toEqual({ code: "action_failed", exitCode: 1, category: "other", message: failed.json.error.message });
    const listed = (await runJson(["plan-runs", "list"], { home: old })).json;
    expect(listed.items.find((i: { id: string }) => i.id === finished.json.id).error).toEqual({
      code: "interrupted",
      exitCode: 130,
      category: "other",
      message: "stopped before every step ran",
    });
  });
});
