/**
 * The audit key: an HMAC key that signs the audit chain, its checkpoint and every execution row, so that a log
 * rewritten by someone without the key (recomputed hashes, a forged event, an edited execution) no longer
 * verifies. It is held like the master key (key-store.ts): `TOOLCTL_AUDIT_KEY` (base64 of 32 bytes), else the
 * OS keyring or `<home>/audit.key`, created on the first audited write.
 */
import { EnvironmentError } from "../errors.js";
import { nodeCrypto } from "../util/builtins.js";
import { existingHolder, holderForNewKey } from "./key-store.js";

export interface AuditKey {
  /** Recorded beside every signature, so a signature made with another key is named as such. */
  id: string;
  key: Buffer;
  /** Where it came from, for messages. */
  where: string;
  /**
   * Given in the environment, rather than made by toolctl at a home's first audited write: so its presence says
   * nothing about whether anything was ever written.
   */
  given?: boolean;
}

function decode(base64: string, where: string): Buffer {
  const key = Buffer.from(base64, "base64");
  if (key.length !== 32) throw new EnvironmentError(`${where}: expected 32 bytes of base64 (for example: openssl rand -base64 32), got ${key.length} bytes`);
  return key;
}

function derivedId(key: Buffer): string {
  return `e${nodeCrypto().createHash("sha256").update("toolctl-audit-key-id\0").update(key).digest("hex").slice(0, 12)}`;
}

/**
 * The audit key of this home; with `create`, a new one is made when there is none (the first audited write).
 * `beforeCreate` is handed a new key before it is stored: what it writes with the key is on disk before the key is.
 */
export function loadAuditKey(home: string, env: NodeJS.ProcessEnv, options: { create: boolean; beforeCreate?: (key: AuditKey) => void }): AuditKey | undefined {
  if (env.TOOLCTL_AUDIT_KEY) {
    const key = decode(env.TOOLCTL_AUDIT_KEY, "TOOLCTL_AUDIT_KEY");
    return { id: derivedId(key), key, where: "TOOLCTL_AUDIT_KEY", given: true };
  }
  let holder = existingHolder(home, "audit", env);
  let text = holder?.read();
  if (text === undefined) {
    if (!options.create) return undefined;
    holder = holderForNewKey(home, "audit", env);
    const id = `a${Date.now().toString(36)}${nodeCrypto().randomBytes(3).toString("hex")}`;
    const key = nodeCrypto().randomBytes(32);
    options.beforeCreate?.({ id, key, where: holder.where });
    // Never replaces a key another process created meanwhile: the loser reads the winner's.
    holder.create(`${JSON.stringify({ id, key: key.toString("base64") })}\n`);
    text = holder.read();
    if (text === undefined) throw new EnvironmentError(`the audit key could not be read back from ${holder.where}`);
  }
  try {
    const parsed = JSON.parse(text) as { id?: unknown; key?: unknown };
    if (typeof parsed.id !== "string" || typeof parsed.key !== "string") throw new Error('expected {"id", "key"}');
    return { id: parsed.id, key: decode(parsed.key, holder!.where), where: holder!.where };
  } catch (error) {
    if (error instanceof EnvironmentError) throw error;
    // Never the parser's message: it quotes the text around the fault, and that text is the key.
    const why = error instanceof SyntaxError ? "it is not valid JSON" : (error as Error).message;
    throw new EnvironmentError(`${holder!.where} is not a valid audit key: ${why}`);
  }
}

export function hmacHex(key: AuditKey, text: string): string {
  return nodeCrypto().createHmac("sha256", key.key).update(text).digest("hex");
}
