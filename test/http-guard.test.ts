// SSRF vectors from reliability.md §1.4. Each address vector is refused with its own host on the allow-list,
// so the refusal is proven to come from the address class, never from the allow-list.
import { describe, expect, it } from "vitest";
import { PolicyError } from "../src/errors.js";
import { checkUrl, hostMatches, isAddressAllowed, isValidAllowedHost, parseAllowedDomains, type OutboundPolicy } from "../src/net/outbound-policy.js";

const LOOPBACK = [
  "127.0.0.1",
  "127.1",
  "127.0.1",
  "127.127.127.127",
  "127.0.0.0",
  "127.255.255.255",
  "0",
  "0.0.0.0",
  "localhost",
  "localhost.",
  "LOCALHOST",
  "LocalHost.",
  "foo.localhost",
  "a.b.localhost.",
  "localhost.localdomain",
  "ip6-localhost",
  "[::1]",
  "[0:0:0:0:0:0:0:1]",
  "[::]",
  "[0000::1]",
  "127.0.0.1.",
];
const NUMERIC = [
  "2130706433",
  "017700000001",
  "0x7f000001",
  "0x7f.1",
  "0x7f.0.0.1",
  "0177.0.0.1",
  "0177.1",
  "012.0.0.1",
  "0251.0376.0251.0376",
  "0xA9.0xFE.0xA9.0xFE",
  "0xA9FEA9FE",
  "2852039166",
  "3232235521",
  "①②⑦.0.0.1",
  "%31%32%37.0.0.1",
  "0X7F.0.0.1",
  "00000177.0.0.1",
  "0x0a.0.0.1",
  "167772161",
];
const IPV6 = [
  "[::ffff:127.0.0.1]",
  "[::ffff:7f00:1]",
  "[0:0:0:0:0:ffff:127.0.0.1]",
  "[::ffff:a9fe:a9fe]",
  "[::ffff:a00:1]",
  "[::127.0.0.1]",
  "[::ffff:0:7f00:1]",
  "[64:ff9b::7f00:1]",
  "[64:ff9b::a9fe:a9fe]",
  "[64:ff9b::808:808]",
  "[64:ff9b:1::1]",
  "[2002:7f00:1::]",
  "[2002:a9fe:a9fe::1]",
  "[2001:0:1::1]",
  "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",
  "[fe80::1]",
  "[febf::1]",
  "[fc00::1]",
  "[fd00::1]",
  "[fec0::1]",
  "[ff02::1]",
  "[ff05::1:3]",
  "[3fff::1]",
  "[5f00::1]",
  "[0100::1]",
  "[fd00:ec2::254]",
  "[2001:db8::1]",
  "[::a9fe:a9fe]",
  "[::ffff:169.254.169.254]",
  "[::FFFF:10.0.0.1]",
  "[::1:0:0:1]",
];
const PRIVATE_V4 = [
  "10.0.0.0",
  "10.0.0.1",
  "10.255.255.255",
  "172.16.0.0",
  "172.31.255.255",
  "172.20.1.1",
  "192.168.0.0",
  "192.168.1.1",
  "192.168.255.255",
  "100.64.0.0",
  "100.64.0.1",
  "100.127.255.255",
  "169.254.0.1",
  "169.254.255.255",
  "192.0.0.8",
  "192.0.0.192",
  "192.0.0.1",
  "198.18.0.1",
  "198.19.255.255",
  "224.0.0.1",
  "239.255.255.250",
  "255.255.255.255",
  "240.0.0.1",
  "250.1.2.3",
  "0.1.2.3",
  "192.0.2.1",
  "198.51.100.7",
  "203.0.113.9",
  "192.88.99.1",
];
const METADATA = [
  "169.254.169.254",
  "169.254.170.2",
  "metadata.google.internal",
  "METADATA.GOOGLE.INTERNAL.",
  "metadata",
  "metadata.goog",
  "100.100.100.200",
  "instance-data",
];
const HOST_VECTORS = [...LOOPBACK, ...NUMERIC, ...IPV6, ...PRIVATE_V4, ...METADATA];

// Host forms the WHATWG parser refuses outright: they must be rejected, never mis-decoded (§1.2).
const UNPARSEABLE = [
  "http://425.510.425.510/",
  "http://7147006462/",
  "http://0x41414141A9FEA9FE/",
  "http://1.2.3.4.5/",
  "http://[fe80::1%25eth0]/",
  "http://[::1/",
  "not a url",
  "http://exa mple.com/",
];

const PARSER_CONFUSION = [
  "http://127.1.1.1:80\\@127.2.2.2:80/",
  "http://127.1.1.1:80\\@@127.2.2.2:80/",
  "http://127.1.1.1:80:\\@@127.2.2.2:80/",
  "http://allowed.com@127.0.0.1/",
  "http://allowed.com@@127.0.0.1/",
  "http://127.0.0.1#@allowed.com/",
  "http://127.0.0.1?@allowed.com/",
  "http://127.0.0.1%2f@allowed.com/",
  "http://user:pass@allowed.com/",
  "http://user@allowed.com/",
  "http://:@allowed.com@127.0.0.1/",
  "http:/\\127.0.0.1/",
  "http:127.0.0.1/",
  "HTTP://127.0.0.1/",
  "http://127.0.0.1:443/",
  "https://allowed.com@[::1]/",
];

const SCHEMES = [
  "gopher://allowed.com:70/_GET",
  "file:///etc/passwd",
  "file://allowed.com/etc/passwd",
  "ftp://allowed.com/",
  "dict://allowed.com:11211/stat",
  "data:text/plain,hello",
  "javascript:alert(1)",
  "ws://allowed.com/",
  "wss://allowed.com/",
  "ldap://allowed.com/",
  "sftp://allowed.com/",
  "tftp://allowed.com/x",
  "jar:http://allowed.com!/",
  "netdoc:///etc/passwd",
  "blob:https://allowed.com/uuid",
  "view-source:https://allowed.com/",
];

function policyFor(host: string, extra: Partial<OutboundPolicy> = {}): OutboundPolicy {
  return { allowPlainHttp: true, allowedHosts: [host, "allowed.com"], allowPrivate: false, ...extra };
}

function refusal(url: string, policy: OutboundPolicy): PolicyError {
  try {
    checkUrl(url, policy);
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    const pe = err as PolicyError;
    expect(pe.code).toBe("url_blocked");
    expect(pe.exitCode).toBe(3);
    expect(pe.message).toMatch(/^URL blocked: /);
    return pe;
  }
  throw new Error(`not refused: ${url}`);
}

const hostUrls = HOST_VECTORS.flatMap((h) => [`http://${h}/`, `https://${h}:8443/x?token=secret#frag`]);
const ALL_REFUSED = hostUrls.length + UNPARSEABLE.length + PARSER_CONFUSION.length + SCHEMES.length;

describe("checkUrl refuses the §1.4 vectors", () => {
  it(`has at least 120 refused URLs (${ALL_REFUSED})`, () => {
    expect(HOST_VECTORS.length).toBeGreaterThanOrEqual(100);
    expect(ALL_REFUSED).toBeGreaterThanOrEqual(120);
  });

  it.each(HOST_VECTORS)("host %s is refused by address class, not by the allow-list", (host) => {
    for (const url of [`http://${host}/`, `https://${host}:8443/x?token=secret#frag`]) {
      const err = refusal(url, policyFor(host));
      expect(err.message).not.toMatch(/allow-list/);
      expect(err.message).not.toContain("secret");
      expect(err.message).not.toContain("frag");
    }
  });

  it.each(UNPARSEABLE)("unparseable %s is rejected, not mis-decoded", (url) => {
    expect(refusal(url, policyFor("*")).message).toMatch(/invalid URL/);
  });

  it.each(PARSER_CONFUSION)("parser confusion %s is refused", (url) => {
    const err = refusal(url, policyFor("*"));
    expect(err.message).not.toMatch(/allow-list/);
  });

  it.each(SCHEMES)("scheme %s is refused", (url) => {
    expect(refusal(url, policyFor("*")).message).toMatch(/scheme|invalid URL/);
  });

  it("refuses plain http unless allowed", () => {
    expect(refusal("http://allowed.com/", policyFor("allowed.com", { allowPlainHttp: false })).message).toMatch(/scheme "http"/);
    expect(checkUrl("https://allowed.com/", policyFor("allowed.com", { allowPlainHttp: false })).hostname).toBe("allowed.com");
  });

  it("keeps credentials, query and fragment out of the message", () => {
    const err = refusal("http://user:hunter2@127.0.0.1/p?key=abc#f", policyFor("127.0.0.1"));
    expect(err.message).toBe("URL blocked: credentials in the URL are not allowed: http://127.0.0.1/p");
    expect(refusal("nope://u:hunter2@x/?k=1", policyFor("x")).message).not.toContain("hunter2");
    expect(refusal("::not a url u:hunter2@x?k=1", policyFor("x")).message).not.toContain("k=1");
  });
});

describe("checkUrl accepts what the policy allows", () => {
  it("accepts a public IP literal on the allow-list", () => {
    expect(checkUrl("https://8.8.8.8/dns", policyFor("8.8.8.8")).hostname).toBe("8.8.8.8");
    expect(checkUrl("https://[2606:4700:4700::1111]/", policyFor("2606:4700:4700::1111")).hostname).toBe("[2606:4700:4700::1111]");
  });

  it("accepts an allow-listed hostname (case, trailing dot)", () => {
    const p: OutboundPolicy = { allowPlainHttp: false, allowedHosts: ["API.Example.com"], allowPrivate: false };
    expect(checkUrl("https://api.example.com/v1?x=1", p).pathname).toBe("/v1");
    expect(checkUrl("https://API.EXAMPLE.COM./v1", p).hostname).toBe("api.example.com.");
  });

  it("refuses hosts that are not on the allow-list, including an empty list", () => {
    expect(refusal("https://1.1.1.1/", policyFor("8.8.8.8")).message).toMatch(/not on the allow-list/);
    expect(refusal("https://evil.com/", policyFor("allowed.com")).message).toMatch(/not on the allow-list/);
    expect(refusal("https://allowed.com/", { allowPlainHttp: false, allowedHosts: [], allowPrivate: false }).message).toMatch(/allow-list/);
  });

  it("allowPrivate CIDR list allows 127.0.0.1 but not 10.0.0.1", () => {
    const p = policyFor("*", { allowPrivate: ["127.0.0.0/8"], allowedHosts: ["*", "http://127.0.0.1:8080", "http://[::ffff:127.0.0.1]"] });
    expect(checkUrl("http://127.0.0.1:8080/", p).port).toBe("8080");
    expect(checkUrl("http://[::ffff:127.0.0.1]/", p).hostname).toBe("[::ffff:7f00:1]");
    expect(refusal("http://10.0.0.1/", p).message).toMatch(/10\.0\.0\.1 is not allowed \(private\)/);
    expect(refusal("http://[::1]/", p).message).toMatch(/loopback/);
  });

  it("still refuses forbidden names when private addresses are allowed", () => {
    const p = policyFor("*", { allowPrivate: true, allowedHosts: ["*", "http://10.1.2.3", "http://localhost", "http://metadata.google.internal"] });
    expect(refusal("http://localhost/", p).message).toMatch(/never allowed/);
    expect(refusal("http://metadata.google.internal/", p).message).toMatch(/never allowed/);
    expect(checkUrl("http://10.1.2.3/", p).hostname).toBe("10.1.2.3");
  });
});

describe("hostMatches", () => {
  const cases: Array<[string, string[], boolean]> = [
    ["a.example.com", ["*.example.com"], true],
    ["A.B.Example.COM.", ["*.example.com"], true],
    ["example.com", ["*.example.com"], false],
    ["evilexample.com", ["*.example.com"], false],
    ["example.com.evil.net", ["*.example.com"], false],
    ["example.com", ["Example.com."], true],
    ["www.example.com", ["example.com"], false],
    ["shop.xn--bcher-kva.de", ["*.bücher.de"], true],
    ["xn--bcher-kva.de", ["BÜCHER.de"], true],
    ["anything.net", ["*"], true],
    ["127.0.0.1", ["*.0.0.1"], false],
    ["127.0.0.1", ["127.1"], true],
    ["[::1]", ["::1"], true],
    ["[0:0::1]", ["[::1]"], true],
    ["::1", ["::2"], false],
    ["a.com", [], false],
    ["", ["*"], false],
  ];
  it.each(cases)("%s vs %j -> %s", (host, patterns, expected) => {
    expect(hostMatches(host, patterns)).toBe(expected);
  });
});

describe("isAddressAllowed", () => {
  const cases: Array<[string, boolean | string[], boolean]> = [
    ["8.8.8.8", false, true],
    ["2606:4700:4700::1111", false, true],
    ["127.0.0.1", false, false],
    ["127.0.0.1", ["127.0.0.0/8"], true],
    ["10.0.0.1", ["127.0.0.0/8"], false],
    ["::1", ["::1/128"], true],
    ["::1", ["127.0.0.0/8"], false],
    ["::ffff:127.0.0.1", ["127.0.0.0/8"], true],
    ["::ffff:127.0.0.1", false, false],
    ["127.0.0.1", ["::ffff:127.0.0.0/104"], true],
    ["127.0.0.1", ["127.0.0.1"], true],
    ["10.0.0.1", true, true],
    // `true` opens private ranges for local tools, never link-local or cloud metadata addresses.
    ["fe80::1", true, false],
    ["fe80::1", ["fe80::/10"], true],
    ["169.254.169.254", true, false],
    ["169.254.169.254", ["169.254.169.254/32"], true],
    ["100.100.100.200", true, false],
    ["fd00:ec2::254", true, false],
    ["100.64.0.1", true, true],
    ["0.0.0.0", true, false],
    ["224.0.0.1", true, false],
    ["255.255.255.255", true, false],
    ["::", true, false],
    ["127.1", true, false],
    ["0177.0.0.1", true, false],
    ["not-an-ip", true, false],
    ["64:ff9b::808:808", false, false],
    ["::7f00:1", false, false],
    ["3fff::1", false, false],
    ["fec0::1", false, false],
  ];
  it.each(cases)("%s with allowPrivate=%j -> %s", (ip, allowPrivate, expected) => {
    expect(isAddressAllowed(ip, allowPrivate)).toBe(expected);
  });

  it("rejects an invalid CIDR entry instead of ignoring it", () => {
    expect(() => isAddressAllowed("127.0.0.1", ["127.0.0.0/99"])).toThrow(PolicyError);
  });
});

// An IPv6 address that carries an IPv4 one reaches it through a translator or a tunnel: metadata and link-local
// stay refused under `allowPrivate: true` whatever the encoding, and a CIDR list must allow the IPv4 address too.
describe("isAddressAllowed: IPv4 addresses embedded in IPv6", () => {
  const metadataForms: Array<[string, string]> = [
    ["64:ff9b::a9fe:a9fe", "NAT64 well-known prefix (RFC 6052 /96)"],
    ["64:ff9b::169.254.169.254", "NAT64, dotted"],
    ["64:ff9b::6464:64c8", "NAT64 of Alibaba's 100.100.100.200"],
    ["64:ff9b::a9fe:aa02", "NAT64 of ECS's 169.254.170.2"],
    ["64:ff9b:1::a9fe:a9fe", "NAT64 local-use prefix at /96 (RFC 8215)"],
    ["64:ff9b:1:0:a9:fea9:fe00:0", "NAT64 local-use prefix at /64"],
    ["64:ff9b:1:a9:fe:a9fe::", "NAT64 local-use prefix at /56"],
    ["64:ff9b:1:a9fe:a9:fe00::", "NAT64 local-use prefix at /48"],
    ["2002:a9fe:a9fe::1", "6to4 (RFC 3056)"],
    ["2002:a9fe:a9fe:1234:5678:9abc:def0:1", "6to4, any host part"],
    ["::a9fe:a9fe", "IPv4-compatible (RFC 4291)"],
    ["::169.254.169.254", "IPv4-compatible, dotted"],
    ["::ffff:0:a9fe:a9fe", "IPv4-translated (SIIT, RFC 2765/6145)"],
    ["::ffff:0:169.254.169.254", "IPv4-translated, dotted"],
    ["::ffff:a9fe:a9fe", "IPv4-mapped"],
    ["2001:0:4136:e378:8000:63bf:5601:5601", "Teredo client 169.254.169.254 (obfuscated, RFC 4380)"],
    ["2001:0:a9fe:a9fe:8000:63bf:3fff:fdd2", "Teredo server 169.254.169.254"],
    ["fd00::5efe:a9fe:a9fe", "ISATAP interface id (RFC 5214) under a private prefix"],
    ["fd00::200:5efe:a9fe:a9fe", "ISATAP, universal bit set"],
    ["fd00::5efe:6464:64c8", "ISATAP of 100.100.100.200"],
  ];
  it.each(metadataForms)("%s (%s) is refused with allowPrivate true", (ip) => {
    expect(isAddressAllowed(ip, true)).toBe(false);
  });

  it.each(metadataForms)("%s (%s) is refused in a URL, naming the IPv4 address inside", (ip) => {
    const err = refusal(`http://[${ip}]:8080/`, policyFor("*", { allowPrivate: true, allowedHosts: ["*", `http://[${ip}]:8080`] }));
    expect(err.message).toMatch(/ of (169\.254\.\d+\.\d+|100\.100\.100\.200)\b/);
  });

  const cases: Array<[string, boolean | string[], boolean]> = [
    // What they carry decides under `true`: private and loopback IPv4 stay reachable.
    ["64:ff9b::a00:1", true, true],
    ["64:ff9b::7f00:1", true, true],
    ["2002:a00:1::1", true, true],
    ["::ffff:0:a00:1", true, true],
    ["::a00:1", true, true],
    ["64:ff9b:1::a00:5", true, true],
    ["fd00::5efe:a00:1", true, true],
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2", true, true],
    ["::1", true, true],
    ["64:ff9b::e000:1", true, false],
    ["64:ff9b::ffff:ffff", true, false],
    ["2002::1", true, false],
    // A list must allow the IPv4 address inside as well as the IPv6 one.
    ["64:ff9b::a9fe:a9fe", ["64:ff9b::/96"], false],
    ["64:ff9b::a9fe:a9fe", ["64:ff9b::/96", "169.254.169.254/32"], true],
    ["64:ff9b::808:808", ["64:ff9b::/96"], true],
    ["64:ff9b::a00:1", ["64:ff9b::/96"], false],
    ["64:ff9b::a00:1", ["64:ff9b::/96", "10.0.0.0/8"], true],
    ["2002:7f00:1::", ["2002::/16"], false],
    ["2002:7f00:1::", ["2002::/16", "127.0.0.0/8"], true],
    ["64:ff9b:1::a9fe:a9fe", ["64:ff9b:1::/48"], false],
    ["64:ff9b:1::a00:5", ["64:ff9b:1::/48"], true],
    // A public prefix with an ISATAP interface id delivers to the IPv4 address inside.
    ["2a00:1450:4001::5efe:a9fe:a9fe", false, false],
    ["2a00:1450:4001::200:5efe:a00:1", false, false],
    ["2a00:1450:4001::200:5efe:808:808", false, true],
  ];
  it.each(cases)("%s with allowPrivate=%j -> %s", (ip, allowPrivate, expected) => {
    expect(isAddressAllowed(ip, allowPrivate)).toBe(expected);
  });
});

// A private address is allowed for a service, not a machine: only the origins a tool names (baseUrl,
// sandboxBaseUrl, origins in allowedHosts) reach it, on their scheme and port.
describe("checkUrl: private addresses only at listed origins", () => {
  const local = (allowPrivate: boolean | string[], hosts: string[] = ["127.0.0.1", "http://127.0.0.1:8080"]): OutboundPolicy => ({
    allowPlainHttp: true,
    allowedHosts: hosts,
    allowPrivate,
  });

  it.each([[true], [["127.0.0.0/8"]], [["127.0.0.1"]]] as Array<[boolean | string[]]>)("allowPrivate=%j: the listed origin only", (allowPrivate) => {
    expect(checkUrl("http://127.0.0.1:8080/x?y=1", local(allowPrivate)).pathname).toBe("/x");
    expect(checkUrl("http://0x7f.1:8080/", local(allowPrivate)).port).toBe("8080");
    for (const url of [
      "http://127.0.0.1:8081/",
      "http://127.0.0.1/",
      "https://127.0.0.1:8080/",
      "http://127.0.0.1:2375/containers/json",
      "http://127.0.0.1:6379/",
    ]) {
      const err = refusal(url, local(allowPrivate));
      expect(err.message).toMatch(/^URL blocked: 127\.0\.0\.1 is loopback, reached only at the origins the tool lists \(http:\/\/127\.0\.0\.1:8080\), not /);
      expect(err.details).toMatchObject({ address: "127.0.0.1", origin: new URL(url).origin });
    }
  });

  it("a host pattern, '*' included, opens no port of a private address", () => {
    for (const hosts of [["127.0.0.1"], ["*"], ["*", "127.0.0.1"]]) {
      expect(refusal("http://127.0.0.1:8080/", local(true, hosts)).message).toMatch(/reached only at the origins the tool lists \(none\)/);
    }
  });

  it("origins are compared as URL origins: default ports, case, IPv6 and IPv4 spellings", () => {
    expect(checkUrl("https://10.0.0.5/", local(true, ["https://10.0.0.5:443"])).hostname).toBe("10.0.0.5");
    expect(checkUrl("http://10.0.0.5:80/", local(true, ["HTTP://10.0.0.5"])).hostname).toBe("10.0.0.5");
    expect(checkUrl("http://[::1]:9000/", local(["::1/128"], ["http://[0:0::1]:9000/"])).port).toBe("9000");
    expect(refusal("http://[::1]:9001/", local(["::1/128"], ["http://[::1]:9000"])).message).toMatch(/::1 is loopback/);
    expect(refusal("http://[::ffff:127.0.0.1]:8080/", local(true)).message).toMatch(/reached only at the origins/);
  });

  it("the address class still comes first: a listed origin does not open a refused address", () => {
    expect(refusal("http://169.254.169.254/", local(true, ["http://169.254.169.254"])).message).toMatch(/169\.254\.169\.254 is not allowed \(linkLocal\)/);
    expect(refusal("http://10.0.0.1:8080/", local(["127.0.0.0/8"], ["http://10.0.0.1:8080"])).message).toMatch(/10\.0\.0\.1 is not allowed \(private\)/);
  });

  it("public hosts keep any port; an origin entry allows exactly its origin", () => {
    const p: OutboundPolicy = { allowPlainHttp: false, allowedHosts: ["api.example.com", "8.8.8.8", "https://files.example.com:8443"], allowPrivate: true };
    expect(checkUrl("https://api.example.com:8443/", p).port).toBe("8443");
    expect(checkUrl("https://8.8.8.8:853/", p).port).toBe("853");
    expect(checkUrl("https://files.example.com:8443/f", p).pathname).toBe("/f");
    expect(refusal("https://files.example.com/f", p).message).toMatch(/not on the allow-list/);
  });

  it.each([
    ["http://127.0.0.1:8080/path", false],
    ["http://u:p@127.0.0.1:8080", false],
    ["ftp://127.0.0.1", false],
    ["http://127.0.0.1:8080?x", false],
    ["http://", false],
    ["http://127.0.0.1:8080", true],
    ["https://[::1]:9000/", true],
    ["api.example.com", true],
    ["*.example.com", true],
  ] as Array<[string, boolean]>)("allowedHosts entry %s is valid: %s", (entry, valid) => {
    expect(isValidAllowedHost(entry)).toBe(valid);
  });
});

describe("parseAllowedDomains", () => {
  it.each([
    [undefined, []],
    ["", []],
    ["  ", []],
    ["a.com, *.b.com", ["a.com", "*.b.com"]],
    ["a.com,,b.com\nc.com", ["a.com", "b.com", "c.com"]],
  ] as Array<[string | undefined, string[]]>)("%j", (input, expected) => {
    expect(parseAllowedDomains(input)).toEqual(expected);
  });
});
