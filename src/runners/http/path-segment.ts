/**
 * Whether one path parameter could climb out of its segment. The runner sends a value as one encoded segment
 * (`../..` goes as `..%2F..`), but what reaches the endpoint is what the servers on the way make of it: a proxy
 * or framework that decodes `%2F` (once, or again for `%252F`), treats `\` as `/` (IIS, many Windows and Java
 * stacks), reads IIS `%u002e` escapes or overlong UTF-8 (`%c0%ae`), folds Unicode compatibility forms (`．`,
 * `‥`), cuts a segment at `;` (Tomcat's path parameters: `..;/`), at a NUL, or drops trailing spaces (Windows).
 * A value is refused when any of those readings has a `..` segment, or is nothing but `.` segments.
 */

/** Decoding rounds tried: each proxy or framework in front of the endpoint may decode once more. */
const MAX_DECODES = 4;

// Overlong UTF-8 for `.`, `/` and `\`, as bytes read one to a character (latin1).
const OVERLONG: Array<[RegExp, string]> = [
  [/\xc0\xae|\xe0\x80\xae/g, "."],
  [/\xc0\xaf|\xe0\x80\xaf/g, "/"],
  [/\xc1\x9c|\xe0\x81\x9c/g, "\\"],
];

/** One round of percent-decoding, bytewise: `%XX` is a byte and `%uXXXX` a UTF-8 character; the rest stays. */
function percentDecode(bytes: Buffer): Buffer {
  const text = bytes.toString("latin1");
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const rest = text.slice(i);
    const byte = /^%([0-9a-f]{2})/i.exec(rest);
    const wide = /^%u([0-9a-f]{4})/i.exec(rest);
    if (byte) {
      out.push(parseInt(byte[1]!, 16));
      i += 2;
    } else if (wide) {
      out.push(...Buffer.from(String.fromCharCode(parseInt(wide[1]!, 16)), "utf8"));
      i += 5;
    } else out.push(text.charCodeAt(i));
  }
  return Buffer.from(out);
}

/** Every text a server may read `value` as. */
function readings(value: string): string[] {
  let bytes: Buffer = Buffer.from(value, "utf8");
  const texts: string[] = [];
  for (let round = 0; round <= MAX_DECODES; round++) {
    texts.push(OVERLONG.reduce((text, [pattern, char]) => text.replace(pattern, char), bytes.toString("latin1")));
    texts.push(bytes.toString("utf8").normalize("NFKC"));
    const decoded = percentDecode(bytes);
    if (decoded.equals(bytes)) break;
    bytes = decoded;
  }
  return texts;
}

/** A segment as a server compares it: up to `;`, NUL, `?` or `#`, without trailing spaces. */
const segments = (text: string): string[] => text.split(/[/\\]/).map((segment) => segment.split(/[;\0?#]/)[0]!.replace(/ +$/, ""));

/** Why `value` may not be a path segment, or undefined. */
export function pathSegmentProblem(value: string): string | undefined {
  for (const text of readings(value)) {
    const parts = segments(text);
    if (parts.includes("..")) return `decoded as a server may decode it, it has a ".." segment, which climbs to another endpoint`;
    // `.` (or `./`) would leave the segment empty: `/items/.` is `/items/`, another endpoint.
    if (parts.includes(".") && parts.every((part) => part === "." || part === ""))
      return `decoded as a server may decode it, it is only ".", which leaves the segment empty: another endpoint`;
  }
  return undefined;
}
