/**
 * A rollback chosen by the original's output (`rollback:` as a list of compensations with `when`): what the
 * manifest schema accepts and refuses (parseManifest), and which compensation `toolctl rollback` runs, through
 * the built binary with the echo runtime (its output is its input, so a test decides the output).
 */
import { describe, expect, it } from "vitest";
import { ValidationError } from "../src/errors.js";
import { parseManifest } from "../src/manifest/load.js";
import { runCli, runJson, tempDir, writeFiles } from "./helpers.js";

const lines = (...text: string[]) => `${text.join("\n")}\n`;
const HEADER = ["apiVersion: toolctl/v1", "name: shop", "description: A shop", "runtime: echo", "actions:"];
const ACTIONS = [
  "  refund: { description: give the money back, kind: create, rollback: irreversible }",
  "  cancel: { description: stop the order, kind: update, rollback: irreversible }",
];

function problemsOf(text: string): string[] {
  try {
    parseManifest(text, "tool.yaml");
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).details.problems ?? [];
  }
  throw new Error("parseManifest accepted the manifest");
}

describe("rollback as a list: the manifest schema", () => {
  it("accepts compensations chosen by when, with the last one as the default, and keeps them in order", () => {
    const { manifest } = parseManifest(
      lines(
        ...HEADER,
        "  pay:",
        "    description: take the money",
        "    kind: create",
        "    rollback:",
        "      - when: { path: output.status, equals: paid }",
        "        action: refund",
        '        input: { order: "{{ output.id }}" }',
        "      - when: { path: output.attempts, equals: 0 }",
        "        action: cancel",
        "      - action: cancel",
        '        input: { order: "{{ input.id }}" }',
        ...ACTIONS,
      ),
      "tool.yaml",
    );
    expect(manifest.actions.pay!.rollback).toEqual([
      { when: { path: "output.status", equals: "paid" }, action: "refund", input: { order: "{{ output.id }}" } },
      { when: { path: "output.attempts", equals: 0 }, action: "cancel", input: {} },
      { action: "cancel", input: { order: "{{ input.id }}" } },
    ]);
  });

  it("refuses a compensation naming a missing action, an entry without when before the last, and a when path outside the output", () => {
    const problems = problemsOf(
      lines(
        ...HEADER,
        "  pay:",
        "    description: take the money",
        "    kind: create",
        "    rollback:",
        "      - action: cancel",
        "      - when: { path: input.status, equals: paid }",
        "        action: refund",
        "      - when: { path: output.status, equals: paid }",
        "        action: reimburse",
        ...ACTIONS,
      ),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^tool\.yaml:10:9: actions\.pay\.rollback\.0: only the last compensation may go without when: the entries after this one would never be used$/,
        ),
        expect.stringMatching(/^tool\.yaml:11:\d+: actions\.pay\.rollback\.1\.when\.path: a path into the original's output, such as output\.status$/),
        expect.stringMatching(/^tool\.yaml:14:17: actions\.pay\.rollback\.2\.action: no action 'reimburse' in this tool$/),
      ]),
    );
  });

  it("refuses templates over anything but input and output inside a listed compensation, and an empty list", () => {
    const secret = problemsOf(
      lines(
        ...HEADER,
        "  pay:",
        "    description: take the money",
        "    kind: create",
        "    rollback:",
        "      - action: refund",
        '        input: { key: "{{ secrets.KEY }}" }',
        ...ACTIONS,
      ),
    );
    expect(
      secret.some((p) => /^tool\.yaml:\d+:\d+: actions\.pay\.rollback: template '\{\{ secrets\.KEY \}\}' may only refer to input, output$/.test(p)),
      secret.join("\n"),
    ).toBe(true);
    const empty = problemsOf(lines(...HEADER, "  pay: { description: take the money, kind: create, rollback: [] }", ...ACTIONS));
    expect(empty.join("\n")).toMatch(/actions\.pay\.rollback/);
  });
});

describe("toolctl rollback picks the compensation the original's output calls for", () => {
  async function shop(rollback: string[]): Promise<string> {
    const home = tempDir("toolctl-rollback-choice-");
    const dir = writeFiles({
      "shop.yaml": lines(...HEADER, "  pay:", "    description: take the money", "    kind: create", "    rollback:", ...rollback, ...ACTIONS),
    });
    const imported = await runCli(["import", dir], { home });
    expect(imported.code, imported.stderr).toBe(0);
    return home;
  }
  const pay = (home: string, status: string) => runJson(["run", "shop.pay", "--params", JSON.stringify({ id: "o-1", status })], { home });

  it("the first entry whose when holds, else the default; the choice is shown up front", async () => {
    const home = await shop([
      "      - when: { path: output.status, equals: paid }",
      "        action: refund",
      '        input: { order: "{{ output.id }}" }',
      "      - action: cancel",
      '        input: { order: "{{ output.id }}", was: "{{ output.status }}" }',
    ]);
    const paid = await pay(home, "paid");
    expect(paid.code, paid.stderr).toBe(0);
    expect(paid.json.undo).toBe("refund when output.status is paid, else cancel (automatic if the action acts but fails)");
    const refunded = await runJson(["rollback", paid.json.executionId, "--yes"], { home });
    expect(refunded.json).toMatchObject({ action: "refund", status: "succeeded", output: { order: "o-1" } });

    const pending = await pay(home, "pending");
    const canceled = await runJson(["rollback", pending.json.executionId, "--yes"], { home });
    expect(canceled.json).toMatchObject({ action: "cancel", status: "succeeded", output: { order: "o-1", was: "pending" } });
    expect((await runJson(["executions", "show", pending.json.executionId], { home })).json.status).toBe("rolled_back");
  });

  it("no entry applies: refused with one line saying what is declared (exit 2), and nothing runs", async () => {
    const home = await shop(["      - when: { path: output.status, equals: paid }", "        action: refund"]);
    const pending = await pay(home, "pending");
    const refused = await runJson(["rollback", pending.json.executionId, "--yes"], { home });
    expect(refused.code).toBe(2);
    expect(refused.json.error.message).toBe(
      `shop.pay declares no rollback for what ${pending.json.executionId} did (refund when output.status is paid); undo it by hand (see toolctl executions show ${pending.json.executionId})`,
    );
    const human = await runCli(["rollback", pending.json.executionId, "--yes"], { home });
    expect(human.code).toBe(2);
    expect(human.stderr.trim().split("\n")).toHaveLength(1);
    expect((await runJson(["executions", "show", pending.json.executionId], { home })).json.status).toBe("succeeded");
  });
});
