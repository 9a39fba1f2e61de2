/** `toolctl help environment`: every environment variable toolctl reads (src/config/environment.ts), by group. */
import { ENVIRONMENT, type EnvironmentVariable } from "../../config/environment.js";
import { table, type Output } from "../../ui/output.js";

const GROUPS: Record<EnvironmentVariable["group"], string> = {
  toolctl: "toolctl",
  setting: "settings (each overrides its key in config.yaml; see toolctl config)",
  terminal: "the terminal",
  system: "the system, Docker and the network",
};

export async function environmentHelp(output: Output): Promise<void> {
  await output.page({ variables: ENVIRONMENT }, () => {
    const c = output.color;
    const sections = (Object.keys(GROUPS) as Array<EnvironmentVariable["group"]>).map((group) => {
      const rows = ENVIRONMENT.filter((v) => v.group === group).map((v) => [v.name, v.help]);
      return `${c.bold(`${GROUPS[group]}:`)}\n${table(["NAME", "MEANING"], rows, (h) => c.dim(h), {
        width: output.width === undefined ? undefined : output.width - 2,
        flex: [1],
      })
        .split("\n")
        .map((line) => `  ${line}`)
        .join("\n")}`;
    });
    return [
      "Environment variables toolctl reads. A manifest's secrets (STRIPE_API_KEY, ...) are read from the environment",
      "too, by the names the manifest gives them.",
      "",
      sections.join("\n\n"),
    ].join("\n");
  });
}
