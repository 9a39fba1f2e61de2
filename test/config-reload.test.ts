/**
 * A process that holds one Toolctl (a program, `toolctl mcp`, `toolctl ui`) follows config.yaml and a project's
 * toolctl.yaml as they change: a limit lowered with `toolctl config set` (or the config editor in-process)
 * between two runs decides the second; an edit that leaves config.yaml invalid makes the next run fail with the
 * config error a fresh CLI gets, and a fix recovers; and a running MCP server, reached through the official SDK's
 * client, offers and refuses what the changed `mcp.allow` and limits say, without a restart.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ToolListChangedNotificationSchema, type CallToolResult, type Tool } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { Toolctl } from "../src/api/index.js";
import { setSetting, unsetSetting } from "../src/config/edit.js";
import { McpSettings } from "../src/mcp/policy.js";
import { writeFileAtomic } from "../src/util/atomic-file.js";
import { FakeServer, sendJson } from "./fakes/server.js";
import { baseEnv, binPath, openApi, PAY_ECHO, rejection, repoRoot, runCli, tempDir, writeFiles } from "./helpers.js";
import { signIn, startUi } from "./ui-pages.js";

const shop = new FakeServer((req, res) => sendJson(res, 200, { ok: true, path: req.url }));
beforeAll(async () => void (await shop.start()));
afterAll(() => shop.close());

/** An http tool whose one write costs $2 a call (declared), and one that costs what its input says. */
const shopManifest = () => `apiVersion: toolctl/v1
name: shop
description: A shop on loopback
runtime: http
baseUrl: ${shop.url}
http: { allowPlainHttp: true, allowPrivateNetworks: ["127.0.0.0/8"], timeoutSeconds: 5, retry: { attempts: 1 } }
auth: { type: none }
actions:
  buy:
    description: Buy one item for $2
    kind: create
    cost: { fixed: 2 }
    inputSchema: { type: object, required: [item], properties: { item: { type: string } } }
    request: { method: POST, path: /buy, json: { item: "{{ input.item }}" } }
`;

/** A home whose config.yaml lets paid actions run without asking (so that only the limits decide), with shop imported. */
async function shopHome(config = "approvals:\n  paidActions: false\n"): Promise<Toolctl> {
  const home = tempDir("toolctl-home-");
  writeFileSync(path.join(home, "config.yaml"), config);
  const toolctl = await openApi({ home });
  const report = await toolctl.importManifests([writeFiles({ "shop.yaml": shopManifest() })]);
  expect(report.failed).toEqual([]);
  return toolctl;
}

const bought = () => shop.requestsTo("/buy").length;

describe("a Toolctl held across config edits", () => {
  it("limits.dailyUsd lowered with the built CLI's config set refuses the next run; raised again, it runs", async () => {
    const toolctl = await shopHome();
    const before = bought();
    const first = await toolctl.run("shop.buy", { item: "a" });
    expect(first.status, first.error?.message).toBe("succeeded");
    expect((await toolctl.budget()).limits.dailyUsd).toBe(500);

    const set = await runCli(["config", "set", "limits.dailyUsd", "3"], { home: toolctl.home });
    expect(set.code, set.stderr).toBe(0);
    const second = await toolctl.run("shop.buy", { item: "b" });
    expect(second.status).toBe("declined");
    expect(second.error?.message).toMatch(/over the daily limit of \$3\.00/);
    // The budget a long-running page shows follows too.
    expect((await toolctl.budget()).limits.dailyUsd).toBe(3);
    expect(bought() - before).toBe(1);

    expect((await setSetting(toolctl.home, baseEnv(), "limits.dailyUsd", "10")).changed).toBe(true);
    const third = await toolctl.run("shop.buy", { item: "c" });
    expect(third.status, third.error?.message).toBe("succeeded");
    expect(bought() - before).toBe(2);
  });

  it("limits.perActionUsd lowered with the config editor refuses the next run, in a dry run too", async () => {
    const toolctl = await shopHome();
    const before = bought();
    expect((await toolctl.run("shop.buy", { item: "a" })).status).toBe("succeeded");
    await setSetting(toolctl.home, baseEnv(), "limits.perActionUsd", "1.5");
    expect((await toolctl.settings()).limits.perActionUsd).toBe(1.5);
    const preview = await toolctl.preview("shop.buy", { item: "b" });
    expect(preview.budget?.perActionLimitUsd).toBe(1.5);
    expect(preview.warnings.join("\n")).toMatch(/a real run would be refused: estimated \$2\.00 is over the per-action limit of \$1\.50/);
    const second = await toolctl.run("shop.buy", { item: "b" });
    expect(second.status).toBe("declined");
    expect(second.error?.message).toMatch(/estimated \$2\.00 is over the per-action limit of \$1\.50/);
    expect(bought() - before).toBe(1);
  });

  it("approvals and rateLimits follow too: paidActions switched back on asks, a rate limit set counts from the next run", async () => {
    const toolctl = await shopHome();
    expect((await toolctl.run("shop.buy", { item: "a" })).status).toBe("succeeded");
    await unsetSetting(toolctl.home, baseEnv(), "approvals.paidActions");
    // No channel to ask: a run that needs a human ends declined, needs_human.
    const asked = await toolctl.run("shop.buy", { item: "b" });
    expect(asked.status).toBe("declined");
    expect(asked.error?.code).toBe("needs_human");

    await setSetting(toolctl.home, baseEnv(), "approvals.paidActions", "false");
    await setSetting(toolctl.home, baseEnv(), "rateLimits.shop", "1");
    expect((await toolctl.run("shop.buy", { item: "c" })).status).toBe("succeeded");
    const limited = await toolctl.run("shop.buy", { item: "d" });
    expect(limited.status).not.toBe("succeeded");
    expect(limited.error?.message).toMatch(/rate limit: tool shop allows 1 requests per minute/);
  });

  it("an unchanged config.yaml is not read again: the same settings object is returned", async () => {
    const toolctl = await shopHome();
    const first = await toolctl.settings();
    expect(await toolctl.settings()).toBe(first);
    await setSetting(toolctl.home, baseEnv(), "limits.dailyUsd", "7");
    const changed = await toolctl.settings();
    expect(changed).not.toBe(first);
    expect(changed.limits.dailyUsd).toBe(7);
    expect(await toolctl.settings()).toBe(changed);
  });

  it("config.yaml edited into an invalid state: the next run fails with the config error a fresh CLI gets; fixed, it runs again", async () => {
    const toolctl = await shopHome("approvals:\n  paidActions: false\nlimits:\n  dailyUsd: 500\n");
    const before = bought();
    expect((await toolctl.run("shop.buy", { item: "a" })).status).toBe("succeeded");

    const file = path.join(toolctl.home, "config.yaml");
    writeFileAtomic(file, "approvals:\n  paidActions: false\nlimits:\n  dailyUsd: -1\n  dailyUds: 5\n");
    const error = await rejection(toolctl.run("shop.buy", { item: "b" }));
    expect(error.code).toBe("config_invalid");
    expect(error.exitCode).toBe(2);
    // The same error as a fresh process: the CLI's first line, and a new Toolctl's.
    const fresh = await runCli(["run", "shop.buy", "--param", "item=b"], { home: toolctl.home });
    expect(fresh.code).toBe(2);
    expect(fresh.stderr).toContain(error.message);
    const again = await openApi({ home: toolctl.home });
    expect((await rejection(again.settings())).message).toBe(error.message);
    // It stays refused while the file is broken (no fallback to the values read before), and nothing was sent.
    expect((await rejection(toolctl.budget())).code).toBe("config_invalid");
    expect(bought() - before).toBe(1);

    // A syntax error is refused the same way.
    writeFileAtomic(file, "limits: [\n");
    expect((await rejection(toolctl.run("shop.buy", { item: "b" }))).code).toBe("config_invalid");

    writeFileAtomic(file, "approvals:\n  paidActions: false\nlimits:\n  dailyUsd: 4\n");
    const fixed = await toolctl.run("shop.buy", { item: "c" });
    expect(fixed.status, fixed.error?.message).toBe("succeeded");
    expect((await toolctl.settings()).limits.dailyUsd).toBe(4);
    expect((await toolctl.run("shop.buy", { item: "d" })).error?.message).toMatch(/over the daily limit of \$4\.00/);
    expect(bought() - before).toBe(2);
  });

  it("config.yaml removed: the defaults apply from the next run", async () => {
    const toolctl = await shopHome("approvals:\n  paidActions: false\nlimits:\n  dailyUsd: 1\n");
    expect((await toolctl.run("shop.buy", { item: "a" })).error?.message).toMatch(/over the daily limit of \$1\.00/);
    const { rmSync } = await import("node:fs");
    rmSync(path.join(toolctl.home, "config.yaml"));
    expect((await toolctl.settings()).limits.dailyUsd).toBe(500);
  });
});

describe("a Toolctl held in a project", () => {
  it("a lower limit written into toolctl.yaml, or into the user's config.yaml under it, decides the next run", async () => {
    const user = tempDir("toolctl-user-");
    vi.stubEnv("HOME", user);
    try {
      mkdirSync(path.join(user, ".toolctl"), { recursive: true });
      writeFileSync(path.join(user, ".toolctl", "config.yaml"), "approvals:\n  paidActions: false\n");
      const root = writeFiles({ "toolctl.yaml": "version: 1\nlimits:\n  dailyUsd: 100\n", "tools/shop.yaml": shopManifest() });
      const project = { root, file: path.join(root, "toolctl.yaml") };
      const toolctl = await openApi({ home: path.join(root, ".toolctl"), project, env: { HOME: user } });
      expect((await toolctl.importManifests([path.join(root, "tools")])).failed).toEqual([]);
      const before = bought();
      expect((await toolctl.run("shop.buy", { item: "a" })).status).toBe("succeeded");
      expect((await toolctl.settings()).limits.dailyUsd).toBe(100);

      writeFileAtomic(project.file, "version: 1\nlimits:\n  dailyUsd: 3\n");
      const refused = await toolctl.run("shop.buy", { item: "b" });
      expect(refused.status).toBe("declined");
      expect(refused.error?.message).toMatch(/over the daily limit of \$3\.00/);

      // The project's file back at 100, the user's own config.yaml lowered: the lower one applies.
      writeFileAtomic(project.file, "version: 1\nlimits:\n  dailyUsd: 100\n");
      expect((await toolctl.run("shop.buy", { item: "c" })).status).toBe("succeeded");
      await setSetting(path.join(user, ".toolctl"), baseEnv({ HOME: user }), "limits.perActionUsd", "1", project);
      expect((await toolctl.run("shop.buy", { item: "d" })).error?.message).toMatch(/over the per-action limit of \$1\.00/);

      // A toolctl.yaml edited into an invalid state refuses the next run, as a fresh process would.
      writeFileAtomic(project.file, "version: 1\nlimits:\n  dailyUsd: nope\n");
      const error = await rejection(toolctl.run("shop.buy", { item: "e" }));
      expect(error.code).toBe("project_invalid");
      expect(error.message).toContain("toolctl.yaml");
      expect(bought() - before).toBe(2);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe("toolctl mcp --http, running while config.yaml changes", () => {
  const TOKEN = "config-reload-token-0123456789";
  const running: ChildProcessWithoutNullStreams[] = [];
  const clients: Client[] = [];
  afterEach(async () => {
    await Promise.allSettled(clients.splice(0).map((client) => client.close()));
    for (const child of running.splice(0)) child.kill("SIGTERM");
  });

  async function serve(home: string, args: string[]): Promise<string> {
    const child = spawn(process.execPath, [binPath, "--home", home, "mcp", "--http", "127.0.0.1:0", ...args], {
      env: baseEnv({ TOOLCTL_MCP_TOKEN: TOKEN }),
      cwd: repoRoot,
    });
    running.push(child);
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const end = Date.now() + 15_000;
    for (;;) {
      const url = /serving MCP \(Streamable HTTP\) at (\S+)/.exec(stderr)?.[1];
      if (url) return url;
      if (child.exitCode !== null || Date.now() > end) throw new Error(`toolctl mcp did not start:\n${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function connect(url: string): Promise<{ client: Client; changes: () => number }> {
    const client = new Client({ name: "reload-agent", version: "1.0.0" });
    let changes = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes++);
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } } }));
    clients.push(client);
    return { client, changes: () => changes };
  }

  const names = (tools: Tool[]) => tools.map((tool) => tool.name).sort();
  const text = (result: unknown) => ((result as CallToolResult).content[0] as { text: string }).text;

  it("a changed mcp.allow and a lowered limit are honoured without a restart; --allow entries stay", async () => {
    const toolctl = await shopHome("approvals:\n  paidActions: false\nmcp:\n  allow: [shop]\n");
    const echo = writeFiles({ "pay.yaml": PAY_ECHO });
    expect((await toolctl.importManifests([echo])).failed).toEqual([]);
    const { client, changes } = await connect(await serve(toolctl.home, ["--allow", "pay"]));
    expect(names((await client.listTools()).tools)).toEqual(["pay__charge", "preview", "resume", "shop__buy"]);
    const before = bought();
    const first = await client.callTool({ name: "shop__buy", arguments: { item: "a" } });
    expect(first.isError, text(first)).toBeFalsy();
    expect(bought() - before).toBe(1);

    // mcp.allow emptied: shop.buy is no longer offered nor run; pay (from --allow) still is.
    const cleared = await runCli(["config", "set", "mcp.allow", ""], { home: toolctl.home });
    expect(cleared.code, cleared.stderr).toBe(0);
    // Clients are told the list changed (the server polls once a second).
    const end = Date.now() + 5000;
    while (changes() === 0 && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(changes()).toBeGreaterThan(0);
    expect(names((await client.listTools()).tools)).toEqual(["pay__charge", "preview", "resume"]);
    const refused = await client.callTool({ name: "shop__buy", arguments: { item: "b" } });
    expect(refused.isError).toBe(true);
    expect(text(refused)).toMatch(/shop\.buy is not offered to agents/);
    expect(bought() - before).toBe(1);

    // A lower per-action limit refuses the next call.
    expect((await client.callTool({ name: "pay__charge", arguments: { amount: 5 } })).isError).toBeFalsy();
    await setSetting(toolctl.home, baseEnv(), "limits.perActionUsd", "4");
    const over = await client.callTool({ name: "pay__charge", arguments: { amount: 5 } });
    expect(over.isError).toBe(true);
    expect(text(over)).toMatch(/over the per-action limit of \$4\.00/);

    // Added back, it is offered again.
    await setSetting(toolctl.home, baseEnv(), "mcp.allow", "shop.buy");
    expect(names((await client.listTools()).tools)).toEqual(["pay__charge", "preview", "resume", "shop__buy"]);

    // An invalid config.yaml fails the next call with the config error; fixed, calls run again.
    writeFileAtomic(path.join(toolctl.home, "config.yaml"), "limits:\n  perActionUsd: lots\n");
    const broken = await client.callTool({ name: "pay__charge", arguments: { amount: 1 } });
    expect(broken.isError).toBe(true);
    expect(text(broken)).toMatch(/config\.yaml.*limits\.perActionUsd/s);
    writeFileAtomic(path.join(toolctl.home, "config.yaml"), "approvals:\n  paidActions: false\nmcp:\n  allow: [shop]\n");
    const mended = await client.callTool({ name: "shop__buy", arguments: { item: "c" } });
    expect(mended.isError, text(mended)).toBeFalsy();
    expect(bought() - before).toBe(2);
  }, 60_000);
});

describe("what follows config.yaml in a running server, and what the command line fixed", () => {
  it("mcp.allow, the approval wait and elicitation follow config.yaml; --allow, --approval-wait and --elicit stay as given", async () => {
    const toolctl = await shopHome("mcp:\n  allow: [shop, pay]\n");
    const env = baseEnv();
    // As toolctl mcp starts it with --allow notes.write: only what the command line says.
    const fromConfig = new McpSettings(toolctl, { allow: ["notes.write"] });
    // And with --approval-wait 60 --elicit.
    const fromFlags = new McpSettings(toolctl, { allow: [], approvalWaitSeconds: 60, elicit: true });
    expect(await fromConfig.now()).toEqual({ allow: ["notes.write", "shop", "pay"], approvalWaitSeconds: 45, elicit: false });

    await setSetting(toolctl.home, env, "mcp.allow", "pay,files.write");
    await setSetting(toolctl.home, env, "mcp.approvalWaitSeconds", "5");
    await setSetting(toolctl.home, env, "mcp.elicit", "true");
    expect(await fromConfig.now()).toEqual({ allow: ["notes.write", "pay", "files.write"], approvalWaitSeconds: 5, elicit: true });
    expect(await fromFlags.now()).toEqual({ allow: ["pay", "files.write"], approvalWaitSeconds: 60, elicit: true });

    await unsetSetting(toolctl.home, env, "mcp");
    expect(await fromConfig.now()).toEqual({ allow: ["notes.write"], approvalWaitSeconds: 45, elicit: false });
    expect(await fromFlags.now()).toEqual({ allow: [], approvalWaitSeconds: 60, elicit: true });
  });

  it("toolctl ui: the budget page shows the limits config.yaml sets now; a broken file is said on the page until it is fixed", async () => {
    const toolctl = await shopHome();
    const ui = await startUi(toolctl.home);
    try {
      const { cookie } = await signIn(ui);
      const budget = async () => {
        const response = await fetch(`${ui.origin}/budget`, { headers: { cookie } });
        return { status: response.status, text: await response.text() };
      };
      expect((await budget()).text).toContain("at most $200.00");
      await setSetting(toolctl.home, baseEnv(), "limits.perActionUsd", "25");
      await setSetting(toolctl.home, baseEnv(), "limits.dailyUsd", "30");
      const lowered = await budget();
      expect(lowered.text).toContain("at most $25.00");
      expect(lowered.text).toContain("$30.00 of $30.00");

      writeFileAtomic(path.join(toolctl.home, "config.yaml"), "limits:\n  dailyUsd: -3\n");
      const broken = await budget();
      expect(broken.status).toBe(500);
      expect(broken.text).toContain("Settings cannot be read");
      expect(broken.text).toMatch(/config\.yaml:2:\d+: limits\.dailyUsd/);
      writeFileAtomic(path.join(toolctl.home, "config.yaml"), "limits:\n  dailyUsd: 3\n");
      const fixed = await budget();
      expect(fixed.status).toBe(200);
      expect(fixed.text).toContain("$3.00 of $3.00");
    } finally {
      await ui.stop();
    }
  }, 30_000);
});
