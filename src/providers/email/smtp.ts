/**
 * One SMTP session over nodemailer's SMTP client, with the stage an error came in (the runner decides from it
 * whether the message may have been queued), and the AUTH forms registered with the redactor before they are sent.
 */
import { createHmac } from "node:crypto";
import { connect } from "node:net";
import { Readable } from "node:stream";
import SMTPConnection from "nodemailer/lib/smtp-connection/index.js";
import type { ErrorCategory } from "../../domain/records.js";

type Stage = "connect" | "auth" | "envelope" | "data";

/**
 * Once the outcome is known, how long the server has to answer QUIT (or the close after a refusal) and close the
 * connection before it is cut: the answer changes nothing, and a server that never gives it must not keep the
 * process running.
 */
export const CLOSE_GRACE_MS = 1000;
type Sent = { ok: true; info: SMTPConnection.SentMessageInfo } | { ok: false; stage: Stage; error: SMTPConnection.SMTPError; aborted?: boolean };

/** One SMTP session: connect, STARTTLS, AUTH, MAIL FROM, RCPT TO, DATA. Reports the stage an error came in. */
export function smtpSend(
  options: SMTPConnection.Options,
  credentials: SMTPConnection.Credentials | undefined,
  envelope: { from: string; to: string[] },
  raw: Buffer,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<Sent> {
  return new Promise((resolve) => {
    let stage: Stage = "connect";
    let settled = false;
    // The connection is opened here and handed to nodemailer (its `connection` option), so it can be cut after the
    // grace below: nodemailer's own close only half-closes it, and then waits for the server to finish.
    const socket = connect({ host: options.host!, port: options.port! });
    // Errors are nodemailer's to report; one after the outcome changes nothing.
    socket.on("error", () => undefined);
    const connection = new SMTPConnection({ ...options, connection: socket });
    const finish = (sent: Sent) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(sent);
      if (sent.ok) connection.quit();
      else connection.close();
      setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
    };
    const fail = (error: SMTPConnection.SMTPError, aborted = false) => finish({ ok: false, stage, error, aborted });
    const onAbort = () => fail(Object.assign(new Error("interrupted"), { code: "EABORT" }), true);
    const timer = setTimeout(() => fail(Object.assign(new Error(`no answer within ${timeoutMs / 1000}s`), { code: "ETIMEDOUT" })), timeoutMs);
    signal.addEventListener("abort", onAbort, { once: true });
    // Errors after the outcome is known (a failed QUIT) change nothing.
    connection.on("error", (error: SMTPConnection.SMTPError) => fail(error));
    connection.on("end", () => fail(Object.assign(new Error("connection closed unexpectedly"), { code: "ECONNECTION" })));
    // The message is read only once the server has answered DATA with 354: from then on it may be queued.
    const message = new Readable({
      read() {
        stage = "data";
        this.push(raw);
        this.push(null);
      },
    });
    const send = () => {
      stage = "envelope";
      connection.send({ from: envelope.from, to: envelope.to }, message, (error, info) => (error ? fail(error) : finish({ ok: true, info })));
    };
    connection.connect(() => {
      if (!credentials) return send();
      stage = "auth";
      connection.login(credentials, (error) => (error ? fail(error) : send()));
    });
  });
}

/**
 * SMTP AUTH sends forms of the password that contain no aligned base64 of it: PLAIN's base64("\0user\0pass")
 * and CRAM-MD5's base64("user <hex HMAC-MD5(pass, challenge)>"). A server may repeat them in a reply that ends up
 * in the error or the output, so each is registered with the redactor before it is sent: PLAIN's and LOGIN's
 * (base64 of the username and of the password) here, before the session starts; CRAM-MD5's, which answers the
 * server's challenge, by the handler below.
 */
export function registerAuthForms(credentials: SMTPConnection.Credentials, secretUsername: boolean, addSecret: (value: string) => void): void {
  const plain = `\u0000${credentials.user}\u0000${credentials.pass}`;
  addSecret(plain);
  addSecret(Buffer.from(plain, "utf8").toString("base64"));
  if (secretUsername) addSecret(credentials.user);
}

/** RFC 2195 CRAM-MD5, as nodemailer does it, but registering the answer before it goes out. */
export function cramMd5(
  credentials: SMTPConnection.Credentials,
  addSecret: (value: string) => void,
): NonNullable<SMTPConnection.Options["customAuth"]>[string] {
  return async (auth) => {
    const challenge = await auth.sendCommand("AUTH CRAM-MD5");
    if (challenge.status !== 334) return auth.reject("Invalid login sequence while waiting for the server's challenge");
    const hmac = createHmac("md5", credentials.pass).update(Buffer.from(challenge.text.trim(), "base64")).digest("hex");
    const answer = Buffer.from(`${credentials.user} ${hmac}`, "utf8").toString("base64");
    addSecret(hmac);
    addSecret(answer);
    const done = await auth.sendCommand(answer);
    return done.status === 235 ? auth.resolve() : auth.reject("Invalid login");
  };
}

export const categoryFor = (error: SMTPConnection.SMTPError): ErrorCategory => {
  if (error.code === "EAUTH") return "authentication";
  if (error.code === "ETIMEDOUT") return "timeout";
  if (error.responseCode !== undefined) return error.responseCode >= 500 ? "validation" : "server_error";
  return "network";
};

/** The server's own words for a refusal: per recipient when RCPT TO refused them all. */
export function refusal(error: SMTPConnection.SMTPError & { rejectedErrors?: SMTPConnection.SMTPError[]; recipient?: string }): string {
  const rejected = error.rejectedErrors ?? [];
  if (error.command === "RCPT TO" && rejected.length > 0) {
    return rejected.map((e) => `RCPT TO <${(e as { recipient?: string }).recipient}> refused: ${e.response}`).join("; ");
  }
  return `${error.command && error.command !== "CONN" ? `${error.command} refused` : "refused"}: ${error.response}`;
}
