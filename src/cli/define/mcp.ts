import { collect } from "./flags.js";
import type { CommandDefinition } from "./types.js";

export const mcpDefinition: CommandDefinition = {
  name: "mcp",
  register(program, action) {
    program
      .command("mcp")
      .description("serve the registry's actions to AI agents over the Model Context Protocol (stdio, or Streamable HTTP with --http), as actor agent")
      .option("--http <[host:]port>", "serve Streamable HTTP at http://HOST:PORT/mcp instead of stdio (HOST defaults to 127.0.0.1; port 0 picks a free one)")
      .option(
        "--allow <tool[.action]>",
        "also offer this tool's create, update and delete actions, or this one action (repeatable; reads are offered by default)",
        collect,
      )
      .option("--tools <names>", "offer only these tools (comma-separated)")
      .option("--tag <tag>", "offer only tools with this tag")
      .option(
        "--approval-wait <seconds>",
        "how long a call that needs approval waits for the decision before returning the pending request (default: config mcp.approvalWaitSeconds, 45)",
      )
      .option(
        "--elicit",
        "ask the user through the client (form elicitation) for a MEDIUM-risk call before filing a request; weaker: the answer passes through the client (default: config mcp.elicit, off)",
      )
      .option("--allow-remote", "with --http: allow a bind address other than loopback (other machines then reach the server)")
      .option("--new-token", "with --http: replace the bearer token with a new one, printed once")
      .option(
        "--ui",
        "with --http (loopback only): also serve the approval page on the same port, next to /mcp, with its own one-time login link (printed) and session",
      )
      .addHelpText(
        "after",
        "\nEvery call goes through the same checks as toolctl run (input schema, cost, risk, limits, approval, audit), recorded with actor agent and the\nclient's name, version and session. Approvals come from a human in their own terminal (toolctl approve ID) or on the approval page\n(toolctl ui, or --ui), never from the client; a client that supports URL elicitation is asked to show its user the request's page.\nThe HTTP transport needs Authorization: Bearer TOKEN (printed on first start, or TOOLCTL_MCP_TOKEN) and checks Host and Origin.\n\nExample:\n  toolctl mcp\n  toolctl mcp --allow stripe.create_refund --tag payments\n  toolctl mcp --http 8808\n  toolctl mcp --http 8808 --ui",
      )
      .action(action(async () => (await import("../commands/mcp.js")).mcpCommand));
  },
};
