/**
 * A compensation's time limit (`rollback.timeoutSeconds`) is a timeout of the compensation itself: it is counted
 * from when the compensation starts, so a person deciding its approval is not cut short, and running out is said
 * as a timeout (exit 5 when it may have acted), never as Ctrl-C (exit 130). Through the library API, with a real
 * program that takes longer than the limit.
 */
import { describe, expect, it } from "vitest";
import { openApi, writeFiles } from "./helpers.js";

const manifest = `apiVersion: toolctl/v1
name: rb
description: Makes and unmakes (a real program, slow to unmake)
runtime: process
process: { timeoutSeconds: 20 }
actions:
  make:
    description: Make
    kind: create
    command: [/bin/sh, -c, "echo '{\\"id\\":\\"abc\\"}'"]
    rollback: { action: unmake, input: { id: "{{ output.id }}" } }
  makeslowly:
    description: Make, then be undone slowly
    kind: create
    command: [/bin/sh, -c, "echo '{\\"id\\":\\"abc\\"}'"]
    rollback: { action: unmakeslowly, input: { id: "{{ output.id }}" } }
  unmake:
    description: Unmake, at a price (so a person approves it)
    kind: delete
    cost: { fixed: 1 }
    inputSchema: { type: object, properties: { id: { type: string } } }
    command: [/bin/sh, -c, "echo '{\\"deleted\\":true}'"]
    rollback: irreversible
  unmakeslowly:
    description: Unmake, slowly
    kind: delete
    inputSchema: { type: object, properties: { id: { type: string } } }
    command: [/bin/sh, -c, "sleep 10; echo '{\\"deleted\\":true}'"]
    rollback: irreversible
`;

async function home() {
  const toolctl = await openApi({ env: { TOOLCTL_ROLLBACK_TIMEOUT_SECONDS: "1" } });
  expect((await toolctl.importManifests([writeFiles({ "rb.yaml": manifest })])).failed).toEqual([]);
  return toolctl;
}

describe("a compensation's time limit", () => {
  it("stops a compensation that takes longer, as a timeout: unknown, exit 5, not an interruption", async () => {
    const toolctl = await home();
    const made = await toolctl.run("rb.makeslowly", {}, { yes: true });
    expect(made.status).toBe("succeeded");
    const started = Date.now();
    const undo = await toolctl.rollback(made.executionId, { yes: true });
    expect(Date.now() - started).toBeLessThan(8000);
    expect(undo).toMatchObject({ status: "unknown", exitCode: 5, error: { category: "timeout", exitCode: 5, code: "unknown_outcome" } });
    expect(undo.error?.message).toBe(
      "rb.unmakeslowly did not finish within rollback.timeoutSeconds (1 s) and was stopped; it may have done part of its work: check before retrying",
    );
    expect(await toolctl.execution(undo.executionId)).toMatchObject({ status: "unknown", error: { message: undo.error?.message, category: "timeout" } });
  });

  it("is the only timeout said so: a caller's own signal (AbortSignal.timeout) stays an interruption", async () => {
    const toolctl = await openApi();
    expect((await toolctl.importManifests([writeFiles({ "rb.yaml": manifest })])).failed).toEqual([]);
    const made = await toolctl.run("rb.makeslowly", {}, { yes: true });
    const undo = await toolctl.rollback(made.executionId, { yes: true, signal: AbortSignal.timeout(500) });
    expect(undo).toMatchObject({ status: "unknown", exitCode: 130 });
    expect(undo.error?.message).not.toContain("rollback.timeoutSeconds");
  });

  it("does not count the time a person takes to approve it", async () => {
    const toolctl = await home();
    const made = await toolctl.run("rb.make", {}, { yes: true });
    const undo = await toolctl.rollback(made.executionId, {
      approve: async () => {
        await new Promise((resolve) => setTimeout(resolve, 1500));
        return { approved: true };
      },
    });
    expect(undo).toMatchObject({ status: "succeeded", exitCode: 0, output: { deleted: true } });
    expect(await toolctl.execution(made.executionId)).toMatchObject({ status: "rolled_back" });
  });
});
