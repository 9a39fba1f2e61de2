/**
 * OpenAPI document text → plain value. JSON goes through JSON.parse (a 5 MB spec in tens of milliseconds);
 * anything else is YAML. A syntax error is one line naming the file, line and column.
 */
import { LineCounter, parseDocument } from "yaml";
import { ValidationError } from "../errors.js";

export function specError(source: string, message: string, details: Record<string, unknown> = {}): ValidationError {
  const line = `${source}: ${message}`;
  return new ValidationError("manifest_invalid", line, [line], { file: source, ...details });
}

function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, col: offset - start + 1 };
}

function jsonError(text: string, source: string, error: Error): ValidationError {
  // V8 says "... at position N" and, in newer versions, "(line L column C)"; the position is enough.
  const position = /at position (\d+)/.exec(error.message);
  const message = error.message.replace(/\s*\(line \d+ column \d+\)$/, "").replace(/ in JSON at position \d+$/, "");
  if (!position) return specError(source, `invalid JSON: ${message}`);
  const { line, col } = lineCol(text, Number(position[1]));
  const at = `${source}:${line}:${col}`;
  return new ValidationError("manifest_invalid", `${at}: invalid JSON: ${message}`, [`${at}: invalid JSON: ${message}`], { file: source });
}

function parseYaml(text: string, source: string): unknown {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  const error = document.errors[0];
  if (error) {
    const { line, col } = lineCounter.linePos(error.pos[0]);
    const message = error.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    const at = `${source}:${line}:${col}`;
    throw new ValidationError("manifest_invalid", `${at}: invalid YAML: ${message}`, [`${at}: invalid YAML: ${message}`], { file: source });
  }
  try {
    // Aliases are expanded; the default limit stops "billion laughs" documents.
    return document.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    throw specError(source, `invalid YAML: ${(error as Error).message}`);
  }
}

/**
 * Parses a document; `source` is how messages name it (a path relative to the working directory, or a URL),
 * `location` where it really came from, whose `.json` ending asks for JSON.
 */
export function parseSpecText(text: string, source: string, location = source): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const first = /\S/.exec(body)?.[0];
  if (first === undefined) throw specError(source, "the document is empty");
  if (first === "{" || first === "[" || /\.json$/i.test(location.replace(/[?#].*$/, ""))) {
    try {
      return JSON.parse(body);
    } catch (error) {
      // YAML is a superset of JSON; a file named .json or starting with '{' gets the JSON message.
      throw jsonError(body, source, error as Error);
    }
  }
  return parseYaml(body, source);
}
