/**
 * The team's passkeys in PostgreSQL: one row per credential, registered on any machine and usable from every one.
 * Adding and removing are audited, in a serialized write with their audit event. A use moves the signature counter
 * forward in one conditional UPDATE, so two machines presenting the same signature at once cannot both record it.
 */
import type { Passkey } from "../../domain/records.js";
import type { PasskeyStore } from "../port.js";
import {
  addedEvent,
  ALREADY_REGISTERED,
  counterAdvancesSql,
  counterStalled,
  nameTaken,
  NO_LONGER_REGISTERED,
  removedEvent,
  toPasskey,
  type PasskeyRow,
} from "../shared/passkeys.js";
import { appendAudit } from "./audit-append.js";
import { nowIso, type PgRegistry, type Sql } from "./db.js";

const readPasskey = async (sql: Sql, id: string): Promise<Passkey | undefined> => {
  const row = await sql.one<PasskeyRow>("SELECT * FROM passkeys WHERE id = $1", [id]);
  return row && toPasskey(row);
};

export function pgPasskeys(registry: PgRegistry): PasskeyStore {
  return {
    list: async () => (await registry.query<PasskeyRow>("SELECT * FROM passkeys ORDER BY created_at, name")).map(toPasskey),
    add: (passkey, actor) =>
      registry.write(async (tx) => {
        if (await tx.one("SELECT 1 FROM passkeys WHERE name = $1", [passkey.name])) return { ok: false as const, reason: nameTaken(passkey.name) };
        if (await readPasskey(tx, passkey.id)) return { ok: false as const, reason: ALREADY_REGISTERED };
        const row = (await tx.one<PasskeyRow>(
          "INSERT INTO passkeys (id, name, public_key, counter, transports, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
          [passkey.id, passkey.name, passkey.publicKey, passkey.counter, JSON.stringify(passkey.transports), nowIso()],
        ))!;
        const added = toPasskey(row);
        await appendAudit(registry, tx, addedEvent(added, actor));
        return { ok: true as const, passkey: added };
      }),
    remove: (id, actor, via) =>
      registry.write(async (tx) => {
        const row = await tx.one<PasskeyRow>("DELETE FROM passkeys WHERE id = $1 RETURNING *", [id]);
        if (!row) return undefined;
        const removed = toPasskey(row);
        await appendAudit(registry, tx, removedEvent(removed, actor, via));
        return removed;
      }),
    recordUse: async (id, counter, nowMs) => {
      // The check and the update are one statement: the row lock orders racing uses, and the second sees the first's counter.
      const row = await registry.one<PasskeyRow>(
        `UPDATE passkeys SET counter = $2, last_used_at = $3 WHERE id = $1 AND ${counterAdvancesSql("$2::bigint")} RETURNING *`,
        [id, counter, new Date(nowMs).toISOString()],
      );
      if (row) return { ok: true, passkey: toPasskey(row) };
      const found = await readPasskey(registry, id);
      if (!found) return { ok: false, reason: NO_LONGER_REGISTERED };
      return { ok: false, reason: counterStalled(found.counter, counter) };
    },
  };
}
