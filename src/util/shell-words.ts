/**
 * Splits a command line into words as a POSIX shell (bash) would, without running or expanding anything:
 * a line pasted from documentation or a browser's "Copy as cURL" becomes the argv the program would get.
 *
 * Understood: blanks between words; '…' (literal); "…" (where \ escapes $ ` " \ and newline only); $'…'
 * (bash's ANSI-C quoting: \n \t \r \\ \' \" \xHH \uHHHH \UHHHHHHHH \NNN octal, \e, \a, \b, \f, \v); a backslash
 * outside quotes; backslash-newline (a continued line); a # comment at the start of a word. `$NAME` and
 * `${NAME}` are kept as written: nothing is expanded. Refused, since they would need a shell to mean anything:
 * command substitution ($( ) and backquotes) and control operators outside quotes (| & ; < > ( )).
 */

export class ShellWordsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ShellWordsError";
  }
}

const BLANK = /[ \t\n\r]/;
const OPERATORS = "|&;<>()";

const SIMPLE_ESCAPES: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  a: "\x07",
  b: "\b",
  e: "\x1b",
  E: "\x1b",
  f: "\f",
  v: "\v",
  "\\": "\\",
  "'": "'",
  '"': '"',
  "?": "?",
};

/** The body of a $'…' string from `start` (just after the opening quote): its text and where it ends. */
function ansiC(line: string, start: number): { text: string; end: number } {
  let text = "";
  let i = start;
  while (i < line.length) {
    const c = line[i]!;
    if (c === "'") return { text, end: i + 1 };
    if (c !== "\\") {
      text += c;
      i++;
      continue;
    }
    const next = line[i + 1];
    if (next === undefined) break;
    if (SIMPLE_ESCAPES[next] !== undefined) {
      text += SIMPLE_ESCAPES[next];
      i += 2;
      continue;
    }
    const hex = (max: number, from: number) => /^[0-9a-fA-F]+/.exec(line.slice(from, from + max))?.[0];
    if (next === "x" || next === "u" || next === "U") {
      const digits = hex(next === "x" ? 2 : next === "u" ? 4 : 8, i + 2);
      if (digits) {
        const code = Number.parseInt(digits, 16);
        text += next === "x" ? String.fromCharCode(code) : code <= 0x10ffff ? String.fromCodePoint(code) : "";
        i += 2 + digits.length;
        continue;
      }
    }
    const octal = /^[0-7]{1,3}/.exec(line.slice(i + 1, i + 4))?.[0];
    if (octal) {
      text += String.fromCharCode(Number.parseInt(octal, 8) & 0xff);
      i += 1 + octal.length;
      continue;
    }
    // An unknown escape is kept as written, as bash does.
    text += `\\${next}`;
    i += 2;
  }
  throw new ShellWordsError("unterminated $' quote");
}

export function splitShellWords(line: string): string[] {
  const words: string[] = [];
  let word = "";
  // A word exists once anything was written for it, even '' (an empty argument).
  let inWord = false;
  let i = 0;
  const end = () => {
    if (inWord) words.push(word);
    word = "";
    inWord = false;
  };
  while (i < line.length) {
    const c = line[i]!;
    if (BLANK.test(c)) {
      end();
      i++;
      continue;
    }
    if (c === "#" && !inWord) {
      while (i < line.length && line[i] !== "\n") i++;
      continue;
    }
    if (c === "\\") {
      const next = line[i + 1];
      if (next === undefined) throw new ShellWordsError("a backslash ends the line: nothing for it to escape");
      // A continued line, also as copied from a file with CRLF line ends.
      if (next === "\r" && line[i + 2] === "\n") {
        i += 3;
        continue;
      }
      if (next !== "\n") {
        word += next;
        inWord = true;
      }
      i += 2;
      continue;
    }
    if (c === "'") {
      const close = line.indexOf("'", i + 1);
      if (close === -1) throw new ShellWordsError("unterminated ' quote");
      word += line.slice(i + 1, close);
      inWord = true;
      i = close + 1;
      continue;
    }
    if (c === "$" && line[i + 1] === "'") {
      const quoted = ansiC(line, i + 2);
      word += quoted.text;
      inWord = true;
      i = quoted.end;
      continue;
    }
    if (c === '"') {
      i++;
      let closed = false;
      while (i < line.length) {
        const d = line[i]!;
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === "\\" && i + 1 < line.length && '$`"\\\n'.includes(line[i + 1]!)) {
          if (line[i + 1] !== "\n") word += line[i + 1];
          i += 2;
          continue;
        }
        if (d === "`" || (d === "$" && line[i + 1] === "("))
          throw new ShellWordsError("command substitution ($(…) or `…`) needs a shell: put the value itself");
        word += d;
        i++;
      }
      if (!closed) throw new ShellWordsError('unterminated " quote');
      inWord = true;
      continue;
    }
    if (c === "`" || (c === "$" && line[i + 1] === "(")) throw new ShellWordsError("command substitution ($(…) or `…`) needs a shell: put the value itself");
    if (OPERATORS.includes(c)) {
      throw new ShellWordsError(
        `'${c}' outside quotes is a shell operator: give one command, without pipes, redirections or lists (quote a URL that has '&' in it)`,
      );
    }
    word += c;
    inWord = true;
    i++;
  }
  end();
  return words;
}
