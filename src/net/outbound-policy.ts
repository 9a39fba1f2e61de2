/**
 * Outbound URL and address policy (SSRF guard). Pure: no network, no DNS.
 * Contract: reliability.md §1. The client (client.ts) runs these checks on every hop and on every DNS answer.
 */
import ipaddr from "ipaddr.js";
import { PolicyError } from "../errors.js";

export interface OutboundPolicy {
  allowPlainHttp: boolean;
  /**
   * Host patterns (`api.example.com`, `*.example.com`, `*`, an IP address), reached on any port, and origins
   * (`http://127.0.0.1:8080`), reached on that scheme and port only. A non-public address is reached only at a
   * listed origin: a host pattern never opens every port of a private address.
   */
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
      // ipaddr.parseCIDR tries IPv6 first and throws on the way for every IPv4 range; the colon says which it is.
      [net, bits] = e.includes(":") ? ipaddr.IPv6.parseCIDR(e) : ipaddr.IPv4.parseCIDR(e);
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

/** One IPv4 address an IPv6 address carries; `ambiguous` when the layout cannot be known (a guess among several). */
interface Embedded {
  v4: ipaddr.IPv4;
  via: string;
  ambiguous?: boolean;
}

// RFC 6052 §2.2 positions (byte indexes) of the IPv4 address for prefix lengths /48, /56, /64 and /96: bits 64-71
// (byte 8) are always skipped. The local-use prefix 64:ff9b:1::/48 (RFC 8215) may be used at any of them.
const NAT64_LOCAL_LAYOUTS = [
  [6, 7, 9, 10],
  [7, 9, 10, 11],
  [9, 10, 11, 12],
  [12, 13, 14, 15],
];
const EMBEDDING_RANGES: Array<[string, string]> = [
  ["::/96", "ipv4Compatible"], // RFC 4291 §2.5.5.1 (deprecated)
  ["::ffff:0:0:0/96", "ipv4Translated"], // SIIT, RFC 2765 / RFC 6145
  ["64:ff9b::/96", "nat64"], // RFC 6052 well-known prefix
  ["64:ff9b:1::/48", "nat64Local"], // RFC 8215
  ["2002::/16", "6to4"], // RFC 3056
  ["2001::/32", "teredo"], // RFC 4380
];
let embeddingCache: Array<[ipaddr.IPv6, number, string]> | undefined;

/**
 * The IPv4 addresses that a translator or tunnel would deliver an IPv6 address to. IPv4-mapped addresses never
 * get here: parseAddress has already turned them into IPv4.
 */
function embeddedIPv4(addr: ipaddr.IPv6): Embedded[] {
  const bytes = addr.toByteArray();
  const at = (indexes: number[], mask = 0) => new ipaddr.IPv4(indexes.map((i) => bytes[i]! ^ mask));
  const found: Embedded[] = [];
  embeddingCache ??= EMBEDDING_RANGES.map(([cidr, name]) => {
    const [net, bits] = ipaddr.IPv6.parseCIDR(cidr);
    return [net, bits, name];
  });
  const via = embeddingCache.find(([net, bits]) => addr.match(net, bits))?.[2];
  const low = [12, 13, 14, 15];
  // `::` and `::1` are the unspecified and loopback addresses, not IPv4-compatible ones.
  if (via === "ipv4Compatible" && !(addr.parts[6] === 0 && addr.parts[7]! <= 1)) found.push({ v4: at(low), via });
  if (via === "ipv4Translated" || via === "nat64") found.push({ v4: at(low), via });
  if (via === "nat64Local") for (const layout of NAT64_LOCAL_LAYOUTS) found.push({ v4: at(layout), via, ambiguous: true });
  if (via === "6to4") found.push({ v4: at([2, 3, 4, 5]), via });
  // Teredo: the server's address, and the client's (the one packets go to), stored with every bit inverted.
  if (via === "teredo") found.push({ v4: at([4, 5, 6, 7]), via: "teredo server" }, { v4: at(low, 0xff), via: "teredo client" });
  // ISATAP (RFC 5214): interface identifier 0000:5efe or 0200:5efe (u/g bits aside) then the IPv4 address, under any prefix.
  if ((addr.parts[4]! & 0xfcff) === 0 && addr.parts[5] === 0x5efe) found.push({ v4: at(low), via: "isatap" });
  return found;
}

// `true` is for local tools; it still never means "any socket": 0.0.0.0, multicast, broadcast, link-local
// and the cloud metadata addresses stay refused unless listed explicitly as CIDRs.
const NEVER_WITH_TRUE = ["unspecified", "multicast", "broadcast", "linkLocal"];

/** Why `addr` may not be reached under `allowPrivate` (its class, for messages), or undefined when it may. */
function refusalOf(addr: Addr, allowPrivate: OutboundPolicy["allowPrivate"]): string | undefined {
  const cls = classify(addr);
  if (cls !== "public") {
    if (allowPrivate === false) return cls;
    if (allowPrivate === true && NEVER_WITH_TRUE.includes(cls)) return cls;
    if (allowPrivate === true && isMetadataAddress(addr)) return "cloud metadata";
    if (Array.isArray(allowPrivate) && !inCidrList(addr, allowPrivate)) return cls;
  }
  if (addr.kind() === "ipv4") return undefined;
  // Reaching an IPv6 address that carries an IPv4 one reaches the IPv4 one: both must be allowed (§1.2).
  for (const { v4, via, ambiguous } of embeddedIPv4(addr as ipaddr.IPv6)) {
    const inner = ambiguous ? ambiguousRefusal(v4, allowPrivate) : refusalOf(v4, allowPrivate);
    if (inner !== undefined) return `${via} of ${v4.toString()}: ${inner}`;
  }
  return undefined;
}

/**
 * A guess among several layouts (NAT64 local use) is checked only for what must never be reached: a guess that
 * happens to read as 0.0.0.0 or a private address says nothing about where the packet goes.
 */
function ambiguousRefusal(v4: ipaddr.IPv4, allowPrivate: OutboundPolicy["allowPrivate"]): string | undefined {
  const cls = isMetadataAddress(v4) ? "cloud metadata" : classify(v4);
  if (cls !== "linkLocal" && cls !== "cloud metadata") return undefined;
  return Array.isArray(allowPrivate) && inCidrList(v4, allowPrivate) ? undefined : cls;
}

/** Why the address `ip` may not be reached, or undefined when it may ("invalid" for what is not an address). */
export function addressRefusal(ip: string, allowPrivate: OutboundPolicy["allowPrivate"]): string | undefined {
  const addr = parseAddress(ip);
  if (addr === undefined) return "invalid";
  const why = refusalOf(addr, allowPrivate);
  // parseAddress unmapped `::ffff:a.b.c.d`: say so, as for the other embeddings.
  return why !== undefined && addr.kind() === "ipv4" && stripHost(ip).includes(":") ? `ipv4Mapped of ${addr.toString()}: ${why}` : why;
}

export function isAddressAllowed(ip: string, allowPrivate: OutboundPolicy["allowPrivate"]): boolean {
  return addressRefusal(ip, allowPrivate) === undefined;
}

// Cloud instance metadata endpoints outside link-local space: Alibaba (CGNAT range) and AWS over IPv6.
const METADATA_ADDRESSES = ["100.100.100.200", "fd00:ec2::254"];

function isMetadataAddress(addr: Addr): boolean {
  const normalized = addr.toNormalizedString();
  return METADATA_ADDRESSES.some((known) => known.includes(":") === (addr.kind() === "ipv6") && ipaddr.parse(known).toNormalizedString() === normalized);
}

/**
 * An allowedHosts entry that names an origin (`scheme://host[:port]`), as URL.origin spells it; undefined for a
 * host pattern or a malformed origin (a path, a query, credentials, another scheme).
 */
export function originEntry(entry: string): string | undefined {
  const e = entry.trim();
  if (!e.includes("://")) return undefined;
  let u: URL;
  try {
    u = new URL(e);
  } catch {
    return undefined;
  }
  const bare = u.pathname === "/" && !e.includes("?") && !e.includes("#") && u.username === "" && u.password === "";
  return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "" && bare ? u.origin : undefined;
}

/** True for a host pattern, and for an origin entry that originEntry understands. */
export function isValidAllowedHost(entry: string): boolean {
  return !entry.includes("://") || originEntry(entry) !== undefined;
}

function listedOrigins(policy: OutboundPolicy): string[] {
  return policy.allowedHosts.map(originEntry).filter((o): o is string => o !== undefined);
}

/**
 * Allowing a private address opens the services a tool names, not the machine: only listed origins (the http
 * runner lists baseUrl's and sandboxBaseUrl's) reach it, so a redirect to another port (a Docker API on 2375,
 * Redis on 6379) is refused. `shownAddress` is how the message names the address.
 */
function checkPrivateOrigin(url: URL, address: string, policy: OutboundPolicy, shownAddress: string): void {
  const cls = addressClass(address);
  if (cls === "public") return;
  const origins = listedOrigins(policy);
  if (origins.includes(url.origin)) return;
  const shown = redactUrl(url);
  throw new PolicyError(
    "url_blocked",
    `URL blocked: ${shownAddress} is ${cls}, reached only at the origins the tool lists (${origins.join(", ") || "none"}), not ${url.origin}: ${shown}`,
    { url: shown, address, origin: url.origin, reason: "origin not listed for a private address" },
  );
}

/** Checks one DNS answer for `url`'s host: its address class, and for a private address, the origin. */
export function checkResolvedAddress(url: URL, address: string, policy: OutboundPolicy): void {
  const why = addressRefusal(address, policy.allowPrivate);
  if (why !== undefined) {
    const shown = redactUrl(url);
    throw new PolicyError("url_blocked", `URL blocked: ${url.hostname} resolves to ${address}, which is not allowed (${why}): ${shown}`, {
      url: shown,
      address,
      reason: "resolved address not allowed",
    });
  }
  checkPrivateOrigin(url, address, policy, `${url.hostname} resolves to ${address}, which`);
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
    if (p.includes("://")) continue; // an origin, matched by checkUrl as a whole
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
  return url
    .replace(/^([a-z][a-z0-9+.-]*:\/*)[^/?#]*@/i, "$1")
    .split(/[?#]/)[0]!
    .slice(0, 200);
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
    const why = addressRefusal(host, policy.allowPrivate);
    if (why !== undefined) throw blocked(`address ${host} is not allowed (${why})`, u, { address: host });
    checkPrivateOrigin(u, host, policy, host);
  }
  if (!hostMatches(host, policy.allowedHosts) && !listedOrigins(policy).includes(u.origin)) throw blocked(`host "${host}" is not on the allow-list`, u);
  return u;
}
