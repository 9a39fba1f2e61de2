import { createWriteStream } from "node:fs";
import { once } from "node:events";
import type { Writable } from "node:stream";
import { ExitCode, UsageError } from "../../errors.js";
import type { AuditEvent } from "../../domain/records.js";
import { table, truncate } from "../../ui/output.js";
import { listEnvelope, pageFooter, printList } from "../list-output.js";
import type { CommandContext } from "../program.js";
import { parseTime, withToolctl } from "./shared.js";

interface AuditFlags {
  tool?: string;
  action?: string;
  status?: string;
  type?: string;
  actor?: string;
  execution?: string;
  since?: string;
  until?: string;
  limit: number;
  offset?: number;
}

/** One event as a table row: SEQ, TIME (UTC), ACTOR, EVENT, TARGET, EXECUTION, NOTE (its error or reason, cut at 60). */
function row(event: AuditEvent): string[] {
  const target = event.tool ? `${event.tool}${event.action ? `.${event.action}` : ""}` : "-";
  const data = event.data;
  const note = typeof data.error === "string" ? data.error : typeof data.reason === "string" ? data.reason : "";
  return [String(event.seq), event.ts.replace("T", " ").replace(/Z$/, ""), event.actor, event.type, target, event.executionId ?? "-", truncate(note, 60)];
}

export async function auditCommand(context: CommandContext, flags: AuditFlags): Promise<void> {
  const offset = flags.offset ?? 0;
  const query = {
    tool: flags.tool,
    action: flags.action,
    status: flags.status,
    type: flags.type,
    actor: flags.actor,
    executionId: flags.execution,
    since: parseTime(flags.since, "--since"),
    until: parseTime(flags.until, "--until", "end"),
    limit: flags.limit,
    offset,
  };
  const [events, total] = await withToolctl(context, (toolctl) => Promise.all([toolctl.audit(query), toolctl.countAudit(query)]));
  // Within a page events read oldest first, as a log does; the pages go back from the newest (`page.next`).
  const envelope = listEnvelope(events, { total, limit: flags.limit, offset });
  await printList(
    context,
    envelope,
    () =>
      events.length
        ? table(["SEQ", "TIME (UTC)", "ACTOR", "EVENT", "TARGET", "EXECUTION", "NOTE"], events.map(row), (h) => context.output.color.bold(h), {
            width: context.output.width,
            flex: [6],
          })
        : "no audit events match",
    { pager: true, footer: pageFooter(envelope.page, events.length) },
  );
}

export async function verifyCommand(context: CommandContext): Promise<number> {
  const result = await withToolctl(context, (toolctl) => toolctl.verifyAudit());
  const c = context.output.color;
  context.output.data(result, () =>
    [
      result.ok
        ? `${c.green("audit log intact")}: ${result.events} events, ${result.executions} executions, head ${result.head ? `#${result.head.seq} ${result.head.hash}` : "(empty)"}`
        : [
            c.red(`audit log TAMPERED: ${result.problems.length} problem${result.problems.length > 1 ? "s" : ""}`),
            ...result.problems.map((p) => `  ${p}`),
          ].join("\n"),
      ...result.notes.map((note) => `note: ${note}`),
    ].join("\n"),
  );
  return result.ok ? ExitCode.ok : ExitCode.actionFailed;
}

/**
 * Writes every event as a JSON line, streaming: rows are read one at a time and written as the destination drains,
 * so memory stays flat however long the log is. To a file, it says how many were written: a note on stderr, or
 * with --json `{"file", "events"}` on stdout.
 */
export async function exportCommand(context: CommandContext, flags: { output?: string }): Promise<void> {
  let out: Writable = process.stdout;
  if (flags.output) {
    const file = createWriteStream(flags.output, { mode: 0o600 });
    try {
      await once(file, "open");
    } catch (error) {
      throw new UsageError(`--output ${flags.output}: cannot write: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    // A write that fails later (disk full) is reported once the export ends, not as an unhandled error.
    file.on("error", () => undefined);
    out = file;
  }
  const count = await withToolctl(context, async (toolctl) => {
    let written = 0;
    let batch = "";
    for await (const event of toolctl.auditEvents()) {
      batch += `${JSON.stringify(event)}\n`;
      written++;
      if (batch.length >= 64 * 1024) {
        if (!out.write(batch)) await once(out, "drain");
        batch = "";
      }
    }
    if (batch) out.write(batch);
    return written;
  });
  if (flags.output) {
    await new Promise<void>((resolve, reject) =>
      out.end((error?: Error | null) =>
        error ? reject(new UsageError(`--output ${flags.output}: cannot write: ${(error as NodeJS.ErrnoException).code ?? error.message}`)) : resolve(),
      ),
    );
    // With --json, stdout carries one document saying the same (the events are in the file).
    if (context.json) context.output.data({ file: flags.output, events: count }, () => "");
    else context.output.info(`${count} events written to ${flags.output}`);
  }
}
