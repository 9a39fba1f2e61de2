/**
 * `toolctl mcp` as LangChain.js sees it: `@langchain/mcp-adapters` starts the built binary over stdio, loads its
 * tools and calls them, as in docs/mcp.md ("LangChain.js"). What is checked is what a model reads: the tool names
 * and descriptions, an output, an invalid input's problems with their paths (an agent loop such as LangGraph's
 * ToolNode hands the ToolException's message to the model), and a call that waited for a human, resumed once
 * they approved it in a terminal.
 */
import path from "node:path";
import { MultiServerMCPClient } from "@langchain/mcp-adapters";
import type { DynamicStructuredTool } from "@langchain/core/tools";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Toolctl } from "../src/api/index.js";
import { binPath, examplesDir, openApi, runJson, tempDir, writeFiles } from "./helpers.js";

/**
 * A create action whose input LangChain cannot check by itself: the adapter drops `oneOf` from the schema it
 * hands the model, so a bad `to` reaches toolctl, which must say what is wrong and where. With its last action,
 * `tool__action` would be 65 characters, one too many: the name is the hashed form of names.ts.
 */
const NOTIFY = `apiVersion: toolctl/v1
name: notify
version: 1.0.0
description: Notes to a phone number or an email address (echoed back; nothing is sent)
runtime: echo
actions:
  send:
    description: Send a short note
    kind: create
    inputSchema:
      type: object
      required: [to, text]
      additionalProperties: false
      properties:
        to:
          type: string
          description: an E.164 phone number or an email address
          oneOf:
            - { pattern: "^\\\\+[1-9][0-9]{6,14}$" }
            - { pattern: "^[^@\\\\s]+@[^@\\\\s]+\\\\.[a-z]{2,}$" }
        text: { type: string, minLength: 1, maxLength: 160 }
  forget:
    description: Delete every note
    kind: delete
    inputSchema: { type: object, additionalProperties: false, properties: {} }
  list_notes_sent_to_the_on_call_engineer_over_the_weekends:
    description: The notes sent to the on-call engineer
    kind: read
    inputSchema: { type: object, additionalProperties: false, properties: {} }
`;

const LONG_NAME = "notify__list_notes_sent_to_the_on_call_engineer_over_th_a3438682";

let home: string;
let api: Toolctl;
let client: MultiServerMCPClient;
let tools: DynamicStructuredTool[];

function tool(name: string): DynamicStructuredTool {
  const found = tools.find((t) => t.name === name);
  if (!found) throw new Error(`no tool ${name} among ${tools.map((t) => t.name).join(", ")}`);
  return found;
}

/** The message a failed call throws: what the model reads. */
async function failure(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (error) {
    expect((error as Error).name).toBe("ToolException");
    return (error as Error).message;
  }
  throw new Error("expected the call to fail");
}

beforeAll(async () => {
  home = tempDir("toolctl-mcp-langchain-");
  api = await openApi({ home });
  const manifests = writeFiles({ "notify.yaml": NOTIFY });
  const report = await api.importManifests([path.join(examplesDir, "echo.yaml"), path.join(examplesDir, "piggybank.yaml"), manifests]);
  expect(report.failed).toEqual([]);

  // As in docs/mcp.md, with the built binary for `toolctl`, and a wait of 0 s so that a call needing approval
  // returns its pending request at once.
  client = new MultiServerMCPClient({
    mcpServers: {
      toolctl: {
        transport: "stdio",
        command: process.execPath,
        args: [binPath, "--home", home, "mcp", "--allow", "notify.send", "--allow", "piggybank", "--approval-wait", "0"],
        stderr: "ignore",
      },
    },
    defaultToolTimeout: 90_000,
  });
  tools = await client.getTools();
});

afterAll(async () => {
  await client?.close();
});

describe("@langchain/mcp-adapters on toolctl mcp (stdio)", () => {
  it("loads one tool per offered action, named tool__action, with cost, risk and undo in the description", () => {
    // notify.forget (delete) is not allowed; notify.send and piggybank.pay (create) are, by action and by tool.
    expect(tools.map((t) => t.name).sort()).toEqual(["echo__say", LONG_NAME, "notify__send", "piggybank__pay", "preview", "resume"]);

    const say = tool("echo__say");
    expect(say.description).toContain("Return the message unchanged");
    expect(say.description).toContain("toolctl action echo.say (read) of echo");
    expect(say.description).toContain("Cost: none declared ($0). Risk: from cost; approval auto. Undo: none declared.");
    expect(say.metadata?.annotations).toEqual({ title: "echo: say", readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false });

    const pay = tool("piggybank__pay");
    expect(pay.description).toContain("toolctl action piggybank.pay (create) of piggybank");
    expect(pay.description).toContain("Undo: irreversible.");
    expect(pay.description).toContain("the result names a pending approval id to pass to the `resume` tool");
    expect(pay.metadata?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false, idempotentHint: false });

    expect(tool(LONG_NAME).description).toContain("toolctl action notify.list_notes_sent_to_the_on_call_engineer_over_the_weekends (read)");
    expect(tool("resume").description).toContain("toolctl approve ID");
  });

  it("runs echo.say and returns its output, with the execution recorded as the agent's, through MCP", async () => {
    const message = await tool("echo__say").invoke({ type: "tool_call", id: "call_1", name: "echo__say", args: { message: "hello from LangChain" } });
    const content = JSON.parse(message.content as string) as { text: string; structuredContent: unknown; meta: Record<string, any> };
    expect(JSON.parse(content.text)).toEqual({ message: "hello from LangChain" });
    expect(content.structuredContent).toEqual({ message: "hello from LangChain" });
    const execution = content.meta["toolctl/execution"];
    expect(execution).toMatchObject({ action: "echo.say", status: "succeeded", risk: "LOW" });

    const recorded = await api.execution(execution.id);
    expect(recorded).toMatchObject({ actor: "agent", status: "succeeded", origin: { via: "mcp", client: { name: "@langchain/mcp-adapters" } } });
    expect(recorded!.origin!.session).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("lists every problem of an invalid input with its path, and runs nothing", async () => {
    const text = await failure(tool("notify__send").invoke({ to: "tomorrow", text: "deploy done" }));
    expect(text).toContain("notify.send failed: invalid input for notify.send: 3 problems");
    expect(text).toContain('- input.to: must match pattern "^\\+[1-9][0-9]{6,14}$"');
    expect(text).toContain("- input.to: must match exactly one schema in oneOf");
    const id = /execution (ex_\w+)/.exec(text)![1]!;
    expect(await api.execution(id)).toMatchObject({ status: "failed", error: { category: "validation" }, output: null });
  });

  it("returns a pending approval the agent cannot decide; resume runs exactly that call once a human approved it, and only once", async () => {
    const pending = await failure(tool("piggybank__pay").invoke({ amount: 5, to: "alice" }));
    const id = /pending approval (ap_\w+): piggybank\.pay waits for a human's decision and has not run/.exec(pending)?.[1];
    expect(id, pending).toBeDefined();
    expect(pending).toContain(`toolctl approve ${id}`);
    expect(pending).toContain(`call the resume tool with {"approval": "${id}"}`);

    // Resumed before anyone decided: still pending, nothing ran.
    expect(await failure(tool("resume").invoke({ approval: id }))).toContain(`pending approval ${id}`);

    const approved = await runJson(["approve", id!, "--yes"], { home });
    expect(approved.code, approved.stderr).toBe(0);

    const output = (await tool("resume").invoke({ approval: id })) as { text: string; meta: Record<string, any> };
    expect(JSON.parse(output.text)).toEqual({ amount: 5, to: "alice" });
    expect(output.meta["toolctl/execution"]).toMatchObject({ action: "piggybank.pay", status: "succeeded", costUsd: 5, risk: "MEDIUM" });
    expect(output.meta["toolctl/execution"].approval).toContain(id);

    expect(await failure(tool("resume").invoke({ approval: id }))).toContain(`no call of this server is waiting on approval ${id}`);
  });
});
