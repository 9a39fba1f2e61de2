/**
 * Outbound URL and address policy (SSRF guard). Pure: no network, no DNS.
 * Contract: reliability.md §1. The client (client.ts) runs these checks on every hop and on every DNS answer.
 */
import ipaddr from "ipaddr.js";
import { PolicyError } from "../../errors.js";

export interface OutboundPolicy {
  allowPlainHttp: boolean;
  allowedHosts: string[];
  allowPrivate: boolean | string[];
  maxRedirects?: number;
}

type Addr = ipaddr.IPv4 | ipaddr.IPv6;

// Listed explicitly, not left to ipaddr's range(), because its tables have changed between versions (§1.2):
// a silent reclassification to "unicast" must not open a hole.
const EXTRA_V4: Array<[string, string]> = [
  ["0.0.0.0/8", "unspecified"],
  ["100.64.0.0/10", "carrierGradeNat"],
  ["192.0.0.0/24", "ietfProtocol"],
  ["198.18.0.0/15", "benchmarking"],
  ["240.0.0.0/4", "reserved"],
];
const EXTRA_V6: Array<[string, string]> = [
  ["::/96", "ipv4Compatible"],
  ["64:ff9b::/96", "nat64"],
  ["64:ff9b:1::/48", "nat64Local"],
  ["2002::/16", "6to4"],
  ["2001::/32", "teredo"],
  ["fec0::/10", "deprecatedSiteLocal"],
  ["3fff::/20", "documentation"],
  ["5f00::/16", "segmentRouting"],
  ["100::/64", "discard"],
];
let extraCache: Array<[Addr, number, string]> | undefined;
function extraRanges(): Array<[Addr, number, string]> {
  // Parsed lazily so importing this module costs nothing at CLI start-up.
  extraCache ??= [...EXTRA_V4, ...EXTRA_V6].map(([cidr, name]) => {
    const [a, bits] = ipaddr.parseCIDR(cidr);
    return [a, bits, name];
  });
  return extraCache;
}

// Names that must never be contacted whatever DNS says; the DNS answer check is the real defence, this just fails early.
const FORBIDDEN_NAMES = new Set([
  "localhost",
  "localhost.localdomain",
  "ip6-localhost",
  "ip6-loopback",
  "metadata",
  "metadata.google.internal",
  "metadata.goog",
  "instance-data",
  "instance-data.ec2.internal",
]);

function stripHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  while (h.endsWith(".")) h = h.slice(0, -1);
  return h;
}

/**
 * Parses an address as it appears in a DNS answer or a canonical URL host. Non-canonical IPv4 spellings
 * (`127.1`, `0177.0.0.1`) are refused rather than decoded: different parsers decode them differently (§1.2).
 */
function parseAddress(ip: string): Addr | undefined {
  const s = stripHost(ip);
  if (s.includes(":")) {
    if (!ipaddr.IPv6.isValid(s)) return undefined;
    return ipaddr.process(s);
  }
  return ipaddr.IPv4.isValidFourPartDecimal(s) ? ipaddr.IPv4.parse(s) : undefined;
}

/** "public" for public unicast, otherwise the name of the non-public range (for messages). */
function classify(addr: Addr): string {
  const range = addr.range();
  if (range !== "unicast") return range;
  for (const [net, bits, name] of extraRanges()) {
    if (net.kind() === addr.kind() && addr.match(net, bits)) return name;
  }
  // Only 2000::/3 is allocated as global unicast; anything else that ipaddr calls "unicast" is unassigned space.
  if (addr.kind() === "ipv6" && ((addr as ipaddr.IPv6).parts[0]! & 0xe000) !== 0x2000) return "nonGlobal";
  return "public";
}

/** Classifies an IP string: "public", a range name such as "loopback", or "invalid". */
export function addressClass(ip: string): string {
  const addr = parseAddress(ip);
  return addr === undefined ? "invalid" : classify(addr);
}

function inCidrList(addr: Addr, list: string[]): boolean {
  return list.some((entry) => {
    const e = entry.trim();
    let net: Addr;
    let bits: number;
    if (ipaddr.isValidCIDR(e)) {
      [net, bits] = ipaddr.parseCIDR(e);
    } else if (ipaddr.isValid(stripHost(e))) {
      net = ipaddr.parse(stripHost(e));
      bits = net.kind() === "ipv4" ? 32 : 128;
    } else {
      throw new PolicyError("url_blocked", `URL blocked: invalid allowPrivate entry "${entry}"`, { entry });
    }
    // A "::ffff:127.0.0.0/104" entry means the same as "127.0.0.0/8"; addresses are unmapped too.
    if (net.kind() === "ipv6" && (net as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
      net = (net as ipaddr.IPv6).toIPv4Address();
      bits -= 96;
    }
    return net.kind() === addr.kind() && addr.match(net, bits);
  });
}

export function isAddressAllowed(ip: string, allowPrivate: OutboundPolicy["allowPrivate"]): boolean {
  const addr = parseAddress(ip);
  if (addr === undefined) return false;
  const cls = classify(addr);
  if (cls === "public") return true;
  if (allowPrivate === false) return false;
  // `true` is for local tools; it still never means "any socket": 0.0.0.0, multicast, broadcast, link-local
  // and the cloud metadata addresses stay refused unless listed explicitly as CIDRs.
  if (allowPrivate === true) return !["unspecified", "multicast", "broadcast", "linkLocal"].includes(cls) && !isMetadataAddress(addr);
  return inCidrList(addr, allowPrivate);
}

// Cloud instance metadata endpoints outside link-local space: Alibaba (CGNAT range) and AWS over IPv6.
const METADATA_ADDRESSES = ["100.100.100.200", "fd00:ec2::254"];

function isMetadataAddress(addr: Addr): boolean {
  return METADATA_ADDRESSES.some((known) => {
    const parsed = ipaddr.parse(known);
    return parsed.kind() === addr.kind() && parsed.toNormalizedString() === addr.toNormalizedString();
  });
}

/** True when `entry` is something `allowPrivate` accepts: a CIDR range or a single address. */
export function isValidNetworkEntry(entry: string): boolean {
  const e = entry.trim();
  return ipaddr.isValidCIDR(e) || ipaddr.isValid(stripHost(e));
}

export function parseAllowedDomains(envValue: string | undefined): string[] {
  if (envValue === undefined) return [];
  return envValue
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Canonicalises a host the way WHATWG URL does (IDN to punycode, IPv4 spellings, IPv6 compression). */
function canonicalHost(host: string): string | undefined {
  const raw = host.trim();
  const bracketed = raw.includes(":") && !raw.startsWith("[") ? `[${raw}]` : raw;
  try {
    return stripHost(new URL(`http://${bracketed}/`).hostname);
  } catch {
    return undefined;
  }
}

function isIpHost(h: string): boolean {
  return h.includes(":") || ipaddr.IPv4.isValidFourPartDecimal(h);
}

export function hostMatches(host: string, patterns: string[]): boolean {
  const h = canonicalHost(host);
  if (h === undefined || h === "") return false;
  for (const pattern of patterns) {
    const p = pattern.trim();
    if (p === "*") return true;
    if (p.startsWith("*.")) {
      const suffix = canonicalHost(p.slice(2));
      // A wildcard names DNS subdomains; "*.0.0.1" must not match the IP 127.0.0.1.
      if (suffix !== undefined && suffix !== "" && !isIpHost(h) && h.endsWith(`.${suffix}`)) return true;
      continue;
    }
    if (canonicalHost(p) === h) return true;
  }
  return false;
}

/** The URL without userinfo, query or fragment, safe for messages and audit (queries often carry tokens). */
export function redactUrl(url: string | URL): string {
  if (url instanceof URL) {
    return url.host === "" ? `${url.protocol}${url.pathname}`.slice(0, 200) : `${url.protocol}//${url.host}${url.pathname}`;
  }
  return url.replace(/^([a-z][a-z0-9+.-]*:\/*)[^/?#]*@/i, "$1").split(/[?#]/)[0]!.slice(0, 200);
}

function blocked(why: string, url: string | URL, extra: Record<string, unknown> = {}): PolicyError {
  const shown = redactUrl(url);
  return new PolicyError("url_blocked", `URL blocked: ${why}: ${shown}`, { url: shown, reason: why, ...extra });
}

export function checkUrl(url: string, policy: OutboundPolicy): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw blocked("invalid URL", url);
  }
  if (u.protocol !== "https:" && !(u.protocol === "http:" && policy.allowPlainHttp)) {
    throw blocked(`scheme "${u.protocol.slice(0, -1)}" is not allowed`, u);
  }
  if (u.username !== "" || u.password !== "") throw blocked("credentials in the URL are not allowed", u);
  const host = stripHost(u.hostname);
  if (host === "") throw blocked("missing host", u);
  if (FORBIDDEN_NAMES.has(host) || host.endsWith(".localhost")) throw blocked(`host "${host}" is never allowed`, u);
  if (isIpHost(host)) {
    if (!isAddressAllowed(host, policy.allowPrivate)) {
      throw blocked(`address ${host} is not allowed (${addressClass(host)})`, u, { address: host });
    }
  }
  if (!hostMatches(host, policy.allowedHosts)) throw blocked(`host "${host}" is not on the allow-list`, u);
  return u;
}
