/**
 * Long views (`show` of a large tool, `audit`, `executions`) go through a pager when stdout is a terminal, as git
 * and gh do; which one is output.ts `pagerCommand`. Like git, `LESS=FRX` and `LV=-c` are set for the pager unless
 * the user set them. Loaded only to page: starting a process is not on every command's path.
 */
import { spawn } from "node:child_process";

/** A command line without shell syntax is started directly (so a missing program is noticed); others through sh. */
function argvOf(command: string): string[] {
  return /^[\w./@%+=:,-]+(\s+[\w./@%+=:,-]+)*$/.test(command) ? command.split(/\s+/) : ["sh", "-c", command];
}

/**
 * Writes `text` to the pager's input and waits until the pager exits. Resolves to a reason when the pager could
 * not be started (the caller then prints the text itself), else undefined. Ctrl-C belongs to the pager meanwhile;
 * quitting it before the end is the reader's choice, not an error.
 */
export function page(command: string, text: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const [program, ...args] = argvOf(command);
  return new Promise((resolve) => {
    const ignoreInterrupt = () => undefined;
    process.on("SIGINT", ignoreInterrupt);
    const done = (reason?: string) => {
      process.off("SIGINT", ignoreInterrupt);
      resolve(reason);
    };
    const child = spawn(program!, args, {
      stdio: ["pipe", "inherit", "inherit"],
      env: { ...env, LESS: env.LESS ?? "FRX", LV: env.LV ?? "-c" },
    });
    let failure: string | undefined;
    // A program that cannot be started emits `error`, then `close`.
    child.on("error", (error: NodeJS.ErrnoException) => (failure = `cannot start the pager '${command}' (${error.code ?? error.message}); printing directly`));
    child.on("close", () => done(failure));
    // The pager may quit before reading everything (q in less): the broken pipe is expected.
    child.stdin.on("error", () => undefined);
    child.stdin.end(text);
  });
}
