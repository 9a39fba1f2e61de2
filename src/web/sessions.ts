/**
 * Who may use the page: one login token, printed on the terminal and good once, exchanged for a session kept
 * here in memory (the browser holds only its random id, in an HttpOnly, SameSite=Strict cookie). A session
 * ends after SESSION_IDLE_MS without a request, or SESSION_MAX_MS after it began, or when the server stops.
 * Each session has its own CSRF token, which every form carries.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const SESSION_IDLE_MS = 30 * 60_000;
export const SESSION_MAX_MS = 12 * 60 * 60_000;

export interface Session {
  /** The CSRF token: a hidden field of every form, compared with what the form sends back. */
  readonly csrf: string;
  readonly startedAt: number;
  lastSeen: number;
}

export type LoginResult = { ok: true; id: string; session: Session } | { ok: false; reason: "used" | "wrong" };

const newSecret = (): string => randomBytes(32).toString("base64url");
const hashOf = (value: string): Buffer => createHash("sha256").update(value).digest();

export function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(hashOf(given), hashOf(expected));
}

export interface SessionLimits {
  idleMs?: number;
  maxMs?: number;
  now?: () => number;
}

export type SessionEnd = "signed out" | "timed out";
const MAX_ENDED = 1000;

export class Sessions {
  /** The login token, shown once on the terminal; only its hash is kept. */
  readonly loginToken = newSecret();
  private readonly loginHash = hashOf(this.loginToken);
  private loginUsed = false;
  /** By the SHA-256 of the cookie's value: the id itself is kept by the browser only. */
  private readonly live = new Map<string, Session>();
  /** How the most recent sessions ended, by the same key: a refusal says "signed out" rather than "ended". */
  private readonly ended = new Map<string, SessionEnd>();
  private readonly idleMs: number;
  private readonly maxMs: number;
  private readonly now: () => number;

  constructor(limits: SessionLimits = {}) {
    this.idleMs = limits.idleMs ?? SESSION_IDLE_MS;
    this.maxMs = limits.maxMs ?? SESSION_MAX_MS;
    this.now = limits.now ?? Date.now;
  }

  /** Exchanges the login token for a new session, once; a second use is refused like a wrong token. */
  login(token: string): LoginResult {
    if (!timingSafeEqual(hashOf(token), this.loginHash)) return { ok: false, reason: "wrong" };
    if (this.loginUsed) return { ok: false, reason: "used" };
    this.loginUsed = true;
    const id = newSecret();
    const now = this.now();
    const session: Session = { csrf: newSecret(), startedAt: now, lastSeen: now };
    this.live.set(hashOf(id).toString("hex"), session);
    return { ok: true, id, session };
  }

  /** The session a cookie names, when it is still live; `touch` counts the request as activity. */
  find(id: string | undefined, touch = true): Session | undefined {
    if (!id) return undefined;
    const key = hashOf(id).toString("hex");
    const session = this.live.get(key);
    if (!session) return undefined;
    if (!this.isLive(session)) {
      this.live.delete(key);
      this.remember(key, "timed out");
      return undefined;
    }
    if (touch) session.lastSeen = this.now();
    return session;
  }

  isLive(session: Session): boolean {
    const now = this.now();
    return now - session.lastSeen <= this.idleMs && now - session.startedAt <= this.maxMs && [...this.live.values()].includes(session);
  }

  end(session: Session): void {
    for (const [key, value] of this.live) {
      if (value !== session) continue;
      this.live.delete(key);
      this.remember(key, "signed out");
    }
  }

  /**
   * How the session a cookie named ended, when it was one of this server's (as `find` or `end` left it); undefined
   * for any other value.
   */
  endOf(id: string): SessionEnd | undefined {
    return this.ended.get(hashOf(id).toString("hex"));
  }

  private remember(key: string, how: SessionEnd): void {
    this.ended.set(key, how);
    // Sessions come one per login link, so this stays small; the bound is for a server left running for months.
    if (this.ended.size > MAX_ENDED) this.ended.delete(this.ended.keys().next().value!);
  }

  get maxAgeSeconds(): number {
    return Math.floor(this.maxMs / 1000);
  }
}
