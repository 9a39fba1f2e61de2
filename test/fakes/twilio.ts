/**
 * A fake Twilio Programmable Messaging API (api.twilio.com, 2010-04-01) on 127.0.0.1, in Twilio's wire format:
 * `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` with a form-encoded body (To, From, Body), HTTP Basic
 * auth with the Account SID and Auth Token, a `201` Message resource (`sid`, `status: queued`, `num_segments`
 * as a string, `price: null` until it is sent), and Twilio's error shape:
 * `{"code": 21211, "message": "...", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}`.
 *
 * - Trial accounts (the default) can send only to verified numbers (21608 otherwise), and Twilio prefixes every
 *   body with "Sent from your Twilio trial account - ", which the segment count includes.
 * - Twilio's magic test number +15005550001 is an invalid `To` (21211), as with Twilio's test credentials.
 * - `failNext` answers the next N messages with `500` after accepting them (the message was queued): Twilio has
 *   no idempotency key, so a client must never resend.
 */
import type http from "node:http";
import { basicCredentials, FakeProvider, randomId, sendJson, type SeenRequest } from "./server.js";

export interface TwilioMessage {
  sid: string;
  to: string;
  from: string;
  body: string;
  numSegments: number;
  /** The Message resource as the API shows it. */
  resource: Record<string, unknown>;
}

export const TRIAL_PREFIX = "Sent from your Twilio trial account - ";

// GSM 03.38: one septet each, or two for the extension table. Written independently of toolctl's own counter,
// so that the two can check each other.
const GSM_BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENDED = "^{}\\[~]|€\f";

/** Segments Twilio bills for a body: 160/153 GSM-7 septets, or 70/67 UCS-2 code units. */
export function twilioSegments(body: string): number {
  const chars = Array.from(body);
  const gsm = chars.every((c) => GSM_BASIC.includes(c) || GSM_EXTENDED.includes(c));
  const sizes = chars.map((c) => (gsm ? (GSM_EXTENDED.includes(c) ? 2 : 1) : c.length));
  const total = sizes.reduce((a, b) => a + b, 0);
  const [single, part] = gsm ? [160, 153] : [70, 67];
  if (total <= single) return 1;
  let segments = 1;
  let room = part;
  for (const size of sizes) {
    if (size > room) {
      segments++;
      room = part;
    }
    room -= size;
  }
  return segments;
}

function twilioDate(date = new Date()): string {
  return date.toUTCString().replace("GMT", "+0000");
}

export interface FakeTwilioOptions {
  accountSid?: string;
  authToken?: string;
  trial?: boolean;
  /** Numbers a trial account may send to (Verified Caller IDs). */
  verified?: string[];
  /** Numbers this account owns and may send from. */
  owned?: string[];
}

export class FakeTwilio extends FakeProvider {
  readonly accountSid: string;
  readonly authToken: string;
  readonly trial: boolean;
  readonly verified: Set<string>;
  readonly owned: Set<string>;
  /** Messages accepted (queued), in order: what would be billed. */
  readonly messages: TwilioMessage[] = [];
  /** The next N messages are queued, and then answered with a 500. */
  failNext = 0;

  constructor(options: FakeTwilioOptions = {}) {
    super();
    this.accountSid = options.accountSid ?? `AC${randomId(32, "0123456789abcdef")}`;
    this.authToken = options.authToken ?? randomId(32, "0123456789abcdef");
    this.trial = options.trial ?? true;
    this.verified = new Set(options.verified ?? []);
    this.owned = new Set(options.owned ?? ["+15005550006"]);
  }

  private error(res: http.ServerResponse, status: number, code: number, message: string): void {
    sendJson(res, status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });
  }

  protected handle(req: SeenRequest, res: http.ServerResponse): void {
    const url = new URL(req.url, "http://x");
    const match = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(url.pathname);
    const credentials = basicCredentials(req.headers);
    if (!credentials || credentials.username !== this.accountSid || credentials.password !== this.authToken) {
      res.setHeader("www-authenticate", 'Basic realm="Twilio API"');
      return this.error(res, 401, 20003, "Authenticate");
    }
    if (!match) return this.error(res, 404, 20404, `The requested resource ${url.pathname} was not found`);
    if (decodeURIComponent(match[1]!) !== this.accountSid) return this.error(res, 404, 20404, `The requested resource ${url.pathname} was not found`);
    if (req.method === "GET") return this.list(url, res);
    if (req.method !== "POST") return this.error(res, 405, 20004, "Method not allowed");
    if (!String(req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) {
      return this.error(res, 400, 21604, "A 'To' phone number is required.");
    }
    const form = new URLSearchParams(req.body);
    const to = form.get("To");
    const from = form.get("From");
    const body = form.get("Body");
    if (!to) return this.error(res, 400, 21604, "A 'To' phone number is required.");
    if (!from && !form.get("MessagingServiceSid")) return this.error(res, 400, 21603, "A 'From' phone number is required.");
    if (!body && !form.get("MediaUrl")) return this.error(res, 400, 21602, "Message body is required.");
    if (body && body.length > 1600) return this.error(res, 400, 21617, "The concatenated message body exceeds the 1600 character limit.");
    if (!/^\+[1-9]\d{1,14}$/.test(to) || to === "+15005550001") return this.error(res, 400, 21211, `The 'To' number ${to} is not a valid phone number.`);
    if (from && !this.owned.has(from)) {
      return this.error(res, 400, 21606, `The From phone number ${from} is not a valid, SMS-capable inbound phone number or short code for your account.`);
    }
    if (this.trial && !this.verified.has(to)) {
      return this.error(
        res,
        400,
        21608,
        `The number ${to} is unverified. Trial accounts cannot send messages to unverified numbers; verify ${to} at twilio.com/user/account/phone-numbers/verified, or purchase a Twilio number to send messages to unverified numbers.`,
      );
    }
    const sent = this.trial ? `${TRIAL_PREFIX}${body ?? ""}` : (body ?? "");
    const sid = `SM${randomId(32, "0123456789abcdef")}`;
    const numSegments = twilioSegments(sent);
    const now = twilioDate();
    const uri = `/2010-04-01/Accounts/${this.accountSid}/Messages/${sid}`;
    const resource = {
      account_sid: this.accountSid,
      api_version: "2010-04-01",
      body: sent,
      date_created: now,
      date_sent: null,
      date_updated: now,
      direction: "outbound-api",
      error_code: null,
      error_message: null,
      from,
      messaging_service_sid: null,
      num_media: "0",
      num_segments: String(numSegments),
      price: null,
      price_unit: "USD",
      sid,
      status: "queued",
      subresource_uris: { media: `${uri}/Media.json` },
      to,
      uri: `${uri}.json`,
    };
    this.messages.push({ sid, to, from: from ?? "", body: sent, numSegments, resource });
    if (this.failNext > 0) {
      this.failNext--;
      return this.error(res, 500, 20500, "An internal server error has occurred");
    }
    sendJson(res, 201, resource, { "twilio-request-id": `RQ${randomId(32, "0123456789abcdef")}` });
  }

  /** `GET Messages.json`: newest first, filtered by To and From, one page of PageSize (default 50). */
  private list(url: URL, res: http.ServerResponse): void {
    const to = url.searchParams.get("To");
    const from = url.searchParams.get("From");
    const size = Number(url.searchParams.get("PageSize") ?? 50);
    const matching = this.messages
      .filter((m) => (to === null || m.to === to) && (from === null || m.from === from))
      .reverse()
      .slice(0, size);
    const uri = `/2010-04-01/Accounts/${this.accountSid}/Messages.json${url.search}`;
    sendJson(res, 200, {
      messages: matching.map((m) => m.resource),
      end: Math.max(0, matching.length - 1),
      first_page_uri: uri,
      next_page_uri: null,
      page: 0,
      page_size: size,
      previous_page_uri: null,
      start: 0,
      uri,
    });
  }
}
