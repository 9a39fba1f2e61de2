/**
 * The encrypted secret store: one record per secret in the store, sealed here with the master key (see
 * crypto.ts) and bound to its name by the AAD `secrets:NAME`; the store only ever holds ciphertext. Values never
 * leave this module except to the caller that asked for one; listings and audit records carry names and key ids.
 */
import type { Actor } from "../config/home.js";
import { EnvironmentError, UsageError } from "../errors.js";
import type { Store } from "../store/port.js";
import { keyFilePath, loadKeyRing, ringForSealing, seal, sealedKeyId, unseal, type KeyRing } from "./crypto.js";

import { assertSecretName, MAX_SECRET_BYTES } from "./names.js";

export { assertSecretName, MAX_SECRET_BYTES } from "./names.js";

export type { SecretInfo } from "../store/port.js";

export function secretAad(name: string): string {
  return `secrets:${name}`;
}

/**
 * Seals and stores a secret. The ring is re-read inside the store's write transaction (`ringForSealing`), so a
 * key rotation running at the same time cannot leave the value sealed with a key it just dropped.
 */
export function setSecret(
  store: Store,
  home: string,
  ring: KeyRing,
  name: string,
  value: string,
  actor: Actor = "user",
): Promise<{ created: boolean; keyId: string }> {
  assertSecretName(name);
  if (value === "") throw new UsageError(`refusing to store an empty value for ${name}`);
  if (Buffer.byteLength(value) > MAX_SECRET_BYTES)
    throw new UsageError(`the value for ${name} is over ${MAX_SECRET_BYTES / 1024} KiB; secrets are tokens and keys, not files`);
  return store.secrets.put(
    name,
    () => {
      const sealingRing = ringForSealing(home, ring);
      return { sealed: seal(sealingRing, value, secretAad(name)), keyId: sealingRing.current };
    },
    actor,
  );
}

/** Where the key is expected to come from, for error messages. */
export function keySourceLabel(home: string, env: NodeJS.ProcessEnv): string {
  return env.TOOLCTL_MASTER_KEY ? "TOOLCTL_MASTER_KEY" : keyFilePath(home);
}

/**
 * Decrypts one stored secret, with an error that says which key was tried and what to do. `reload` gives a
 * fresh ring when the value names a key this one lacks (a rotation may have added it since the ring was read).
 */
export function openSealedSecret(ring: KeyRing, name: string, sealed: string, where: string, reload?: () => KeyRing | undefined): string {
  let usable = ring;
  const kid = sealedKeyId(sealed);
  if (!usable.keys.has(kid) && reload) usable = reload() ?? usable;
  if (!usable.keys.has(kid)) {
    throw new EnvironmentError(
      `secret ${name} is in the encrypted store but was sealed with key '${kid}', which ${where} does not hold: use the master key it was stored with (restore it, or set TOOLCTL_MASTER_KEY to it), or set the secret again`,
      { secret: name, keyId: kid },
    );
  }
  try {
    return unseal(usable, sealed, secretAad(name));
  } catch (error) {
    throw new EnvironmentError(
      `secret ${name} is in the encrypted store but cannot be decrypted with ${where}: wrong master key, or the stored value was tampered with`,
      { secret: name, keyId: kid },
      error,
    );
  }
}

/** Decrypts the secret `name`; undefined when the store has none by that name. */
export async function getSecret(store: Store, home: string, ring: KeyRing, name: string): Promise<string | undefined> {
  const sealed = await store.secrets.sealed(name);
  if (sealed === undefined) return undefined;
  const reload = ring.source === "file" ? () => loadKeyRing(home, {}, { create: false }) : undefined;
  return openSealedSecret(ring, name, sealed, ring.source === "env" ? "TOOLCTL_MASTER_KEY" : keyFilePath(home), reload);
}
