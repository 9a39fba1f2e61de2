/**
 * manifests/slack.yaml and manifests/discord.yaml end to end: the library API against fake incoming webhooks on
 * 127.0.0.1 (test/fakes/webhooks.ts). The webhook URL is the credential: its path is built from secrets, so a
 * dry run, the output and the audit log show it redacted. Two tests run the built binary, for what the CLI prints.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { inputSources, type AuditEvent, type Toolctl } from "../src/api/index.js";
import { loopbackCopy } from "./fakes/server.js";
import { FakeDiscord, FakeSlack } from "./fakes/webhooks.js";
import { openApi, repoRoot, runCli, tempDir } from "./helpers.js";

const shippedSlack = path.join(repoRoot, "manifests", "slack.yaml");
const shippedDiscord = path.join(repoRoot, "manifests", "discord.yaml");
let slack: FakeSlack;
let discord: FakeDiscord;
let slackDir: string;
let discordDir: string;

beforeAll(async () => {
  slack = await new FakeSlack().start();
  discord = await new FakeDiscord().start();
  slackDir = path.dirname(loopbackCopy(shippedSlack, slack.url, tempDir("toolctl-slack-manifest-")));
  discordDir = path.dirname(loopbackCopy(shippedDiscord, discord.url, tempDir("toolctl-discord-manifest-")));
});
afterAll(async () => {
  await slack.close();
  await discord.close();
});

/** A fresh home with the manifests of `dir` imported, opened with `env`. */
async function apiWith(dir: string, env: Record<string, string>): Promise<Toolctl> {
  const toolctl = await openApi({ env });
  const report = await toolctl.importManifests([dir]);
  expect(report.failed).toEqual([]);
  expect(report.imported).toHaveLength(1);
  return toolctl;
}

async function allEvents(toolctl: Toolctl): Promise<AuditEvent[]> {
  const events: AuditEvent[] = [];
  for await (const event of toolctl.auditEvents()) events.push(event);
  return events;
}

const slackEnv = (token = slack.token) => ({ SLACK_WEBHOOK_TEAM_ID: slack.team, SLACK_WEBHOOK_ID: slack.hook, SLACK_WEBHOOK_TOKEN: token });
const discordEnv = (overrides: { id?: string; token?: string } = {}) => ({
  DISCORD_WEBHOOK_ID: overrides.id ?? discord.id,
  DISCORD_WEBHOOK_TOKEN: overrides.token ?? discord.token,
});
const params = (...given: string[]) => inputSources({ params: given });

describe("the webhook manifests as shipped", () => {
  it.each([
    [shippedSlack, "https://hooks.slack.com", ["SLACK_WEBHOOK_ID", "SLACK_WEBHOOK_TEAM_ID", "SLACK_WEBHOOK_TOKEN"]],
    [shippedDiscord, "https://discord.com", ["DISCORD_WEBHOOK_ID", "DISCORD_WEBHOOK_TOKEN"]],
  ])("%s points at the provider, keeps its URL in secrets, and is free, not idempotent and irreversible", async (file, baseUrl, secrets) => {
    const manifest = parse(readFileSync(file, "utf8"));
    expect(manifest.baseUrl).toBe(baseUrl);
    const toolctl = await openApi();
    expect((await toolctl.importManifests([file])).failed).toEqual([]);
    expect((await toolctl.getTool(manifest.name))!.secrets).toEqual(secrets);
    const action = (await toolctl.store.tools.action(manifest.name, "post_message", false))!.definition;
    expect(action).toMatchObject({ kind: "create", idempotent: false, cost: { fixed: 0 }, rollback: "irreversible" });
    expect(action.idempotencyKey).toBeUndefined();
  });

  it("the test copies change only baseUrl and the loopback allowances", () => {
    for (const [shipped, dir] of [
      [shippedSlack, slackDir],
      [shippedDiscord, discordDir],
    ] as const) {
      const original = parse(readFileSync(shipped, "utf8"));
      const copy = parse(readFileSync(path.join(dir, path.basename(shipped)), "utf8"));
      expect({ ...copy, baseUrl: original.baseUrl, http: original.http }).toEqual(original);
      expect(copy.http).toEqual({ ...original.http, allowPlainHttp: true, allowPrivateNetworks: ["127.0.0.0/8"] });
    }
  });
});

describe("slack.post_message against a fake Slack incoming webhook", () => {
  it("posts JSON to the secret path and reads Slack's 'ok'; no approval, no cost", async () => {
    const toolctl = await apiWith(slackDir, slackEnv());
    const before = slack.posted.length;
    const result = await toolctl.run("slack.post_message", params("text=Deploy *v1.4.2* finished :rocket:"));
    expect(result.exitCode).toBe(0);
    expect(result).toMatchObject({ status: "succeeded", output: "ok", cost: { usd: 0 }, risk: "LOW", approval: { required: false } });
    expect(slack.posted.slice(before)).toEqual([{ text: "Deploy *v1.4.2* finished :rocket:" }]);
    const sent = slack.server.requests.at(-1)!;
    expect(sent.method).toBe("POST");
    expect(sent.url).toBe(slack.path);
    expect(sent.headers["content-type"]).toBe("application/json");
    // Absent optional fields are left out of the JSON body.
    expect(sent.body).toBe('{"text":"Deploy *v1.4.2* finished :rocket:"}');
    expect(JSON.stringify(result)).not.toContain(slack.token);
  });

  it("posts Block Kit blocks without text", async () => {
    const toolctl = await apiWith(slackDir, slackEnv());
    const blocks = [{ type: "section", text: { type: "mrkdwn", text: "*Build* passed" } }, { type: "divider" }];
    const result = await toolctl.run("slack.post_message", { blocks, unfurl_links: false });
    expect(result.exitCode).toBe(0);
    expect(slack.posted.at(-1)).toEqual({ blocks, unfurl_links: false });
  });

  it("a wrong or removed webhook is Slack's 404 no_service: exit 1, and the token never printed", async () => {
    const wrong = "WrongToken0123456789abcd";
    const toolctl = await apiWith(slackDir, slackEnv(wrong));
    const result = await toolctl.run("slack.post_message", params("text=hello"));
    expect(result.exitCode).toBe(1);
    expect(result.status).toBe("failed");
    expect(result.error!.message).toBe("HTTP 404: no_service");
    expect(result.output).toBe("no_service");
    expect(JSON.stringify(result)).not.toContain(wrong);
  });

  it("an archived channel is Slack's 410 channel_is_archived: exit 1", async () => {
    const toolctl = await apiWith(slackDir, slackEnv());
    slack.archived = true;
    try {
      const result = await toolctl.run("slack.post_message", params("text=hello"));
      expect(result.exitCode).toBe(1);
      expect(result.error!.message).toBe("HTTP 410: channel_is_archived");
    } finally {
      slack.archived = false;
    }
  });

  it("a message with neither text nor blocks is refused by the input schema: exit 2, nothing sent", async () => {
    const toolctl = await apiWith(slackDir, slackEnv());
    const before = slack.server.requests.length;
    const result = await toolctl.run("slack.post_message", params("unfurl_links=true"));
    expect(result.exitCode).toBe(2);
    expect(result.error!.code).toBe("input_invalid");
    expect(slack.server.requests.length).toBe(before);
  });

  it("a 429 is a rate-limit failure (exit 1), and the post is not repeated: it is not idempotent", async () => {
    const toolctl = await apiWith(slackDir, slackEnv());
    const before = slack.server.requests.length;
    slack.rateLimitNext = 1;
    const result = await toolctl.run("slack.post_message", params("text=hello"));
    slack.rateLimitNext = 0;
    expect(result.exitCode).toBe(1);
    expect(result.error).toMatchObject({ category: "rate_limit", message: "HTTP 429: rate_limited" });
    expect(slack.server.requests.length).toBe(before + 1);
  });

  it("the fake answers malformed JSON with invalid_payload, as Slack does", async () => {
    const response = await fetch(`${slack.url}${slack.path}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{text:" });
    expect(response.status).toBe(400);
    expect(await response.text()).toBe("invalid_payload");
  });

  it("a dry run shows the request with every part of the webhook URL redacted, and Slack sees nothing", async () => {
    const toolctl = await apiWith(slackDir, slackEnv());
    const requests = slack.server.requests.length;
    const connections = slack.server.connections;
    const result = await toolctl.preview("slack.post_message", params("text=hello"));
    expect(result.exitCode).toBe(0);
    expect(result.request).toMatchObject({
      method: "POST",
      url: `${slack.url}/services/[REDACTED]/[REDACTED]/[REDACTED]`,
      headers: { "content-type": "application/json" },
      body: { text: "hello" },
    });
    for (const part of [slack.team, slack.hook, slack.token]) expect(JSON.stringify(result)).not.toContain(part);
    expect(slack.server.requests.length).toBe(requests);
    expect(slack.server.connections).toBe(connections);
    const audit = await allEvents(toolctl);
    expect(audit.length).toBeGreaterThan(0);
    expect(JSON.stringify(audit)).not.toContain(slack.token);
  });
});

describe("discord.post_message against a fake Discord webhook", () => {
  it("posts JSON with ?wait=true and returns the created message; mentions do not ping by default", async () => {
    const toolctl = await apiWith(discordDir, discordEnv());
    const result = await toolctl.run("discord.post_message", params("content=@everyone v1.4.2 is live", "username=Release bot"));
    expect(result.exitCode).toBe(0);
    expect(result).toMatchObject({ status: "succeeded", cost: { usd: 0 }, approval: { required: false } });
    expect(result.output).toMatchObject({ content: "@everyone v1.4.2 is live", channel_id: discord.channelId, mention_everyone: false });
    expect((result.output as any).id).toMatch(/^\d+$/);
    const sent = discord.server.requests.at(-1)!;
    expect(sent.url).toBe(`/api/v10/webhooks/${discord.id}/${discord.token}?wait=true`);
    expect(sent.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(sent.body)).toEqual({ content: "@everyone v1.4.2 is live", username: "Release bot", allowed_mentions: {} });
    expect(JSON.stringify(result)).not.toContain(discord.token);
  });

  it("pings only the kinds of mention listed in allowed_mentions", async () => {
    const toolctl = await apiWith(discordDir, discordEnv());
    const result = await toolctl.run("discord.post_message", { content: "@here incident", allowed_mentions: ["everyone"] });
    expect(result.exitCode).toBe(0);
    expect((result.output as any).mention_everyone).toBe(true);
    expect(JSON.parse(discord.server.requests.at(-1)!.body).allowed_mentions).toEqual({ parse: ["everyone"] });
  });

  it("an unknown webhook is Discord's 404 Unknown Webhook (10015): exit 1", async () => {
    const toolctl = await apiWith(discordDir, discordEnv({ id: "123456789012345678" }));
    const result = await toolctl.run("discord.post_message", params("content=hi"));
    expect(result.exitCode).toBe(1);
    expect(result.error!.message).toBe("HTTP 404: Unknown Webhook");
    expect(result.output).toEqual({ message: "Unknown Webhook", code: 10015 });
  });

  it("a wrong token is Discord's 401 Invalid Webhook Token (50027): exit 1, authentication, token never printed", async () => {
    const wrong = "x".repeat(60) + "WRONGTOK";
    const toolctl = await apiWith(discordDir, discordEnv({ token: wrong }));
    const result = await toolctl.run("discord.post_message", params("content=hi"));
    expect(result.exitCode).toBe(1);
    expect(result.error).toMatchObject({ category: "authentication", message: "HTTP 401: Invalid Webhook Token" });
    expect(JSON.stringify(result)).not.toContain(wrong);
  });

  it("a 429 is a rate-limit failure with Discord's retry_after in the output (exit 1), sent once", async () => {
    const toolctl = await apiWith(discordDir, discordEnv());
    const before = discord.server.requests.length;
    discord.rateLimitNext = 1;
    const result = await toolctl.run("discord.post_message", params("content=hi"));
    discord.rateLimitNext = 0;
    expect(result.exitCode).toBe(1);
    expect(result.error).toMatchObject({ category: "rate_limit", message: "HTTP 429: You are being rate limited." });
    expect(result.output).toEqual({ message: "You are being rate limited.", retry_after: 1.5, global: false });
    expect(discord.server.requests.length).toBe(before + 1);
  });

  it.each([
    ["content over Discord's 2000 characters", { content: "y".repeat(2001) }, /input\.content: must NOT have more than 2000 characters/],
    ["an empty message", { content: "" }, /input\.content: must NOT have fewer than 1 characters/],
    ["a mention kind Discord does not have", { content: "hi", allowed_mentions: ["channels"] }, /input\.allowed_mentions/],
  ])("refuses %s with the input schema: exit 2, nothing sent", async (_name, input, message) => {
    const toolctl = await apiWith(discordDir, discordEnv());
    const before = discord.server.requests.length;
    const result = await toolctl.run("discord.post_message", input);
    expect(result.exitCode).toBe(2);
    expect(`${result.error!.message}\n${(result.error!.problems ?? []).join("\n")}`).toMatch(message);
    expect(discord.server.requests.length).toBe(before);
  });

  it("the fake answers an empty message with Discord's 50006, as Discord does", async () => {
    const response = await fetch(`${discord.url}/api/v10/webhooks/${discord.id}/${discord.token}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content: " " }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ message: "Cannot send an empty message", code: 50006 });
  });

  it("a dry run shows the request with the webhook id and token redacted, and Discord sees nothing", async () => {
    const toolctl = await apiWith(discordDir, discordEnv());
    const requests = discord.server.requests.length;
    const connections = discord.server.connections;
    const result = await toolctl.preview("discord.post_message", params("content=hi"));
    expect(result.exitCode).toBe(0);
    expect(result.request).toMatchObject({
      method: "POST",
      url: `${discord.url}/api/v10/webhooks/[REDACTED]/[REDACTED]?wait=true`,
      body: { content: "hi", allowed_mentions: {} },
    });
    expect(JSON.stringify(result)).not.toContain(discord.token);
    expect(JSON.stringify(result)).not.toContain(discord.id);
    expect(discord.server.requests.length).toBe(requests);
    expect(discord.server.connections).toBe(connections);
  });
});

describe("the CLI", () => {
  it("prints Slack's refusal on stderr and exits 1", async () => {
    const toolctl = await apiWith(slackDir, slackEnv());
    slack.archived = true;
    try {
      const human = await runCli(["run", "slack.post_message", "-p", "text=hello"], { home: toolctl.home, env: slackEnv() });
      expect(human.code).toBe(1);
      expect(human.stderr).toContain("error: HTTP 410: channel_is_archived");
    } finally {
      slack.archived = false;
    }
  });

  it("prints a dry run's URL redacted, and its audit log as JSON lines without the token", async () => {
    const toolctl = await apiWith(slackDir, slackEnv());
    const requests = slack.server.requests.length;
    const human = await runCli(["run", "slack.post_message", "-p", "text=hello", "--dry-run"], { home: toolctl.home, env: slackEnv() });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`POST ${slack.url}/services/[REDACTED]/[REDACTED]/[REDACTED]`);
    for (const part of [slack.team, slack.hook, slack.token]) expect(human.stdout + human.stderr).not.toContain(part);
    expect(slack.server.requests.length).toBe(requests);
    const audit = await runCli(["audit", "--json"], { home: toolctl.home });
    expect(audit.code).toBe(0);
    expect(JSON.parse(audit.stdout).items[0]).toHaveProperty("seq");
    expect(audit.stdout).not.toContain(slack.token);
  });
});
