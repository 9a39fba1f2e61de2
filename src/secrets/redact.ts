/**
 * Scrubs secrets from everything toolctl writes: the exact value of every resolved secret (and its URL encodings,
 * whichever characters an encoder escaped and in either case, its JSON and base64 encodings, base64 at any
 * alignment inside a longer blob included), and any value stored under a
 * secret-looking key. Values are redacted before they are serialised, so JSON output stays valid JSON.
 *
 * A value that a runner derives from a secret (a Basic header, an SMTP AUTH blob, a signature) is registered
 * too, through RunContext.addSecret, before it is sent: a server may echo it back in any answer.
 */
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

/** Each character of `value` as it may appear URL-encoded by any encoder: as itself, or %XX escapes in either case. */
function urlEncodedPattern(value: string): RegExp {
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const hexDigit = (digit: string) => (/[A-F]/.test(digit) ? `[${digit}${digit.toLowerCase()}]` : digit);
  const parts = [...value].map((char) => {
    if (/[A-Za-z0-9]/.test(char)) return char;
    const escaped = [...Buffer.from(char)].map((byte) => `%${[...byte.toString(16).toUpperCase().padStart(2, "0")].map(hexDigit).join("")}`).join("");
    return `(?:${escape(char)}|${escaped}${char === " " ? "|\\+" : ""})`;
  });
  return new RegExp(parts.join(""), "g");
}

export class Redactor {
  private needles: string[] = [];
  /** The URL-encoded forms no fixed needle covers (encodeURI's, lower-case escapes, `/` kept as Python's quote does). */
  private patterns: RegExp[] = [];

  /** Registers a secret value; very short values are still scrubbed, as they must never be printed. */
  add(value: string | undefined): void {
    if (typeof value !== "string" || value === "") return;
    // Every encoding a value may take on its way out: URL path and query (which differ on ~!'()* and space),
    // JSON string escapes, and base64 (as in a basic-auth header), aligned or not.
    const forms = new Set([
      value,
      encodeURIComponent(value),
      new URLSearchParams({ v: value }).toString().slice(2),
      JSON.stringify(value).slice(1, -1),
      Buffer.from(value).toString("base64"),
      ...embeddedBase64(value),
    ]);
    for (const form of forms) if (!this.needles.includes(form)) this.needles.push(form);
    this.needles.sort((a, b) => b.length - a.length);
    if (/[^A-Za-z0-9]/.test(value)) this.patterns.push(urlEncodedPattern(value));
  }

  text(text: string): string {
    let out = text;
    for (const needle of this.needles) if (out.includes(needle)) out = out.split(needle).join(REDACTED);
    for (const pattern of this.patterns) out = out.replace(pattern, REDACTED);
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
        out[this.text(key)] = isSecretKey(key) && item !== null && item !== "" && typeof item !== "boolean" ? REDACTED : this.walk(item, depth + 1);
      }
      return out;
    }
    return value;
  }
}
