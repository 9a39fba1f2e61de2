/**
 * Every relative link in README.md and docs/*.md leads to a file that exists and, with a #fragment, to a
 * heading of that file (GitHub's anchors). External links (https:, mailto:) are not fetched.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot, tempDir } from "./helpers.js";
import { anchors, links, slug } from "./markdown.js";

/**
 * Pages linked from the docs that are written on a branch of their own: a link to one is accepted while the
 * file is absent, and checked like any other once it exists.
 */
const WRITTEN_ELSEWHERE = new Set(["docs/api.md"]);

function docFiles(): string[] {
  const docs = existsSync(path.join(repoRoot, "docs"))
    ? readdirSync(path.join(repoRoot, "docs"))
        .filter((f) => f.endsWith(".md"))
        .sort()
    : [];
  return ["README.md", ...docs.map((f) => `docs/${f}`)];
}

/** The broken links of one Markdown file, as `file:line: target: why`. */
function brokenLinks(file: string, root = repoRoot): string[] {
  const absolute = path.resolve(root, file);
  const problems: string[] = [];
  for (const { target, line } of links(readFileSync(absolute, "utf8"))) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) continue;
    const hash = target.indexOf("#");
    const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
    const fragment = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const where = `${file}:${line}: ${target}`;
    const resolved = pathPart === "" ? absolute : path.resolve(path.dirname(absolute), pathPart);
    const relative = path.relative(root, resolved).split(path.sep).join("/");
    if (!existsSync(resolved)) {
      if (!WRITTEN_ELSEWHERE.has(relative)) problems.push(`${where}: ${relative} does not exist`);
      continue;
    }
    if (fragment === undefined || !resolved.endsWith(".md") || !statSync(resolved).isFile()) continue;
    if (!anchors(readFileSync(resolved, "utf8")).has(fragment)) problems.push(`${where}: ${relative} has no heading #${fragment}`);
  }
  return problems;
}

describe("links in README.md and docs/", () => {
  it("the docs are there", () => {
    expect(docFiles()).toContain("docs/README.md");
    expect(docFiles()).toContain("docs/commands.md");
  });

  for (const file of docFiles()) {
    it(`${file}: every relative link leads to a file and a heading that exist`, () => {
      expect(brokenLinks(file)).toEqual([]);
    });
  }
});

describe("the link check itself", () => {
  it("makes anchors the way GitHub does", () => {
    expect(slug("`toolctl apply <plan.json | file>`")).toBe("toolctl-apply-planjson--file");
    expect(slug("The Docker sandbox (docker runtime, and process tools run with `--sandbox docker`)")).toBe(
      "the-docker-sandbox-docker-runtime-and-process-tools-run-with---sandbox-docker",
    );
    expect(slug("Requests: styles, cookies and optional parameters")).toBe("requests-styles-cookies-and-optional-parameters");
    expect(slug("`toolctl tool approve|revoke|enable|disable|remove|clear-state <name>`")).toBe(
      "toolctl-tool-approverevokeenabledisableremoveclear-state-name",
    );
    expect(slug("Keys in [the keyring](x.md) *now*")).toBe("keys-in-the-keyring-now");
  });

  it("reports a missing file, a missing heading and a repeated heading's anchor, and ignores code", () => {
    const root = tempDir("toolctl-docs-links-");
    writeFileSync(path.join(root, "b.md"), "# Title\n\n## Same\n\n## Same\n\n```md\n## Not a heading\n```\n");
    writeFileSync(
      path.join(root, "a.md"),
      [
        "# A",
        "[ok](b.md#title) [ok too](b.md#same-1) [self](#a) [outside](https://example.com/nowhere.md)",
        "[missing file](c.md) [missing heading](b.md#nope) [fenced heading](b.md#not-a-heading)",
        "`[in code](d.md)`",
        "```",
        "[in a block](e.md)",
        "```",
        "[written elsewhere](docs/api.md)",
      ].join("\n"),
    );
    expect(brokenLinks("a.md", root)).toEqual([
      "a.md:3: c.md: c.md does not exist",
      "a.md:3: b.md#nope: b.md has no heading #nope",
      "a.md:3: b.md#not-a-heading: b.md has no heading #not-a-heading",
    ]);
  });
});
