/**
 * Shared test helpers: temporary homes and the built binary, spawned for real.
 * `npm test` builds first, so dist/ is always current.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect } from "vitest";
import { openToolctl, ToolctlError, type OpenOptions, type Toolctl } from "../src/api/index.js";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const binPath = path.join(repoRoot, "bin", "toolctl");
export const examplesDir = path.join(repoRoot, "manifests", "examples");
export const sharedDir = path.resolve(repoRoot, "../shared");

const created: string[] = [];
const opened: Toolctl[] = [];
afterAll(async () => {
  for (const toolctl of opened.splice(0)) await toolctl.close().catch(() => {});
  for (const dir of created) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix = "toolctl-test-"): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(dir);
  return dir;
}

/** Writes files (name → content) into a new temp directory and returns it. */
export function writeFiles(files: Record<string, string>, dir = tempDir()): string {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  home?: string;
  env?: Record<string, string | undefined>;
  cwd?: string;
  input?: string;
  timeoutMs?: number;
  /** Run as another user (only root can). */
  uid?: number;
  gid?: number;
}

/** A clean environment: no CI marker, no colour forcing, no secrets from the developer's shell. */
export function baseEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: "C.UTF-8" };
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const env = baseEnv({ ...(options.home ? { TOOLCTL_HOME: options.home } : {}), ...options.env });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binPath, ...args], {
      env,
      cwd: options.cwd ?? repoRoot,
      stdio: ["pipe", "pipe", "pipe"],
      uid: options.uid,
      gid: options.gid,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 20_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

/** Runs the CLI with --json and parses stdout, which must be exactly one JSON document. */
export async function runJson<T = any>(args: string[], options: CliOptions = {}): Promise<CliResult & { json: T }> {
  const result = await runCli([...args, "--json"], options);
  let json: T;
  try {
    json = JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
  return { ...result, json };
}

/**
 * Opens the library API in-process on a home (a fresh temp one unless given), with the same clean environment
 * `runCli` gives the binary. Behaviour tests go through this; the instance is closed after the file's tests.
 */
export async function openApi(options: Omit<OpenOptions, "env"> & { env?: Record<string, string | undefined> } = {}): Promise<Toolctl> {
  const home = options.home ?? tempDir("toolctl-home-");
  const env = baseEnv({ TOOLCTL_HOME: home, ...options.env });
  const toolctl = await openToolctl({ cwd: repoRoot, ...options, home, env });
  opened.push(toolctl);
  return toolctl;
}

/** A fresh home with the bundled examples imported (in-process; the CLI's `import` has tests of its own). */
export async function homeWithExamples(): Promise<string> {
  const home = tempDir("toolctl-home-");
  const toolctl = await openToolctl({ home, env: baseEnv({ TOOLCTL_HOME: home }), cwd: repoRoot });
  try {
    const report = await toolctl.importManifests([examplesDir]);
    if (report.failed.length > 0) throw new Error(`import failed: ${JSON.stringify(report.failed)}`);
  } finally {
    await toolctl.close();
  }
  return home;
}

/** The ToolctlError a call rejects with; fails the test when it resolves or throws anything else. */
export async function rejection(promise: Promise<unknown>): Promise<ToolctlError> {
  try {
    await promise;
  } catch (error) {
    expect(error, String((error as Error)?.stack)).toBeInstanceOf(ToolctlError);
    return error as ToolctlError;
  }
  throw new Error("expected a ToolctlError, but the call succeeded");
}

/**
 * A process tool that spends `amount` and takes 30 s to answer (its program ends when toolctl does): a run to kill
 * while it is running, as a crash would leave it.
 */
/**
 * An http tool on a loopback server: plain http and 127.0.0.0/8 let through the outbound guard, `http` settings
 * added to those, and `actions` as the YAML under `actions:` (indented by two spaces).
 */
export function loopbackTool(name: string, baseUrl: string, actions: string, http = ""): string {
  return `apiVersion: toolctl/v1
name: ${name}
description: ${name} on loopback
runtime: http
baseUrl: ${baseUrl}
http: { allowPlainHttp: true, allowPrivateNetworks: ["127.0.0.0/8"]${http ? `, ${http}` : ""} }
actions:
${actions}`;
}

/** An echo tool with one paid write: `pay.charge`, costing what its `amount` says. */
export const PAY_ECHO = `apiVersion: toolctl/v1
name: pay
description: Pays (echo)
runtime: echo
actions:
  charge:
    description: Charge dollars
    kind: create
    cost: { fromInput: amount }
    inputSchema: { type: object, required: [amount], properties: { amount: { type: number } } }
`;

export const SLOW_SHOP = `apiVersion: toolctl/v1
name: shop
description: Spends slowly
runtime: process
actions:
  slow_buy:
    description: Spend, slowly
    kind: create
    cost: { fromInput: amount }
    inputSchema: { type: object, required: [amount], properties: { amount: { type: number } } }
    command: [node, -e, "const parent = process.ppid; setInterval(() => process.ppid !== parent && process.exit(1), 100); setTimeout(() => process.stdout.write('{}'), 30000)"]
    timeoutSeconds: 60
`;

/** A files tool `homefiles` whose one root is `root` (a user's home, in the key-material tests), with its read action. */
export const homeFilesManifest = (root: string) => `apiVersion: toolctl/v1
name: homefiles
description: Files in the user's home
runtime: files
files: { roots: [${JSON.stringify(root)}] }
actions:
  read: { description: Read a file, kind: read, operation: read }
`;
