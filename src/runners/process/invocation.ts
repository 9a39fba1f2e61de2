/** A program's argv and what its ending means, shared by the process and docker runtimes. */
import { isUtf8 } from "node:buffer";
import { renderText, renderValue, TemplateError, type TemplateScope } from "../../domain/template.js";
import type { RunContext, RunResult } from "../types.js";

/**
 * Renders an argv template. No shell means no injection, but a value starting with '-' in its own argument would be
 * read as an option. An argument is a C string: a NUL byte would end it, so the system refuses to start the program
 * (refused here instead, before anything is reserved, and in a dry run too). The value is not shown: it may hold a secret.
 */
export function renderArgv(command: string[], scope: TemplateScope): string[] {
  return command.map((part, index) => {
    const value = renderText(part, scope, `command[${index}]`);
    if (value.includes("\0")) throw new TemplateError(`command[${index}]: the value has a NUL byte, which a program's argument cannot carry`);
    if (/^\{\{/.test(part.trim()) && value.startsWith("-") && !command.slice(0, index).includes("--")) {
      throw new TemplateError(
        `command[${index}]: the value ${JSON.stringify(value.slice(0, 40))} starts with '-' and would be read as an option; put "--" before it in the manifest's command if the program accepts that`,
      );
    }
    return value;
  });
}

/**
 * Renders an action's `env` templates to the program's extra variables (absent values left out, others as text).
 * A variable is a C string too: one with a NUL byte is refused, naming it, as an argument is.
 */
export function renderEnv(templates: Record<string, unknown>, scope: TemplateScope): Record<string, string> {
  const env: Record<string, string> = {};
  const rendered = renderValue(templates, scope) as Record<string, unknown>;
  for (const [name, value] of Object.entries(rendered)) {
    if (value === undefined) continue;
    const text = String(value);
    if (text.includes("\0")) throw new TemplateError(`env.${name}: the value has a NUL byte, which an environment variable cannot carry`);
    env[name] = text;
  }
  return env;
}

export function lastLine(text: string): string {
  const lines = text.trim().split("\n");
  return (lines[lines.length - 1] ?? "").slice(0, 300);
}

/** An ending the program did not report itself (a signal, an unreadable answer) may hide work done. */
export function unclearEnding(ambiguous: boolean, details: Record<string, unknown>) {
  return (error: string, errorCategory: RunResult["errorCategory"]): RunResult => ({
    outcome: ambiguous ? "unknown" : "failed",
    errorCategory,
    details,
    error: ambiguous ? `${error}; the program may have done its work: check before running it again` : error,
  });
}

/** What a program wrote on one stream, as text, and whether it was UTF-8 (bytes that were not read as U+FFFD). */
export interface ProgramText {
  text: string;
  utf8: boolean;
}

export function decodeOutput(bytes: Uint8Array | undefined): ProgramText {
  if (bytes === undefined) return { text: "", utf8: true };
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { text: buffer.toString("utf8"), utf8: isUtf8(buffer) };
}

/** A program that exited 0: its stdout is the output, as text or JSON. */
export function programOutput(
  stdout: ProgramText,
  kind: "json" | "text",
  context: Pick<RunContext, "redact">,
  details: Record<string, unknown>,
  unclear: ReturnType<typeof unclearEnding>,
  what: string,
): RunResult {
  // Said, not done silently: text that is not UTF-8 (Latin-1, say) cannot be kept byte for byte in JSON.
  const warnings = stdout.utf8 ? [] : [`${what} wrote stdout that is not valid UTF-8: the bytes that are not read as U+FFFD (\uFFFD)`];
  if (kind === "text") return { outcome: "succeeded", output: stdout.text.replace(/\n$/, ""), details, warnings };
  try {
    return { outcome: "succeeded", output: JSON.parse(stdout.text), details, warnings };
  } catch {
    const sample = context.redact(stdout.text).trim().slice(0, 80) || "(nothing)";
    return unclear(`${what} printed invalid JSON on stdout: ${JSON.stringify(sample)}`, "validation");
  }
}

/** A program that exited with another code: the last line it wrote says why. */
export function exitedWith(
  code: number,
  stderr: string,
  stdout: string,
  context: Pick<RunContext, "redact">,
  details: Record<string, unknown>,
  what: string,
): RunResult {
  const tail = lastLine(stderr) || lastLine(context.redact(stdout));
  return { outcome: "failed", errorCategory: "other", details, error: `${what} exited with code ${code}${tail ? `: ${tail}` : ""}` };
}
