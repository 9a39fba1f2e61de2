/**
 * What both backends keep of a passkey and how they refuse one: the row shape, its conversion, the refusals of
 * `add` and `recordUse`, and the audit events. The WebAuthn checks happen above the store (policy/passkey.ts).
 */
import type { AuditEventInput, Passkey, PasskeyInfo } from "../../domain/records.js";

export interface PasskeyRow {
  id: string;
  name: string;
  public_key: string;
  counter: number;
  transports: string;
  created_at: string;
  last_used_at: string | null;
}

export const toPasskey = (row: PasskeyRow): Passkey => ({
  id: row.id,
  name: row.name,
  publicKey: row.public_key,
  counter: row.counter,
  transports: JSON.parse(row.transports) as string[],
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
});

export const passkeyInfo = ({ id, name, transports, createdAt, lastUsedAt }: Passkey): PasskeyInfo => ({ id, name, transports, createdAt, lastUsedAt });

export const nameTaken = (name: string) => `a passkey named '${name}' is already registered: choose another name`;
export const ALREADY_REGISTERED = "this passkey is already registered";
export const NO_LONGER_REGISTERED = "the passkey is no longer registered";

/**
 * Whether a reported counter may be recorded. An authenticator that keeps a counter must report a higher one each
 * time; one that keeps none reports 0 throughout. Backends apply the same rule in SQL (`COUNTER_ADVANCES`) so
 * that the check and the update are one statement.
 */
export function counterAdvances(stored: number, reported: number): boolean {
  return (reported === 0 && stored === 0) || reported > stored;
}

/** `counterAdvances` as a condition on the `counter` column, the reported counter being the parameter named. */
export const counterAdvancesSql = (param: string) => `((${param} = 0 AND counter = 0) OR ${param} > counter)`;

export const counterStalled = (stored: number, reported: number) =>
  `the passkey's signature counter did not advance (${reported} after ${stored}): a cloned authenticator or a replayed signature`;

export const addedEvent = (passkey: Passkey, actor: string): AuditEventInput => ({
  type: "2fa.passkey_added",
  actor,
  status: "added",
  data: { passkey: passkey.id, name: passkey.name, transports: passkey.transports },
});

export const removedEvent = (passkey: Passkey, actor: string, via: string): AuditEventInput => ({
  type: "2fa.passkey_removed",
  actor,
  status: "removed",
  data: { passkey: passkey.id, name: passkey.name, via },
});
