/**
 * manifests/email.yaml end to end: the built binary sends through a real SMTP server on 127.0.0.1
 * (smtp-server, test/fakes/smtp.ts) with AUTH, and reports SMTP's own answers.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { emailLoopbackCopy, FakeSmtp } from "./fakes/smtp.js";
import { repoRoot, runCli, runJson, tempDir } from "./helpers.js";

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

async function home(from = dir): Promise<string> {
  const h = tempDir("toolctl-email-");
  const imported = await runCli(["import", from], { home: h });
  expect(imported.stderr).toBe("");
  expect(imported.code).toBe(0);
  return h;
}

const env = (password = smtp.password) => ({ SMTP_USERNAME: smtp.username, SMTP_PASSWORD: password });
const message = { to: ["alice@example.com", "bob@example.org"], cc: "carol@example.net", bcc: "audit@example.com", subject: "Deploy v1.4.2 finished ✓", text: "All green.\nSee you." };

describe("manifests/email.yaml as shipped", () => {
  it("requires STARTTLS, names both secrets, and is free, not idempotent and irreversible", async () => {
    const manifest = parse(readFileSync(shipped, "utf8"));
    expect(manifest.email).toMatchObject({ tls: "starttls", port: 587 });
    expect(manifest.email.allowPlainSmtp).toBeUndefined();
    const h = tempDir("toolctl-email-shipped-");
    expect((await runCli(["import", shipped], { home: h })).code).toBe(0);
    const shown = await runJson(["show", "email.send"], { home: h });
    expect(shown.json.tool.secrets.map((s: { name: string }) => s.name)).toEqual(["SMTP_PASSWORD", "SMTP_USERNAME"]);
    expect(shown.json.action).toMatchObject({ kind: "create", idempotent: false, cost: { fixed: 0 }, rollback: "irreversible" });
  });

  it("a server without STARTTLS is refused before any credential is sent: exit 1", async () => {
    const strictDir = path.dirname(emailLoopbackCopy(shipped, smtp, tempDir("toolctl-email-strict-"), { allowPlainSmtp: false }));
    const h = await home(strictDir);
    const received = smtp.received.length;
    const result = await runJson(["run", "email.send", "--params", JSON.stringify(message)], { home: h, env: env() });
    expect(result.code).toBe(1);
    expect(result.json.error.message).toMatch(/STARTTLS/);
    expect(smtp.received.length).toBe(received);
  });
});

describe("email.send against a real SMTP server", () => {
  it("authenticates, sends the exact message it planned, and returns the Message-ID", async () => {
    const h = await home();
    const before = smtp.received.length;
    const result = await runJson(["run", "email.send", "--params", JSON.stringify(message)], { home: h, env: env() });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.json).toMatchObject({ status: "succeeded", cost: { usd: 0 }, approval: { required: false } });
    const id = result.json.executionId as string;
    expect(result.json.output).toMatchObject({
      messageId: `<${id}@example.com>`, accepted: ["alice@example.com", "bob@example.org", "carol@example.net", "audit@example.com"], rejected: [],
    });
    expect(result.json.output.response).toMatch(/^250 2\.0\.0 Ok: queued as/);
    expect(smtp.received.length).toBe(before + 1);
    const mail = smtp.received.at(-1)!;
    expect(mail).toMatchObject({ from: "notifications@example.com", to: ["alice@example.com", "bob@example.org", "carol@example.net", "audit@example.com"], user: smtp.username });
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
    expect(Buffer.byteLength(mail.raw)).toBe(result.json.plan.sizeBytes);
    expect(result.stdout).not.toContain(smtp.password);
  });

  it("sends text and html as multipart/alternative", async () => {
    const h = await home();
    const result = await runJson(["run", "email.send", "--params", JSON.stringify({ to: "alice@example.com", subject: "Hi", text: "plain", html: "<p>rich</p>" })], { home: h, env: env() });
    expect(result.code).toBe(0);
    const raw = smtp.received.at(-1)!.raw;
    expect(raw).toMatch(/Content-Type: multipart\/alternative; boundary="----toolctl-/);
    expect(raw).toContain("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\nplain\r\n");
    expect(raw).toContain("Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n<p>rich</p>\r\n");
  });

  it("a recipient the server refuses (550) is exit 1 with the server's words, and no message is sent", async () => {
    const h = await home();
    smtp.unknownRecipients.add("nobody@example.com");
    const data = smtp.dataCommands;
    try {
      const result = await runJson(["run", "email.send", "--params", JSON.stringify({ to: "nobody@example.com", subject: "Hi", text: "x" })], { home: h, env: env() });
      expect(result.code).toBe(1);
      expect(result.json.status).toBe("failed");
      expect(result.json.error.category).toBe("validation");
      expect(result.json.error.message).toBe(
        `SMTP 127.0.0.1:${smtp.address.port}: RCPT TO <nobody@example.com> refused: 550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox table`,
      );
      expect(smtp.dataCommands).toBe(data);
    } finally {
      smtp.unknownRecipients.clear();
    }
  });

  it("bad credentials are the server's 535: exit 1, authentication, the password never printed", async () => {
    const h = await home();
    const wrong = "pw-wrong-0123456789";
    const received = smtp.received.length;
    const result = await runJson(["run", "email.send", "--params", JSON.stringify(message)], { home: h, env: env(wrong) });
    expect(result.code).toBe(1);
    expect(result.json.error.category).toBe("authentication");
    expect(result.json.error.message).toMatch(/^SMTP 127\.0\.0\.1:\d+: AUTH (PLAIN|LOGIN) refused: 535 5\.7\.8 Authentication credentials invalid$/);
    expect(result.stdout).not.toContain(wrong);
    expect(smtp.received.length).toBe(received);
  });

  it.each([
    ["a malformed recipient", { ...message, to: "alice@" }, /input to: "alice@" is not an email address/],
    ["a header injection in an address", { ...message, cc: "x@example.com\r\nBcc: victim@example.com" }, /input cc: .* is not an email address/],
    ["a subject on two lines", { ...message, subject: "Hi\r\nBcc: victim@example.com" }, /subject must be one line/],
    ["neither text nor html", { to: "alice@example.com", subject: "Hi" }, /text|html/],
  ])("%s is exit 2 before any connection", async (_name, params, pattern) => {
    const h = await home();
    const connections = smtp.connections;
    const result = await runJson(["run", "email.send", "--params", JSON.stringify(params)], { home: h, env: env() });
    expect(result.code).toBe(2);
    expect(`${result.json.error.message}\n${(result.json.error.problems ?? []).join("\n")}`).toMatch(pattern);
    expect(smtp.connections).toBe(connections);
  });

  it("a missing secret is exit 2, naming it", async () => {
    const h = await home();
    const connections = smtp.connections;
    const result = await runJson(["run", "email.send", "--params", JSON.stringify(message)], { home: h, env: { SMTP_USERNAME: smtp.username } });
    expect(result.code).toBe(2);
    expect(result.json.error.message).toContain("SMTP_PASSWORD");
    expect(smtp.connections).toBe(connections);
  });

  it("a timeout after the message was written (DATA) is unknown: exit 5", async () => {
    const h = await home(slowDir);
    smtp.hangAfterData = true;
    try {
      const result = await runJson(["run", "email.send", "--params", JSON.stringify({ to: "alice@example.com", subject: "Hi", text: "x" })], { home: h, env: env() });
      expect(result.code).toBe(5);
      expect(result.json.status).toBe("unknown");
      expect(result.json.error.message).toMatch(/after the message was sent \(DATA\): it may have been accepted/);
    } finally {
      smtp.hangAfterData = false;
    }
  });

  it("a dry run shows the envelope, headers and size with the username redacted, and connects to nothing", async () => {
    const h = await home();
    const connections = smtp.connections;
    const result = await runJson(["run", "email.send", "--params", JSON.stringify(message), "--dry-run"], { home: h, env: env() });
    expect(result.code).toBe(0);
    expect(result.json.plan).toMatchObject({
      runtime: "email", server: `127.0.0.1:${smtp.address.port}`, auth: "as [REDACTED]",
      envelope: { from: "notifications@example.com", to: ["alice@example.com", "bob@example.org", "carol@example.net", "audit@example.com"] },
      headers: { From: "toolctl <notifications@example.com>", To: "alice@example.com, bob@example.org", Cc: "carol@example.net", Subject: message.subject },
      bcc: ["audit@example.com"],
    });
    expect(result.json.plan.sizeBytes).toBeGreaterThan(200);
    expect(result.stdout).not.toContain(smtp.username);
    expect(result.stdout).not.toContain(smtp.password);
    const human = await runCli(["run", "email.send", "--params", JSON.stringify(message), "--dry-run"], { home: h, env: env() });
    expect(human.stdout).toMatch(/email: sends "Deploy v1\.4\.2 finished ✓" from notifications@example\.com to .* \(\d+ bytes\) through 127\.0\.0\.1:\d+/);
    expect(smtp.connections).toBe(connections);
  });
});

describe("long non-ASCII subjects", () => {
  it("are sent as RFC 2047 encoded words, folded into short lines, and decode to the subject given", async () => {
    const h = await home();
    const subject = "Überweisung bestätigt — ".repeat(12).trim();
    const result = await runJson(["run", "email.send", "--params", JSON.stringify({ to: "alice@example.com", subject, text: "x" })], { home: h, env: env() });
    expect(result.code).toBe(0);
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
