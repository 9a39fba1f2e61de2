/**
 * A fake GitHub REST API on 127.0.0.1 that speaks GitHub's wire format: `Authorization: Bearer <token>` (or
 * `token <token>`), a required User-Agent, JSON answers with `content-type: application/json; charset=utf-8`,
 * and GitHub's error shape `{"message", "documentation_url", "status": "<code>"}` (422s may add `errors`).
 *
 * - A request without a User-Agent is `403` in text/plain, as GitHub's edge answers it; a wrong or missing
 *   token is `401 Bad credentials`. The `X-GitHub-Api-Version` of each request is kept in `apiVersions`.
 * - Repositories: `POST /user/repos` (422 "Repository creation failed." for a missing or invalid name, or one
 *   that exists, case-insensitively; `auto_init` commits a README.md to `main`), `GET` and `DELETE /repos/:o/:r`.
 * - The Git data API over an object store per repository: blobs (`POST git/blobs`, utf-8 or base64), trees
 *   (`POST git/trees`, optional `base_tree`), commits (`POST git/commits`, `GET git/commits/:sha`) and refs
 *   (`GET git/ref/*`, `POST git/refs`, `PATCH git/refs/*`, which refuses a non-fast-forward unless `force`).
 *   Writes to an empty repository (no refs) are `409 Git Repository is empty.`, as on GitHub.
 * - Blob SHAs are real git SHA-1s (`blob <len>\0<content>`); tree and commit SHAs are SHA-1s of a canonical JSON
 *   of their contents, deterministic but not git's. Trees are stored flat: nested paths (`src/a.ts`) are kept
 *   as they are, and a `tree` entry is expanded into its blobs under its path.
 * - `GET /user` for the token's login. `fileAt` reads a file at the tip of a repository's default branch.
 */
import { createHash } from "node:crypto";
import type http from "node:http";
import { FakeProvider, randomId, sendJson, sendText, type SeenRequest } from "./server.js";

export interface GitTreeEntry {
  path: string;
  mode: string;
  type: "blob";
  sha: string;
  size: number;
}

export interface GitCommit {
  tree: string;
  parents: string[];
  message: string;
  author: { name: string; email: string; date: string };
}

export interface FakeRepo {
  id: number;
  name: string;
  full_name: string;
  owner: { login: string };
  private: boolean;
  description: string | null;
  html_url: string;
  clone_url: string;
  default_branch: string;
  blobs: Map<string, Buffer>;
  trees: Map<string, GitTreeEntry[]>;
  commits: Map<string, GitCommit>;
  /** Full ref name (`refs/heads/main`) → commit SHA. */
  refs: Map<string, string>;
}

export interface FakeGitHubOptions {
  token?: string;
  login?: string;
}

const API = "https://api.github.com";
const DOCS = "https://docs.github.com/rest";
const NO_USER_AGENT =
  "Request forbidden by administrative rules. Please make sure your request has a User-Agent header " +
  "(https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.\n";
const MODES = new Set(["100644", "100755", "120000", "040000"]);

class GitHubError {
  constructor(
    readonly status: number,
    readonly message: string,
    readonly extra: Record<string, unknown> = {},
  ) {}
}

const notFound = () => new GitHubError(404, "Not Found");
const unprocessable = (message: string) => new GitHubError(422, message);
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
const sha1 = (data: string | Buffer) => createHash("sha1").update(data).digest("hex");

function parseJson(body: string): Record<string, unknown> {
  try {
    const value: unknown = body === "" ? {} : JSON.parse(body);
    if (isObject(value)) return value;
  } catch {
    // Answered below, as GitHub does for any body it cannot read.
  }
  throw new GitHubError(400, "Problems parsing JSON");
}

export class FakeGitHub extends FakeProvider {
  readonly token: string;
  readonly login: string;
  /** Repositories by `owner/name`. */
  readonly repos = new Map<string, FakeRepo>();
  /** Full names of deleted repositories, in order. */
  readonly deletedRepos: string[] = [];
  /** The `X-GitHub-Api-Version` of every request, in order (null when absent), parallel to `server.requests`. */
  readonly apiVersions: Array<string | null> = [];
  private nextId = 100_000_001;

  constructor(options: FakeGitHubOptions = {}) {
    super();
    this.token = options.token ?? `ghp_${randomId(36)}`;
    this.login = options.login ?? "octo-dev";
  }

  /** The content of `path` at the tip of the default branch of `fullName`, or undefined. */
  fileAt(fullName: string, path: string): string | undefined {
    const repo = this.repos.get(fullName);
    const tip = repo?.refs.get(`refs/heads/${repo.default_branch}`);
    const commit = tip === undefined ? undefined : repo?.commits.get(tip);
    const entry = commit && repo?.trees.get(commit.tree)?.find((e) => e.path === path);
    return entry ? repo?.blobs.get(entry.sha)?.toString("utf8") : undefined;
  }

  protected handle(req: SeenRequest, res: http.ServerResponse): void {
    const version = req.headers["x-github-api-version"];
    this.apiVersions.push(typeof version === "string" ? version : null);
    if (!req.headers["user-agent"]) return sendText(res, 403, NO_USER_AGENT);
    const headers = { "content-type": "application/json; charset=utf-8", "x-github-request-id": randomId(16, "0123456789ABCDEF") };
    try {
      const match = /^(?:Bearer|token) (.+)$/.exec(req.headers.authorization ?? "");
      if (match?.[1] !== this.token) throw new GitHubError(401, "Bad credentials");
      const [status, body] = this.route(req);
      if (status === 204) {
        res.writeHead(204, { "x-github-request-id": headers["x-github-request-id"] });
        res.end();
      } else sendJson(res, status, body, headers);
    } catch (error) {
      if (!(error instanceof GitHubError)) throw error;
      sendJson(res, error.status, { message: error.message, ...error.extra, documentation_url: DOCS, status: String(error.status) }, headers);
    }
  }

  private route(req: SeenRequest): [number, unknown] {
    const url = new URL(req.url, "http://x");
    const route = `${req.method} ${url.pathname}`;
    if (route === "GET /user") return [200, this.userJson()];
    if (route === "POST /user/repos") return [201, this.repoJson(this.createRepo(parseJson(req.body)))];
    const match = /^(\w+) \/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(route);
    if (!match) throw notFound();
    const [, method, owner, name, rest = ""] = match;
    const repo = this.findRepo(`${decodeURIComponent(owner!)}/${decodeURIComponent(name!)}`);
    const action = `${method} ${rest}`;
    let m: RegExpExecArray | null;
    if (action === "GET ") return [200, this.repoJson(repo)];
    if (action === "DELETE ") {
      this.repos.delete(repo.full_name);
      this.deletedRepos.push(repo.full_name);
      return [204, null];
    }
    if ((m = /^GET \/git\/ref\/(.+)$/.exec(action))) {
      this.requireNotEmpty(repo);
      const ref = `refs/${m[1]!}`;
      if (!repo.refs.has(ref)) throw notFound();
      return [200, this.refJson(repo, ref)];
    }
    if ((m = /^GET \/git\/commits\/([0-9a-f]{40})$/.exec(action))) {
      if (!repo.commits.has(m[1]!)) throw notFound();
      return [200, this.commitJson(repo, m[1]!)];
    }
    const write = ["POST /git/blobs", "POST /git/trees", "POST /git/commits", "POST /git/refs"].includes(action) || action.startsWith("PATCH /git/refs/");
    if (!write) throw notFound();
    this.requireNotEmpty(repo);
    const body = parseJson(req.body);
    if (action === "POST /git/blobs") return [201, this.createBlob(repo, body)];
    if (action === "POST /git/trees") return [201, this.createTree(repo, body)];
    if (action === "POST /git/commits") return [201, this.createCommit(repo, body)];
    if (action === "POST /git/refs") return [201, this.createRef(repo, body)];
    return [200, this.updateRef(repo, `refs/${action.slice("PATCH /git/refs/".length)}`, body)];
  }

  private findRepo(fullName: string): FakeRepo {
    const repo = [...this.repos.values()].find((r) => r.full_name.toLowerCase() === fullName.toLowerCase());
    if (!repo) throw notFound();
    return repo;
  }

  private requireNotEmpty(repo: FakeRepo): void {
    if (repo.refs.size === 0) throw new GitHubError(409, "Git Repository is empty.");
  }

  private createRepo(body: Record<string, unknown>): FakeRepo {
    const failed = (error: Record<string, unknown>) => new GitHubError(422, "Repository creation failed.", { errors: [{ resource: "Repository", ...error }] });
    const name = body.name;
    if (typeof name !== "string" || !/^[A-Za-z0-9._-]{1,100}$/.test(name) || name === "." || name === "..") {
      throw failed({ code: "missing_field", field: "name" });
    }
    const fullName = `${this.login}/${name}`;
    if ([...this.repos.keys()].some((key) => key.toLowerCase() === fullName.toLowerCase())) {
      throw failed({ code: "custom", field: "name", message: "name already exists on this account" });
    }
    const repo: FakeRepo = {
      id: this.nextId++,
      name,
      full_name: fullName,
      owner: { login: this.login },
      private: body.private === true,
      description: typeof body.description === "string" ? body.description : null,
      html_url: `https://github.com/${fullName}`,
      clone_url: `https://github.com/${fullName}.git`,
      default_branch: "main",
      blobs: new Map(),
      trees: new Map(),
      commits: new Map(),
      refs: new Map(),
    };
    this.repos.set(fullName, repo);
    if (body.auto_init === true) {
      const blob = this.storeBlob(repo, Buffer.from(`# ${name}\n`));
      const tree = this.storeTree(repo, [{ path: "README.md", mode: "100644", type: "blob", sha: blob, size: repo.blobs.get(blob)!.length }]);
      repo.refs.set("refs/heads/main", this.storeCommit(repo, { tree, parents: [], message: "Initial commit", author: this.author() }));
    }
    return repo;
  }

  private storeBlob(repo: FakeRepo, content: Buffer): string {
    const sha = sha1(Buffer.concat([Buffer.from(`blob ${content.length}\0`), content]));
    repo.blobs.set(sha, content);
    return sha;
  }

  private storeTree(repo: FakeRepo, entries: GitTreeEntry[]): string {
    const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const sha = sha1(`tree ${JSON.stringify(sorted)}`);
    repo.trees.set(sha, sorted);
    return sha;
  }

  private storeCommit(repo: FakeRepo, commit: GitCommit): string {
    const sha = sha1(`commit ${JSON.stringify(commit)}`);
    repo.commits.set(sha, commit);
    return sha;
  }

  private createBlob(repo: FakeRepo, body: Record<string, unknown>): unknown {
    const encoding = body.encoding ?? "utf-8";
    if (typeof body.content !== "string") throw unprocessable('Invalid request.\n\n"content" wasn\'t supplied.');
    if (encoding !== "utf-8" && encoding !== "base64") throw unprocessable(`encoding must be "utf-8" or "base64"`);
    const sha = this.storeBlob(repo, Buffer.from(body.content, encoding === "base64" ? "base64" : "utf8"));
    return { sha, url: `${API}/repos/${repo.full_name}/git/blobs/${sha}` };
  }

  private createTree(repo: FakeRepo, body: Record<string, unknown>): unknown {
    if (!Array.isArray(body.tree)) throw unprocessable('Invalid request.\n\n"tree" wasn\'t supplied.');
    const files = new Map<string, GitTreeEntry>();
    if (body.base_tree !== undefined && body.base_tree !== null) {
      const base = repo.trees.get(String(body.base_tree));
      if (!base) throw unprocessable("GitRPC::BadObjectState");
      for (const entry of base) files.set(entry.path, entry);
    }
    for (const item of body.tree as unknown[]) {
      if (!isObject(item) || typeof item.path !== "string" || item.path === "" || typeof item.mode !== "string" || !MODES.has(item.mode)) {
        throw unprocessable("Invalid tree info");
      }
      const path = item.path.replace(/^\/+|\/+$/g, "");
      if (item.sha === null) {
        for (const key of [...files.keys()]) if (key === path || key.startsWith(`${path}/`)) files.delete(key);
      } else if (item.type === "tree" && item.mode === "040000") {
        const subtree = repo.trees.get(String(item.sha));
        if (!subtree) throw unprocessable("GitRPC::BadObjectState");
        for (const entry of subtree) files.set(`${path}/${entry.path}`, { ...entry, path: `${path}/${entry.path}` });
      } else if (item.type === "blob" && item.mode !== "040000") {
        const sha = typeof item.content === "string" ? this.storeBlob(repo, Buffer.from(item.content)) : String(item.sha);
        const blob = repo.blobs.get(sha);
        if (!blob) throw unprocessable("GitRPC::BadObjectState");
        files.set(path, { path, mode: item.mode, type: "blob", sha, size: blob.length });
      } else throw unprocessable("Invalid tree info");
    }
    const sha = this.storeTree(repo, [...files.values()]);
    return {
      sha,
      url: `${API}/repos/${repo.full_name}/git/trees/${sha}`,
      tree: repo.trees.get(sha)!.map((e) => ({ ...e, url: `${API}/repos/${repo.full_name}/git/blobs/${e.sha}` })),
      truncated: false,
    };
  }

  private createCommit(repo: FakeRepo, body: Record<string, unknown>): unknown {
    if (typeof body.message !== "string") throw unprocessable('Invalid request.\n\n"message" wasn\'t supplied.');
    if (typeof body.tree !== "string") throw unprocessable('Invalid request.\n\n"tree" wasn\'t supplied.');
    if (!repo.trees.has(body.tree)) throw unprocessable("Tree SHA does not exist");
    const parents = body.parents ?? [];
    if (!Array.isArray(parents) || !parents.every((p) => typeof p === "string" && repo.commits.has(p))) {
      throw unprocessable("Parent SHA does not exist or is not a commit object");
    }
    const given = isObject(body.author) ? body.author : {};
    const author = {
      ...this.author(),
      ...(typeof given.name === "string" ? { name: given.name } : {}),
      ...(typeof given.email === "string" ? { email: given.email } : {}),
    };
    const sha = this.storeCommit(repo, { tree: body.tree, parents: parents as string[], message: body.message, author });
    return this.commitJson(repo, sha);
  }

  private createRef(repo: FakeRepo, body: Record<string, unknown>): unknown {
    if (typeof body.ref !== "string" || !/^refs\/[^/]+\/.+/.test(body.ref))
      throw unprocessable("Reference name must start with 'refs/' and have at least two slashes.");
    if (typeof body.sha !== "string" || !repo.commits.has(body.sha)) throw unprocessable("Object does not exist");
    if (repo.refs.has(body.ref)) throw unprocessable("Reference already exists");
    repo.refs.set(body.ref, body.sha);
    return this.refJson(repo, body.ref);
  }

  private updateRef(repo: FakeRepo, ref: string, body: Record<string, unknown>): unknown {
    const current = repo.refs.get(ref);
    if (current === undefined) throw unprocessable("Reference does not exist");
    if (typeof body.sha !== "string" || !repo.commits.has(body.sha)) throw unprocessable("Object does not exist");
    if (body.force !== true && !this.isAncestor(repo, current, body.sha)) throw unprocessable("Update is not a fast forward");
    repo.refs.set(ref, body.sha);
    return this.refJson(repo, ref);
  }

  /** Whether `ancestor` is `commit` or reachable from it through parents. */
  private isAncestor(repo: FakeRepo, ancestor: string, commit: string): boolean {
    const queue = [commit];
    const seen = new Set<string>();
    while (queue.length > 0) {
      const sha = queue.pop()!;
      if (sha === ancestor) return true;
      if (seen.has(sha)) continue;
      seen.add(sha);
      queue.push(...(repo.commits.get(sha)?.parents ?? []));
    }
    return false;
  }

  private author(): GitCommit["author"] {
    return { name: this.login, email: `${this.login}@users.noreply.github.com`, date: new Date().toISOString().replace(/\.\d{3}Z$/, "Z") };
  }

  private userJson(): Record<string, unknown> {
    return {
      login: this.login,
      id: 1_000_001,
      node_id: "U_kgDOAA9CQQ",
      type: "User",
      name: "Octo Dev",
      html_url: `https://github.com/${this.login}`,
      url: `${API}/users/${this.login}`,
    };
  }

  private repoJson(repo: FakeRepo): Record<string, unknown> {
    return {
      id: repo.id,
      node_id: `R_${Buffer.from(String(repo.id)).toString("base64")}`,
      name: repo.name,
      full_name: repo.full_name,
      owner: { login: repo.owner.login, type: "User" },
      private: repo.private,
      visibility: repo.private ? "private" : "public",
      description: repo.description,
      html_url: repo.html_url,
      clone_url: repo.clone_url,
      url: `${API}/repos/${repo.full_name}`,
      default_branch: repo.default_branch,
      size: 0,
    };
  }

  private refJson(repo: FakeRepo, ref: string): Record<string, unknown> {
    const sha = repo.refs.get(ref)!;
    return {
      ref,
      node_id: `REF_${Buffer.from(`${repo.full_name}:${ref}`).toString("base64")}`,
      url: `${API}/repos/${repo.full_name}/git/${ref}`,
      object: { sha, type: "commit", url: `${API}/repos/${repo.full_name}/git/commits/${sha}` },
    };
  }

  private commitJson(repo: FakeRepo, sha: string): Record<string, unknown> {
    const commit = repo.commits.get(sha)!;
    const base = `${API}/repos/${repo.full_name}/git`;
    return {
      sha,
      node_id: `C_${sha.slice(0, 16)}`,
      url: `${base}/commits/${sha}`,
      html_url: `${repo.html_url}/commit/${sha}`,
      author: commit.author,
      committer: commit.author,
      message: commit.message,
      tree: { sha: commit.tree, url: `${base}/trees/${commit.tree}` },
      parents: commit.parents.map((p) => ({ sha: p, url: `${base}/commits/${p}`, html_url: `${repo.html_url}/commit/${p}` })),
      verification: { verified: false, reason: "unsigned", signature: null, payload: null },
    };
  }
}
