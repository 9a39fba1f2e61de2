/**
 * One change to a YAML document's text (a value set, or a key removed) that leaves everything else as it was
 * written: comments, blank lines, key order, quoting and the column of trailing comments. The common cases (a
 * scalar or flow value replaced, a key added to or removed from a block or flow mapping, a block list changed
 * item by item) are edits of the text itself, and comment lines are never removed; anything else goes through
 * the yaml library's Document API, which keeps comments but may re-indent. Either way the result is parsed
 * back and must hold exactly the intended data.
 */
import { isMap, isScalar, isSeq, parseDocument, stringify, visit, type Document, type Node, type Pair, type YAMLMap, type YAMLSeq } from "yaml";

export type YamlEdit = { path: readonly string[]; value: unknown } | { path: readonly string[]; remove: true };

/** The data a document holds; what an empty document or one holding only comments holds is an empty mapping. */
export function yamlData(doc: Document): Record<string, unknown> {
  const data = doc.toJS() as unknown;
  return data !== null && typeof data === "object" && !Array.isArray(data) ? (data as Record<string, unknown>) : {};
}

/** The mapping entries a change leaves behind: emptied mappings go too (an empty `limits:` would be null). */
export function applyToData(data: Record<string, unknown>, edit: YamlEdit): Record<string, unknown> {
  const copy = structuredClone(data);
  const parents: Array<Record<string, unknown>> = [copy];
  for (const key of edit.path.slice(0, -1)) {
    const parent = parents[parents.length - 1]!;
    const next = parent[key];
    if (next === null || typeof next !== "object" || Array.isArray(next)) {
      if ("remove" in edit) return copy;
      parent[key] = {};
    }
    parents.push(parent[key] as Record<string, unknown>);
  }
  const last = edit.path[edit.path.length - 1]!;
  if (!("remove" in edit)) {
    parents[parents.length - 1]![last] = edit.value;
    return copy;
  }
  delete parents[parents.length - 1]![last];
  for (let i = parents.length - 1; i > 0 && Object.keys(parents[i]!).length === 0; i--) delete parents[i - 1]![edit.path[i - 1]!];
  return copy;
}

/** A value as YAML text on one line: plain where YAML allows it, quoted where it must be, lists in flow style. */
function inline(value: unknown): string {
  return stringify(value, { collectionStyle: "flow", flowCollectionPadding: false, lineWidth: 0 }).trimEnd();
}

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf("\n", offset - 1) + 1;
}

/** Whether only blanks stand between the start of the line and `offset`: a key of a block mapping. */
function startsLine(text: string, offset: number): boolean {
  return /^[ ]*$/.test(text.slice(lineStart(text, offset), offset));
}

/** Replaces `[start, end)` with `replacement`, keeping a trailing comment on that line in its column. */
function replaceKeepingComment(text: string, start: number, end: number, replacement: string): string {
  const after = /^( +)#/.exec(text.slice(end));
  if (!after) return text.slice(0, start) + replacement + text.slice(end);
  const spaces = Math.max(1, after[1]!.length - (replacement.length - (end - start)));
  return text.slice(0, start) + replacement + " ".repeat(spaces) + text.slice(end + after[1]!.length);
}

/** The indentation unit the file uses (the first nested key's), else two spaces. */
function indentUnit(doc: Document, text: string): number {
  const root = doc.contents;
  if (isMap(root)) {
    for (const pair of root.items) {
      const child = pair.value;
      if (isMap(child) && !child.flow && child.items[0]?.key && isScalar(child.items[0].key) && child.items[0].key.range) {
        const start = child.items[0].key.range[0];
        const column = start - lineStart(text, start);
        if (column > 0) return column;
      }
    }
  }
  return 2;
}

/** Block lines for `path: value` at `column`, nesting one level per remaining key. */
function blockLines(path: readonly string[], value: unknown, column: number, unit: number): string {
  const pad = " ".repeat(column);
  const key = inline(path[0]);
  if (path.length === 1) return `${pad}${key}: ${inline(value)}\n`;
  return `${pad}${key}:\n${blockLines(path.slice(1), value, column + unit, unit)}`;
}

/** The offset just after `node`'s last line (its trailing comment and line break included). */
function endOfLines(text: string, end: number): number {
  if (end > 0 && text[end - 1] === "\n") return end;
  const newline = text.indexOf("\n", end);
  return newline === -1 ? text.length : newline + 1;
}

function withFinalNewlineIf(text: string, newline: boolean): string {
  return newline ? withFinalNewline(text) : text;
}

function withFinalNewline(text: string): string {
  return text === "" || text.endsWith("\n") ? text : `${text}\n`;
}

function findPair(map: YAMLMap, key: string): Pair<unknown, unknown> | undefined {
  return map.items.find((pair) => isScalar(pair.key) && String(pair.key.value) === key) as Pair<unknown, unknown> | undefined;
}

/** `path: value` as one flow-mapping entry: `key: value`, deeper keys nested in braces. */
function flowEntry(path: readonly string[], value: unknown): string {
  const nested = path.slice(1).reduceRight<unknown>((inner, key) => ({ [key]: inner }), value);
  return `${inline(path[0])}: ${inline(nested)}`;
}

/** A new entry at the end of a flow mapping (`{a: 1}` → `{a: 1, b: 2}`, `{}` → `{b: 2}`), nothing else moved. */
function addToFlow(text: string, map: YAMLMap, path: readonly string[], value: unknown): string | undefined {
  if (!map.range) return undefined;
  const entry = flowEntry(path, value);
  const last = map.items[map.items.length - 1];
  if (!last) {
    const open = text.indexOf("{", map.range[0]);
    if (open === -1 || open >= map.range[1]) return undefined;
    return text.slice(0, open + 1) + entry + text.slice(open + 1);
  }
  const end = ((last.value as Node | null)?.range ?? (last.key as Node).range)?.[1];
  if (end === undefined) return undefined;
  return `${text.slice(0, end)}, ${entry}${text.slice(end)}`;
}

/** One entry out of a flow mapping with its comma; a mapping written over several lines loses that entry's line. */
function removeFromFlow(text: string, map: YAMLMap, pair: Pair<unknown, unknown>): string | undefined {
  const index = map.items.indexOf(pair);
  const start = (pair.key as Node | null)?.range?.[0];
  const end = ((pair.value as Node | null)?.range ?? (pair.key as Node | null)?.range)?.[1];
  if (start === undefined || end === undefined) return undefined;
  if (index > 0) {
    const previous = map.items[index - 1]!;
    const previousEnd = ((previous.value as Node | null)?.range ?? (previous.key as Node).range)?.[1];
    if (previousEnd === undefined) return undefined;
    const between = text.slice(previousEnd, start);
    if (!between.includes("\n")) return text.slice(0, previousEnd) + text.slice(end);
    // `a: 1,   # note` then `b: 2` on its own line: the comma goes, then b's line.
    const comma = text.indexOf(",", previousEnd);
    if (comma === -1 || comma > start || !startsLine(text, start) || !/^[ \t]*(#.*)?(\n|$)/.test(text.slice(end))) return undefined;
    const line = text.slice(0, lineStart(text, start)) + text.slice(endOfLines(text, end));
    return line.slice(0, comma) + line.slice(comma + 1);
  }
  const next = map.items[1];
  const nextStart = (next?.key as Node | null | undefined)?.range?.[0];
  if (nextStart === undefined) return undefined;
  return text.slice(0, start) + text.slice(nextStart);
}

/** The value of a list item as the new list names it, when it is a scalar on one line. */
function itemText(item: unknown): string | undefined {
  return isScalar(item) ? String(item.value) : undefined;
}

/**
 * A block list replaced by `values`: an item that stays keeps its line (its trailing comment too) and the comment
 * lines above it; a new one is `- value` at the items' column. A removed item takes its own line only: the
 * comment lines above it stay where they were.
 */
function replaceBlockList(text: string, seq: YAMLSeq, values: unknown[]): string | undefined {
  const items = seq.items as Node[];
  if (items.length === 0 || items.some((item) => !item?.range || itemText(item) === undefined)) return undefined;
  const first = lineStart(text, items[0]!.range![0]);
  const column = text.slice(first).search(/-/);
  if (column < 0) return undefined;
  // Each item's block: the comment lines since the previous item, then its own line.
  const blocks: Array<{ value: string; comments: string; line: string }> = [];
  let at = first;
  for (const item of items) {
    const own = lineStart(text, item.range![0]);
    const end = endOfLines(text, item.range![1]);
    if (
      text
        .slice(own, end)
        .split("\n")
        .filter((l) => l !== "").length !== 1
    )
      return undefined;
    const comments = text.slice(at, own);
    if (comments.split("\n").some((l) => l.trim() !== "" && !l.trim().startsWith("#"))) return undefined;
    blocks.push({ value: itemText(item)!, comments, line: withFinalNewline(text.slice(own, end)) });
    at = end;
  }
  const wanted = values.map((v) => String(v));
  const used = new Set<number>();
  const match = wanted.map((v) => {
    const i = blocks.findIndex((b, j) => !used.has(j) && b.value === v);
    if (i >= 0) used.add(i);
    return i;
  });
  const fresh = (v: unknown) => `${" ".repeat(column)}- ${inline(v)}\n`;
  const kept = match.filter((i) => i >= 0);
  let out = "";
  if (kept.every((i, k) => k === 0 || i > kept[k - 1]!)) {
    // The items that stay are in their order: the new list is made in place.
    let next = 0;
    blocks.forEach((block, i) => {
      if (!used.has(i)) {
        out += block.comments;
        return;
      }
      while (next < wanted.length && match[next] !== i) out += fresh(values[next++]);
      out += block.comments + block.line;
      next++;
    });
    while (next < wanted.length) out += fresh(values[next++]);
  } else {
    // Reordered: in the new order, each item with its comment lines; those of the removed ones after them.
    out = match.map((i, k) => (i >= 0 ? blocks[i]!.comments + blocks[i]!.line : fresh(values[k]))).join("");
    out += blocks
      .filter((_, i) => !used.has(i))
      .map((b) => b.comments)
      .join("");
  }
  const end = at;
  if (!text.slice(first, end).endsWith("\n")) out = out.replace(/\n$/, "");
  return text.slice(0, first) + out + text.slice(end);
}

/** The text edit, or undefined where only the Document API can make it. */
function textEdit(text: string, doc: Document, edit: YamlEdit): string | undefined {
  const root = doc.contents;
  if (root !== null && !(isMap(root) && !root.flow)) return undefined;
  // Walk down the existing block mappings as far as the path goes.
  let map = root as YAMLMap | null;
  let depth = 0;
  let pair: Pair<unknown, unknown> | undefined;
  while (map !== null && depth < edit.path.length) {
    pair = findPair(map, edit.path[depth]!);
    if (!pair) break;
    depth++;
    if (depth === edit.path.length) break;
    if (!isMap(pair.value)) return undefined;
    map = pair.value;
  }
  const found = depth === edit.path.length ? pair : undefined;

  if ("remove" in edit) {
    if (!found || !map) return text;
    // Removing the only key of a nested mapping removes the mapping: `limits:` alone would be null.
    if (map.items.length === 1 && depth > 1) return textEdit(text, doc, { path: edit.path.slice(0, -1), remove: true });
    if (map.flow) return removeFromFlow(text, map, found);
    const key = found.key as Node;
    const value = found.value as Node | null;
    if (!key.range || !startsLine(text, key.range[0])) return undefined;
    const end = value?.range ? value.range[2] : key.range[2];
    const from = lineStart(text, key.range[0]);
    const to = endOfLines(text, end);
    // Comment lines among the removed ones stay (inside a block string, such a line is text, and goes).
    let blockString = false;
    if (value) visit(value, { Scalar: (_, node) => void (blockString ||= node.type === "BLOCK_LITERAL" || node.type === "BLOCK_FOLDED") });
    const comments = blockString ? "" : (text.slice(from, to).match(/^[ \t]*#.*(\n|$)/gm) ?? []).join("");
    return text.slice(0, from) + withFinalNewlineIf(comments, to > from && text[to - 1] === "\n") + text.slice(to);
  }

  if (found) {
    const value = found.value as Node | null;
    if (!value?.range || value.range[0] === value.range[1]) return undefined;
    // A scalar or a flow collection is replaced where it stands.
    if (isScalar(value) || ((isSeq(value) || isMap(value)) && value.flow === true)) {
      return replaceKeepingComment(text, value.range[0], value.range[1], inline(edit.value));
    }
    // A block list by a list that is not empty: item by item, each item that stays keeping its own lines.
    if (isSeq(value) && Array.isArray(edit.value) && edit.value.length > 0 && startsLine(text, value.range[0])) {
      return replaceBlockList(text, value, edit.value);
    }
    // Emptied: `key: []` on the key's line, the items' lines gone, comment lines kept.
    if (isSeq(value) && Array.isArray(edit.value) && edit.value.length === 0 && startsLine(text, value.range[0])) {
      const keyEnd = (found.key as Node | null)?.range?.[1];
      const colon = keyEnd === undefined ? -1 : text.indexOf(":", keyEnd);
      const last = (value.items[value.items.length - 1] as Node | undefined)?.range;
      if (colon === -1 || !last || !/^[ \t]*(#.*)?\n/.test(text.slice(colon + 1))) return undefined;
      const from = lineStart(text, value.range[0]);
      const to = endOfLines(text, last[1]);
      const comments = (text.slice(from, to).match(/^[ \t]*#.*(\n|$)/gm) ?? []).join("");
      const keyLine = replaceKeepingComment(text.slice(0, from), colon + 1, colon + 1, " []");
      return keyLine + withFinalNewlineIf(comments, text[to - 1] === "\n") + text.slice(to);
    }
    return undefined;
  }

  // A new key: at the end of the deepest mapping that exists, indented like its keys.
  const rest = edit.path.slice(depth);
  if (map?.flow) return addToFlow(text, map, rest, edit.value);
  const unit = indentUnit(doc, text);
  if (map === null || depth === 0) {
    const first = (map?.items[0]?.key as Node | undefined)?.range?.[0];
    const column = first === undefined ? 0 : first - lineStart(text, first);
    return withFinalNewline(text) + blockLines(rest, edit.value, column, unit);
  }
  const first = map.items[0]?.key as Node | undefined;
  const last = map.items[map.items.length - 1];
  if (!first?.range || !last) return undefined;
  const column = first.range[0] - lineStart(text, first.range[0]);
  const lastEnd = ((last.value as Node | null)?.range ?? (last.key as Node).range)?.[2];
  if (lastEnd === undefined) return undefined;
  const at = endOfLines(text, lastEnd);
  const before = withFinalNewline(text.slice(0, at));
  return before + blockLines(rest, edit.value, column, unit) + text.slice(at);
}

/** The same change through the Document API: comments stay, the layout may be normalised. */
function documentEdit(doc: Document, edit: YamlEdit, expected: Record<string, unknown>): string {
  const copy = doc.clone();
  if ("remove" in edit) {
    copy.deleteIn(edit.path);
    for (let length = edit.path.length - 1; length > 0; length--) {
      const parent = copy.getIn(edit.path.slice(0, length), true);
      if (isMap(parent) && parent.items.length === 0) copy.deleteIn(edit.path.slice(0, length));
    }
  } else if (copy.contents === null) {
    copy.contents = copy.createNode(expected) as unknown as typeof copy.contents;
  } else {
    copy.setIn(edit.path, edit.value);
  }
  return String(copy);
}

function sameData(a: unknown, b: unknown): boolean {
  return JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));
}

function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sorted((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

/** Thrown for text that is not one valid YAML document: nothing is edited. */
export class YamlSyntaxError extends Error {
  constructor(readonly problems: Array<{ line: number; col: number; message: string }>) {
    super(problems.map((p) => `${p.line}:${p.col}: ${p.message}`).join("; "));
  }
}

export function parseYaml(text: string): Document {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new YamlSyntaxError(
      doc.errors.map((error) => {
        const before = text.slice(0, error.pos[0]).split("\n");
        return { line: before.length, col: before[before.length - 1]!.length + 1, message: error.message.split("\n")[0]! };
      }),
    );
  }
  return doc;
}

/**
 * `text` with one value set or removed. The result holds exactly the data of `text` with that change (checked
 * by parsing it back), and every other line is left as it was wherever the change could be made in place.
 */
export function editYaml(text: string, edit: YamlEdit): string {
  // A file whose every line ends in CRLF (written on Windows) keeps them, on the lines added too: it is edited with
  // LF breaks, then given its own back. A file of mixed breaks keeps each line's, and new lines get LF.
  if (text.includes("\r\n") && !/(^|[^\r])\n/.test(text)) return editLines(text.replace(/\r\n/g, "\n"), edit).replace(/\n/g, "\r\n");
  return editLines(text, edit);
}

function editLines(text: string, edit: YamlEdit): string {
  const doc = parseYaml(text);
  const expected = applyToData(yamlData(doc), edit);
  const candidates = [() => textEdit(text, doc, edit), () => documentEdit(doc, edit, expected)];
  for (const candidate of candidates) {
    let result: string | undefined;
    try {
      result = candidate();
    } catch {
      result = undefined;
    }
    if (result === undefined) continue;
    const check = parseDocument(result);
    if (check.errors.length === 0 && sameData(yamlData(check), expected)) return result;
  }
  throw new Error(`cannot ${"remove" in edit ? "remove" : "set"} ${edit.path.join(".")} in this YAML document`);
}
