/**
 * The published library: `npm pack` the project, install the tarball into a new project, type-check a small
 * TypeScript program against its declarations, and run it. The program imports the examples, previews and runs
 * an action, and is refused with a typed error, exactly as a user's program would.
 *
 * The tarball's dependencies come from this checkout's node_modules (the machine has no registry for native
 * builds): the install is the tarball unpacked where npm puts it, with its dependencies beside it.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot, tempDir } from "./helpers.js";

const PROGRAM = `
import { openToolctl, ToolctlError, ExitCode, type ApprovalChannel, type ExecuteResult } from "toolctl";

const home = process.argv[2]!;
const examples = process.argv[3]!;
const asked: string[] = [];
const approve: ApprovalChannel = async (request) => {
  asked.push(\`\${request.tool}.\${request.action} \${request.risk} $\${request.cost.usd.toFixed(2)}\`);
  return { approved: true };
};
const toolctl = await openToolctl({ home, approvals: approve, env: { PATH: process.env.PATH } });
try {
  const report = await toolctl.importManifests([examples]);
  const preview: ExecuteResult = await toolctl.preview("calculator.calculate", { operation: "add", a: 2, b: 3 });
  const run = await toolctl.run("echo.say", { message: "hi from a program" });
  const paid = await toolctl.run("piggybank.pay", { amount: 5, to: "ada" });
  let typed = "";
  try {
    await toolctl.run("nope.nothing", {});
  } catch (error) {
    if (error instanceof ToolctlError) typed = \`\${error.code} \${error.exitCode === ExitCode.usage}\`;
  }
  const executions = await toolctl.executions({ tool: "echo" });
  const verified = await toolctl.verifyAudit();
  console.log(JSON.stringify({
    imported: report.imported.length, preview: { status: preview.status, request: preview.request, risk: preview.risk },
    run: { status: run.status, output: run.output, exitCode: run.exitCode }, paid: { status: paid.status, approval: paid.approval },
    asked, typed, executions: executions.total, audit: verified.ok,
  }));
} finally {
  await toolctl.close();
}
`;

describe("the packed library", () => {
  it("installs from npm pack, type-checks a program against its declarations and runs an action", async () => {
    const packDir = tempDir("toolctl-pack-");
    const output = execFileSync("npm", ["pack", "--pack-destination", packDir, "--json", "--ignore-scripts"], { cwd: repoRoot, encoding: "utf8" });
    const tarball = path.join(packDir, (JSON.parse(output) as Array<{ filename: string }>)[0]!.filename);

    const project = tempDir("toolctl-consumer-");
    const installed = path.join(project, "node_modules", "toolctl");
    mkdirSync(installed, { recursive: true });
    execFileSync("tar", ["-xzf", tarball, "-C", installed, "--strip-components=1"]);
    // Only what package.json `files` lists is published.
    expect(readdirSync(installed).sort()).toEqual(
      ["LICENSE", "README.md", "bin", "dist", "manifests", "package.json"]
        .filter((name) => name !== "LICENSE" || readdirSync(repoRoot).includes("LICENSE"))
        .sort(),
    );
    for (const dependency of readdirSync(path.join(repoRoot, "node_modules"))) {
      if (dependency === "toolctl" || dependency.startsWith(".")) continue;
      symlinkSync(path.join(repoRoot, "node_modules", dependency), path.join(project, "node_modules", dependency));
    }
    writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    writeFileSync(
      path.join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          outDir: "out",
          skipLibCheck: false,
          types: ["node"],
        },
        include: ["main.ts"],
      }),
    );
    writeFileSync(path.join(project, "main.ts"), PROGRAM);
    const tsc = path.join(repoRoot, "node_modules", "typescript", "bin", "tsc");
    try {
      execFileSync(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: project, encoding: "utf8" });
    } catch (error) {
      throw new Error(`the program does not type-check against the package: ${(error as { stdout?: string }).stdout}`);
    }

    const home = tempDir("toolctl-home-");
    const printed = execFileSync(process.execPath, [path.join(project, "out", "main.js"), home, path.join(installed, "manifests", "examples")], {
      cwd: project,
      encoding: "utf8",
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
    });
    const result = JSON.parse(printed.trim());
    expect(result.imported).toBeGreaterThanOrEqual(4);
    expect(result.preview).toMatchObject({ status: "dry_run", risk: "LOW", request: { runtime: "process" } });
    expect(result.run).toEqual({ status: "succeeded", output: { message: "hi from a program" }, exitCode: 0 });
    // The paid action asked the program's approval channel, with what a human would be shown.
    expect(result.paid).toMatchObject({ status: "succeeded", approval: { required: true, via: "prompt" } });
    expect(result.asked).toEqual(["piggybank.pay MEDIUM $5.00"]);
    expect(result.typed).toBe("not_found true");
    expect(result.executions).toBe(1);
    expect(result.audit).toBe(true);

    // A CommonJS program requires the same entry, with the same names.
    writeFileSync(
      path.join(project, "main.cjs"),
      `const { openToolctl, ExitCode, ToolctlError } = require("toolctl");
openToolctl({ home: process.argv[2], env: {} }).then(async (toolctl) => {
  const run = await toolctl.run("echo.say", { message: "hi from require" });
  await toolctl.close();
  console.log(JSON.stringify({ ok: ExitCode.ok, error: typeof ToolctlError, output: run.output }));
});
`,
    );
    const required = execFileSync(process.execPath, [path.join(project, "main.cjs"), home], {
      cwd: project,
      encoding: "utf8",
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
    });
    expect(JSON.parse(required.trim())).toEqual({ ok: 0, error: "function", output: { message: "hi from require" } });
  }, 120_000);

  it("a program that cannot type-check against the declarations fails to compile", () => {
    const project = tempDir("toolctl-consumer-bad-");
    mkdirSync(path.join(project, "node_modules"), { recursive: true });
    symlinkSync(repoRoot, path.join(project, "node_modules", "toolctl"));
    writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    writeFileSync(
      path.join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, skipLibCheck: true, types: [] },
        include: ["main.ts"],
      }),
    );
    writeFileSync(path.join(project, "main.ts"), `import { openToolctl } from "toolctl";\nconst t = await openToolctl({ home: 42 });\nexport {};\n`);
    const tsc = path.join(repoRoot, "node_modules", "typescript", "bin", "tsc");
    let failure = "";
    try {
      execFileSync(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: project, encoding: "utf8" });
    } catch (error) {
      failure = String((error as { stdout?: string }).stdout);
    }
    expect(failure).toMatch(/main\.ts\(2,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/);
  });
});
