/**
 * Text that is not valid Unicode: a UTF-16 surrogate without its pair. JavaScript strings can hold one (JSON's
 * `"\ud800"` makes one), but UTF-8 cannot: `encodeURIComponent` throws on it, and Buffer, URLSearchParams and
 * TextEncoder silently write U+FFFD in its place, so the value sent would not be the value given.
 */

const LONE_SURROGATE = /\p{Cs}/u;

/** Whether `text` holds a surrogate without its pair (a well-formed pair, as in an emoji, is one code point). */
export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

/** `text` with each lone surrogate replaced by U+FFFD, as UTF-8 encoders write it. */
export function wellFormed(text: string): string {
  return hasLoneSurrogate(text) ? text.replace(/\p{Cs}/gu, "\uFFFD") : text;
}
