/**
 * A real SMTP server on 127.0.0.1 (the `smtp-server` package), for manifests/email.yaml: plain SMTP (no
 * STARTTLS, so the test copy sets `allowPlainSmtp: true`), AUTH PLAIN/LOGIN (or the `authMethods` given, such as
 * CRAM-MD5) checked against one account (535 on a mismatch), recipients in `unknownRecipients` refused at RCPT TO
 * with 550, and every accepted message kept with its envelope and raw bytes. `hangAfterData` never answers the end
 * of the message, as a server that dies after DATA.
 *
 * `echoAuth` makes it repeat what the client sent at AUTH, as careless servers do in their replies: the 535 says
 * `(got <the client's AUTH data>)` and the final 250 after the message says `(authenticated with <it>)`. The
 * data is rebuilt byte for byte as the client sent it: base64("\0user\0pass") for PLAIN, base64(user) and
 * base64(pass) for LOGIN, base64("user <hex HMAC-MD5>") for CRAM-MD5 (whose hex is kept in `cramResponses`).
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

export interface FakeSmtpOptions {
  username?: string;
  password?: string;
  authMethods?: Array<"PLAIN" | "LOGIN" | "CRAM-MD5">;
  echoAuth?: boolean;
}

/** What smtp-server hands onAuth; its types leave out CRAM-MD5's fields. */
interface AuthData {
  method: string;
  username?: string;
  password?: string;
  challengeResponse?: string;
  validatePassword(password: string): boolean;
}

const base64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

export class FakeSmtp {
  readonly username: string;
  readonly password: string;
  readonly received: ReceivedMail[] = [];
  readonly unknownRecipients = new Set<string>();
  /** The hex HMAC-MD5 of every CRAM-MD5 answer received. */
  readonly cramResponses: string[] = [];
  connections = 0;
  dataCommands = 0;
  hangAfterData = false;
  private server: SMTPServer;
  private port = 0;
  /** Per session, what the client sent at AUTH (only with echoAuth). */
  private authData = new Map<string, string>();

  constructor(options: FakeSmtpOptions = {}) {
    this.username = options.username ?? `user-${randomId(8)}`;
    this.password = options.password ?? `pw-${randomId(24)}`;
    const echo = options.echoAuth === true;
    this.server = new SMTPServer({
      name: "fake-smtp.test",
      disabledCommands: ["STARTTLS"],
      allowInsecureAuth: true,
      authMethods: options.authMethods ?? ["PLAIN", "LOGIN"],
      logger: false,
      size: 5 * 1024 * 1024,
      onConnect: (_session, callback) => {
        this.connections++;
        callback();
      },
      onAuth: (given, session, callback) => {
        const auth = given as unknown as AuthData;
        const user = auth.username ?? "";
        let sent: string;
        let ok: boolean;
        if (auth.method === "CRAM-MD5") {
          this.cramResponses.push(auth.challengeResponse ?? "");
          sent = base64(`${user} ${auth.challengeResponse}`);
          ok = user === this.username && auth.validatePassword(this.password);
        } else {
          const pass = auth.password ?? "";
          sent = auth.method === "PLAIN" ? base64(`\u0000${user}\u0000${pass}`) : `${base64(user)} ${base64(pass)}`;
          ok = user === this.username && pass === this.password;
        }
        if (ok) {
          if (echo) this.authData.set(session.id, sent);
          return callback(null, { user });
        }
        callback(Object.assign(new Error(`5.7.8 Authentication credentials invalid${echo ? ` (got ${sent})` : ""}`), { responseCode: 535 }));
      },
      onRcptTo: (address: SMTPServerAddress, _session, callback) => {
        if (this.unknownRecipients.has(address.address)) {
          return callback(
            Object.assign(new Error(`5.1.1 <${address.address}>: Recipient address rejected: User unknown in virtual mailbox table`), { responseCode: 550 }),
          );
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
          const sent = this.authData.get(session.id);
          callback(null, `2.0.0 Ok: queued as ${randomId(10, "0123456789ABCDEF")}${sent ? ` (authenticated with ${sent})` : ""}`);
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
