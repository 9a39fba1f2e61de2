/**
 * The audit chain, its checkpoint and the executions table are signed with the audit key: an attacker who can
 * write the database and the head file, but does not hold the key, cannot make a forgery verify.
 * Behaviour goes through the library API in-process, each step on a freshly opened home as a new process would
 * see it; one test keeps `audit verify` spawned for its exit code and output, and the kill -9 test spawns the runs.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { canonicalJson, sha256Hex } from "../src/util/canonical.js";
import type { Toolctl } from "../src/api/index.js";
import { baseEnv, binPath, examplesDir, openApi, rejection, repoRoot, runCli, runJson, tempDir } from "./helpers.js";

const KEY = Buffer.alloc(32, 7).toString("base64");

/** Opens the home in-process (as a new toolctl process would), calls `use`, and closes it again. */
async function withHome<T>(home: string, use: (toolctl: Toolctl) => Promise<T>, env: Record<string, string> = {}): Promise<T> {
  const toolctl = await openApi({ home, env });
  try {
    return await use(toolctl);
  } finally {
    await toolctl.close();
  }
}

async function runOk(home: string, target: string, input: Record<string, unknown>, env: Record<string, string> = {}): Promise<void> {
  const result = await withHome(home, (toolctl) => toolctl.run(target, input), env);
  expect(result.exitCode, result.error?.message).toBe(0);
}

async function homeWithHistory(env: Record<string, string> = {}): Promise<string> {
  const home = tempDir("toolctl-audit-keyed-");
  const files = ["calculator.yaml", "echo.yaml"].map((f) => path.join(examplesDir, f));
  await withHome(home, async (toolctl) => expect((await toolctl.importManifests(files)).failed).toEqual([]), env);
  await runOk(home, "echo.say", { message: "one" }, env);
  await runOk(home, "calculator.calculate", { operation: "add", a: 1, b: 2 }, env);
  return home;
}

/** An attacker with write access to the files: the triggers are no obstacle to them. */
function open(home: string): Database.Database {
  const conn = new Database(path.join(home, "registry.db"));
  conn.exec("DROP TRIGGER IF EXISTS audit_events_no_update; DROP TRIGGER IF EXISTS audit_events_no_delete;");
  return conn;
}

type Row = Record<string, any>;

/** The plain SHA-256 chain anyone can compute, as toolctl wrote it before its log was keyed. */
function plainHash(prev: string, row: Row): string {
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
  return sha256Hex(`${prev}\n${body}`);
}

/** Rewrites every event from `from` on with a recomputed plain chain, and the head file to match. */
function recompute(conn: Database.Database, home: string, from: number, edit: (row: Row) => void): void {
  const rows = conn.prepare("SELECT * FROM audit_events ORDER BY seq").all() as Row[];
  let prev = from === 1 ? "0".repeat(64) : rows[from - 2]!.hash;
  for (const row of rows.slice(from - 1)) {
    edit(row);
    row.prev_hash = prev;
    row.hash = plainHash(prev, row);
    conn.prepare("UPDATE audit_events SET actor = @actor, data = @data, prev_hash = @prev_hash, hash = @hash, key_id = NULL WHERE seq = @seq").run(row);
    prev = row.hash;
  }
  const last = rows[rows.length - 1]!;
  writeFileSync(path.join(home, "audit.head"), `${JSON.stringify({ seq: last.seq, hash: last.hash })}\n`);
}

/** `audit verify`, in-process: `ok` false is what makes the CLI exit 1 (the spawned test below checks that). */
async function verify(home: string, env: Record<string, string> = {}) {
  const result = await withHome(home, (toolctl) => toolctl.verifyAudit(), env);
  return { ok: result.ok, problems: result.problems.join("\n"), notes: result.notes };
}

describe("keyed audit chain", () => {
  it("keeps its key beside the registry when no keyring runs, readable by the user alone", async () => {
    const home = await homeWithHistory();
    const file = path.join(home, "audit.key");
    expect(existsSync(file)).toBe(true);
    const { statSync } = await import("node:fs");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const events = await withHome(home, (toolctl) => toolctl.audit({}));
    expect(events.length).toBeGreaterThan(0);
    expect(new Set(events.map((e) => e.keyId)).size).toBe(1);
    expect((await verify(home)).ok).toBe(true);
  });

  it("refuses an event appended at the end with a correct plain hash, and the head moved to it", async () => {
    const home = await homeWithHistory();
    const conn = open(home);
    const last = conn.prepare("SELECT * FROM audit_events ORDER BY seq DESC LIMIT 1").get() as Row;
    const forged: Row = {
      seq: last.seq + 1,
      ts: new Date().toISOString(),
      type: "approval.approved",
      actor: "user",
      tool: "echo",
      action: "say",
      execution_id: null,
      status: "approved",
      data: "{}",
    };
    forged.prev_hash = last.hash;
    forged.hash = plainHash(last.hash, forged);
    conn
      .prepare(
        "INSERT INTO audit_events (seq, ts, type, actor, tool, action, execution_id, status, data, prev_hash, hash) VALUES (@seq, @ts, @type, @actor, @tool, @action, @execution_id, @status, @data, @prev_hash, @hash)",
      )
      .run(forged);
    conn.close();
    writeFileSync(path.join(home, "audit.head"), `${JSON.stringify({ seq: forged.seq, hash: forged.hash })}\n`);
    // The CLI's surface, spawned: `audit verify` exits 1, as JSON and in the table a person reads.
    const [json, human] = await Promise.all([runJson(["audit", "verify"], { home }), runCli(["audit", "verify"], { home })]);
    expect(json.code).toBe(1);
    expect(json.json.ok).toBe(false);
    const problems = (json.json.problems as string[]).join("\n");
    expect(problems).toMatch(new RegExp(`event ${forged.seq} is not signed, but events before it are`));
    expect(problems).toMatch(/come after the checkpoint: they were added outside toolctl/);
    expect(problems).toMatch(/exported head \(audit.head\) is not a valid head|not signed with this home's audit key/);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/audit log TAMPERED: \d+ problems\n/);
    expect(human.stdout).toContain(`  event ${forged.seq} is not signed, but events before it are`);
  });

  it("refuses a chain recomputed after an edit, and after a deletion, with the head rewritten", async () => {
    const edited = await homeWithHistory();
    let conn = open(edited);
    recompute(conn, edited, 3, (row) => {
      if (row.seq === 3) row.actor = "ci";
    });
    conn.close();
    const afterEdit = await verify(edited);
    expect(afterEdit.ok).toBe(false);
    expect(afterEdit.problems).toMatch(/checkpoint: the log was rewritten/);

    const deleted = await homeWithHistory();
    conn = open(deleted);
    conn.exec("DELETE FROM audit_events WHERE seq = 4; UPDATE audit_events SET seq = seq - 1 WHERE seq > 4;");
    recompute(conn, deleted, 1, () => undefined);
    // Even the checkpoint goes: nothing is left that the attacker could not rewrite, except the signatures.
    conn.exec("DELETE FROM audit_checkpoint");
    conn.close();
    rmSync(path.join(deleted, "audit.head"));
    const afterDelete = await verify(deleted);
    expect(afterDelete.ok).toBe(false);
    expect(afterDelete.problems).toMatch(/the audit checkpoint is missing although the log is signed: it was deleted/);
  });

  it("refuses an emptied log whose head file was deleted: that is not 'intact: 0 events'", async () => {
    const home = await homeWithHistory();
    const conn = open(home);
    conn.exec("DELETE FROM audit_events; DELETE FROM audit_checkpoint;");
    conn.close();
    rmSync(path.join(home, "audit.head"));
    const result = await verify(home);
    expect(result.ok).toBe(false);
    expect(result.problems).toMatch(/the audit log is empty, but its key exists/);
    // Without the key file too, the tools and executions left behind still give it away.
    rmSync(path.join(home, "audit.key"));
    const keyless = await verify(home);
    expect(keyless.ok).toBe(false);
    expect(keyless.problems).toMatch(/the audit log is empty, but the registry holds 2 tools and 2 executions/);
  });

  it("covers the executions table: an edited status or output no longer verifies", async () => {
    const home = await homeWithHistory();
    const conn = open(home);
    const id = conn.prepare("SELECT id FROM executions WHERE tool = 'calculator'").pluck().get() as string;
    conn.prepare("UPDATE executions SET output = ?, status = 'failed' WHERE id = ?").run(JSON.stringify({ result: 4 }), id);
    conn.close();
    const result = await verify(home);
    expect(result.ok).toBe(false);
    expect(result.problems).toContain(`execution ${id} was modified: its content does not match its signature`);
    const inserted = await homeWithHistory();
    const again = open(inserted);
    again
      .prepare("INSERT INTO executions (id, tool, action, actor, status, created_at) VALUES ('ex_forged', 'echo', 'say', 'user', 'succeeded', ?)")
      .run(new Date().toISOString());
    again.close();
    expect((await verify(inserted)).problems).toContain("execution ex_forged is not signed: it was inserted or rewritten outside toolctl");
  });

  it("tells a head file left behind by a killed process (a note) from a log cut short (tampering)", async () => {
    const home = await homeWithHistory();
    const headFile = path.join(home, "audit.head");
    const early = readFileSync(headFile, "utf8");
    await runOk(home, "echo.say", { message: "two" });
    const late = readFileSync(headFile, "utf8");
    // What a process killed after COMMIT but before exporting leaves: a head file behind the committed log.
    writeFileSync(headFile, early);
    const behind = await verify(home);
    expect(behind.ok).toBe(true);
    expect(behind.notes.join("\n")).toMatch(/behind by 2 events/);
    expect(readFileSync(headFile, "utf8")).toBe(late);
    // The other way round is a log cut short: the head names events that are gone.
    const conn = open(home);
    const lastSeq = conn.prepare("SELECT max(seq) FROM audit_events").pluck().get() as number;
    conn.prepare("DELETE FROM audit_events WHERE seq > ?").run(lastSeq - 2);
    conn.close();
    const cut = await verify(home);
    expect(cut.ok).toBe(false);
    expect(cut.problems).toMatch(/were cut off the end of the log/);
  });

  it.each([
    ["events cut off its end", "DELETE FROM audit_events WHERE seq >= 5", /events 5-\d+ were cut off the end of the log/],
    [
      "its end and its checkpoint deleted",
      "DELETE FROM audit_events WHERE seq >= 5; DELETE FROM audit_checkpoint",
      /the audit checkpoint is missing although the log is signed/,
    ],
  ])("never writes onto a log with %s: the write is refused (exit 6), so the cut cannot be hidden", async (_name, sql, why) => {
    const home = await homeWithHistory();
    const conn = open(home);
    conn.exec(sql);
    const left = conn.prepare("SELECT count(*) FROM audit_events").pluck().get();
    conn.close();
    // Even a dry run writes an event: chained onto the shortened log, it made `audit verify` say intact.
    const refused = await rejection(withHome(home, (toolctl) => toolctl.run("echo.say", { message: "after" }, { dryRun: true })));
    expect(refused.exitCode).toBe(6);
    expect(refused.message).toMatch(why);
    expect(refused.message).toMatch(/nothing was written; run toolctl audit verify/);
    expect(open(home).prepare("SELECT count(*) FROM audit_events").pluck().get()).toBe(left);
    const result = await verify(home);
    expect(result.ok).toBe(false);
  });

  it("verification reads one snapshot: another process appending meanwhile never makes an intact log look cut", async () => {
    const home = await homeWithHistory();
    // Another process appends as fast as it can while this one verifies, again and again as the log grows (a
    // longer log takes longer to walk: more room for an append between reading the events and the checkpoint).
    const writer = spawn(
      process.execPath,
      [
        "-e",
        `const { openToolctl } = require(${JSON.stringify(path.join(repoRoot, "dist/api/index.js"))});
        openToolctl({ home: ${JSON.stringify(home)} }).then(async (t) => {
          process.stdout.write("ready\\n");
          const until = Date.now() + 3000;
          while (Date.now() < until) await t.store.audit.append({ type: "test.during", actor: "user", data: {} });
          await t.close();
        });`,
      ],
      { env: baseEnv(), stdio: ["ignore", "pipe", "inherit"] },
    );
    let running = true;
    const exited = new Promise((resolve) => writer.once("exit", resolve)).then(() => (running = false));
    await new Promise((resolve) => writer.stdout.once("data", resolve));
    const results = [];
    while (running) {
      results.push(await verify(home));
      // Verification is synchronous underneath: let the writer's exit be heard.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await exited;
    expect(results.length).toBeGreaterThan(3);
    for (const result of results) expect(result.problems).toBe("");
    expect(results.every((result) => result.ok)).toBe(true);
  });

  it("a home whose audit key is gone writes nothing and makes no new key: the log stays verifiable once the key is back", async () => {
    const home = await homeWithHistory();
    const keyFile = path.join(home, "audit.key");
    const key = readFileSync(keyFile, "utf8");
    rmSync(keyFile);
    const refused = await rejection(withHome(home, (toolctl) => toolctl.run("echo.say", { message: "after" })));
    expect(refused.exitCode).toBe(6);
    expect(refused.message).toMatch(
      /the audit log is signed with audit key '\w+', but this home has no audit key: restore audit.key, the keyring entry, or TOOLCTL_AUDIT_KEY/,
    );
    expect(existsSync(keyFile)).toBe(false);
    writeFileSync(keyFile, key, { mode: 0o600 });
    expect(await verify(home)).toMatchObject({ ok: true, problems: "" });
    await runOk(home, "echo.say", { message: "key restored" });
    expect((await verify(home)).ok).toBe(true);
  });

  it("takes the key from TOOLCTL_AUDIT_KEY without writing one to the home, and needs it to verify", async () => {
    const env = { TOOLCTL_AUDIT_KEY: KEY };
    const home = await homeWithHistory(env);
    expect(existsSync(path.join(home, "audit.key"))).toBe(false);
    expect((await verify(home, env)).ok).toBe(true);
    const without = await verify(home);
    expect(without.ok).toBe(false);
    expect(without.problems).toMatch(/this home has no audit key: restore audit.key, the keyring entry, or TOOLCTL_AUDIT_KEY/);
    const wrong = await verify(home, { TOOLCTL_AUDIT_KEY: Buffer.alloc(32, 9).toString("base64") });
    expect(wrong.problems).toMatch(/is signed with audit key 'e[0-9a-f]{12}', not with this home's key/);
    // The wrong key is said once for the events, once for the checkpoint and once for the executions: not once per row.
    expect(wrong.problems.split("\n")).toEqual([
      expect.stringMatching(
        /^every event \(\d+\) is signed with audit key 'e[0-9a-f]{12}', not with this home's key .*: verify with the key the log was signed with$/,
      ),
      expect.stringMatching(/^the audit checkpoint is signed with audit key 'e[0-9a-f]{12}', not with this home's key$/),
      expect.stringMatching(/^the exported head/),
      expect.stringMatching(/^\d+ executions are signed with audit key 'e[0-9a-f]{12}', not with this home's key$/),
    ]);
    const bad = await rejection(withHome(home, (toolctl) => toolctl.run("echo.say", { message: "x" }), { TOOLCTL_AUDIT_KEY: "short" }));
    expect(bad.exitCode).toBe(6);
    expect(bad.message).toMatch(/TOOLCTL_AUDIT_KEY: expected 32 bytes of base64/);
  });

  it("a new home with the key in TOOLCTL_AUDIT_KEY is intact, not 'emptied': a given key says nothing was written", async () => {
    const home = tempDir("toolctl-audit-given-");
    const env = { TOOLCTL_AUDIT_KEY: KEY };
    const verified = await runJson(["audit", "verify"], { home, env });
    expect(verified.code, verified.stdout).toBe(0);
    expect(verified.json).toMatchObject({ ok: true, events: 0, problems: [] });
    const doctor = await runJson(["doctor"], { home, env });
    expect(doctor.json.checks.find((check: { name: string }) => check.name === "audit")).toMatchObject({ level: "ok" });
    // Emptied after a write, the head file is what still tells: it is ahead of the log.
    await withHome(home, async (toolctl) => expect((await toolctl.importManifests([path.join(examplesDir, "echo.yaml")])).failed).toEqual([]), env);
    const conn = open(home);
    conn.exec("DELETE FROM audit_events; DELETE FROM audit_checkpoint;");
    conn.close();
    const emptied = await verify(home, env);
    expect(emptied.ok).toBe(false);
    expect(emptied.problems).toMatch(/the exported head is at event 1, but the log ends at 0: events were cut off the end of the log/);
  });

  it.each([
    ["deleted", (_head: string) => undefined, /the exported head \(audit\.head\) is missing: events cut off the end could not be detected/],
    ["garbled", (_head: string) => "garbage\n", /the exported head \(audit\.head\) is not a valid head/],
    ["forged at the cut end", (head: string) => head, /the exported head \(audit\.head\) is not signed with this home's audit key: it was forged or replaced/],
  ])("never writes onto a log cut short with its checkpoint put back and its head file %s: the write is refused (exit 6)", async (_name, headFile, why) => {
    const home = await homeWithHistory();
    const saved = open(home).prepare("SELECT * FROM audit_checkpoint").get() as Row;
    // A run after the checkpoint was saved: the events a cut would hide.
    await runOk(home, "echo.say", { message: "to hide" });
    const conn = open(home);
    conn.prepare("DELETE FROM audit_events WHERE seq > ?").run(saved.seq);
    conn.prepare("UPDATE audit_checkpoint SET seq = @seq, hash = @hash, key_id = @key_id, mac = @mac").run(saved);
    conn.close();
    // The head file put at the cut end too (unsigned, as one made without the key is), garbled, or deleted.
    const head = headFile(`${JSON.stringify({ seq: saved.seq, hash: saved.hash, keyId: saved.key_id, mac: "0".repeat(64) })}\n`);
    rmSync(path.join(home, "audit.head"));
    if (head !== undefined) writeFileSync(path.join(home, "audit.head"), head);
    const refused = await rejection(withHome(home, (toolctl) => toolctl.run("echo.say", { message: "after" })));
    expect(refused.exitCode).toBe(6);
    expect(refused.message).toMatch(why);
    expect(refused.message).toMatch(/nothing was written; run toolctl audit verify/);
    expect(open(home).prepare("SELECT max(seq) FROM audit_events").pluck().get()).toBe(saved.seq);
    expect((await verify(home)).ok).toBe(false);
  });

  it("signs what an older toolctl wrote: its plain chain is pinned by the first signed event, its executions signed", async () => {
    const home = tempDir("toolctl-audit-upgrade-");
    await withHome(home, async (toolctl) => expect((await toolctl.importManifests([path.join(examplesDir, "echo.yaml")])).failed).toEqual([]));
    await runOk(home, "echo.say", { message: "old" });
    // Turn the home back into what the previous schema wrote: plain hashes, no checkpoint, unsigned executions.
    const conn = open(home);
    recompute(conn, home, 1, () => undefined);
    conn.exec("DELETE FROM audit_checkpoint; UPDATE executions SET mac = NULL;");
    conn.close();
    rmSync(path.join(home, "audit.key"));
    rmSync(path.join(home, "audit.head"));
    await runOk(home, "echo.say", { message: "new" });
    const upgraded = await verify(home);
    expect(upgraded.problems).toBe("");
    expect(upgraded.ok).toBe(true);
    // Rewriting the old part now breaks the link to the first signed event.
    const again = open(home);
    again.prepare("UPDATE audit_events SET actor = 'ci' WHERE seq = 1").run();
    again.close();
    expect((await verify(home)).problems).toMatch(/event 1 was modified/);
  });

  it("exports the head only after COMMIT: a transaction that fails at COMMIT leaves the head where it was", async () => {
    const home = await homeWithHistory();
    const before = readFileSync(path.join(home, "audit.head"), "utf8");
    const { openRegistry, writeTransaction } = await import("../src/store/sqlite/db.js");
    const { appendAudit } = await import("../src/store/sqlite/audit.js");
    const registry = openRegistry(home, baseEnv());
    try {
      // A deferred foreign key is checked at COMMIT, after the events are appended: COMMIT itself fails, as it
      // would when the process dies or the disk fills at that moment.
      expect(() =>
        writeTransaction(registry, () => {
          appendAudit(registry, { type: "tool.status", actor: "user", tool: "ghost", data: {} });
          registry.db.pragma("defer_foreign_keys = ON");
          registry.db.prepare("INSERT INTO actions (tool, name, kind, description, definition) VALUES ('ghost', 'a', 'read', 'x', '{}')").run();
        }),
      ).toThrow(/FOREIGN KEY/);
    } finally {
      registry.close();
    }
    expect(readFileSync(path.join(home, "audit.head"), "utf8")).toBe(before);
    const result = await verify(home);
    expect(result.problems).toBe("");
  });

  it("a first write under TOOLCTL_AUDIT_KEY that rolls back takes its head back: the home is as it was, and another key may sign it", async () => {
    const home = tempDir("toolctl-home-");
    const { openRegistry, writeTransaction } = await import("../src/store/sqlite/db.js");
    const { appendAudit } = await import("../src/store/sqlite/audit.js");
    const given = openRegistry(home, baseEnv({ TOOLCTL_AUDIT_KEY: Buffer.alloc(32, 7).toString("base64") }));
    try {
      expect(() =>
        writeTransaction(given, () => {
          appendAudit(given, { type: "tool.status", actor: "user", tool: "ghost", data: {} });
          throw new Error("the write fails after its first event");
        }),
      ).toThrow(/the write fails/);
    } finally {
      given.close();
    }
    expect(existsSync(path.join(home, "audit.head"))).toBe(false);
    expect(existsSync(path.join(home, "audit.key"))).toBe(false);
    // Without the key given: a home of its own, intact, that writes.
    const toolctl = await openApi({ home });
    expect((await toolctl.importManifests([path.join(examplesDir, "echo.yaml")])).failed).toEqual([]);
    expect(await toolctl.verifyAudit()).toMatchObject({ ok: true });
  });

  it("a long-lived process exports the head within a second of its last write, not only when it closes", async () => {
    const home = await homeWithHistory();
    const headFile = path.join(home, "audit.head");
    const before = readFileSync(headFile, "utf8");
    const { openRegistry, writeTransaction } = await import("../src/store/sqlite/db.js");
    const { appendAudit } = await import("../src/store/sqlite/audit.js");
    const registry = openRegistry(home, baseEnv());
    try {
      const append = () => writeTransaction(registry, () => appendAudit(registry, { type: "tool.status", actor: "user", tool: "echo", data: {} }));
      append();
      append();
      // At most once a second: two writes in a row are not two exports.
      expect(readFileSync(headFile, "utf8")).toBe(before);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const lastSeq = registry.db.prepare("SELECT max(seq) FROM audit_events").pluck().get() as number;
      expect(JSON.parse(readFileSync(headFile, "utf8")).seq).toBe(lastSeq);
      append();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(JSON.parse(readFileSync(headFile, "utf8")).seq).toBe(lastSeq + 1);
    } finally {
      registry.close();
    }
    expect((await verify(home)).problems).toBe("");
  });

  it("a long-lived process does not stall while another connection holds the write lock: the export waits its turn", async () => {
    const home = await homeWithHistory();
    const headFile = path.join(home, "audit.head");
    const { openRegistry, writeTransaction } = await import("../src/store/sqlite/db.js");
    const { appendAudit } = await import("../src/store/sqlite/audit.js");
    const registry = openRegistry(home, baseEnv());
    const holder = new Database(path.join(home, "registry.db"));
    try {
      writeTransaction(registry, () => appendAudit(registry, { type: "tool.status", actor: "user", tool: "echo", data: {} }));
      const lastSeq = registry.db.prepare("SELECT max(seq) FROM audit_events").pluck().get() as number;
      // Another process's transaction (here another connection of this one) holds the lock past the export's turn.
      holder.exec("BEGIN IMMEDIATE");
      const released = new Promise<void>((resolve) => setTimeout(() => (holder.exec("COMMIT"), resolve()), 2500));
      // SQLite waits for a lock by blocking the thread: an export that waited would stop every timer here.
      let longestGap = 0;
      let last = Date.now();
      const ticker = setInterval(() => {
        longestGap = Math.max(longestGap, Date.now() - last);
        last = Date.now();
      }, 20);
      await released;
      await new Promise((resolve) => setTimeout(resolve, 600));
      clearInterval(ticker);
      expect(longestGap).toBeLessThan(1000);
      expect(JSON.parse(readFileSync(headFile, "utf8")).seq).toBe(lastSeq);
      // The registry's own waits are as they were.
      expect(registry.db.pragma("busy_timeout", { simple: true })).toBe(15_000);
    } finally {
      holder.close();
      registry.close();
    }
    expect((await verify(home)).problems).toBe("");
  });

  it("never reports tampering after toolctl is killed at random points (kill -9)", async () => {
    const home = await homeWithHistory();
    const trials = Number(process.env.AUDIT_KILL_TRIALS ?? 24);
    for (let trial = 0; trial < trials; trial++) {
      const child = spawn(process.execPath, [binPath, "run", "echo.say", "-p", `message=k${trial}`], {
        env: baseEnv({ TOOLCTL_HOME: home }),
        cwd: repoRoot,
        stdio: "ignore",
      });
      // Listened for at once: a run that ends before its kill has closed already.
      const closed = new Promise((resolve) => child.on("close", resolve));
      // Spread the kills over the whole run: start-up, the intent, the outcome, the head export.
      await new Promise((resolve) => setTimeout(resolve, 40 + ((trial * 37) % 160)));
      child.kill("SIGKILL");
      await closed;
    }
    const result = await verify(home);
    expect(result.problems).toBe("");
    expect(result.ok).toBe(true);
  });
});
