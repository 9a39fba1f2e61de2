/**
 * The shell-words splitter `toolctl new --from-curl` reads a curl line with: each case is checked against what
 * a real bash hands a program for the same line (printf of "$@"), so the splitter and the shell agree.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ShellWordsError, splitShellWords } from "../src/util/shell-words.js";

/** The argv bash gives a program for `line` (run with `set -- LINE`, never executed as a command). */
function bashWords(line: string): string[] {
  const result = spawnSync("bash", ["--norc", "--noprofile", "-c", `set -- ${line}\nfor w in "$@"; do printf '%s\\0' "$w"; done`], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`bash: ${result.stderr}`);
  return result.stdout.split("\0").slice(0, -1);
}

const AGREED = [
  `curl https://api.example.com/v1/items`,
  `curl -X POST 'https://api.example.com/v1/items?a=1&b=2'`,
  `curl -H "Authorization: Bearer abc" -H 'X-Thing: it'"'"'s' https://x.test`,
  `curl -d '{"name": "rex", "tags": ["a b"]}' https://x.test`,
  `curl --data "a=\\"quoted\\" \\$HOME \\\\ \\x" https://x.test`,
  `curl a\\ b c\\\\d`,
  `curl 'line one \\
continued' two \\
three`,
  `curl $'tab\\there' $'quote\\'s' $'\\x41\\u00e9\\101' $'nl\\n'`,
  `curl '' "" x`,
  `curl -H "X-Empty;" https://x.test  # a comment`,
  `curl "$TOKEN" '$TOKEN' \${TOKEN}`,
  `curl -sSL -XPOST -dfoo=bar https://x.test/a#frag`,
];

describe("splitShellWords", () => {
  for (const line of AGREED) {
    it(`splits as bash does: ${JSON.stringify(line).slice(0, 70)}`, () => {
      // Variables are kept as written by the splitter; bash expands them, so they are compared unset-free.
      const expected = line.includes("TOKEN") ? ["curl", "$TOKEN", "$TOKEN", "${TOKEN}"] : bashWords(line);
      expect(splitShellWords(line)).toEqual(expected);
    });
  }

  it("keeps $NAME and ${NAME} as written, where bash would expand them", () => {
    expect(splitShellWords(`curl -H "Authorization: Bearer $API_TOKEN" -u "user:\${PASS}"`)).toEqual([
      "curl",
      "-H",
      "Authorization: Bearer $API_TOKEN",
      "-u",
      "user:${PASS}",
    ]);
  });

  it("reads CRLF continued lines as one", () => {
    expect(splitShellWords("curl \\\r\n  -X GET \\\r\n  https://x.test")).toEqual(["curl", "-X", "GET", "https://x.test"]);
  });

  const REFUSED: Array<[string, RegExp]> = [
    [`curl 'unterminated`, /^unterminated ' quote$/],
    [`curl "unterminated`, /^unterminated " quote$/],
    [`curl $'unterminated`, /^unterminated \$' quote$/],
    [`curl x \\`, /backslash ends the line/],
    [`curl https://x.test | jq .`, /'\|' outside quotes is a shell operator/],
    [`curl https://x.test?a=1&b=2`, /'&' outside quotes .*quote a URL/],
    [`curl https://x.test > out.json`, /'>' outside quotes/],
    [`curl -H "X: $(cat token)" https://x.test`, /command substitution/],
    [`curl -H X:\`cat token\` https://x.test`, /command substitution/],
  ];
  for (const [line, message] of REFUSED) {
    it(`refuses ${JSON.stringify(line)}`, () => {
      let thrown: unknown;
      try {
        splitShellWords(line);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ShellWordsError);
      expect((thrown as Error).message).toMatch(message);
    });
  }
});
