/** What a secret may be called and how big it may be: checked by the store and, before asking for a value, by the CLI. */
import { SECRET_NAME_PATTERN } from "../domain/name-patterns.js";
import { UsageError } from "../errors.js";

/** Secrets are tokens and keys, not files: a bound keeps a mistaken pipe from sealing megabytes. */
export const MAX_SECRET_BYTES = 64 * 1024;

export function assertSecretName(name: string): void {
  if (!SECRET_NAME_PATTERN.test(name)) {
    throw new UsageError(`invalid secret name '${name}': use letters, digits and _, not starting with a digit (like STRIPE_API_KEY), and not __proto__`);
  }
}
