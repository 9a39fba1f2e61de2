// The approval page's first paint: the inbox (`/`) of `toolctl ui` loaded in headless Chromium (playwright-core,
// the system's /usr/bin/chromium) on a home with 10,000 executions and 100 pending approval requests, against the
// same page on a home with 10 executions and 1 pending request (the floor), in interleaved rounds. The figure is
// the browser's first-contentful-paint (performance.getEntriesByType("paint")), from the start of the navigation,
// each load coming from a small page of the same server (/signed-out); the navigation timing's server share
// (request start to response end) and load event are printed beside it. Target: under 300 ms at that size. The
// homes are filled in-process through the built API (runs of echo.say, and pay.charge runs that file a request and
// stop waiting at once); each page is the built binary, signed in once with its login link.
// Usage: npm run build && node bench/ui.mjs   (ROUNDS, EXECUTIONS, APPROVALS to change; CHROMIUM for another browser)
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { generateSync } from "otplib";
import { chromium } from "playwright-core";
import { saveResults } from "./lib.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = path.join(root, "bin", "toolctl");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const ROUNDS = Number(process.env.ROUNDS ?? 15);
const EXECUTIONS = Number(process.env.EXECUTIONS ?? 10_000);
const APPROVALS = Number(process.env.APPROVALS ?? 100);
const TARGET_MS = 300;

if (!existsSync(CHROMIUM)) {
  console.log(`skipped: no browser at ${CHROMIUM} (set CHROMIUM, or install Debian's chromium)`);
  process.exit(0);
}

const work = mkdtempSync(path.join(os.tmpdir(), "toolctl-bench-ui-"));
const env = { ...process.env, NO_COLOR: "1", TOOLCTL_APPROVALS_TIMEOUT_SECONDS: "3600" };
delete env.CI;
delete env.TOOLCTL_HOME;

const pay = `apiVersion: toolctl/v1
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
writeFileSync(path.join(work, "pay.yaml"), pay);

const { openToolctl } = await import(pathToFileURL(path.join(root, "dist", "api", "index.js")).href);

/** A home with the echo and pay tools, 2FA enrolled (so the inbox offers Approve), `executions` runs and `approvals` pending requests. */
async function makeHome(name, executions, approvals) {
  const home = path.join(work, name);
  const toolctl = await openToolctl({ home, cwd: work, env });
  try {
    const report = await toolctl.importManifests([path.join(root, "manifests", "examples", "echo.yaml"), path.join(work, "pay.yaml")]);
    if (report.failed.length > 0) throw new Error(`import failed: ${JSON.stringify(report.failed)}`);
    const { secret } = await toolctl.beginTwoFactor("bench@host");
    const step = Math.floor(Date.now() / 30_000) - 1;
    await toolctl.confirmTwoFactor(generateSync({ secret, algorithm: "sha1", digits: 6, period: 30, epoch: step * 30 }));
    for (let i = 0; i < executions - approvals; i++) {
      const result = await toolctl.run("echo.say", { message: `hello ${i}` }, { yes: true });
      if (result.status !== "succeeded") throw new Error(`echo.say: ${JSON.stringify(result.error)}`);
    }
    // Each pending request is an execution too (declined, approval_pending), as for an MCP call that stopped waiting.
    for (let i = 0; i < approvals; i++) {
      const result = await toolctl.run("pay.charge", { amount: 1 + (i % 90) / 100, note: `order ${i}` }, { wait: true, waitSeconds: 0 });
      if (result.error?.code !== "approval_pending") throw new Error(`pay.charge: ${JSON.stringify(result.error)}`);
    }
    const pending = (await toolctl.approvals()).length;
    const total = await toolctl.countExecutions();
    if (pending !== approvals || total !== executions)
      throw new Error(`${name}: ${total} executions and ${pending} pending, not ${executions} and ${approvals}`);
  } finally {
    await toolctl.close();
  }
  return home;
}

/** `toolctl ui` on `home`: resolves with its origin and login link once it listens. */
function startUi(home) {
  const child = spawn(process.execPath, [bin, "--home", home, "ui", "--listen", "127.0.0.1:0", "--no-open"], { env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  return new Promise((resolve, reject) => {
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
      const link = /toolctl ui: (http:\/\/\S+\/login\?token=\S+)\n/.exec(stderr)?.[1];
      if (link) resolve({ child, loginUrl: link, origin: new URL(link).origin });
    });
    child.on("exit", (code) => reject(new Error(`toolctl ui exited ${code}: ${stderr}`)));
  });
}

/** One load of the inbox: first-contentful-paint, and the server's share of the navigation, in ms. */
async function paint(page, origin) {
  // From a small page of the same server (the same renderer): tearing down the page before, a big inbox say, is
  // not this one's first paint, and neither is starting a renderer (as coming from about:blank would be).
  await page.goto(`${origin}/signed-out`);
  await page.goto(`${origin}/`, { waitUntil: "load" });
  const timing = await page.evaluate(async () => {
    // The paint entry is queued a frame after the paint itself.
    for (let i = 0; i < 50 && !performance.getEntriesByName("first-contentful-paint").length; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    const fcp = performance.getEntriesByName("first-contentful-paint")[0];
    const nav = performance.getEntriesByType("navigation")[0];
    return {
      fcp: fcp?.startTime,
      server: nav.responseEnd - nav.requestStart,
      load: nav.loadEventEnd,
      bytes: nav.transferSize,
      count: document.querySelectorAll("section.request").length,
    };
  });
  if (timing.fcp === undefined) throw new Error("the browser reported no first-contentful-paint");
  return timing;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const uis = [];
let browser;
try {
  const filling = Date.now();
  const small = await makeHome("small", 10, 1);
  const big = await makeHome("big", EXECUTIONS, APPROVALS);
  const filledMs = Date.now() - filling;
  const [smallUi, bigUi] = await Promise.all([startUi(small), startUi(big)]);
  uis.push(smallUi, bigUi);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  // One tab, signed in to both pages (their cookies have names of their own).
  const page = await browser.newPage();
  for (const ui of [smallUi, bigUi]) {
    await page.goto(ui.loginUrl);
    await page.waitForURL(`${ui.origin}/`);
  }
  // Warm-up: the servers' first queries and Chromium's first navigations.
  for (let i = 0; i < 3; i++) for (const ui of [smallUi, bigUi]) await paint(page, ui.origin);

  const samples = { small: [], big: [] };
  for (let round = 0; round < ROUNDS; round++) {
    samples.small.push(await paint(page, smallUi.origin));
    samples.big.push(await paint(page, bigUi.origin));
  }
  if (samples.big.some((s) => s.count !== APPROVALS) || samples.small.some((s) => s.count !== 1))
    throw new Error("the inbox did not show every pending request");
  const figure = (list) => ({
    fcpMs: +median(list.map((s) => s.fcp)).toFixed(1),
    serverMs: +median(list.map((s) => s.server)).toFixed(1),
    loadMs: +median(list.map((s) => s.load)).toFixed(1),
    kilobytes: +(median(list.map((s) => s.bytes)) / 1024).toFixed(1),
  });
  const floor = figure(samples.small);
  const subject = figure(samples.big);
  const ratio = +median(samples.big.map((s, i) => s.fcp / samples.small[i].fcp)).toFixed(2);
  const ok = subject.fcpMs < TARGET_MS;
  console.log(
    `node ${process.version}, ${os.cpus().length} cores, ${browser.version()}; homes filled through the API in ${(filledMs / 1000).toFixed(1)} s; medians of ${ROUNDS} rounds; load average ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")}`,
  );
  const line = (label, f) =>
    `${label.padEnd(46)} first paint ${String(f.fcpMs).padStart(6)} ms   server ${String(f.serverMs).padStart(6)} ms   load ${String(f.loadMs).padStart(6)} ms   ${f.kilobytes} KB`;
  console.log(line(`inbox, ${EXECUTIONS.toLocaleString("en")} executions, ${APPROVALS} pending`, subject));
  console.log(line("inbox, 10 executions, 1 pending (floor)", floor));
  console.log(`ratio ${ratio.toFixed(2)}×   ${ok ? "✓" : "✗"} (target: first paint < ${TARGET_MS} ms)`);
  saveResults("ui", {
    loadAverage: os.loadavg(),
    rounds: ROUNDS,
    executions: EXECUTIONS,
    approvals: APPROVALS,
    browser: browser.version(),
    subject,
    floor,
    ratio,
    targetMs: TARGET_MS,
    ok,
  });
  if (!ok) process.exitCode = 1;
} finally {
  await browser?.close();
  for (const ui of uis) ui.child.kill("SIGTERM");
  await new Promise((resolve) => setTimeout(resolve, 300));
  rmSync(work, { recursive: true, force: true });
}
