/**
 * Fake incoming webhooks on 127.0.0.1, in each provider's wire format. Neither uses an auth header: the secret
 * is the webhook URL's path.
 *
 * Slack (`https://hooks.slack.com/services/T…/B…/<token>`): a JSON body with `text` and/or `blocks`; success
 * is `200` with the text body `ok`; errors are text bodies such as `invalid_payload` (400), `no_text` (400),
 * `no_service` (404: the URL is wrong, or the webhook was removed), `channel_is_archived` (410) and 429 with
 * Retry-After.
 *
 * Discord (`https://discord.com/api/v10/webhooks/<id>/<token>`): a JSON body with `content` (at most 2000
 * characters), `embeds`, `username`, `allowed_mentions`; `?wait=true` answers `200` with the message object,
 * otherwise `204`. Errors are JSON `{"message", "code"}`: `Unknown Webhook` 10015 (404), `Invalid Webhook Token`
 * 50027 (401), `Cannot send an empty message` 50006 (400), and 429 `{"message", "retry_after", "global"}` with
 * Retry-After and X-RateLimit-* headers.
 */
import type http from "node:http";
import { FakeProvider, randomId, sendJson, sendText, type SeenRequest } from "./server.js";

export interface FakeSlackOptions {
  team?: string;
  hook?: string;
  token?: string;
}

export class FakeSlack extends FakeProvider {
  readonly team: string;
  readonly hook: string;
  readonly token: string;
  /** Messages posted to the channel. */
  readonly posted: Array<Record<string, unknown>> = [];
  archived = false;
  /** The next N posts get 429 with this Retry-After (seconds). */
  rateLimitNext = 0;

  constructor(options: FakeSlackOptions = {}) {
    super();
    this.team = options.team ?? `T${randomId(10, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")}`;
    this.hook = options.hook ?? `B${randomId(10, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")}`;
    this.token = options.token ?? randomId(24);
  }

  get path(): string {
    return `/services/${this.team}/${this.hook}/${this.token}`;
  }

  protected handle(req: SeenRequest, res: http.ServerResponse): void {
    const url = new URL(req.url, "http://x");
    // Slack answers text/html even for its one-word bodies.
    const reply = (status: number, text: string) => sendText(res, status, text, "text/html");
    if (req.method !== "POST" || url.pathname !== this.path) return reply(404, "no_service");
    if (this.rateLimitNext > 0) {
      this.rateLimitNext--;
      res.setHeader("retry-after", "1");
      return reply(429, "rate_limited");
    }
    let payload: unknown;
    const type = String(req.headers["content-type"] ?? "");
    try {
      if (type.startsWith("application/json")) payload = JSON.parse(req.body);
      else if (type.startsWith("application/x-www-form-urlencoded")) payload = JSON.parse(new URLSearchParams(req.body).get("payload") ?? "");
      else return reply(400, "invalid_payload");
    } catch {
      return reply(400, "invalid_payload");
    }
    if (payload === null || typeof payload !== "object" || Array.isArray(payload)) return reply(400, "invalid_payload");
    const message = payload as Record<string, unknown>;
    if (message.blocks !== undefined && !Array.isArray(message.blocks)) return reply(400, "invalid_blocks");
    const hasText = typeof message.text === "string" && message.text.trim() !== "";
    if (!hasText && !(Array.isArray(message.blocks) && message.blocks.length > 0)) return reply(400, "no_text");
    if (this.archived) return reply(410, "channel_is_archived");
    this.posted.push(message);
    reply(200, "ok");
  }
}

export interface FakeDiscordOptions {
  id?: string;
  token?: string;
  name?: string;
}

export class FakeDiscord extends FakeProvider {
  readonly id: string;
  readonly token: string;
  readonly name: string;
  readonly channelId = snowflake();
  readonly guildId = snowflake();
  /** Message objects created. */
  readonly posted: Array<Record<string, unknown>> = [];
  /** The next N posts get 429 with this `retry_after` (seconds). */
  rateLimitNext = 0;
  retryAfter = 1.5;

  constructor(options: FakeDiscordOptions = {}) {
    super();
    this.id = options.id ?? snowflake();
    this.token = options.token ?? randomId(68, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-");
    this.name = options.name ?? "Deploy bot";
  }

  protected handle(req: SeenRequest, res: http.ServerResponse): void {
    const url = new URL(req.url, "http://x");
    const rate = { "x-ratelimit-bucket": "d1d0b2ae9c1f0e1d", "x-ratelimit-limit": "5" };
    const error = (status: number, code: number, message: string) => sendJson(res, status, { message, code }, rate);
    const match = /^\/api\/v10\/webhooks\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (!match || decodeURIComponent(match[1]!) !== this.id) return error(404, 10015, "Unknown Webhook");
    if (decodeURIComponent(match[2]!) !== this.token) return error(401, 50027, "Invalid Webhook Token");
    if (req.method !== "POST") return error(405, 0, "405: Method Not Allowed");
    if (this.rateLimitNext > 0) {
      this.rateLimitNext--;
      return sendJson(
        res,
        429,
        { message: "You are being rate limited.", retry_after: this.retryAfter, global: false },
        {
          ...rate,
          "retry-after": String(Math.ceil(this.retryAfter)),
          "x-ratelimit-remaining": "0",
          "x-ratelimit-reset-after": String(this.retryAfter),
          "x-ratelimit-scope": "shared",
        },
      );
    }
    if (!String(req.headers["content-type"] ?? "").startsWith("application/json")) return error(400, 50035, "Invalid Form Body");
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(req.body) as Record<string, unknown>;
    } catch {
      return error(400, 50109, "The request body contains invalid JSON.");
    }
    const content = typeof payload.content === "string" ? payload.content : "";
    const embeds = Array.isArray(payload.embeds) ? payload.embeds : [];
    if (content.length > 2000) {
      return sendJson(
        res,
        400,
        {
          message: "Invalid Form Body",
          code: 50035,
          errors: { content: { _errors: [{ code: "BASE_TYPE_MAX_LENGTH", message: "Must be 2000 or fewer in length." }] } },
        },
        rate,
      );
    }
    if (content.trim() === "" && embeds.length === 0) return error(400, 50006, "Cannot send an empty message");
    // Without allowed_mentions Discord parses every mention in the content; with it, only the listed kinds.
    const allowed = payload.allowed_mentions as { parse?: string[] } | undefined;
    const parses = (kind: string) => allowed === undefined || (allowed.parse ?? []).includes(kind);
    const message = {
      id: snowflake(),
      type: 0,
      content,
      channel_id: this.channelId,
      webhook_id: this.id,
      author: { bot: true, id: this.id, username: typeof payload.username === "string" ? payload.username : this.name, avatar: null, discriminator: "0000" },
      attachments: [],
      embeds,
      mentions: [],
      mention_roles: [],
      pinned: false,
      mention_everyone: parses("everyone") && /@(everyone|here)\b/.test(content),
      tts: payload.tts === true,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      flags: 0,
      components: [],
    };
    this.posted.push(message);
    if (url.searchParams.get("wait") === "true") return sendJson(res, 200, message, { ...rate, "x-ratelimit-remaining": "4" });
    res.writeHead(204, { ...rate, "x-ratelimit-remaining": "4" });
    res.end();
  }
}

let sequence = 0;
/** A Discord snowflake: milliseconds since the Discord epoch, shifted, plus a sequence. */
function snowflake(): string {
  return ((BigInt(Date.now() - 1420070400000) << 22n) | BigInt(sequence++ & 0xfff)).toString();
}
