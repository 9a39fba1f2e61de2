/**
 * manifests/email.yaml end to end: the library API sends through a real SMTP server on 127.0.0.1
 * (smtp-server, test/fakes/smtp.ts) with AUTH, and reports SMTP's own answers. One test runs the built binary,
 * for what the CLI prints.
 */
import { readFileSync } from "node:fs";
import { createServer, type AddressInfo, type Server } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { Toolctl } from "../src/api/index.js";
import { emailLoopbackCopy, FakeSmtp } from "./fakes/smtp.js";
import { openApi, repoRoot, runCli, tempDir } from "./helpers.js";

/**
 * A server that speaks SMTP up to the message's final reply (RCPT TO refused for `refused`), then never answers
 * QUIT and never closes its side, even after the client's FIN: as a server that hangs after delivering does.
 */
async function silentAfterReply(refused: string): Promise<Server & { sessions: number }> {
  const server = Object.assign(
    createServer({ allowHalfOpen: true }, (socket) => {
      server.sessions++;
      let inData = false;
      let pending = "";
      socket.on("error", () => undefined);
      socket.write("220 silent.test ESMTP\r\n");
      socket.on("data", (chunk: Buffer) => {
        pending += chunk.toString("latin1");
        let end: number;
        while ((end = pending.indexOf("\r\n")) >= 0) {
          const line = pending.slice(0, end);
          pending = pending.slice(end + 2);
          if (inData) {
            if (line === ".") {
              inData = false;
              socket.write("250 2.0.0 Ok: queued as 5ILENT\r\n");
            }
          } else if (/^EHLO /i.test(line)) socket.write("250-silent.test\r\n250 AUTH PLAIN LOGIN\r\n");
          else if (/^AUTH /i.test(line)) socket.write("235 2.7.0 Authentication successful\r\n");
          else if (/^MAIL FROM:/i.test(line)) socket.write("250 2.1.0 Ok\r\n");
          else if (/^RCPT TO:/i.test(line)) socket.write(line.includes(refused) ? "550 5.1.1 User unknown\r\n" : "250 2.1.5 Ok\r\n");
          else if (/^DATA$/i.test(line)) {
            inData = true;
            socket.write("354 End data with <CR><LF>.<CR><LF>\r\n");
          }
          // QUIT, and anything else: no answer.
        }
      });
    }),
    { sessions: 0 },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

const shipped = path.join(repoRoot, "manifests", "email.yaml");
let smtp: FakeSmtp;
let dir: string;
let slowDir: string;

beforeAll(async () => {
  smtp = await new FakeSmtp().start();
  dir = path.dirname(emailLoopbackCopy(shipped, smtp, tempDir("toolctl-email-manifest-")));
  slowDir = path.dirname(emailLoopbackCopy(shipped, smtp, tempDir("toolctl-email-slow-"), { timeoutSeconds: 1 }));
});
afterAll(() => smtp.close());

const env = (password = smtp.password) => ({ SMTP_USERNAME: smtp.username, SMTP_PASSWORD: password });

/** A fresh home with the manifests of `from` imported, opened with `environment`. */
async function api(environment: Record<string, string> = env(), from = dir): Promise<Toolctl> {
  const toolctl = await openApi({ env: environment });
  const report = await toolctl.importManifests([from]);
  expect(report.failed).toEqual([]);
  expect(report.imported.map((i) => i.tool)).toEqual(["email"]);
  return toolctl;
}

const message = {
  to: ["alice@example.com", "bob@example.org"],
  cc: "carol@example.net",
  bcc: "audit@example.com",
  subject: "Deploy v1.4.2 finished ✓",
  text: "All green.\nSee you.",
};

describe("manifests/email.yaml as shipped", () => {
  it("requires STARTTLS, names both secrets, and is free, not idempotent and irreversible", async () => {
    const manifest = parse(readFileSync(shipped, "utf8"));
    expect(manifest.email).toMatchObject({ tls: "starttls", port: 587 });
    expect(manifest.email.allowPlainSmtp).toBeUndefined();
    const toolctl = await openApi();
    expect((await toolctl.importManifests([shipped])).failed).toEqual([]);
    expect((await toolctl.getTool("email"))!.secrets).toEqual(["SMTP_PASSWORD", "SMTP_USERNAME"]);
    const action = await toolctl.store.tools.action("email", "send", false);
    expect(action!.definition).toMatchObject({ kind: "create", idempotent: false, cost: { fixed: 0 }, rollback: "irreversible" });
  });

  it("a server without STARTTLS is refused before any credential is sent: exit 1", async () => {
    const strictDir = path.dirname(emailLoopbackCopy(shipped, smtp, tempDir("toolctl-email-strict-"), { allowPlainSmtp: false }));
    const toolctl = await api(env(), strictDir);
    const received = smtp.received.length;
    const result = await toolctl.run("email.send", message);
    expect(result.exitCode).toBe(1);
    expect(result.error!.message).toMatch(/STARTTLS/);
    expect(smtp.received.length).toBe(received);
  });
});

describe("email.send against a real SMTP server", () => {
  it("authenticates, sends the exact message it planned, and returns the Message-ID", async () => {
    const toolctl = await api();
    const before = smtp.received.length;
    const result = await toolctl.run("email.send", message);
    expect(result.exitCode).toBe(0);
    expect(result.warnings).toEqual([]);
    expect(result).toMatchObject({ status: "succeeded", cost: { usd: 0 }, approval: { required: false } });
    const id = result.executionId;
    const output = result.output as any;
    expect(output).toMatchObject({
      messageId: `<${id}@example.com>`,
      accepted: ["alice@example.com", "bob@example.org", "carol@example.net", "audit@example.com"],
      rejected: [],
    });
    expect(output.response).toMatch(/^250 2\.0\.0 Ok: queued as/);
    expect(smtp.received.length).toBe(before + 1);
    const mail = smtp.received.at(-1)!;
    expect(mail).toMatchObject({
      from: "notifications@example.com",
      to: ["alice@example.com", "bob@example.org", "carol@example.net", "audit@example.com"],
      user: smtp.username,
    });
    const [head, body] = mail.raw.split("\r\n\r\n");
    const headers = head!.split("\r\n");
    expect(headers).toEqual([
      "From: toolctl <notifications@example.com>",
      "To: alice@example.com, bob@example.org",
      "Cc: carol@example.net",
      "Subject: Deploy v1.4.2 finished =?UTF-8?B?4pyT?=",
      expect.stringMatching(/^Date: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/),
      `Message-ID: <${id}@example.com>`,
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=utf-8",
      "Content-Transfer-Encoding: 7bit",
    ]);
    // Bcc is in the envelope only.
    expect(mail.raw).not.toContain("audit@example.com");
    expect(body).toBe("All green.\r\nSee you.\r\n");
    expect(Buffer.byteLength(mail.raw)).toBe(result.request!.sizeBytes);
    expect(JSON.stringify(result)).not.toContain(smtp.password);
    const [recorded] = (await toolctl.executions()).items;
    expect(recorded).toMatchObject({ id, tool: "email", action: "send", status: "succeeded" });
    expect(JSON.stringify(recorded)).not.toContain(smtp.password);
  });

  it("sends text and html as multipart/alternative", async () => {
    const toolctl = await api();
    const result = await toolctl.run("email.send", { to: "alice@example.com", subject: "Hi", text: "plain", html: "<p>rich</p>" });
    expect(result.exitCode).toBe(0);
    const raw = smtp.received.at(-1)!.raw;
    expect(raw).toMatch(/Content-Type: multipart\/alternative; boundary="----toolctl-/);
    expect(raw).toContain("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\nplain\r\n");
    expect(raw).toContain("Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n<p>rich</p>\r\n");
  });

  it("a recipient the server refuses (550) is exit 1 with the server's words, and no message is sent", async () => {
    const toolctl = await api();
    smtp.unknownRecipients.add("nobody@example.com");
    const data = smtp.dataCommands;
    try {
      const result = await toolctl.run("email.send", { to: "nobody@example.com", subject: "Hi", text: "x" });
      expect(result.exitCode).toBe(1);
      expect(result.status).toBe("failed");
      expect(result.error!.category).toBe("validation");
      expect(result.error!.message).toBe(
        `SMTP 127.0.0.1:${smtp.address.port}: RCPT TO <nobody@example.com> refused: 550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox table`,
      );
      expect(smtp.dataCommands).toBe(data);
    } finally {
      smtp.unknownRecipients.clear();
    }
  });

  it("bad credentials are the server's 535: exit 1, authentication, the password never printed", async () => {
    const wrong = "pw-wrong-0123456789";
    const toolctl = await api(env(wrong));
    const received = smtp.received.length;
    const result = await toolctl.run("email.send", message);
    expect(result.exitCode).toBe(1);
    expect(result.error!.category).toBe("authentication");
    expect(result.error!.message).toMatch(/^SMTP 127\.0\.0\.1:\d+: AUTH (PLAIN|LOGIN) refused: 535 5\.7\.8 Authentication credentials invalid$/);
    expect(JSON.stringify(result)).not.toContain(wrong);
    expect(JSON.stringify(await toolctl.execution(result.executionId))).not.toContain(wrong);
    expect(smtp.received.length).toBe(received);
  });

  it.each([
    ["a malformed recipient", { ...message, to: "alice@" }, /input to: "alice@" is not an email address/],
    ["a header injection in an address", { ...message, cc: "x@example.com\r\nBcc: victim@example.com" }, /input cc: .* is not an email address/],
    ["a subject on two lines", { ...message, subject: "Hi\r\nBcc: victim@example.com" }, /subject must be one line/],
    ["neither text nor html", { to: "alice@example.com", subject: "Hi" }, /text|html/],
  ])("%s is exit 2 before any connection", async (_name, params, pattern) => {
    const toolctl = await api();
    const connections = smtp.connections;
    const result = await toolctl.run("email.send", params);
    expect(result.exitCode).toBe(2);
    expect(`${result.error!.message}\n${(result.error!.problems ?? []).join("\n")}`).toMatch(pattern);
    expect(smtp.connections).toBe(connections);
  });

  it("a missing secret is exit 2, naming it", async () => {
    const toolctl = await api({ SMTP_USERNAME: smtp.username });
    const connections = smtp.connections;
    const result = await toolctl.run("email.send", message);
    expect(result.exitCode).toBe(2);
    expect(result.error!.message).toContain("SMTP_PASSWORD");
    expect(smtp.connections).toBe(connections);
  });

  it("a timeout after the message was written (DATA) is unknown: exit 5", async () => {
    const toolctl = await api(env(), slowDir);
    smtp.hangAfterData = true;
    try {
      const result = await toolctl.run("email.send", { to: "alice@example.com", subject: "Hi", text: "x" });
      expect(result.exitCode).toBe(5);
      expect(result.status).toBe("unknown");
      expect(result.error!.message).toMatch(/after the message was sent \(DATA\): it may have been accepted/);
      expect(await toolctl.execution(result.executionId)).toMatchObject({ status: "unknown" });
    } finally {
      smtp.hangAfterData = false;
    }
  });

  it("a dry run shows the envelope, headers and size with the username redacted, and connects to nothing", async () => {
    const toolctl = await api();
    const connections = smtp.connections;
    const result = await toolctl.preview("email.send", message);
    expect(result.exitCode).toBe(0);
    expect(result.status).toBe("dry_run");
    expect(result.request).toMatchObject({
      runtime: "email",
      server: `127.0.0.1:${smtp.address.port}`,
      auth: "as [REDACTED]",
      envelope: { from: "notifications@example.com", to: ["alice@example.com", "bob@example.org", "carol@example.net", "audit@example.com"] },
      headers: { From: "toolctl <notifications@example.com>", To: "alice@example.com, bob@example.org", Cc: "carol@example.net", Subject: message.subject },
      bcc: ["audit@example.com"],
    });
    expect(result.request!.sizeBytes).toBeGreaterThan(200);
    expect(result.request!.summary).toMatch(/^sends "Deploy v1\.4\.2 finished ✓" from notifications@example\.com to .* \(\d+ bytes\) through 127\.0\.0\.1:\d+/);
    expect(JSON.stringify(result)).not.toContain(smtp.username);
    expect(JSON.stringify(result)).not.toContain(smtp.password);
    expect(smtp.connections).toBe(connections);
  });
});

describe("long non-ASCII subjects", () => {
  it("are sent as RFC 2047 encoded words, folded into short lines, and decode to the subject given", async () => {
    const toolctl = await api();
    const subject = "Überweisung bestätigt — ".repeat(12).trim();
    const result = await toolctl.run("email.send", { to: "alice@example.com", subject, text: "x" });
    expect(result.exitCode).toBe(0);
    const head = smtp.received.at(-1)!.raw.split("\r\n\r\n")[0]!;
    const lines = head.split("\r\n");
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(78);
    const folded = /^Subject: .*(?:\r\n .*)*/m.exec(head)![0].replace(/\r\n /g, " ").slice("Subject: ".length);
    // RFC 2047: whitespace between two encoded words is not part of the text.
    const decoded = folded
      .replace(/\?=\s+=\?/g, "?==?")
      .replace(/=\?UTF-8\?B\?([^?]*)\?=/g, (_, b64: string) => `\u0000${b64}\u0000`)
      .split("\u0000")
      .map((part, i) => (i % 2 === 1 ? Buffer.from(part, "base64").toString("utf8") : part))
      .join("");
    expect(decoded).toBe(subject);
  });
});

describe("the CLI", () => {
  it("prints a run's JSON with its exit code, and a dry run's one-line summary without the credentials", async () => {
    const toolctl = await api();
    const connections = smtp.connections;
    const json = await runCli(["run", "email.send", "--params", JSON.stringify(message), "--dry-run", "--json"], { home: toolctl.home, env: env() });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: "dry_run", request: { runtime: "email", auth: "as [REDACTED]" } });
    const human = await runCli(["run", "email.send", "--params", JSON.stringify(message), "--dry-run"], { home: toolctl.home, env: env() });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/email: sends "Deploy v1\.4\.2 finished ✓" from notifications@example\.com to .* \(\d+ bytes\) through 127\.0\.0\.1:\d+/);
    for (const text of [json.stdout, human.stdout, human.stderr]) {
      expect(text).not.toContain(smtp.username);
      expect(text).not.toContain(smtp.password);
    }
    expect(smtp.connections).toBe(connections);
  });

  it("exits once the outcome is known, when the server never answers QUIT or closes the connection", async () => {
    const silent = await silentAfterReply("nobody@example.com");
    try {
      const port = (silent.address() as AddressInfo).port;
      // The session's timeout is long: only closing the connection ourselves lets the process end sooner.
      const copy = emailLoopbackCopy(shipped, { address: { host: "127.0.0.1", port } } as FakeSmtp, tempDir("toolctl-email-silent-"), { timeoutSeconds: 60 });
      const home = tempDir("toolctl-email-silent-home-");
      expect((await runCli(["import", copy], { home })).code).toBe(0);
      const send = (to: string) =>
        runCli(["run", "email.send", "--params", JSON.stringify({ to, subject: "Hi", text: "x" }), "--json"], { home, env: env(), timeoutMs: 15_000 });
      const sent = await send("alice@example.com");
      expect(sent.signal).toBeNull();
      expect(sent.code).toBe(0);
      expect(JSON.parse(sent.stdout)).toMatchObject({
        status: "succeeded",
        output: { accepted: ["alice@example.com"], response: "250 2.0.0 Ok: queued as 5ILENT" },
      });
      const refused = await send("nobody@example.com");
      expect(refused.signal).toBeNull();
      expect(refused.code).toBe(1);
      expect(JSON.parse(refused.stdout).error.message).toContain("RCPT TO <nobody@example.com> refused: 550 5.1.1 User unknown");
      expect(silent.sessions).toBe(2);
    } finally {
      silent.close();
    }
  }, 40_000);
});
