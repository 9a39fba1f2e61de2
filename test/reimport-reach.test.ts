/**
 * A re-import that widens where a tool can reach (hosts, private networks, plain HTTP, the program, the passed
 * environment, paths, the network) goes back to pending until someone approves it; one that reaches no further
 * keeps its status.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, runJson, tempDir } from "./helpers.js";

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

async function reimport(home: string, dir: string, text: string) {
  writeFileSync(path.join(dir, "tool.yaml"), text);
  return runJson(["import", dir], { home });
}

async function status(home: string, name: string): Promise<string> {
  const listed = await runJson(["list"], { home });
  return (listed.json.tools as Array<{ name: string; status: string }>).find((tool) => tool.name === name)!.status;
}

describe("re-importing a tool that reaches further", () => {
  it.each([
    ["a private network and plain HTTP to another host", httpTool("http: { allowPrivateNetworks: true, allowPlainHttp: true }", "http://127.0.0.1:6379"), ["host 127.0.0.1:6379", "plain http", "private network any"]],
    ["one more allowed host", httpTool("http: { allowedHosts: [evil.example.net] }"), ["host evil.example.net"]],
    ["a CIDR of private addresses", httpTool("http: { allowPrivateNetworks: [10.0.0.0/8] }"), ["private network 10.0.0.0/8"]],
  ])("http: %s makes it pending until approved", async (_name, widened, items) => {
    const home = tempDir("toolctl-reach-");
    const dir = tempDir("toolctl-reach-src-");
    expect((await reimport(home, dir, httpTool(""))).json.imported[0].status).toBe("active");
    const result = await reimport(home, dir, widened);
    expect(result.json.imported[0]).toMatchObject({ change: "updated", status: "pending", widened: items });
    const run = await runJson(["run", "svc.ping", "--dry-run"], { home });
    expect(run.json.warnings.join("\n")).toMatch(/a real run would be refused: tool svc is pending/);
    const real = await runJson(["run", "svc.ping"], { home });
    expect(real.code).toBe(3);
    expect(real.json.error.message).toContain(items[0]);
    // The same content again is still pending: acceptance is not inherited from the refused definition.
    expect((await reimport(home, dir, widened)).json.imported[0].status).toBe("pending");
    expect((await runCli(["tool", "approve", "svc", "--yes"], { home })).code).toBe(0);
    expect(await status(home, "svc")).toBe("active");
  });

  it.each([
    ["another program", processTool("[sh, -c, id]", ""), ["command sh"]],
    ["another passed variable", processTool("[node, x.js]", "process: { env: [PATH, AWS_SECRET_ACCESS_KEY] }"), ["env AWS_SECRET_ACCESS_KEY"]],
    ["the network", processTool("[node, x.js]", "process: { network: true }"), ["network"]],
    ["a writable path", processTool("[node, x.js]", "process: { writable: [/srv] }"), ["path write /srv"]],
  ])("process: %s makes it pending", async (_name, widened, items) => {
    const home = tempDir("toolctl-reach-");
    const dir = tempDir("toolctl-reach-src-");
    expect((await reimport(home, dir, processTool("[node, x.js]", ""))).json.imported[0].status).toBe("active");
    const result = await reimport(home, dir, widened);
    expect(result.json.imported[0]).toMatchObject({ status: "pending", widened: items });
    const human = await runCli(["tool", "approve", "job", "--yes"], { home });
    expect(human.stderr).toContain(items[0]);
  });

  it("narrowing, or changing only a description, keeps it active; a disabled tool stays disabled", async () => {
    const home = tempDir("toolctl-reach-");
    const dir = tempDir("toolctl-reach-src-");
    await reimport(home, dir, httpTool("http: { allowedHosts: [a.example.com, b.example.com] }"));
    const narrower = await reimport(home, dir, httpTool("http: { allowedHosts: [a.example.com] }").replace("A service", "The service"));
    expect(narrower.json.imported[0]).toMatchObject({ change: "updated", status: "active" });
    expect(narrower.json.imported[0].widened).toBeUndefined();
    // Back to what was accepted at first: still within it.
    expect((await reimport(home, dir, httpTool("http: { allowedHosts: [a.example.com, b.example.com] }"))).json.imported[0].status).toBe("active");
    expect((await runCli(["tool", "disable", "svc"], { home })).code).toBe(0);
    expect((await reimport(home, dir, httpTool("http: { allowPlainHttp: true }"))).json.imported[0].status).toBe("disabled");
    // Enabling it does not skip the review: it reaches further than was accepted.
    const enabled = await runJson(["tool", "enable", "svc"], { home });
    expect(enabled.json.status).toBe("pending");
  });
});
