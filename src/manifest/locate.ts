/**
 * Source positions for parsed YAML/JSON documents, so that every problem can name file, line and column.
 */
import { parse as parseJsonc, printParseErrorCode, type ParseError } from "jsonc-parser";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type YAMLError } from "yaml";

export interface Position {
  line: number;
  col: number;
}

export interface LocatedDocument {
  data: unknown;
  positionOf(path: readonly PropertyKey[], atKey?: string): Position;
}

export interface SyntaxProblem {
  position: Position;
  message: string;
}

function keyText(key: unknown): string | undefined {
  return isScalar(key) ? String(key.value) : undefined;
}

function positionFromOffset(text: string, offset: number): Position {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length, col: before[before.length - 1]!.length + 1 };
}

const JSON_ERROR_WORDS: Record<string, string> = {
  InvalidSymbol: "unexpected character",
  InvalidNumberFormat: "invalid number",
  PropertyNameExpected: "expected a property name in double quotes",
  ValueExpected: "expected a value (a trailing comma?)",
  ColonExpected: "expected ':'",
  CommaExpected: "expected ','",
  CloseBraceExpected: "expected '}'",
  CloseBracketExpected: "expected ']'",
  EndOfFileExpected: "unexpected text after the end",
  InvalidCommentToken: "comments are not allowed in JSON",
  UnexpectedEndOfComment: "unterminated comment",
  UnexpectedEndOfString: "unterminated string",
  UnexpectedEndOfNumber: "unterminated number",
  InvalidUnicode: "invalid unicode escape",
  InvalidEscapeCharacter: "invalid escape character",
  InvalidCharacter: "invalid character in a string",
};

/**
 * JSON files are held to JSON's own grammar first (YAML would accept trailing commas and comments), then
 * parsed as YAML to get positions. V8's messages often lack a position, so jsonc-parser locates the error.
 */
function strictJsonProblem(text: string): SyntaxProblem | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch {
    const errors: ParseError[] = [];
    parseJsonc(text, errors, { allowTrailingComma: false, disallowComments: true, allowEmptyContent: false });
    const first = errors[0];
    if (!first) return { position: { line: 1, col: 1 }, message: "invalid JSON" };
    const code = printParseErrorCode(first.error);
    return { position: positionFromOffset(text, first.offset), message: `invalid JSON: ${JSON_ERROR_WORDS[code] ?? code}` };
  }
}

/**
 * The yaml library reports an unclosed quote at the end of the file; people need the line where it opens.
 * Scans for quotes that open a scalar (after `key:`, `-`, `[`, `{`, `,` or at line start) and finds the one
 * that never closes.
 */
function unclosedQuoteOffset(text: string, quote: string): number | undefined {
  let open: number | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (open === undefined) {
      if (c === "#" && (i === 0 || /\s/.test(text[i - 1]!))) {
        while (i < text.length && text[i] !== "\n") i++;
        continue;
      }
      if (c === quote && /(^|[:\-\[{,]\s*|\n\s*)$/.test(text.slice(Math.max(0, i - 40), i))) open = i;
    } else if (quote === '"' && c === "\\") {
      i++;
    } else if (c === quote) {
      if (quote === "'" && text[i + 1] === "'") i++;
      else open = undefined;
    }
  }
  return open;
}

function yamlProblem(text: string, error: YAMLError, lineCounter: LineCounter): SyntaxProblem {
  if (error.code === "MULTIPLE_DOCS") {
    return {
      position: lineCounter.linePos(error.pos[0]),
      message: "invalid YAML: a manifest holds one document, but this file has several (separated by ---)",
    };
  }
  let offset = error.pos[0];
  const quote = /Missing closing (["'])quote/.exec(error.message)?.[1];
  if (error.code === "MISSING_CHAR" && quote) offset = unclosedQuoteOffset(text, quote) ?? offset;
  return { position: lineCounter.linePos(offset), message: `invalid YAML: ${error.message.split("\n")[0]}` };
}

export function parseLocated(rawText: string, isJson: boolean): LocatedDocument | SyntaxProblem[] {
  // Editors on some systems save a byte order mark; it is not part of the document.
  const text = rawText.charCodeAt(0) === 0xfeff ? rawText.slice(1) : rawText;
  if (isJson) {
    const problem = strictJsonProblem(text);
    if (problem) return [problem];
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
  if (doc.errors.length > 0) {
    return doc.errors.map((error) => {
      const problem = yamlProblem(text, error, lineCounter);
      return isJson ? { ...problem, message: problem.message.replace(/^invalid YAML/, "invalid JSON") } : problem;
    });
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // An alias bomb ("billion laughs") or a cyclic alias: refused as a problem of the file, not a crash.
    return [{ position: { line: 1, col: 1 }, message: `invalid YAML: ${(error as Error).message.split("\n")[0]}` }];
  }
  return {
    data,
    positionOf: (path, atKey) => locate(doc, lineCounter, path, atKey),
  };
}

function locate(doc: Document, lineCounter: LineCounter, path: readonly PropertyKey[], atKey?: string): Position {
  let node: unknown = doc.contents;
  let best: Node | undefined = (doc.contents as Node | null) ?? undefined;
  const segments = atKey === undefined ? path : [...path, atKey];
  for (const [index, segment] of segments.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((item) => keyText(item.key) === String(segment));
      if (!pair) break;
      // A problem about a key itself (unknown field) points at the key; otherwise at the value.
      const isLast = index === segments.length - 1;
      best = (isLast && atKey !== undefined ? pair.key : (pair.value ?? pair.key)) as Node;
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(segment)];
      if (item === undefined) break;
      best = item as Node;
      node = item;
    } else {
      break;
    }
  }
  const offset = best?.range?.[0] ?? 0;
  return lineCounter.linePos(offset);
}
