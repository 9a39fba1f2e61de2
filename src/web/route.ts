/** What a route is given and what it answers: the pieces shared by server.ts and the files under routes/. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Toolctl } from "../api/index.js";
import type { Html } from "./html.js";
import type { Session } from "./sessions.js";

export interface Reply {
  status: number;
  body: Html | string;
  /** Default: text/html. */
  contentType?: string;
  headers?: Record<string, string>;
}

export interface RouteContext {
  toolctl: Toolctl;
  /** The page's own origin, `http://localhost:PORT`: what a browser signs into a passkey assertion. */
  origin: string;
  url: URL;
  /** The path's captured parts. */
  params: string[];
  session: Session;
  /** A POST's form fields (empty for GET). */
  form: URLSearchParams;
  req: IncomingMessage;
  res: ServerResponse;
  /** Writes a refusal to the audit log (`ui.refused`); the route still answers. */
  refused(reason: string, data?: Record<string, unknown>): Promise<void>;
  /** Ends this session (sign-out). */
  endSession(): void;
  /** Whether this session is still live (not ended, not past its time), without counting as activity. */
  sessionIsLive(): boolean;
  /** Subscribes to the inbox's version, for /events; returns the unsubscribe. */
  watchInbox(listener: (version: string) => void): () => void;
}

export interface Route {
  method: "GET" | "POST";
  path: RegExp;
  /** The reply, or undefined when the route wrote the response itself (an event stream). */
  handle(context: RouteContext): Promise<Reply | undefined>;
}

export const reply = (status: number, body: Html): Reply => ({ status, body });

/** A JSON answer, for the page's script (the passkey ceremonies). */
export const json = (status: number, value: unknown): Reply => ({ status, body: JSON.stringify(value), contentType: "application/json; charset=utf-8" });

/** After a POST: the browser loads `location` with GET, so reloading it never repeats the decision. */
export const redirect = (location: string): Reply => ({ status: 303, body: "", headers: { location } });
