/**
 * `toolctl db migrate-to URL` and `toolctl db export DIR`: the API's `migrateRegistry` and `exportRegistry`, with
 * progress on a terminal and the copy's verification printed. Exit 6 when the copy's audit chain does not verify.
 */
import path from "node:path";
import { ExitCode } from "../../errors.js";
import type { TransferReport } from "../../api/index.js";
import { withSlowSpinner } from "../../ui/output.js";
import type { CommandContext } from "../program.js";

function summary(context: CommandContext, report: TransferReport, what: string): string {
  const c = context.output.color;
  const rows = Object.entries(report.rows)
    .filter(([, n]) => n > 0)
    .map(([table, n]) => `${n} ${table}`)
    .join(", ");
  const head = report.head ? `head #${report.head.seq} ${report.head.hash.slice(0, 16)}…` : "no audit events";
  const verdict = report.verification.ok
    ? c.green(`audit chain verified at ${report.target}`) + `: ${report.verification.events} events, ${report.verification.executions} executions`
    : c.red(`audit chain does not verify at ${report.target}`) + `:\n  ${report.verification.problems.join("\n  ")}`;
  return `${what} ${report.source} to ${report.target}: ${rows || "nothing to copy"} (${head})\n${verdict}`;
}

export async function migrateToCommand(context: CommandContext, url: string): Promise<number> {
  const { migrateRegistry } = await import("../../api/index.js");
  const report = await withSlowSpinner(context.output, context.env, "copying the registry…", () =>
    migrateRegistry({ home: context.home, env: context.env, to: url }),
  );
  context.output.data(report, () => summary(context, report, "copied"));
  if (report.verification.ok) context.output.info(`use it: export TOOLCTL_DATABASE_URL='${report.target}' (with the password, or PGPASSWORD / ~/.pgpass)`);
  return report.verification.ok ? ExitCode.ok : ExitCode.environment;
}

export async function exportCommand(context: CommandContext, dir: string): Promise<number> {
  const { exportRegistry } = await import("../../api/index.js");
  const to = path.resolve(context.cwd, dir);
  const report = await withSlowSpinner(context.output, context.env, "exporting the team database…", () =>
    exportRegistry({ home: context.home, database: context.database, env: context.env, to }),
  );
  context.output.data(report, () => summary(context, report, "exported"));
  return report.verification.ok ? ExitCode.ok : ExitCode.environment;
}
