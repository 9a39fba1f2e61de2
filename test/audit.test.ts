/**
 * The audit log: append-only in the database itself, hash-chained, verified, fail-closed, and secret-free.
 * Behaviour goes through the library API in-process; one test keeps the CLI's surface (`audit`, `audit export`,
 * `audit verify`) spawned for real.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import type { Toolctl } from "../src/api/index.js";
import { parseTime } from "../src/cli/commands/shared.js";
import { examplesDir, homeWithExamples, openApi, rejection, runCli, runJson, tempDir, writeFiles } from "./helpers.js";

function db(home: string): Database.Database {
  return new Database(path.join(home, "registry.db"));
}

/** Opens the home in-process (as a new toolctl process would), calls `use`, and closes it again. */
async function withHome<T>(home: string, use: (toolctl: Toolctl) => Promise<T>, env: Record<string, string> = {}): Promise<T> {
  const toolctl = await openApi({ home, env });
  try {
    return await use(toolctl);
  } finally {
    await toolctl.close();
  }
}

/** The three original examples, by name: the tamper tests below rely on the exact event numbering. */
async function homeWithThreeTools(): Promise<string> {
  const home = tempDir("toolctl-audit-");
  const files = ["calculator.yaml", "echo.yaml", "weather.yaml"].map((f) => path.join(examplesDir, f));
  await withHome(home, async (toolctl) => expect((await toolctl.importManifests(files)).failed).toEqual([]));
  return home;
}

async function homeWithHistory(): Promise<string> {
  const home = await homeWithThreeTools();
  await withHome(home, async (toolctl) => {
    expect((await toolctl.run("echo.say", { message: "one" })).status).toBe("succeeded");
    expect((await toolctl.run("echo.say", { message: "two" }, { dryRun: true })).status).toBe("dry_run");
    expect((await toolctl.run("calculator.calculate", { operation: "add", a: 1, b: 2 })).status).toBe("succeeded");
    expect((await toolctl.run("echo.say", {})).status).toBe("failed"); // fails validation: still audited
  });
  return home;
}

/** The events homeWithHistory() leaves, in order. */
const HISTORY_EVENTS = [
  "tool.added",
  "tool.added",
  "tool.added",
  "execution.started",
  "execution.succeeded",
  "execution.dry_run",
  "execution.started",
  "execution.succeeded",
  "execution.invalid",
];

const verify = (home: string) => withHome(home, (toolctl) => toolctl.verifyAudit());

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
    const events = await withHome(home, (toolctl) => toolctl.audit({ limit: 100 }));
    expect(events.map((e) => e.type)).toEqual(HISTORY_EVENTS);
    expect(events[8]!.data.problems).toEqual(["input.message: is required"]);
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
    expect(await verify(home)).toMatchObject({ ok: true, events: 9, problems: [] });
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
    [
      "a deleted execution",
      "DELETE FROM executions WHERE tool = 'calculator'",
      /execution ex_\w+ is named in the audit log \(event 7\) but is not in the executions table: it was deleted/,
    ],
  ])("detects %s", async (_name, sql, expected) => {
    const home = await homeWithHistory();
    tamper(home, sql);
    const result = await verify(home);
    expect(result.ok).toBe(false);
    expect(result.problems.join("\n")).toMatch(expected);
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
    const result = await verify(home);
    expect(result.ok).toBe(false);
    expect(result.problems.join("\n")).toMatch(/event 3 was modified: its content does not match its signature/);
    expect(result.problems.join("\n")).toMatch(/event 9 does not match the checkpoint: the log was rewritten/);
  });

  it("filters by tool, type, actor and time", async () => {
    const home = await homeWithHistory();
    await withHome(home, async (toolctl) => expect((await toolctl.run("echo.say", { message: "from-ci" })).status).toBe("succeeded"), { CI: "true" });
    await withHome(home, async (toolctl) => {
      expect((await toolctl.audit({ tool: "calculator" })).map((e) => e.tool)).toEqual(["calculator", "calculator", "calculator"]);
      expect((await toolctl.audit({ actor: "ci" })).map((e) => e.type)).toEqual(["execution.started", "execution.succeeded"]);
      expect(await toolctl.audit({ since: parseTime("2999-01-01", "--since") })).toEqual([]);
      expect(await toolctl.audit({ until: parseTime("2000-01-01", "--until", "end") })).toEqual([]);
      const byType = await toolctl.audit({ type: "execution.invalid" });
      expect(byType).toHaveLength(1);
      expect(byType[0]!.status).toBe("failed");
    });
  });

  it("exports every event with hashes, in order", async () => {
    const home = await homeWithHistory();
    const events = await withHome(home, async (toolctl) => {
      const all = [];
      for await (const event of toolctl.auditEvents()) all.push(event);
      return all;
    });
    expect(events).toHaveLength(9);
    expect(events[1]!.prevHash).toBe(events[0]!.hash);
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
    await withHome(home, async (toolctl) => expect((await toolctl.importManifests([dir])).failed).toEqual([]));
    // Simulate a failing audit store (full disk, I/O error): inserts of the intent event are refused.
    const conn = db(home);
    conn.exec(`CREATE TRIGGER fail_intent BEFORE INSERT ON audit_events WHEN NEW.type = 'execution.started'
      BEGIN SELECT RAISE(ABORT, 'simulated disk failure'); END;`);
    conn.close();
    await withHome(home, async (toolctl) => {
      const error = await rejection(toolctl.run("touch.go"));
      expect(error.exitCode).toBe(6);
      expect(error.message).toMatch(/simulated disk failure/);
      expect(existsSync(marker)).toBe(false);
      const history = await toolctl.executions();
      expect(history.items.filter((e) => e.tool === "touch")).toEqual([]);
    });
  });

  it("never writes a secret value to any byte of the home, or of what it returns", async () => {
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
    const outputs: string[] = [];
    await withHome(
      home,
      async (toolctl) => {
        toolctl.on("warning", (message) => outputs.push(message));
        expect((await toolctl.importManifests([dir])).failed).toEqual([]);
        const runs = [
          await toolctl.run("leaky.go", { note: secret }),
          await toolctl.preview("leaky.go", {}),
          await toolctl.run("leaky.go", {}, { dryRun: true }),
          await toolctl.run("leaky.go", {}),
        ];
        // The secret reached the action (so the checks below are not vacuous), and it is scrubbed from the result.
        expect(runs[3]!.status).toBe("succeeded");
        outputs.push(...runs.map((run) => JSON.stringify(run)));
        outputs.push(JSON.stringify(await toolctl.executions()), JSON.stringify(await toolctl.audit({})));
        for (const run of runs.filter((r) => r.executionId)) outputs.push(JSON.stringify(await toolctl.execution(run.executionId!)));
        // A password typed as input is scrubbed by key even though it is not a known secret.
        await toolctl.run("leaky.go", { password: "hunter2-typed-in" });
      },
      { LEAKY_KEY: secret },
    );
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
    rmSync(path.join(home, "audit.head"));
    const missing = await verify(home);
    expect(missing.ok).toBe(false);
    expect(missing.problems.join("\n")).toMatch(/audit.head\) is missing/);
    writeFileSync(path.join(home, "audit.head"), "{}");
    const invalid = await verify(home);
    expect(invalid.problems.join("\n")).toMatch(/is not a valid head/);
  });

  it("treats a bare --until date as the whole day", async () => {
    const home = await homeWithHistory();
    const today = new Date().toISOString().slice(0, 10);
    const events = await withHome(home, (toolctl) => toolctl.audit({ until: parseTime(today, "--until", "end") }));
    expect(events).toHaveLength(9);
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
    const result = await withHome(home, (toolctl) => toolctl.run("echo.say", { message: "hi" }));
    expect(result.exitCode).toBe(5);
    expect(result.status).toBe("unknown");
    expect(result.error?.message).toMatch(/ran, but its outcome could not be recorded .* check before retrying/);
  });

  it("the CLI: `audit` prints the list envelope or a table, `audit export` writes the log, `audit verify` exits 1 on tampering", async () => {
    const home = await homeWithHistory();
    const file = path.join(tempDir(), "audit.jsonl");
    const [lines, future, past, byType, exported, unwritable] = await Promise.all([
      runCli(["audit", "--json", "--limit", "100"], { home }),
      runCli(["audit", "--since", "2999-01-01", "--json"], { home }),
      runCli(["audit", "--until", "2000-01-01"], { home }),
      runCli(["audit", "--type", "execution.invalid", "--json"], { home }),
      runCli(["audit", "export", "-o", file], { home }),
      runJson(["audit", "export", "-o", "/nonexistent-dir/x.jsonl"], { home }),
    ]);
    const { items: events, page } = JSON.parse(lines.stdout);
    expect(events.map((e: { type: string }) => e.type)).toEqual(HISTORY_EVENTS);
    expect(page).toEqual({ total: HISTORY_EVENTS.length, limit: 100, offset: 0, next: null });
    expect(events[8].data.problems).toEqual(["input.message: is required"]);
    expect(JSON.parse(future.stdout)).toEqual({ items: [], page: { total: 0, limit: 50, offset: 0, next: null } });
    expect(past.stdout).toBe("no audit events match\n");
    expect(JSON.parse(byType.stdout).items.map((e: { status: string }) => e.status)).toEqual(["failed"]);
    expect(exported.code).toBe(0);
    const written = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(written).toHaveLength(9);
    expect(written[1].prevHash).toBe(written[0].hash);
    expect(unwritable.code).toBe(2);
    expect(unwritable.json.error.message).toMatch(/--output \/nonexistent-dir\/x.jsonl: cannot write: ENOENT/);

    const intact = await runJson(["audit", "verify"], { home });
    expect(intact.code).toBe(0);
    expect(intact.json).toMatchObject({ ok: true, events: 9, problems: [] });
    tamper(home, "UPDATE audit_events SET actor = 'ci' WHERE seq = 2");
    const [json, human] = await Promise.all([runJson(["audit", "verify"], { home }), runCli(["audit", "verify"], { home })]);
    expect(json.code).toBe(1);
    expect(json.json.ok).toBe(false);
    expect(json.json.problems.join("\n")).toMatch(/event 2 was modified/);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/audit log TAMPERED: \d+ problems?\n {2}event 2 was modified/);
  });

  it("the CLI: `audit export -o FILE --json` prints one JSON document, {file, events}; without --json the note is on stderr", async () => {
    const home = await homeWithHistory();
    const dir = tempDir();
    const [json, human] = await Promise.all([
      runJson(["audit", "export", "-o", path.join(dir, "a.jsonl")], { home }),
      runCli(["audit", "export", "-o", path.join(dir, "b.jsonl")], { home }),
    ]);
    expect(json.code).toBe(0);
    expect(json.json).toEqual({ file: path.join(dir, "a.jsonl"), events: 9 });
    expect(readFileSync(path.join(dir, "a.jsonl"), "utf8").trim().split("\n")).toHaveLength(9);
    expect(human.code).toBe(0);
    expect(human.stdout).toBe("");
    expect(human.stderr).toBe(`9 events written to ${path.join(dir, "b.jsonl")}\n`);
  });

  it("the CLI: `audit export` and `audit verify` refuse the filters and paging of `audit` (exit 2, naming the flag)", async () => {
    const home = await homeWithHistory();
    const file = path.join(tempDir(), "audit.jsonl");
    const cases: Array<[string[], string]> = [
      [["audit", "export", "--tool", "nope", "--since", "2030-01-01", "--limit", "1", "-o", file], "--tool"],
      [["audit", "export", "--limit", "1"], "--limit"],
      [["audit", "--offset", "3", "export"], "--offset"],
      [["audit", "verify", "--since", "2030-01-01"], "--since"],
      [["audit", "verify", "--type", "execution.started"], "--type"],
    ];
    for (const [args, flag] of cases) {
      const [human, json] = await Promise.all([runCli(args, { home }), runCli([...args, "--json"], { home })]);
      expect(human.code, args.join(" ")).toBe(2);
      expect(human.stdout).toBe("");
      expect(human.stderr).toMatch(new RegExp(`^error: [^\n]*${flag}[^\n]*\n$`));
      expect(json.code).toBe(2);
      expect(JSON.parse(json.stdout).error).toMatchObject({ code: "usage", exitCode: 2, message: expect.stringContaining(flag) });
    }
    expect(existsSync(file)).toBe(false);
  });

  it("the CLI: a time without a UTC offset is UTC, whatever the machine's time zone", async () => {
    const home = await homeWithHistory();
    // Every event is from the last minute: an hour either side, written without an offset, covers them all in UTC,
    // and none of them if read in New York (4 or 5 hours behind) or Tokyo (9 hours ahead).
    const bare = (ms: number) => new Date(ms).toISOString().slice(0, 19);
    const hourAgo = bare(Date.now() - 3_600_000);
    const inAnHour = bare(Date.now() + 3_600_000);
    const [newYork, tokyo] = await Promise.all([
      runJson(["audit", "--since", hourAgo], { home, env: { TZ: "America/New_York" } }),
      runJson(["audit", "--until", inAnHour], { home, env: { TZ: "Asia/Tokyo" } }),
    ]);
    expect(newYork.json.page.total).toBe(HISTORY_EVENTS.length);
    expect(tokyo.json.page.total).toBe(HISTORY_EVENTS.length);
  });
});

describe("parseTime (--since and --until of executions, audit and stats)", () => {
  it("reads a date-time without an offset as UTC, whatever TZ says", () => {
    const saved = process.env.TZ;
    try {
      for (const tz of ["UTC", "America/New_York", "Asia/Kolkata"]) {
        process.env.TZ = tz;
        expect(parseTime("2026-12-07T16:48:38", "--since"), tz).toBe("2026-12-07T16:48:38.000Z");
        expect(parseTime("2026-12-07T16:48", "--until", "end"), tz).toBe("2026-12-07T16:48:00.000Z");
        expect(parseTime("2026-12-07T16:48:38.250", "--since"), tz).toBe("2026-12-07T16:48:38.250Z");
        expect(parseTime("2026-12-07T16:48:38+01:00", "--since"), tz).toBe("2026-12-07T15:48:38.000Z");
        expect(parseTime("2026-12-07T16:48:38Z", "--since"), tz).toBe("2026-12-07T16:48:38.000Z");
        expect(parseTime("2026-12-07", "--until", "end"), tz).toBe("2026-12-07T23:59:59.999Z");
      }
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });

  it("refuses a day that does not exist instead of rolling it over, naming the flag", () => {
    for (const [value, flag] of [
      ["2026-02-30", "--since"],
      ["2027-02-29", "--until"],
      ["2026-04-31T10:00:00Z", "--since"],
      ["2026-02-29T00:00", "--until"],
      ["2026-13-01", "--since"],
      ["2026-00-10", "--since"],
    ]) {
      expect(() => parseTime(value, flag!), value).toThrow(new RegExp(`^${flag}: "${value}" is not a real calendar day`));
    }
    expect(parseTime("2028-02-29", "--until", "end")).toBe("2028-02-29T23:59:59.999Z");
    for (const value of ["2026-11-21T24:00:00Z", "2026-11-21T09:60", "2026-11-21 09:30", "2026-11-21T09", "yesterday"]) {
      expect(() => parseTime(value, "--since"), value).toThrow(/^--since: expected an ISO date or time/);
    }
  });
});
