import { writeFileSync } from "node:fs";
import { ExitCode, UsageError } from "../../errors.js";
import { queryAudit, verifyAudit, type AuditEvent } from "../../registry/audit.js";
import type { CommandContext } from "../program.js";
import { parseTime, withRegistry } from "./shared.js";

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
}

function humanLine(event: AuditEvent): string {
  const target = event.tool ? `${event.tool}${event.action ? `.${event.action}` : ""}` : "-";
  const data = event.data;
  const note = typeof data.error === "string" ? data.error : typeof data.reason === "string" ? data.reason : "";
  return [String(event.seq).padStart(5), event.ts, event.actor.padEnd(5), event.type.padEnd(20), target.padEnd(24), event.executionId ?? "", note]
    .filter((part) => part !== "")
    .join("  ")
    .trimEnd();
}

export async function auditCommand(context: CommandContext, flags: AuditFlags): Promise<void> {
  const events = await withRegistry(context, (registry) =>
    queryAudit(registry, {
      tool: flags.tool, action: flags.action, status: flags.status, type: flags.type, actor: flags.actor, executionId: flags.execution,
      since: parseTime(flags.since, "--since"), until: parseTime(flags.until, "--until", "end"), limit: flags.limit,
    }),
  );
  // JSON lines: one event per line, so the log streams into jq and friends.
  if (context.json) {
    for (const event of events) process.stdout.write(`${JSON.stringify(event)}\n`);
    return;
  }
  process.stdout.write(events.length ? `${events.map(humanLine).join("\n")}\n` : "no audit events match\n");
}

export async function verifyCommand(context: CommandContext): Promise<number> {
  const result = await withRegistry(context, (registry) => verifyAudit(registry));
  const c = context.output.color;
  context.output.data(result, () =>
    result.ok
      ? `${c.green("audit log intact")}: ${result.events} events, head ${result.head ? `#${result.head.seq} ${result.head.hash}` : "(empty)"}`
      : [c.red(`audit log TAMPERED: ${result.problems.length} problem${result.problems.length > 1 ? "s" : ""}`), ...result.problems.map((p) => `  ${p}`)].join("\n"),
  );
  return result.ok ? ExitCode.ok : ExitCode.actionFailed;
}

export async function exportCommand(context: CommandContext, flags: { output?: string }): Promise<void> {
  const events = await withRegistry(context, (registry) => queryAudit(registry, {}));
  const text = events.map((event) => `${JSON.stringify(event)}\n`).join("");
  if (!flags.output) {
    process.stdout.write(text);
    return;
  }
  try {
    writeFileSync(flags.output, text, { mode: 0o600 });
  } catch (error) {
    throw new UsageError(`--output ${flags.output}: cannot write: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  context.output.info(`${events.length} events written to ${flags.output}`);
}
