/**
 * A curl command line → the parts of one http request: method, URL, headers, body, basic auth, cookies. Split
 * with a shell-words parser (util/shell-words.ts), then read option by option as curl reads them. Options that
 * change only how curl itself behaves (-s, -L, -v, ...) are accepted and left out; any option this does not
 * know is refused by name, so nothing (a proxy password, a client certificate) is silently lost. Error
 * messages name options and positions, never a value: a value may be a credential.
 */
import { UsageError } from "../errors.js";
import { ShellWordsError, splitShellWords } from "../util/shell-words.js";

export interface CurlRequest {
  /** As given with -X, upper-cased; otherwise derived by `curlMethod`. */
  method?: string;
  url: URL;
  headers: Array<[string, string]>;
  /** Each -d/--data*, in order (already encoded for --data-urlencode). */
  data: string[];
  /** --json was used: the data is JSON, and curl sets Content-Type and Accept for it. */
  json: boolean;
  /** -u user[:password], or the URL's user:password@. */
  user?: string;
  /** -G: the data goes into the query string. */
  get: boolean;
  /** -I: a HEAD request. */
  head: boolean;
  /** -b name=value; ... (a cookie file is refused). */
  cookies: string[];
  /** --oauth2-bearer TOKEN. */
  bearer?: string;
  /** -m/--max-time, in seconds. */
  maxTime?: number;
  /** Things left out that the person should know about (an option ignored). */
  notes: string[];
}

const fail = (message: string) => new UsageError(`--from-curl: ${message}`);

/** Options that take a value, by every name curl knows them by; the value says what it is used for. */
const VALUED: Record<string, string> = {
  "-X": "method",
  "--request": "method",
  "-H": "header",
  "--header": "header",
  "-d": "data",
  "--data": "data",
  "--data-ascii": "data",
  "--data-binary": "data-binary",
  "--data-raw": "data-raw",
  "--data-urlencode": "data-urlencode",
  "--json": "json",
  "-u": "user",
  "--user": "user",
  "--url": "url",
  "-A": "user-agent",
  "--user-agent": "user-agent",
  "-e": "referer",
  "--referer": "referer",
  "-b": "cookie",
  "--cookie": "cookie",
  "-m": "max-time",
  "--max-time": "max-time",
  "--oauth2-bearer": "bearer",
  // How curl runs, not what it sends: read and left out.
  "-o": "ignore",
  "--output": "ignore",
  "-w": "ignore",
  "--write-out": "ignore",
  "--connect-timeout": "ignore",
  "--retry": "ignore",
  "--retry-delay": "ignore",
  "--retry-max-time": "ignore",
  "--limit-rate": "ignore",
  "--max-redirs": "ignore",
  "-c": "ignore",
  "--cookie-jar": "ignore",
  "--trace": "ignore",
  "--trace-ascii": "ignore",
  "--stderr": "ignore",
};

/** Options without a value that change nothing toolctl would send. */
const FLAGS = new Set([
  "-s",
  "--silent",
  "-S",
  "--show-error",
  "-v",
  "--verbose",
  "-i",
  "--include",
  "-L",
  "--location",
  "--compressed",
  "-f",
  "--fail",
  "--fail-with-body",
  "-g",
  "--globoff",
  "-N",
  "--no-buffer",
  "-#",
  "--progress-bar",
  "--no-progress-meter",
  "-0",
  "--http1.0",
  "--http1.1",
  "--http2",
  "--http2-prior-knowledge",
  "--http3",
  "-4",
  "--ipv4",
  "-6",
  "--ipv6",
  "--location-trusted",
  "--tr-encoding",
  "--raw",
  "--path-as-is",
]);

/** Options with a meaning toolctl has no equivalent for: refused with the reason. */
const REFUSED: Record<string, string> = {
  "-F": "multipart forms (-F/--form) are not supported: toolctl sends url-encoded forms, JSON or text",
  "--form": "multipart forms (-F/--form) are not supported: toolctl sends url-encoded forms, JSON or text",
  "--form-string": "multipart forms (--form-string) are not supported: toolctl sends url-encoded forms, JSON or text",
  "-T": "uploading a file (-T/--upload-file) is not supported",
  "--upload-file": "uploading a file (-T/--upload-file) is not supported",
  "-x": "a proxy (-x/--proxy) is not part of a tool: toolctl calls the API directly",
  "--proxy": "a proxy (-x/--proxy) is not part of a tool: toolctl calls the API directly",
  "-U": "a proxy (-U/--proxy-user) is not part of a tool: toolctl calls the API directly",
  "--proxy-user": "a proxy (-U/--proxy-user) is not part of a tool: toolctl calls the API directly",
  "-E": "client certificates (-E/--cert) are not supported",
  "--cert": "client certificates (-E/--cert) are not supported",
  "--key": "client certificates (--key) are not supported",
  "-K": "a config file (-K/--config) is not read: give the options on the line",
  "--config": "a config file (-K/--config) is not read: give the options on the line",
  "--digest": "digest authentication (--digest) is not supported: toolctl sends basic, bearer or API-key credentials",
  "--ntlm": "NTLM authentication (--ntlm) is not supported: toolctl sends basic, bearer or API-key credentials",
  "--negotiate": "Negotiate authentication (--negotiate) is not supported: toolctl sends basic, bearer or API-key credentials",
  "--aws-sigv4": "AWS signatures (--aws-sigv4) are not supported",
};

const FLAG_NOTES: Record<string, string> = {
  "-k": "-k/--insecure was left out: toolctl always verifies TLS certificates",
  "--insecure": "-k/--insecure was left out: toolctl always verifies TLS certificates",
};

/** Short options that take their value from the rest of the word or the next word (curl's -XPOST, -H'a: b'). */
const SHORT_VALUED = new Set(Object.keys(VALUED).filter((name) => /^-\w$/.test(name)));
const SHORT_REFUSED = new Set(Object.keys(REFUSED).filter((name) => /^-\w$/.test(name)));

export function parseCurl(line: string): CurlRequest {
  let words: string[];
  try {
    words = splitShellWords(line);
  } catch (error) {
    if (error instanceof ShellWordsError) throw fail(error.message);
    throw error;
  }
  if (words.length === 0) throw fail("the curl command line is empty");
  if (words[0] !== "curl") {
    // Named only when it is a program's name: `TOKEN=… curl …` or a pasted value is not repeated.
    const first = words[0]!;
    throw fail(`expected a command line that starts with curl${/^[A-Za-z0-9._/-]{1,20}$/.test(first) ? `, not ${JSON.stringify(first)}` : ""}`);
  }
  const request: Omit<CurlRequest, "url"> & { url?: URL } = { headers: [], data: [], json: false, get: false, head: false, cookies: [], notes: [] };
  const urls: string[] = [];
  const apply = (option: string, use: string, value: string) => {
    switch (use) {
      case "method":
        request.method = value.toUpperCase();
        break;
      case "header": {
        const colon = value.indexOf(":");
        const semicolon = value.indexOf(";");
        if (colon > 0) {
          const name = value.slice(0, colon).trim();
          const text = value.slice(colon + 1).trim();
          // "Name:" with nothing after it tells curl to leave out a header it would send itself.
          if (text !== "") request.headers.push([name, text]);
        } else if (semicolon > 0 && value.slice(semicolon + 1).trim() === "") {
          request.headers.push([value.slice(0, semicolon).trim(), ""]);
        } else {
          throw fail(`${option} expects 'Name: value'`);
        }
        break;
      }
      case "data":
      case "data-binary":
      case "json":
        if (value.startsWith("@")) throw fail(`${option} @FILE reads the body from a file: put the body itself on the line`);
        // curl drops line ends from -d text (not from --data-binary or --json).
        request.data.push(use === "data" ? value.replace(/[\r\n]/g, "") : value);
        if (use === "json") request.json = true;
        break;
      case "data-raw":
        request.data.push(value);
        break;
      case "data-urlencode": {
        const at = value.indexOf("@");
        const equals = value.indexOf("=");
        if (at !== -1 && (equals === -1 || at < equals)) throw fail(`${option} NAME@FILE reads a file: put the value itself on the line`);
        request.data.push(
          equals === -1 ? encodeURIComponent(value) : `${value.slice(0, equals)}${equals > 0 ? "=" : ""}${encodeURIComponent(value.slice(equals + 1))}`,
        );
        break;
      }
      case "user":
        request.user = value;
        break;
      case "url":
        urls.push(value);
        break;
      case "user-agent":
        request.headers.push(["User-Agent", value]);
        break;
      case "referer":
        request.headers.push(["Referer", value]);
        break;
      case "cookie":
        if (!value.includes("=")) throw fail(`${option} FILE reads cookies from a file: give them as 'name=value; name2=value2'`);
        request.cookies.push(value);
        break;
      case "bearer":
        request.bearer = value;
        break;
      case "max-time": {
        const seconds = Number(value);
        if (!(seconds > 0)) throw fail(`${option} expects a number of seconds`);
        request.maxTime = Math.min(Math.ceil(seconds), 3600);
        break;
      }
      case "ignore":
        break;
    }
  };
  const flag = (option: string) => {
    if (option === "-G" || option === "--get") request.get = true;
    else if (option === "-I" || option === "--head") request.head = true;
    else if (FLAG_NOTES[option]) request.notes.push(FLAG_NOTES[option]);
    else if (!FLAGS.has(option)) throw fail(`curl option ${option} is not supported`);
  };
  let onlyUrls = false;
  for (let i = 1; i < words.length; i++) {
    const word = words[i]!;
    if (onlyUrls || !word.startsWith("-") || word === "-") {
      urls.push(word);
      continue;
    }
    if (word === "--") {
      onlyUrls = true;
      continue;
    }
    if (word.startsWith("--")) {
      // The option's name only: what follows it in the same word (`--header=…`) may be a credential.
      const name = /^--[A-Za-z0-9][A-Za-z0-9.-]*/.exec(word)?.[0] ?? "--";
      if (name !== word) {
        // curl has no --option=value form: it refuses `--header=…` as an unknown option, and so is it here.
        if (word[name.length] === "=" && (VALUED[name] || REFUSED[name] || FLAGS.has(name) || FLAG_NOTES[name] || name === "--get" || name === "--head"))
          throw fail(`curl option ${name}=… is not supported: curl reads no --option=value form; write ${name} VALUE`);
        throw fail(`curl option ${name}… is not supported`);
      }
      if (REFUSED[word]) throw fail(REFUSED[word]);
      const use = VALUED[word];
      if (use) {
        if (i + 1 >= words.length) throw fail(`${word} needs a value`);
        apply(word, use, words[++i]!);
      } else flag(word);
      continue;
    }
    // Short options, possibly run together (-sSL), the last of them possibly taking the rest as its value (-XPOST).
    for (let k = 1; k < word.length; k++) {
      const option = `-${word[k]}`;
      if (SHORT_REFUSED.has(option)) throw fail(REFUSED[option]!);
      if (SHORT_VALUED.has(option)) {
        const rest = word.slice(k + 1);
        if (rest !== "") apply(option, VALUED[option]!, rest);
        else {
          if (i + 1 >= words.length) throw fail(`${option} needs a value`);
          apply(option, VALUED[option]!, words[++i]!);
        }
        break;
      }
      flag(option);
    }
  }
  if (urls.length === 0) throw fail("no URL in the curl command line");
  if (urls.length > 1) throw fail(`${urls.length} URLs in the curl command line: give one request`);
  // curl reads a URL without a scheme as http://.
  const given = /^[a-z][a-z0-9+.-]*:\/\//i.test(urls[0]!) ? urls[0]! : `http://${urls[0]}`;
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw fail("the URL is not valid");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw fail(`${url.protocol.slice(0, -1)} URLs are not supported: toolctl calls http and https`);
  // The URL parser takes `$API_URL` or `{{baseUrl}}` as a host: they would become baseUrl, never expanded.
  if (!isHostName(url.hostname))
    throw fail(
      "the URL's host is not a host name (a shell variable or a {{placeholder}} is not expanded): write the URL out, as in https://api.example.com/users",
    );
  if (url.username !== "" || url.password !== "") {
    request.user ??= `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    url.username = "";
    url.password = "";
  }
  return { ...request, url };
}

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** A DNS name (as the URL parser gives it: lower case, IDNs in punycode), an IPv4 address or a bracketed IPv6 address. */
function isHostName(host: string): boolean {
  if (/^\[[0-9a-f:.]+\]$/.test(host)) return true;
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  return name.length > 0 && name.length <= 253 && name.split(".").every((label) => LABEL.test(label));
}

/** The method curl would send. */
export function curlMethod(request: CurlRequest): string {
  if (request.method) return request.method;
  if (request.head) return "HEAD";
  if (request.get) return "GET";
  return request.data.length > 0 ? "POST" : "GET";
}
