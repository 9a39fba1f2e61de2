/**
 * Just enough Markdown for the documentation tests: fenced code blocks, code spans, headings with the anchors
 * GitHub gives them, sections and links. Every function keeps line numbers, so problems can name them.
 */

const FENCE = /^ {0,3}(`{3,}|~{3,})/;

/** The text with every fenced code block blanked (fence lines included); the line count is unchanged. */
export function blankFences(markdown: string): string {
  const lines = markdown.split("\n");
  let open: string | undefined;
  return lines
    .map((line) => {
      const fence = FENCE.exec(line)?.[1];
      if (open === undefined) {
        if (fence === undefined) return line;
        open = fence;
        return "";
      }
      if (fence !== undefined && fence[0] === open[0] && fence.length >= open.length && line.trim() === fence) open = undefined;
      return "";
    })
    .join("\n");
}

/** Whether each line is inside a fenced code block (fence lines count as inside). */
export function fencedLines(markdown: string): boolean[] {
  const blanked = blankFences(markdown).split("\n");
  return markdown.split("\n").map((line, i) => line !== "" && blanked[i] === "");
}

/** The text with the content of every code span replaced by spaces (within one paragraph, as Markdown reads them). */
export function blankCodeSpans(text: string): string {
  return text
    .split(/(\n[ \t]*\n)/)
    .map((paragraph) =>
      paragraph.replace(/(`+)(?!`)([\s\S]*?[^`])\1(?!`)/g, (_match, ticks: string, content: string) => ticks + content.replace(/[^\n]/g, " ") + ticks),
    )
    .join("");
}

export interface Heading {
  level: number;
  text: string;
  /** 1-based line number. */
  line: number;
}

/** ATX headings outside fenced code blocks. */
export function headings(markdown: string): Heading[] {
  const result: Heading[] = [];
  blankFences(markdown)
    .split("\n")
    .forEach((line, i) => {
      const match = /^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(line);
      if (match) result.push({ level: match[1]!.length, text: match[2]!, line: i + 1 });
    });
  return result;
}

/**
 * The anchor GitHub gives a heading: the rendered text (code spans keep their content, links their text,
 * emphasis markers go), lower-cased, without punctuation other than `-` and `_`, spaces turned into `-`.
 */
export function slug(headingText: string): string {
  const rendered = headingText
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/`/g, "")
    .replace(/\*/g, "");
  return rendered
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, "")
    .replace(/ /g, "-");
}

/** Every anchor a document has: one per heading, with GitHub's -1, -2 … suffixes for repeated ones. */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const heading of headings(markdown)) {
    const base = slug(heading.text);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

export interface Link {
  target: string;
  line: number;
}

/** Inline links and images, and reference definitions, outside code blocks and code spans. */
export function links(markdown: string): Link[] {
  const text = blankCodeSpans(blankFences(markdown));
  const lineAt = (offset: number) => text.slice(0, offset).split("\n").length;
  const result: Link[] = [];
  const inline = /!?\[(?:[^[\]]|\[[^[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g;
  for (const match of text.matchAll(inline)) result.push({ target: match[1]!, line: lineAt(match.index!) });
  const definition = /^ {0,3}\[[^\]]+\]:[ \t]*<?(\S+?)>?(?:[ \t]+.*)?$/gm;
  for (const match of text.matchAll(definition)) result.push({ target: match[1]!, line: lineAt(match.index!) });
  return result;
}

export interface Section {
  heading: Heading | undefined;
  /** The section's lines, its heading line first (none for the text before the first heading). */
  lines: string[];
  /** 1-based line number of the first line. */
  line: number;
}

/** The document cut at every heading of the given level: the text before the first one, then one section each. */
export function sections(markdown: string, level: number): Section[] {
  const all = markdown.split("\n");
  const starts = headings(markdown).filter((h) => h.level === level);
  const result: Section[] = [{ heading: undefined, lines: all.slice(0, (starts[0]?.line ?? all.length + 1) - 1), line: 1 }];
  starts.forEach((heading, i) => {
    const end = (starts[i + 1]?.line ?? all.length + 1) - 1;
    result.push({ heading, lines: all.slice(heading.line - 1, end), line: heading.line });
  });
  return result;
}
