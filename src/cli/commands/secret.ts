/**
 * `toolctl secret set | list | rm | rotate`: the encrypted store. A value is read from a hidden prompt on a
 * terminal, or from stdin when it is piped, and never from an argument or a flag: those end up in shell
 * history and in `ps`, where every local user can read them.
 */
import { ExitCode, NeedsHumanError, ToolctlError, UsageError } from "../../errors.js";
import { assertSecretName, MAX_SECRET_BYTES } from "../../api/index.js";
import { table } from "../../ui/output.js";
import { listEnvelope, printList } from "../list-output.js";
import type { CommandContext } from "../program.js";
import { withToolctl } from "./shared.js";

const PROMPT_TIMEOUT_MS = 5 * 60_000;
const PIPE_HINT = `printf '%s' "$VALUE" | toolctl secret set NAME`;

export const VALUE_AS_ARGUMENT =
  `secret values are never taken as arguments or flags: they would stay in your shell history and be visible in ps. ` +
  `Run 'toolctl secret set NAME' on a terminal to be prompted, or pipe the value: ${PIPE_HINT}`;

/** Reads all of stdin, refusing more than a secret can be. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_SECRET_BYTES + 2) throw new UsageError(`stdin holds more than ${MAX_SECRET_BYTES / 1024} KiB; secrets are tokens and keys, not files`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Asks with the characters masked, on stderr so stdout stays data. Ctrl-C, Ctrl-D and silence store nothing. */
async function promptHidden(name: string): Promise<string> {
  const { askHidden } = await import("../../ui/prompt.js");
  const result = await askHidden(`Value for ${name} (hidden):`, PROMPT_TIMEOUT_MS);
  if ("value" in result) return result.value;
  if (result.answer === "interrupted") throw new ToolctlError("interrupted", ExitCode.interrupted, `interrupted: nothing was stored for ${name}`);
  throw new NeedsHumanError(`no value entered for ${name}: nothing was stored; you can also pipe it: ${PIPE_HINT}`);
}

async function readValue(name: string): Promise<string> {
  const isTerminal = process.stdin.isTTY === true;
  const raw = isTerminal ? await promptHidden(name) : await readStdin();
  // `echo` and most editors end with a newline that is not part of the secret; anything else is kept as typed.
  const value = raw.endsWith("\r\n") ? raw.slice(0, -2) : raw.endsWith("\n") ? raw.slice(0, -1) : raw;
  if (value === "") throw new UsageError(`no value for ${name} on stdin: empty values are refused; pipe it (${PIPE_HINT}) or run on a terminal to be prompted`);
  return value;
}

export async function setSecretCommand(context: CommandContext, name: string): Promise<void> {
  // `set NAME=value` must not be echoed back in an "invalid name" error.
  if (name.includes("=")) throw new UsageError(VALUE_AS_ARGUMENT);
  assertSecretName(name);
  const value = await readValue(name);
  const result = await withToolctl(context, (toolctl) => toolctl.setSecret(name, value));
  const status = result.created ? "created" : "updated";
  context.output.data({ name, status, source: "store", keyId: result.keyId }, () => `${name}: ${status} in the encrypted store (key ${result.keyId})`);
}

interface ListFlags {
  check?: boolean;
}

export async function listSecretsCommand(context: CommandContext, flags: ListFlags): Promise<number> {
  const secrets = await withToolctl(context, (toolctl) => toolctl.secrets({ check: flags.check === true }));
  const unreadable = secrets.filter((s) => s.readable === false);
  const c = context.output.color;
  await printList(context, listEnvelope(secrets), () => {
    if (secrets.length === 0) return "no secrets in the encrypted store; add one with: toolctl secret set NAME";
    const headers = ["NAME", "SOURCE", "UPDATED", "KEY", ...(flags.check ? ["READABLE"] : [])];
    const cells = secrets.map((s) => [s.name, s.source, s.updatedAt, s.keyId, ...(flags.check ? [s.readable ? "yes" : "NO"] : [])]);
    return table(headers, cells, (h) => c.bold(h), { width: context.output.width });
  });
  for (const s of unreadable) context.output.warn(s.problem ?? `${s.name} cannot be decrypted`);
  return unreadable.length > 0 ? ExitCode.environment : ExitCode.ok;
}

export async function removeSecretCommand(context: CommandContext, name: string): Promise<void> {
  await withToolctl(context, (toolctl) => toolctl.removeSecret(name));
  context.output.data({ name, status: "removed" }, () => `${name}: removed from the encrypted store`);
}

export async function rotateSecretsCommand(context: CommandContext): Promise<void> {
  const result = await withToolctl(context, (toolctl) => toolctl.rotateKey());
  context.output.data(result, () => {
    const dropped = result.droppedKeyIds.length ? `; dropped ${result.droppedKeyIds.length} old key(s)` : "";
    const next = result.source === "env" ? "\nnow make TOOLCTL_MASTER_KEY_NEW your TOOLCTL_MASTER_KEY and unset TOOLCTL_MASTER_KEY_NEW" : "";
    return `master key rotated: now ${result.keyId}; re-sealed ${result.resealed.secrets} secret(s) and ${result.resealed.totp} 2FA secret(s)${dropped}${next}`;
  });
}
