/** `toolctl completion bash|zsh|fish`: the script that makes the shell ask `toolctl __complete` on TAB. */
import { completionScript, type COMPLETION_SHELLS } from "../completion/scripts.js";
import type { CommandContext } from "../program.js";

export async function completionCommand(_context: CommandContext, shell: (typeof COMPLETION_SHELLS)[number]): Promise<void> {
  // The script itself, even with --json: it is meant for `source`, and a shell reads no JSON.
  process.stdout.write(completionScript(shell));
}
