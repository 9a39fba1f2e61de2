/**
 * Email addresses from input and the manifest. Addresses are plain `local@domain` (ASCII): no display names from
 * input, nothing that could inject a header. Only the manifest's fixed sender may carry a name.
 */
import { BuiltinInputError, quote, type Input } from "../../runners/builtin/input.js";

const ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const ADDRESS = new RegExp(`^${ATOM}(?:\\.${ATOM})*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,63}$`);

export function isEmailAddress(text: string): boolean {
  const at = text.lastIndexOf("@");
  return text.length <= 254 && at > 0 && at <= 64 && ADDRESS.test(text);
}

export function address(value: unknown, field: string): string {
  if (typeof value !== "string") throw new BuiltinInputError(`input ${field} must be an email address`);
  const trimmed = value.trim();
  if (!isEmailAddress(trimmed)) throw new BuiltinInputError(`input ${field}: ${quote(value)} is not an email address (local@domain)`);
  return trimmed;
}

export function addresses(input: Input, field: string, required: boolean): string[] {
  const value = input[field];
  if (value === undefined || value === null) {
    if (required) throw new BuiltinInputError(`input ${field} is required: an address or a list of addresses`);
    return [];
  }
  const list = Array.isArray(value) ? value : [value];
  if (required && list.length === 0) throw new BuiltinInputError(`input ${field} must name at least one address`);
  return list.map((item, index) => address(item, Array.isArray(value) ? `${field}[${index}]` : field));
}

/** The manifest's `from`: `addr` or `Name <addr>`. */
export function parseSender(from: string): { name?: string; address: string } {
  const match = /^\s*(?:"?([^"<>\r\n]*?)"?\s*<([^<>\s]+)>|([^<>\s]+))\s*$/.exec(from);
  const addr = match?.[2] ?? match?.[3];
  if (!match || !addr || !isEmailAddress(addr)) throw new BuiltinInputError(`email.from: ${quote(from)} is not an address or "Name <address>"`);
  const name = match[1]?.trim();
  return name ? { name, address: addr } : { address: addr };
}

export function domainAllowed(addr: string, allowed: string[] | undefined): boolean {
  if (!allowed) return true;
  const domain = addr.slice(addr.lastIndexOf("@") + 1).toLowerCase();
  return allowed.some((entry) => {
    const rule = entry.toLowerCase();
    return rule.startsWith("*.") ? domain.endsWith(rule.slice(1)) : domain === rule;
  });
}
