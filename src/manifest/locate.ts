/**
 * Source positions for parsed YAML/JSON documents, so that every problem can name file, line and column.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";

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

/**
 * JSON files are held to JSON's own grammar first (YAML would accept trailing commas and comments),
 * then parsed as YAML to get positions.
 */
function strictJsonProblem(text: string): SyntaxProblem | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (error) {
    const message = (error as Error).message;
    const offset = /position (\d+)/.exec(message);
    const position = offset ? positionFromOffset(text, Number(offset[1])) : { line: 1, col: 1 };
    return { position, message: `invalid JSON: ${message.replace(/ in JSON at position \d+.*$/, "")}` };
  }
}

export function parseLocated(text: string, isJson: boolean): LocatedDocument | SyntaxProblem[] {
  if (isJson) {
    const problem = strictJsonProblem(text);
    if (problem) return [problem];
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
  if (doc.errors.length > 0) {
    return doc.errors.map((error) => ({
      position: lineCounter.linePos(error.pos[0]),
      message: `invalid ${isJson ? "JSON" : "YAML"}: ${error.message.split("\n")[0]}`,
    }));
  }
  return {
    data: doc.toJS({ maxAliasCount: 100 }),
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
