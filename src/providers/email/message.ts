/**
 * The message, built here synchronously and byte for byte (MIME headers, body parts, folding), so a dry run
 * shows its exact size and headers; the run builds it again with the time it is sent.
 */
import mimeFuncs from "nodemailer/lib/mime-funcs/index.js";

/** A header value: plain ASCII as it is, anything else as RFC 2047 encoded words. */
const headerText = (text: string) => (/^[\x20-\x7e]*$/.test(text) ? text : mimeFuncs.encodeWords(text, "B", 52));
const mailbox = (sender: { name?: string; address: string }) =>
  sender.name
    ? `${/^[A-Za-z0-9 !#$%&'*+/=?^_`{|}~-]*$/.test(sender.name) ? sender.name : headerText(JSON.stringify(sender.name))} <${sender.address}>`
    : sender.address;

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
  const body = plain
    ? crlf
    : (
        Buffer.from(text, "utf8")
          .toString("base64")
          .match(/.{1,76}/g) ?? []
      ).join("\r\n");
  return { headers: [`Content-Type: text/${type}; charset=utf-8`, `Content-Transfer-Encoding: ${plain ? "7bit" : "base64"}`], body };
}

export interface Message {
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
