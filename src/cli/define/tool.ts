import type { CommandDefinition } from "./types.js";

export const toolDefinition: CommandDefinition = {
  name: "tool",
  register(program, action) {
    const tool = program.command("tool").description("tool lifecycle: approve, revoke, enable, disable, remove, test, clear-state, export");
    for (const [verb, help] of [
      ["enable", "allow a tool to run again (pending if it asks for more than it was granted)"],
      ["disable", "stop a tool from running (it stays registered)"],
      ["remove", "delete a tool from the registry (its history stays)"],
    ] as const) {
      tool
        .command(verb)
        .description(help)
        .argument("<name>", "tool name")
        .addHelpText("after", `\nExample:\n  toolctl tool ${verb} weather`)
        .action(action(async () => (await import("../commands/tool.js")).toolCommand(verb)));
    }
    tool
      .command("approve")
      .description("show what a pending tool asks for (network, memory, CPU, storage, hosts) and grant it")
      .argument("<name>", "tool name")
      .option("-y, --yes", "grant without a prompt")
      .addHelpText("after", "\nExample:\n  toolctl tool approve calculator\n  toolctl tool approve petstore --yes --json")
      .action(action(async () => (await import("../commands/tool.js")).approveToolCommand));
    tool
      .command("revoke")
      .description("take a tool's grants away and remove its state volume; its history stays")
      .argument("<name>", "tool name")
      .addHelpText("after", "\nExample:\n  toolctl tool revoke calculator")
      .action(action(async () => (await import("../commands/tool.js")).revokeToolCommand));
    tool
      .command("test")
      .description("run the tool's declared harmless read: healthy, degraded (slow) or failing, with the latency")
      .argument("<name>", "tool name")
      .addHelpText(
        "after",
        "\nExit 0 when healthy or degraded; otherwise the failed run's exit code.\n\nExample:\n  toolctl tool test weather\n  toolctl tool test namecheap --json",
      )
      .action(action(async () => (await import("../commands/run.js")).toolTestCommand));
    tool
      .command("export")
      .description("print the tool as a toolctl/v1 manifest (YAML; JSON with --json) that re-imports unchanged, to edit and commit")
      .argument("<name>", "tool name")
      .addHelpText(
        "after",
        "\nAn imported OpenAPI spec comes out with its shared definitions; values equal to their default are left out.\n\nExample:\n  toolctl tool export petstore > petstore.yaml && toolctl import petstore.yaml   # unchanged\n  toolctl tool export weather --json > weather.json",
      )
      .action(action(async () => (await import("../commands/tool.js")).exportToolCommand));
    tool
      .command("clear-state")
      .description('empty a Docker tool\'s /state volume (the way out of "volume quota exceeded")')
      .argument("<name>", "tool name")
      .addHelpText("after", "\nExample:\n  toolctl tool clear-state calculator-docker")
      .action(action(async () => (await import("../commands/tool.js")).clearStateCommand));
  },
};
