/**
 * The audit log: append-only in the database itself, hash-chained, verified, fail-closed, and secret-free.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { examplesDir, homeWithExamples, runCli, runJson, tempDir, writeFiles } from "./helpers.js";

function db(home: string): Database.Database {
  return new Database(path.join(home, "registry.db"));
}

/** The three original examples, by name: the tamper tests below rely on the exact event numbering. */
async function homeWithThreeTools(): Promise<string> {
  const home = tempDir("toolctl-audit-");
  const files = ["calculator.yaml", "echo.yaml", "weather.yaml"].map((f) => path.join(examplesDir, f));
  expect((await runCli(["import", ...files], { home })).code).toBe(0);
  return home;
}

async function homeWithHistory(): Promise<string> {
  const home = await homeWithThreeTools();
  await runCli(["run", "echo.say", "-p", "message=one"], { home });
  await runCli(["run", "echo.say", "-p", "message=two", "--dry-run"], { home });
  await runCli(["run", "calculator.calculate", "-p", "operation=add", "-p", "a=1", "-p", "b=2"], { home });
  await runCli(["run", "echo.say"], { home }); // fails validation: still audited
  return home;
}

/** Tampering needs the triggers out of the way, as an attacker with file access would do. */
function tamper(home: string, sql: string): void {
  const conn = db(home);
  conn.exec("DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;");
  conn.exec(sql);
  conn.close();
}

describe("audit log", () => {
  it("records every attempt: imports, runs, dry runs and validation failures", async () => {
    const home = await homeWithHistory();
    const result = await runCli(["audit", "--json", "--limit", "100"], { home });
    const events = result.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(events.map((e) => e.type)).toEqual([
      "tool.added",
      "tool.added",
      "tool.added",
      "execution.started",
      "execution.succeeded",
      "execution.dry_run",
      "execution.started",
      "execution.succeeded",
      "execution.invalid",
    ]);
    expect(events[8].data.problems).toEqual(["input.message: is required"]);
  });

  it("is append-only in the database itself", async () => {
    const home = await homeWithHistory();
    const conn = db(home);
    expect(() => conn.prepare("UPDATE audit_events SET actor = 'agent' WHERE seq = 1").run()).toThrow(/append-only/);
    expect(() => conn.prepare("DELETE FROM audit_events WHERE seq = 1").run()).toThrow(/append-only/);
    conn.close();
  });

  it("verifies an intact chain", async () => {
    const home = await homeWithHistory();
    const result = await runJson(["audit", "verify"], { home });
    expect(result.code).toBe(0);
    expect(result.json).toMatchObject({ ok: true, events: 9, problems: [] });
  });

  it.each([
    ["an edited event", "UPDATE audit_events SET data = replace(data, 'one', 'uno') WHERE type = 'execution.started'", /event 4 was modified/],
    ["a deleted event", "DELETE FROM audit_events WHERE seq = 5", /event 5 is missing/],
    [
      "reordered events",
      `UPDATE audit_events SET seq = CASE seq WHEN 4 THEN 104 WHEN 5 THEN 105 END WHERE seq IN (4, 5);
      UPDATE audit_events SET seq = 5 WHERE seq = 104; UPDATE audit_events SET seq = 4 WHERE seq = 105;`,
      /does not link|was modified/,
    ],
    ["a truncated tail", "DELETE FROM audit_events WHERE seq >= 8", /cut off the end/],
    ["a changed actor", "UPDATE audit_events SET actor = 'ci' WHERE seq = 2", /event 2 was modified/],
  ])("detects %s", async (_name, sql, expected) => {
    const home = await homeWithHistory();
    tamper(home, sql);
    const result = await runJson(["audit", "verify"], { home });
    expect(result.code).toBe(1);
    expect(result.json.ok).toBe(false);
    expect(result.json.problems.join("\n")).toMatch(expected);
  });

  it("detects a fully recomputed chain: without the audit key, the signatures cannot be remade", async () => {
    const home = await homeWithHistory();
    // Rewrite event 3 and recompute every hash after it, as a careful attacker would.
    const { canonicalJson, sha256Hex } = await import("../src/util/canonical.js");
    const conn = db(home);
    conn.exec("DROP TRIGGER audit_events_no_update;");
    const rows = conn.prepare("SELECT * FROM audit_events ORDER BY seq").all() as Array<Record<string, any>>;
    let prev = rows[1]!.hash as string;
    for (const row of rows.slice(2)) {
      if (row.seq === 3) row.actor = "agent";
      const body = canonicalJson({
        seq: row.seq,
        ts: row.ts,
        type: row.type,
        actor: row.actor,
        tool: row.tool,
        action: row.action,
        execution_id: row.execution_id,
        status: row.status,
        data: row.data,
      });
      const hash = sha256Hex(`${prev}\n${body}`);
      conn.prepare("UPDATE audit_events SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?").run(row.actor, prev, hash, row.seq);
      prev = hash;
    }
    conn.close();
    const result = await runJson(["audit", "verify"], { home });
    expect(result.json.ok).toBe(false);
    expect(result.json.problems.join("\n")).toMatch(/event 3 was modified: its content does not match its signature/);
    expect(result.json.problems.join("\n")).toMatch(/event 9 does not match the checkpoint: the log was rewritten/);
  });

  it("filters by tool, type, actor and time, and prints JSON lines", async () => {
    const home = await homeWithHistory();
    await runCli(["run", "echo.say", "-p", "message=from-ci"], { home, env: { CI: "true" } });
    const byTool = await runCli(["audit", "--tool", "calculator", "--json"], { home });
    expect(
      byTool.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).tool),
    ).toEqual(["calculator", "calculator", "calculator"]);
    const byActor = await runCli(["audit", "--actor", "ci", "--json"], { home });
    const ciEvents = byActor.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(ciEvents.map((e) => e.type)).toEqual(["execution.started", "execution.succeeded"]);
    const future = await runCli(["audit", "--since", "2999-01-01", "--json"], { home });
    expect(future.stdout).toBe("");
    const past = await runCli(["audit", "--until", "2000-01-01"], { home });
    expect(past.stdout).toBe("no audit events match\n");
    const byType = await runCli(["audit", "--type", "execution.invalid", "--json"], { home });
    expect(JSON.parse(byType.stdout).status).toBe("failed");
  });

  it("exports every event with hashes", async () => {
    const home = await homeWithHistory();
    const file = path.join(tempDir(), "audit.jsonl");
    const result = await runCli(["audit", "export", "-o", file], { home });
    expect(result.code).toBe(0);
    const lines = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(9);
    expect(lines[1].prevHash).toBe(lines[0].hash);
  });

  it("is fail-closed: when the intent cannot be written, nothing runs (exit 6)", async () => {
    const home = await homeWithExamples();
    const marker = path.join(tempDir(), "ran.txt");
    const dir = writeFiles({
      "touch.yaml": `apiVersion: toolctl/v1
name: touch
description: Writes a marker file
runtime: process
actions:
  go:
    description: Create the marker
    kind: create
    command: [node, -e, "require('fs').writeFileSync(process.argv[1], 'x'); console.log('{}')", ${JSON.stringify(marker)}]
`,
    });
    expect((await runCli(["import", dir], { home })).code).toBe(0);
    // Simulate a failing audit store (full disk, I/O error): inserts of the intent event are refused.
    const conn = db(home);
    conn.exec(`CREATE TRIGGER fail_intent BEFORE INSERT ON audit_events WHEN NEW.type = 'execution.started'
      BEGIN SELECT RAISE(ABORT, 'simulated disk failure'); END;`);
    conn.close();
    const result = await runJson(["run", "touch.go"], { home });
    expect(result.code).toBe(6);
    expect(result.json.error.message).toMatch(/simulated disk failure/);
    expect(existsSync(marker)).toBe(false);
    const history = await runJson(["executions"], { home });
    expect(history.json.items.filter((e: { tool: string }) => e.tool === "touch")).toEqual([]);
  });

  it("never writes a secret value to any byte of the home, stdout or stderr", async () => {
    const secret = "sk_live_CANARY_51HqLyjWDarjtT1zdp7dc";
    const home = await homeWithExamples();
    const dir = writeFiles({
      "leaky.yaml": `apiVersion: toolctl/v1
name: leaky
description: Uses a secret in argv and env
runtime: process
actions:
  go:
    description: Print things
    kind: read
    inputSchema: { type: object, properties: { password: { type: string }, note: { type: string } } }
    command: [node, -e, "console.log(JSON.stringify({argv: process.argv[1], env: process.env.K}))", "{{ secrets.LEAKY_KEY }}"]
    env: { K: "{{ secrets.LEAKY_KEY }}" }
`,
    });
    await runCli(["import", dir], { home });
    const outputs: string[] = [];
    for (const args of [
      ["run", "leaky.go", "-p", `note=${secret}`],
      ["run", "leaky.go", "--dry-run"],
      ["run", "leaky.go", "--json"],
      ["executions", "--json"],
      ["audit", "--json"],
    ]) {
      const result = await runCli(args, { home, env: { LEAKY_KEY: secret } });
      outputs.push(result.stdout, result.stderr);
    }
    // A password typed as input is scrubbed by key even though it is not a known secret.
    await runCli(["run", "leaky.go", "-p", "password=hunter2-typed-in"], { home, env: { LEAKY_KEY: secret } });
    const needles = [secret, Buffer.from(secret).toString("base64"), "hunter2-typed-in"];
    for (const text of outputs) for (const needle of needles.slice(0, 2)) expect(text).not.toContain(needle);
    for (const file of readdirSync(home)) {
      const bytes = readFileSync(path.join(home, file));
      for (const needle of needles) expect(bytes.includes(Buffer.from(needle)), `${needle} found in ${file}`).toBe(false);
    }
  });

  it("reports a missing or unreadable exported head: truncation could otherwise pass unnoticed", async () => {
    const home = await homeWithHistory();
    tamper(home, "DELETE FROM audit_events WHERE seq >= 8");
    const { rmSync, writeFileSync } = await import("node:fs");
    rmSync(path.join(home, "audit.head"));
    const missing = await runJson(["audit", "verify"], { home });
    expect(missing.code).toBe(1);
    expect(missing.json.problems.join("\n")).toMatch(/audit.head\) is missing/);
    writeFileSync(path.join(home, "audit.head"), "{}");
    const invalid = await runJson(["audit", "verify"], { home });
    expect(invalid.json.problems.join("\n")).toMatch(/is not a valid head/);
  });

  it("fails clearly when the export file cannot be written", async () => {
    const home = await homeWithHistory();
    const result = await runJson(["audit", "export", "-o", "/nonexistent-dir/x.jsonl"], { home });
    expect(result.code).toBe(2);
    expect(result.json.error.message).toMatch(/--output \/nonexistent-dir\/x.jsonl: cannot write: ENOENT/);
  });

  it("treats a bare --until date as the whole day", async () => {
    const home = await homeWithHistory();
    const today = new Date().toISOString().slice(0, 10);
    const result = await runCli(["audit", "--until", today, "--json"], { home });
    expect(result.stdout.trim().split("\n")).toHaveLength(9);
  });

  it("refuses to start when the tool was disabled after the run began (checked under the write lock)", async () => {
    const home = await homeWithExamples();
    const { openSqliteStore } = await import("../src/store/sqlite/index.js");
    const { createRecorder } = await import("../src/engine/record.js");
    const store = openSqliteStore(home);
    try {
      const tool = (await store.tools.get("echo"))!;
      const record = createRecorder(store, {
        id: "ex_test",
        tool: "echo",
        action: "say",
        actor: "user",
        createdAt: new Date().toISOString(),
        toolDigest: tool.digest,
      });
      await store.tools.setStatus("echo", "disabled", "user");
      const started = await record.started({}, {}, {}, {});
      expect(started).toMatchObject({
        ok: false,
        reason: "tool_changed",
        message: expect.stringMatching(/is now disabled while this run was being prepared; nothing ran/),
      });
      expect(store.registry.db.prepare("SELECT count(*) FROM executions").pluck().get()).toBe(0);
    } finally {
      await store.close();
    }
  });

  it("reports unknown (exit 5), never 'nothing ran', when the action ran but its outcome cannot be written", async () => {
    const home = await homeWithExamples();
    const conn = db(home);
    conn.exec(`CREATE TRIGGER fail_outcome BEFORE INSERT ON audit_events WHEN NEW.type = 'execution.succeeded'
      BEGIN SELECT RAISE(ABORT, 'simulated disk failure'); END;`);
    conn.close();
    const result = await runJson(["run", "echo.say", "-p", "message=hi"], { home });
    expect(result.code).toBe(5);
    expect(result.json.status).toBe("unknown");
    expect(result.json.error.message).toMatch(/ran, but its outcome could not be recorded .* check before retrying/);
  });
});
