/**
 * The text view of `run --dry-run` for an HTTP action says whether a failure would be retried (`retries:`), as the
 * manifest reference promises, and as `--json` gives in `request.retries`.
 */
import { describe, expect, it } from "vitest";
import { openApi, runCli, writeFiles } from "./helpers.js";

const manifest = `apiVersion: toolctl/v1
name: shop
description: A shop
runtime: http
baseUrl: https://api.example.com
actions:
  pay: { description: Pay, kind: create, request: { method: POST, path: /pay } }
  look: { description: Look, kind: read, request: { method: GET, path: /items } }
`;

describe("run --dry-run, text", () => {
  it("says whether the call would be retried", async () => {
    const toolctl = await openApi();
    expect((await toolctl.importManifests([writeFiles({ "shop.yaml": manifest })])).failed).toEqual([]);
    const pay = await runCli(["run", "shop.pay", "--dry-run"], { home: toolctl.home });
    expect(pay.code).toBe(0);
    expect(pay.stdout).toContain("\n  timeout: 30s\n  retries: none (not idempotent and no idempotency key)\n");
    const look = await runCli(["run", "shop.look", "--dry-run"], { home: toolctl.home });
    expect(look.stdout).toMatch(/\n {2}retries: up to 2 on network errors, 429 and 5xx\n/);
  });
});
