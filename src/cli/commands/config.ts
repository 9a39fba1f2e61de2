import { loadConfig, settingValue } from "../../config/config.js";
import { SETTINGS } from "../../config/defaults.js";
import { table } from "../../ui/output.js";
import type { CommandContext } from "../program.js";

export async function configCommand(context: CommandContext): Promise<void> {
  const config = await loadConfig(context.home, context.env);
  const settings = SETTINGS.map((s) => ({ key: s.key, value: settingValue(config, s.key), source: config.sources[s.key], env: s.env, help: s.help }));
  context.output.data({ file: config.file, settings }, () =>
    [
      table(
        ["SETTING", "VALUE", "SOURCE", "MEANING"],
        settings.map((s) => [s.key, String(s.value), String(s.source), s.help]),
        (h) => context.output.color.bold(h),
      ),
      context.output.color.dim(`file: ${config.file}`),
    ].join("\n"),
  );
}
