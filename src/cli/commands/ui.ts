import { spawn } from "node:child_process";
import type { CommandContext } from "../program.js";
import { announceServedPage, openForCommand } from "./shared.js";

interface UiFlags {
  listen?: string;
  /** False with --no-open. */
  open: boolean;
}

/** Resolves on the first SIGINT or SIGTERM (naming it): the server then closes and the registry with it. */
export function stopSignal(): Promise<"SIGINT" | "SIGTERM"> {
  return new Promise((resolve) => {
    const interrupted = () => stop("SIGINT");
    const terminated = () => stop("SIGTERM");
    const stop = (signal: "SIGINT" | "SIGTERM") => {
      process.off("SIGINT", interrupted);
      process.off("SIGTERM", terminated);
      resolve(signal);
    };
    process.on("SIGINT", interrupted);
    process.on("SIGTERM", terminated);
  });
}

/** Tries the desktop's opener; a machine without one (or without a desktop) just has the printed link. */
export function openBrowser(url: string): void {
  const [command, args] =
    process.platform === "darwin" ? ["open", [url]] : process.platform === "win32" ? ["cmd", ["/c", "start", '""', url]] : ["xdg-open", [url]];
  try {
    const child = spawn(command, args as string[], { stdio: "ignore", detached: true });
    child.on("error", () => undefined);
    child.unref();
  } catch {
    // Nothing to do: the link is on the terminal.
  }
}

/**
 * `toolctl ui [--listen [HOST:]PORT] [--no-open]`: serves the approval page on loopback until Ctrl-C or SIGTERM.
 * The page acts as the person at this machine (actor `user`); approving there always takes a second factor.
 */
export async function uiCommand(context: CommandContext, flags: UiFlags): Promise<number> {
  const web = await import("../../web/index.js");
  const log = (message: string) => process.stderr.write(`${message}\n`);
  const toolctl = await openForCommand(context, "user");
  try {
    const stopped = stopSignal();
    const server = await web.serveUi(toolctl, { listen: flags.listen, log });
    // ui.json: where `toolctl mcp` finds the page to send the human to (no secret in it).
    const withdraw = announceServedPage(toolctl.home, server.origin, log);
    log(`toolctl ui: ${server.loginUrl}`);
    log("toolctl ui: the link signs in once; Ctrl-C stops the page");
    if (flags.open && process.stdin.isTTY === true && process.stderr.isTTY === true) openBrowser(server.loginUrl);
    await stopped;
    withdraw();
    await server.close();
    return 0;
  } finally {
    await toolctl.close();
  }
}
