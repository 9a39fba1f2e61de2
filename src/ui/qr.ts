/**
 * A QR code as terminal text: two modules per character cell (the upper and lower half blocks), so modules come
 * out square, with the 4-module quiet zone the QR standard (ISO/IEC 18004) asks for on every side.
 *
 * In colour, every cell sets its own colours: dark modules black on a white background, whatever the terminal's
 * theme, so the code reads the same on a dark terminal as on a light one. Without colour (NO_COLOR, or a
 * terminal without it), dark modules are drawn in the terminal's own text colour: right on a light terminal,
 * inverted on a dark one (most phone scanners read that too; the key is printed beside it to type instead).
 */

export interface QrMatrix {
  size: number;
  /** Whether the module at `row`, `col` is dark. */
  get(row: number, col: number): boolean | number;
}

/** Light modules around the symbol, on each side. */
export const QUIET_ZONE = 4;

/** Columns the rendered code takes: the symbol and its quiet zone. */
export function qrWidth(matrix: QrMatrix): number {
  return matrix.size + 2 * QUIET_ZONE;
}

/** Black on white, set explicitly: the 256-colour cube's pure values where the terminal has them, else the basic 16. */
function colours(env: NodeJS.ProcessEnv): { on: string; off: string } {
  const rich = /256|truecolor|24bit|direct/i.test(`${env.TERM ?? ""} ${env.COLORTERM ?? ""}`);
  return { on: rich ? "\u001b[38;5;16;48;5;231m" : "\u001b[30;107m", off: "\u001b[0m" };
}

export function renderQr(matrix: QrMatrix, options: { color: boolean; env?: NodeJS.ProcessEnv }): string {
  const total = qrWidth(matrix);
  const dark = (row: number, col: number): boolean => {
    const r = row - QUIET_ZONE;
    const c = col - QUIET_ZONE;
    return r >= 0 && c >= 0 && r < matrix.size && c < matrix.size && Boolean(matrix.get(r, c));
  };
  const { on, off } = options.color ? colours(options.env ?? {}) : { on: "", off: "" };
  const lines: string[] = [];
  // Rows two at a time; an odd last row is paired with one more row of quiet zone.
  for (let row = 0; row < total; row += 2) {
    let line = "";
    for (let col = 0; col < total; col++) {
      const top = dark(row, col);
      const bottom = row + 1 < total && dark(row + 1, col);
      line += top && bottom ? "█" : top ? "▀" : bottom ? "▄" : " ";
    }
    lines.push(`${on}${line}${off}`);
  }
  return `${lines.join("\n")}\n`;
}
