/**
 * What the approval page's tests share: the pay tool, a home with 2FA, `toolctl ui` spawned from the built binary,
 * a run that files an approval request and waits, and plain-HTTP sign-in and form posts.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { expect } from "vitest";
import type { ExecuteResult, Toolctl } from "../src/api/index.js";
import { generateTotp } from "../src/policy/totp.js";
import { baseEnv, binPath, openApi, repoRoot, writeFiles } from "./helpers.js";

export const CHROMIUM = "/usr/bin/chromium";
export const hasChromium = existsSync(CHROMIUM);
export const inCI = Boolean(process.env.CI);

export const manifest = `apiVersion: toolctl/v1
name: pay
description: Pays (echo)
runtime: echo
actions:
  charge:
    description: Charge dollars
    kind: create
    cost: { fromInput: amount }
    rollback: irreversible
    inputSchema: { type: object, required: [amount], properties: { amount: { type: number }, note: { type: string } } }
`;

/** A home with the pay tool and 2FA enrolled (with the previous time step's code, so the current one is fresh). */
export async function homeWithTwoFactor(): Promise<{ toolctl: Toolctl; secret: string }> {
  const toolctl = await openApi();
  const report = await toolctl.importManifests([path.join(writeFiles({ "pay.yaml": manifest }), "pay.yaml")]);
  expect(report.failed).toEqual([]);
  const { secret } = await toolctl.beginTwoFactor("ada@host");
  await toolctl.confirmTwoFactor(generateTotp(secret, Date.now() - 30_000));
  return { toolctl, secret };
}

export interface Ui {
  loginUrl: string;
  origin: string;
  stderr(): string;
  stdout(): string;
  /** Resolves with the exit code once the process has ended by itself (or was stopped). */
  exited: Promise<number | null>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/**
 * `toolctl ui --listen 127.0.0.1:0 --no-open` (or another command that serves the page, `args`, whose lines on
 * stderr start with `prefix`) spawned on `home`; resolves once it printed its login link, which is on localhost.
 */
export async function startUi(
  home: string,
  args = ["ui", "--listen", "127.0.0.1:0", "--no-open"],
  prefix = "toolctl ui",
  env: NodeJS.ProcessEnv = {},
): Promise<Ui> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [binPath, "--home", home, ...args], {
    env: baseEnv(env),
    cwd: repoRoot,
  });
  let stderr = "";
  let stdout = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${prefix} printed no link:\n${stderr}`)), 15_000);
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
      if (/login\?token=\S+\n/.test(stderr)) (clearTimeout(timer), resolve());
    });
    void exited.then((code) => reject(new Error(`${prefix} exited ${code}:\n${stderr}`)));
  });
  const loginUrl = new RegExp(`^${prefix}: (http://localhost:\\d+/login\\?token=[\\w-]{40,})$`, "m").exec(stderr)?.[1];
  expect(loginUrl, stderr).toBeDefined();
  let stopped: Promise<number | null> | undefined;
  return {
    loginUrl: loginUrl!,
    origin: new URL(loginUrl!).origin,
    stderr: () => stderr,
    stdout: () => stdout,
    exited,
    stop() {
      stopped ??= (child.kill("SIGTERM"), exited);
      return stopped;
    },
  };
}

/**
 * A run of pay.charge that files an approval request and waits (up to a minute); resolves once the request is
 * filed, with its id and the run's eventual result.
 */
export async function waitingRun(toolctl: Toolctl, input: Record<string, unknown>): Promise<{ id: string; done: Promise<ExecuteResult>; abort(): void }> {
  const controller = new AbortController();
  let filed!: (id: string) => void;
  const id = new Promise<string>((resolve) => (filed = resolve));
  const done = toolctl.run("pay.charge", input, { wait: true, waitSeconds: 60, signal: controller.signal, onApprovalFiled: (approvalId) => filed(approvalId) });
  const first = await Promise.race([id, done.then((result) => result)]);
  if (typeof first !== "string") throw new Error(`no approval request was filed: ${JSON.stringify(first)}`);
  return { id: first, done, abort: () => controller.abort() };
}

export const statusOf = async (toolctl: Toolctl, id: string) => (await toolctl.approvals(true)).find((approval) => approval.id === id)?.status;
export const refusals = async (toolctl: Toolctl) => (await toolctl.audit({ type: "ui.refused" })).map((event) => event.data as Record<string, unknown>);

export interface Signed {
  cookie: string;
  csrf: string;
}

/** Signs in with plain fetch: the login link's cookie, and the CSRF token from the inbox's forms. */
export async function signIn(ui: Ui): Promise<Signed> {
  const login = await fetch(ui.loginUrl, { redirect: "manual" });
  expect(login.status).toBe(200);
  const cookie = login.headers.getSetCookie()[0]!.split(";")[0]!;
  const inbox = await fetch(`${ui.origin}/`, { headers: { cookie } });
  const csrf = /name="csrf" value="([\w-]+)"/.exec(await inbox.text())?.[1];
  expect(csrf).toBeDefined();
  return { cookie, csrf: csrf! };
}

/** A form POST as a browser on the page would send it, unless told otherwise. */
export function post(ui: Ui, where: string, fields: Record<string, string>, headers: Record<string, string | undefined> = {}): Promise<Response> {
  const sent: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", origin: ui.origin };
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) delete sent[name];
    else sent[name] = value;
  }
  return fetch(`${ui.origin}${where}`, { method: "POST", headers: sent, body: new URLSearchParams(fields).toString(), redirect: "manual" });
}

/** A GET with any Host header (fetch always sends the URL's). */
export function getWithHost(ui: Ui, host: string, cookie: string): Promise<number> {
  const { port } = new URL(ui.origin);
  return new Promise((resolve, reject) => {
    const request = http.get({ host: "127.0.0.1", port, path: "/", headers: { host, cookie } }, (response) => {
      response.resume();
      resolve(response.statusCode!);
    });
    request.on("error", reject);
  });
}
