/**
 * Characters that reorder or hide text on screen without being seen themselves: the Unicode bidirectional
 * controls (overrides, embeddings, isolates and marks) that "Trojan Source" (CVE-2021-42574) uses. In text shown
 * to a person deciding something (an input to approve, a tool's description) one can make `evil.com` read as
 * `moc.live`; so every human view shows them as `<U+202E>`, and what is approved is what is seen.
 */
const HIDDEN = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const ALL_HIDDEN = new RegExp(HIDDEN.source, "g");

export function revealHidden(text: string): string {
  return HIDDEN.test(text) ? text.replace(ALL_HIDDEN, (char) => `<U+${char.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}>`) : text;
}
