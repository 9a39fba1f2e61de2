/**
 * The built-in `email` runtime: one message over SMTP (nodemailer's SMTP client), from the manifest's fixed
 * sender, to validated recipients. The message is built here, synchronously and byte for byte, so a dry run
 * shows its exact size and headers; the run rebuilds it with the time it is sent and hands it to the server.
 *
 * Input: to (an address or a list), subject, text and/or html, and optional cc, bcc (envelope only) and
 * replyTo. Addresses are plain `local@domain` (ASCII): no display names from input, nothing that could inject
 * a header.
 *
 * Outcomes, from what SMTP says: a refusal (a 4xx or 5xx reply, at AUTH, MAIL FROM, RCPT TO, DATA or after the
 * message) is `failed` with the server's words, and nothing was accepted. A lost connection or a timeout before
 * the message was written is `failed` too. Once the message is being written (the server answered DATA with
 * 354), a connection lost or a timeout before the server's final reply is `unknown`: it may have been queued.
 * After the final 250, the message is accepted: whatever happens to QUIT does not change that.
 */
import { createHmac } from "node:crypto";
import { Readable } from "node:stream";
import SMTPConnection from "nodemailer/lib/smtp-connection/index.js";
import mimeFuncs from "nodemailer/lib/mime-funcs/index.js";
import type { EmailSettings } from "../../domain/manifest.js";
import type { ErrorCategory } from "../../registry/executions.js";
import { PolicyError } from "../../errors.js";
import { renderText } from "../../template/render.js";
import { BuiltinInputError, checkFields, quote, type Input } from "../../runners/builtin/input.js";
import type { Prepared, RunContext, RunResult, Runner } from "../../runners/types.js";

const FIELDS = ["to", "cc", "bcc", "replyTo", "subject", "text", "html"] as const;
const MAX_RECIPIENTS = 100;
const ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const ADDRESS = new RegExp(`^${ATOM}(?:\\.${ATOM})*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,63}$`);

export function isEmailAddress(text: string): boolean {
  const at = text.lastIndexOf("@");
  return text.length <= 254 && at > 0 && at <= 64 && ADDRESS.test(text);
}

function address(value: unknown, field: string): string {
  if (typeof value !== "string") throw new BuiltinInputError(`input ${field} must be an email address`);
  const trimmed = value.trim();
  if (!isEmailAddress(trimmed)) throw new BuiltinInputError(`input ${field}: ${quote(value)} is not an email address (local@domain)`);
  return trimmed;
}

function addresses(input: Input, field: string, required: boolean): string[] {
  const value = input[field];
  if (value === undefined || value === null) {
    if (required) throw new BuiltinInputError(`input ${field} is required: an address or a list of addresses`);
    return [];
  }
  const list = Array.isArray(value) ? value : [value];
  if (required && list.length === 0) throw new BuiltinInputError(`input ${field} must name at least one address`);
  return list.map((item, index) => address(item, Array.isArray(value) ? `${field}[${index}]` : field));
}

function optionalText(input: Input, field: string): string | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new BuiltinInputError(`input ${field} must be a string`);
  return value;
}

/** The manifest's `from`: `addr` or `Name <addr>`. */
export function parseSender(from: string): { name?: string; address: string } {
  const match = /^\s*(?:"?([^"<>\r\n]*?)"?\s*<([^<>\s]+)>|([^<>\s]+))\s*$/.exec(from);
  const addr = match?.[2] ?? match?.[3];
  if (!match || !addr || !isEmailAddress(addr)) throw new BuiltinInputError(`email.from: ${quote(from)} is not an address or "Name <address>"`);
  const name = match[1]?.trim();
  return name ? { name, address: addr } : { address: addr };
}

function domainAllowed(addr: string, allowed: string[] | undefined): boolean {
  if (!allowed) return true;
  const domain = addr.slice(addr.lastIndexOf("@") + 1).toLowerCase();
  return allowed.some((entry) => {
    const rule = entry.toLowerCase();
    return rule.startsWith("*.") ? domain.endsWith(rule.slice(1)) : domain === rule;
  });
}

/** A header value: plain ASCII as it is, anything else as RFC 2047 encoded words. */
const headerText = (text: string) => (/^[\x20-\x7e]*$/.test(text) ? text : mimeFuncs.encodeWords(text, "B", 52));
const mailbox = (sender: { name?: string; address: string }) =>
  sender.name ? `${/^[A-Za-z0-9 !#$%&'*+/=?^_`{|}~-]*$/.test(sender.name) ? sender.name : headerText(JSON.stringify(sender.name))} <${sender.address}>` : sender.address;

/** Folds a header at spaces into lines of about 78 characters (an encoded subject may be long). */
function fold(line: string): string {
  const lines: string[] = [];
  let current = "";
  for (const word of line.split(" ")) {
    if (current !== "" && current.length + 1 + word.length > 76) {
      lines.push(current);
      current = word;
    } else current = current === "" ? word : `${current} ${word}`;
  }
  return [...lines, current].join("\r\n ");
}

/** RFC 5322 date in UTC; always the same length, so the size a dry run shows is the size sent. */
function mailDate(at: Date): string {
  const [day, date, month, year, time] = at.toUTCString().split(" ");
  return `${day} ${date} ${month} ${year} ${time} +0000`;
}

/** A body part: 7bit when it is short-lined ASCII (and cannot contain the boundary), base64 otherwise. */
function bodyPart(text: string, type: "plain" | "html", boundary: string): { headers: string[]; body: string } {
  const crlf = text.replace(/\r\n|\r|\n/g, "\r\n");
  const plain = /^[\x09\x0d\x0a\x20-\x7e]*$/.test(crlf) && crlf.split("\r\n").every((line) => line.length <= 998) && !crlf.includes(boundary);
  const body = plain ? crlf : (Buffer.from(text, "utf8").toString("base64").match(/.{1,76}/g) ?? []).join("\r\n");
  return { headers: [`Content-Type: text/${type}; charset=utf-8`, `Content-Transfer-Encoding: ${plain ? "7bit" : "base64"}`], body };
}

interface Message {
  from: { name?: string; address: string };
  to: string[];
  cc: string[];
  bcc: string[];
  replyTo?: string;
  subject: string;
  text?: string;
  html?: string;
  messageId: string;
}

/** The shown headers (decoded), and the raw message as sent at `at`. */
export function buildMessage(message: Message, at: Date): { headers: Record<string, string>; raw: Buffer } {
  const headers: Record<string, string> = { From: mailbox(message.from), To: message.to.join(", ") };
  if (message.cc.length > 0) headers.Cc = message.cc.join(", ");
  if (message.replyTo) headers["Reply-To"] = message.replyTo;
  headers.Subject = message.subject;
  headers.Date = mailDate(at);
  headers["Message-ID"] = message.messageId;
  headers["MIME-Version"] = "1.0";
  const boundary = `----toolctl-${message.messageId.replace(/[^A-Za-z0-9]/g, "")}`;
  let content: string;
  if (message.text !== undefined && message.html !== undefined) {
    headers["Content-Type"] = `multipart/alternative; boundary="${boundary}"`;
    const parts = [bodyPart(message.text, "plain", boundary), bodyPart(message.html, "html", boundary)];
    content = `${parts.map((part) => `--${boundary}\r\n${part.headers.join("\r\n")}\r\n\r\n${part.body}\r\n`).join("")}--${boundary}--\r\n`;
  } else {
    const part = bodyPart((message.text ?? message.html)!, message.text !== undefined ? "plain" : "html", boundary);
    for (const line of part.headers) headers[line.slice(0, line.indexOf(":"))] = line.slice(line.indexOf(":") + 2);
    content = `${part.body}\r\n`;
  }
  const lines = Object.entries(headers).map(([name, value]) => (name === "Subject" ? fold(`Subject: ${headerText(value)}`) : `${name}: ${value}`));
  return { headers, raw: Buffer.from(`${lines.join("\r\n")}\r\n\r\n${content}`, "utf8") };
}

type Stage = "connect" | "auth" | "envelope" | "data";
type Sent = { ok: true; info: SMTPConnection.SentMessageInfo } | { ok: false; stage: Stage; error: SMTPConnection.SMTPError; aborted?: boolean };

/** One SMTP session: connect, STARTTLS, AUTH, MAIL FROM, RCPT TO, DATA. Reports the stage an error came in. */
function smtpSend(
  options: SMTPConnection.Options, credentials: SMTPConnection.Credentials | undefined,
  envelope: { from: string; to: string[] }, raw: Buffer, timeoutMs: number, signal: AbortSignal,
): Promise<Sent> {
  return new Promise((resolve) => {
    let stage: Stage = "connect";
    let settled = false;
    const connection = new SMTPConnection(options);
    const finish = (sent: Sent) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(sent);
      if (sent.ok) connection.quit();
      else connection.close();
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
function registerAuthForms(credentials: SMTPConnection.Credentials, secretUsername: boolean, addSecret: (value: string) => void): void {
  const plain = `\u0000${credentials.user}\u0000${credentials.pass}`;
  addSecret(plain);
  addSecret(Buffer.from(plain, "utf8").toString("base64"));
  if (secretUsername) addSecret(credentials.user);
}

/** RFC 2195 CRAM-MD5, as nodemailer does it, but registering the answer before it goes out. */
function cramMd5(credentials: SMTPConnection.Credentials, addSecret: (value: string) => void): NonNullable<SMTPConnection.Options["customAuth"]>[string] {
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

const categoryFor = (error: SMTPConnection.SMTPError): ErrorCategory => {
  if (error.code === "EAUTH") return "authentication";
  if (error.code === "ETIMEDOUT") return "timeout";
  if (error.responseCode !== undefined) return error.responseCode >= 500 ? "validation" : "server_error";
  return "network";
};

/** The server's own words for a refusal: per recipient when RCPT TO refused them all. */
function refusal(error: SMTPConnection.SMTPError & { rejectedErrors?: SMTPConnection.SMTPError[]; recipient?: string }): string {
  const rejected = error.rejectedErrors ?? [];
  if (error.command === "RCPT TO" && rejected.length > 0) {
    return rejected.map((e) => `RCPT TO <${(e as { recipient?: string }).recipient}> refused: ${e.response}`).join("; ");
  }
  return `${error.command && error.command !== "CONN" ? `${error.command} refused` : "refused"}: ${error.response}`;
}

export const emailRunner: Runner = {
  prepare(context: RunContext): Prepared {
    const { tool, input, secrets } = context;
    const settings = tool.definition.email as EmailSettings;
    checkFields(input, FIELDS, "email");
    const to = addresses(input, "to", true);
    const cc = addresses(input, "cc", false);
    const bcc = addresses(input, "bcc", false);
    const replyTo = input.replyTo === undefined || input.replyTo === null ? undefined : address(input.replyTo, "replyTo");
    const subject = optionalText(input, "subject");
    if (subject === undefined) throw new BuiltinInputError("input subject is required");
    if (/[\r\n]/.test(subject) || subject.length > 900) throw new BuiltinInputError("input subject must be one line of at most 900 characters");
    const text = optionalText(input, "text");
    const html = optionalText(input, "html");
    if (text === undefined && html === undefined) throw new BuiltinInputError("input text or html is required (or both)");
    const recipients = [...new Set([...to, ...cc, ...bcc])];
    if (recipients.length > MAX_RECIPIENTS) throw new BuiltinInputError(`at most ${MAX_RECIPIENTS} recipients in all, not ${recipients.length}`);
    const outside = recipients.filter((r) => !domainAllowed(r, settings.allowedRecipientDomains));
    if (outside.length > 0) {
      throw new PolicyError("policy_refused", `recipient ${outside.join(", ")} is outside email.allowedRecipientDomains (${settings.allowedRecipientDomains!.join(", ")})`);
    }
    const from = parseSender(settings.from);
    const message: Message = {
      from, to, cc, bcc, replyTo, subject, text, html,
      messageId: `<${context.executionId}@${from.address.slice(from.address.lastIndexOf("@") + 1)}>`,
    };
    const planned = buildMessage(message, new Date());
    const size = planned.raw.length;
    if (size > settings.maxMessageBytes) throw new PolicyError("policy_refused", `the message is ${size} bytes, over email.maxMessageBytes (${settings.maxMessageBytes})`);

    const auth = tool.definition.auth;
    const username = auth.type === "basic" ? renderText(auth.username, { secrets }, "auth.username") : undefined;
    const credentials = auth.type === "basic" ? { user: username!, pass: secrets[auth.secret]! } : undefined;
    if (credentials) registerAuthForms(credentials, auth.type === "basic" && /\{\{\s*secrets\./.test(auth.username), context.addSecret);
    const timeoutSeconds = context.action.definition.timeoutSeconds ?? settings.timeoutSeconds;
    const security = settings.tls === "tls" ? "TLS" : settings.allowPlainSmtp ? "STARTTLS if offered (allowPlainSmtp)" : "STARTTLS required";
    const server = `${settings.host}:${settings.port}`;
    const envelope = { from: from.address, to: recipients };
    const options: SMTPConnection.Options = {
      host: settings.host, port: settings.port, secure: settings.tls === "tls",
      requireTLS: settings.tls === "starttls" && !settings.allowPlainSmtp,
      connectionTimeout: timeoutSeconds * 1000, greetingTimeout: timeoutSeconds * 1000, socketTimeout: timeoutSeconds * 1000,
      tls: { servername: /^[\d.]+$|:/.test(settings.host) ? undefined : settings.host },
      customAuth: credentials ? { "CRAM-MD5": cramMd5(credentials, context.addSecret) } : undefined,
    };

    return {
      description: {
        runtime: "email", server, security, auth: username === undefined ? "none" : `as ${username}`,
        envelope, headers: planned.headers, bcc: bcc.length > 0 ? bcc : undefined, sizeBytes: size, maxMessageBytes: settings.maxMessageBytes, timeoutSeconds,
        summary: `sends ${JSON.stringify(subject)} from ${from.address} to ${recipients.join(", ")} (${size} bytes) through ${server}, ${security}${username === undefined ? "" : `, as ${username}`}`,
      },
      async run(hooks): Promise<RunResult> {
        const started = Date.now();
        // Built again with the time it is sent (same length, so the size shown is the size sent).
        const { raw } = buildMessage(message, new Date());
        const sent = await smtpSend(options, credentials, envelope, raw, timeoutSeconds * 1000, hooks.signal);
        const details = { server, sizeBytes: raw.length, durationMs: Date.now() - started };
        if (sent.ok) {
          const rejected = sent.info.rejectedErrors?.map((e) => `${(e as { recipient?: string }).recipient}: ${e.response}`);
          return {
            outcome: "succeeded", details,
            output: { messageId: message.messageId, accepted: sent.info.accepted, rejected: sent.info.rejected, rejectedResponses: rejected, response: sent.info.response },
          };
        }
        const { error, stage } = sent;
        const said = error.responseCode !== undefined && error.response !== undefined;
        if (stage === "data" && !said) {
          const what = sent.aborted ? "interrupted" : error.message;
          return {
            outcome: "unknown", errorCategory: error.code === "ETIMEDOUT" ? "timeout" : "other", details: { ...details, stage },
            error: `SMTP ${server}: ${context.redact(what)} after the message was sent (DATA): it may have been accepted; check the recipient's mailbox or the server's log for ${message.messageId} before retrying`,
          };
        }
        const why = said ? refusal(error) : sent.aborted ? `interrupted before the message was sent` : `${error.message}${error.code === "ETLS" && !settings.allowPlainSmtp ? " (STARTTLS is required; allowPlainSmtp: true permits a server without it)" : ""}`;
        return {
          outcome: "failed", errorCategory: sent.aborted ? "other" : categoryFor(error), details: { ...details, stage },
          error: `SMTP ${server}: ${context.redact(why).slice(0, 500)}`,
        };
      },
    };
  },
};
