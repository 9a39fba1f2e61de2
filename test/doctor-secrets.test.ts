/**
 * doctor and a registered tool's secrets: one that cannot be found is a failure (exit 6 from the CLI), as the
 * docs and `--help` say, so a CI gate on doctor does not pass with a tool that cannot run.
 */
import { describe, expect, it } from "vitest";
import { diagnose } from "../src/api/index.js";
import { baseEnv, openApi, runJson, writeFiles } from "./helpers.js";

const manifest = `apiVersion: toolctl/v1
name: keyed
description: Needs a token
runtime: http
baseUrl: https://api.example.com
auth: { type: bearer, secret: KEYED_TOKEN }
actions:
  ping: { description: Ping, kind: read, request: { method: GET, path: /ping } }
`;

describe("doctor: a tool's secrets", () => {
  it("missing: the check fails and doctor exits 6; found: it passes", async () => {
    const toolctl = await openApi();
    expect((await toolctl.importManifests([writeFiles({ "keyed.yaml": manifest })])).failed).toEqual([]);
    const cwd = writeFiles({});
    const missing = await diagnose({ home: toolctl.home, env: baseEnv({ TOOLCTL_HOME: toolctl.home }), cwd });
    expect(missing.checks.find((c) => c.name === "secrets keyed")).toEqual({
      name: "secrets keyed",
      level: "fail",
      message: "missing KEYED_TOKEN: set them in the environment, .env or with toolctl secret set",
    });
    expect(missing.ok).toBe(false);
    const cli = await runJson(["doctor"], { home: toolctl.home, cwd });
    expect(cli.code).toBe(6);

    const found = await diagnose({ home: toolctl.home, env: baseEnv({ TOOLCTL_HOME: toolctl.home, KEYED_TOKEN: "t0ken-value" }), cwd });
    expect(found.checks.find((c) => c.name === "secrets keyed")).toMatchObject({ level: "ok", message: "1 found" });
  });
});
