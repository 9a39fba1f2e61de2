/**
 * Forms a runner derives from a secret (a Basic header, an SMTP AUTH blob, a webhook signature) are as secret as
 * the secret itself. Real servers on 127.0.0.1 echo them back, in answers and in refusals; then every place
 * toolctl writes to is searched for the secret in any form: as is, URL- or JSON-encoded, or inside base64 or
 * base64url at any alignment, wrapped in lines or not. Usernames of several lengths put the password at each of base64's three alignments.
 * Runs go through the library API in-process; one test runs the built binary and searches what the CLI prints.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redactor } from "../src/secrets/redact.js";
import { emailLoopbackCopy, FakeSmtp } from "./fakes/smtp.js";
import { FakeServer, loopbackCopy, randomId, sendJson, type SeenRequest } from "./fakes/server.js";
import type { Toolctl } from "../src/api/index.js";
import { openApi, repoRoot, runCli, runJson, tempDir, writeFiles } from "./helpers.js";

/** JSON string escapes undone, whichever characters the encoder escaped (`\\u00e4`, `\\u0026`, `\\/`, surrogate pairs). */
function jsonUnescaped(text: string): string {
  return text.replace(/\\(?:u([0-9a-fA-F]{4})|(["\\/]))/g, (_, hex: string | undefined, char: string | undefined) =>
    hex ? String.fromCharCode(parseInt(hex, 16)) : char!,
  );
}

/**
 * Every way `needle` shows in `text`: as is, URL-encoded, JSON-escaped (any escapes), or inside a base64 or base64url
 * run at any alignment, wrapped in lines or not.
 */
function leaksOf(text: string, needle: string): string[] {
  const found = new Set<string>();
  const plain = [needle, encodeURIComponent(needle), new URLSearchParams({ v: needle }).toString().slice(2), JSON.stringify(needle).slice(1, -1)];
  for (const form of plain) if (text.includes(form) || jsonUnescaped(text).includes(form)) found.add(form);
  const bytes = Buffer.from(needle, "utf8");
  // Base64 may itself have been URL-encoded on the way (`%2B`, `%2F`, `%3D`), JSON-escaped (`\/`), written as
  // base64url, or wrapped in lines (raw or JSON-escaped line breaks). Undoing all that can only join runs, and every
  // run is decoded at all four offsets, so one normalised text finds what the raw one holds and more.
  const normalised = jsonUnescaped(
    text
      .replace(/%2B/gi, "+")
      .replace(/%2F/gi, "/")
      .replace(/%3D/gi, "=")
      .replace(/\r?\n|\\r\\n|\\n/g, ""),
  )
    .replace(/-/g, "+")
    .replace(/_/g, "/");
  const texts = [text, normalised];
  for (const t of texts) {
    for (const run of t.match(/[A-Za-z0-9+/]{4,}={0,2}/g) ?? []) {
      for (let skip = 0; skip < 4; skip++) {
        if (Buffer.from(run.slice(skip), "base64").includes(bytes)) found.add(run);
      }
    }
  }
  return [...found];
}

/** Everything toolctl wrote about these runs: their results, the executions, the audit log, its export and the database. */
async function everythingWritten(toolctl: Toolctl, results: Array<{ executionId: string }>): Promise<Record<string, string>> {
  const places: Record<string, string> = { run: JSON.stringify(results) };
  for (const [i, result] of results.entries()) places[`execution ${i}`] = JSON.stringify(await toolctl.execution(result.executionId));
  places.audit = (await toolctl.audit({ limit: 1000 })).map((event) => JSON.stringify(event)).join("\n");
  let exported = "";
  for await (const event of toolctl.auditEvents()) exported += `${JSON.stringify(event)}\n`;
  places["audit export"] = exported;
  places.database = databaseText(toolctl.home);
  return places;
}

/** The registry's bytes, the write-ahead log included. */
function databaseText(home: string): string {
  return ["registry.db", "registry.db-wal"]
    .map((f) => path.join(home, f))
    .filter(existsSync)
    .map((f) => readFileSync(f).toString("latin1"))
    .join("\n");
}

/** Everything the CLI printed about one execution: the run's own output and every later view of it. */
async function everythingPrinted(home: string, runOutput: string, executionId: string, env: Record<string, string>): Promise<Record<string, string>> {
  const show = await runCli(["executions", "show", executionId], { home, env });
  const showJson = await runCli(["executions", "show", executionId, "--json"], { home, env });
  const audit = await runCli(["audit", "--json", "--limit", "1000"], { home, env });
  const exported = await runCli(["audit", "export"], { home, env });
  expect(show.code).toBe(0);
  expect(exported.code).toBe(0);
  return {
    run: runOutput,
    "executions show": show.stdout + show.stderr,
    "executions show --json": showJson.stdout,
    audit: audit.stdout,
    "audit export": exported.stdout,
    database: databaseText(home),
  };
}

function expectNoLeak(places: Record<string, string>, needles: Record<string, string>): void {
  const leaks: string[] = [];
  for (const [where, text] of Object.entries(places)) {
    for (const [what, needle] of Object.entries(needles)) {
      for (const form of leaksOf(text, needle)) leaks.push(`${what} in ${where}: ${form}`);
    }
  }
  expect(leaks).toEqual([]);
}

describe("the leak check itself", () => {
  it("finds a secret inside base64 at every alignment, and URL-encoded base64", () => {
    for (const prefix of ["a:", "ab:", "abc:"]) {
      const blob = Buffer.from(`${prefix}s3cret-value-here`).toString("base64");
      expect(leaksOf(`Authorization: Basic ${blob}`, "s3cret-value-here")).not.toEqual([]);
      expect(leaksOf(`x=${encodeURIComponent(blob)}`, "s3cret-value-here")).not.toEqual([]);
    }
    expect(leaksOf("Basic [REDACTED]", "s3cret-value-here")).toEqual([]);
  });

  it("finds wrapped base64, base64url and JSON \\u escapes", () => {
    const secret = "s3cret-välue-here?>~";
    const blob = Buffer.from(`ab:${secret}`).toString("base64");
    expect(leaksOf(`${blob.slice(0, 9)}\r\n${blob.slice(9)}`, secret)).not.toEqual([]);
    expect(leaksOf(`${blob.slice(0, 9)}\\n${blob.slice(9)}`, secret)).not.toEqual([]);
    expect(leaksOf(Buffer.from(`ab:${secret}`).toString("base64url"), secret)).not.toEqual([]);
    expect(leaksOf(String.raw`s3cret-v\u00E4lue-here?\u003e~`, secret)).not.toEqual([]);
  });
});

describe("the redactor scrubs base64 of a secret at any alignment", () => {
  it.each([0, 1, 2, 3, 4, 5])("with %i bytes before it and a few after", (before) => {
    const secret = `pw-${randomId(21)}`;
    const redactor = new Redactor();
    redactor.add(secret);
    for (const after of ["", "x", "xy", "xyz"]) {
      const blob = Buffer.from(`${"u".repeat(before)}${secret}${after}`).toString("base64");
      const scrubbed = redactor.text(`token ${blob} end`);
      expect(scrubbed).toContain("[REDACTED]");
      expect(leaksOf(scrubbed, secret)).toEqual([]);
    }
  });

  it("leaves other base64 alone", () => {
    const redactor = new Redactor();
    redactor.add(`pw-${randomId(21)}`);
    const other = Buffer.from(`nothing to see ${randomId(30)}`).toString("base64");
    expect(redactor.text(other)).toBe(other);
  });
});

describe("the redactor scrubs every URL encoding of a secret", () => {
  it("encodeURI, upper- or lower-case escapes, / kept as Python's quote and Go's PathEscape do, + for space", () => {
    const secret = 'wJalrXUtn FEMI/K7MDENG+bPx?[e]$^|\\"q~é';
    const redactor = new Redactor();
    redactor.add(secret);
    const forms = [
      encodeURI(secret),
      encodeURIComponent(secret),
      encodeURIComponent(secret).replace(/%2F/g, "/"),
      encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()),
      new URLSearchParams({ v: secret }).toString().slice(2),
      encodeURIComponent(secret).replace(/%20/g, "+"),
    ];
    for (const form of forms) {
      const scrubbed = redactor.text(`error: invalid key: ${form} (try again)`);
      expect(scrubbed, form).toBe("error: invalid key: [REDACTED] (try again)");
    }
    // Text that only shares the secret's letters is left alone.
    expect(redactor.text("wJalrXUtn")).toBe("wJalrXUtn");
  });
});

/** `blob` cut into lines of `width` characters, as GNU base64 (76), MIME (76) and PEM (64) write it. */
function wrapped(blob: string, width: number, eol: string): string {
  return (blob.match(new RegExp(`.{1,${width}}`, "g")) ?? []).join(eol) + eol;
}

describe("the redactor scrubs wrapped base64 of a secret", () => {
  const secret = `wrapped-${randomId(82)}`; // 90 characters: 120 of base64, two lines at 76 columns, two at 64
  it.each([
    ["GNU base64 / MIME, 76 columns, \\n", 76, "\n"],
    ["MIME, 76 columns, \\r\\n", 76, "\r\n"],
    ["PEM, 64 columns, \\n", 64, "\n"],
    ["PEM, 64 columns, \\r\\n", 64, "\r\n"],
    ["odd width, JSON-escaped \\n", 10, "\\n"],
  ] as const)("%s, alone and at every alignment inside a longer blob", (_, width, eol) => {
    const redactor = new Redactor();
    redactor.add(secret);
    for (const before of ["", "u", "uu", `-----${randomId(40)}`]) {
      for (const after of ["", "x", "xy", randomId(50)]) {
        const text = `key:${eol}${wrapped(Buffer.from(`${before}${secret}${after}`).toString("base64"), width, eol)}end`;
        const scrubbed = redactor.text(text);
        expect(scrubbed).toContain("[REDACTED]");
        expect(leaksOf(scrubbed, secret), JSON.stringify({ before, after })).toEqual([]);
      }
    }
  });

  it("keeps the lines around the secret and other base64 alone", () => {
    const redactor = new Redactor();
    redactor.add(secret);
    const other = wrapped(Buffer.from(`nothing to see ${randomId(200)}`).toString("base64"), 76, "\n");
    expect(redactor.text(other)).toBe(other);
    const text = `before\n${wrapped(Buffer.from(secret).toString("base64"), 76, "\n")}after\n`;
    expect(redactor.text(text)).toBe("before\n[REDACTED]\nafter\n");
  });
});

describe("the redactor scrubs base64url of a secret", () => {
  it.each([0, 1, 2])("with or without padding, alone and with %i bytes before it inside a longer blob", (before) => {
    const secret = `pw~?>${randomId(21)}`; // `?` and `>` put - and _ into the encoding at every alignment
    const redactor = new Redactor();
    redactor.add(secret);
    for (const after of ["", "x", "xy", "xyz"]) {
      const url = Buffer.from(`${"u".repeat(before)}${secret}${after}`).toString("base64url");
      expect(url).toMatch(/[-_]/);
      for (const form of [url, url.padEnd(Math.ceil(url.length / 4) * 4, "="), wrapped(url, 64, "\n")]) {
        const scrubbed = redactor.text(`token=${form}&end`);
        expect(scrubbed, form).toContain("[REDACTED]");
        expect(leaksOf(scrubbed, secret), form).toEqual([]);
      }
    }
  });

  it("does not redact a short secret's unpadded encoding any more than before", () => {
    const redactor = new Redactor();
    redactor.add("ab");
    // "YWI=" (padded) was always redacted; "YWI" alone is too short to tell from chance.
    expect(redactor.text("YWI= YWI-x")).toBe("[REDACTED] YWI-x");
  });
});

describe("the redactor scrubs a secret in any JSON encoding", () => {
  it("\\u escapes in either case (Python's ensure_ascii, Go's HTML escaping, .NET), \\/ and surrogate pairs", () => {
    const cases: Array<[string, string[]]> = [
      ['pä55wörd-XYZ"q', [String.raw`p\u00e455w\u00f6rd-XYZ\"q`, String.raw`p\u00E455w\u00F6rd-XYZ\u0022q`]],
      ["tok&en<x>y-1234", [String.raw`tok\u0026en\u003cx\u003ey-1234`, String.raw`tok\u0026en\u003Cx\u003Ey-1234`]],
      ["emoji😀-secret/9", [String.raw`emoji\ud83d\ude00-secret\/9`, String.raw`emoji\uD83D\uDE00-secret\u002f9`]],
    ];
    for (const [secret, forms] of cases) {
      const redactor = new Redactor();
      redactor.add(secret);
      for (const form of forms) {
        expect(redactor.text(`{"error":"bad key \"${form}\""}`), form).toBe(`{"error":"bad key \"[REDACTED]\""}`);
      }
    }
  });

  it("leaves escapes of other text alone", () => {
    const redactor = new Redactor();
    redactor.add('pä55wörd-XYZ"q');
    const text = String.raw`{"a":"p\u00e455w\u00f6rd-XYZ","b":"\u00e4\u00f6"}`;
    expect(redactor.text(text)).toBe(text);
  });
});

describe("http Basic auth: a server that echoes the Authorization header", () => {
  let server: FakeServer;
  beforeAll(async () => {
    server = await new FakeServer((req: SeenRequest, res) => {
      const auth = String(req.headers.authorization ?? "");
      const token = auth.replace(/^Basic /, "");
      const echo = { echo: auth, again: encodeURIComponent(token), decoded: Buffer.from(token, "base64").toString("utf8") };
      if (req.url.startsWith("/denied")) return sendJson(res, 401, { error: { message: `bad credentials: ${auth} (${echo.again})` } });
      sendJson(res, 200, echo);
    }).start();
  });
  afterAll(() => server.close());

  const manifest = (username: string) => `apiVersion: toolctl/v1
name: basic
description: Basic auth against an echoing server
runtime: http
baseUrl: ${server.url}
http: { allowPlainHttp: true, allowPrivateNetworks: ["127.0.0.0/8"] }
auth: { type: basic, username: "${username}", secret: BASIC_PASSWORD }
actions:
  whoami: { description: Echoes the header, kind: read, request: { method: GET, path: /whoami } }
  denied: { description: Refuses and echoes, kind: read, request: { method: GET, path: /denied } }
`;

  // The password lands at offset len(username) + 1 of "username:password": every alignment is covered.
  it.each([["u"], ["us"], ["usr"], ["user"], ["{{ secrets.BASIC_USER }}"]])(
    "username %s: nothing derived from the password is written anywhere",
    async (username) => {
      const password = `pw-${randomId(24)}`;
      const user = username.startsWith("{{") ? `acct-${randomId(7)}` : username;
      const toolctl = await openApi({ env: { BASIC_PASSWORD: password, BASIC_USER: user } });
      expect((await toolctl.importManifests([writeFiles({ "basic.yaml": manifest(username) })])).failed).toEqual([]);

      const ok = await toolctl.run("basic.whoami");
      expect(ok.exitCode).toBe(0);
      // The server did see (and echo) the real header: the scrubbing below is not vacuous.
      expect(server.requests.at(-1)!.headers.authorization).toBe(`Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`);
      expect(ok.output).toMatchObject({ echo: "Basic [REDACTED]", again: "[REDACTED]" });
      const denied = await toolctl.run("basic.denied");
      expect(denied.exitCode).toBe(1);
      expect(denied.error?.message).toMatch(/^HTTP 401: bad credentials: Basic \[REDACTED\] \(\[REDACTED\]\)$/);

      const places = await everythingWritten(toolctl, [ok, denied]);
      const needles: Record<string, string> = { password, "user:password": `${user}:${password}` };
      if (username.startsWith("{{")) needles.username = user;
      expectNoLeak(places, needles);
    },
  );

  it("the CLI prints no form of the password: the run, its refusal, executions show, the audit log and its export", async () => {
    const password = `pw-${randomId(24)}`;
    const env = { BASIC_PASSWORD: password };
    const home = tempDir("toolctl-basic-");
    expect((await runCli(["import", writeFiles({ "basic.yaml": manifest("us") })], { home })).code).toBe(0);

    const ok = await runJson(["run", "basic.whoami"], { home, env });
    expect(ok.code).toBe(0);
    expect(server.requests.at(-1)!.headers.authorization).toBe(`Basic ${Buffer.from(`us:${password}`).toString("base64")}`);
    expect(ok.json.output.echo).toBe("Basic [REDACTED]");
    const human = await runCli(["run", "basic.whoami"], { home, env });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain("Basic [REDACTED]");
    const denied = await runJson(["run", "basic.denied"], { home, env });
    expect(denied.code).toBe(1);
    const deniedHuman = await runCli(["run", "basic.denied"], { home, env });
    expect(deniedHuman.code).toBe(1);
    expect(deniedHuman.stderr).toContain("error: HTTP 401: bad credentials: Basic [REDACTED] ([REDACTED])");

    const places = await everythingPrinted(home, ok.stdout + human.stdout + human.stderr + denied.stdout + deniedHuman.stderr, ok.json.executionId, env);
    places["executions show (refused)"] = (await runCli(["executions", "show", denied.json.executionId], { home, env })).stdout;
    expectNoLeak(places, { password, "user:password": `us:${password}` });
  });
});

describe("SMTP AUTH: a server that echoes what the client sent at AUTH", () => {
  const shipped = path.join(repoRoot, "manifests", "email.yaml");
  const message = { to: "alice@example.com", subject: "Hi", text: "x" };

  // PLAIN sends base64("\0user\0pass"): the password is at offset len(user) + 2. (Usernames are long enough
  // that finding one by chance in a base64 run is out of the question.)
  it.each([
    ["PLAIN", 8],
    ["PLAIN", 9],
    ["PLAIN", 10],
    ["PLAIN", 11],
    ["LOGIN", 10],
    ["CRAM-MD5", 11],
  ] as const)("%s with a %i-character username: no form of the credentials is written anywhere", async (method, length) => {
    const username = `u-${randomId(length - 2)}`;
    const smtp = await new FakeSmtp({ username, authMethods: [method], echoAuth: true }).start();
    try {
      const dir = path.dirname(emailLoopbackCopy(shipped, smtp, tempDir("toolctl-smtp-echo-manifest-")));
      const env = { SMTP_USERNAME: smtp.username, SMTP_PASSWORD: smtp.password };
      const toolctl = await openApi({ env });
      expect((await toolctl.importManifests([dir])).failed).toEqual([]);

      const sent = await toolctl.run("email.send", message);
      expect(sent.exitCode).toBe(0);
      // The server repeated the AUTH data in its final reply; toolctl shows the reply with that part scrubbed.
      expect((sent.output as { response: string }).response).toMatch(/^250 .*\(authenticated with \[REDACTED\]( \[REDACTED\])?\)$/);

      const wrong = `pw-wrong-${randomId(20)}`;
      // The same home, opened where the environment holds a wrong password.
      const wrongPassword = await openApi({ home: toolctl.home, env: { ...env, SMTP_PASSWORD: wrong } });
      const refused = await wrongPassword.run("email.send", message);
      expect(refused.exitCode).toBe(1);
      expect(refused.error?.category).toBe("authentication");
      expect(refused.error?.message).toMatch(
        new RegExp(
          `^SMTP 127\\.0\\.0\\.1:\\d+: AUTH ${method} refused: 535 5\\.7\\.8 Authentication credentials invalid \\(got \\[REDACTED\\]( \\[REDACTED\\])?\\)$`,
        ),
      );
      const again = await wrongPassword.run("email.send", message);
      expect(again.exitCode).toBe(1);

      const places = await everythingWritten(toolctl, [sent, refused, again]);
      const needles: Record<string, string> = { username: smtp.username, password: smtp.password, "wrong password": wrong };
      smtp.cramResponses.forEach((hex, i) => (needles[`CRAM-MD5 answer ${i}`] = hex));
      if (method === "CRAM-MD5") expect(smtp.cramResponses).toHaveLength(3);
      expectNoLeak(places, needles);
    } finally {
      await smtp.close();
    }
  });
});

describe("signed webhooks: a receiver that echoes the signature", () => {
  let server: FakeServer;
  let dir: string;
  beforeAll(async () => {
    server = await new FakeServer((req, res) => {
      const signature = String(req.headers["x-toolctl-signature"]);
      if (req.body.includes("refuse")) return sendJson(res, 400, { error: "bad_payload", message: `refused payload signed ${signature}` });
      sendJson(res, 200, { echo: signature, hex: signature.replace(/^sha256=/, "") });
    }).start();
    dir = path.dirname(loopbackCopy(path.join(repoRoot, "manifests", "webhook.yaml"), server.url, tempDir("toolctl-sig-echo-manifest-")));
  });
  afterAll(() => server.close());

  it("no signature sent is written anywhere, in an answer or a refusal", async () => {
    const env = { WEBHOOK_SECRET: `whsec_${randomId(32)}` };
    const toolctl = await openApi({ env });
    expect((await toolctl.importManifests([dir])).failed).toEqual([]);
    const ok = await toolctl.run("webhook.post", { payload: { event: "a" } });
    expect(ok.exitCode).toBe(0);
    expect(ok.output).toEqual({ echo: "[REDACTED]", hex: "[REDACTED]" });
    const refused = await toolctl.run("webhook.post", { payload: { event: "refuse" } });
    expect(refused.exitCode).toBe(1);
    expect(refused.error?.message).toBe("HTTP 400: bad_payload: refused payload signed [REDACTED]");
    const signatures = server.requests.map((r) => String(r.headers["x-toolctl-signature"]));
    expect(signatures).toHaveLength(2);
    const places = await everythingWritten(toolctl, [ok, refused]);
    expectNoLeak(places, { secret: env.WEBHOOK_SECRET, ...Object.fromEntries(signatures.map((s, i) => [`signature ${i}`, s.replace(/^sha256=/, "")])) });
  });
});
