/**
 * manifests/vercel.yaml end to end: the library API and its built-in `vercel` runtime against a fake Vercel and a
 * fake GitHub on 127.0.0.1 that speak their REST wire formats (test/fakes/vercel.ts, test/fakes/github.ts). The
 * test runs a copy of the shipped manifest whose only changes are baseUrl, the loopback settings of the outbound
 * guard (loopbackCopy) and vercel.github.apiUrl. Each run starts in a temporary project directory (the project
 * root, since the manifest names no projectRoot) holding the site to deploy under site/. Two tests run the built
 * binary, for what the CLI prints and `toolctl tool test`.
 */
import { createHash } from "node:crypto";
import { readFileSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseDocument } from "yaml";
import type { ExecuteResult, Toolctl } from "../src/api/index.js";
import { FakeGitHub } from "./fakes/github.js";
import { loopbackCopy } from "./fakes/server.js";
import { FakeVercel } from "./fakes/vercel.js";
import { openApi, repoRoot, runCli, runJson, tempDir, writeFiles } from "./helpers.js";

const shipped = path.join(repoRoot, "manifests", "vercel.yaml");
const SECRET_ENV = "sk_live_env_value_7f3a9c";
const DOTENV = "DATABASE_URL=postgres://admin:dotenv-secret-42@db.internal/prod\n";
const SITE = {
  "site/index.html": "<!doctype html><h1>Hello from toolctl</h1>\n",
  "site/css/style.css": "h1 { color: rebeccapurple; }\n",
  "site/.env": DOTENV,
  "site/node_modules/x.js": "module.exports = 'never uploaded';\n",
};
let vercel: FakeVercel;
let github: FakeGitHub;
let manifestDir: string;
let env: Record<string, string>;

beforeAll(async () => {
  vercel = await new FakeVercel().start();
  github = await new FakeGitHub().start();
  manifestDir = tempDir("toolctl-vercel-manifest-");
  const copy = loopbackCopy(shipped, vercel.url, manifestDir);
  const document = parseDocument(readFileSync(copy, "utf8"));
  document.setIn(["vercel", "github", "apiUrl"], github.url);
  writeFileSync(copy, document.toString());
  env = { VERCEL_TOKEN: vercel.token, GITHUB_TOKEN: github.token };
});
afterAll(async () => {
  await vercel.close();
  await github.close();
});

/**
 * A fresh home (the registry, executions and the breaker are per home) opened in a fresh project directory with
 * the site; `as(environment)` opens the same home and directory with another environment.
 */
async function setup(): Promise<{ toolctl: Toolctl; cwd: string; as: (environment: Record<string, string>) => Promise<Toolctl> }> {
  const cwd = writeFiles(SITE, tempDir("toolctl-vercel-project-"));
  const toolctl = await openApi({ cwd, env });
  const report = await toolctl.importManifests([manifestDir]);
  expect(report.failed).toEqual([]);
  expect(report.imported.map((i) => i.tool)).toEqual(["vercel"]);
  return { toolctl, cwd, as: (environment) => openApi({ home: toolctl.home, cwd, env: environment }) };
}

const site = (input: Record<string, unknown>) => ({ path: "site", ...input });
const deploy = (toolctl: Toolctl, input: Record<string, unknown>) => toolctl.run("vercel.deploy", site(input), { yes: true });
const out = (result: ExecuteResult) => result.output as any;
const sha1 = (text: string) => createHash("sha1").update(text).digest("hex");
/** Every request either fake has seen, to prove a run sent nothing. */
const seen = () => ({
  vercel: vercel.server.connections,
  github: github.server.connections,
  requests: vercel.server.requests.length + github.server.requests.length,
});
/** The error line of a human-mode failure: the one line before the execution's id and status. */
function errorLine(stderr: string): string {
  const lines = stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(2);
  expect(lines[1]).toMatch(/^execution ex_\w+ (failed|declined) \(\w+\)$/);
  return lines[0]!;
}
const bodies = () => [...vercel.server.requests, ...github.server.requests].map((r) => r.body).join("\n");
const calls = (requests: unknown[]) => requests.map((r) => (typeof r === "string" ? r : `${(r as any).method} ${(r as any).url}`)).join("\n");

/** Deploys `site` to a project with `input`, expecting success. */
async function deployed(toolctl: Toolctl, input: Record<string, unknown>): Promise<ExecuteResult & { output: any }> {
  const result = await deploy(toolctl, input);
  expect(result.exitCode, result.error?.message).toBe(0);
  return result as ExecuteResult & { output: any };
}

describe("vercel manifest", () => {
  it("imports as shipped; the test copy changes only baseUrl, the loopback allowances and vercel.github.apiUrl", async () => {
    const original = parse(readFileSync(shipped, "utf8"));
    const copy = parse(readFileSync(path.join(manifestDir, "vercel.yaml"), "utf8"));
    expect(original.baseUrl).toBe("https://api.vercel.com");
    expect(original.vercel.github.apiUrl).toBe("https://api.github.com");
    expect(copy.http).toEqual({ ...original.http, allowPlainHttp: true, allowPrivateNetworks: ["127.0.0.0/8"] });
    expect(copy.vercel).toEqual({ ...original.vercel, github: { ...original.vercel.github, apiUrl: github.url } });
    expect({ ...copy, baseUrl: original.baseUrl, http: original.http, vercel: original.vercel }).toEqual(original);

    const toolctl = await openApi();
    expect((await toolctl.importManifests([shipped])).failed).toEqual([]);
    const tool = (await toolctl.getTool("vercel"))!;
    expect(tool).toMatchObject({ name: "vercel", runtime: "vercel" });
    expect(tool.definition).toMatchObject({ baseUrl: "https://api.vercel.com", auth: { type: "bearer", secret: "VERCEL_TOKEN" } });
    expect((await toolctl.store.tools.action("vercel", "deploy", false))!.definition).toMatchObject({
      kind: "create",
      approval: "always",
      idempotent: false,
      rollback: { action: "remove", input: { id: "{{ output.id }}", restore: "{{ output.previous }}" } },
    });
  });
});

describe("vercel.deploy against a fake Vercel", () => {
  it("uploads the site by SHA-1, sets the env vars, deploys, waits until READY and points the alias at it; .env and node_modules stay home", async () => {
    const { toolctl } = await setup();
    const result = await deploy(toolctl, { project: "happy-site", env: { API_KEY: SECRET_ENV, NODE_ENV: "production" }, alias: "example.com" });
    expect(result.exitCode, result.error?.message).toBe(0);
    expect(result).toMatchObject({ status: "succeeded", risk: "MEDIUM", approval: { required: true } });
    const output = out(result);
    expect(output).toMatchObject({
      readyState: "READY",
      alias: ["example.com"],
      files: 2,
      project: "happy-site",
      target: "production",
      env: ["API_KEY", "NODE_ENV"],
    });
    expect(output.id).toMatch(/^dpl_[A-Za-z0-9]+$/);
    expect(output.url).toMatch(/^https:\/\/happy-site-[a-z0-9]+\.vercel\.app$/);

    const deployment = vercel.deployments.get(output.id)!;
    expect(deployment.files.map((f) => f.file).sort()).toEqual(["css/style.css", "index.html"]);
    expect(deployment.target).toBe("production");
    expect(vercel.servedFile(output.id, "index.html")).toBe(SITE["site/index.html"]);
    expect(vercel.servedFile(output.id, "css/style.css")).toBe(SITE["site/css/style.css"]);
    const shas = [sha1(SITE["site/index.html"]), sha1(SITE["site/css/style.css"])];
    expect(deployment.files.map((f) => f.sha).sort()).toEqual([...shas].sort());
    expect(vercel.uploads).toEqual(expect.arrayContaining(shas));
    for (const upload of vercel.server.requestsTo("/v2/files")) expect(upload.headers["x-vercel-digest"]).toBe(sha1(upload.body));
    expect(vercel.projects.get("happy-site")!.env.map(({ key, value, type, target }) => ({ key, value, type, target }))).toEqual([
      { key: "API_KEY", value: SECRET_ENV, type: "encrypted", target: ["production"] },
      { key: "NODE_ENV", value: "production", type: "encrypted", target: ["production"] },
    ]);
    expect(vercel.aliases.get("example.com")).toBe(output.id);
    // Vercel gives a production deployment the project's production domains, and then the alias asked for.
    expect(deployment.alias).toEqual(["happy-site.vercel.app", "example.com"]);
    // Neither the .env file nor node_modules went anywhere, and the env value is never shown or recorded.
    expect(bodies()).not.toContain("dotenv-secret-42");
    expect(bodies()).not.toContain("never uploaded");
    for (const text of [JSON.stringify(result), JSON.stringify(await toolctl.execution(result.executionId))]) {
      expect(text).not.toContain(vercel.token);
      expect(text).not.toContain(SECRET_ENV);
    }
  });

  it("with github: creates the repository, pushes the files as one commit, and deploys with that commit's gitMetadata", async () => {
    const { toolctl } = await setup();
    const result = await deploy(toolctl, { project: "git-site", github: { repo: "my-site" } });
    expect(result.exitCode, result.error?.message).toBe(0);
    const fullName = `${github.login}/my-site`;
    const repo = github.repos.get(fullName)!;
    expect(repo.private).toBe(true);
    expect(github.fileAt(fullName, "index.html")).toBe(SITE["site/index.html"]);
    expect(github.fileAt(fullName, "css/style.css")).toBe(SITE["site/css/style.css"]);
    expect(github.fileAt(fullName, ".env")).toBeUndefined();
    const tip = repo.refs.get("refs/heads/main")!;
    expect(out(result).github).toEqual({ repo: fullName, url: `https://github.com/${fullName}`, branch: "main", commit: tip });
    expect(vercel.deployments.get(out(result).id)!.gitMetadata).toMatchObject({
      commitSha: tip,
      commitRef: "main",
      remoteUrl: `https://github.com/${fullName}`,
    });
    expect(JSON.stringify(result)).not.toContain(github.token);
  });

  it("a dry run lists the files and every request, tokens redacted and env values hidden, and sends nothing", async () => {
    const { toolctl } = await setup();
    const before = seen();
    const input = { project: "dry-site", env: { API_KEY: SECRET_ENV }, alias: "dry.example.com", github: { repo: "dry-site" } };
    const result = await toolctl.preview("vercel.deploy", site(input));
    expect(result.exitCode, result.error?.message).toBe(0);
    expect(result.status).toBe("dry_run");
    const shown = result.request as any;
    expect(shown).toMatchObject({
      runtime: "vercel",
      operation: "deploy",
      project: "dry-site",
      target: "production",
      fileCount: 2,
      env: ["API_KEY"],
      alias: "dry.example.com",
    });
    expect(shown.summary).toContain("uploads 2 files");
    expect(shown.files).toEqual([
      { file: "css/style.css", sha: sha1(SITE["site/css/style.css"]), size: SITE["site/css/style.css"].length },
      { file: "index.html", sha: sha1(SITE["site/index.html"]), size: SITE["site/index.html"].length },
    ]);
    const requests = calls(shown.requests);
    for (const call of [
      `POST ${github.url}/user/repos`,
      `${vercel.url}/v10/projects/dry-site/env?upsert=true`,
      `POST ${vercel.url}/v2/files × 2`,
      `POST ${vercel.url}/v13/deployments`,
      "until READY",
      "/aliases",
    ]) {
      expect(requests).toContain(call);
    }
    for (const request of shown.requests.filter((r: unknown) => typeof r === "object")) expect(request.headers.authorization).toBe("[REDACTED]");
    expect(shown.requests.find((r: any) => r.url?.includes("/env")).json).toEqual([
      { key: "API_KEY", value: "<hidden>", type: "encrypted", target: ["production"] },
    ]);
    for (const secret of [vercel.token, github.token, SECRET_ENV]) expect(JSON.stringify(result)).not.toContain(secret);
    expect(seen()).toEqual(before);
  });

  it("a token Vercel refuses fails the run (exit 1) with Vercel's words; nothing is deployed", async () => {
    const { as } = await setup();
    const deployments = vercel.deployments.size;
    const uploads = vercel.uploads.length;
    const toolctl = await as({ ...env, VERCEL_TOKEN: "vercel_wrong_token_123456" });
    const result = await deploy(toolctl, { project: "denied-site" });
    expect(result.exitCode).toBe(1);
    expect(result.status).toBe("failed");
    // Vercel answers a bad token with 403 and invalidToken: true, which is authentication, not authorization.
    expect(result.error).toMatchObject({ message: "Vercel deployment failed: forbidden: Not authorized", category: "authentication" });
    expect(vercel.deployments.size).toBe(deployments);
    expect(vercel.uploads.length).toBe(uploads);
    expect(vercel.projects.has("denied-site")).toBe(false);
    expect(JSON.stringify(result)).not.toContain("vercel_wrong_token_123456");
  });

  it("an alias used by another project fails the run and deletes the new deployment again, saying the new project stays", async () => {
    const { toolctl } = await setup();
    vercel.takenDomains.add("taken.dev");
    const result = await deploy(toolctl, { project: "alias-site", alias: "www.taken.dev" });
    expect(result.exitCode).toBe(1);
    const created = [...vercel.deployments.values()].filter((d) => d.name === "alias-site");
    expect(created).toHaveLength(1);
    const id = created[0]!.id;
    expect(result.error!.message).toBe(
      `alias www.taken.dev failed: alias_in_use: The alias "www.taken.dev" is already in use by another project; the deployment ${id} was deleted again; the project alias-site, created by this deploy, stays`,
    );
    expect(vercel.deleted).toContain(id);
    expect(created[0]!.deleted).toBe(true);
    expect(vercel.aliases.has("www.taken.dev")).toBe(false);
  });

  it("a build that fails on Vercel fails the run with BUILD_FAILED", async () => {
    const { toolctl } = await setup();
    vercel.failBuild = true;
    try {
      const result = await deploy(toolctl, { project: "broken-site" });
      expect(result.exitCode).toBe(1);
      expect(result.error!.message).toMatch(/^Vercel deployment failed: dpl_[A-Za-z0-9]+ ended ERROR \(BUILD_FAILED: Command "npm run build" exited with 1\)$/);
    } finally {
      vercel.failBuild = false;
    }
  });

  it("refuses a directory outside the project (.., absolute, a symbolic link leading out): exit 3, nothing sent", async () => {
    const { toolctl, cwd } = await setup();
    const outside = writeFiles({ "secret.txt": "outside the project\n" }, tempDir("toolctl-vercel-outside-"));
    symlinkSync(path.join(outside, "secret.txt"), path.join(cwd, "site", "leak.txt"));
    const before = seen();
    const refusals = [
      ["../elsewhere", `"../elsewhere" ('..' is not allowed)`],
      [outside, `"${outside}"`],
      ["site", `"leak.txt" (a symbolic link to ${realpathSync(path.join(outside, "secret.txt"))})`],
    ];
    for (const [target, why] of refusals) {
      const result = await deploy(toolctl, { path: target, project: "escape-site" });
      expect(result.exitCode, target).toBe(3);
      expect(result.error!.message, target).toBe(`Path is outside project directory: ${why}`);
    }
    expect(seen()).toEqual(before);
  });

  it("rollback deletes the deployment, and the original becomes rolled_back", async () => {
    const { toolctl } = await setup();
    const first = await deployed(toolctl, { project: "rollback-site" });
    const id = first.output.id as string;
    const undo = await toolctl.rollback(first.executionId, { yes: true });
    expect(undo.exitCode, undo.error?.message).toBe(0);
    expect(undo).toMatchObject({ rollbackOf: first.executionId, tool: "vercel", action: "remove", status: "succeeded", output: { id, state: "DELETED" } });
    expect(vercel.deleted).toContain(id);
    expect(vercel.server.requests.at(-1)).toMatchObject({ method: "DELETE", url: `/v13/deployments/${id}` });
    expect(await toolctl.execution(first.executionId)).toMatchObject({ status: "rolled_back" });
  });

  it("a preview deploy leaves target out (Vercel has no preview target) and takes no production domain", async () => {
    const { toolctl } = await setup();
    const live = await deployed(toolctl, { project: "preview-site" });
    const preview = await deployed(toolctl, { project: "preview-site", target: "preview" });
    expect(preview.output).toMatchObject({ target: "preview", readyState: "READY" });
    const created = vercel.server
      .requestsTo("/v13/deployments")
      .filter((r) => r.method === "POST")
      .at(-1)!;
    expect(JSON.parse(created.body)).not.toHaveProperty("target");
    expect(vercel.deployments.get(preview.output.id)!.target).toBeNull();
    expect(vercel.servedBy("preview-site.vercel.app")).toBe(live.output.id);
  });

  it("framework is sent only when asked: a deploy without it keeps the project's framework, framework: null clears it", async () => {
    const { toolctl } = await setup();
    await deployed(toolctl, { project: "framework-site", framework: "nextjs" });
    expect(vercel.projects.get("framework-site")!.framework).toBe("nextjs");
    await deployed(toolctl, { project: "framework-site", env: { A_KEY: "a" } });
    const body = JSON.parse(
      vercel.server
        .requestsTo("/v13/deployments")
        .filter((r) => r.method === "POST")
        .at(-1)!.body,
    );
    expect(body.projectSettings?.framework).toBeUndefined();
    expect(vercel.projects.get("framework-site")!.framework).toBe("nextjs");
    await deployed(toolctl, { project: "framework-site", framework: null });
    expect(vercel.projects.get("framework-site")!.framework).toBeNull();
  });

  it("a deployment Vercel blocks (BLOCKED) ends the run at once with Vercel's reason, exit 1", async () => {
    const { toolctl } = await setup();
    vercel.blockBuild = true;
    try {
      const started = Date.now();
      const result = await deploy(toolctl, { project: "blocked-site" });
      expect(result.exitCode).toBe(1);
      expect(result.error!.message).toMatch(
        /^Vercel deployment failed: dpl_\w+ ended BLOCKED \(The deployment was blocked because the commit author is not a member of the team\)$/,
      );
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      vercel.blockBuild = false;
    }
  });

  it("a GitHub repository that already exists fails with GitHub's words, before anything reaches Vercel", async () => {
    const { toolctl } = await setup();
    const created = await fetch(`${github.url}/user/repos`, {
      method: "POST",
      headers: { authorization: `Bearer ${github.token}`, "user-agent": "test", "content-type": "application/json" },
      body: JSON.stringify({ name: "existing-repo" }),
    });
    expect(created.status).toBe(201);
    const requests = vercel.server.requests.length;
    const result = await deploy(toolctl, { project: "existing-site", github: { repo: "existing-repo" } });
    expect(result.exitCode).toBe(1);
    expect(result.error!.message).toBe("GitHub push failed: Repository creation failed. (name already exists on this account)");
    expect(vercel.server.requests.length).toBe(requests);
  });

  it("a deploy with github but no GITHUB_TOKEN is refused with one line naming it; nothing is sent", async () => {
    const { as } = await setup();
    const before = seen();
    const toolctl = await as({ VERCEL_TOKEN: vercel.token });
    const result = await deploy(toolctl, { project: "tokenless-site", github: { repo: "tokenless" } });
    expect(result.exitCode).toBe(2);
    expect(result.error).toMatchObject({ code: "secret_missing", exitCode: 2 });
    expect(result.error!.message).toMatch(/^secret GITHUB_TOKEN is not set: a deploy with github needs a GitHub token/);
    expect(result.error!.message).not.toContain("\n");
    expect(seen()).toEqual(before);
  });
});

describe("rolling back a production deploy restores production", () => {
  it("promotes the deployment that served production before, moves the custom alias back, deletes the new deployment and the env vars it created", async () => {
    const { toolctl } = await setup();
    const v1 = await deployed(toolctl, { project: "prod-site", env: { OLD_KEY: "one" }, alias: "www.prod-site.dev" });
    vercel.addDomain("prod-site", "prod-site.dev");
    expect(vercel.servedBy("prod-site.dev")).toBe(v1.output.id);
    const v2 = await deployed(toolctl, { project: "prod-site", env: { OLD_KEY: "two", NEW_KEY: "new" }, alias: "www.prod-site.dev" });
    for (const domain of ["prod-site.vercel.app", "prod-site.dev", "www.prod-site.dev"]) expect(vercel.servedBy(domain), domain).toBe(v2.output.id);
    // What was there before is recorded at deploy time, in the output.
    expect(v2.output.previous).toMatchObject({
      project: vercel.projects.get("prod-site")!.id,
      projectExisted: true,
      production: { id: v1.output.id },
      aliases: [{ alias: "www.prod-site.dev", deploymentId: v1.output.id }],
      envReplaced: ["OLD_KEY"],
    });
    expect(v2.output.previous.envCreated.map((e: { key: string }) => e.key)).toEqual(["NEW_KEY"]);
    expect(v2.output.rollback).toContain(`promotes ${v1.output.id} back to production`);
    expect(v2.output.rollback).toContain("OLD_KEY keeps the value this deploy set");

    const preview = await toolctl.rollback(v2.executionId, { dryRun: true });
    expect(preview.exitCode, preview.error?.message).toBe(0);
    expect(calls((preview.request as any).requests)).toContain(`/v10/projects/${v2.output.previous.project}/promote/${v1.output.id}`);

    const requests = vercel.server.requests.length;
    const undo = await toolctl.rollback(v2.executionId, { yes: true });
    expect(undo.exitCode, undo.error?.message).toBe(0);
    expect(undo).toMatchObject({
      action: "remove",
      status: "succeeded",
      output: { id: v2.output.id, state: "DELETED", restored: { production: v1.output.id, aliases: ["www.prod-site.dev"], envDeleted: ["NEW_KEY"] } },
    });
    expect(out(undo).notReverted).toEqual([expect.stringMatching(/^OLD_KEY keeps the value this deploy set/)]);
    for (const domain of ["prod-site.vercel.app", "prod-site.dev", "www.prod-site.dev"]) expect(vercel.servedBy(domain), domain).toBe(v1.output.id);
    expect(vercel.deployments.get(v2.output.id)!.deleted).toBe(true);
    expect(vercel.projects.get("prod-site")!.env.map((e) => e.key)).toEqual(["OLD_KEY"]);
    // Production moved back before the deployment serving it went away.
    const sent = vercel.server.requests.slice(requests).map((r) => `${r.method} ${new URL(r.url, "http://x").pathname}`);
    expect(sent.indexOf(`POST /v10/projects/${v2.output.previous.project}/promote/${v1.output.id}`)).toBeGreaterThanOrEqual(0);
    expect(sent.indexOf(`POST /v10/projects/${v2.output.previous.project}/promote/${v1.output.id}`)).toBeLessThan(
      sent.indexOf(`DELETE /v13/deployments/${v2.output.id}`),
    );
    expect(await toolctl.execution(v2.executionId)).toMatchObject({ status: "rolled_back" });
  });

  it("leaves production alone when a later deploy serves it now, and says so", async () => {
    const { toolctl } = await setup();
    const v1 = await deployed(toolctl, { project: "later-site" });
    const v2 = await deployed(toolctl, { project: "later-site" });
    const v3 = await deployed(toolctl, { project: "later-site" });
    const undo = await toolctl.rollback(v2.executionId, { yes: true });
    expect(undo.exitCode, undo.error?.message).toBe(0);
    expect(vercel.servedBy("later-site.vercel.app")).toBe(v3.output.id);
    expect(vercel.promotions.filter((p) => p.project === "later-site")).toEqual([]);
    expect(vercel.deployments.get(v2.output.id)!.deleted).toBe(true);
    expect(vercel.deployments.get(v1.output.id)!.deleted).toBe(false);
    expect(out(undo).notReverted).toEqual([`production is served by ${v3.output.id} now, not by ${v2.output.id}: left as it is`]);
  });

  it("a deploy still building when toolctl stops waiting is unknown (exit 5), and its output keeps what a rollback needs", async () => {
    const { toolctl } = await setup();
    const v1 = await deployed(toolctl, { project: "slow-site" });
    const slowDir = tempDir("toolctl-vercel-slow-");
    const copy = path.join(slowDir, "vercel.yaml");
    const document = parseDocument(readFileSync(path.join(manifestDir, "vercel.yaml"), "utf8"));
    document.setIn(["vercel", "readyTimeoutSeconds"], 1);
    writeFileSync(copy, document.toString());
    expect((await toolctl.importManifests([slowDir])).failed).toEqual([]);
    vercel.readyAfterPolls = 1000;
    let slow: ExecuteResult;
    try {
      slow = await deploy(toolctl, { project: "slow-site" });
    } finally {
      vercel.readyAfterPolls = 2;
    }
    expect(slow.exitCode).toBe(5);
    expect(slow.status).toBe("unknown");
    expect(slow.output).toMatchObject({ readyState: "BUILDING", previous: { production: { id: v1.output.id } } });
    expect(await toolctl.execution(slow.executionId)).toMatchObject({ status: "unknown", output: { readyState: "BUILDING" } });
    const undo = await toolctl.rollback(slow.executionId, { yes: true });
    expect(undo.exitCode, undo.error?.message).toBe(0);
    expect(vercel.deployments.get(out(slow).id)!.deleted).toBe(true);
    expect(vercel.servedBy("slow-site.vercel.app")).toBe(v1.output.id);
  });

  it("a promotion Vercel fails leaves the new deployment in place (exit 1), so production never points at nothing", async () => {
    const { toolctl } = await setup();
    const v1 = await deployed(toolctl, { project: "stuck-site" });
    const v2 = await deployed(toolctl, { project: "stuck-site" });
    vercel.failPromote = true;
    try {
      const undo = await toolctl.rollback(v2.executionId, { yes: true });
      expect(undo.exitCode).toBe(1);
      expect(undo.error!.message).toBe(
        `promoting ${v1.output.id} back to production failed; the deployment ${v2.output.id} still serves production and was left in place`,
      );
    } finally {
      vercel.failPromote = false;
    }
    expect(vercel.deployments.get(v2.output.id)!.deleted).toBe(false);
    expect(vercel.servedBy("stuck-site.vercel.app")).toBe(v2.output.id);
    expect(await toolctl.execution(v2.executionId)).toMatchObject({ status: "succeeded" });
  });

  it("an alias refused after a production build puts production back on the deployment before, then deletes the new one", async () => {
    const { toolctl } = await setup();
    const v1 = await deployed(toolctl, { project: "refused-site" });
    vercel.takenDomains.add("owned-elsewhere.dev");
    const result = await deploy(toolctl, { project: "refused-site", alias: "owned-elsewhere.dev", env: { FRESH_KEY: "f" } });
    expect(result.exitCode).toBe(1);
    const v2 = [...vercel.deployments.values()].filter((d) => d.name === "refused-site").at(-1)!;
    expect(result.error!.message).toBe(
      `alias owned-elsewhere.dev failed: alias_in_use: The alias "owned-elsewhere.dev" is already in use by another project; ${v1.output.id} serves production again, and the deployment ${v2.id} and the env vars it created (FRESH_KEY) were deleted again, so nothing is left`,
    );
    expect(v2.deleted).toBe(true);
    expect(vercel.servedBy("refused-site.vercel.app")).toBe(v1.output.id);
    expect(vercel.projects.get("refused-site")!.env.map((e) => e.key)).toEqual([]);
  });
});

describe("the CLI", () => {
  it("prints one error line and the execution on stderr, with the exit code, and a dry run's summary; no secret printed", async () => {
    const { toolctl, cwd } = await setup();
    const cli = (input: Record<string, unknown>, flag: string, environment = env) =>
      runCli(["run", "vercel.deploy", "--params", JSON.stringify(site(input)), flag], { home: toolctl.home, cwd, env: environment });

    const denied = await cli({ project: "denied-site" }, "--yes", { ...env, VERCEL_TOKEN: "vercel_wrong_token_123456" });
    expect(denied.code).toBe(1);
    expect(errorLine(denied.stderr)).toBe("error: Vercel deployment failed: forbidden: Not authorized");
    expect(denied.stdout + denied.stderr).not.toContain("vercel_wrong_token_123456");
    expect(vercel.projects.has("denied-site")).toBe(false);

    const before = seen();

    const escape = await cli({ path: "../elsewhere", project: "escape-site" }, "--yes");
    expect(escape.code).toBe(3);
    expect(errorLine(escape.stderr)).toBe(`error: Path is outside project directory: "../elsewhere" ('..' is not allowed)`);

    const tokenless = await cli({ project: "tokenless-site", github: { repo: "tokenless" } }, "--yes", { VERCEL_TOKEN: vercel.token });
    expect(tokenless.code).toBe(2);
    expect(errorLine(tokenless.stderr)).toMatch(/^error: secret GITHUB_TOKEN is not set: a deploy with github needs a GitHub token/);
    expect(seen()).toEqual(before);

    const dry = await cli({ project: "dry-site", env: { API_KEY: SECRET_ENV }, github: { repo: "dry-site" } }, "--dry-run");
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("uploads 2 files");
    for (const secret of [vercel.token, github.token, SECRET_ENV]) expect(dry.stdout + dry.stderr).not.toContain(secret);
  });

  it("toolctl tool test reads the token's user: healthy", async () => {
    const { toolctl } = await setup();
    const tested = await runJson(["tool", "test", "vercel"], { home: toolctl.home, env });
    expect(tested.code, tested.stderr).toBe(0);
    expect(tested.json).toMatchObject({ tool: "vercel", status: "healthy", latencyMs: expect.any(Number) });
    expect(vercel.server.requests.at(-1)).toMatchObject({ method: "GET", url: "/v2/user" });
  });
});
