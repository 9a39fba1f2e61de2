/**
 * Reading a spec or one of the files it refers to: local files from disk, URLs through toolctl's outbound
 * guard (the same SSRF checks and DNS pinning as the http runner). Nothing is ever fetched any other way.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { PolicyError, UsageError } from "../errors.js";
import { HttpTransportError, sendHttp } from "../net/client.js";
import { redactUrl, type OutboundPolicy } from "../net/outbound-policy.js";

const MAX_SPEC_BYTES = 64 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 30_000;

export interface Fetched {
  text: string;
  /** Where the text really came from (after redirects): relative references resolve against it. */
  url: string;
}

export async function readLocal(url: string, shown: string): Promise<Fetched> {
  try {
    return { text: await readFile(fileURLToPath(url), "utf8"), url };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (error as Error).message;
    throw new UsageError(`${shown}: cannot read: ${reason}`, { file: shown });
  }
}

export async function fetchRemote(url: string, policy: OutboundPolicy, signal: AbortSignal | undefined): Promise<Fetched> {
  const shown = redactUrl(url);
  let response;
  try {
    response = await sendHttp(
      {
        method: "GET",
        url,
        timeoutMs: FETCH_TIMEOUT_MS,
        maxResponseBytes: MAX_SPEC_BYTES,
        headers: { accept: "application/json, application/yaml, application/x-yaml, text/yaml, text/plain;q=0.9, */*;q=0.5" },
      },
      policy,
      { signal },
    );
  } catch (error) {
    if (error instanceof PolicyError) throw error;
    if (error instanceof HttpTransportError) throw new UsageError(`${shown}: cannot fetch: ${error.message}`, { url: shown });
    throw error;
  }
  if (response.status < 200 || response.status >= 300) throw new UsageError(`${shown}: cannot fetch: HTTP ${response.status}`, { url: shown });
  return { text: response.body.toString("utf8"), url: response.url };
}
