/**
 * The one prompt wrapper. It asks only when someone can answer (stdin and stderr are terminals), prints to
 * stderr so stdout stays data, and fails closed: no answer within the timeout, end of input and Ctrl-C (as a
 * keypress, or as SIGINT through the caller's signal) are all "no", never "yes".
 */
import { isWellFormedCode, normalizeCode, OTP_DIGITS } from "../policy/otp-code.js";
import { isTerminal } from "./stdio.js";

export type Answer = "yes" | "no" | "timeout" | "eof" | "interrupted";

/**
 * Asked of the descriptors, not of `process.stdin`: reading that property builds the stream, and for a file or
 * /dev/null (cron, `< input`) Node's file stream brings fs/promises and readline with it, a few milliseconds a
 * run for a command that asks nobody; nor of tty, unless the descriptor is a character device (./stdio.ts).
 */
export function canPrompt(): boolean {
  return isTerminal(0) && isTerminal(2);
}

async function ask<T>(
  run: (signal: AbortSignal) => Promise<T>,
  timeoutMs: number,
  outer?: AbortSignal,
): Promise<{ value: T } | { answer: Exclude<Answer, "yes" | "no"> }> {
  const controller = new AbortController();
  // The caller's signal (Ctrl-C delivered as SIGINT rather than as a keypress) ends the prompt too.
  const onOuter = () => controller.abort();
  outer?.addEventListener("abort", onOuter, { once: true });
  if (outer?.aborted) controller.abort();
  let why: "timeout" | "eof" | undefined;
  const timer = setTimeout(() => ((why = "timeout"), controller.abort()), timeoutMs);
  const onEnd = () => ((why ??= "eof"), controller.abort());
  // On a terminal in raw mode Ctrl-D is a keypress, not the end of input, and readline swallows it without
  // settling the prompt: watched for here, so it ends the prompt as EOF does.
  const onKey = (_: string, key?: { ctrl?: boolean; name?: string }) => key?.ctrl && key.name === "d" && onEnd();
  process.stdin.on("keypress", onKey);
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
    outer?.removeEventListener("abort", onOuter);
    process.stdin.off("keypress", onKey);
    process.stdin.off("end", onEnd);
    process.stdin.off("close", onEnd);
  }
}

/**
 * Asks a yes/no question. Only the exact word `yes` approves (Terraform's rule): `y`, `YES` or ` yes` are a
 * no, so neither a habit from other tools nor a stray key ever approves. Trailing blanks are not part of it.
 */
export async function askYesNo(message: string, timeoutMs: number, outer?: AbortSignal): Promise<Answer> {
  const { input } = await import("@inquirer/prompts");
  const result = await ask((signal) => input({ message }, { signal, output: process.stderr }), timeoutMs, outer);
  if ("answer" in result) return result.answer;
  return result.value.trimEnd() === "yes" ? "yes" : "no";
}

/**
 * Asks for a one-time code of `digits` digits (re-asked until well formed). It is typed visibly, as
 * authenticator codes are everywhere: it is valid for seconds and accepted once, and seeing it avoids typos.
 */
export async function askCode(
  message: string,
  timeoutMs: number,
  digits = OTP_DIGITS,
  outer?: AbortSignal,
): Promise<{ code: string } | { answer: Exclude<Answer, "yes" | "no"> }> {
  const { input } = await import("@inquirer/prompts");
  const result = await ask(
    (signal) =>
      input(
        { message, validate: (value) => isWellFormedCode(value, digits) || `enter the ${digits}-digit code from your authenticator app` },
        { signal, output: process.stderr },
      ),
    timeoutMs,
    outer,
  );
  return "answer" in result ? result : { code: normalizeCode(result.value) };
}

/** Asks for a value with the characters masked (a secret); an empty value is re-asked. */
export async function askHidden(message: string, timeoutMs: number): Promise<{ value: string } | { answer: Exclude<Answer, "yes" | "no"> }> {
  const { password } = await import("@inquirer/prompts");
  return ask(
    (signal) => password({ message, mask: "*", validate: (value) => value !== "" || "the value cannot be empty" }, { signal, output: process.stderr }),
    timeoutMs,
  );
}
