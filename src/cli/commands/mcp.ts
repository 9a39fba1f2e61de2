import { readFileSync } from "node:fs";
import { ALLOW_ENTRY_PATTERN, TOOL_NAME_PATTERN } from "../../domain/name-patterns.js";
import { UsageError } from "../../errors.js";
import type { Toolctl } from "../../api/index.js";
import type { MountedHandler } from "../../mcp/index.js";
import type { PageAddress } from "../../web/index.js";
import type { CommandContext } from "../program.js";
import { approvalPageUrl, servedPage } from "../../web/served.js";
import { announceServedPage, openForCommand } from "./shared.js";

interface McpFlags {
  http?: string;
  allow?: string[];
  tools?: string;
  tag?: string;
  approvalWait?: string;
  allowRemote?: boolean;
  newToken?: boolean;
  elicit?: boolean;
  ui?: boolean;
}

function checkFlags(flags: McpFlags): { tools?: string[]; wait?: number } {
  for (const value of flags.allow ?? []) {
    if (!ALLOW_ENTRY_PATTERN.test(value))
      throw new UsageError(`--allow: expected TOOL or TOOL.ACTION (such as stripe or stripe.create_refund), got ${JSON.stringify(value)}`);
  }
  const tools = flags.tools?.split(",").map((name) => name.trim());
  for (const name of tools ?? []) {
    if (!TOOL_NAME_PATTERN.test(name)) throw new UsageError(`--tools: expected tool names separated by commas, got ${JSON.stringify(flags.tools)}`);
  }
  let wait: number | undefined;
  if (flags.approvalWait !== undefined) {
    wait = Number(flags.approvalWait);
    if (!/^\d+$/.test(flags.approvalWait) || wait > 86_400) {
      throw new UsageError(`--approval-wait: expected whole seconds from 0 to 86400, got ${JSON.stringify(flags.approvalWait)}`);
    }
  }
  if (flags.http === undefined && (flags.allowRemote || flags.newToken)) {
    throw new UsageError(`${flags.allowRemote ? "--allow-remote" : "--new-token"} applies to --http only`);
  }
  if (flags.http === undefined && flags.ui) {
    throw new UsageError("--ui applies to --http only: with stdio, run toolctl ui in a terminal, and this server points to its page");
  }
  return { tools, wait };
}

/** Resolves on the first SIGINT or SIGTERM: the server then closes its sessions and the registry. */
function stopSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

async function warnUnknown(toolctl: Toolctl, allow: string[], context: CommandContext): Promise<void> {
  const names = new Set((await toolctl.listTools()).map((tool) => tool.name));
  for (const value of allow) {
    const tool = value.split(".")[0]!;
    if (!names.has(tool)) context.output.warn(`--allow ${value}: no tool ${tool} is registered (yet)`);
  }
}

export async function mcpCommand(context: CommandContext, flags: McpFlags): Promise<number> {
  const { tools, wait } = checkFlags(flags);
  const mcp = await import("../../mcp/index.js");
  // Whoever started the server, the calls are the agent's: recorded as actor agent, never approved by it.
  const toolctl = await openForCommand(context, "agent");
  const log = (message: string) => process.stderr.write(`${message}\n`);
  /** With --ui: the page's own API instance (actor user), and where the page is once the server listens. */
  let pageApi: Toolctl | undefined;
  const served: { address?: PageAddress } = {};
  try {
    const settings = await toolctl.settings();
    await warnUnknown(toolctl, [...new Set([...settings.mcp.allow, ...(flags.allow ?? [])])], context);
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    /** This server's own page (--ui), else the one `toolctl ui` (or another server) serves for this home, if any. */
    let ownPage: string | undefined;
    const approvalPage = (id: string): string | undefined => {
      const origin = ownPage ?? servedPage(toolctl.home)?.url;
      return origin === undefined ? undefined : approvalPageUrl(origin, id);
    };
    // Only what the command line says: config.yaml's `mcp` settings are read on every call, so they follow edits.
    const options = {
      allow: flags.allow ?? [],
      tools,
      tag: flags.tag,
      approvalWaitSeconds: wait,
      elicit: flags.elicit === true,
      version: pkg.version,
      log,
      approvalPage,
    };
    const stopped = stopSignal();
    if (flags.http === undefined) {
      const server = await mcp.serveStdio(toolctl, options);
      await Promise.race([server.closed, stopped]);
      await server.close();
      return 0;
    }
    // The page decides as the person at this machine (actor user), never as the agent this server serves.
    let mount: MountedHandler | undefined;
    if (flags.ui) {
      // Opened as every command opens it (the project's settings included), as toolctl ui does.
      const web = await import("../../web/index.js");
      pageApi = await openForCommand(context, "user");
      const handler = web.uiHandler(pageApi, { log: (message) => log(message.replace(/^toolctl ui:/, "toolctl mcp: approval page:")) });
      mount = {
        listening: (address) => void (served.address = handler.listening(address)),
        handle: (req, res) => handler.handle(req, res),
        close: () => handler.close(),
      };
    }
    const server = await mcp.serveHttpMcp(toolctl, {
      ...options,
      listen: flags.http,
      allowRemote: flags.allowRemote === true,
      newToken: flags.newToken === true,
      env: context.env,
      page: mount,
    });
    log(`toolctl mcp: serving MCP (Streamable HTTP) at ${server.url}`);
    let withdraw = (): void => undefined;
    if (served.address) {
      const { origin, loginUrl } = served.address;
      ownPage = origin;
      withdraw = announceServedPage(toolctl.home, origin, log);
      log(`toolctl mcp: approval page at ${origin}/ (its own sign-in: the bearer token does not open it)`);
      log(`toolctl mcp: approval page login link (signs in once): ${loginUrl}`);
    }
    if (server.token.created) {
      log(`toolctl mcp: bearer token (shown once; only its hash is kept): ${server.token.created}`);
    } else {
      log(
        server.token.source === "env"
          ? `toolctl mcp: bearer token from ${mcp.TOKEN_ENV}`
          : `toolctl mcp: bearer token: the one printed when it was made (toolctl mcp --http ${flags.http} --new-token makes a new one, or set ${mcp.TOKEN_ENV})`,
      );
    }
    await stopped;
    withdraw();
    await server.close();
    return 0;
  } finally {
    await pageApi?.close();
    await toolctl.close();
  }
}
