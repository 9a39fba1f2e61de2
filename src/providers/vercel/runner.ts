/**
 * The built-in `vercel` runtime: deploy a local directory to Vercel the way its CLI does, through the REST API.
 *
 * deploy { path, project, target?, framework?, env?, alias?, github? }:
 *   1. with `github: { repo }`: create the repository and push the files as one commit (./github.ts);
 *   2. read the project (GET /v9/projects/:name): what serves production now, and which env vars exist;
 *   3. with `env`: create the project if it does not exist, then upsert its variables (encrypted, for the target);
 *   4. upload each file to POST /v2/files, keyed by its SHA-1 (`x-vercel-digest`): content-addressed, so safe
 *      to repeat;
 *   5. create the deployment (POST /v13/deployments) from the list of { file, sha, size };
 *   6. wait until it is READY (GET /v13/deployments/:id), and with `alias`, point the domain at it.
 * The output's `previous` records what the deploy changed (./restore.ts). An alias refused after the
 * deployment was built undoes the deploy at once, so a failed run leaves nothing behind. remove { id, restore? }
 * deletes a deployment, after putting back what `restore` (a deploy's output.previous) says it changed: that is
 * the rollback of deploy. inspect { id } reads one; whoami reads the token's user (tool test).
 *
 * Preparing reads and hashes every file: the dry run lists exactly the files, hashes and requests of the run.
 */
import type { VercelSettings } from "../../domain/manifest.js";
import { SecretMissingError } from "../../errors.js";
import { joinBase, mergeQuery } from "../../runners/http/base-url.js";
import { outboundPolicy } from "../../runners/http/runner.js";
import { BuiltinInputError, checkFields, isPlainObject, manifestDir, optionalString, quote, requiredString, type Input } from "../../runners/builtin/input.js";
import { resolveRoots } from "../../runners/builtin/confine.js";
import type { Prepared, RunContext, RunResult, Runner } from "../../runners/types.js";
import { ApiFailure, callApi, field, type ApiClient } from "./api.js";
import { collectDeployFiles, type DeployDirectory } from "./files.js";
import { describePush, pushRepository, type GithubTarget, type PushedRepository } from "./github.js";
import { describeUndeploy, parseRestore, readProject, rollbackNote, undeploy, type Previous, type ProjectBefore, type VercelCalls } from "./restore.js";

type Operation = "deploy" | "remove" | "inspect" | "whoami";

const FIELDS: Record<Operation, readonly string[]> = {
  deploy: ["path", "project", "target", "framework", "env", "alias", "github"],
  remove: ["id", "restore"],
  inspect: ["id"],
  whoami: [],
};

const DEFAULTS = {
  maxFiles: 15_000,
  maxBytes: 64 * 1024 * 1024,
  readyTimeoutSeconds: 600,
  github: { apiUrl: "https://api.github.com", tokenSecret: "GITHUB_TOKEN" },
};
const PROJECT_NAME = /^[a-z0-9]([a-z0-9._-]{0,98}[a-z0-9])?$/;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const UPLOADS_AT_ONCE = 4;
/** Vercel's readyState values after which a deployment will never be READY. */
const FINAL_FAILURES = new Set(["ERROR", "CANCELED", "BLOCKED", "DELETED"]);

interface DeployPlan {
  files: DeployDirectory;
  project: string;
  target: "production" | "preview";
  /** Sent only when asked: a deployment's projectSettings are saved to the project, and null clears its framework. */
  framework?: string | null;
  env: Record<string, string>;
  alias?: string;
  github?: GithubTarget;
}

export const vercelRunner: Runner = {
  prepare(context: RunContext): Prepared {
    const { tool, action, input } = context;
    const operation = action.definition.operation as Operation | undefined;
    if (!operation || !(operation in FIELDS))
      throw new BuiltinInputError(`action ${action.name} has no vercel operation; set operation: deploy, remove, inspect or whoami`);
    checkFields(input, FIELDS[operation], operation);
    const settings = { ...DEFAULTS, ...tool.definition.vercel } as VercelSettings;
    const token = context.secrets[(tool.definition.auth as { secret: string }).secret]!;
    const headers = { authorization: `Bearer ${token}` };
    const api = (pathname: string, query: Record<string, string> = {}) => {
      const { url, baseQuery } = joinBase(tool.definition.baseUrl!, pathname);
      url.search = mergeQuery(baseQuery, []);
      for (const [key, value] of Object.entries({ ...query, ...(settings.teamId ? { teamId: settings.teamId } : {}) })) url.searchParams.set(key, value);
      return url.toString();
    };
    const policy = outboundPolicy(context);
    const clientFor = (signal: AbortSignal): ApiClient => ({
      policy: { ...policy, allowedHosts: [...policy.allowedHosts, new URL(settings.github.apiUrl).hostname, new URL(settings.github.apiUrl).origin] },
      timeoutMs: (tool.definition.http?.timeoutSeconds ?? 30) * 1000,
      signal,
    });

    if (operation === "whoami") {
      const call = { method: "GET" as const, url: api("/v2/user"), headers };
      return prepared(
        { runtime: "vercel", operation, request: call, summary: "reads the Vercel user this token belongs to" },
        async (signal) => field(await callApi(clientFor(signal), call), "user") ?? {},
      );
    }
    const calls = (signal: AbortSignal): VercelCalls => ({ client: clientFor(signal), api, headers });
    if (operation === "remove" && input.restore !== undefined) {
      const id = deploymentId(input);
      const restore = parseRestore(input.restore);
      const requests = [
        ...describeUndeploy({ api, headers }, id, restore),
        { method: "DELETE", url: api(`/v13/deployments/${encodeURIComponent(id)}`), headers },
      ];
      const summary = `puts back what the deploy of ${id} changed in the Vercel project ${restore.name}, then deletes ${id}`;
      return prepared({ runtime: "vercel", operation, requests, summary }, async (signal) => ({
        id,
        state: "DELETED",
        ...(await undeploy(calls(signal), id, restore, signal)),
      }));
    }
    if (operation === "remove" || operation === "inspect") {
      const id = deploymentId(input);
      const call = { method: operation === "remove" ? ("DELETE" as const) : ("GET" as const), url: api(`/v13/deployments/${encodeURIComponent(id)}`), headers };
      const summary = operation === "remove" ? `deletes the Vercel deployment ${id}` : `reads the Vercel deployment ${id}`;
      return prepared({ runtime: "vercel", operation, request: call, summary }, async (signal) => {
        const answer = await callApi(clientFor(signal), call);
        return operation === "remove" ? { id, state: field(answer, "state") ?? "DELETED" } : deploymentSummary(answer);
      });
    }

    const plan = deployPlan(context, settings);
    const requests = [
      ...(plan.github ? describePush(plan.github, plan.files.files.length) : []),
      `GET ${api(`/v9/projects/${encodeURIComponent(plan.project)}`)} (what serves production now, and the env vars the project has)`,
      ...(Object.keys(plan.env).length > 0
        ? [
            `POST ${api("/v10/projects")} when the project does not exist yet`,
            {
              method: "POST",
              url: api(`/v10/projects/${encodeURIComponent(plan.project)}/env`, { upsert: "true" }),
              headers,
              json: Object.keys(plan.env).map((key) => ({ key, value: "<hidden>", type: "encrypted", target: [plan.target] })),
            },
          ]
        : []),
      `POST ${api("/v2/files")} × ${plan.files.files.length} (content-type: application/octet-stream, x-vercel-digest: <sha of each file>)`,
      { method: "POST", url: api("/v13/deployments"), headers, json: deploymentBody(plan, undefined) },
      `GET ${api("/v13/deployments/<id>")} until READY (at most ${settings.readyTimeoutSeconds} s)`,
      ...(plan.alias ? [`POST ${api("/v2/deployments/<id>/aliases")} {"alias":${JSON.stringify(plan.alias)}}`] : []),
    ];
    const description = {
      runtime: "vercel",
      operation,
      directory: plan.files.directory,
      project: plan.project,
      target: plan.target,
      fileCount: plan.files.files.length,
      bytes: plan.files.bytes,
      files: plan.files.files.slice(0, 100).map(({ file, sha, size }) => ({ file, sha, size })),
      ...(plan.files.files.length > 100 ? { filesNotShown: plan.files.files.length - 100 } : {}),
      env: Object.keys(plan.env),
      alias: plan.alias,
      github: plan.github ? { repo: plan.github.repo, private: plan.github.private } : undefined,
      requests,
      rollback:
        "toolctl rollback promotes the deployment serving production now back (a production deploy), points the alias back, deletes the new deployment and the env vars it creates; " +
        "env vars that exist already keep the new values (Vercel does not give back a value it replaced)",
      summary:
        `uploads ${plan.files.files.length} file${plan.files.files.length === 1 ? "" : "s"} (${plan.files.bytes} bytes) from ${plan.files.directory} and deploys them to the Vercel project ${plan.project} (${plan.target})` +
        (plan.alias ? `, aliased to ${plan.alias}` : "") +
        (plan.github ? `, after pushing them to a new GitHub repository ${plan.github.repo}` : ""),
    };
    return prepared(description, (signal) => deploy(calls(signal), plan, settings, signal));
  },
};

function deploymentId(input: Input): string {
  const id = requiredString(input, "id");
  if (!/^dpl_[A-Za-z0-9]+$/.test(id) && !/^[a-z0-9.-]+\.vercel\.app$/.test(id))
    throw new BuiltinInputError(`input id must be a deployment id (dpl_...) or its *.vercel.app host, not ${quote(id)}`);
  return id;
}

function deployPlan(context: RunContext, settings: VercelSettings): DeployPlan {
  const { input, tool } = context;
  const project = requiredString(input, "project");
  if (!PROJECT_NAME.test(project))
    throw new BuiltinInputError(`input project must be a Vercel project name (lowercase letters, digits, '.', '_' or '-'), not ${quote(project)}`);
  const target = optionalString(input, "target") ?? "production";
  if (target !== "production" && target !== "preview") throw new BuiltinInputError(`input target must be production or preview, not ${quote(target)}`);
  const framework = input.framework === null ? null : optionalString(input, "framework");
  const alias = optionalString(input, "alias")?.toLowerCase();
  if (alias !== undefined && !DOMAIN.test(alias)) throw new BuiltinInputError(`input alias must be a domain name such as example.com, not ${quote(alias)}`);
  const env: Record<string, string> = {};
  if (input.env !== undefined) {
    if (!isPlainObject(input.env)) throw new BuiltinInputError("input env must be an object of NAME: value");
    for (const [key, value] of Object.entries(input.env)) {
      if (!ENV_KEY.test(key)) throw new BuiltinInputError(`input env: ${quote(key)} is not a variable name`);
      if (typeof value !== "string") throw new BuiltinInputError(`input env.${key} must be a string`);
      env[key] = value;
    }
  }
  const rootPath =
    settings.projectRoot === undefined
      ? context.cwd
      : settings.projectRoot.startsWith("/")
        ? settings.projectRoot
        : `${manifestDir(tool)}/${settings.projectRoot}`;
  const [root] = resolveRoots([rootPath], () => context.cwd);
  const files = collectDeployFiles(input.path, root!, { maxFiles: settings.maxFiles, maxBytes: settings.maxBytes, home: context.home, env: context.env });
  return { files, project, target, framework, env, alias, github: githubTarget(context, settings, project, input.github) };
}

function githubTarget(context: RunContext, settings: VercelSettings, project: string, raw: unknown): GithubTarget | undefined {
  if (raw === undefined) return undefined;
  if (!isPlainObject(raw)) throw new BuiltinInputError("input github must be an object such as { repo: my-site }");
  checkFields(raw, ["repo", "private", "description"], "github");
  const repo = requiredString(raw, "repo");
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(repo) || repo === "." || repo === "..")
    throw new BuiltinInputError(`input github.repo must be a repository name (letters, digits, '.', '_' or '-'), not ${quote(repo)}`);
  if (raw.private !== undefined && typeof raw.private !== "boolean") throw new BuiltinInputError("input github.private must be true or false");
  const { tokenSecret } = settings.github;
  const token = context.optionalSecret(tokenSecret);
  if (token === undefined)
    throw new SecretMissingError(
      `secret ${tokenSecret} is not set: a deploy with github needs a GitHub token with the repo scope (env, .env or toolctl secret set ${tokenSecret})`,
      { secret: tokenSecret },
    );
  return {
    apiUrl: settings.github.apiUrl,
    token,
    repo,
    private: raw.private !== false,
    description: optionalString(raw, "description"),
    message: `Deploy ${project} with toolctl`,
  };
}

function deploymentBody(plan: DeployPlan, pushed: PushedRepository | undefined): Record<string, unknown> {
  return {
    name: plan.project,
    files: plan.files.files.map(({ file, sha, size }) => ({ file, sha, size })),
    // Vercel's target values are production and staging: a preview is a deployment without one.
    ...(plan.target === "production" ? { target: "production" } : {}),
    ...(plan.framework !== undefined ? { projectSettings: { framework: plan.framework } } : {}),
    ...(pushed
      ? { gitMetadata: { remoteUrl: pushed.url, commitSha: pushed.commit, commitRef: pushed.branch, commitMessage: plan.github!.message, dirty: false } }
      : {}),
  };
}

function deploymentSummary(answer: unknown): Record<string, unknown> {
  const url = field<string>(answer, "url");
  return {
    id: field(answer, "id") ?? field(answer, "uid"),
    url: url ? `https://${url}` : undefined,
    readyState: field(answer, "readyState"),
    target: field(answer, "target") ?? null,
    alias: field(answer, "alias") ?? [],
    createdAt: field(answer, "createdAt"),
  };
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

async function deploy(calls: VercelCalls, plan: DeployPlan, settings: VercelSettings, signal: AbortSignal): Promise<unknown> {
  const { client, api, headers } = calls;
  const pushed = plan.github ? await step("GitHub push failed", () => pushRepository(client, plan.github!, plan.files.files)) : undefined;
  // What the project is before anything changes: what a rollback puts back.
  const before = await step("Vercel deployment failed", () => readProject(calls, plan.project));
  const env: { created: Previous["envCreated"]; replaced: string[] } =
    Object.keys(plan.env).length > 0 ? await step("Vercel deployment failed", () => setEnv(calls, plan, before)) : { created: [], replaced: [] };
  await step("Vercel deployment failed", () => uploadFiles(client, plan, api, headers));
  const created = await step("Vercel deployment failed", () =>
    callApi(client, { method: "POST", url: api("/v13/deployments"), headers, json: deploymentBody(plan, pushed) }),
  );
  const id = field<string>(created, "id")!;
  const previous: Previous = {
    project: before?.id ?? String(field(created, "projectId") ?? plan.project),
    name: plan.project,
    projectExisted: before !== undefined,
    production: plan.target === "production" ? (before?.production ?? null) : null,
    aliases: [],
    envCreated: env.created,
    envReplaced: env.replaced,
  };
  let ready: unknown;
  try {
    ready = await waitUntilReady(client, id, api, headers, settings, signal);
  } catch (error) {
    // A deployment left building is an unknown outcome, which can still be rolled back: keep what that needs.
    const unknown = error as ApiFailure & { output?: Record<string, unknown> };
    if (unknown instanceof ApiFailure && unknown.output) unknown.output = { ...unknown.output, previous, rollback: rollbackNote(id, previous) };
    throw error;
  }
  let aliases: string[] = [];
  if (plan.alias) {
    try {
      const assigned = await callApi(client, {
        method: "POST",
        url: api(`/v2/deployments/${encodeURIComponent(id)}/aliases`),
        headers,
        json: { alias: plan.alias },
      });
      const old = field<string>(assigned, "oldDeploymentId");
      if (old) previous.aliases.push({ alias: plan.alias, deploymentId: old });
      aliases = [plan.alias];
    } catch (error) {
      if (!(error instanceof ApiFailure)) throw error;
      throw await undoDeploy(calls, id, previous, `alias ${plan.alias} failed: ${error.message}`, error, signal);
    }
  }
  return {
    ...deploymentSummary(ready),
    project: plan.project,
    target: plan.target,
    alias: aliases,
    files: plan.files.files.length,
    bytes: plan.files.bytes,
    env: Object.keys(plan.env),
    ...(pushed ? { github: pushed } : {}),
    previous,
    rollback: rollbackNote(id, previous),
  };
}

async function step<T>(what: string, act: () => Promise<T>): Promise<T> {
  try {
    return await act();
  } catch (error) {
    if (error instanceof ApiFailure) throw new ApiFailure(`${what}: ${error.message}`, error.category, error.mayHaveActed, error.status, error.code);
    throw error;
  }
}

/** Upserts the variables; says which it created (a rollback deletes those) and which it replaced (it cannot restore those). */
async function setEnv(
  calls: VercelCalls,
  plan: DeployPlan,
  before: ProjectBefore | undefined,
): Promise<{ created: Previous["envCreated"]; replaced: string[] }> {
  const { client, api, headers } = calls;
  const project = encodeURIComponent(plan.project);
  if (before === undefined) {
    await callApi(client, {
      method: "POST",
      url: api("/v10/projects"),
      headers,
      json: { name: plan.project, ...(plan.framework !== undefined ? { framework: plan.framework } : {}) },
    });
  }
  const replaced = Object.keys(plan.env).filter((key) => before?.env.some((e) => e.key === key && e.target.includes(plan.target)));
  const variables = Object.entries(plan.env).map(([key, value]) => ({ key, value, type: "encrypted", target: [plan.target] }));
  const answer = await callApi(client, { method: "POST", url: api(`/v10/projects/${project}/env`, { upsert: "true" }), headers, json: variables });
  const returned = field<unknown>(answer, "created");
  const created = (Array.isArray(returned) ? returned : returned ? [returned] : [])
    .map((e) => ({ id: String(field(e, "id") ?? ""), key: String(field(e, "key") ?? "") }))
    .filter((e) => e.id !== "" && Object.hasOwn(plan.env, e.key) && !replaced.includes(e.key));
  return { created, replaced };
}

async function uploadFiles(client: ApiClient, plan: DeployPlan, api: (p: string) => string, headers: Record<string, string>): Promise<void> {
  // The same content twice is one upload: Vercel stores files by digest.
  const unique = [...new Map(plan.files.files.map((file) => [file.sha, file])).values()];
  let next = 0;
  const worker = async () => {
    while (next < unique.length) {
      const file = unique[next++]!;
      await callApi(client, {
        method: "POST",
        url: api("/v2/files"),
        body: file.content,
        headers: { ...headers, "content-type": "application/octet-stream", "x-vercel-digest": file.sha },
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(UPLOADS_AT_ONCE, unique.length) }, worker));
}

async function waitUntilReady(
  client: ApiClient,
  id: string,
  api: (p: string) => string,
  headers: Record<string, string>,
  settings: VercelSettings,
  signal: AbortSignal,
): Promise<unknown> {
  const deadline = Date.now() + settings.readyTimeoutSeconds * 1000;
  for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
    const current = await step("Vercel deployment failed", () =>
      callApi(client, { method: "GET", url: api(`/v13/deployments/${encodeURIComponent(id)}`), headers }),
    );
    const state = field<string>(current, "readyState");
    if (state === "READY") return current;
    if (state !== undefined && (FINAL_FAILURES.has(state) || state.endsWith("_ERROR"))) {
      const said = [field(current, "errorCode"), field(current, "errorMessage")].filter((part) => typeof part === "string").join(": ");
      const reason = said || (typeof field(current, "readyStateReason") === "string" ? field<string>(current, "readyStateReason")! : "");
      throw new ApiFailure(`Vercel deployment failed: ${id} ended ${state}${reason ? ` (${reason})` : ""}`, "validation", false);
    }
    if (Date.now() + delay > deadline || signal.aborted) {
      throw Object.assign(
        new ApiFailure(
          `deployment ${id} is still ${state ?? "not ready"} after ${settings.readyTimeoutSeconds} s; see toolctl run vercel.inspect -p id=${id}`,
          "timeout",
          true,
        ),
        { output: deploymentSummary(current) },
      );
    }
    await sleep(delay, signal);
  }
}

/** Undoes this run's deploy after a later step failed (production back, env vars and deployment deleted); says what is left. */
async function undoDeploy(calls: VercelCalls, id: string, previous: Previous, reason: string, cause: ApiFailure, signal: AbortSignal): Promise<ApiFailure> {
  try {
    const { restored, notReverted } = await undeploy(calls, id, previous, signal);
    const envs = restored.envDeleted.length > 0 ? ` and the env vars it created (${restored.envDeleted.join(", ")}) were` : " was";
    const left = notReverted.length > 0 ? `; ${notReverted.join("; ")}` : ", so nothing is left";
    const production = restored.production ? `${restored.production} serves production again, and ` : "";
    return new ApiFailure(`${reason}; ${production}the deployment ${id}${envs} deleted again${left}`, cause.category, false, cause.status, cause.code);
  } catch (error) {
    if (!(error instanceof ApiFailure)) throw error;
    return new ApiFailure(
      `${reason}; undoing the deploy failed too (${error.message}): see toolctl run vercel.inspect -p id=${id}`,
      cause.category,
      false,
      cause.status,
      cause.code,
    );
  }
}

function prepared(description: Record<string, unknown>, act: (signal: AbortSignal) => Promise<unknown>): Prepared {
  return {
    description,
    async run(hooks): Promise<RunResult> {
      const started = Date.now();
      try {
        const output = await act(hooks.signal);
        return { outcome: "succeeded", output, details: { durationMs: Date.now() - started } };
      } catch (error) {
        if (!(error instanceof ApiFailure)) throw error;
        const details = { durationMs: Date.now() - started, status: error.status, code: error.code };
        // A request that may have reached the provider without an answer is unknown: never resent blindly.
        if (error.mayHaveActed && (error.category === "network" || error.category === "timeout")) {
          return {
            outcome: "unknown",
            error: error.message,
            errorCategory: error.category,
            output: (error as ApiFailure & { output?: unknown }).output,
            details,
          };
        }
        return { outcome: "failed", error: error.message, errorCategory: error.category, details };
      }
    },
  };
}
