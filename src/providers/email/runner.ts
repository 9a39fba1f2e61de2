/**
 * The built-in `email` runtime: one message over SMTP (nodemailer's SMTP client), from the manifest's fixed
 * sender, to validated recipients. The message is built synchronously and byte for byte (./message.ts), so a
 * dry run shows its exact size and headers; the run rebuilds it with the time it is sent and hands it to the
 * server.
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
import type SMTPConnection from "nodemailer/lib/smtp-connection/index.js";
import type { EmailSettings } from "../../domain/manifest.js";
import { PolicyError } from "../../errors.js";
import { renderText } from "../../domain/template.js";
import { BuiltinInputError, checkFields, type Input } from "../../runners/builtin/input.js";
import type { Prepared, RunContext, RunResult, Runner } from "../../runners/types.js";
import { address, addresses, domainAllowed, parseSender } from "./addresses.js";
import { buildMessage, type Message } from "./message.js";
import { categoryFor, cramMd5, refusal, registerAuthForms, smtpSend } from "./smtp.js";

const FIELDS = ["to", "cc", "bcc", "replyTo", "subject", "text", "html"] as const;
const MAX_RECIPIENTS = 100;

function optionalText(input: Input, field: string): string | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new BuiltinInputError(`input ${field} must be a string`);
  return value;
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
      throw new PolicyError(
        "policy_refused",
        `recipient ${outside.join(", ")} is outside email.allowedRecipientDomains (${settings.allowedRecipientDomains!.join(", ")})`,
      );
    }
    const from = parseSender(settings.from);
    const message: Message = {
      from,
      to,
      cc,
      bcc,
      replyTo,
      subject,
      text,
      html,
      messageId: `<${context.executionId}@${from.address.slice(from.address.lastIndexOf("@") + 1)}>`,
    };
    const planned = buildMessage(message, new Date());
    const size = planned.raw.length;
    if (size > settings.maxMessageBytes)
      throw new PolicyError("policy_refused", `the message is ${size} bytes, over email.maxMessageBytes (${settings.maxMessageBytes})`);

    const auth = tool.definition.auth;
    const username = auth.type === "basic" ? renderText(auth.username, { secrets }, "auth.username") : undefined;
    const credentials = auth.type === "basic" ? { user: username!, pass: secrets[auth.secret]! } : undefined;
    if (credentials) registerAuthForms(credentials, auth.type === "basic" && /\{\{\s*secrets\./.test(auth.username), context.addSecret);
    const timeoutSeconds = context.action.definition.timeoutSeconds ?? settings.timeoutSeconds;
    const security = settings.tls === "tls" ? "TLS" : settings.allowPlainSmtp ? "STARTTLS if offered (allowPlainSmtp)" : "STARTTLS required";
    const server = `${settings.host}:${settings.port}`;
    const envelope = { from: from.address, to: recipients };
    const options: SMTPConnection.Options = {
      host: settings.host,
      port: settings.port,
      secure: settings.tls === "tls",
      requireTLS: settings.tls === "starttls" && !settings.allowPlainSmtp,
      connectionTimeout: timeoutSeconds * 1000,
      greetingTimeout: timeoutSeconds * 1000,
      socketTimeout: timeoutSeconds * 1000,
      tls: { servername: /^[\d.]+$|:/.test(settings.host) ? undefined : settings.host },
      customAuth: credentials ? { "CRAM-MD5": cramMd5(credentials, context.addSecret) } : undefined,
    };

    return {
      description: {
        runtime: "email",
        server,
        security,
        auth: username === undefined ? "none" : `as ${username}`,
        envelope,
        headers: planned.headers,
        bcc: bcc.length > 0 ? bcc : undefined,
        sizeBytes: size,
        maxMessageBytes: settings.maxMessageBytes,
        timeoutSeconds,
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
            outcome: "succeeded",
            details,
            output: {
              messageId: message.messageId,
              accepted: sent.info.accepted,
              rejected: sent.info.rejected,
              rejectedResponses: rejected,
              response: sent.info.response,
            },
          };
        }
        const { error, stage } = sent;
        const said = error.responseCode !== undefined && error.response !== undefined;
        if (stage === "data" && !said) {
          const what = sent.aborted ? "interrupted" : error.message;
          return {
            outcome: "unknown",
            errorCategory: error.code === "ETIMEDOUT" ? "timeout" : "other",
            details: { ...details, stage },
            error: `SMTP ${server}: ${context.redact(what)} after the message was sent (DATA): it may have been accepted; check the recipient's mailbox or the server's log for ${message.messageId} before retrying`,
          };
        }
        const why = said
          ? refusal(error)
          : sent.aborted
            ? `interrupted before the message was sent`
            : `${error.message}${error.code === "ETLS" && !settings.allowPlainSmtp ? " (STARTTLS is required; allowPlainSmtp: true permits a server without it)" : ""}`;
        return {
          outcome: "failed",
          errorCategory: sent.aborted ? "other" : categoryFor(error),
          details: { ...details, stage },
          error: `SMTP ${server}: ${context.redact(why).slice(0, 500)}`,
        };
      },
    };
  },
};
