/**
 * Sealing values at rest: AES-256-GCM with a random 96-bit nonce per value and additional authenticated data
 * naming where the value lives (`secrets:NAME`, `totp:1`), so a ciphertext cannot be moved to another row.
 *
 * The key ring lives outside the database: in `TOOLCTL_MASTER_KEY` (base64 of 32 bytes), else in the OS keyring
 * or `<home>/master.key` (see key-store.ts), as JSON holding every key by id and which one is current. Sealed
 * values name their key id, so a rotation can re-seal rows in batches while old keys still decrypt. While an
 * environment key is being rotated, `TOOLCTL_MASTER_KEY_NEW` also decrypts (see store/sqlite/rotate.ts).
 */
import { EnvironmentError } from "../errors.js";
import { nodeCrypto } from "../util/builtins.js";
import { existingHolder, holderFor, holderForNewKey, keyFileFor } from "./key-store.js";

export const KEY_FILE = "master.key";
const VERSION = "v1";

export interface KeyRing {
  current: string;
  keys: Map<string, Buffer>;
  /**
   * Where the ring came from: toolctl rotates a stored ring (file or keyring) itself; an environment key only with
   * the operator's help.
   */
  source: "env" | "file";
}

export interface KeyFile {
  current: string;
  keys: Record<string, string>;
}

function decodeKey(base64: string, where: string): Buffer {
  const key = Buffer.from(base64, "base64");
  if (key.length !== 32) throw new EnvironmentError(`${where}: expected 32 bytes of base64 (for example: openssl rand -base64 32), got ${key.length} bytes`);
  return key;
}

export function newKeyId(): string {
  return `k${Date.now().toString(36)}${nodeCrypto().randomBytes(3).toString("hex")}`;
}

/**
 * The id of an environment key, derived from the key itself, so that values re-sealed with
 * `TOOLCTL_MASTER_KEY_NEW` are still found once that key becomes `TOOLCTL_MASTER_KEY`.
 */
export function envKeyId(key: Buffer): string {
  return `e${nodeCrypto().createHash("sha256").update("toolctl-key-id\0").update(key).digest("hex").slice(0, 12)}`;
}

function envKeyRing(env: NodeJS.ProcessEnv): KeyRing {
  const key = decodeKey(env.TOOLCTL_MASTER_KEY!, "TOOLCTL_MASTER_KEY");
  // "env" is kept as a decrypt-only alias for values sealed by earlier versions, which named no key.
  const keys = new Map([
    ["env", key],
    [envKeyId(key), key],
  ]);
  let current = envKeyId(key);
  // Present while an operator rotates an environment key (see store/sqlite/rotate.ts). New values are sealed with it at
  // once, under its own id, so nothing written during the switch is left on the key being retired.
  if (env.TOOLCTL_MASTER_KEY_NEW) {
    const next = decodeKey(env.TOOLCTL_MASTER_KEY_NEW, "TOOLCTL_MASTER_KEY_NEW");
    current = envKeyId(next);
    keys.set(current, next);
  }
  return { current, keys, source: "env" };
}

/** Reads and checks the stored key ring (for rotation, which edits it); undefined when there is none yet. */
export function readKeyFile(home: string): KeyFile | undefined {
  const holder = existingHolder(home, "master");
  const text = holder?.read();
  if (!holder || text === undefined) return undefined;
  let parsed: KeyFile;
  try {
    parsed = JSON.parse(text) as KeyFile;
  } catch (error) {
    // Never the parser's message: it quotes the text around the fault, and that text is the key.
    throw new EnvironmentError(`${holder.where} is not a valid key ring: it is not valid JSON`);
  }
  if (!parsed.keys?.[parsed.current]) throw new EnvironmentError(`${holder.where}: the current key '${parsed.current}' is missing`);
  return parsed;
}

/** Where the master key ring is (or would be created), for messages. */
export function keyFilePath(home: string): string {
  return (existingHolder(home, "master") ?? { where: keyFileFor(home, "master") }).where;
}

/** Loads the key ring; with `create`, makes a new one when there is none (first `secret set`, `2fa enroll`). */
export function loadKeyRing(home: string, env: NodeJS.ProcessEnv, options: { create: boolean }): KeyRing | undefined {
  if (env.TOOLCTL_MASTER_KEY) return envKeyRing(env);
  let parsed = readKeyFile(home);
  if (!parsed) {
    if (!options.create) return undefined;
    const kid = newKeyId();
    // Never replaces a ring another process created meanwhile: the loser reads the winner's.
    holderForNewKey(home, "master", env).create(
      `${JSON.stringify({ current: kid, keys: { [kid]: nodeCrypto().randomBytes(32).toString("base64") } }, null, 2)}\n`,
    );
    parsed = readKeyFile(home)!;
  }
  const where = keyFilePath(home);
  const keys = new Map(Object.entries(parsed.keys).map(([kid, key]) => [kid, decodeKey(key, `${where} (${kid})`)]));
  return { current: parsed.current, keys, source: "file" };
}

/** Replaces the stored key ring, durably (a file is written beside and renamed into place). */
export function writeKeyFile(home: string, content: KeyFile): void {
  holderFor(home, "master", {}).write(`${JSON.stringify(content, null, 2)}\n`);
}

export function seal(ring: KeyRing, plaintext: string, aad: string): string {
  const nonce = nodeCrypto().randomBytes(12);
  const cipher = nodeCrypto().createCipheriv("aes-256-gcm", ring.keys.get(ring.current)!, nonce);
  cipher.setAAD(Buffer.from(aad));
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return [VERSION, ring.current, nonce.toString("base64"), ciphertext.toString("base64"), cipher.getAuthTag().toString("base64")].join(":");
}

/** How every value sealed with `kid` begins: lets SQL find the rows a rotation has not reached yet. */
export function sealedPrefix(kid: string): string {
  return `${VERSION}:${kid}:`;
}

/** The key id a sealed value was sealed with. */
export function sealedKeyId(sealed: string): string {
  return sealed.split(":")[1] ?? "";
}

export function unseal(ring: KeyRing, sealed: string, aad: string): string {
  const [version, kid, nonce, ciphertext, tag] = sealed.split(":");
  if (version !== VERSION || !kid || nonce === undefined || ciphertext === undefined || tag === undefined) {
    throw new EnvironmentError(`a sealed value for ${aad} is malformed`);
  }
  const key = ring.keys.get(kid);
  if (!key)
    throw new EnvironmentError(
      `the value for ${aad} was sealed with key '${kid}', which is not in the key ring (${ring.source === "env" ? "TOOLCTL_MASTER_KEY" : "the stored key ring"}): use the master key it was sealed with (set TOOLCTL_MASTER_KEY to it; with a team database, the team's)`,
    );
  try {
    const decipher = nodeCrypto().createDecipheriv("aes-256-gcm", key, Buffer.from(nonce, "base64"));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(Buffer.from(tag, "base64"));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64")), decipher.final()]).toString("utf8");
  } catch {
    throw new EnvironmentError(`the value for ${aad} cannot be decrypted: wrong key, or it was tampered with`);
  }
}

/**
 * The ring to seal with, re-read under the caller's write lock: a rotation that finished since `ring` was loaded
 * may have dropped its current key, and a value sealed with a dropped key could never be read again.
 */
export function ringForSealing(home: string, ring: KeyRing): KeyRing {
  if (ring.source !== "file") return ring;
  return loadKeyRing(home, {}, { create: false }) ?? ring;
}

/** Unseals, re-reading the key file once when the value names a key this ring predates (a rotation just ran). */
export function unsealFresh(home: string, ring: KeyRing, sealed: string, aad: string): string {
  if (ring.source === "file" && !ring.keys.has(sealedKeyId(sealed))) {
    const fresh = loadKeyRing(home, {}, { create: false });
    if (fresh) return unseal(fresh, sealed, aad);
  }
  return unseal(ring, sealed, aad);
}
