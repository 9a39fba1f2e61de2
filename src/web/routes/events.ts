/**
 * `/events`: Server-Sent Events for the inbox page. Each event (`inbox`) carries the inbox's version; the page
 * fetches the list again when it differs from the one it shows. The stream ends when the session does.
 */
import type { Route } from "../route.js";

const KEEPALIVE_MS = 25_000;
/** How often the stream looks whether its session still lives (a map lookup): a sign-out ends it this soon. */
const SESSION_CHECK_MS = 1_000;

export const eventRoutes: Route[] = [
  {
    method: "GET",
    path: /^\/events$/,
    async handle({ req, res, sessionIsLive, watchInbox }) {
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", connection: "keep-alive" });
      res.write("retry: 2000\n\n");
      const send = (version: string) => (sessionIsLive() ? res.write(`event: inbox\ndata: ${version}\n\n`) : res.end());
      const stop = watchInbox(send);
      // A session that ended (signed out, or past its time) closes its stream within a second; a comment now and
      // then keeps the connection open through idle periods.
      let quiet = 0;
      const timer = setInterval(() => {
        if (!sessionIsLive()) return void res.end();
        quiet += SESSION_CHECK_MS;
        if (quiet >= KEEPALIVE_MS) (res.write(": keepalive\n\n"), (quiet = 0));
      }, SESSION_CHECK_MS);
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
