/**
 * A response body as text. The charset is, in order: a byte order mark (as WHATWG's "decode" has it), the
 * Content-Type's `charset` parameter, for XML the declaration's `encoding` (RFC 7303: the header wins over it),
 * and UTF-8 otherwise. Any WHATWG encoding label works (`iso-8859-1`, `Shift_JIS`, `utf-16le`, …). What cannot be
 * read as that is said in a warning, never replaced silently: a label toolctl does not know is read as UTF-8, and
 * bytes that are not valid in the charset are read as U+FFFD.
 */

export interface DecodedBody {
  text: string;
  warnings: string[];
}

/** The `charset` parameter of a Content-Type, quoted or not. */
export function declaredCharset(contentType: string): string | undefined {
  const match = /;\s*charset\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/i.exec(contentType);
  const value = (match?.[1]?.replace(/\\(.)/g, "$1") ?? match?.[2])?.trim();
  return value ? value : undefined;
}

/** `<?xml version="1.0" encoding="ISO-8859-1"?>` at the start of the bytes (in any ASCII-compatible encoding). */
function xmlDeclaredEncoding(body: Buffer): string | undefined {
  const head = body.subarray(0, 200).toString("latin1");
  return /^<\?xml\s[^>]*?\bencoding\s*=\s*(?:"([A-Za-z][\w.:-]*)"|'([A-Za-z][\w.:-]*)')/
    .exec(head)
    ?.slice(1)
    .find((v) => v !== undefined);
}

const BOMS: Array<[number[], string]> = [
  [[0xef, 0xbb, 0xbf], "utf-8"],
  [[0xfe, 0xff], "utf-16be"],
  [[0xff, 0xfe], "utf-16le"],
];

function decoderFor(label: string): TextDecoder | undefined {
  try {
    // The byte order mark is read (and cut off) before: one after it is text.
    return new TextDecoder(label, { fatal: true, ignoreBOM: true });
  } catch {
    return undefined;
  }
}

export function decodeBody(body: Buffer, contentType: string, xml: boolean): DecodedBody {
  const warnings: string[] = [];
  const bom = BOMS.find(([bytes]) => bytes.every((byte, i) => body[i] === byte));
  let bytes = body;
  let decoder: TextDecoder | undefined;
  let shown = "UTF-8";
  if (bom) {
    bytes = body.subarray(bom[0].length);
    decoder = decoderFor(bom[1]);
  } else {
    const header = declaredCharset(contentType);
    const label = header ?? (xml ? xmlDeclaredEncoding(body) : undefined);
    if (label !== undefined) {
      decoder = decoderFor(label);
      if (decoder === undefined) {
        const where = header !== undefined ? "the answer's Content-Type names charset" : "the answer's XML declaration names encoding";
        warnings.push(`${where} ${JSON.stringify(label)}, which toolctl cannot decode: it is read as UTF-8`);
      } else if (decoder.encoding !== "utf-8") shown = label;
    }
  }
  decoder ??= decoderFor("utf-8")!;
  try {
    return { text: decoder.decode(bytes), warnings };
  } catch {
    const text = new TextDecoder(decoder.encoding, { ignoreBOM: true }).decode(bytes);
    warnings.push(`the answer is not valid ${shown}: the bytes that are not read as U+FFFD (\uFFFD)`);
    return { text, warnings };
  }
}
