/**
 * Where the approval page listens: loopback only, always. The page decides approvals, so it is never offered to
 * another machine; `--listen` may choose the port and a loopback address, nothing else.
 */
import { isIP } from "node:net";
import { UsageError } from "../errors.js";

export interface Listen {
  host: string;
  port: number;
}

/** `PORT` or `HOST:PORT` (`[::1]:PORT` for IPv6); the host must be a loopback address. `localhost` is 127.0.0.1. */
export function parseListen(value: string): Listen {
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]+):)?(\d{1,5})$/.exec(value);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) throw new UsageError(`--listen: expected PORT or HOST:PORT (such as 8809 or 127.0.0.1:8809), got ${JSON.stringify(value)}`);
  const given = match[1] ? match[1].replace(/^\[|\]$/g, "") : "127.0.0.1";
  const host = given.toLowerCase() === "localhost" ? "127.0.0.1" : given;
  if (!isLoopback(host)) {
    throw new UsageError(`--listen ${value}: ${given} is not a loopback address; the approval page is served to this machine only (use 127.0.0.1)`);
  }
  return { host, port };
}

export function isLoopback(host: string): boolean {
  return host === "::1" || (isIP(host) === 4 && host.startsWith("127."));
}

/** How a host is written in a URL or a Host header: IPv6 in brackets. */
export const hostPart = (host: string): string => (host.includes(":") ? `[${host}]` : host);

/**
 * The `Host` (and `Origin` host) values this server answers to: its own address and port, and `localhost` for
 * 127.0.0.1. Any other name that resolves here is DNS rebinding, and refused.
 */
export function ownHosts(listen: Listen): Set<string> {
  const names = [hostPart(listen.host), ...(listen.host === "127.0.0.1" ? ["localhost"] : [])];
  return new Set(names.map((name) => `${name}:${listen.port}`.toLowerCase()));
}
