// Real sockets on loopback only (the OpenWA real-connection pattern, reliability.md §1.3). A connect guard below
// makes any attempt to reach a non-loopback address throw, so public-looking answers can only ever be refused.
import http from "node:http";
import net from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { PolicyError } from "../src/errors.js";
import { HttpTransportError, sendHttp, type LookupFn } from "../src/net/client.js";
import type { OutboundPolicy } from "../src/net/outbound-policy.js";

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}
interface TestServer {
  port: number;
  host: string;
  connections: number;
  requests: Seen[];
  base: string;
  close(): Promise<void>;
}

const servers: TestServer[] = [];
async function startServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, seen: Seen) => void,
  host = "127.0.0.1",
  port = 0,
): Promise<TestServer> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const seen = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString() };
      ts.requests.push(seen);
      handler(req, res, seen);
    });
  });
  const ts: TestServer = {
    port: 0,
    host,
    connections: 0,
    requests: [],
    base: "",
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  server.on("connection", () => {
    ts.connections++;
  });
  await new Promise<void>((r) => server.listen(port, host, r));
  ts.port = (server.address() as net.AddressInfo).port;
  ts.base = `http://${host}:${ts.port}`;
  servers.push(ts);
  return ts;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

// --- Connect guard: refuse any socket to a non-loopback address, whether the address is literal or pinned.
const connectTargets: string[] = [];
const isLoopback = (a: string) => /^127\./.test(a) || a === "::1" || a === "::ffff:127.0.0.1";
beforeAll(() => {
  const real = net.Socket.prototype.connect;
  vi.spyOn(net.Socket.prototype, "connect").mockImplementation(function (this: net.Socket, ...args: unknown[]) {
    const opts = (Array.isArray(args[0]) ? args[0][0] : args[0]) as net.TcpNetConnectOpts;
    const host = opts.host ?? "localhost";
    if (net.isIP(host)) {
      if (!isLoopback(host)) throw new Error(`test guard: connect to ${host}`);
      connectTargets.push(host);
    } else {
      const inner = opts.lookup;
      if (!inner) throw new Error(`test guard: unpinned connect to ${host}`);
      opts.lookup = ((h: string, o: object, cb: (...a: unknown[]) => void) =>
        inner(
          h,
          o as never,
          ((err: unknown, address: unknown, family: unknown) => {
            const list = Array.isArray(address) ? address.map((x: { address: string }) => x.address) : [address as string];
            const bad = list.find((a) => !isLoopback(a));
            if (!err && bad) return cb(new Error(`test guard: pinned connect to ${bad}`));
            connectTargets.push(...list);
            return cb(err, address, family);
          }) as never,
        )) as never;
    }
    return real.apply(this, args as never);
  } as typeof net.Socket.prototype.connect);
});
afterAll(() => {
  vi.restoreAllMocks();
  expect(connectTargets.every(isLoopback)).toBe(true);
});

// A private address is reached only at a listed origin: the servers this test has started so far are listed.
const local = (extra: Partial<OutboundPolicy> = {}): OutboundPolicy => ({
  allowPlainHttp: true,
  allowedHosts: ["127.0.0.1", ...servers.map((s) => s.base)],
  allowPrivate: ["127.0.0.1/32"],
  ...extra,
});
const stub = (answers: Record<string, string[] | string[][]>): LookupFn & { calls: string[] } => {
  const calls: string[] = [];
  const fn = async (host: string) => {
    calls.push(host);
    const entry = answers[host];
    if (!entry) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
    // A list of lists is a sequence of answers, one per query (TTL 0 rebinding); the last one repeats.
    const seq = Array.isArray(entry[0]) ? (entry as string[][]) : [entry as string[]];
    const list = seq[Math.min(calls.filter((c) => c === host).length - 1, seq.length - 1)]!;
    return list.map((address) => ({ address, family: (address.includes(":") ? 6 : 4) as 4 | 6 }));
  };
  return Object.assign(fn, { calls });
};
const get = (url: string, extra: Partial<Parameters<typeof sendHttp>[0]> = {}) => ({ method: "GET", url, headers: {}, timeoutMs: 5000, ...extra });
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a rejection");
}
const echo = (_req: http.IncomingMessage, res: http.ServerResponse, seen: Seen) => {
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify(seen));
};

describe("sendHttp: direct requests", () => {
  it("sends one request to an allowed loopback server", async () => {
    const s = await startServer(echo);
    let sent = 0;
    const res = await sendHttp({ method: "post", url: `${s.base}/hello?x=1`, headers: { "x-a": "1" }, body: "hello", timeoutMs: 5000 }, local(), {
      onSent: () => sent++,
    });
    const seen = JSON.parse(res.body.toString()) as Seen;
    expect(res.status).toBe(200);
    expect(seen.method).toBe("POST");
    expect(seen.body).toBe("hello");
    expect(seen.headers).toEqual({ host: `127.0.0.1:${s.port}`, connection: "close", "content-length": "5", "user-agent": "toolctl", "x-a": "1" });
    expect(res.headers["content-type"]).toBe("application/json");
    expect(res).toMatchObject({ url: `${s.base}/hello?x=1`, redirects: [], remoteAddress: "127.0.0.1" });
    expect(sent).toBe(1);
  });

  it("keeps a caller user-agent and drops a caller Host", async () => {
    const s = await startServer(echo);
    const res = await sendHttp(get(s.base, { headers: { "User-Agent": "me", Host: "internal.svc" } }), local());
    const seen = JSON.parse(res.body.toString()) as Seen;
    expect(seen.headers["user-agent"]).toBe("me");
    expect(seen.headers.host).toBe(`127.0.0.1:${s.port}`);
  });

  it("rejects a header with CR/LF before connecting (no header injection)", async () => {
    const s = await startServer(echo);
    const err = await rejection(sendHttp(get(s.base, { headers: { "x-a": "1\r\nx-injected: 1" } }), local()));
    expect((err as NodeJS.ErrnoException).code).toBe("ERR_INVALID_CHAR");
    expect(s.connections).toBe(0);
  });

  it("refuses a loopback literal when private addresses are not allowed: 0 connections", async () => {
    const s = await startServer(echo);
    for (const url of [s.base, `http://0x7f.1:${s.port}/`, `http://2130706433:${s.port}/`]) {
      const err = await rejection(sendHttp(get(url), local({ allowPrivate: false })));
      expect(err).toBeInstanceOf(PolicyError);
      expect((err as PolicyError).code).toBe("url_blocked");
    }
    expect(s.connections).toBe(0);
  });

  it("refuses plain http when not allowed, and a pre-aborted signal, before connecting", async () => {
    const s = await startServer(echo);
    expect(await rejection(sendHttp(get(s.base), local({ allowPlainHttp: false })))).toBeInstanceOf(PolicyError);
    const ac = new AbortController();
    ac.abort();
    const err = await rejection(sendHttp(get(s.base), local(), { signal: ac.signal }));
    expect(err.name).toBe("AbortError");
    expect((err as Error & { mayHaveBeenSent: boolean }).mayHaveBeenSent).toBe(false);
    expect(s.connections).toBe(0);
  });
});

describe("sendHttp: DNS checks and pinning", () => {
  it("refuses a hostname that resolves to loopback; pins it when allowed", async () => {
    const s = await startServer(echo);
    const lookup = stub({ "svc.test": ["127.0.0.1"] });
    const policy = local({ allowedHosts: ["svc.test", `http://svc.test:${s.port}`], allowPrivate: false });
    const err = await rejection(sendHttp(get(`http://svc.test:${s.port}/`), policy, { lookup }));
    expect(err.message).toMatch(/svc\.test resolves to 127\.0\.0\.1, which is not allowed \(loopback\)/);
    expect(s.connections).toBe(0);
    // "svc.test" exists in no real DNS: reaching the server proves the socket used the vetted answer.
    const res = await sendHttp(get(`http://svc.test:${s.port}/`), { ...policy, allowPrivate: ["127.0.0.0/8"] }, { lookup });
    expect((JSON.parse(res.body.toString()) as Seen).headers.host).toBe(`svc.test:${s.port}`);
    expect(lookup.calls).toEqual(["svc.test", "svc.test"]);
  });

  it.each([
    [["::ffff:127.0.0.1"]],
    [["93.184.216.34", "127.0.0.1"]],
    [["127.0.0.1", "93.184.216.34"]],
    [["2606:2800:220:1:248:1893:25c8:1946", "::1"]],
    [["93.184.216.34", "169.254.169.254"]],
    [["64:ff9b::7f00:1"]],
  ])("refuses the whole answer set %j", async (answers) => {
    const s = await startServer(echo);
    const lookup = stub({ "mixed.test": answers });
    const err = await rejection(sendHttp(get(`http://mixed.test:${s.port}/`), local({ allowedHosts: ["mixed.test"], allowPrivate: false }), { lookup }));
    expect(err).toBeInstanceOf(PolicyError);
    expect(s.connections).toBe(0);
  });

  it.each([
    [["64:ff9b::a9fe:a9fe"]],
    [["2002:a9fe:a9fe::1"]],
    [["::ffff:0:a9fe:a9fe"]],
    [["::a9fe:a9fe"]],
    [["127.0.0.1", "64:ff9b::6464:64c8"]],
    [["2001:0:4136:e378:8000:63bf:5601:5601"]],
    [["fd00::5efe:a9fe:a9fe"]],
  ])("with allowPrivate true, refuses metadata carried in an IPv6 answer %j", async (answers) => {
    const s = await startServer(echo);
    const lookup = stub({ "embedded.test": answers });
    const policy = local({ allowedHosts: ["embedded.test", `http://embedded.test:${s.port}`], allowPrivate: true });
    const err = await rejection(sendHttp(get(`http://embedded.test:${s.port}/`), policy, { lookup }));
    expect(err).toBeInstanceOf(PolicyError);
    expect(err.message).toMatch(/which is not allowed \([A-Za-z0-9 ]+ of (169\.254\.169\.254|100\.100\.100\.200): (linkLocal|cloud metadata)\)/);
    expect(s.connections).toBe(0);
  });

  it("a name that resolves to a private address is reached only at a listed origin, also after a redirect", async () => {
    const b = await startServer(echo);
    const a = await startServer((_q, res) => {
      res.writeHead(302, { location: `http://svc.test:${b.port}/` }).end();
    });
    const lookup = stub({ "svc.test": ["127.0.0.1"] });
    for (const allowPrivate of [true, ["127.0.0.0/8"]]) {
      const policy: OutboundPolicy = { allowPlainHttp: true, allowedHosts: ["svc.test", `http://svc.test:${a.port}`], allowPrivate };
      const err = await rejection(sendHttp(get(`http://svc.test:${a.port}/`), policy, { lookup }));
      expect(err).toBeInstanceOf(PolicyError);
      expect(err.message).toBe(
        `URL blocked: svc.test resolves to 127.0.0.1, which is loopback, reached only at the origins the tool lists (http://svc.test:${a.port}), not http://svc.test:${b.port}: http://svc.test:${b.port}/ (redirect)`,
      );
    }
    expect([a.requests.length, b.connections]).toEqual([2, 0]);
  });

  it("DNS rebinding: the connection uses only the vetted first answer", async () => {
    const vetted = await startServer(echo, "127.0.0.2");
    const canary = await startServer(echo, "127.0.0.1", vetted.port);
    const lookup = stub({ "rebind.test": [["127.0.0.2"], ["127.0.0.1"]] });
    const policy = local({ allowedHosts: ["rebind.test", `http://rebind.test:${vetted.port}`], allowPrivate: ["127.0.0.2/32"] });
    const res = await sendHttp(get(`http://rebind.test:${vetted.port}/`), policy, { lookup });
    expect(res.remoteAddress).toBe("127.0.0.2");
    expect(lookup.calls).toHaveLength(1);
    expect([vetted.connections, canary.connections]).toEqual([1, 0]);
    expect(connectTargets).toContain("127.0.0.2"); // the connect guard saw the pinned answer
  });

  it("DNS rebinding across a redirect hop is re-checked and refused", async () => {
    const lookup = stub({ "rebind.test": [["127.0.0.2"], ["127.0.0.1"]] });
    const vetted = await startServer((_q, res) => {
      res.writeHead(302, { location: "/again" }).end();
    }, "127.0.0.2");
    const canary = await startServer(echo, "127.0.0.1", vetted.port);
    const policy = local({ allowedHosts: ["rebind.test", `http://rebind.test:${vetted.port}`], allowPrivate: ["127.0.0.2/32"] });
    const err = await rejection(sendHttp(get(`http://rebind.test:${vetted.port}/`), policy, { lookup }));
    expect(err.message).toMatch(/resolves to 127\.0\.0\.1/);
    expect([vetted.connections, canary.connections]).toEqual([1, 0]);
  });

  it("maps a DNS failure to a network error that was not sent", async () => {
    const err = await rejection(sendHttp(get("http://nx.test/"), local({ allowedHosts: ["nx.test"] }), { lookup: stub({}) }));
    expect(err).toBeInstanceOf(HttpTransportError);
    expect(err).toMatchObject({ category: "network", mayHaveBeenSent: false });
  });
});

describe("sendHttp: redirects", () => {
  const redirector = () =>
    startServer((req, res) => {
      const u = new URL(req.url ?? "/", "http://x");
      const hop = /^\/hop\/(\d+)$/.exec(u.pathname);
      if (hop) {
        const n = Number(hop[1]);
        if (n === 0) return void res.end("done");
        return void res.writeHead(302, { location: `/hop/${n - 1}` }).end();
      }
      if (u.pathname === "/r") return void res.writeHead(Number(u.searchParams.get("code")), { location: u.searchParams.get("to")! }).end();
      echo(req, res, { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: "" });
    });
  const to = (s: TestServer, code: number, target: string) => `${s.base}/r?code=${code}&to=${encodeURIComponent(target)}`;

  it("refuses every 30x code to non-allowed targets; the canary gets 0 connections", async () => {
    const r = await redirector();
    const canary = await startServer(echo, "127.0.0.3");
    const p = canary.port;
    const targets = [
      `http://127.0.0.3:${p}/`,
      `//127.0.0.3:${p}/`,
      `http://0x7f.0.0.3:${p}/`,
      `http://[::ffff:127.0.0.3]:${p}/`,
      `http://canary.test:${p}/`,
      `http://evil.test:${p}/`,
      `http://localhost:${p}/`,
      `http://user@127.0.0.1:${r.port}/`,
      "http://169.254.169.254/latest/meta-data/",
      "http://[::1]/",
      "file:///etc/passwd",
      `gopher://127.0.0.3:${p}/_x`,
      "data:text/plain,hi",
      `ftp://127.0.0.3:${p}/`,
      `dict://127.0.0.3:${p}/`,
      "javascript:alert(1)",
    ];
    const lookup = stub({ "canary.test": ["127.0.0.3"] });
    const policy = local({ allowedHosts: [r.base, "127.0.0.1", "127.0.0.3", "canary.test", "::ffff:127.0.0.3", "169.254.169.254", "::1"] });
    for (const code of [301, 302, 303, 307, 308]) {
      for (const target of targets) {
        const err = await rejection(sendHttp(get(to(r, code, target), { method: "POST", body: "x" }), policy, { lookup }));
        expect(err, `${code} -> ${target}`).toBeInstanceOf(PolicyError);
        expect(err.message).toMatch(/\(redirect\)$/);
      }
    }
    expect(canary.connections).toBe(0);
    expect(r.requests).toHaveLength(5 * targets.length);
  });

  it("a redirect to another port of an allowed private address is refused; the other port gets 0 connections", async () => {
    const r = await redirector();
    const other = await startServer(echo);
    for (const allowPrivate of [true, ["127.0.0.0/8"], ["127.0.0.1/32"]]) {
      const policy: OutboundPolicy = { allowPlainHttp: true, allowedHosts: ["127.0.0.1", r.base], allowPrivate };
      for (const code of [301, 302, 303, 307, 308]) {
        for (const target of [`${other.base}/`, `//127.0.0.1:${other.port}/`, `http://0x7f.1:${other.port}/`, `http://[::ffff:127.0.0.1]:${r.port}/`]) {
          const err = await rejection(sendHttp(get(to(r, code, target)), policy));
          expect(err, `${JSON.stringify(allowPrivate)} ${code} -> ${target}`).toBeInstanceOf(PolicyError);
          expect(err.message).toMatch(
            /^URL blocked: .* reached only at the origins the tool lists \(http:\/\/127\.0\.0\.1:\d+\), not http:\/\/.*\(redirect\)$/,
          );
        }
      }
    }
    expect(other.connections).toBe(0);
    // Listed, the other origin is followed.
    const res = await sendHttp(get(to(r, 302, `${other.base}/landed`)), { allowPlainHttp: true, allowedHosts: [r.base, other.base], allowPrivate: true });
    expect([res.status, res.url, other.connections]).toEqual([200, `${other.base}/landed`, 1]);
  });

  it("follows up to 5 hops by default and refuses the 6th", async () => {
    const r = await redirector();
    const ok = await sendHttp(get(`${r.base}/hop/5`), local());
    expect(ok.body.toString()).toBe("done");
    expect(ok.redirects).toHaveLength(5);
    expect(ok.url).toBe(`${r.base}/hop/0`);
    r.requests.length = 0;
    const err = await rejection(sendHttp(get(`${r.base}/hop/6`), local()));
    expect(err).toBeInstanceOf(HttpTransportError);
    expect(err).toMatchObject({ message: "too many redirects", category: "network", mayHaveBeenSent: true });
    expect(r.requests).toHaveLength(6);
  });

  it("a 21-hop chain is refused by default and followed with maxRedirects 21", async () => {
    const r = await redirector();
    expect((await rejection(sendHttp(get(`${r.base}/hop/21`), local()))).message).toBe("too many redirects");
    expect((await sendHttp(get(`${r.base}/hop/21`), local({ maxRedirects: 21 }))).redirects).toHaveLength(21);
  });

  it.each([
    [303, "POST", "GET", "", undefined],
    [307, "POST", "POST", "payload", "text/plain"],
    [308, "PUT", "PUT", "payload", "text/plain"],
    [301, "POST", "GET", "", undefined],
    [302, "PATCH", "GET", "", undefined],
    [302, "GET", "GET", "", "text/plain"],
  ])("%i after %s re-sends as %s", async (code, method, expectedMethod, expectedBody, expectedType) => {
    const r = await redirector();
    const body = method === "GET" ? undefined : "payload";
    const res = await sendHttp({ method, url: to(r, code, "/echo"), headers: { "content-type": "text/plain" }, body, timeoutMs: 5000 }, local());
    const seen = r.requests[1]!;
    expect(res.redirects).toEqual([`${r.base}/echo`]);
    expect([seen.method, seen.body]).toEqual([expectedMethod, expectedBody]);
    // Body headers go with the body: dropped when the method switches to GET, kept otherwise.
    expect(seen.headers["content-type"]).toBe(expectedType);
    expect(seen.headers["content-length"]).toBe(expectedBody ? String(expectedBody.length) : undefined);
  });

  it("drops Authorization, Cookie and Proxy-Authorization on a cross-origin redirect only", async () => {
    const a = await redirector();
    const b = await startServer(echo);
    const headers = { authorization: "Bearer t", Cookie: "s=1", "proxy-authorization": "Basic x", "x-keep": "1" };
    const policy = local({ allowPrivate: true });
    const cross = await sendHttp(get(to(a, 307, `${b.base}/echo`), { headers }), policy);
    const seenB = JSON.parse(cross.body.toString()) as Seen;
    expect(seenB.headers["x-keep"]).toBe("1");
    expect(seenB.headers.authorization ?? seenB.headers.cookie ?? seenB.headers["proxy-authorization"]).toBeUndefined();
    const same = await sendHttp(get(to(a, 307, "/echo"), { headers }), policy);
    expect((JSON.parse(same.body.toString()) as Seen).headers).toMatchObject({ authorization: "Bearer t", cookie: "s=1" });
  });
});

describe("sendHttp: transport failures", () => {
  it("times out after the request was sent", async () => {
    const s = await startServer(() => {
      /* never answers */
    });
    let sent = 0;
    const err = await rejection(sendHttp(get(s.base, { timeoutMs: 300 }), local(), { onSent: () => sent++ }));
    expect(err).toBeInstanceOf(HttpTransportError);
    expect(err).toMatchObject({ category: "timeout", mayHaveBeenSent: true });
    expect(sent).toBe(1);
  });

  it("times out before connecting (DNS never answers)", async () => {
    let sent = 0;
    const hang: LookupFn = () => new Promise(() => {});
    const err = await rejection(
      sendHttp(get("http://slow.test/", { timeoutMs: 200 }), local({ allowedHosts: ["slow.test"] }), { lookup: hang, onSent: () => sent++ }),
    );
    expect(err).toMatchObject({ name: "HttpTransportError", category: "timeout", mayHaveBeenSent: false });
    expect(sent).toBe(0);
  });

  it("connection refused is a network error that was not sent", async () => {
    const s = await startServer(echo);
    await s.close();
    let sent = 0;
    const err = await rejection(sendHttp(get(s.base, { method: "POST", body: "x" }), local(), { onSent: () => sent++ }));
    expect(err).toBeInstanceOf(HttpTransportError);
    expect(err).toMatchObject({ category: "network", mayHaveBeenSent: false });
    expect(err.message).toMatch(/ECONNREFUSED/);
    expect(sent).toBe(0);
  });

  it("a TLS handshake failure is a network error that was not sent", async () => {
    const s = await startServer(echo); // plain HTTP: the TLS ClientHello gets no valid answer
    let sent = 0;
    const policy = local({ allowedHosts: [`https://127.0.0.1:${s.port}`] });
    const err = await rejection(sendHttp(get(`https://127.0.0.1:${s.port}/`, { method: "POST", body: "x" }), policy, { onSent: () => sent++ }));
    expect(err).toMatchObject({ name: "HttpTransportError", category: "network", mayHaveBeenSent: false });
    expect([sent, s.requests.length]).toEqual([0, 0]);
  });

  it("reaches an IPv6 loopback literal when allowed", async (ctx) => {
    let s: TestServer;
    try {
      s = await startServer(echo, "::1");
    } catch {
      return ctx.skip();
    }
    const res = await sendHttp(get(`http://[::1]:${s.port}/`), local({ allowedHosts: [`http://[::1]:${s.port}`], allowPrivate: ["::1/128"] }));
    expect((JSON.parse(res.body.toString()) as Seen).headers.host).toBe(`[::1]:${s.port}`);
    expect(res.remoteAddress).toBe("::1");
  });

  it("aborting after the request was sent rejects with AbortError, mayHaveBeenSent true", async () => {
    const s = await startServer(() => {});
    const ac = new AbortController();
    const err = await rejection(sendHttp(get(s.base), local(), { signal: ac.signal, onSent: () => ac.abort() }));
    expect(err.name).toBe("AbortError");
    expect((err as Error & { mayHaveBeenSent: boolean }).mayHaveBeenSent).toBe(true);
  });

  it("enforces maxResponseBytes", async () => {
    const s = await startServer((_q, res) => res.end("x".repeat(5000)));
    const err = await rejection(sendHttp(get(s.base, { maxResponseBytes: 1000 }), local()));
    expect(err).toMatchObject({ name: "HttpTransportError", category: "network", mayHaveBeenSent: true });
    expect(err.message).toMatch(/exceeds 1000 bytes/);
    expect((await sendHttp(get(s.base, { maxResponseBytes: 5000 }), local())).body).toHaveLength(5000);
  });

  it("a response cut off mid-body is a network error that was sent", async () => {
    const s = await startServer((_q, res) => {
      res.writeHead(200, { "content-length": "100" });
      res.write("partial");
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const err = await rejection(sendHttp(get(s.base), local()));
    expect(err).toMatchObject({ name: "HttpTransportError", category: "network", mayHaveBeenSent: true });
  });
});
