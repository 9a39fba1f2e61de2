/**
 * What history and stats say about runs that did not get as far as acting: a run that needed a human nobody
 * could ask (exit 4) ends `declined`, never left `requested` as if still pending; and the error category for
 * failures that fit no other category is `other`, which cannot be mistaken for the outcome status `unknown`.
 * Old registries are migrated to both.
 */
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { MIGRATIONS } from "../src/store/sqlite/migrations.js";
import { repoRoot, runCli, runJson, tempDir, writeFiles, PAY_ECHO } from "./helpers.js";

const fixture = path.join(repoRoot, "test", "fixtures", "proc.mjs");

const MANIFESTS = {
  "pay.yaml": PAY_ECHO,
  "proc.yaml": `apiVersion: toolctl/v1
name: proc
description: Test program
runtime: process
process: { readable: [${JSON.stringify(path.dirname(fixture))}] }
actions:
  go:
    description: Run the fixture
    kind: read
    inputSchema: { type: object, properties: { mode: { type: string } } }
    command: [node, ${JSON.stringify(fixture)}]
`,
};

async function home(): Promise<string> {
  const dir = tempDir("toolctl-status-");
  const imported = await runCli(["import", writeFiles(MANIFESTS)], { home: dir });
  expect(imported.code, imported.stderr).toBe(0);
  return dir;
}

describe("a run that needs a human nobody can ask (exit 4)", () => {
  it("is recorded declined, with the flag that would let it proceed; history and stats show nothing pending", async () => {
    const h = await home();
    const refused = await runJson(["run", "pay.charge", "-p", "amount=5"], { home: h });
    expect(refused.code).toBe(4);
    expect(refused.json).toMatchObject({ status: "declined", exitCode: 4, error: { code: "needs_human", message: expect.stringMatching(/--yes/) } });

    const shown = await runJson(["executions", "show", refused.json.executionId], { home: h });
    expect(shown.json).toMatchObject({
      status: "declined",
      error: { code: "needs_human", exitCode: 4, category: "authorization", message: expect.stringMatching(/nobody can answer a prompt here/) },
    });
    expect(shown.json.finishedAt).toEqual(expect.any(String));
    const all = await runJson(["executions"], { home: h });
    expect(all.json.items.map((e: { status: string }) => e.status)).toEqual(["declined"]);
    const stats = await runJson(["stats", "--by", "status"], { home: h });
    expect(stats.json.rows.map((r: { group: string }) => r.group)).toEqual(["declined"]);

    // The audit log still says why: it needed approval, which is not the same as a human saying no.
    const events: Array<{ executionId: string; type: string }> = JSON.parse((await runCli(["audit", "--json"], { home: h })).stdout).items;
    expect(events.filter((e) => e.executionId === refused.json.executionId).map((e) => e.type)).toEqual(["execution.needs_approval"]);
  });
});

describe("the error category of a failure that fits no other", () => {
  it("is 'other' in the run's --json result and in the history", async () => {
    const h = await home();
    const failed = await runJson(["run", "proc.go", "-p", "mode=fail"], { home: h });
    expect(failed.code).toBe(1);
    expect(failed.json).toMatchObject({ status: "failed", error: { category: "other" } });
    const shown = await runJson(["executions", "show", failed.json.executionId], { home: h });
    expect(shown.json).toMatchObject({ status: "failed", error: { code: "action_failed", exitCode: 1, category: "other" } });
    const human = await runCli(["executions", "show", failed.json.executionId], { home: h });
    expect(human.stdout).toMatch(/error: .* \(action_failed, other, exit 1\)/);
  });
});

describe("an older registry", () => {
  it("is migrated: category unknown becomes other, and finished requested runs become declined", async () => {
    const h = tempDir("toolctl-old-");
    // The registry as toolctl left it before these migrations: every migration up to theirs, and old rows.
    const first = MIGRATIONS.findIndex((m) => m.includes("error_category = 'other'"));
    expect(first).toBeGreaterThan(0);
    const db = new Database(path.join(h, "registry.db"));
    for (const migration of MIGRATIONS.slice(0, first)) db.exec(migration);
    db.pragma(`user_version = ${first}`);
    const insert = db.prepare(
      `INSERT INTO executions (id, tool, action, actor, status, error, error_category, created_at, finished_at) VALUES (?, 'pay', 'charge', 'user', ?, ?, ?, ?, ?)`,
    );
    const at = new Date().toISOString();
    insert.run("ex_oldfailed", "failed", "exited with code 3", "unknown", at, at);
    insert.run("ex_oldunknown", "unknown", "timed out after sending", "timeout", at, at);
    insert.run("ex_oldasked", "requested", "needs approval", null, at, at);
    db.close();

    const listed = await runJson(["executions", "--limit", "10"], { home: h });
    expect(listed.code, listed.stderr).toBe(0);
    const byId = Object.fromEntries(listed.json.items.map((e: { id: string }) => [e.id, e]));
    expect(byId.ex_oldfailed).toMatchObject({ status: "failed", error: { code: "action_failed", exitCode: 1, category: "other" } });
    // The outcome status unknown is a different thing and stays.
    expect(byId.ex_oldunknown).toMatchObject({ status: "unknown", error: { code: "unknown_outcome", exitCode: 5, category: "timeout" } });
    expect(byId.ex_oldasked).toMatchObject({ status: "declined" });
  });
});
