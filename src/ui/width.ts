/**
 * Text measured as a terminal shows it: in columns, not UTF-16 code units. string-width counts East Asian
 * Wide and Fullwidth characters and emoji as two columns, combining marks, joiners and colour codes as none.
 * Cuts fall between grapheme clusters (Intl.Segmenter), so an emoji or a letter with its accent is never split.
 *
 * Plain ASCII, the common case, is measured by its length without touching Intl: the first Intl object costs
 * ICU's start-up (about 15 ms of CPU), which a command whose text is all ASCII never pays (string-width's own
 * segmenter is made lazy at build time, see scripts/build.mjs).
 */
import stringWidth from "string-width";

const PRINTABLE_ASCII = /^[\u0020-\u007e]*$/;

let graphemes: Intl.Segmenter | undefined;

/** The columns `text` takes on a terminal; colour codes take none. */
export function displayWidth(text: string): number {
  return PRINTABLE_ASCII.test(text) ? text.length : stringWidth(text);
}

/** `text` cut to at most `width` columns, ending with `…` when cut; never inside a character. Plain text only. */
export function truncate(text: string, width: number): string {
  if (PRINTABLE_ASCII.test(text)) return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
  if (stringWidth(text) <= width) return text;
  const room = Math.max(0, width - 1);
  let used = 0;
  let kept = "";
  graphemes ??= new Intl.Segmenter(undefined, { granularity: "grapheme" });
  for (const { segment } of graphemes.segment(text)) {
    const columns = stringWidth(segment);
    if (used + columns > room) break;
    used += columns;
    kept += segment;
  }
  return `${kept}…`;
}

/** `text` padded with spaces to `width` columns (as String.padEnd, in columns). */
export function padEnd(text: string, width: number): string {
  return text + " ".repeat(Math.max(0, width - displayWidth(text)));
}
