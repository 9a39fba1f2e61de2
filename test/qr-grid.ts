/**
 * What a QR code printed in a terminal looks like, as pixels a decoder can read: the terminal's raw output is
 * replayed cell by cell (the colour escape codes it sets, and the theme's own colours where it sets none), each
 * half-block character becomes its upper and lower module, and the block is drawn on the terminal's background.
 */
import jsQR from "jsqr";

type Rgb = readonly [number, number, number];

export interface Theme {
  name: string;
  foreground: Rgb;
  background: Rgb;
}

export const LIGHT: Theme = { name: "light", foreground: [20, 20, 20], background: [250, 250, 250] };
export const DARK: Theme = { name: "dark", foreground: [220, 220, 220], background: [30, 30, 30] };

// xterm's 16 colours, as a typical theme keeps them.
const BASIC: Rgb[] = [
  [0, 0, 0],
  [205, 0, 0],
  [0, 205, 0],
  [205, 205, 0],
  [0, 0, 238],
  [205, 0, 205],
  [0, 205, 205],
  [229, 229, 229],
  [127, 127, 127],
  [255, 0, 0],
  [0, 255, 0],
  [255, 255, 0],
  [92, 92, 255],
  [255, 0, 255],
  [0, 255, 255],
  [255, 255, 255],
];

function palette(n: number): Rgb {
  if (n < 16) return BASIC[n]!;
  if (n < 232) {
    const i = n - 16;
    const level = (v: number) => (v === 0 ? 0 : 55 + v * 40);
    return [level(Math.floor(i / 36)), level(Math.floor(i / 6) % 6), level(i % 6)];
  }
  const grey = 8 + (n - 232) * 10;
  return [grey, grey, grey];
}

interface Cell {
  char: string;
  fg: Rgb;
  bg: Rgb;
}

/** The terminal's lines as coloured cells: SGR codes applied, other escape sequences dropped. */
export function cells(raw: string, theme: Theme): Cell[][] {
  const lines: Cell[][] = [];
  let fg: Rgb = theme.foreground;
  let bg: Rgb = theme.background;
  for (const line of raw.replace(/\r/g, "").split("\n")) {
    const row: Cell[] = [];
    const tokens = line.matchAll(
      /\u001b\[([0-9;?]*)([ -/]*[@-~])|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[()][A-Za-z0-9]|\u001b[=>78cDEHM]|([^\u001b])/gu,
    );
    for (const token of tokens) {
      if (token[3] !== undefined) {
        row.push({ char: token[3], fg, bg });
        continue;
      }
      if (token[2] !== "m") continue;
      const params = (token[1] || "0").split(";").map(Number);
      for (let i = 0; i < params.length; i++) {
        const p = params[i]!;
        if (p === 0) ((fg = theme.foreground), (bg = theme.background));
        else if (p === 39) fg = theme.foreground;
        else if (p === 49) bg = theme.background;
        else if (p >= 30 && p <= 37) fg = BASIC[p - 30]!;
        else if (p >= 90 && p <= 97) fg = BASIC[p - 90 + 8]!;
        else if (p >= 40 && p <= 47) bg = BASIC[p - 40]!;
        else if (p >= 100 && p <= 107) bg = BASIC[p - 100 + 8]!;
        else if ((p === 38 || p === 48) && params[i + 1] === 5) {
          const colour = palette(params[i + 2]!);
          if (p === 38) fg = colour;
          else bg = colour;
          i += 2;
        } else if ((p === 38 || p === 48) && params[i + 1] === 2) {
          const colour: Rgb = [params[i + 2]!, params[i + 3]!, params[i + 4]!];
          if (p === 38) fg = colour;
          else bg = colour;
          i += 4;
        }
      }
    }
    lines.push(row);
  }
  return lines;
}

const QR_CHARS = /^[ █▀▄]+$/u;

/** The printed code: the longest run of lines of the same width made only of blocks and spaces, with a block in it. */
export function qrBlock(rows: Cell[][]): Cell[][] {
  let best: Cell[][] = [];
  let run: Cell[][] = [];
  const text = (row: Cell[]) => row.map((cell) => cell.char).join("");
  for (const row of rows) {
    const line = text(row);
    if (line.length >= 21 && QR_CHARS.test(line) && (run.length === 0 || row.length === run[0]!.length)) run.push(row);
    else run = QR_CHARS.test(line) && line.length >= 21 ? [row] : [];
    if (run.length > best.length && run.some((r) => /[█▀▄]/u.test(text(r)))) best = [...run];
  }
  return best;
}

/** Each cell's two modules as colours: the glyph's half in the foreground colour, the rest in the background. */
export function modules(block: Cell[][]): Rgb[][] {
  const grid: Rgb[][] = [];
  for (const row of block) {
    const top: Rgb[] = [];
    const bottom: Rgb[] = [];
    for (const cell of row) {
      top.push(cell.char === "█" || cell.char === "▀" ? cell.fg : cell.bg);
      bottom.push(cell.char === "█" || cell.char === "▄" ? cell.fg : cell.bg);
    }
    grid.push(top, bottom);
  }
  return grid;
}

export function luminance([r, g, b]: Rgb): number {
  return 0.299 * r + 0.587 * g + 0.114 * b;
}

/** The module grid as an RGBA image, `scale` pixels a module, inside `border` modules of the terminal's background. */
export function image(grid: Rgb[][], theme: Theme, scale = 4, border = 6): { data: Uint8ClampedArray; width: number; height: number } {
  const width = (grid[0]!.length + 2 * border) * scale;
  const height = (grid.length + 2 * border) * scale;
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const row = Math.floor(y / scale) - border;
      const col = Math.floor(x / scale) - border;
      const colour = grid[row]?.[col] ?? theme.background;
      data.set([colour[0], colour[1], colour[2], 255], (y * width + x) * 4);
    }
  }
  return { data, width, height };
}

/** What a scanner reads from the terminal's output under `theme`, or null. */
export function decodeTerminal(raw: string, theme: Theme, inversion: "dontInvert" | "attemptBoth" = "dontInvert"): string | null {
  const block = qrBlock(cells(raw, theme));
  if (block.length === 0) return null;
  const { data, width, height } = image(modules(block), theme);
  try {
    return jsQR(data, width, height, { inversionAttempts: inversion })?.data ?? null;
  } catch {
    // jsQR can throw on an image where it finds finder-like shapes but no code: nothing read.
    return null;
  }
}
