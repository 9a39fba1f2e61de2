/**
 * A plan's `{{ env.X }}` whose value is a secret never shows: not in `plan`'s output, the saved plan, `apply`'s
 * output, the executions, the audit log or the database. An env value equal to a secret the tools resolve is a
 * secret; so is any variable whose name looks like one (API_TOKEN, DB_PASSWORD, ...).
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, tempDir, writeFiles } from "./helpers.js";

const TOOL_SECRET = "svc-secret-3c9d1f7a2b";
const NAMED_SECRET = "named-token-8e4a6b0c55";

const MANIFEST = `apiVersion: toolctl/v1
name: svc
description: Echoes its note (and holds a secret)
runtime: process
actions:
  note:
    description: Echo the note
    kind: create
    inputSchema: { type: object, required: [note], properties: { note: { type: string } } }
    command: [node, -e, "let t='';process.stdin.on('data',c=>t+=c).on('end',()=>console.log(JSON.stringify({said: JSON.parse(t).note})))"]
    env: { SVC_TOKEN: "{{ secrets.SVC_TOKEN }}" }
`;

const PLAN = `apiVersion: toolctl/v1
kind: Plan
name: leaky
steps:
  - id: first
    action: svc.note
    input: { note: "forwarded {{ env.PLAN_NOTE }}" }
  - id: second
    action: svc.note
    input: { note: "{{ env.MY_API_TOKEN }}" }
  - id: third
    action: svc.note
    input: { note: "region {{ env.REGION }}" }
`;

describe("plan templates and secrets", () => {
  it("never shows an env value that is a secret, in plan, the saved plan, apply, history, audit or the database", async () => {
    const home = tempDir("toolctl-plan-secrets-");
    const dir = writeFiles({ "svc.yaml": MANIFEST, "leaky.plan.yaml": PLAN });
    expect((await runCli(["import", path.join(dir, "svc.yaml")], { home })).code).toBe(0);
    const env = { SVC_TOKEN: TOOL_SECRET, PLAN_NOTE: TOOL_SECRET, MY_API_TOKEN: NAMED_SECRET, REGION: "eu-west-1" };
    const seen: string[] = [];
    const run = async (args: string[]) => {
      const result = await runCli(args, { home, env, cwd: dir });
      seen.push(result.stdout, result.stderr);
      return result;
    };
    const shown = await run(["plan", "leaky.plan.yaml"]);
    expect(shown.code, shown.stderr).toBe(0);
    // What is not a secret still shows: the plan stays readable.
    expect(shown.stdout).toContain("region eu-west-1");
    expect((await run(["plan", "leaky.plan.yaml", "--json"])).code).toBe(0);
    expect((await run(["plan", "leaky.plan.yaml", "--out", "saved.json"])).code).toBe(0);
    seen.push(readFileSync(path.join(dir, "saved.json"), "utf8"));
    const applied = await run(["apply", "saved.json", "--yes"]);
    expect(applied.code, applied.stderr).toBe(0);
    await run(["apply", "saved.json", "--yes", "--json"]);
    await run(["executions", "--json", "--limit", "50"]);
    await run(["audit", "export"]);
    // Nor a digest anyone could test guesses against: a saved plan is shown to reviewers, and a short secret's
    // plain SHA-256 gives it away. Only the values that are not secrets have one.
    const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");
    for (const text of seen) {
      expect(text).not.toContain(TOOL_SECRET);
      expect(text).not.toContain(NAMED_SECRET);
      expect(text).not.toContain(sha256(TOOL_SECRET));
      expect(text).not.toContain(sha256(NAMED_SECRET));
    }
    const savedEnv = (JSON.parse(readFileSync(path.join(dir, "saved.json"), "utf8")) as { env: Record<string, string> }).env;
    expect(savedEnv.REGION).toBe(sha256("eu-west-1"));
    expect(savedEnv.MY_API_TOKEN).toMatch(/^hmac-sha256:\w+:[0-9a-f]{64}$/);
    // A secret changed since the plan was saved still makes it stale, and which one is named.
    const fresh = await run(["plan", "leaky.plan.yaml", "--out", "fresh.json"]);
    expect(fresh.code, fresh.stderr).toBe(0);
    const rotated = await runCli(["apply", "fresh.json", "--yes"], { home, cwd: dir, env: { ...env, MY_API_TOKEN: `${NAMED_SECRET}-rotated` } });
    expect(rotated.code).toBe(3);
    expect(rotated.stderr).toContain("saved plan is stale: environment variable MY_API_TOKEN changed");
    for (const file of readdirSync(home)) {
      const bytes = readFileSync(path.join(home, file));
      for (const needle of [TOOL_SECRET, NAMED_SECRET]) expect(bytes.includes(Buffer.from(needle)), `${needle} in ${file}`).toBe(false);
    }
  });
});
