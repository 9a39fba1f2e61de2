/**
 * `mkdir -p`, each missing directory made once. Node's own recursive mkdir retries for ever when mkdir answers
 * ENOENT under a parent that exists (as /proc does), which left a home, a config or a compile cache under /proc
 * spinning at full CPU instead of failing.
 */
import { mkdirSync, statSync } from "node:fs";
import path from "node:path";

export function makeDirs(dir: string, mode: number): void {
  const target = path.resolve(dir);
  try {
    mkdirSync(target, { mode });
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST" && statSync(target).isDirectory()) return;
    const parent = path.dirname(target);
    if (code !== "ENOENT" || parent === target) throw error;
    makeDirs(parent, mode);
  }
  mkdirSync(target, { mode });
}
