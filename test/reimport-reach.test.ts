/**
 * A re-import that widens where a tool can reach (hosts, private networks, plain HTTP, the program, the passed
 * environment, paths, the network) goes back to pending until someone approves it; one that reaches no further
 * keeps its status. Imports and runs go through the library API in-process; approving, disabling and enabling a
 * tool are CLI commands.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { Toolctl } from "../src/api/index.js";
import { openApi, runCli, runJson, tempDir } from "./helpers.js";

const httpTool = (extra: string, baseUrl = "https://api.example.com") => `apiVersion: toolctl/v1
name: svc
description: A service
runtime: http
baseUrl: ${baseUrl}
${extra}
actions:
  ping: { description: Ping, kind: read, request: { method: GET, path: /ping } }
`;

const processTool = (command: string, settings: string) => `apiVersion: toolctl/v1
name: job
description: A local program
runtime: process
${settings}
actions:
  go: { description: Go, kind: read, command: ${command} }
`;

/** Writes the manifest and imports it; the one imported tool's result. */
async function reimport(toolctl: Toolctl, dir: string, text: string) {
  writeFileSync(path.join(dir, "tool.yaml"), text);
  const report = await toolctl.importManifests([dir]);
  expect(report.failed).toEqual([]);
  expect(report.imported).toHaveLength(1);
  return report.imported[0]!;
}

async function status(toolctl: Toolctl, name: string): Promise<string> {
  return (await toolctl.listTools()).find((tool) => tool.name === name)!.status;
}

describe("re-importing a tool that reaches further", () => {
  it.each([
    [
      "a private network and plain HTTP to another host",
      httpTool("http: { allowPrivateNetworks: true, allowPlainHttp: true }", "http://127.0.0.1:6379"),
      ["host 127.0.0.1:6379", "plain http", "private network any"],
    ],
    ["one more allowed host", httpTool("http: { allowedHosts: [evil.example.net] }"), ["host evil.example.net"]],
    ["a CIDR of private addresses", httpTool("http: { allowPrivateNetworks: [10.0.0.0/8] }"), ["private network 10.0.0.0/8"]],
  ])("http: %s makes it pending until approved", async (_name, widened, items) => {
    const toolctl = await openApi();
    const { home } = toolctl;
    const dir = tempDir("toolctl-reach-src-");
    expect((await reimport(toolctl, dir, httpTool(""))).status).toBe("active");
    const result = await reimport(toolctl, dir, widened);
    expect(result).toMatchObject({ change: "updated", status: "pending", widened: items });
    const run = await toolctl.run("svc.ping", {}, { dryRun: true });
    expect(run.status).toBe("dry_run");
    expect(run.warnings.join("\n")).toMatch(/a real run would be refused: tool svc is pending/);
    const real = await toolctl.run("svc.ping");
    expect(real.exitCode).toBe(3);
    expect(real.error?.message).toContain(items[0]);
    // The same content again is still pending: acceptance is not inherited from the refused definition.
    expect((await reimport(toolctl, dir, widened)).status).toBe("pending");
    expect((await runCli(["tool", "approve", "svc", "--yes"], { home })).code).toBe(0);
    expect(await status(toolctl, "svc")).toBe("active");
  });

  it.each([
    ["another program", processTool("[sh, -c, id]", ""), ["command sh"]],
    ["another passed variable", processTool("[node, x.js]", "process: { env: [PATH, AWS_SECRET_ACCESS_KEY] }"), ["env AWS_SECRET_ACCESS_KEY"]],
    ["the network", processTool("[node, x.js]", "process: { network: true }"), ["network"]],
    ["a writable path", processTool("[node, x.js]", "process: { writable: [/srv] }"), ["path write /srv"]],
  ])("process: %s makes it pending", async (_name, widened, items) => {
    const toolctl = await openApi();
    const { home } = toolctl;
    const dir = tempDir("toolctl-reach-src-");
    expect((await reimport(toolctl, dir, processTool("[node, x.js]", ""))).status).toBe("active");
    const result = await reimport(toolctl, dir, widened);
    expect(result).toMatchObject({ status: "pending", widened: items });
    const human = await runCli(["tool", "approve", "job", "--yes"], { home });
    expect(human.stderr).toContain(items[0]);
  });

  it("the same relative path from a manifest moved elsewhere reaches another place: pending, naming it", async () => {
    const toolctl = await openApi();
    const root = tempDir("toolctl-reach-move-");
    const deep = path.join(root, "proj", "sub", "tool");
    const shallow = path.join(root, "tool");
    mkdirSync(deep, { recursive: true });
    mkdirSync(shallow, { recursive: true });
    const text = processTool("[node, x.js]", 'process: { writable: [".."] }');
    expect((await reimport(toolctl, deep, text)).status).toBe("active");
    // A copy of the same file one level below the root: ".." is now the root itself.
    const moved = await reimport(toolctl, shallow, text);
    expect(moved).toMatchObject({ change: "updated", status: "pending", widened: [`path write ${root}`] });
    // Back where it was accepted: within what was accepted again.
    expect((await reimport(toolctl, deep, text)).status).toBe("active");
  });

  it("narrowing, or changing only a description, keeps it active; a disabled tool stays disabled", async () => {
    const toolctl = await openApi();
    const { home } = toolctl;
    const dir = tempDir("toolctl-reach-src-");
    await reimport(toolctl, dir, httpTool("http: { allowedHosts: [a.example.com, b.example.com] }"));
    const narrower = await reimport(toolctl, dir, httpTool("http: { allowedHosts: [a.example.com] }").replace("A service", "The service"));
    expect(narrower).toMatchObject({ change: "updated", status: "active" });
    expect(narrower.widened).toBeUndefined();
    // Back to what was accepted at first: still within it.
    expect((await reimport(toolctl, dir, httpTool("http: { allowedHosts: [a.example.com, b.example.com] }"))).status).toBe("active");
    expect((await runCli(["tool", "disable", "svc"], { home })).code).toBe(0);
    expect((await reimport(toolctl, dir, httpTool("http: { allowPlainHttp: true }"))).status).toBe("disabled");
    // Enabling it does not skip the review: it reaches further than was accepted.
    const enabled = await runJson(["tool", "enable", "svc"], { home });
    expect(enabled.json.status).toBe("pending");
  });
});
