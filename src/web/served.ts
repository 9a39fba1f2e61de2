/**
 * Whether an approval page is served for a home, and where: `ui.json` in the home, written by whatever serves
 * the page (`toolctl ui`, `toolctl mcp --http --ui`) once it listens, and removed when it stops. `toolctl mcp`
 * reads it when it files an approval request, to send the human (through the client, and in its log) to that
 * request's own page. It holds no secret: the page's address and port, and the serving process (its pid and,
 * on Linux, its start time), so that a file left behind by a process that died, or whose pid was reused since,
 * is ignored. Two servers of one home: the one started last is named; the first leaves the file alone when it stops.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { currentProcess, isRunning } from "../util/process.js";

export const PAGE_FILE = "ui.json";

export interface ServedPage {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  port: number;
  pid: number;
  /** Linux: the process's start time (field 22 of /proc/PID/stat); null elsewhere. */
  start: string | null;
  startedAt: string;
}

/** The page of one approval request on a page served at `origin`: no secret in it (signing in is separate). */
export function approvalPageUrl(origin: string, id: string): string {
  return `${origin}/approvals/${encodeURIComponent(id)}`;
}

/** Writes `ui.json` for a page served at `origin` by this process; returns what removes it again (if still ours). */
export function announcePage(home: string, origin: string): () => void {
  const me = currentProcess();
  const file = path.join(home, PAGE_FILE);
  const page: ServedPage = { url: origin, port: Number(new URL(origin).port), pid: me.pid, start: me.start, startedAt: new Date().toISOString() };
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(page, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, file);
  return () => {
    const now = read(file);
    if (now?.pid === me.pid && now.url === origin) rmSync(file, { force: true });
  };
}

/** The page served for `home` right now, if any: `ui.json` naming a process that still runs. */
export function servedPage(home: string): ServedPage | undefined {
  const page = read(path.join(home, PAGE_FILE));
  return page && isRunning(page.pid, page.start) ? page : undefined;
}

function read(file: string): ServedPage | undefined {
  try {
    const value = JSON.parse(readFileSync(file, "utf8")) as Partial<ServedPage>;
    const ok =
      typeof value.url === "string" &&
      /^http:\/\/[^/?#]+$/.test(value.url) &&
      typeof value.pid === "number" &&
      Number.isInteger(value.pid) &&
      value.pid > 0 &&
      (value.start === null || typeof value.start === "string");
    return ok ? (value as ServedPage) : undefined;
  } catch {
    return undefined;
  }
}
