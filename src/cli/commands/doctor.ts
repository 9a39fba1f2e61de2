/**
 * `toolctl doctor`: prints the checks of the API's `diagnose` (engine/doctor.ts). Exit 0 when no check failed, 6
 * when one did.
 */
import { ExitCode } from "../../errors.js";
import type { CommandContext } from "../program.js";

export async function doctorCommand(context: CommandContext): Promise<number> {
  const { diagnose } = await import("../../api/index.js");
  const diagnosis = await diagnose({
    home: context.home,
    project: context.project,
    database: context.database,
    env: context.env,
    cwd: context.cwd,
    actor: context.actor,
  });
  context.output.data(diagnosis, () => {
    const c = context.output.color;
    const mark = { ok: c.green("✓"), warn: c.yellow("!"), fail: c.red("✗") };
    return diagnosis.checks.map((check) => `${mark[check.level]} ${check.name}: ${check.message}`).join("\n");
  });
  return diagnosis.ok ? ExitCode.ok : ExitCode.environment;
}
