/**
 * When `plan` marks a step's cost an estimate, through the built binary: only when the cost is read from an input
 * field that waits on an earlier step. A cost read from a fixed field is the cost, whatever else in the input
 * waits, and `apply` runs it as planned; a real estimate stays marked, and one that comes out a risk level higher
 * is still refused.
 */
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { homeWithExamples, runCli, runJson, writeFiles } from "./helpers.js";

const FILES = {
  "bill.yaml": `apiVersion: toolctl/v1
name: bill
description: Pretend bills (echo)
runtime: echo
actions:
  pay:
    description: Pay an amount in dollars
    kind: create
    inputSchema: { type: object, required: [amount, to], properties: { amount: { type: number }, to: { type: string } } }
    cost: { fromInput: amount }
  text:
    description: Send a text, $6 a segment
    kind: create
    inputSchema: { type: object, required: [body], properties: { body: { type: string } } }
    cost: { perUnit: 6, units: { smsSegments: body } }
`,
  // The amount is fixed; only the payee waits on step one.
  "fixed.plan.yaml": `apiVersion: toolctl/v1
kind: Plan
name: fixed
steps:
  - id: one
    action: echo.say
    input: { message: ada }
  - id: two
    action: bill.pay
    input: { amount: 1, to: "{{ steps.one.output.message }}" }
`,
  // The amount itself waits on step one.
  "waits.plan.yaml": `apiVersion: toolctl/v1
kind: Plan
name: waits
steps:
  - id: one
    action: echo.say
    input: { message: "5" }
  - id: two
    action: bill.pay
    input: { amount: "{{ steps.one.output.message }}", to: ada }
`,
  // The text waits on step one: planned as one segment ($6, MEDIUM), it is three ($18, HIGH) once known.
  "rises.plan.yaml": `apiVersion: toolctl/v1
kind: Plan
name: rises
steps:
  - id: one
    action: echo.say
    input: { message: "${"x".repeat(400)}" }
  - id: two
    action: bill.text
    input: { body: "{{ steps.one.output.message }}" }
`,
};

let home: string;
let dir: string;

beforeAll(async () => {
  home = await homeWithExamples();
  dir = writeFiles(FILES);
  const imported = await runCli(["import", path.join(dir, "bill.yaml")], { home });
  expect(imported.code, imported.stderr).toBe(0);
});

const stepTwo = async (file: string) => {
  const plan = await runJson(["plan", path.join(dir, file)], { home });
  expect(plan.code, plan.stderr).toBe(0);
  return plan.json.steps.find((s: { id: string }) => s.id === "two");
};

describe("a step's cost in a plan", () => {
  it("is not an estimate when it is read from a fixed field, though another field waits on an earlier step; apply runs it as planned", async () => {
    expect((await stepTwo("fixed.plan.yaml")).cost).toMatchObject({ usd: 1, estimated: false, basis: "input.amount" });
    const table = await runCli(["plan", path.join(dir, "fixed.plan.yaml")], { home });
    expect(table.stdout).toMatch(/two +bill\.pay +\$1\.00 +MEDIUM/);
    expect(table.stdout).not.toContain("(estimate)");
    const applied = await runJson(["apply", path.join(dir, "fixed.plan.yaml"), "--yes"], { home });
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.json.steps.map((s: { status: string }) => s.status)).toEqual(["succeeded", "succeeded"]);
    expect(applied.json.totalUsd).toBe(1);
  });

  it("is an estimate when the field it is read from waits on an earlier step", async () => {
    expect((await stepTwo("waits.plan.yaml")).cost).toMatchObject({ usd: null, estimated: true });
    const rises = await stepTwo("rises.plan.yaml");
    expect(rises.cost).toMatchObject({ usd: 6, estimated: true });
    expect(rises.risk).toBe("MEDIUM");
    const table = await runCli(["plan", path.join(dir, "rises.plan.yaml")], { home });
    expect(table.stdout).toMatch(/two +bill\.text +\$6\.00 \(estimate\) +MEDIUM/);
  });

  it("an estimate that comes out a risk level higher is refused at apply", async () => {
    const applied = await runJson(["apply", path.join(dir, "rises.plan.yaml"), "--yes"], { home });
    expect(applied.code).toBe(3);
    expect(applied.json.steps.find((s: { id: string }) => s.id === "two").status).toBe("failed");
    expect(applied.json.error.message).toContain("its risk is now HIGH, the plan approved MEDIUM; make a new plan");
  });
});
