/**
 * Which actions an agent sees, and how each is described to it. Reads are offered by default; create, update
 * and delete actions only when the user allows them (`--allow TOOL` or `--allow TOOL.ACTION`, and `mcp.allow` in
 * config). Only active tools are in the catalog at all. Nothing that changes policy (approve, grant, import,
 * secrets, config, 2FA) is ever a tool.
 */
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import type { CatalogEntry } from "../api/index.js";
import { mcpToolName } from "./names.js";

export interface ExposureOptions {
  /** TOOL or TOOL.ACTION: the create, update and delete actions agents may call. */
  allow: string[];
  /** Only these tools. */
  tools?: string[];
  /** Only tools with this tag. */
  tag?: string;
}

export function isExposed(entry: Pick<CatalogEntry, "kind" | "tool" | "target">, allow: readonly string[]): boolean {
  return entry.kind === "read" || allow.includes(entry.tool) || allow.includes(entry.target);
}

function describe(entry: CatalogEntry): string {
  const lines = [
    entry.description,
    "",
    `toolctl action ${entry.target} (${entry.kind}) of ${entry.tool}: ${entry.toolDescription}`,
    `Cost: ${entry.cost}. Risk: ${entry.risk}. Undo: ${entry.undo}.`,
  ];
  if (entry.kind !== "read" || entry.approval === "always") {
    lines.push(
      "A call that needs a human's approval waits for it (they decide with `toolctl approve` or on toolctl's approval page, never through this client); " +
        "if no decision comes in time, the result names a pending approval id to pass to the `resume` tool.",
    );
  }
  lines.push("Use the `preview` tool to see the exact request, cost, risk and approval need without running it.");
  return lines.join("\n");
}

/** MCP requires object schemas at the root of input and output schemas. */
function objectSchema(schema: Record<string, unknown>): Tool["inputSchema"] {
  return { ...schema, type: "object" } as Tool["inputSchema"];
}

export function toolOf(entry: CatalogEntry): Tool {
  const title = `${entry.tool}: ${entry.action}`;
  const output = entry.outputSchema && entry.outputSchema.type === "object" ? { outputSchema: entry.outputSchema as Tool["outputSchema"] } : {};
  return {
    name: mcpToolName(entry.tool, entry.action),
    title,
    description: describe(entry),
    inputSchema: objectSchema(entry.inputSchema),
    ...output,
    annotations: {
      title,
      readOnlyHint: entry.kind === "read",
      destructiveHint: entry.kind === "delete",
      idempotentHint: entry.idempotent,
      openWorldHint: entry.openWorld,
    },
    // A client that supports MCP tasks may run the call as one: it then waits for approval as long as the request is open.
    execution: { taskSupport: "optional" },
    _meta: { "toolctl/action": entry.target, "toolctl/kind": entry.kind },
  };
}

export const PREVIEW_TOOL: Tool = {
  name: "preview",
  title: "Preview an action (dry run)",
  description:
    "What calling an action would do, without doing it: the exact request or command, the cost, the risk, whether a human must approve, " +
    "the effect on today's budget and how it is undone. `action` is a tool name from this list (or tool.action); `input` its arguments.",
  inputSchema: {
    type: "object",
    properties: {
      action: { type: "string", description: "a tool name from this server's list, or tool.action" },
      input: { type: "object", description: "the arguments the call would take", additionalProperties: true },
    },
    required: ["action"],
    additionalProperties: false,
  },
  annotations: { title: "Preview an action (dry run)", readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
};

export const RESUME_TOOL: Tool = {
  name: "resume",
  title: "Run a call once a human approved it",
  description:
    "Runs a call that was waiting for a human's approval, once they approved it (toolctl approve ID): pass only the approval id the earlier " +
    "call returned. It runs exactly that call, with the same input, once. A request still pending answers pending again (resume it later); a denied, expired or used one runs nothing.",
  inputSchema: {
    type: "object",
    properties: { approval: { type: "string", description: "the approval id an earlier call returned" } },
    required: ["approval"],
    additionalProperties: false,
  },
  annotations: { title: "Run a call once a human approved it", readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  execution: { taskSupport: "optional" },
};
