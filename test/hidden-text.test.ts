/**
 * Text shown to a person shows the Unicode controls that reorder it (Trojan Source, CVE-2021-42574) as `<U+202E>`,
 * so an input read before approving it is the input that runs; JSON output keeps the data as it is.
 */
import { describe, expect, it } from "vitest";
import { homeWithExamples, runCli, runJson } from "./helpers.js";

describe("bidirectional controls in what people read", () => {
  it("a dry run's human view shows them; --json keeps them", async () => {
    const home = await homeWithExamples();
    const message = "pay \u202emoc.live@bob\u200f done";
    const human = await runCli(["run", "echo.say", "--params", JSON.stringify({ message }), "--dry-run"], { home });
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain("pay <U+202E>moc.live@bob<U+200F> done");
    expect(human.stdout + human.stderr).not.toMatch(/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/);
    const json = await runJson(["run", "echo.say", "--params", JSON.stringify({ message }), "--dry-run"], { home });
    expect(json.json.input).toEqual({ message });
  });
});
