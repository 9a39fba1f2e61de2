/**
 * One JSON shape, through the built binary: every list command's `--json` is `{ items, page: { total, limit,
 * offset, next } }`, the paged ones follow `--limit`/`--offset` (and `next`), and an execution's `error` is the
 * same object in `run --json`, `executions --json` and `executions show --json`, on new rows and on rows written
 * before the error's code was kept.
 */
import path from "node:path";
import Database from "better-sqlite3";
import { beforeAll, describe, expect, it } from "vitest";
import { MIGRATIONS } from "../src/store/sqlite/migrations.js";
import { executionMac } from "../src/store/shared/signing.js";
import { loadAuditKey } from "../src/secrets/audit-key.js";
import { baseEnv, examplesDir, openApi, repoRoot, runCli, runJson, tempDir, writeFiles, PAY_ECHO } from "./helpers.js";

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
  "hello.plan.yaml": `apiVersion: toolctl/v1
kind: Plan
name: hello
steps:
  - id: a
    action: echo.say
    input: { message: hi }
`,
};

interface Page {
  total: number;
  limit: number | null;
  offset: number;
  next: number | null;
}

interface Envelope<T = Record<string, unknown>> {
  items: T[];
  page: Page;
}

interface ErrorObject {
  code: string;
  exitCode: number;
  category: string;
  message: string;
  problems?: string[];
}

let home: string;
let dir: string;
const runs: Record<string, { code: number | null; json: { executionId: string; exitCode: number; status: string; error: ErrorObject } }> = {};

beforeAll(async () => {
  home = tempDir("toolctl-shape-");
  dir = writeFiles(MANIFESTS);
  for (const source of [examplesDir, path.join(dir, "pay.yaml"), path.join(dir, "proc.yaml")]) {
    const imported = await runCli(["import", source], { home });
    expect(imported.code, imported.stderr).toBe(0);
  }
  for (let i = 0; i < 5; i++) expect((await runCli(["run", "echo.say", "-p", `message=m${i}`], { home })).code).toBe(0);
  for (let i = 0; i < 3; i++) {
    const applied = await runCli(["apply", path.join(dir, "hello.plan.yaml"), "--yes"], { home });
    expect(applied.code, applied.stderr).toBe(0);
  }
  const set = await runCli(["secret", "set", "SHAPE_TOKEN"], { home, input: "s3cret\n" });
  expect(set.code, set.stderr).toBe(0);
  // A pending approval request: filed, and left pending when nobody decides it in time.
  const toolctl = await openApi({ home });
  const filed = await toolctl.run("pay.charge", { amount: 5 }, { wait: true, waitSeconds: 0.2 });
  expect(filed.error?.code).toBe("approval_pending");
  await toolctl.close();

  const [failed, refused, invalid] = await Promise.all([
    runJson(["run", "proc.go", "-p", "mode=fail"], { home }),
    runJson(["run", "pay.charge", "-p", "amount=5"], { home }),
    runJson(["run", "echo.say", "-p", "nope=1"], { home }),
  ]);
  Object.assign(runs, { failed, refused, invalid });
}, 120_000);

describe("every list command's --json", () => {
  const LISTS: Array<{ args: string[]; paged: boolean }> = [
    { args: ["list"], paged: false },
    { args: ["approvals", "--all"], paged: false },
    { args: ["secret", "list"], paged: false },
    { args: ["executions"], paged: true },
    { args: ["audit"], paged: true },
    { args: ["plan-runs", "list"], paged: true },
  ];
  for (const { args, paged } of LISTS) {
    it(`${args.join(" ")}: { items, page: { total, limit, offset, next } }`, async () => {
      const result = await runJson<Envelope>(args, { home });
      expect(result.code, result.stderr).toBe(0);
      expect(Object.keys(result.json).sort()).toEqual(["items", "page"]);
      expect(Object.keys(result.json.page).sort()).toEqual(["limit", "next", "offset", "total"]);
      const { items, page } = result.json;
      expect(Array.isArray(items)).toBe(true);
      expect(items.length).toBeGreaterThan(0);
      expect(page.offset).toBe(0);
      if (paged) {
        expect(page.limit).toEqual(expect.any(Number));
        expect(items.length).toBe(Math.min(page.limit!, page.total));
        expect(page.next).toBe(page.total > page.limit! ? page.limit : null);
      } else {
        expect(page).toEqual({ total: items.length, limit: null, offset: 0, next: null });
      }
    });
  }
});

describe("paging with --limit and --offset", () => {
  const PAGED: Array<{ args: string[]; key: string; total: number }> = [
    { args: ["executions"], key: "id", total: 5 + 3 + 4 },
    { args: ["audit"], key: "seq", total: 0 },
    { args: ["plan-runs", "list"], key: "id", total: 3 },
  ];
  for (const { args, key, total } of PAGED) {
    it(`${args.join(" ")}: following page.next walks every item once, and the last page's next is null`, async () => {
      const all = await runJson<Envelope>([...args, "--limit", "1000"], { home });
      expect(all.code, all.stderr).toBe(0);
      if (total > 0) expect(all.json.page.total).toBe(total);
      expect(all.json.items).toHaveLength(all.json.page.total);
      expect(all.json.page.next).toBeNull();

      // Pages of about a quarter of the list, so that there are several and the last one is short or full.
      const size = Math.max(2, Math.ceil(all.json.page.total / 4));
      const seen: unknown[] = [];
      let offset: number | null = 0;
      let pages = 0;
      while (offset !== null) {
        const page: Envelope = (await runJson<Envelope>([...args, "--limit", String(size), "--offset", String(offset)], { home })).json;
        expect(page.page).toMatchObject({ total: all.json.page.total, limit: size, offset });
        expect(page.items.length).toBe(Math.min(size, all.json.page.total - offset));
        seen.push(...page.items.map((item) => item[key]));
        offset = page.page.next;
        if (offset !== null) expect(offset).toBe(page.page.offset + size);
        pages++;
      }
      expect(pages).toBe(Math.ceil(all.json.page.total / size));
      expect([...seen].sort()).toEqual(all.json.items.map((item) => item[key]).sort());
      expect(new Set(seen).size).toBe(seen.length);

      // Past the end: an empty page that still says how many there are.
      const past = await runJson<Envelope>([...args, "--offset", String(all.json.page.total + 5)], { home });
      expect(past.json.items).toEqual([]);
      expect(past.json.page).toMatchObject({ total: all.json.page.total, offset: all.json.page.total + 5, next: null });
    });
  }

  it("executions --page still counts in pages of --limit, and cannot be combined with --offset", async () => {
    const byPage = await runJson<Envelope>(["executions", "--limit", "3", "--page", "2"], { home });
    const byOffset = await runJson<Envelope>(["executions", "--limit", "3", "--offset", "3"], { home });
    expect(byPage.json).toEqual(byOffset.json);
    const both = await runCli(["executions", "--page", "2", "--offset", "3"], { home });
    expect(both.code).toBe(2);
    expect(both.stderr.trim()).toBe("error: --page and --offset cannot be combined: choose one");
  });

  const BAD: Array<[string[], string]> = [
    [["executions", "--limit", "0"], '--limit must be a positive integer, got "0"'],
    // `executions show` takes none of the list's filters: given, they are refused rather than ignored.
    [["executions", "show", "ex_nope", "--status", "failed"], "--status is not an option of 'executions show': it belongs to 'toolctl executions'"],
    [["executions", "--tool", "echo", "show", "ex_nope"], "--tool is not an option of 'executions show': it belongs to 'toolctl executions'"],
    [["executions", "--offset", "-1"], '--offset must be a whole number, 0 or more, got "-1"'],
    [["audit", "--offset", "x"], '--offset must be a whole number, 0 or more, got "x"'],
    [["audit", "--limit", "2.5"], '--limit must be a positive integer, got "2.5"'],
    [["plan-runs", "list", "--offset", ""], '--offset must be a whole number, 0 or more, got ""'],
    [["plan-runs", "list", "--limit", "ten"], '--limit must be a positive integer, got "ten"'],
    // Plain decimal digits only: no exponent, hex, sign or padding that Number() would accept.
    [["executions", "--limit", "1e2"], '--limit must be a positive integer, got "1e2"'],
    [["executions", "--limit", "0x10"], '--limit must be a positive integer, got "0x10"'],
    [["audit", "--limit", " 5"], '--limit must be a positive integer, got " 5"'],
    [["executions", "--offset", "1e1"], '--offset must be a whole number, 0 or more, got "1e1"'],
    [["plan-runs", "list", "--offset", "+3"], '--offset must be a whole number, 0 or more, got "+3"'],
    [["executions", "--page", "0x2"], '--page must be a positive integer, got "0x2"'],
    // At most 2^53 - 1 (past it, a number is no longer exact, and the store refused it with a stack trace).
    [["executions", "--limit", "99999999999999999999"], '--limit must be at most 9007199254740991, got "99999999999999999999"'],
    [["audit", "--limit", "99999999999999999999"], '--limit must be at most 9007199254740991, got "99999999999999999999"'],
    [["plan-runs", "list", "--limit", "9007199254740992"], '--limit must be at most 9007199254740991, got "9007199254740992"'],
    [["executions", "--offset", "99999999999999999999"], '--offset must be at most 9007199254740991, got "99999999999999999999"'],
    [["audit", "--offset", "9007199254740992"], '--offset must be at most 9007199254740991, got "9007199254740992"'],
    [["executions", "--page", "99999999999999999"], '--page must be at most 9007199254740991, got "99999999999999999"'],
    [["executions", "--page", "9007199254740991"], '--page must be at most 450359962737050 with --limit 20, got "9007199254740991"'],
  ];
  it("the largest --limit and --offset are accepted: an empty page past the end", async () => {
    const MAX = String(Number.MAX_SAFE_INTEGER);
    for (const args of [["executions"], ["audit"], ["plan-runs", "list"]]) {
      const result = await runJson<Envelope>([...args, "--limit", MAX, "--offset", MAX], { home });
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(0);
      expect(result.json.items).toEqual([]);
      expect(result.json.page).toMatchObject({ limit: Number.MAX_SAFE_INTEGER, offset: Number.MAX_SAFE_INTEGER, next: null });
    }
    const lastPage = await runJson<Envelope>(["executions", "--limit", "20", "--page", "450359962737050"], { home });
    expect(lastPage.code, lastPage.stderr).toBe(0);
    expect(lastPage.json.page.offset).toBe(450359962737049 * 20);
  });

  it("executions with nothing to show says why: nothing yet, nothing matching the filters, or nothing past the row", async () => {
    expect((await runCli(["executions"], { home: tempDir("toolctl-shape-") })).stdout).toBe("no executions yet\n");
    for (const filter of [
      ["--tool", "nope"],
      ["--action", "nope"],
      ["--since", "2999-01-01"],
      ["--until", "2000-01-01"],
      ["--status", "rolled_back"],
    ]) {
      const result = await runCli(["executions", ...filter], { home });
      expect(result.code, filter.join(" ")).toBe(0);
      expect(result.stdout, filter.join(" ")).toBe("no executions match these filters\n");
    }
    const all = await runJson<Envelope>(["executions"], { home });
    const past = await runCli(["executions", "--offset", "1000"], { home });
    expect(past.stdout).toBe(`nothing past row 1000 (${all.json.page.total} executions)\n`);
  });

  for (const [args, message] of BAD) {
    it(`${args.join(" ")}: one line naming the flag, exit 2, in both views`, async () => {
      const [human, json] = await Promise.all([runCli(args, { home }), runCli([...args, "--json"], { home })]);
      expect(human.code).toBe(2);
      expect(human.stdout).toBe("");
      expect(human.stderr).toBe(`error: ${message}\n`);
      expect(json.code).toBe(2);
      expect(JSON.parse(json.stdout)).toEqual({ error: { code: "usage", exitCode: 2, message } });
    });
  }
});

describe("an execution's error", () => {
  const EXPECTED: Record<string, { exit: number; error: Partial<ErrorObject> }> = {
    failed: { exit: 1, error: { code: "action_failed", exitCode: 1, category: "other" } },
    refused: { exit: 4, error: { code: "needs_human", exitCode: 4, category: "authorization" } },
    invalid: {
      exit: 2,
      error: { code: "input_invalid", exitCode: 2, category: "validation", problems: ["input.message: is required", "input.nope: is not allowed"] },
    },
  };
  for (const [name, { exit, error }] of Object.entries(EXPECTED)) {
    it(`${name}: the same object in run --json, executions --json and executions show --json`, async () => {
      const run = runs[name]!;
      expect(run.code).toBe(exit);
      expect(run.json.exitCode).toBe(exit);
      expect(run.json.error).toMatchObject({ ...error, message: expect.any(String) });
      expect(Object.keys(run.json.error).sort()).toEqual(["category", "code", "exitCode", "message", ...(error.problems ? ["problems"] : [])]);

      const [shown, listed] = await Promise.all([
        runJson(["executions", "show", run.json.executionId], { home }),
        runJson<Envelope<{ id: string; error: ErrorObject }>>(["executions", "--limit", "100"], { home }),
      ]);
      expect(shown.json.error).toEqual(run.json.error);
      expect(listed.json.items.find((item) => item.id === run.json.executionId)?.error).toEqual(run.json.error);
    });
  }

  it("a run that succeeded has error null in the history", async () => {
    const listed = await runJson<Envelope<{ status: string; error: unknown }>>(["executions", "--status", "succeeded"], { home });
    expect(listed.json.items.length).toBeGreaterThan(0);
    for (const item of listed.json.items) expect(item.error).toBeNull();
  });
});

describe("a registry written before the error's code was kept", () => {
  it("is upgraded: old rows read with a derived error object and their signatures still verify", async () => {
    const old = tempDir("toolctl-shape-old-");
    for (const source of [path.join(dir, "pay.yaml"), path.join(dir, "proc.yaml")]) expect((await runCli(["import", source], { home: old })).code).toBe(0);
    const failed = await runJson(["run", "proc.go", "-p", "mode=fail"], { home: old });
    const refused = await runJson(["run", "pay.charge", "-p", "amount=5"], { home: old });
    expect([failed.code, refused.code]).toEqual([1, 4]);

    // Back to the schema before the error columns, each row signed as a toolctl of then signed it.
    const version = MIGRATIONS.findIndex((migration) => migration.includes("ALTER TABLE executions ADD COLUMN error_code"));
    // Only the plan runs' error columns came after it: dropped as well below.
    expect(version).toBe(MIGRATIONS.length - 2);
    expect(MIGRATIONS.at(-1)).toContain("ALTER TABLE plan_runs ADD COLUMN error_code");
    const key = loadAuditKey(old, baseEnv({ TOOLCTL_HOME: old }), { create: false })!;
    expect(key).toBeDefined();
    const db = new Database(path.join(old, "registry.db"));
    for (const column of ["error_code", "error_exit_code", "error_problems"]) db.exec(`ALTER TABLE executions DROP COLUMN ${column}`);
    for (const column of ["error_code", "error_exit_code", "error_category", "error_problems"]) db.exec(`ALTER TABLE plan_runs DROP COLUMN ${column}`);
    for (const row of db.prepare("SELECT * FROM executions").all() as Array<Record<string, unknown>>) {
      db.prepare("UPDATE executions SET mac = ? WHERE id = ?").run(executionMac(key, row), row.id);
    }
    db.pragma(`user_version = ${version}`);
    db.close();

    const verified = await runJson(["audit", "verify"], { home: old });
    expect(verified.json, JSON.stringify(verified.json)).toMatchObject({ ok: true, problems: [] });
    const shownFailed = await runJson(["executions", "show", failed.json.executionId], { home: old });
    expect(shownFailed.json.error).toEqual({ code: "action_failed", exitCode: 1, category: "other", message: failed.json.error.message });
    const shownRefused = await runJson(["executions", "show", refused.json.executionId], { home: old });
    // The code is derived from the status (a declined run was refused, whatever refused it), the category from the code.
    expect(shownRefused.json.error).toEqual({ code: "policy_refused", exitCode: 3, category: "authorization", message: refused.json.error.message });
    const listed = await runJson<Envelope<{ id: string; error: ErrorObject }>>(["executions"], { home: old });
    expect(listed.json.items.map((item) => item.error.code).sort()).toEqual(["action_failed", "policy_refused"]);

    // New runs on the upgraded registry keep their codes again, and everything still verifies.
    const again = await runJson(["run", "pay.charge", "-p", "amount=5"], { home: old });
    expect((await runJson(["executions", "show", again.json.executionId], { home: old })).json.error).toEqual(again.json.error);
    expect((await runJson(["audit", "verify"], { home: old })).json.ok).toBe(true);
  });
});
