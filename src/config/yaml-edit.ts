/**
 * One change to a YAML document's text (a value set, or a key removed) that leaves everything else as it was
 * written: comments, blank lines, key order, quoting and the column of trailing comments. The common cases (a
 * scalar or flow value replaced, a key added to a block mapping, a key removed) are edits of the text itself;
 * anything else goes through the yaml library's Document API, which keeps comments but may re-indent. Either
 * way the result is parsed back and must hold exactly the intended data.
 */
import { isMap, isScalar, isSeq, parseDocument, stringify, type Document, type Node, type Pair, type YAMLMap } from "yaml";

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

function withFinalNewline(text: string): string {
  return text === "" || text.endsWith("\n") ? text : `${text}\n`;
}

function findPair(map: YAMLMap, key: string): Pair<unknown, unknown> | undefined {
  return map.items.find((pair) => isScalar(pair.key) && String(pair.key.value) === key) as Pair<unknown, unknown> | undefined;
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
    if (map.flow) return undefined;
    // Removing the only key of a nested mapping removes the mapping: `limits:` alone would be null.
    if (map.items.length === 1 && depth > 1) return textEdit(text, doc, { path: edit.path.slice(0, -1), remove: true });
    const key = found.key as Node;
    const value = found.value as Node | null;
    if (!key.range || !startsLine(text, key.range[0])) return undefined;
    const end = value?.range ? value.range[2] : key.range[2];
    return text.slice(0, lineStart(text, key.range[0])) + text.slice(endOfLines(text, end));
  }

  if (found) {
    const value = found.value as Node | null;
    if (!value?.range || value.range[0] === value.range[1]) return undefined;
    // A scalar or a flow collection is replaced where it stands.
    if (isScalar(value) || ((isSeq(value) || isMap(value)) && value.flow === true)) {
      return replaceKeepingComment(text, value.range[0], value.range[1], inline(edit.value));
    }
    // A block list by a list that is not empty: the new items where the old ones were, indented alike.
    if (isSeq(value) && Array.isArray(edit.value) && edit.value.length > 0 && startsLine(text, value.range[0])) {
      const column = value.range[0] - lineStart(text, value.range[0]);
      const items = edit.value.map((item) => `- ${inline(item)}`).join(`\n${" ".repeat(column)}`);
      const end = value.range[1];
      return text.slice(0, value.range[0]) + items + (text[end - 1] === "\n" ? "\n" : "") + text.slice(end);
    }
    return undefined;
  }

  // A new key: at the end of the deepest mapping that exists, indented like its keys.
  if (map?.flow) return undefined;
  const rest = edit.path.slice(depth);
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
