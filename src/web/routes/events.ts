/**
 * `/events`: Server-Sent Events for the inbox page. Each event (`inbox`) carries the inbox's version; the page
 * fetches the list again when it differs from the one it shows. The stream ends when the session does.
 */
import type { Route } from "../route.js";

const KEEPALIVE_MS = 25_000;

export const eventRoutes: Route[] = [
  {
    method: "GET",
    path: /^\/events$/,
    async handle({ req, res, sessionIsLive, watchInbox }) {
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", connection: "keep-alive" });
      res.write("retry: 2000\n\n");
      const send = (version: string) => res.write(`event: inbox\ndata: ${version}\n\n`);
      const stop = watchInbox(send);
      // A comment now and then keeps the connection open through idle periods; it is also when a session that
      // ended (signed out, or past its time) closes its stream.
      const timer = setInterval(() => {
        if (!sessionIsLive()) res.end();
        else res.write(": keepalive\n\n");
      }, KEEPALIVE_MS);
      const done = () => {
        clearInterval(timer);
        stop();
      };
      req.once("close", done);
      res.once("close", done);
      return undefined;
    },
  },
];
