/**
 * Signed webhooks (`request.sign`). The scheme, for a receiver to check:
 *
 *   <timestampHeader>: <t>                         t = Unix time in whole seconds, as decimal text
 *   <header>: <algorithm>=<hex>                    hex = lowercase hex of HMAC-<algorithm>(secret, "<t>.<body>")
 *
 * `<body>` is the exact bytes of the request body as sent (UTF-8), the empty string when there is none. This is
 * Stripe's construction (`t.payload`) with GitHub's header format (`sha256=...`). A receiver recomputes the HMAC
 * over the raw body it received, compares in constant time, and refuses a `t` more than 5 minutes from its clock,
 * which bounds replays. Each attempt (a retry included) is signed afresh, when it is sent: never at plan time, so a
 * run that waits for approval still arrives fresh, and no valid signature is ever written to a dry run or the
 * audit log.
 */
import { createHmac } from "node:crypto";

export interface SignSpec {
  secret: string;
  header: string;
  algorithm: "sha256" | "sha512";
  timestampHeader: string;
}

export function webhookSignature(algorithm: SignSpec["algorithm"], secret: string, timestamp: number, body: string): string {
  return `${algorithm}=${createHmac(algorithm, secret).update(`${timestamp}.${body}`, "utf8").digest("hex")}`;
}

/** The two headers of one attempt, signed now. Header names are lower-cased like the runner's others. */
export function signingHeaders(spec: SignSpec, secret: string, body: string, now = Date.now()): Record<string, string> {
  const timestamp = Math.floor(now / 1000);
  return {
    [spec.timestampHeader.toLowerCase()]: String(timestamp),
    [spec.header.toLowerCase()]: webhookSignature(spec.algorithm, secret, timestamp, body),
  };
}

/** What a plan shows instead: where each header goes and how it is made, never a usable signature. */
export function shownSigningHeaders(spec: SignSpec): Record<string, string> {
  return {
    [spec.timestampHeader.toLowerCase()]: "<Unix seconds, when sent>",
    [spec.header.toLowerCase()]: `${spec.algorithm}=<hex HMAC-${spec.algorithm.toUpperCase()} of "<timestamp>.<body>" with secrets.${spec.secret}, computed when sent>`,
  };
}
