/**
 * "Create and push a GitHub repository" without git on the machine: the repository is created with an initial
 * commit (`auto_init`, since the Git data API refuses an empty repository), then the files go up as blobs, one
 * tree, one commit whose parent is that initial commit, and a fast-forward of the default branch. These are the
 * REST calls `git push` amounts to, with the same token and nothing written to disk.
 */
import { ApiFailure, callApi, field, type ApiClient } from "./api.js";
import type { DeployFile } from "./files.js";

export interface GithubTarget {
  apiUrl: string;
  token: string;
  repo: string;
  private: boolean;
  description?: string;
  message: string;
}

export interface PushedRepository {
  repo: string;
  url: string;
  branch: string;
  commit: string;
}

export function githubHeaders(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}`, accept: "application/vnd.github+json", "x-github-api-version": "2022-11-28", "user-agent": "toolctl" };
}

/** The calls in order, for a dry run. */
export function describePush(target: GithubTarget, fileCount: number): Array<Record<string, unknown> | string> {
  const base = target.apiUrl.replace(/\/+$/, "");
  return [
    {
      method: "POST",
      url: `${base}/user/repos`,
      headers: githubHeaders(target.token),
      json: { name: target.repo, private: target.private, description: target.description, auto_init: true },
    },
    `GET ${base}/repos/<owner>/${target.repo}/git/ref/heads/<default branch>`,
    `POST ${base}/repos/<owner>/${target.repo}/git/blobs × ${fileCount} (base64 content)`,
    `POST ${base}/repos/<owner>/${target.repo}/git/trees, then git/commits (${JSON.stringify(target.message)}), then PATCH git/refs/heads/<default branch>`,
  ];
}

/**
 * Creates the repository and pushes the files as one commit. A failure after the repository exists says that
 * it was left in place (it holds nothing but the initial README): deleting a repository is not ours to do.
 */
export async function pushRepository(client: ApiClient, target: GithubTarget, files: DeployFile[]): Promise<PushedRepository> {
  const base = target.apiUrl.replace(/\/+$/, "");
  const headers = githubHeaders(target.token);
  const created = await callApi(client, {
    method: "POST",
    url: `${base}/user/repos`,
    headers,
    json: { name: target.repo, private: target.private, description: target.description, auto_init: true },
  });
  const fullName = field<string>(created, "full_name");
  const url = field<string>(created, "html_url") ?? "";
  const branch = field<string>(created, "default_branch") ?? "main";
  if (!fullName) throw new ApiFailure("GitHub answered without the repository's full_name", "other", true);
  const repoUrl = `${base}/repos/${fullName.split("/").map(encodeURIComponent).join("/")}`;
  try {
    const ref = await callApi(client, { method: "GET", url: `${repoUrl}/git/ref/heads/${encodeURIComponent(branch)}`, headers });
    const parent = field<string>(field(ref, "object"), "sha");
    const tree = [];
    for (const file of files) {
      const blob = await callApi(client, {
        method: "POST",
        url: `${repoUrl}/git/blobs`,
        headers,
        json: { content: file.content.toString("base64"), encoding: "base64" },
      });
      tree.push({ path: file.file, mode: file.executable ? "100755" : "100644", type: "blob", sha: field<string>(blob, "sha") });
    }
    const madeTree = await callApi(client, { method: "POST", url: `${repoUrl}/git/trees`, headers, json: { tree } });
    const commit = await callApi(client, {
      method: "POST",
      url: `${repoUrl}/git/commits`,
      headers,
      json: { message: target.message, tree: field<string>(madeTree, "sha"), parents: parent ? [parent] : [] },
    });
    const sha = field<string>(commit, "sha")!;
    await callApi(client, { method: "PATCH", url: `${repoUrl}/git/refs/heads/${encodeURIComponent(branch)}`, headers, json: { sha, force: false } });
    return { repo: fullName, url, branch, commit: sha };
  } catch (error) {
    if (!(error instanceof ApiFailure)) throw error;
    throw new ApiFailure(
      `${error.message}; the repository ${fullName} was created and left in place`,
      error.category,
      error.mayHaveActed,
      error.status,
      error.code,
    );
  }
}
