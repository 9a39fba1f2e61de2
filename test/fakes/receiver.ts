/**
 * A fake signed-webhook receiver on 127.0.0.1, checking toolctl's `request.sign` scheme the way a receiver
 * should: `X-Toolctl-Timestamp: <t>` and `X-Toolctl-Signature: sha256=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`,
 * compared in constant time over the raw body received.
 *
 * Answers: 200 `{"received": true, "id": "evt_…"}`; 401 `{"error": "invalid_signature", "message": …}` for a
 * missing or wrong signature; 400 `{"error": "stale_timestamp", …}` for a missing timestamp or one more than
 * 5 minutes from its clock (`clockOffsetSeconds` moves that clock, to test the skew check).
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type http from "node:http";
import { FakeProvider, randomId, sendJson, type SeenRequest } from "./server.js";

export const TOLERANCE_SECONDS = 300;

export class FakeReceiver extends FakeProvider {
  readonly secret: string;
  readonly path = "/toolctl";
  /** Payloads whose signature checked out. */
  readonly delivered: unknown[] = [];
  clockOffsetSeconds = 0;

  constructor(secret = `whsec_${randomId(32)}`) {
    super();
    this.secret = secret;
  }

  protected handle(req: SeenRequest, res: http.ServerResponse): void {
    if (req.method !== "POST" || new URL(req.url, "http://x").pathname !== this.path)
      return sendJson(res, 404, { error: "not_found", message: "no such endpoint" });
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const timestamp = header("x-toolctl-timestamp");
    const signature = header("x-toolctl-signature");
    if (!timestamp || !/^\d{1,12}$/.test(timestamp))
      return sendJson(res, 400, { error: "stale_timestamp", message: "missing or malformed X-Toolctl-Timestamp" });
    const now = Math.floor(Date.now() / 1000) + this.clockOffsetSeconds;
    const skew = Math.abs(now - Number(timestamp));
    if (skew > TOLERANCE_SECONDS)
      return sendJson(res, 400, { error: "stale_timestamp", message: `timestamp is ${skew}s away from the receiver's clock (at most ${TOLERANCE_SECONDS}s)` });
    const expected = Buffer.from(`sha256=${createHmac("sha256", this.secret).update(`${timestamp}.${req.body}`, "utf8").digest("hex")}`);
    const given = Buffer.from(signature ?? "");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return sendJson(res, 401, { error: "invalid_signature", message: "signature does not match the payload" });
    }
    let payload: unknown;
    try {
      payload = JSON.parse(req.body);
    } catch {
      return sendJson(res, 400, { error: "invalid_json", message: "body is not JSON" });
    }
    this.delivered.push(payload);
    sendJson(res, 200, { received: true, id: `evt_${randomId(16)}` });
  }
}
