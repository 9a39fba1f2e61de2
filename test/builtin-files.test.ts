/**
 * The built-in files runtime end to end, through the library API: it reads, writes, creates, deletes and lists real files
 * in temp directories, and refuses every way out of its root ("Path is outside project directory", exit 3).
 * One test runs the built binary, for how the CLI prints a refusal.
 */
import { chmodSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./helpers.js";
import { examplesProject, expectOneLine, manifestProblems, type Outcome, project, run, startWaiting } from "./fixtures/builtins/support.js";

const MANIFEST = (settings = "") => `apiVersion: toolctl/v1
name: fs
description: Files in a project
runtime: files
files:
  roots: [root]${settings}
actions:
  read: { description: Read a file, kind: read, operation: read }
  write: { description: Write a file, kind: update, operation: write }
  create: { description: Create a new file, kind: create, operation: create }
  delete: { description: Delete a file, kind: delete, operation: delete }
  list: { description: List a directory, kind: read, operation: list }
  guarded_write: { description: Write after approval, kind: update, operation: write, approval: always }
`;

const SECRET = "outside secret\n";

/** A project with root/ (where the tool works) and outside/ (where it must never reach). */
function filesProject(settings = "") {
  return project({
    "tool.yaml": MANIFEST(settings),
    "root/notes/today.md": "# Today\nbuy milk\n",
    "root/hello.txt": "hello\n",
    "outside/secret.txt": SECRET,
  });
}

const OUTSIDE = /^Path is outside project directory: "/;

/** A refusal before anything ran: exit 3, declined, one line with the seed's wording naming the path. */
function expectOutside(result: Outcome, shownPath: string): void {
  expect(result.exitCode, JSON.stringify(result)).toBe(3);
  expect(result.status).toBe("declined");
  expect(result.error?.code).toBe("policy_refused");
  const message = expectOneLine(result.error?.message);
  expect(message).toMatch(OUTSIDE);
  expect(message).toContain(JSON.stringify(shownPath));
}

describe("files runtime: operations", () => {
  it("reads text and bytes, and says when a file is not text", async () => {
    const { dir, toolctl } = await filesProject();
    const text = await run(toolctl, "fs.read", { path: "notes/today.md" });
    expect(text.exitCode).toBe(0);
    expect(text.output).toEqual({ path: path.join(dir, "root/notes/today.md"), encoding: "utf8", size: 17, content: "# Today\nbuy milk\n" });

    writeFileSync(path.join(dir, "root/blob.bin"), Buffer.from([0xff, 0x00, 0xfe, 0x41]));
    const bytes = await run(toolctl, "fs.read", { path: "blob.bin", encoding: "base64" });
    expect(bytes.exitCode).toBe(0);
    expect(bytes.output.content).toBe(Buffer.from([0xff, 0x00, 0xfe, 0x41]).toString("base64"));

    const notText = await run(toolctl, "fs.read", { path: "blob.bin" });
    expect(notText.exitCode).toBe(1);
    expect(notText.error?.message).toBe('"blob.bin" is not UTF-8 text; read it with encoding base64');

    const absolute = await run(toolctl, "fs.read", { path: path.join(dir, "root", "hello.txt") });
    expect(absolute.output.content).toBe("hello\n");
  });

  it("writes atomically: new directories on the way, a replaced file keeps its mode, no temporary file is left", async () => {
    const { dir, toolctl } = await filesProject();
    const created = await run(toolctl, "fs.write", { path: "a/b/new.txt", content: "first" });
    expect(created.exitCode).toBe(0);
    expect(created.output).toEqual({ path: path.join(dir, "root/a/b/new.txt"), bytes: 5, created: true });
    expect(readFileSync(path.join(dir, "root/a/b/new.txt"), "utf8")).toBe("first");

    chmodSync(path.join(dir, "root/hello.txt"), 0o600);
    const replaced = await run(toolctl, "fs.write", { path: "hello.txt", content: "replaced" });
    expect(replaced.output.created).toBe(false);
    expect(readFileSync(path.join(dir, "root/hello.txt"), "utf8")).toBe("replaced");
    expect(statSync(path.join(dir, "root/hello.txt")).mode & 0o777).toBe(0o600);

    const binary = await run(toolctl, "fs.write", { path: "bin.dat", content: Buffer.from([1, 2, 255]).toString("base64"), encoding: "base64" });
    expect(binary.exitCode).toBe(0);
    expect([...readFileSync(path.join(dir, "root/bin.dat"))]).toEqual([1, 2, 255]);
    expect(readdirSync(path.join(dir, "root")).filter((name) => name.includes("toolctl"))).toEqual([]);
  });

  it("create never replaces an existing file", async () => {
    const { dir, toolctl } = await filesProject();
    const fresh = await run(toolctl, "fs.create", { path: "fresh.txt", content: "new" });
    expect(fresh.exitCode).toBe(0);
    const again = await run(toolctl, "fs.create", { path: "hello.txt", content: "clobbered" });
    expect(again.exitCode).toBe(1);
    expect(again.error?.message).toBe('"hello.txt" already exists');
    expect(readFileSync(path.join(dir, "root/hello.txt"), "utf8")).toBe("hello\n");
    expect(readdirSync(path.join(dir, "root")).filter((name) => name.includes("toolctl"))).toEqual([]);
  });

  it("deletes a file (a delete needs approval: MEDIUM), and fails clearly on a missing file or a directory", async () => {
    const { dir, toolctl } = await filesProject();
    const unapproved = await run(toolctl, "fs.delete", { path: "hello.txt" });
    expect(unapproved.exitCode).toBe(4);
    const deleted = await run(toolctl, "fs.delete", { path: "hello.txt" }, { yes: true });
    expect(deleted.exitCode).toBe(0);
    expect(deleted.output).toEqual({ path: path.join(dir, "root/hello.txt"), deleted: true });
    expect(existsSync(path.join(dir, "root/hello.txt"))).toBe(false);
    const missing = await run(toolctl, "fs.delete", { path: "hello.txt" }, { yes: true });
    expect(missing.exitCode).toBe(1);
    expect(missing.error?.message).toBe('no such file: "hello.txt"');
    const directory = await run(toolctl, "fs.delete", { path: "notes" }, { yes: true });
    expect(directory.exitCode).toBe(1);
    expect(directory.error?.message).toBe('"notes" is a directory; only files are deleted');
    expect(existsSync(path.join(dir, "root/notes/today.md"))).toBe(true);
  });

  it("lists the root by default and a directory by path, sorted, links shown as links, cut at maxEntries", async () => {
    const { dir, toolctl } = await filesProject("\n  maxEntries: 3");
    symlinkSync("../outside", path.join(dir, "root/zz-link"));
    writeFileSync(path.join(dir, "root/notes/b.md"), "bb");
    const root = await run(toolctl, "fs.list");
    expect(root.exitCode).toBe(0);
    expect(root.output).toEqual({
      path: path.join(dir, "root"),
      truncated: false,
      entries: [
        { name: "hello.txt", type: "file", size: 6 },
        { name: "notes", type: "directory" },
        { name: "zz-link", type: "symlink" },
      ],
    });
    const notes = await run(toolctl, "fs.list", { path: "notes" });
    expect(notes.output.entries.map((e: { name: string }) => e.name)).toEqual(["b.md", "today.md"]);
    writeFileSync(path.join(dir, "root/aa.txt"), "");
    const cut = await run(toolctl, "fs.list", { path: "." });
    expect(cut.output.entries).toHaveLength(3);
    expect(cut.output.truncated).toBe(true);
  });

  it("a dry run shows the resolved path and size and touches nothing", async () => {
    const { dir, toolctl } = await filesProject();
    const write = await run(toolctl, "fs.write", { path: "./notes//today.md", content: "changed" }, { dryRun: true });
    expect(write.exitCode).toBe(0);
    expect(write.status).toBe("dry_run");
    expect(write.request).toMatchObject({
      runtime: "files",
      operation: "write",
      path: path.join(dir, "root/notes/today.md"),
      root: path.join(dir, "root"),
      exists: true,
      bytes: 7,
      createOnly: false,
    });
    expect(write.request.summary).toContain(`replaces ${path.join(dir, "root/notes/today.md")} with 7 bytes`);
    const del = await run(toolctl, "fs.delete", { path: "hello.txt" }, { dryRun: true });
    expect(del.exitCode).toBe(0);
    expect(del.request.summary).toBe(`deletes the file ${path.join(dir, "root/hello.txt")}`);
    expect(readFileSync(path.join(dir, "root/notes/today.md"), "utf8")).toBe("# Today\nbuy milk\n");
    expect(existsSync(path.join(dir, "root/hello.txt"))).toBe(true);
    const refused = await run(toolctl, "fs.read", { path: "../outside/secret.txt" }, { dryRun: true });
    expectOutside(refused, "../outside/secret.txt");
  });
});

describe("files runtime: confinement", () => {
  it("refuses '..' in any position, absolute paths outside the roots, and NUL bytes, whatever the operation", async () => {
    const { dir, toolctl } = await filesProject();
    const attempts = [
      "../outside/secret.txt",
      "notes/../../outside/secret.txt",
      "notes/../hello.txt",
      "..",
      "/etc/passwd",
      path.join(dir, "outside", "secret.txt"),
      `${path.join(dir, "root")}/../outside/secret.txt`,
      "hello.txt\0.png",
    ];
    for (const attempt of attempts) {
      for (const [action, input] of [
        ["fs.read", {}],
        ["fs.write", { content: "pwned" }],
        ["fs.delete", {}],
        ["fs.list", {}],
      ] as const) {
        const result = await run(toolctl, action, { path: attempt, ...input }, { yes: true });
        expectOutside(result, attempt);
      }
    }
    expect(readFileSync(path.join(dir, "outside/secret.txt"), "utf8")).toBe(SECRET);
    expect(readdirSync(path.join(dir, "outside"))).toEqual(["secret.txt"]);
  });

  it("never reads or writes the .env toolctl takes secrets from (beside the manifest, or in toolctl's working directory)", async () => {
    const { dir, toolctl } = await project({
      "tool.yaml": MANIFEST().replace("roots: [root]", "roots: [.]"),
      ".env": "STRIPE_KEY=sk_live_dotenv_4471\n",
      "notes.txt": "fine\n",
    });
    expect((await run(toolctl, "fs.read", { path: "notes.txt" })).exitCode).toBe(0);
    for (const [action, input] of [
      ["fs.read", { path: ".env" }],
      ["fs.read", { path: path.join(dir, ".env") }],
      ["fs.write", { path: ".env", content: "X=1\n" }],
    ] as const) {
      const refused = await run(toolctl, action, input);
      expectOutside(refused, input.path);
      expect(refused.error?.message).toContain("the .env file toolctl reads secrets from");
      expect(JSON.stringify(refused)).not.toContain("sk_live_dotenv_4471");
    }
    expect(readFileSync(path.join(dir, ".env"), "utf8")).toBe("STRIPE_KEY=sk_live_dotenv_4471\n");
  });

  it("takes URL-encoded and backslashed names literally: they name files inside the root", async () => {
    const { dir, toolctl } = await filesProject();
    const encoded = await run(toolctl, "fs.read", { path: "%2e%2e/outside/secret.txt" });
    expect(encoded.exitCode).toBe(1);
    expect(encoded.error?.message).toBe('no such directory: "%2e%2e"');
    const backslash = await run(toolctl, "fs.write", { path: "..\\escape.txt", content: "x" });
    expect(backslash.exitCode).toBe(0);
    expect(readFileSync(path.join(dir, "root", "..\\escape.txt"), "utf8")).toBe("x");
  });

  it("refuses the root itself for write and delete", async () => {
    const { dir, toolctl } = await filesProject();
    for (const attempt of [".", "./", path.join(dir, "root")]) {
      expectOutside(await run(toolctl, "fs.write", { path: attempt, content: "x" }), attempt);
      expectOutside(await run(toolctl, "fs.delete", { path: attempt }, { yes: true }), attempt);
    }
    const empty = await run(toolctl, "fs.read", { path: "" });
    expect(empty.exitCode).toBe(2);
    expect(empty.error?.message).toBe("cannot build the files call: input path is empty");
  });

  it("refuses a symlink in a parent directory, for every operation, and creates nothing outside", async () => {
    const { dir, toolctl } = await filesProject();
    symlinkSync(path.join(dir, "outside"), path.join(dir, "root/escape"));
    expectOutside(await run(toolctl, "fs.read", { path: "escape/secret.txt" }), "escape/secret.txt");
    expectOutside(await run(toolctl, "fs.write", { path: "escape/new.txt", content: "x" }), "escape/new.txt");
    expectOutside(await run(toolctl, "fs.write", { path: "escape/deeper/new.txt", content: "x" }), "escape/deeper/new.txt");
    expectOutside(await run(toolctl, "fs.delete", { path: "escape/secret.txt" }, { yes: true }), "escape/secret.txt");
    expectOutside(await run(toolctl, "fs.list", { path: "escape" }), "escape");
    const refused = await run(toolctl, "fs.read", { path: "escape/secret.txt" });
    expect(refused.error?.message).toBe('Path is outside project directory: "escape/secret.txt" ("escape" is a symbolic link)');
    expect(readdirSync(path.join(dir, "outside"))).toEqual(["secret.txt"]);
  });

  it("refuses a symlink as the last component: not read through, not written through, not deleted", async () => {
    const { dir, toolctl } = await filesProject();
    symlinkSync(path.join(dir, "outside/secret.txt"), path.join(dir, "root/innocent.txt"));
    expectOutside(await run(toolctl, "fs.read", { path: "innocent.txt" }), "innocent.txt");
    expectOutside(await run(toolctl, "fs.write", { path: "innocent.txt", content: "pwned" }), "innocent.txt");
    expectOutside(await run(toolctl, "fs.create", { path: "innocent.txt", content: "pwned" }), "innocent.txt");
    expectOutside(await run(toolctl, "fs.delete", { path: "innocent.txt" }, { yes: true }), "innocent.txt");
    expect(readFileSync(path.join(dir, "outside/secret.txt"), "utf8")).toBe(SECRET);
    expect(readFileSync(path.join(dir, "root/innocent.txt"), "utf8")).toBe(SECRET);
  });

  it("refuses to read a hard link, which may be a second name for a file outside", async () => {
    const { dir, toolctl } = await filesProject();
    linkSync(path.join(dir, "outside/secret.txt"), path.join(dir, "root/twin.txt"));
    const result = await run(toolctl, "fs.read", { path: "twin.txt" });
    expectOutside(result, "twin.txt");
    expect(result.error?.message).toBe('Path is outside project directory: "twin.txt" (a hard link)');
  });

  it("never reaches toolctl's own home, even when a root contains it", async () => {
    const { dir, home, toolctl } = await project({
      "tool.yaml": MANIFEST().replace("roots: [root]", "roots: [/]"),
    });
    const attempt = path.join(home, "registry.db");
    expectOutside(await run(toolctl, "fs.read", { path: attempt }), attempt);
    expectOutside(await run(toolctl, "fs.write", { path: attempt, content: "x" }), attempt);
    expect((await run(toolctl, "fs.read", { path: path.join(dir, "tool.yaml") })).exitCode).toBe(0);
  });

  it("catches a directory swapped for a symlink after the check, between approval and use", { timeout: 30_000 }, async () => {
    const files = await filesProject();
    const { dir } = files;
    mkdirSync(path.join(dir, "root/inbox"));
    mkdirSync(path.join(dir, "outside/inbox"));
    const waiting = await startWaiting(files, "fs.guarded_write", { path: "inbox/note.txt", content: "pwned" });
    // While the run waits for its approval, the checked directory becomes a link to outside.
    renameSync(path.join(dir, "root/inbox"), path.join(dir, "root/inbox-old"));
    symlinkSync(path.join(dir, "outside/inbox"), path.join(dir, "root/inbox"));
    expect((await waiting.approve()).code).toBe(0);
    const result = await waiting.done;
    // Refused at the moment of use, before anything was written: a policy refusal.
    expect(result.exitCode).toBe(3);
    expect(result.status).toBe("declined");
    expect(result.error?.category).toBe("authorization");
    expect(result.error?.message).toBe('Path is outside project directory: "inbox/note.txt" ("inbox" is a symbolic link)');
    expect(readdirSync(path.join(dir, "outside/inbox"))).toEqual([]);
  });

  it("catches a file swapped for a symlink after the check", { timeout: 30_000 }, async () => {
    const files = await filesProject();
    const { dir } = files;
    const waiting = await startWaiting(files, "fs.guarded_write", { path: "hello.txt", content: "pwned" });
    renameSync(path.join(dir, "root/hello.txt"), path.join(dir, "root/hello-old.txt"));
    symlinkSync(path.join(dir, "outside/secret.txt"), path.join(dir, "root/hello.txt"));
    expect((await waiting.approve()).code).toBe(0);
    const result = await waiting.done;
    expect(result.exitCode).toBe(3);
    expect(result.error?.message).toBe('Path is outside project directory: "hello.txt" (a symbolic link)');
    expect(readFileSync(path.join(dir, "outside/secret.txt"), "utf8")).toBe(SECRET);
  });
});

describe("files runtime: limits and input", () => {
  it("refuses content over maxWriteBytes and files over maxReadBytes (exit 3), writing nothing", async () => {
    const { dir, toolctl } = await filesProject("\n  maxReadBytes: 5\n  maxWriteBytes: 4");
    const write = await run(toolctl, "fs.write", { path: "big.txt", content: "12345" });
    expect(write.exitCode).toBe(3);
    expect(write.error?.message).toBe('"big.txt" is 5 bytes, over this tool\'s files.maxWriteBytes of 4 bytes');
    expect(existsSync(path.join(dir, "root/big.txt"))).toBe(false);
    expect((await run(toolctl, "fs.write", { path: "ok.txt", content: "1234" })).exitCode).toBe(0);
    const read = await run(toolctl, "fs.read", { path: "hello.txt" });
    expect(read.exitCode).toBe(3);
    expect(read.error?.message).toBe('"hello.txt" is 6 bytes, over this tool\'s files.maxReadBytes of 5 bytes');
  });

  it("refuses unknown input fields, bad encodings and bad base64 with exit 2 and one line", async () => {
    const { toolctl } = await filesProject();
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ["fs.read", { path: "hello.txt", offset: 3 }, 'unknown input field "offset"; read takes path, encoding'],
      ["fs.read", { path: "hello.txt", encoding: "latin1" }, 'input encoding must be utf8 or base64, not "latin1"'],
      ["fs.write", { path: "x.txt" }, "input content is required"],
      ["fs.write", { path: "x.txt", content: "not base64!", encoding: "base64" }, "input content is not valid base64"],
      ["fs.read", { path: 42 }, "input path must be a string"],
    ];
    for (const [action, input, message] of cases) {
      const result = await run(toolctl, action, input);
      expect(result.exitCode).toBe(2);
      expect(expectOneLine(result.error?.message)).toBe(`cannot build the files call: ${message}`);
    }
  });

  it("the CLI prints a refusal as one error line and exits 3", async () => {
    const { home } = await filesProject();
    const human = await runCli(["run", "fs.read", "-p", "path=../x"], { home });
    expect(human.code).toBe(3);
    expect(human.stderr.split("\n")[0]).toBe("error: Path is outside project directory: \"../x\" ('..' is not allowed)");
  });

  it("fails clearly on a missing file or a directory read as a file", async () => {
    const { toolctl } = await filesProject();
    const missing = await run(toolctl, "fs.read", { path: "nope.txt" });
    expect(missing.exitCode).toBe(1);
    expect(missing.error?.message).toBe('no such file: "nope.txt"');
    const directory = await run(toolctl, "fs.read", { path: "notes" });
    expect(directory.exitCode).toBe(1);
    expect(directory.error?.message).toBe('"notes" is a directory; use a list action');
  });
});

describe("files runtime: manifest rules", () => {
  const problems = manifestProblems;
  const head = "apiVersion: toolctl/v1\nname: fs\ndescription: d\n";

  it("needs files settings, an operation on every action, and an operation that agrees with the kind", () => {
    const found = problems(
      `${head}runtime: files\nactions:\n  a: { description: d, kind: read }\n  b: { description: d, kind: read, operation: write }\n  c: { description: d, kind: read, operation: update }\n`,
    );
    expect(found).toEqual([
      "tool.yaml:1:1: files: required for runtime files, such as files: { roots: [notes] }",
      "tool.yaml:6:6: actions.a.operation: required for runtime files: one of read, list, write, create, delete",
      "tool.yaml:7:47: actions.b.operation: 'write' is a create or update action, but kind is read",
      "tool.yaml:8:47: actions.c.operation: 'update' is not a files operation: one of read, list, write, create, delete",
    ]);
  });

  it("accepts operation only on the built-in runtimes, and files settings only on runtime files", () => {
    const found = problems(`${head}runtime: echo\nfiles: { roots: [x] }\nactions:\n  a: { description: d, kind: read, operation: read }\n`);
    expect(found).toEqual([
      "tool.yaml:5:8: files: only valid for runtime files, not echo",
      "tool.yaml:7:47: actions.a.operation: only valid for runtime files, database or vercel, not echo",
    ]);
    expect(problems(`${head}runtime: files\nfiles: { roots: [] }\nactions:\n  a: { description: d, kind: read, operation: read }\n`)[0]).toMatch(
      /^tool\.yaml:5:\d+: files\.roots: /,
    );
  });
});

describe("files runtime: the notes example", () => {
  it("lists, reads, adds and refuses to leave its notes directory", async () => {
    const { dir, toolctl } = await examplesProject();
    const listed = await run(toolctl, "notes.list");
    expect(listed.output.entries).toEqual([{ name: "welcome.md", type: "file", size: expect.any(Number) }]);
    expect((await run(toolctl, "notes.read", { path: "welcome.md" })).output.content).toMatch(/^# Welcome/);
    expect((await run(toolctl, "notes.add", { path: "todo.md", content: "- test the notes example\n" })).exitCode).toBe(0);
    expect(readFileSync(path.join(dir, "notes/todo.md"), "utf8")).toBe("- test the notes example\n");
    expectOutside(await run(toolctl, "notes.read", { path: "../notes.yaml" }), "../notes.yaml");
  });
});
