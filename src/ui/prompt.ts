/**
 * The one prompt wrapper. It asks only when someone can answer (stdin and stderr are terminals), prints to
 * stderr so stdout stays data, and fails closed: no answer within the timeout, end of input and Ctrl-C are
 * all "no", never "yes".
 */
export type Answer = "yes" | "no" | "timeout" | "eof" | "interrupted";

export function canPrompt(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}

async function ask<T>(run: (signal: AbortSignal) => Promise<T>, timeoutMs: number): Promise<{ value: T } | { answer: Exclude<Answer, "yes" | "no"> }> {
  const controller = new AbortController();
  let why: "timeout" | "eof" | undefined;
  const timer = setTimeout(() => ((why = "timeout"), controller.abort()), timeoutMs);
  const onEnd = () => ((why ??= "eof"), controller.abort());
  process.stdin.once("end", onEnd);
  process.stdin.once("close", onEnd);
  try {
    return { value: await run(controller.signal) };
  } catch (error) {
    const name = (error as Error).name;
    if (name === "AbortPromptError") return { answer: why ?? "interrupted" };
    if (name === "ExitPromptError" || name === "CancelPromptError") return { answer: why ?? "interrupted" };
    throw error;
  } finally {
    clearTimeout(timer);
    process.stdin.off("end", onEnd);
    process.stdin.off("close", onEnd);
  }
}

/** Asks a yes/no question; only a typed "yes" (or "y") approves. */
export async function askYesNo(message: string, timeoutMs: number): Promise<Answer> {
  const { input } = await import("@inquirer/prompts");
  const result = await ask((signal) => input({ message }, { signal, output: process.stderr }), timeoutMs);
  if ("answer" in result) return result.answer;
  return /^(y|yes)$/i.test(result.value.trim()) ? "yes" : "no";
}

/** Asks for a one-time code; the characters are masked. */
export async function askCode(message: string, timeoutMs: number): Promise<{ code: string } | { answer: Exclude<Answer, "yes" | "no"> }> {
  const { password } = await import("@inquirer/prompts");
  const result = await ask((signal) => password({ message, mask: "*" }, { signal, output: process.stderr }), timeoutMs);
  return "answer" in result ? result : { code: result.value.trim() };
}
