/**
 * The audit log as both backends store it: the row, its mapping to an `AuditEvent`, and the verification of the
 * chain. A backend feeds its rows in order to a `ChainCheck`, then hands `judgeHeads` the signed checkpoint and the
 * exported head it read: the same log gives the same problems on either side.
 */
import { RegistryError } from "../../errors.js";
import type { AuditKey } from "../../secrets/audit-key.js";
import type { AuditEvent, AuditVerification } from "../../domain/records.js";
import type { ChainHead } from "./head-file.js";
import { checkpointMac, GENESIS_HASH, hashRow, type AuditRowBody } from "./signing.js";
import { FOREIGN_EXECUTION } from "./execution-rows.js";

/** A stored event: the body its hash covers, and the chain fields. */
export interface AuditRow extends AuditRowBody {
  prev_hash: string;
  hash: string;
  /** The audit key that signed this event; null for an event written before the log was keyed. */
  key_id: string | null;
}

export function toEvent(row: AuditRow): AuditEvent {
  return {
    seq: row.seq,
    ts: row.ts,
    type: row.type,
    actor: row.actor,
    tool: row.tool,
    action: row.action,
    executionId: row.execution_id,
    status: row.status,
    data: JSON.parse(row.data) as Record<string, unknown>,
    prevHash: row.prev_hash,
    hash: row.hash,
    keyId: row.key_id,
  };
}

export const MAX_PROBLEMS = 50;

/** Walks the chain one event at a time, oldest first. */
export class ChainCheck {
  readonly problems: string[] = [];
  count = 0;
  signed = 0;
  last: AuditRow | undefined;
  private prevHash = GENESIS_HASH;
  private expectedSeq = 1;
  private readonly otherKeys = new Set<string>();

  constructor(private readonly key: AuditKey | null) {}

  /** Checks the next event; false once there are too many problems to go on. */
  add(row: AuditRow): boolean {
    const { key, problems } = this;
    this.count++;
    if (row.seq !== this.expectedSeq)
      problems.push(`event ${this.expectedSeq}${row.seq - this.expectedSeq > 1 ? `-${row.seq - 1}` : ""} is missing (deleted?)`);
    if (row.prev_hash !== this.prevHash) problems.push(`event ${row.seq} does not link to the event before it (deleted, inserted or reordered)`);
    if (row.key_id === null) {
      // A plain hash anyone can compute: only acceptable before the first signed event.
      if (this.signed > 0) problems.push(`event ${row.seq} is not signed, but events before it are: it was inserted or rewritten`);
      else if (hashRow(row.prev_hash, row, null) !== row.hash) problems.push(`event ${row.seq} was modified: its content does not match its hash`);
    } else {
      this.signed++;
      if (!key) this.otherKeys.add(row.key_id);
      else if (row.key_id !== key.id) {
        this.otherKeys.add(row.key_id);
        // Said once per key at the end: a whole log checked with the wrong key is one problem, not one per event.
        const seen = this.foreign.get(row.key_id);
        if (seen) (seen.count++, (seen.last = row.seq));
        else this.foreign.set(row.key_id, { first: row.seq, last: row.seq, count: 1 });
      } else if (hashRow(row.prev_hash, row, key) !== row.hash) problems.push(`event ${row.seq} was modified: its content does not match its signature`);
    }
    this.prevHash = row.hash;
    this.expectedSeq = row.seq + 1;
    this.last = row;
    return problems.length <= MAX_PROBLEMS;
  }

  /** Events signed with a key other than this home's, by that key. */
  private readonly foreign = new Map<string, { first: number; last: number; count: number }>();

  /** Called once the walk ends. */
  finish(): void {
    const { key } = this;
    for (const [id, { first, last, count }] of this.foreign) {
      const which = count === this.signed ? `every event (${count}) is` : count === 1 ? `event ${first} is` : `${count} events (${first} to ${last}) are`;
      this.problems.unshift(
        `${which} signed with audit key '${id}', not with this home's key '${key!.id}' (${key!.where})${count === this.signed ? ": verify with the key the log was signed with" : ""}`,
      );
    }
    if (!this.key && this.signed > 0)
      this.problems.unshift(
        `${this.signed} events are signed with audit key ${[...this.otherKeys].join(", ")}, but this home has no audit key: restore audit.key, the keyring entry, or TOOLCTL_AUDIT_KEY`,
      );
  }
}

/** The last event of the log, which an append chains onto. */
export interface LogEnd {
  seq: number;
  hash: string;
  key_id: string | null;
}

/**
 * Why the log may not be appended to: it does not end where its signed checkpoint or the exported head says
 * (events cut off its end, the checkpoint deleted or forged), or it is signed with another key. Checked before a
 * transaction's first append: chained onto a shortened log, a write would move the checkpoint and the head past
 * the cut, and `audit verify` would then find the log intact.
 */
export function appendRefusal(
  last: LogEnd | undefined,
  checkpoint: ChainHead | undefined,
  exported: ChainHead | "invalid" | undefined,
  key: AuditKey,
  head: { file: string; mayBeUnwritten: boolean },
): string | undefined {
  const end = last?.seq ?? 0;
  if (checkpoint) {
    if (checkpoint.keyId !== key.id) return `the audit log is signed with audit key '${checkpoint.keyId}', not with this home's key '${key.id}' (${key.where})`;
    if (checkpointMac(key, checkpoint) !== checkpoint.mac) return "the audit checkpoint's signature does not match: it was rewritten";
    if (checkpoint.seq > end) return `events ${end + 1}-${checkpoint.seq} were cut off the end of the log (the checkpoint is at event ${checkpoint.seq})`;
    if (checkpoint.seq < end || checkpoint.hash !== last!.hash) return `the log does not end at its checkpoint (event ${checkpoint.seq}): it was rewritten`;
  } else if (last?.key_id) return "the audit checkpoint is missing although the log is signed: it was deleted";
  // The head is the one copy of the end outside the database: a checkpoint put back from before a cut agrees with
  // the cut log, and only the head says where it ended. Without it (or with one not signed with the key) a write
  // would export a new head at the cut, and the cut would verify.
  if (exported === "invalid") return `the exported head (${head.file}) is not a valid head`;
  if (exported === undefined) {
    // A signed log has had its head since its first write; a team database's may not have been written by this machine.
    return last?.key_id && !head.mayBeUnwritten ? `the exported head (${head.file}) is missing: events cut off the end could not be detected` : undefined;
  }
  if (exported.keyId !== key.id || checkpointMac(key, exported) !== exported.mac)
    return `the exported head (${head.file}) is not signed with this home's audit key: it was forged or replaced`;
  if (exported.seq > end) return `the exported head is at event ${exported.seq}, but the log ends at ${end}: events were cut off the end of the log`;
  if (exported.seq === end && exported.hash !== (last?.hash ?? GENESIS_HASH)) return `event ${end} does not match the exported head: the log was rewritten`;
  return undefined;
}

/**
 * Whether a head left in the head file's temp file may stand in for a missing head file: a writer stopped between
 * writing a head and renaming it into place leaves it there. Only one signed with the audit key and exactly at the
 * log's end (the chain's start, for an empty log) holds, and the head file itself would be accepted with that
 * content: so a log cut short, its checkpoint put back and its head file removed is still refused, since a head
 * at the end of the cut log can only be one put back from before the cut, which the head file would not hide either.
 */
export function pendingHeadHolds(pending: ChainHead | undefined, key: AuditKey | null, last: { seq: number; hash: string } | undefined): pending is ChainHead {
  return (
    pending !== undefined &&
    key !== null &&
    pending.keyId === key.id &&
    checkpointMac(key, pending) === pending.mac &&
    pending.seq === (last?.seq ?? 0) &&
    pending.hash === (last?.hash ?? GENESIS_HASH)
  );
}

/** The head that marks where a log ends before its first signed event: at its last (unsigned) event, or at seq 0. */
export function firstHead(key: AuditKey, last: { seq: number; hash: string } | undefined): ChainHead {
  const end = { seq: last?.seq ?? 0, hash: last?.hash ?? GENESIS_HASH };
  return { ...end, keyId: key.id, mac: checkpointMac(key, end) };
}

/** The error for `appendRefusal`'s answer: nothing of the write is kept. */
export function appendRefused(why: string, location: string): RegistryError {
  return new RegistryError(`cannot append to the audit log of ${location}: ${why}; nothing was written; run toolctl audit verify`);
}

/** The error for a log signed with a key this home no longer has: a new key would split the log in two. */
export function auditKeyGone(keyId: string): RegistryError {
  return new RegistryError(
    `the audit log is signed with audit key '${keyId}', but this home has no audit key: restore audit.key, the keyring entry, or TOOLCTL_AUDIT_KEY; nothing was written`,
  );
}

/**
 * Executions the audit log names (their first event) but the executions table no longer holds: every execution
 * toolctl records is kept, so one missing was deleted, and with it a part of the history people read. Only the
 * events written with the execution's row count (`execution.started`, its outcome, its rollback): a quote is
 * recorded before there is a row and may have none (a plan's preview, a dry run), and other events name an
 * execution that never started (an approval refused, a wrong TOTP code) or a plan run.
 */
export const MISSING_EXECUTIONS_SQL = `SELECT execution_id AS id, min(seq) AS seq FROM audit_events a
  WHERE execution_id IS NOT NULL AND type LIKE 'execution.%' AND type <> 'execution.quote'
    AND NOT EXISTS (SELECT 1 FROM executions e WHERE e.id = a.execution_id)
  GROUP BY execution_id ORDER BY min(seq) LIMIT ${MAX_PROBLEMS}`;

export function missingExecutionProblem(row: { id: string; seq: number }): string {
  return `execution ${row.id} is named in the audit log (event ${row.seq}) but is not in the executions table: it was deleted`;
}

export interface HeadsInput {
  key: AuditKey | null;
  chain: ChainCheck;
  checkpoint: ChainHead | undefined;
  exported: ChainHead | "invalid" | undefined;
  /** The head file's name, for messages. */
  headFile: string;
  /** The hash of the event at a seq, for the checkpoint's and the exported head's seqs (read by the caller). */
  hashAt: (seq: number) => string | undefined;
  /** How many tools and executions the registry holds; asked only when the log is empty. */
  held: () => { tools: number; executions: number };
  /**
   * Whether a missing head file may simply not have been written yet: with a team database each machine exports
   * its own, and one that has not written since it joined has none. SQLite writes its head with its first event.
   */
  headMayBeUnwritten?: boolean;
}

/**
 * Checks the signed checkpoint and the exported head against the chain, adding to its problems. Returns whether
 * the exported head is merely behind an intact log (a process stopped before exporting it), or not written yet
 * where that may be so (`headMayBeUnwritten`): the caller brings it up to date.
 */
export function judgeHeads(input: HeadsInput): { headBehindBy: number; headUnwritten: boolean } {
  const { key, chain, checkpoint, exported, headFile } = input;
  const problems = chain.problems;
  const lastSeq = chain.last?.seq ?? 0;
  const hashAt = (seq: number) => (seq === 0 ? GENESIS_HASH : input.hashAt(seq));
  const signedBy = (head: ChainHead) => key !== null && head.keyId === key.id && checkpointMac(key, head) === head.mac;
  // The head a home's first signed write exports before its events (see `firstHead`): the key was made, or the log
  // keyed, by a write that may not have committed. Signed, and at the end of a log with no signed event and no
  // checkpoint, it says just that; without the key, none can be made for a log emptied or rewritten after the fact.
  const keyedBeforeFirstEvent =
    checkpoint === undefined &&
    chain.signed === 0 &&
    exported !== undefined &&
    exported !== "invalid" &&
    signedBy(exported) &&
    exported.seq === lastSeq &&
    hashAt(lastSeq) === exported.hash;
  if (checkpoint) {
    if (key !== null && checkpoint.keyId !== key.id)
      problems.push(`the audit checkpoint is signed with audit key '${checkpoint.keyId}', not with this home's key`);
    else if (!signedBy(checkpoint)) problems.push("the audit checkpoint's signature does not match: it was rewritten");
    else if (checkpoint.seq > lastSeq)
      problems.push(`events ${lastSeq + 1}-${checkpoint.seq} were cut off the end of the log (the checkpoint is at event ${checkpoint.seq})`);
    else if (hashAt(checkpoint.seq) !== checkpoint.hash) problems.push(`event ${checkpoint.seq} does not match the checkpoint: the log was rewritten`);
    else if (checkpoint.seq < lastSeq) problems.push(`events ${checkpoint.seq + 1}-${lastSeq} come after the checkpoint: they were added outside toolctl`);
  } else if (chain.count > 0 && (chain.signed > 0 || (key !== null && !key.given && !keyedBeforeFirstEvent))) {
    // The first signed write of a home creates its key and its checkpoint together: a key without one is a deletion.
    problems.push("the audit checkpoint is missing although the log is signed: it was deleted");
  }

  if (chain.count === 0) {
    const { tools, executions } = input.held();
    // A key toolctl made was made by the first audited write; one given in the environment proves nothing.
    if (key && !key.given && !keyedBeforeFirstEvent) problems.push(`the audit log is empty, but its key exists (${key.where}): its events were deleted`);
    else if (tools + executions > 0)
      problems.push(`the audit log is empty, but the registry holds ${tools} tools and ${executions} executions: its events were deleted`);
  }

  let headBehindBy = 0;
  const headUnwritten = exported === undefined && chain.count > 0 && input.headMayBeUnwritten === true && problems.length === 0;
  if (exported === undefined && chain.count > 0 && !headUnwritten) {
    problems.push(`the exported head (${headFile}) is missing: events cut off the end could not be detected`);
  }
  if (exported === "invalid") problems.push(`the exported head (${headFile}) is not a valid head`);
  if (exported !== undefined && exported !== "invalid") {
    if (!signedBy(exported)) problems.push(`the exported head (${headFile}) is not signed with this home's audit key: it was forged or replaced`);
    else if (exported.seq > lastSeq)
      problems.push(`the exported head is at event ${exported.seq}, but the log ends at ${lastSeq}: events were cut off the end of the log`);
    else if (hashAt(exported.seq) !== exported.hash) problems.push(`event ${exported.seq} does not match the exported head: the log was rewritten`);
    else if (exported.seq < lastSeq && problems.length === 0) headBehindBy = lastSeq - exported.seq;
  }
  return { headBehindBy, headUnwritten };
}

/** The note of a verification that found no head file where it may not have been written yet, and exported it. */
export function headUnwrittenNote(headFile: string): string {
  return `this machine had no exported head for this database (${headFile}): it had not written to it yet, or the file was removed, so events cut off the end before now could not be checked here; exported now`;
}

/** The note of a verification that found the head in the head file's temp file, at the log's end, and put it in place. */
export function headPendingNote(headFile: string): string {
  return `the exported head was left in ${headFile}.tmp (a toolctl process stopped before renaming it to ${headFile}); it is at the end of the log and signed, so it was put in place`;
}

/** The note of a verification that found the exported head merely behind an intact log, and brought it up to date. */
export function headBehindNote(headBehindBy: number, why = "a toolctl process stopped before exporting it"): string {
  return `the exported head was behind by ${headBehindBy} events (${why}); brought up to date`;
}

/** What a verification reports: the chain's problems and then the executions', the chain's head, and the notes. */
export function verificationOf(chain: ChainCheck, executions: { checked: number; problems: string[] }, notes: string[]): AuditVerification {
  const { problems, last } = chain;
  // Executions signed with another key: one line per key, as for events.
  const foreign = new Map<string, number>();
  for (const problem of executions.problems) {
    if (problem.startsWith(FOREIGN_EXECUTION)) foreign.set(problem, (foreign.get(problem) ?? 0) + 1);
    else problems.push(problem);
  }
  for (const [problem, count] of foreign)
    problems.push(
      `${count === 1 ? "1 execution is" : `${count} executions are`} ${problem.slice(FOREIGN_EXECUTION.indexOf("signed"))}, not with this home's key`,
    );
  return {
    ok: problems.length === 0,
    events: chain.count,
    head: last ? { seq: last.seq, hash: last.hash } : null,
    problems,
    notes,
    executions: executions.checked,
  };
}
