/**
 * A real SMTP server on 127.0.0.1 (the `smtp-server` package), for manifests/email.yaml: plain SMTP (no
 * STARTTLS, so the test copy sets `allowPlainSmtp: true`), AUTH PLAIN/LOGIN checked against one account (535 on
 * a mismatch), recipients in `unknownRecipients` refused at RCPT TO with 550, and every accepted message kept
 * with its envelope and raw bytes. `hangAfterData` never answers the end of the message, as a server that dies
 * after DATA.
 *
 * `emailLoopbackCopy` writes a copy of a shipped manifest whose only changes point it at this server.
 */
import { readFileSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { SMTPServer, type SMTPServerAddress } from "smtp-server";
import { parseDocument } from "yaml";
import { randomId } from "./server.js";

export interface ReceivedMail {
  from: string;
  to: string[];
  user: string | undefined;
  raw: string;
}

export class FakeSmtp {
  readonly username = `user-${randomId(8)}`;
  readonly password = `pw-${randomId(24)}`;
  readonly received: ReceivedMail[] = [];
  readonly unknownRecipients = new Set<string>();
  connections = 0;
  dataCommands = 0;
  hangAfterData = false;
  private server: SMTPServer;
  private port = 0;

  constructor() {
    this.server = new SMTPServer({
      name: "fake-smtp.test",
      disabledCommands: ["STARTTLS"],
      allowInsecureAuth: true,
      authMethods: ["PLAIN", "LOGIN"],
      logger: false,
      size: 5 * 1024 * 1024,
      onConnect: (_session, callback) => {
        this.connections++;
        callback();
      },
      onAuth: (auth, _session, callback) => {
        if (auth.username === this.username && auth.password === this.password) return callback(null, { user: auth.username });
        callback(Object.assign(new Error("5.7.8 Authentication credentials invalid"), { responseCode: 535 }));
      },
      onRcptTo: (address: SMTPServerAddress, _session, callback) => {
        if (this.unknownRecipients.has(address.address)) {
          return callback(Object.assign(new Error(`5.1.1 <${address.address}>: Recipient address rejected: User unknown in virtual mailbox table`), { responseCode: 550 }));
        }
        callback();
      },
      onData: (stream, session, callback) => {
        this.dataCommands++;
        const chunks: Buffer[] = [];
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("end", () => {
          if (this.hangAfterData) return;
          const envelope = session.envelope;
          this.received.push({
            from: envelope.mailFrom ? envelope.mailFrom.address : "",
            to: envelope.rcptTo.map((r) => r.address),
            user: session.user as string | undefined,
            raw: Buffer.concat(chunks).toString("utf8"),
          });
          callback(null, `2.0.0 Ok: queued as ${randomId(10, "0123456789ABCDEF")}`);
        });
      },
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.server.address() as AddressInfo).port;
    return this;
  }

  get address(): { host: string; port: number } {
    return { host: "127.0.0.1", port: this.port };
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** `<dir>/<name>.yaml`: the manifest at `source` with email.host/port pointed at the fake and plain SMTP allowed. */
export function emailLoopbackCopy(source: string, smtp: FakeSmtp, dir: string, email: Record<string, unknown> = {}): string {
  const document = parseDocument(readFileSync(source, "utf8"));
  if (document.errors.length > 0) throw new Error(`${source}: ${document.errors[0]!.message}`);
  document.setIn(["email", "host"], smtp.address.host);
  document.setIn(["email", "port"], smtp.address.port);
  document.setIn(["email", "allowPlainSmtp"], true);
  for (const [key, value] of Object.entries(email)) document.setIn(["email", key], value);
  const target = path.join(dir, path.basename(source));
  writeFileSync(target, document.toString());
  return target;
}
