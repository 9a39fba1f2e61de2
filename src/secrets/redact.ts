/**
 * Scrubs secrets from everything toolctl writes: the exact value of every resolved secret (and its URL encodings,
 * whichever characters an encoder escaped and in either case; its JSON encodings, whichever characters an encoder
 * escaped, as `\uXXXX` in either case, surrogate pairs included; its base64 and base64url encodings, padded or not,
 * wrapped in lines or not, at any alignment inside a longer blob included), and any value stored under a
 * secret-looking key. Values are redacted before they are serialised, so JSON output stays valid JSON.
 *
 * A value that a runner derives from a secret (a Basic header, an SMTP AUTH blob, a signature) is registered
 * too, through RunContext.addSecret, before it is sent: a server may echo it back in any answer.
 */
import { setOwn } from "../util/own.js";
import { wellFormed } from "../util/unicode.js";

export const REDACTED = "[REDACTED]";
/** Deeper structures are cut: nothing legitimate nests this far, and recursion must not overflow the stack. */
const MAX_DEPTH = 64;
const TOO_DEEP = "[TOO DEEP]";

const SECRET_WORDS = new Set([
  "password",
  "passwd",
  "pwd",
  "passphrase",
  "secret",
  "token",
  "authorization",
  "credential",
  "credentials",
  "cookie",
  "bearer",
  "apikey",
  "signature",
  "otp",
  "totp",
]);
const SECRET_PAIRS = new Set(["api key", "private key", "access key", "secret key", "client secret", "auth token", "session id", "set cookie"]);

/** Splits `x-api-key`, `apiKey`, `API_KEY` and `client_secret` alike into lower-case words. */
function words(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

export function isSecretKey(key: string): boolean {
  const parts = words(key);
  for (let i = 0; i < parts.length; i++) {
    if (SECRET_WORDS.has(parts[i]!)) return true;
    if (i > 0 && SECRET_PAIRS.has(`${parts[i - 1]} ${parts[i]}`)) return true;
  }
  return false;
}

/** Below this many characters an unaligned base64 fragment could turn up by chance in unrelated base64. */
const MIN_EMBEDDED_BASE64 = 8;

/**
 * What base64 of `<anything><value><anything>` always contains, for each of the three byte alignments the value
 * can have: the characters whose 6 bits all come from the value. Base64 of the value alone only matches when the
 * value starts on a 3-byte boundary ("user:pass" puts the password there for one username length in three).
 * At most the one character on each side that mixes the value's bits with its neighbours' stays.
 */
function embeddedBase64(value: string): string[] {
  const bytes = Buffer.from(value);
  const forms: string[] = [];
  for (const shift of [0, 1, 2]) {
    // Zero padding stands in for the neighbours; the characters kept never see it.
    const text = Buffer.concat([Buffer.alloc(shift), bytes, Buffer.alloc(2)]).toString("base64");
    const form = text.slice(Math.ceil((8 * shift) / 6), Math.floor((8 * (shift + bytes.length)) / 6));
    if (form.length >= MIN_EMBEDDED_BASE64) forms.push(form);
  }
  return forms;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const hexDigit = (digit: string) => (/[A-F]/.test(digit) ? `[${digit}${digit.toLowerCase()}]` : digit);

/** Each character of `value` as it may appear URL-encoded by any encoder: as itself, or %XX escapes in either case. */
function urlEncodedPattern(value: string): RegExp {
  const parts = [...value].map((char) => {
    if (/[A-Za-z0-9]/.test(char)) return char;
    const escaped = [...Buffer.from(char)].map((byte) => `%${[...byte.toString(16).toUpperCase().padStart(2, "0")].map(hexDigit).join("")}`).join("");
    return `(?:${escape(char)}|${escaped}${char === " " ? "|\\+" : ""})`;
  });
  return new RegExp(parts.join(""), "g");
}

/** JSON's two-character escapes. */
const JSON_SHORT_ESCAPES: Record<string, string> = { '"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * Each character of `value` as it may appear inside a JSON string written by any encoder: as itself, as its short
 * escape (`\"`, `\/` as PHP writes it), or as `\uXXXX` in either case (Python's ensure_ascii escapes all
 * non-ASCII, Go's encoding/json `&<>`, .NET's encoder `+'"` and more), a character outside the BMP as a
 * surrogate pair. Letters and digits are never escaped by any encoder in use, which keeps the pattern short.
 */
function jsonEscapedPattern(value: string): RegExp {
  const parts = [...value].map((char) => {
    if (/[A-Za-z0-9]/.test(char)) return char;
    // One UTF-16 unit, or the two of a surrogate pair.
    const units = Array.from({ length: char.length }, (_, i) => char.charCodeAt(i));
    const unicode = units.map((unit) => `\\\\u${[...unit.toString(16).toUpperCase().padStart(4, "0")].map(hexDigit).join("")}`).join("");
    const short = JSON_SHORT_ESCAPES[char];
    return `(?:${escape(char)}|${unicode}${short ? `|${escape(short)}` : ""})`;
  });
  return new RegExp(parts.join(""), "g");
}

/**
 * Where a base64 encoder may break a line: anywhere (GNU base64 and MIME wrap at 76 columns, PEM at 64), with `\n`
 * or `\r\n`, raw or as the JSON escape of a wrapped blob inside a JSON text.
 */
const LINE_BREAK = String.raw`(?:\r?\n|\\r\\n|\\n)?`;
/** base64url writes `-` and `_` for `+` and `/`; a JSON encoder may write `/` as `\/`. */
const BASE64_CHARS: Record<string, string> = { "+": "[+\\-]", "/": "(?:[/_]|\\\\/)" };

/**
 * Every base64 form of `value` (whole, and the three embedded forms), in either alphabet, with a line break allowed
 * between any two characters. Each optional break sits between two fixed characters, neither of which can start a
 * break, so a failed match gives up at once: the scan stays linear. The whole encoding keeps its `=` padding unless
 * it is long enough not to turn up by chance (today's floor for the embedded forms), so a short secret's encoding is
 * no more likely to hit unrelated text than before.
 */
function base64Pattern(value: string): RegExp {
  const whole = Buffer.from(value).toString("base64");
  const unpadded = whole.replace(/=+$/, "");
  const forms = new Set([whole, ...(unpadded.length >= MIN_EMBEDDED_BASE64 ? [unpadded] : []), ...embeddedBase64(value)]);
  const alternatives = [...forms].sort((a, b) => b.length - a.length).map((form) => [...form].map((char) => BASE64_CHARS[char] ?? char).join(LINE_BREAK));
  return new RegExp(alternatives.join("|"), "g");
}

export class Redactor {
  private needles: string[] = [];
  /**
   * The forms no fixed needle covers: URL encodings (encodeURI's, lower-case escapes, `/` kept as Python's quote
   * does), base64 in lines or in base64url, JSON `\uXXXX` escapes. A pattern with a `needs` string only runs on text
   * that contains it (every JSON escape has a backslash), as most output has none.
   */
  private patterns: Array<{ pattern: RegExp; needs?: string }> = [];

  /** Registers a secret value; very short values are still scrubbed, as they must never be printed. */
  add(value: string | undefined): void {
    if (typeof value !== "string" || value === "") return;
    // Every encoding a value may take on its way out: URL path and query (which differ on ~!'()* and space),
    // JSON string escapes, and base64 (as in a basic-auth header), aligned or not. A lone UTF-16 surrogate (not
    // valid Unicode, yet a string can hold one) goes out as U+FFFD in UTF-8, as Buffer and URLSearchParams write
    // it; encodeURIComponent would throw on it.
    const forms = new Set([
      value,
      wellFormed(value),
      encodeURIComponent(wellFormed(value)),
      new URLSearchParams({ v: value }).toString().slice(2),
      JSON.stringify(value).slice(1, -1),
      Buffer.from(value).toString("base64"),
      ...embeddedBase64(value),
    ]);
    for (const form of forms) if (!this.needles.includes(form)) this.needles.push(form);
    this.needles.sort((a, b) => b.length - a.length);
    this.patterns.push({ pattern: base64Pattern(value) });
    if (/[^A-Za-z0-9]/.test(value)) {
      this.patterns.push({ pattern: urlEncodedPattern(value) });
      this.patterns.push({ pattern: jsonEscapedPattern(value), needs: "\\" });
    }
  }

  text(text: string): string {
    let out = text;
    for (const needle of this.needles) if (out.includes(needle)) out = out.split(needle).join(REDACTED);
    for (const { pattern, needs } of this.patterns) if (needs === undefined || out.includes(needs)) out = out.replace(pattern, REDACTED);
    return out;
  }

  value<T>(value: T): T {
    return this.walk(value, 0) as T;
  }

  /**
   * Registers every value found under a secret-looking key (a password typed as input), so that it is scrubbed
   * wherever a template copies it: argv, URLs, bodies.
   */
  addUnderSecretKeys(value: unknown, depth = 0): void {
    if (value === null || typeof value !== "object" || depth > MAX_DEPTH) return;
    for (const [key, item] of Object.entries(value)) {
      if (isSecretKey(key) && (typeof item === "string" || typeof item === "number")) this.add(String(item));
      else this.addUnderSecretKeys(item, depth + 1);
    }
  }

  private walk(value: unknown, depth: number): unknown {
    if (depth > MAX_DEPTH) return TOO_DEEP;
    if (typeof value === "string") return this.text(value);
    if (typeof value === "number" && this.needles.includes(String(value))) return REDACTED;
    if (Array.isArray(value)) return value.map((item) => this.walk(item, depth + 1));
    if (value !== null && typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        setOwn(out, this.text(key), isSecretKey(key) && item !== null && item !== "" && typeof item !== "boolean" ? REDACTED : this.walk(item, depth + 1));
      }
      return out;
    }
    return value;
  }
}
