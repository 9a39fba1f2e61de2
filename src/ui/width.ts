/**
 * Text measured as a terminal shows it: in columns, not UTF-16 code units. East Asian Wide and Fullwidth
 * characters (get-east-asian-width, Unicode's UAX #11 tables) and emoji take two columns; combining marks,
 * joiners, variation selectors and colour codes none. Cuts fall between grapheme clusters (Intl.Segmenter), so an
 * emoji or a letter with its accent is never split.
 *
 * Plain ASCII, the common case, is measured by its length without touching Intl or a Unicode property: the first
 * Intl object costs ICU's start-up (15–20 ms here), which a command whose text is all ASCII never pays. string-width
 * was measured for this and left out: its module compiles `\p{RGI_Emoji}` and other `/v` expressions when it is
 * loaded, 45–60 ms added to every command that prints a table (docs/benchmarks.md).
 */
import { eastAsianWidth } from "get-east-asian-width";
import stripAnsi from "strip-ansi";

const PRINTABLE_ASCII = /^[\u0020-\u007e]*$/;

let graphemes: Intl.Segmenter | undefined;
let emoji: RegExp | undefined;
let invisible: RegExp | undefined;

/** A grapheme cluster's columns: two for an emoji, else the East Asian width of its first visible code point. */
function clusterWidth(cluster: string): number {
  // Shown as an emoji: one by default (🚀), or asked to be with the emoji variation selector (❤️, 1️⃣).
  emoji ??= /\p{Emoji_Presentation}|\uFE0F/u;
  if (emoji.test(cluster)) return 2;
  invisible ??= /^[\p{Mn}\p{Me}\p{Cf}\p{Cc}\p{Default_Ignorable_Code_Point}]$/u;
  for (const char of cluster) {
    if (invisible.test(char)) continue;
    return eastAsianWidth(char.codePointAt(0)!);
  }
  return 0;
}

function clusters(text: string): Iterable<{ segment: string }> {
  graphemes ??= new Intl.Segmenter(undefined, { granularity: "grapheme" });
  return graphemes.segment(text);
}

/** Whether `text` is all printable ASCII: one column per character, and nothing to measure. */
export function isPlainText(text: string): boolean {
  return PRINTABLE_ASCII.test(text);
}

/** `text`, known to be plain (isPlainText), cut to at most `width` columns, ending with `…` when cut. */
export function truncatePlain(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/** The columns `text` takes on a terminal; colour codes take none. */
export function displayWidth(text: string): number {
  if (PRINTABLE_ASCII.test(text)) return text.length;
  let width = 0;
  for (const { segment } of clusters(stripAnsi(text))) width += clusterWidth(segment);
  return width;
}

/** `text` cut to at most `width` columns, ending with `…` when cut; never inside a character. Plain text only. */
export function truncate(text: string, width: number): string {
  if (PRINTABLE_ASCII.test(text)) return truncatePlain(text, width);
  if (displayWidth(text) <= width) return text;
  const room = Math.max(0, width - 1);
  let used = 0;
  let kept = "";
  for (const { segment } of clusters(text)) {
    const columns = clusterWidth(segment);
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
